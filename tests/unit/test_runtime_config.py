"""The runtime configuration the handlers read from SSM, and the transcode spec inside it."""

from __future__ import annotations

import json

import pytest

from mediapipe_cfn.mediaconvert.spec import transcode_spec
from mediapipe_cfn.profile import builtin_profiles, load_profile
from mediapipe_cfn.profile.model import Profile
from mediapipe_cfn.runtime_config import runtime_config, runtime_config_json

# SSM Standard parameters hold 4 KB; the default leaves room for bigger ladders.
STANDARD_TIER_BYTES = 4096
DEFAULT_SPEC_BUDGET_BYTES = 2560


def test_runtime_config_has_the_keys_the_handlers_read() -> None:
    config = runtime_config(load_profile("default"))
    assert set(config) == {
        "version", "ingest", "outputPath", "retry", "notifications", "transcoding",
        "workingCopy", "reconcile",
    }  # fmt: skip
    assert config["version"] == 1
    assert set(config["ingest"]) == {
        "prefix", "extensions", "maxSizeBytes", "uploaderIdSource", "uploaderIdSegment",
    }  # fmt: skip
    assert set(config["retry"]) == {
        "backoffBaseSeconds", "backoffMaxSeconds", "maxReceiveCount", "jobRetryAttempts",
        "jobRetryBaseDelaySeconds",
    }  # fmt: skip
    assert config["notifications"] == {"snsOnFinalState": False}
    assert config["workingCopy"] == {"prefix": "sources/"}
    # Default queue: 6 receives of 420 s visibility, the fifth stretched to 60 + 480 s by
    # backoff, after the 5 s batching window: 2,645 s, rounded up to 45 whole minutes.
    assert config["reconcile"] == {
        "stuckAfterSeconds": 45 * 60,
        "crashLimit": 2,
        "dlqReceiveLimit": 100,
    }
    assert set(config["transcoding"]) == {
        "version", "video", "audio", "formats", "transcoding", "quality",
    }  # fmt: skip


def test_runtime_config_values_come_from_the_profile() -> None:
    profile = Profile.model_validate(
        {
            "ingest": {
                "prefix": "incoming/",
                "extensions": ["mp4"],
                "max_size_gb": 1.5,
                "uploader_id": {"source": "none", "segment": 2},
                "working_copy_prefix": "copies/",
            },
            "output_path": "{assetId}/",
            "queue": {
                "backoff_base_seconds": 10,
                "backoff_max_seconds": 600,
                "max_receive_count": 8,
            },
            "transcoding": {"retry_attempts": 3, "retry_base_delay_seconds": 120},
            "notifications": {"sns_on_final_state": True},
            "reliability": {"stuck_after_minutes": 20, "crash_limit": 7},
        }
    )
    config = runtime_config(profile)
    assert config["ingest"] == {
        "prefix": "incoming/",
        "extensions": ["mp4"],
        "maxSizeBytes": 1_610_612_736,
        "uploaderIdSource": "none",
        "uploaderIdSegment": 2,
    }
    assert config["outputPath"] == "{assetId}/"
    assert config["retry"] == {
        "backoffBaseSeconds": 10,
        "backoffMaxSeconds": 600,
        "maxReceiveCount": 8,
        "jobRetryAttempts": 3,
        "jobRetryBaseDelaySeconds": 120,
    }
    assert config["notifications"] == {"snsOnFinalState": True}
    assert config["workingCopy"] == {"prefix": "copies/"}
    assert config["reconcile"] == {
        "stuckAfterSeconds": 1200,
        "crashLimit": 7,
        "dlqReceiveLimit": 100,
    }


def test_transcode_spec_of_the_default_profile() -> None:
    spec = transcode_spec(load_profile("default"))
    assert spec["video"]["codec"] == "h264"
    assert (spec["video"]["gopSeconds"], spec["video"]["segmentSeconds"]) == (2.0, 6)
    assert spec["video"]["ladder"][0] == {
        "name": "1080p", "width": 1920, "height": 1080, "maxBitrateKbps": 6000, "qvbrLevel": 9,
    }  # fmt: skip
    assert len(spec["video"]["ladder"]) >= 5
    assert spec["formats"]["packaging"] == "cmaf"
    assert (spec["formats"]["hls"], spec["formats"]["dash"]) == (True, True)
    assert spec["transcoding"]["grouping"] == "per_format"
    assert spec["transcoding"]["acceleration"] == "disabled"


def test_runtime_config_json_is_compact_sorted_and_deterministic() -> None:
    profile = load_profile("prod")
    text = runtime_config_json(profile)
    assert text == runtime_config_json(load_profile("prod"))
    assert json.loads(text) == runtime_config(profile)
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


@pytest.mark.parametrize("name", sorted(builtin_profiles()))
def test_builtin_runtime_config_fits_a_standard_ssm_parameter(name: str) -> None:
    assert len(runtime_config_json(load_profile(name)).encode()) <= STANDARD_TIER_BYTES


def test_default_transcode_spec_is_small() -> None:
    spec = transcode_spec(load_profile("default"))
    assert len(json.dumps(spec, separators=(",", ":")).encode()) < DEFAULT_SPEC_BUDGET_BYTES
