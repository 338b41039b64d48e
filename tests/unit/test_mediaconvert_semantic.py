"""Semantic checks of MediaConvert settings: what the service model cannot express."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from mediapipe_cfn import contract
from mediapipe_cfn.mediaconvert import settings as builder
from mediapipe_cfn.mediaconvert.ladder import SourceInfo
from mediapipe_cfn.mediaconvert.semantic import (
    check_create_job_request,
    check_profile_transcoding,
    check_settings,
)
from mediapipe_cfn.mediaconvert.spec import transcode_spec
from mediapipe_cfn.profile import builtin_profiles, load_profile
from mediapipe_cfn.profile.model import Profile

KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SOURCE = SourceInfo(1920, 1080, duration_seconds=60.0)
CMAF = "Settings.OutputGroups[0]"
GROUP = f"{CMAF}.OutputGroupSettings.CmafGroupSettings"
H264 = "VideoDescription.CodecSettings.H264Settings"
Mutation = Callable[[dict[str, Any]], None]


def spec_of(**overrides: Any) -> dict[str, Any]:
    return transcode_spec(Profile.model_validate(overrides))


def job_settings(spec: dict[str, Any] | None = None, job: str = "cmaf") -> dict[str, Any]:
    return builder.build_job_settings(
        spec or spec_of(),
        job,
        input_uri="s3://in/uploads/a.mp4",
        destination="s3://out/a/",
        source=SOURCE,
        kms_key_arn=KMS,
    )


def outputs(settings: dict[str, Any], group: int = 0) -> list[dict[str, Any]]:
    return settings["OutputGroups"][group]["Outputs"]


def h264(settings: dict[str, Any], index: int) -> dict[str, Any]:
    return outputs(settings)[index]["VideoDescription"]["CodecSettings"]["H264Settings"]


def cmaf_options(settings: dict[str, Any]) -> dict[str, Any]:
    return settings["OutputGroups"][0]["OutputGroupSettings"]["CmafGroupSettings"]


def set_h264(index: int, **values: Any) -> Mutation:
    return lambda s: h264(s, index).update(values)


def set_video(index: int, **values: Any) -> Mutation:
    return lambda s: outputs(s)[index]["VideoDescription"].update(values)


def set_group(**values: Any) -> Mutation:
    return lambda s: cmaf_options(s).update(values)


def swap_first_two(settings: dict[str, Any]) -> None:
    first, second = outputs(settings)[:2]
    outputs(settings)[:2] = [second, first]


def duplicate_first_size(settings: dict[str, Any]) -> None:
    first = outputs(settings)[0]["VideoDescription"]
    outputs(settings)[1]["VideoDescription"].update(Width=first["Width"], Height=first["Height"])


def drop_modifier(settings: dict[str, Any]) -> None:
    del outputs(settings)[3]["NameModifier"]


def mux_audio_into_video(settings: dict[str, Any]) -> None:
    outputs(settings)[0]["AudioDescriptions"] = copy.deepcopy(
        outputs(settings)[-1]["AudioDescriptions"]
    )


# (id, mutation, path of the finding, fragment of its message)
BROKEN: list[tuple[str, Mutation, str, str]] = [
    ("gop-mismatch", set_h264(1, GopSize=3.0), f"{CMAF}.Outputs", "different GOP lengths"),
    ("gop-auto", set_h264(0, GopSizeUnits="AUTO"), f"{CMAF}.Outputs[0].{H264}.GopSizeUnits",
     "fixed GOP in SECONDS"),
    ("open-gops", set_h264(2, GopClosedCadence=0), f"{CMAF}.Outputs[2].{H264}.GopClosedCadence",
     "closed GOP"),
    ("gop-variance", set_h264(0, MinIInterval=5), f"{CMAF}.Outputs[0].{H264}.MinIInterval",
     "segments stop lining up"),
    ("segment-not-gop-multiple", set_group(SegmentLength=7), f"{GROUP}.SegmentLength",
     "not a whole number of 2 s GOPs"),
    ("fragment-not-gop-multiple", set_group(FragmentLength=3), f"{GROUP}.FragmentLength",
     "not a whole number of 2 s GOPs"),
    ("fragment-not-dividing-segment", set_group(FragmentLength=4), f"{GROUP}.FragmentLength",
     "does not divide the 6 s"),
    ("duplicate-modifier", lambda s: outputs(s)[2].update(NameModifier="_1080p"),
     f"{CMAF}.Outputs[2].NameModifier", "already used by Outputs[0]"),
    ("missing-modifier", drop_modifier, f"{CMAF}.Outputs[3].NameModifier", "needs a name modifier"),
    ("ladder-upside-down", swap_first_two, f"{CMAF}.Outputs[1].VideoDescription.Height",
     "from the highest rendition down"),
    ("duplicate-rendition", duplicate_first_size, f"{CMAF}.Outputs[1].VideoDescription.Height",
     "repeats Outputs[0]"),
    ("bitrate-rising", set_h264(3, MaxBitrate=2_500_000), f"{CMAF}.Outputs[3].{H264}.MaxBitrate",
     "more than the larger rendition Outputs[2]"),
    ("bitrate-starved", set_h264(0, MaxBitrate=1_000_000), f"{CMAF}.Outputs[0].{H264}.MaxBitrate",
     "below the sensible range 0.03-0.4"),
    ("bitrate-wasted", set_h264(5, MaxBitrate=1_400_000), f"{CMAF}.Outputs[5].{H264}.MaxBitrate",
     "above the sensible range"),
    ("odd-width", set_video(0, Width=1921), f"{CMAF}.Outputs[0].VideoDescription.Width", "odd"),
    ("h264-above-1080p-in-hls", set_video(0, Width=2560, Height=1440),
     f"{CMAF}.Outputs[0].VideoDescription.Width", "level above 4.2"),
    ("cmaf-output-with-two-tracks", mux_audio_into_video, f"{CMAF}.Outputs[0]", "one track each"),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "path", "fragment"), [b[1:] for b in BROKEN],
                         ids=[b[0] for b in BROKEN])  # fmt: skip
def test_broken_settings_fail_with_the_path(mutate: Mutation, path: str, fragment: str) -> None:
    settings = job_settings()
    assert check_settings(settings) == []
    mutate(settings)
    findings = check_settings(settings)
    assert any(f.path == path and fragment in f.message for f in findings), [
        str(f) for f in findings
    ]


def test_hevc_in_hls_transport_streams_is_flagged() -> None:
    spec = spec_of(video={"codec": "h265"}, formats={"packaging": {"mode": "separate"}})
    findings = check_settings(job_settings(spec, "hls"))
    assert [f.path for f in findings] == [
        "Settings.OutputGroups[0].Outputs[0].VideoDescription.CodecSettings.Codec"
    ]
    assert "HEVC must be fMP4" in findings[0].message


def test_hevc_in_cmaf_is_fine() -> None:
    assert check_settings(job_settings(spec_of(video={"codec": "h265"}))) == []


def test_a_job_of_frame_captures_only_is_flagged() -> None:
    settings = job_settings(job="mp4")
    settings["OutputGroups"] = settings["OutputGroups"][1:]  # thumbnails without the MP4
    findings = check_settings(settings)
    assert [(f.path, "frame capture" in f.message) for f in findings] == [
        ("Settings.OutputGroups", True)
    ]


def abr_settings() -> dict[str, Any]:
    spec = spec_of(
        formats={"packaging": {"mode": "separate"}},
        transcoding={"job_grouping": "per_asset", "automated_abr": {"enabled": True}},
    )
    return job_settings(spec, "all")


def test_automated_abr_settings_pass() -> None:
    assert check_settings(abr_settings()) == []


def test_automated_abr_must_cover_every_abr_group() -> None:
    settings = abr_settings()
    del settings["OutputGroups"][1]["AutomatedEncodingSettings"]
    assert [f.path for f in check_settings(settings)] == [
        "Settings.OutputGroups[1].AutomatedEncodingSettings"
    ]


def test_automated_abr_needs_multi_pass_and_no_fit_no_upscale() -> None:
    settings = abr_settings()
    video = outputs(settings)[0]["VideoDescription"]
    video["ScalingBehavior"] = "FIT_NO_UPSCALE"
    video["CodecSettings"]["H264Settings"]["QualityTuningLevel"] = "SINGLE_PASS_HQ"
    paths = {f.path for f in check_settings(settings)}
    assert paths == {
        f"{CMAF}.Outputs[0].VideoDescription.ScalingBehavior",
        f"{CMAF}.Outputs[0].VideoDescription.CodecSettings.H264Settings",
    }


# --- CreateJob requests ------------------------------------------------------------------------


def request() -> dict[str, Any]:
    return builder.build_create_job_request(
        spec_of(),
        job_format="cmaf",
        asset_id="asset-1",
        input_uri="s3://in/uploads/a.mp4",
        destination="s3://out/a/",
        source=SOURCE,
        role_arn="arn:aws:iam::123456789012:role/mc",
        queue_arn="arn:aws:mediaconvert:us-east-1:123456789012:queues/q",
        pipeline_id="mediapipe-test",
        kms_key_arn=KMS,
    )


def test_acceleration_enabled_with_an_audio_only_output_is_flagged() -> None:
    broken = request()
    broken["AccelerationSettings"] = {"Mode": "ENABLED"}
    findings = check_create_job_request(broken)
    assert [f.path for f in findings] == ["Settings.OutputGroups[0].Outputs[6]"]
    assert "use PREFERRED" in findings[0].message


def test_request_without_the_stack_identity_is_flagged() -> None:
    broken = request()
    del broken["UserMetadata"][contract.META_PIPELINE_ID]
    broken["ClientRequestToken"] = "x" * 65
    assert [f.path for f in check_create_job_request(broken)] == [
        f'UserMetadata["{contract.META_PIPELINE_ID}"]',
        "ClientRequestToken",
    ]


# --- whole profiles ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(builtin_profiles()))
def test_builtin_profile_passes_strict_and_semantic_checks(name: str) -> None:
    assert [str(f) for f in check_profile_transcoding(load_profile(name))] == []


def test_profile_check_names_the_job_the_path_and_the_sources() -> None:
    ladder = [
        {"name": "1080p", "width": 1920, "height": 1080, "max_bitrate_kbps": 1500, "qvbr_level": 7},
        {"name": "audio", "width": 640, "height": 360, "max_bitrate_kbps": 700, "qvbr_level": 7},
    ]
    findings = {
        str(f)
        for f in check_profile_transcoding(Profile.model_validate({"video": {"ladder": ladder}}))
    }
    starved = (
        "cmaf job: Settings.OutputGroups[0].Outputs[0].VideoDescription.CodecSettings."
        "H264Settings.MaxBitrate [1080p landscape, 4K, no source description, HDR10 2160p, "
        "interlaced 1080i, 5.1 audio, sidecar .vtt, job template]"
    )
    assert any(f.startswith(starved) and "below the sensible range" in f for f in findings)
    # A rendition called "audio" collides with the audio rendition's file names.
    assert any(
        "Outputs[2].NameModifier" in f and "'_audio' is already used by Outputs[1]" in f
        for f in findings
    )
