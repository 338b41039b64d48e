"""Tables of the handlers' pure rules: keys, upload validation, ids, backoff, error classes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import default_config
from handler_fakes import client_error, load_event
from mediapipe_handlers.backoff import backoff_seconds
from mediapipe_handlers.config import IngestRules, parse_runtime_config
from mediapipe_handlers.environment import ConfigurationError
from mediapipe_handlers.failures import (
    DEFAULT_RETRYABLE_JOB_ERROR_CODES,
    is_retryable_job_error,
    is_transient,
)
from mediapipe_handlers.messages import (
    JobCommand,
    MalformedMessage,
    UploadEvent,
    command_body,
    key_candidates,
    parse_job_state_event,
    parse_queue_message,
)
from mediapipe_handlers.outputs import build_manifest, summarize_job_outputs, thumbnail_count
from mediapipe_handlers.uploads import (
    derive_asset_id,
    output_prefix,
    rejection_reason,
    uploader_id,
)

RULES = IngestRules(
    prefix="uploads/",
    extensions=frozenset({"mp4", "mov", "mkv"}),
    max_size_bytes=10 * 1024**3,
    uploader_id_source="key_segment",
    uploader_id_segment=0,
)


@pytest.mark.parametrize(
    ("in_event", "candidates"),
    [
        ("uploads/a/plain.mp4", ("uploads/a/plain.mp4",)),
        ("uploads/a/my+video.mp4", ("uploads/a/my video.mp4", "uploads/a/my+video.mp4")),
        ("uploads/a/c%2B%2B+talk.mp4", ("uploads/a/c++ talk.mp4", "uploads/a/c%2B%2B+talk.mp4")),
        ("uploads/a/100%25+real.mov", ("uploads/a/100% real.mov", "uploads/a/100%25+real.mov")),
        # decoded exactly once: %2525 is "%25" in the key, never "%"
        ("uploads/a/x%2525.mp4", ("uploads/a/x%25.mp4", "uploads/a/x%2525.mp4")),
        ("uploads/a/caf%C3%A9.mkv", ("uploads/a/café.mkv", "uploads/a/caf%C3%A9.mkv")),
        ("uploads/a/café déjà.mkv", ("uploads/a/café déjà.mkv",)),
        ("uploads/a/100%.mp4", ("uploads/a/100%.mp4",)),  # not an escape: only the raw reading
        ("uploads/a/bad%FF.mp4", ("uploads/a/bad%FF.mp4",)),  # not UTF-8: only the raw reading
    ],
)
def test_key_candidates_decode_at_most_once(in_event: str, candidates: tuple[str, ...]) -> None:
    assert key_candidates(in_event) == candidates


@pytest.mark.parametrize(
    ("key", "size", "reason"),
    [
        ("uploads/alice/a.mp4", 10, None),
        ("uploads/alice/A.MOV", 10, None),
        ("uploads/alice/a.mp4", None, None),
        ("elsewhere/a.mp4", 10, "key is outside the ingest prefix 'uploads/'"),
        ("uploads/alice/", 0, "the object is a folder marker, not a file"),
        ("uploads/alice/a.mp4", 0, "the object is empty (0 bytes)"),
        ("uploads/alice/README", 10, "the file name has no extension; accepted: mkv, mov, mp4"),
        ("uploads/alice/.mp4", 10, "the file name has no extension; accepted: mkv, mov, mp4"),
        ("uploads/alice/a.txt", 10, "extension '.txt' is not accepted; accepted: mkv, mov, mp4"),
        (
            "uploads/alice/a.mp4",
            11 * 1024**3,
            "the object is 11.00 GiB, above the limit of 10.00 GiB",
        ),
    ],
)
def test_upload_rules(key: str, size: int | None, reason: str | None) -> None:
    assert rejection_reason(key, size, RULES) == reason


@pytest.mark.parametrize(
    ("key", "source", "segment", "expected"),
    [
        ("uploads/alice/a.mp4", "key_segment", 0, "alice"),
        ("uploads/alice/2024/a.mp4", "key_segment", 1, "2024"),
        ("uploads/a.mp4", "key_segment", 0, "unknown"),
        ("uploads//a.mp4", "key_segment", 0, "unknown"),
        ("uploads/alice/a.mp4", "none", 0, "unknown"),
    ],
)
def test_uploader_id(key: str, source: str, segment: int, expected: str) -> None:
    rules = IngestRules(RULES.prefix, RULES.extensions, RULES.max_size_bytes, source, segment)
    assert uploader_id(key, rules) == expected


def test_output_prefix_keeps_paths_safe() -> None:
    layout = "{uploaderId}/{assetId}/"
    assert output_prefix(layout, "alice", "abc") == "alice/abc/"
    assert output_prefix(layout, "Zoë & Co/x", "abc") == "Zo____Co_x/abc/"
    assert output_prefix(layout, "..", "abc") == "unknown/abc/"


def test_asset_id_is_stable_and_separates_what_differs() -> None:
    base = derive_asset_id("bucket", "uploads/a/b.mp4", "v1", None)
    assert base == derive_asset_id("bucket", "uploads/a/b.mp4", "v1", "other-sequencer")
    assert len(base) == 32 and int(base, 16) >= 0
    others = {
        derive_asset_id("bucket", "uploads/a/b.mp4", "v2", None),
        derive_asset_id("bucket2", "uploads/a/b.mp4", "v1", None),
        derive_asset_id("bucket", "uploads/a/b.mp4 ", "v1", None),
        derive_asset_id("bucke", "tuploads/a/b.mp4", "v1", None),  # no concatenation collision
        derive_asset_id("bucket", "uploads/a/b.mp4", None, "0001"),
        derive_asset_id("bucket", "uploads/a/b.mp4", "null", "0002"),
    }
    assert base not in others and len(others) == 6


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(0, 0), (1, 30), (2, 60), (3, 120), (5, 480), (6, 900), (40, 900)],
)
def test_backoff_doubles_and_caps(failures: int, expected: int) -> None:
    assert backoff_seconds(failures, 30, 900) == expected


def test_backoff_never_exceeds_the_visibility_limit() -> None:
    assert backoff_seconds(30, 3600, 10**9) == 43_200


@pytest.mark.parametrize(
    ("code", "transient"),
    [
        ("TooManyRequestsException", True),
        ("ThrottlingException", True),
        ("ProvisionedThroughputExceededException", True),
        ("InternalServerErrorException", True),
        ("BadRequestException", False),
        ("ForbiddenException", False),
        ("ValidationException", False),
    ],
)
def test_transient_sdk_errors(code: str, transient: bool) -> None:
    assert is_transient(client_error(code, "Any")) is transient


def test_retryable_job_error_codes_default_and_override() -> None:
    assert {1999, 1550, 1056} <= DEFAULT_RETRYABLE_JOB_ERROR_CODES
    assert not {1010, 1030, 1040, 1401, 1432} & DEFAULT_RETRYABLE_JOB_ERROR_CODES
    assert is_retryable_job_error(1999, None)
    assert not is_retryable_job_error(1010, None)
    assert not is_retryable_job_error(None, None)
    assert is_retryable_job_error(1010, frozenset({1010}))
    assert not is_retryable_job_error(1999, frozenset({1010}))


def test_queue_messages_parse_into_their_kinds() -> None:
    upload = parse_queue_message(json.dumps(load_event("s3/object_created_multipart.json")))
    assert isinstance(upload, UploadEvent)
    assert (upload.bucket, upload.raw_key, upload.size) == (
        "mediapipe-test-uploads",
        "uploads/alice/wedding-4k.mov",
        3221225472,
    )
    assert upload.is_multipart and upload.reason == "CompleteMultipartUpload"
    command = parse_queue_message(command_body("retry-job", "a1", "mp4", 2, {"errorCode": 1999}))
    assert command == JobCommand("retry-job", "a1", "mp4", 2, {"errorCode": 1999})


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        json.dumps(load_event("s3/object_deleted.json")),
        json.dumps({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}),
        command_body("explode", "a1", "mp4", 1, {}),
        command_body("retry-job", "a1", "mp4", 0, {}),
        json.dumps({"mediapipeCommand": "retry-job", "format": "mp4", "attempt": 1}),
    ],
)
def test_unusable_queue_messages_are_malformed(body: str) -> None:
    with pytest.raises(MalformedMessage):
        parse_queue_message(body)


def test_job_state_event_parsing() -> None:
    event = parse_job_state_event(load_event("mediaconvert/cmaf_status_update_40.json"))
    assert (event.status, event.job_id, event.timestamp_ms) == (
        "STATUS_UPDATE",
        "1714564861234-a1b2c3",
        1714564930000,
    )
    assert event.user_metadata["mediapipeFormat"] == "cmaf"
    with pytest.raises(MalformedMessage):
        parse_job_state_event(load_event("s3/object_created_put.json"))


def test_complete_outputs_summary_and_thumbnail_count() -> None:
    detail = load_event("mediaconvert/thumbnails_complete.json")["detail"]
    summary = summarize_job_outputs(detail)
    assert summary["thumbnailCount"] == 7 + 1  # captures 0..6 and one poster
    assert summary["durationMs"] == 60060
    cmaf = summarize_job_outputs(load_event("mediaconvert/cmaf_complete.json")["detail"])
    assert cmaf["thumbnailCount"] == 0 and len(cmaf["groups"][0]["playlists"]) == 2
    assert thumbnail_count(["s3://b/x.mp4", "s3://b/t.0000099.JPG", "s3://b/poster.png"]) == 101


def _config_text(**overrides: Any) -> str:
    return json.dumps(default_config(**overrides))


def test_runtime_config_of_the_default_profile_parses() -> None:
    config = parse_runtime_config(_config_text())
    assert config.ingest.prefix == "uploads/"
    assert config.retry.max_receive_count == 6
    assert config.output_path == "{uploaderId}/{assetId}/"
    assert config.retryable_error_codes is None
    assert config.transcoding["version"] == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nope", "not JSON"),
        ("[]", "must be a JSON object"),
        (json.dumps({"version": 2}), "version 2 is not supported"),
        (_config_text(ingest__prefix="uploads"), "must end with '/'"),
        (_config_text(outputPath="{uploaderId}/"), "must contain {assetId}"),
        (json.dumps({"version": 1, "ingest": {}}), "incomplete"),
    ],
)
def test_bad_runtime_config_is_rejected_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("{", r"\{")):
        parse_runtime_config(text)


def test_manifest_names_caption_languages_and_the_poster_only_when_the_asset_has_them() -> None:
    summary = summarize_job_outputs(load_event("mediaconvert/thumbnails_complete.json")["detail"])
    item = {
        "assetId": "a1",
        "outputPrefix": "alice/a1/",
        "outputs": {"mp4": summary},
        "source": {"poster": "thumbnails/image_thumb.0000003.jpg"},
    }
    plain = build_manifest(item, "out-bucket")
    assert "captionLanguages" not in plain
    assert plain["poster"] == {
        "uri": "s3://out-bucket/alice/a1/thumbnails/image_thumb.0000003.jpg",
        "path": "thumbnails/image_thumb.0000003.jpg",
    }
    captioned = build_manifest({**item, "captionLanguages": ["eng"]}, "out-bucket")
    assert captioned["captionLanguages"] == ["eng"]
    without_thumbnails = build_manifest({**item, "outputs": {}}, "out-bucket")
    assert "poster" not in without_thumbnails
