"""Profiles: built-ins load, good variations pass, bad ones fail with the exact message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mediapipe_cfn.errors import ProfileError
from mediapipe_cfn.profile import Profile, builtin_profiles, load_profile, parse_profile
from mediapipe_cfn.profile.reference import generate

REPO = Path(__file__).resolve().parents[2]


def test_builtins_include_the_required_profiles() -> None:
    assert {"default", "prod", "lean", "premium"} <= set(builtin_profiles())


@pytest.mark.parametrize("name", sorted(builtin_profiles()))
def test_builtin_profile_loads_and_says_what_it_is_for(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    text = builtin_profiles()[name].read_text(encoding="utf-8")
    assert text.startswith(f"# {name} — "), "each built-in starts with a header comment"


def test_default_profile_is_the_model_defaults() -> None:
    loaded = load_profile()
    assert loaded.model_dump(exclude={"description"}) == Profile().model_dump(
        exclude={"description"}
    )


def test_prod_profile_is_production() -> None:
    prod = load_profile("prod")
    assert prod.environment == "prod"
    assert prod.deletion_protection is True
    assert load_profile("default").deletion_protection is False


def test_load_profile_accepts_a_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nqueue: {max_concurrency: 7}\n", encoding="utf-8")
    assert load_profile(path).queue.max_concurrency == 7
    assert load_profile(str(path)).name == "mine"


def test_empty_mapping_is_the_default_profile() -> None:
    assert parse_profile("{}", "empty.yaml") == Profile()


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "  \n# a\n\n"])
def test_empty_file_is_refused(text: str) -> None:
    with pytest.raises(ProfileError, match=r"^empty.yaml: the file is empty"):
        parse_profile(text, "empty.yaml")


GOOD = [
    "formats: {packaging: {hls: {enabled: false}, dash: {enabled: false}}}",
    "formats: {mp4: {enabled: false}, thumbnails: {enabled: false}}",
    "retention: {outputs: {transitions: [], expiration_days: 30}}",
    "retention: {outputs: {transitions: [{days: 0, storage_class: INTELLIGENT_TIERING}]}}",
    "encryption: {kms_key_alias: alias/media-key}",
    "video: {gop_seconds: 1.5, segment_seconds: 6}",
    "functions: {runtime: python3.12, architecture: x86_64}",
    "tags: {team: video, cost-center: '42'}",
    "ingest: {prefix: incoming/, working_copy_prefix: incoming-copies/}",
    "reliability: {reconcile_every_minutes: 1, stuck_after_minutes: 15, crash_limit: 5}",
    "queue: {max_receive_count: 2}\nreliability: {crash_limit: 1}",
    "observability: {job_event_log: log_group_shared_policy}",
    "functions: {reconciler: {memory_mb: 512, timeout_seconds: 60}}",
]


@pytest.mark.parametrize("text", GOOD)
def test_good_profiles_load(text: str) -> None:
    assert isinstance(parse_profile(text, "good.yaml"), Profile)


LADDER_B = "{name: b, width: 1280, height: 720, max_bitrate_kbps: 3000, qvbr_level: 8}"
BAD = [
    (
        "environment: staging",
        "bad.yaml:1: environment: must be 'dev', 'test' or 'prod'",
    ),
    (
        "queue:\n  batch_sise: 10",
        "bad.yaml:2: queue.batch_sise: unknown key 'batch_sise' (did you mean 'batch_size'?)",
    ),
    (
        "queue:\n  batch_size: '10'",
        "bad.yaml:2: queue.batch_size: expected a valid integer, got str '10'",
    ),
    (
        "queue:\n  max_concurrency: 1",
        "bad.yaml:2: queue.max_concurrency: must be greater than or equal to 2",
    ),
    (
        "video:\n  ladder:\n    - {name: a, width: 1920, height: 1080, max_bitrate_kbps: 6000,"
        " qvbr_level: 9}\n    - {name: b, width: 1280, height: 721, max_bitrate_kbps: 3000,"
        " qvbr_level: 8}",
        "bad.yaml:4: video.ladder[1].height: must be even for 4:2:0 video",
    ),
    (
        f"video:\n  ladder:\n    - {LADDER_B}\n    - {LADDER_B}",
        "bad.yaml:2: video.ladder: rendition names must be unique; repeated: ['b']",
    ),
    (
        "video:\n  gop_seconds: 4\n  segment_seconds: 6",
        "bad.yaml:3: video.segment_seconds: (6) must be a whole multiple of gop_seconds (4.0)",
    ),
    (
        "queue:\n  visibility_timeout_seconds: 100",
        "bad.yaml:2: queue.visibility_timeout_seconds: 100 is too short: AWS recommends at least "
        "6 x functions.orchestrator.timeout_seconds + queue.max_batching_window_seconds = 365",
    ),
    (
        "formats:\n  packaging: {hls: {enabled: false}, dash: {enabled: false}}\n"
        "  mp4: {enabled: false}",
        "bad.yaml:1: formats: at least one video output must be enabled",
    ),
    (
        "retention:\n  outputs:\n    transitions:\n      - {days: 30, storage_class: STANDARD_IA}\n"
        "      - {days: 40, storage_class: GLACIER}",
        "bad.yaml:5: retention.outputs.transitions[1].days: objects would leave STANDARD_IA after "
        "10 days, before its 30-day minimum storage charge (at least 60)",
    ),
    (
        "retention:\n  outputs:\n    transitions:\n      - {days: 10, storage_class: STANDARD_IA}",
        "bad.yaml:4: retention.outputs.transitions[0].days: S3 moves objects to STANDARD_IA only "
        "after 30 days",
    ),
    (
        "retention:\n  uploads:\n    transitions: [{days: 30, storage_class: GLACIER_IR}]\n"
        "    expiration_days: 60",
        "bad.yaml:4: retention.uploads.expiration_days: objects would leave GLACIER_IR after 30 "
        "days, before its 90-day minimum storage charge (at least 120)",
    ),
    (
        "functions:\n  log_retention_days: 31",
        "bad.yaml:2: functions.log_retention_days: must be one of 1, 3, 5, 7, 14, 30",
    ),
    (
        "name: X",
        "bad.yaml:1: name: 'X' is not allowed: expected 2-32 lower-case letters, digits or '-'",
    ),
    (
        "output_path: '{uploaderId}/'",
        "bad.yaml:1: output_path: must contain {assetId} so assets never share a prefix",
    ),
    (
        "formats:\n  mp4:\n    previews: [{name: 720p, height: 720, max_bitrate_kbps: 3000}]",
        "bad.yaml:3: formats.mp4.previews[0].name: '720p' is already used by another rendition",
    ),
    (
        "encryption: {kms_key_alias: my-key}",
        "bad.yaml:1: encryption.kms_key_alias: 'my-key' is not allowed: expected empty (create a "
        "key) or 'alias/NAME'",
    ),
    (
        "queue:\n  batch_size: 20\n  max_batching_window_seconds: 0",
        "bad.yaml:3: queue.max_batching_window_seconds: must be at least 1 when queue.batch_size",
    ),
    (
        "queue: {max_concurrency: 20}\nfunctions:\n  orchestrator:\n"
        "    {memory_mb: 512, timeout_seconds: 60, reserved_concurrency: 5}",
        "bad.yaml:4: functions.orchestrator.reserved_concurrency: (5) must be at least "
        "queue.max_concurrency (20)",
    ),
    (
        "encryption: {kms_key_alias: alias/aws/s3}",
        "bad.yaml:1: encryption.kms_key_alias: AWS managed keys (alias/aws/...) cannot be used",
    ),
    (
        "ingest:\n  prefix: media/\n  working_copy_prefix: media/copies/",
        "bad.yaml:3: ingest.working_copy_prefix: 'media/copies/' overlaps the ingest prefix "
        "'media/': neither may start with the other",
    ),
    (
        "ingest: {prefix: uploads/new/, working_copy_prefix: uploads/}",
        "bad.yaml:1: ingest.working_copy_prefix: 'uploads/' overlaps the ingest prefix",
    ),
    (
        "ingest: {working_copy_expiration_days: 0}",
        "bad.yaml:1: ingest.working_copy_expiration_days: must be greater than or equal to 1",
    ),
    (
        "queue:\n  max_receive_count: 3\nreliability:\n  crash_limit: 3",
        "bad.yaml:4: reliability.crash_limit: (3) must be between 1 and "
        "queue.max_receive_count - 1 (2)",
    ),
    (
        "queue:\n  max_receive_count: 1",
        "bad.yaml:2: queue.max_receive_count: must be greater than or equal to 2",
    ),
    (
        "reliability: {stuck_after_minutes: 10}",
        "bad.yaml:1: reliability.stuck_after_minutes: must be greater than or equal to 15",
    ),
    (
        "reliability: {reconcile_every_minutes: 61}",
        "bad.yaml:1: reliability.reconcile_every_minutes: must be less than or equal to 60",
    ),
    (
        "reliability: {enabled: false}",
        "bad.yaml:1: reliability.enabled: unknown key 'enabled'",
    ),
    (
        "observability: {job_event_log: everywhere}",
        "bad.yaml:1: observability.job_event_log: must be 'function', 'log_group' or "
        "'log_group_shared_policy'",
    ),
    ("tags: {'aws:owner': me}", "bad.yaml:1: tags: keys starting with 'aws:' are reserved"),
    ("name: a\nname: b", "bad.yaml:2: not valid YAML: duplicate key 'name'"),
    ("queue: [", "bad.yaml:1: not valid YAML:"),
    ("- just\n- a list", "bad.yaml:1: the profile must be a mapping of keys to values"),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_profiles_fail_with_a_located_message(text: str, expected: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, "bad.yaml")
    assert str(caught.value).startswith(expected)


def test_every_problem_is_reported_in_the_one_message() -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile("environment: staging\nqueue: {batch_size: 0}\n", "bad.yaml")
    message = str(caught.value)
    assert message.startswith("bad.yaml:1: environment:")
    assert "also line 2, queue.batch_size: must be greater than or equal to 1" in message


def test_missing_profile_names_the_built_ins() -> None:
    with pytest.raises(ProfileError, match="not a built-in profile; built-ins: default"):
        load_profile("no-such-profile")


def test_profile_reference_doc_is_current() -> None:
    committed = (REPO / "docs" / "profile-reference.md").read_text(encoding="utf-8")
    assert committed == generate(), (
        "docs/profile-reference.md is stale: run "
        "`python -m mediapipe_cfn.profile.reference > docs/profile-reference.md`"
    )


def test_json_schema_is_strict() -> None:
    schema = Profile.model_json_schema()
    assert schema["additionalProperties"] is False
    assert json.dumps(schema)  # serialisable for `mediapipe-cfn schema`


def test_anchors_aliases_and_merge_keys_work() -> None:
    text = (
        "functions:\n"
        "  orchestrator: &function {memory_mb: 1024, timeout_seconds: 30}\n"
        "  status_processor:\n"
        "    <<: *function\n"
        "    memory_mb: 256\n"
        "queue:\n"
        "  <<: {batch_size: 20, max_receive_count: 3}\n"
        "  batch_size: 5\n"
    )
    profile = parse_profile(text, "p.yaml")
    assert profile.functions.orchestrator.memory_mb == 1024
    assert profile.functions.status_processor.memory_mb == 256
    assert profile.functions.status_processor.timeout_seconds == 30
    assert (profile.queue.batch_size, profile.queue.max_receive_count) == (5, 3)


def test_a_merged_key_is_located_where_it_is_written() -> None:
    text = "queue:\n  batch_size: 5\n  <<:\n    - {max_receive_count: 3}\n    - {batch_sise: 4}\n"
    with pytest.raises(ProfileError, match=r"^p.yaml:5: queue.batch_sise: unknown key"):
        parse_profile(text, "p.yaml")


def test_stuck_deadline_is_derived_from_the_longest_ordinary_wait() -> None:
    from mediapipe_cfn.profile.model import derived_stuck_after_minutes

    # Queue: 3 receives; the first waits 60 + 600 s of backoff (longer than the 365 s
    # visibility), the second 60 + 1200 s, the last the visibility: 2,285 s -> 39 min.
    slow_queue = Profile.model_validate(
        {
            "queue": {
                "max_receive_count": 3,
                "visibility_timeout_seconds": 365,
                "backoff_base_seconds": 600,
                "backoff_max_seconds": 1200,
                "max_batching_window_seconds": 5,
            },
            "reliability": {"crash_limit": 1},
        }
    )
    assert derived_stuck_after_minutes(slow_queue) == 39
    assert slow_queue.stuck_after_seconds == 39 * 60
    # Jobs: two missed 600 s status updates plus the 5th resubmission's delay (capped at
    # 900 s) outlast a short queue schedule: 2,100 s -> 35 min.
    slow_jobs = Profile.model_validate(
        {
            "queue": {"max_receive_count": 2, "visibility_timeout_seconds": 365},
            "reliability": {"crash_limit": 1},
            "transcoding": {
                "status_update_interval_seconds": 600,
                "retry_attempts": 5,
                "retry_base_delay_seconds": 60,
            },
        }
    )
    assert derived_stuck_after_minutes(slow_jobs) == 35
    # Never below 15 minutes, and the profile's own value wins.
    quick = Profile.model_validate(
        {
            "queue": {"max_receive_count": 2, "visibility_timeout_seconds": 30},
            "functions": {"orchestrator": {"memory_mb": 512, "timeout_seconds": 3}},
            "reliability": {"crash_limit": 1},
            "transcoding": {"status_update_interval_seconds": 10, "retry_attempts": 0},
        }
    )
    assert derived_stuck_after_minutes(quick) == 15
    chosen = Profile.model_validate({"reliability": {"stuck_after_minutes": 240}})
    assert chosen.stuck_after_seconds == 240 * 60
