"""ingest-orchestrator: uploads become records and validated MediaConvert jobs, exactly once."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from conftest import PIPELINE_ID, STORED_UPLOADS, TABLE, UPLOADS_BUCKET, Stack
from handler_delivery import (
    drain,
    failed_ids,
    finish_batch,
    invoke,
    make_visible,
    metric_values,
    receive_event,
    send,
    split_output,
)
from handler_fakes import (
    REGION,
    FakeLambdaContext,
    FakeMediaConvert,
    client_error,
    load_event,
    probe_result,
)
from mediapipe_handlers.ingest_orchestrator import handler
from mediapipe_handlers.messages import key_candidates
from mediapipe_handlers.repository import AssetRepository
from mediapipe_handlers.uploads import derive_asset_id

from mediapipe_cfn.contract import AssetStatus

# The default profile: CMAF (HLS + DASH) and MP4 previews; thumbnails ride in the MP4 job.
FORMATS = ["cmaf", "mp4"]


def repo() -> AssetRepository:
    return AssetRepository(boto3.client("dynamodb", region_name=REGION), TABLE)


def upload(key: str, body: bytes = b"\0" * 4096) -> tuple[str, str]:
    """Put an object in the uploads bucket; (key, version id)."""
    answer = boto3.client("s3", region_name=REGION).put_object(
        Bucket=UPLOADS_BUCKET, Key=key, Body=body
    )
    return key, answer["VersionId"]


def working_copy_uri(event: dict[str, Any]) -> str:
    """Where the orchestrator copies the event's version, and what every job reads."""
    key = key_candidates(event["detail"]["object"]["key"])[0]
    extension = key.rsplit(".", 1)[-1].lower()
    return f"s3://{UPLOADS_BUCKET}/sources/{asset_id_of(event, key)}/source.{extension}"


def stored_bytes(key: str) -> bytes:
    answer = boto3.client("s3", region_name=REGION).get_object(Bucket=UPLOADS_BUCKET, Key=key)
    return answer["Body"].read()


def s3_event(
    name: str = "object_created_put.json",
    *,
    version_id: str | None = None,
    key: str | None = None,
    size: int | None = None,
    stored: bool = True,
) -> dict[str, Any]:
    """An S3 event from tests/events; unless the test brings its own version (``version_id``)
    or asks otherwise, the object is really uploaded and the event names its version, as S3
    would."""
    event = load_event(f"s3/{name}")
    obj = event["detail"]["object"]
    if version_id is not None:
        obj["version-id"] = version_id
    if key is not None:
        obj["key"] = key
    if size is not None:
        obj["size"] = size
    return stored_upload(event) if stored and version_id is None else event


