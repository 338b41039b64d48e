"""job-status-processor: job events in any order fold into a record that only moves forward."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from conftest import OUTPUTS_BUCKET, PIPELINE_ID, Stack
from handler_delivery import drain, invoke, metric_values, send, split_output
from handler_fakes import REGION, FakeMediaConvert, load_event
from mediapipe_handlers import clock
from mediapipe_handlers.ingest_orchestrator import handler as orchestrator
from mediapipe_handlers.job_status_processor import handler as status_processor
from mediapipe_handlers.repository import JobState
from test_ingest_orchestrator import FORMATS, asset_id_of, repo, s3_event

from mediapipe_cfn.contract import AssetStatus

STATIC_ASSET = "5d2f0c7e9b1a4c3d8e6f7a8b9c0d1e2f"


def processing_asset(stack: Stack, context: Any) -> str:
    send(stack.processing_queue_url, s3_event())
    assert invoke(orchestrator, stack.processing_queue_url, context) == {"batchItemFailures": []}
    return asset_id_of(s3_event())


def apply(
    mediaconvert: FakeMediaConvert, context: Any, job: Any, *statuses: str, **kw: Any
) -> list[str]:
    outcomes = []
    for status in statuses:
        result = status_processor(mediaconvert.job_event(job, status, **kw), context)
        outcomes.append(result["outcome"])
    return outcomes


@pytest.mark.parametrize("config", [{"notifications__snsOnFinalState": True}], indirect=True)
def test_a_full_lifecycle_ends_succeeded_with_outputs_manifest_event_and_metrics(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any, capsys: Any
) -> None:
    asset_id = processing_asset(stack, context)
    capsys.readouterr()
    for job_format in FORMATS:
        job = mediaconvert.job_for(asset_id, job_format)
        outcomes = apply(
            mediaconvert,
            context,
            job,
            "INPUT_INFORMATION",
            "PROGRESSING",
            "STATUS_UPDATE",
            "COMPLETE",
        )
        assert outcomes[-1] == "complete"

    item = repo().get(asset_id)
    assert item["status"] == AssetStatus.SUCCEEDED
    assert item["completedAt"] and item["finalNotifiedAt"]
    cmaf = item["outputs"]["cmaf"]["groups"][0]
    assert cmaf["type"] == "CMAF_GROUP"
    assert [p.rsplit(".", 1)[1] for p in cmaf["playlists"]] == ["m3u8", "mpd"]
    assert all(p.startswith(f"s3://{OUTPUTS_BUCKET}/alice/{asset_id}/") for p in cmaf["playlists"])
    thumbnails = item["outputs"]["mp4"]["thumbnailCount"]
    assert thumbnails > 1
    assert item["source"]["inputDetails"][0]["video"][0]["width"] == 1920

    manifest = json.loads(
        boto3.client("s3", region_name=REGION)
        .get_object(Bucket=OUTPUTS_BUCKET, Key=f"alice/{asset_id}/manifest.json")["Body"]
        .read()
    )
    assert manifest["assetId"] == asset_id and manifest["uploaderId"] == "alice"
    assert sorted(manifest["formats"]) == FORMATS
    assert [m["path"] for m in manifest["formats"]["cmaf"]["manifests"]] == [
        "cmaf/master.m3u8",
        "cmaf/master.mpd",
    ]
    assert manifest["formats"]["mp4"]["thumbnailCount"] == thumbnails

    [announced] = drain(stack.events_observer_url)
    assert announced["source"] == "mediapipe.assets"
    assert announced["detail-type"] == "MediaAsset Processed"
    assert announced["detail"]["assetId"] == asset_id
    assert announced["detail"]["outputs"]["manifest"].endswith(f"/{asset_id}/manifest.json")
    [sns] = drain(stack.sns_observer_url)
    assert sns["assetId"] == asset_id and sns["status"] == "SUCCEEDED"

    _, metrics = split_output(capsys.readouterr().out)
    assert metric_values(metrics, "DailyProcessedCount", Pipeline=PIPELINE_ID) == [1]
    for job_format in FORMATS:
        assert metric_values(
            metrics, "FormatSucceeded", Pipeline=PIPELINE_ID, Format=job_format
        ) == [1]
    assert metric_values(metrics, "ThumbnailsGenerated", Pipeline=PIPELINE_ID) == [thumbnails]
    assert len(metric_values(metrics, "JobLatency", Pipeline=PIPELINE_ID)) == 1
    assert len(metric_values(metrics, "JobDuration", Pipeline=PIPELINE_ID)) == len(FORMATS)
    dimension_sets = {
        tuple(sorted(d))
        for document in metrics
        for directive in document["_aws"]["CloudWatchMetrics"]
        for d in directive["Dimensions"]
    }
    assert dimension_sets == {("Pipeline",), ("Format", "Pipeline")}, "no stray dimensions"


def test_out_of_order_and_duplicated_events_never_move_the_record_back(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any, capsys: Any
) -> None:
    asset_id = processing_asset(stack, context)
    cmaf, mp4 = (mediaconvert.job_for(asset_id, f) for f in FORMATS)
    start = 1_714_564_800_000
    assert apply(mediaconvert, context, cmaf, "COMPLETE", timestamp_ms=start + 5000) == ["complete"]
    assert apply(
        mediaconvert, context, cmaf, "PROGRESSING", "STATUS_UPDATE", "COMPLETE", timestamp_ms=start
    ) == ["stale", "stale", "stale"]
    assert repo().get(asset_id)["formatStatus"]["cmaf"]["status"] == JobState.COMPLETE
    assert repo().get(asset_id)["status"] == AssetStatus.PROCESSING

    assert apply(mediaconvert, context, mp4, "COMPLETE") == ["complete"]
    assert apply(mediaconvert, context, mp4, "STATUS_UPDATE", "COMPLETE", "ERROR") == [
        "stale",
        "stale",
        "stale",
    ]
    item = repo().get(asset_id)
    assert item["status"] == AssetStatus.SUCCEEDED
    assert {f: item["formatStatus"][f]["status"] for f in FORMATS} == dict.fromkeys(
        FORMATS, JobState.COMPLETE
    )
    assert len(drain(stack.events_observer_url)) == 1
    _, metrics = split_output(capsys.readouterr().out)
    assert metric_values(metrics, "DailyProcessedCount", Pipeline=PIPELINE_ID) == [1]


def test_only_the_newest_progress_is_kept(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    asset_id = processing_asset(stack, context)
    cmaf = mediaconvert.job_for(asset_id, "cmaf")
    newer = mediaconvert.job_event(cmaf, "STATUS_UPDATE", timestamp_ms=2_000_000_000_000)
    newer["detail"]["jobProgress"]["jobPercentComplete"] = 85
    older = mediaconvert.job_event(cmaf, "STATUS_UPDATE", timestamp_ms=1_999_999_000_000)
    assert status_processor(newer, context)["outcome"] == "recorded"
    assert status_processor(older, context)["outcome"] == "stale"
    progress = repo().get(asset_id)["progress"]["cmaf"]
    assert (progress["percent"], progress["phase"]) == (85, "TRANSCODING")


def test_retryable_error_is_resubmitted_with_a_delay_and_old_attempt_events_are_ignored(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any, capsys: Any
) -> None:
    asset_id = processing_asset(stack, context)
    first_mp4 = mediaconvert.job_for(asset_id, "mp4")
    assert apply(mediaconvert, context, first_mp4, "ERROR", errorCode=1999) == ["retry scheduled"]
    state = repo().get(asset_id)["formatStatus"]["mp4"]
    assert (state["status"], state["nextAttempt"]) == (JobState.RETRY_SCHEDULED, 2)
    assert repo().get(asset_id)["status"] == AssetStatus.PROCESSING
    [retry] = [c for c in stack.calls("SendMessage") if "retry-job" in c["MessageBody"]]
    assert retry["DelaySeconds"] == 60  # jobRetryBaseDelaySeconds of the default profile
    _, metrics = split_output(capsys.readouterr().out)
    assert metric_values(metrics, "JobRetries", Pipeline=PIPELINE_ID) == [1]
    assert metric_values(metrics, "MediaConvertJobFailures", Pipeline=PIPELINE_ID) == [1]

    # The delay elapses: the orchestrator resubmits (the test re-sends without the delay).
    boto3.client("sqs", region_name=REGION).purge_queue(QueueUrl=stack.processing_queue_url)
    send(stack.processing_queue_url, retry["MessageBody"])
    assert invoke(orchestrator, stack.processing_queue_url, context) == {"batchItemFailures": []}
    second_mp4 = mediaconvert.job_for(asset_id, "mp4", attempt=2)

    assert apply(mediaconvert, context, first_mp4, "STATUS_UPDATE", "COMPLETE") == [
        "stale",
        "stale",
    ]
    assert apply(mediaconvert, context, second_mp4, "COMPLETE") == ["complete"]
    assert apply(mediaconvert, context, mediaconvert.job_for(asset_id, "cmaf"), "COMPLETE") == [
        "complete"
    ]
    item = repo().get(asset_id)
    assert item["status"] == AssetStatus.SUCCEEDED
    assert item["formatStatus"]["mp4"]["jobId"] == second_mp4.id
    assert [e.get("code") for e in item["errors"]] == [1999]


@pytest.mark.parametrize("config", [{"retry__jobRetryAttempts": 0}], indirect=True)
def test_a_job_failed_for_good_fails_the_asset_and_lands_on_the_dead_letter_queue(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any, capsys: Any
) -> None:
    asset_id = processing_asset(stack, context)
    mp4 = mediaconvert.job_for(asset_id, "mp4")
    assert apply(mediaconvert, context, mp4, "ERROR", errorCode=1999) == ["failed"]

    item = repo().get(asset_id)
    assert (item["status"], item["failureKind"]) == (AssetStatus.FAILED, "JOB_FAILED")
    assert item["formatStatus"]["mp4"]["errorCode"] == 1999
    [dead] = drain(stack.dead_letter_queue_url)
    assert dead["mediapipeCommand"] == "job-failed"
    assert (dead["assetId"], dead["format"], dead["attempt"]) == (asset_id, "mp4", 1)
    assert dead["details"]["jobId"] == mp4.id and dead["details"]["errorCode"] == 1999
    [announced] = drain(stack.events_observer_url)
    assert announced["detail-type"] == "MediaAsset Failed"
    assert announced["detail"]["errors"][0]["code"] == 1999
    _, metrics = split_output(capsys.readouterr().out)
    assert metric_values(metrics, "FormatFailed", Pipeline=PIPELINE_ID, Format="mp4") == [1]
    assert metric_values(metrics, "AssetsFailed", Pipeline=PIPELINE_ID) == [1]

    # The other format's job was canceled (it would only bill); its late events change nothing.
    cmaf = mediaconvert.job_for(asset_id, "cmaf")
    assert cmaf.status == "CANCELED"
    assert apply(mediaconvert, context, cmaf, "CANCELED") == ["stale"]
    item = repo().get(asset_id)
    assert item["status"] == AssetStatus.FAILED
    assert item["formatStatus"]["cmaf"]["status"] == JobState.CANCELED
    assert item["formatStatus"]["cmaf"]["canceledBecause"] == "the asset failed"
    assert drain(stack.events_observer_url) == []


def test_a_permanent_error_code_is_not_retried(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    asset_id = processing_asset(stack, context)
    mp4 = mediaconvert.job_for(asset_id, "mp4")
    assert apply(mediaconvert, context, mp4, "ERROR", errorCode=1010) == ["failed"]
    assert repo().get(asset_id)["status"] == AssetStatus.FAILED
    assert not [c for c in stack.calls("SendMessage") if "retry-job" in c["MessageBody"]]


def test_a_canceled_job_fails_the_asset_without_counting_a_job_failure(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any, capsys: Any
) -> None:
    asset_id = processing_asset(stack, context)
    assert apply(mediaconvert, context, mediaconvert.job_for(asset_id, "cmaf"), "CANCELED") == [
        "failed"
    ]
    item = repo().get(asset_id)
    assert item["status"] == AssetStatus.FAILED
    assert item["formatStatus"]["cmaf"]["status"] == JobState.CANCELED
    _, metrics = split_output(capsys.readouterr().out)
    assert metric_values(metrics, "MediaConvertJobFailures", Pipeline=PIPELINE_ID) == []


def test_warnings_and_input_information_are_recorded_once(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    asset_id = processing_asset(stack, context)
    cmaf = mediaconvert.job_for(asset_id, "cmaf")
    warning = mediaconvert.job_event(
        cmaf, "NEW_WARNING", warningCode="230001", warningMessage="Audio shorter than video"
    )
    assert status_processor(warning, context)["outcome"] == "recorded"
    assert apply(mediaconvert, context, cmaf, "INPUT_INFORMATION") == ["recorded"]
    changed = mediaconvert.job_event(cmaf, "INPUT_INFORMATION")
    changed["detail"]["inputDetails"][0]["video"][0]["width"] = 1
    assert status_processor(changed, context)["outcome"] == "duplicate"
    item = repo().get(asset_id)
    assert item["formatStatus"]["cmaf"]["warnings"] == {"230001": "Audio shorter than video"}
    assert item["source"]["inputDetails"][0]["video"][0]["width"] == 1920


def test_an_interrupted_announcement_is_completed_by_the_retried_event(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    asset_id = processing_asset(stack, context)
    cmaf, mp4 = (mediaconvert.job_for(asset_id, f) for f in FORMATS)
    apply(mediaconvert, context, cmaf, "COMPLETE")
    failures = [RuntimeError("S3 unavailable")]

    def flaky_put(**_: Any) -> None:
        if failures:
            raise failures.pop()

    runtime.clients.s3.meta.events.register("before-call.s3.PutObject", flaky_put)
    last = mediaconvert.job_event(mp4, "COMPLETE")
    with pytest.raises(RuntimeError):
        status_processor(last, context)  # Lambda retries an asynchronous invocation
    assert repo().get(asset_id)["status"] == AssetStatus.SUCCEEDED
    assert drain(stack.events_observer_url) == []

    assert status_processor(last, context)["outcome"] == "stale"
    item = repo().get(asset_id)
    assert item["finalNotifiedAt"]
    assert len(drain(stack.events_observer_url)) == 1
    boto3.client("s3", region_name=REGION).head_object(
        Bucket=OUTPUTS_BUCKET, Key=f"alice/{asset_id}/manifest.json"
    )


# ---------------------------------------------------------------------------- static events


def prepared_record(now: str) -> dict[str, Any]:
    """The record the orchestrator leaves for the asset of tests/events/mediaconvert/*.json."""
    jobs = {"cmaf": "1714564861234-a1b2c3", "mp4": "1714564861456-d4e5f6"}
    return {
        "assetId": STATIC_ASSET,
        "uploaderId": "alice",
        "s3Key": "uploads/alice/holiday.mp4",
        "status": "PROCESSING",
        "formats": ["cmaf", "mp4"],
        "createdAt": now,
        "updatedAt": now,
        "jobIds": list(jobs.values()),
        "errors": [],
        "sourceBucket": "mediapipe-test-uploads",
        "source": {"uploadedAt": "2024-05-01T12:00:00Z"},
        "formatStatus": {
            f: {"status": "SUBMITTED", "rank": 1, "attempt": 1, "jobId": job, "submittedAt": now}
            for f, job in jobs.items()
        },
        "progress": {},
        "outputs": {},
        "attempts": 1,
        "outputPrefix": f"alice/{STATIC_ASSET}/",
    }


def test_recorded_event_files_in_a_scrambled_order(
    runtime: Any, stack: Stack, context: Any
) -> None:
    repo().create(prepared_record(clock.now_iso()))
    sequence = [
        ("cmaf_queue_hop.json", "logged"),
        ("cmaf_complete.json", "complete"),
        ("cmaf_status_update_85.json", "stale"),
        ("cmaf_progressing.json", "stale"),
        ("cmaf_input_information.json", "recorded"),
        ("cmaf_new_warning.json", "recorded"),
        ("thumbnails_complete.json", "stale"),  # thumbnails ride in the mp4 job here
        ("mp4_error_retryable_1999.json", "retry scheduled"),
        ("mp4_error_retryable_1999.json", "retry rescheduled"),
        ("mp4_attempt2_complete.json", "stale"),  # before the orchestrator claimed attempt 2
        ("other_pipeline_complete.json", "ignored"),
        ("job_without_metadata_complete.json", "ignored"),
    ]
    for name, expected in sequence:
        outcome = status_processor(load_event(f"mediaconvert/{name}"), context)["outcome"]
        assert outcome == expected, name
    assert repo().claim_format(
        STATIC_ASSET,
        "mp4",
        attempt=2,
        token="t",
        lease_until=clock.now_iso(),
        now=clock.now_iso(),
        input_uri="s3://bucket/sources/asset/source.mp4",
    )
    assert (
        status_processor(load_event("mediaconvert/mp4_attempt2_complete.json"), context)["outcome"]
        == "complete"
    )
    item = repo().get(STATIC_ASSET)
    assert item["status"] == AssetStatus.SUCCEEDED
    assert len(item["outputs"]["cmaf"]["groups"][0]["outputs"]) == 7
    assert item["outputs"]["cmaf"]["groups"][0]["outputs"][0]["video"]["widthInPx"] == 1920
    assert item["formatStatus"]["cmaf"]["completionWarnings"] == [{"code": 230001, "count": 1}]
    assert "1714564861456-d4e5f6r2" in item["jobIds"]


def test_recorded_event_files_of_a_job_failed_for_good(
    runtime: Any, stack: Stack, context: Any
) -> None:
    repo().create(prepared_record(clock.now_iso()))
    sequence = [
        ("cmaf_complete.json", "complete"),
        ("mp4_error_permanent_1010.json", "failed"),
        ("mp4_complete.json", "stale"),  # a late COMPLETE cannot undo the failure
        ("thumbnails_canceled.json", "stale"),  # no job of that name in this plan
    ]
    for name, expected in sequence:
        outcome = status_processor(load_event(f"mediaconvert/{name}"), context)["outcome"]
        assert outcome == expected, name
    item = repo().get(STATIC_ASSET)
    assert (item["status"], item["failureKind"]) == (AssetStatus.FAILED, "JOB_FAILED")
    assert item["formatStatus"]["mp4"]["errorCode"] == 1010
    assert "No parser found for container" in item["errors"][0]["message"]
    [notice] = drain(stack.dead_letter_queue_url)
    assert (notice["assetId"], notice["format"], notice["details"]["errorCode"]) == (
        STATIC_ASSET,
        "mp4",
        1010,
    )