def stored_upload(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with its object really in the uploads bucket: the same event file (key and
    version id) is the same upload however often a test asks for it."""
    obj = event["detail"]["object"]
    if event["detail"]["bucket"]["name"] == UPLOADS_BUCKET:
        real_key = key_candidates(obj["key"])[0]
        named = (real_key, str(obj.get("version-id")))
        if named not in STORED_UPLOADS:
            STORED_UPLOADS[named] = upload(real_key)[1]
        obj["version-id"] = STORED_UPLOADS[named]
    return event


def asset_id_of(event: dict[str, Any], key: str | None = None) -> str:
    obj = event["detail"]["object"]
    return derive_asset_id(
        event["detail"]["bucket"]["name"],
        key or obj["key"],
        obj.get("version-id"),
        obj["sequencer"],
    )


def run(stack: Stack, context: FakeLambdaContext, *bodies: Any) -> dict[str, Any]:
    for body in bodies:
        send(stack.processing_queue_url, body)
    return invoke(handler, stack.processing_queue_url, context)


# ---------------------------------------------------------------------------- happy path


def test_upload_becomes_processing_asset_with_one_validated_job_per_format(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any, capsys: Any
) -> None:
    event = s3_event()
    response = run(stack, context, event)

    assert response == {"batchItemFailures": []}
    asset_id = asset_id_of(event)
    item = repo().get(asset_id)
    assert item is not None
    assert item["status"] == AssetStatus.PROCESSING
    assert item["formats"] == FORMATS
    assert item["uploaderId"] == "alice"
    assert item["s3Key"] == "uploads/alice/holiday.mp4"
    assert item["sourceVersionId"] == event["detail"]["object"]["version-id"]
    assert item["sourceSize"] == 48213504
    assert item["outputPrefix"] == f"alice/{asset_id}/"
    assert sorted(item["jobIds"]) == sorted(j.id for j in mediaconvert.jobs)
    assert {f: s["status"] for f, s in item["formatStatus"].items()} == dict.fromkeys(
        FORMATS, "SUBMITTED"
    )
    assert item["source"]["probe"]["width"] == 1920
    # Every request passed the strict validator (the fake asserts); check what they say too.
    requests = mediaconvert.submitted()
    assert len(requests) == len(FORMATS) and not mediaconvert.create_job_findings
    for request, job_format in zip(requests, FORMATS, strict=True):
        assert request["UserMetadata"] == {
            "mediapipeAssetId": asset_id,
            "mediapipeFormat": job_format,
            "mediapipePipelineId": PIPELINE_ID,
            "mediapipeAttempt": "1",
        }
        # Every job reads the asset's own copy of the uploaded version, never the key.
        assert request["Settings"]["Inputs"][0]["FileInput"] == (
            f"s3://{UPLOADS_BUCKET}/sources/{asset_id}/source.mp4"
        )
    assert len(mediaconvert.submitted("Probe")) == 1
    assert item["workingCopy"]["uri"] == f"s3://{UPLOADS_BUCKET}/sources/{asset_id}/source.mp4"
    copy = boto3.client("s3", region_name=REGION).head_object(
        Bucket=UPLOADS_BUCKET, Key=f"sources/{asset_id}/source.mp4"
    )
    assert copy["ServerSideEncryption"] == "aws:kms"

    logs, metrics = split_output(capsys.readouterr().out)
    assert metric_values(metrics, "AssetsReceived", Pipeline=PIPELINE_ID) == [1]
    for job_format in FORMATS:
        assert metric_values(metrics, "JobsSubmitted", Pipeline=PIPELINE_ID, Format=job_format) == [
            1
        ]
    assert metric_values(metrics, "JobsSubmitted", Pipeline=PIPELINE_ID) == [1] * len(FORMATS)
    about_asset = [line for line in logs if line.get("message") != "job event processed"]
    assert about_asset and all(line.get("asset_id") == asset_id for line in about_asset), logs


def test_duplicate_deliveries_in_one_batch_and_later_submit_nothing_twice(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any, capsys: Any
) -> None:
    batch = load_event("sqs/batch_put_and_duplicate.json")
    bodies = [json.loads(record["body"]) for record in batch["Records"]]
    bodies = [stored_upload(body) for body in bodies]
    assert run(stack, context, *bodies) == {"batchItemFailures": []}
    assert run(stack, context, bodies[0]) == {"batchItemFailures": []}

    assert len(mediaconvert.jobs) == len(FORMATS)
    assert len(mediaconvert.submitted("Probe")) == 1
    logs, _ = split_output(capsys.readouterr().out)
    assert sum(line["message"] == "nothing left to do for this asset now" for line in logs) == 2


def test_multipart_upload_is_accepted_and_marked(runtime: Any, stack: Stack, context: Any) -> None:
    event = s3_event("object_created_multipart.json")
    assert run(stack, context, event) == {"batchItemFailures": []}
    item = repo().get(asset_id_of(event))
    assert item["status"] == AssetStatus.PROCESSING
    assert item["source"]["multipart"] is True
    assert item["source"]["reason"] == "CompleteMultipartUpload"
    assert item["sourceEtag"].endswith("-52")


# ---------------------------------------------------------------------------- object keys


@pytest.mark.parametrize("name", ["space", "plus", "percent", "non_ascii"])
def test_awkward_keys_resolve_to_the_real_object_whether_encoded_or_not(
    name: str, runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    raw_event = load_event(f"s3/object_created_{name}_raw.json")
    body = f"the bytes of {name}".encode()
    real_key, version = upload(raw_event["detail"]["object"]["key"], body)
    encoded = s3_event(f"object_created_{name}_encoded.json", version_id=version)
    raw = s3_event(f"object_created_{name}_raw.json", version_id=version)
    assert encoded["detail"]["object"]["key"] != real_key  # the hard case: they differ

    assert run(stack, context, encoded) == {"batchItemFailures": []}
    assert run(stack, context, raw) == {"batchItemFailures": []}

    asset_id = asset_id_of(raw, real_key)
    item = repo().get(asset_id)
    assert item["s3Key"] == real_key
    assert len(mediaconvert.jobs) == len(FORMATS), "encoded and raw deliveries are one asset"
    inputs = {r["Settings"]["Inputs"][0]["FileInput"] for r in mediaconvert.submitted()}
    assert inputs == {item["workingCopy"]["uri"]}
    assert stored_bytes(item["workingCopy"]["key"]) == body  # copied from the real object


def test_a_literal_plus_is_not_mistaken_for_a_space_when_both_objects_exist(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    upload("uploads/gus/a b.mp4")
    plus_key, plus_version = upload("uploads/gus/a+b.mp4")
    event = s3_event(key="uploads/gus/a+b.mp4", version_id=plus_version)
    assert run(stack, context, event) == {"batchItemFailures": []}
    assert repo().get(asset_id_of(event, plus_key))["s3Key"] == "uploads/gus/a+b.mp4"


def test_an_object_gone_before_its_event_is_processed_is_recorded_as_source_missing(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    event = s3_event("object_created_space_encoded.json", version_id="no-such-version")
    assert run(stack, context, event) == {"batchItemFailures": []}
    assert mediaconvert.calls == []
    key = key_candidates(event["detail"]["object"]["key"])[0]
    item = repo().get(asset_id_of(event, key))
    assert item["status"] == AssetStatus.FAILED
    assert item["failureKind"] == "SOURCE_MISSING"
    assert "no longer exists" in item["errors"][-1]["message"]
    assert "outbox" not in item and item["finalNotifiedAt"]


def test_an_upload_deleted_before_processing_fails_as_source_missing(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    event = s3_event()
    s3 = boto3.client("s3", region_name=REGION)
    s3.delete_object(Bucket=UPLOADS_BUCKET, Key=event["detail"]["object"]["key"])  # a marker
    assert run(stack, context, event) == {"batchItemFailures": []}
    item = repo().get(asset_id_of(event))
    assert item["status"] == AssetStatus.FAILED
    assert item["failureKind"] == "SOURCE_MISSING"
    assert "deleted or replaced before it was processed" in item["errors"][-1]["message"]
    assert mediaconvert.jobs == []


def test_a_re_upload_is_its_own_asset_and_each_transcodes_its_own_bytes(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    key = "uploads/alice/holiday.mp4"
    _, first_version = upload(key, b"first take")
    _, second_version = upload(key, b"second take")  # before the first event is processed
    first = s3_event(version_id=first_version)
    second = s3_event(version_id=second_version)
    assert run(stack, context, first, second) == {"batchItemFailures": []}

    for event, body in ((first, b"first take"), (second, b"second take")):
        item = repo().get(asset_id_of(event))
        assert item["status"] == AssetStatus.PROCESSING
        assert stored_bytes(item["workingCopy"]["key"]) == body
        inputs = {
            job.request["Settings"]["Inputs"][0]["FileInput"]
            for job in mediaconvert.jobs
            if job.metadata["mediapipeAssetId"] == item["assetId"]
        }
        assert inputs == {item["workingCopy"]["uri"]}


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("object_created_zero_byte.json", "the object is empty (0 bytes)"),
        ("object_created_folder_marker.json", "the object is a folder marker, not a file"),
        ("object_created_wrong_extension.json", "extension '.txt' is not accepted"),
        ("object_created_too_large.json", "the object is 60.00 GiB, above the limit of 50.00 GiB"),
    ],
)
def test_invalid_upload_gets_a_failed_record_with_the_reason_and_no_job(
    name: str,
    reason: str,
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
    capsys: Any,
) -> None:
    event = s3_event(name)
    assert run(stack, context, event) == {"batchItemFailures": []}

    item = repo().get(asset_id_of(event))
    assert item["status"] == AssetStatus.FAILED
    assert item["failureKind"] == "INVALID_UPLOAD"
    assert reason in item["errors"][0]["message"]
    assert mediaconvert.calls == []
    _, metrics = split_output(capsys.readouterr().out)
    assert metric_values(metrics, "InvalidUploads", Pipeline=PIPELINE_ID) == [1]
    [announced] = drain(stack.events_observer_url)
    assert announced["detail-type"] == "MediaAsset Failed"
    assert announced["detail"]["assetId"] == item["assetId"]
    assert item["finalNotifiedAt"]


# ---------------------------------------------------------------------------- source-aware


def test_audio_only_source_gets_only_the_adaptive_job(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    mediaconvert.default_probe = load_event("mediaconvert/probe_audio_only.json")["ProbeResults"][0]
    event = s3_event()
    assert run(stack, context, event) == {"batchItemFailures": []}
    item = repo().get(asset_id_of(event))
    assert item["formats"] == ["cmaf"]
    assert [r["UserMetadata"]["mediapipeFormat"] for r in mediaconvert.submitted()] == ["cmaf"]


def test_source_without_usable_track_fails_with_the_precise_reason(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    mediaconvert.default_probe = load_event("mediaconvert/probe_no_usable_track.json")[
        "ProbeResults"
    ][0]
    event = s3_event()
    assert run(stack, context, event) == {"batchItemFailures": []}
    item = repo().get(asset_id_of(event))
    assert item["status"] == AssetStatus.FAILED
    assert item["failureKind"] == "UNUSABLE_SOURCE"
    assert "no usable video or audio track" in item["errors"][-1]["message"]
    assert mediaconvert.submitted() == []


def test_portrait_source_keeps_portrait_outputs(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    mediaconvert.default_probe = probe_result(1080, 1920)
    assert run(stack, context, s3_event()) == {"batchItemFailures": []}
    cmaf = mediaconvert.submitted()[0]["Settings"]["OutputGroups"][0]["Outputs"]
    sizes = [
        (o["VideoDescription"]["Width"], o["VideoDescription"]["Height"])
        for o in cmaf
        if "VideoDescription" in o
    ]
    assert sizes and all(height > width for width, height in sizes)


def test_probe_unavailable_falls_back_to_the_full_ladder(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    mediaconvert.fail_next("Probe", client_error("BadRequestException", "Probe"))
    event = s3_event()
    assert run(stack, context, event) == {"batchItemFailures": []}
    item = repo().get(asset_id_of(event))
    assert item["status"] == AssetStatus.PROCESSING
    assert "probe" not in item["source"] or item["source"]["probe"] is None
    assert item["source"]["probeNote"].startswith("probe unavailable")
    assert len(mediaconvert.jobs) == len(FORMATS)


def test_corrupt_source_fails_without_a_job(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    mediaconvert.fail_next("Probe", client_error("UnprocessableEntityException", "Probe"))
    event = s3_event()
    assert run(stack, context, event) == {"batchItemFailures": []}
    item = repo().get(asset_id_of(event))
    assert (item["status"], item["failureKind"]) == (AssetStatus.FAILED, "UNUSABLE_SOURCE")
    assert mediaconvert.submitted() == []


def test_rejected_job_fails_the_asset(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    mediaconvert.fail_next("CreateJob", client_error("BadRequestException", "CreateJob"))
    event = s3_event()
    assert run(stack, context, event) == {"batchItemFailures": []}
    item = repo().get(asset_id_of(event))
    assert (item["status"], item["failureKind"]) == (AssetStatus.FAILED, "JOB_REJECTED")
    assert item["formatStatus"]["cmaf"]["status"] == "ERROR"


# ---------------------------------------------------------------------------- transient


def test_transient_failure_fails_only_that_record_with_growing_backoff_then_fails_the_asset(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any, capsys: Any
) -> None:
    bad = s3_event()
    good = s3_event("object_created_copy.json")
    throttled = [client_error("TooManyRequestsException", "Probe") for _ in range(6)]
    mediaconvert.probe_by_uri[working_copy_uri(bad)] = throttled[0]
    send(stack.processing_queue_url, bad)
    send(stack.processing_queue_url, good)

    event = receive_event(stack.processing_queue_url)
    response = handler(event, context)
    finish_batch(stack.processing_queue_url, event, response)
    bad_id = asset_id_of(bad)
    assert len(failed_ids(response)) == 1
    assert repo().get(asset_id_of(good))["status"] == AssetStatus.PROCESSING
    assert repo().get(bad_id)["status"] == AssetStatus.PENDING

    delays = [stack.calls("ChangeMessageVisibility")[-1]["VisibilityTimeout"]]
    for _ in range(5):  # receives 2..6
        make_visible(stack.processing_queue_url, event, response)
        event = receive_event(stack.processing_queue_url)
        response = handler(event, context)
        finish_batch(stack.processing_queue_url, event, response)
        assert len(failed_ids(response)) == 1
        delays.append(stack.calls("ChangeMessageVisibility")[-1]["VisibilityTimeout"])
    # 30 s doubling, capped at 900 s; the last allowed receive makes the message visible at
    # once so the queue moves it to the dead-letter queue.
    assert delays == [30, 60, 120, 240, 480, 0]
    item = repo().get(bad_id)
    assert (item["status"], item["failureKind"]) == (AssetStatus.FAILED, "TRANSIENT_EXHAUSTED")
    assert len(item["errors"]) == 6
    assert all("TooManyRequestsException" in e["message"] for e in item["errors"])

    assert receive_event(stack.processing_queue_url)["Records"] == []
    [dead] = drain(stack.dead_letter_queue_url)
    assert dead["detail"]["object"]["key"] == "uploads/alice/holiday.mp4"
    _, metrics = split_output(capsys.readouterr().out)
    assert sum(metric_values(metrics, "IngestTransientFailures", Pipeline=PIPELINE_ID)) == 6


# ---------------------------------------------------------------------------- output quality


def cmaf_request(mediaconvert: FakeMediaConvert) -> dict[str, Any]:
    (request,) = [
        r for r in mediaconvert.submitted() if r["UserMetadata"]["mediapipeFormat"] == "cmaf"
    ]
    return request


def test_a_sidecar_caption_file_is_copied_beside_the_working_copy_and_carried(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    upload("uploads/alice/holiday.srt", b"1\n00:00:01,000 --> 00:00:02,000\nHello\n")
    upload("uploads/alice/holiday.vtt", b"WEBVTT\n\n00:01.000 --> 00:02.000\nHello\n")
    event = s3_event()  # uploads/alice/holiday.mp4
    assert run(stack, context, event) == {"batchItemFailures": []}
    asset_id = asset_id_of(event)
    item = repo().get(asset_id)
    assert item["captionLanguages"] == ["eng"]
    copy_uri = f"s3://{UPLOADS_BUCKET}/sources/{asset_id}/captions.vtt"  # .vtt is tried first
    assert item["source"]["captions"] == {"uri": copy_uri, "extension": "vtt", "language": "eng"}
    copy = boto3.client("s3", region_name=REGION).get_object(
        Bucket=UPLOADS_BUCKET, Key=f"sources/{asset_id}/captions.vtt"
    )
    assert copy["ServerSideEncryption"] == "aws:kms" and copy["Body"].read().startswith(b"WEBVTT")
    selectors = cmaf_request(mediaconvert)["Settings"]["Inputs"][0]["CaptionSelectors"]
    file_source = selectors["Captions Selector 1"]["SourceSettings"]
    assert file_source == {"SourceType": "WEBVTT", "FileSourceSettings": {"SourceFile": copy_uri}}
    (mp4,) = [r for r in mediaconvert.submitted() if r["UserMetadata"]["mediapipeFormat"] == "mp4"]
    assert "CaptionSelectors" not in mp4["Settings"]["Inputs"][0]


def test_an_asset_without_a_caption_file_has_no_captions(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    event = s3_event()
    assert run(stack, context, event) == {"batchItemFailures": []}
    item = repo().get(asset_id_of(event))
    assert "captionLanguages" not in item and "captions" not in item["source"]
    assert all(
        "CaptionSelectors" not in r["Settings"]["Inputs"][0] for r in mediaconvert.submitted()
    )


def test_the_caption_files_own_upload_is_not_an_asset(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any, capsys: Any
) -> None:
    event = s3_event(key="uploads/alice/holiday.vtt")
    assert run(stack, context, event) == {"batchItemFailures": []}
    assert repo().get(asset_id_of(event)) is None  # no record, so no FAILED noise
    assert mediaconvert.submitted() == [] and mediaconvert.submitted("Probe") == []
    logs, metrics = split_output(capsys.readouterr().out)
    assert any(line.get("message", "").startswith("caption file uploaded") for line in logs)
    assert metric_values(metrics, "InvalidUploads", Pipeline=PIPELINE_ID) == []


def test_a_caption_extension_outside_the_profile_list_is_still_rejected(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    event = s3_event(key="uploads/alice/holiday.ttml")
    assert run(stack, context, event) == {"batchItemFailures": []}
    item = repo().get(asset_id_of(event))
    assert item["status"] == AssetStatus.FAILED and item["failureKind"] == "INVALID_UPLOAD"


def test_embedded_608_captions_are_recorded_and_passed_through(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    probe = load_event("mediaconvert/probe_608_captions_720p.json")["ProbeResults"][0]
    mediaconvert.default_probe = probe
    event = s3_event()
    assert run(stack, context, event) == {"batchItemFailures": []}
    item = repo().get(asset_id_of(event))
    assert item["captionLanguages"] == ["eng"]
    assert item["source"]["probe"]["embedded_captions"] == ["C608"]
    selectors = cmaf_request(mediaconvert)["Settings"]["Inputs"][0]["CaptionSelectors"]
    assert selectors["Captions Selector 1"]["SourceSettings"]["SourceType"] == "EMBEDDED"


def test_an_hdr_phone_clip_is_tone_mapped_and_gets_a_poster_after_its_first_frame(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    probe = load_event("mediaconvert/probe_dolby_vision_84_phone.json")["ProbeResults"][0]
    mediaconvert.default_probe = probe
    event = s3_event()
    assert run(stack, context, event) == {"batchItemFailures": []}
    item = repo().get(asset_id_of(event))
    assert item["source"]["probe"]["hdr"] == "HLG"
    # 9.87 s: captures every 2 s (0, 2, 4, 6, 8 s); 30 % of the clip is capture 1.
    assert item["source"]["poster"] == "thumbnails/image_thumb.0000001.jpg"
    for request in mediaconvert.submitted():  # the fake validated each strictly
        for group in request["Settings"]["OutputGroups"]:
            for output in group["Outputs"]:
                if "VideoDescription" in output:
                    corrector = output["VideoDescription"]["VideoPreprocessors"]["ColorCorrector"]
                    assert corrector["ColorSpaceConversion"] == "FORCE_709"


def test_a_caption_file_uploaded_after_its_video_was_planned_is_not_used(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    event = s3_event()
    assert run(stack, context, event) == {"batchItemFailures": []}
    upload("uploads/alice/holiday.vtt", b"WEBVTT\n")
    late = s3_event(key="uploads/alice/holiday.vtt")
    assert run(stack, context, late) == {"batchItemFailures": []}
    item = repo().get(asset_id_of(event))
    assert "captionLanguages" not in item and "captions" not in item["source"]
    assert len(mediaconvert.submitted()) == len(FORMATS)
