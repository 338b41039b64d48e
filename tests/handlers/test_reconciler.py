"""reconciler: the scheduled safety net finishes what the other handlers left unfinished."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from conftest import OUTPUTS_BUCKET, PIPELINE_ID, Stack
from handler_delivery import drain, invoke, metric_values, send, split_output
from handler_fakes import REGION, FakeLambdaContext, FakeMediaConvert, SimulatedCrash
from mediapipe_handlers.ingest_orchestrator import handler as orchestrator
from mediapipe_handlers.lifecycle import JobState
from mediapipe_handlers.reconciler import handler as reconciler
from test_final_states import dead_letters, sqs
from test_ingest_orchestrator import FORMATS, asset_id_of, repo, s3_event
from test_ingest_recovery import later
from test_job_status_processor import apply, processing_asset

from mediapipe_cfn.contract import AssetStatus


def reconcile(context: Any | None = None) -> dict[str, Any]:
    return reconciler(
        {"source": "aws.events", "detail-type": "Scheduled Event"}, context or FakeLambdaContext()
    )


def manifest_exists(asset_id: str) -> bool:
    s3 = boto3.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(Bucket=OUTPUTS_BUCKET, Prefix=f"alice/{asset_id}/manifest.json")
    return listed.get("KeyCount", 0) == 1


def test_a_final_state_whose_announcements_failed_is_announced_by_the_reconciler(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asset_id = processing_asset(stack, context)
    cmaf, mp4 = (mediaconvert.job_for(asset_id, f) for f in FORMATS)
    apply(mediaconvert, context, cmaf, "COMPLETE")
    # The status processor dies between the SUCCEEDED write and its announcements.
    monkeypatch.setattr(
        "mediapipe_handlers.settlement.write_manifest",
        lambda *_: (_ for _ in ()).throw(SimulatedCrash("timeout")),
    )
    with pytest.raises(SimulatedCrash):
        apply(mediaconvert, context, mp4, "COMPLETE")
    monkeypatch.undo()
    item = repo().get(asset_id)
    assert item["status"] == AssetStatus.SUCCEEDED and item["outbox"] == "pending"
    assert not manifest_exists(asset_id)

    assert reconcile()["announced"] == 0  # within the grace period: its handler may still
    later(monkeypatch, mediaconvert, minutes=5)
    assert reconcile()["announced"] == 1
    item = repo().get(asset_id)
    assert "outbox" not in item and item["finalNotifiedAt"]
    assert manifest_exists(asset_id)
    [event] = [e for e in drain(stack.events_observer_url) if e["detail"]["assetId"] == asset_id]
    assert event["detail-type"] == "MediaAsset Processed"
    assert reconcile()["announced"] == 0  # once is enough


def test_jobs_that_finished_without_their_events_are_applied_from_getjob(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    asset_id = processing_asset(stack, context)
    for job in mediaconvert.jobs:
        mediaconvert.finish(job, "COMPLETE")  # the COMPLETE events never arrive
    assert reconcile()["jobsApplied"] == 0  # not past the deadline yet
    later(monkeypatch, mediaconvert, minutes=45)
    summary = reconcile()
    assert summary["jobsApplied"] == 2 and summary["stuck"] == 0
    item = repo().get(asset_id)
    assert item["status"] == AssetStatus.SUCCEEDED
    cmaf = item["outputs"]["cmaf"]["groups"][0]
    assert [p.rsplit(".", 1)[1] for p in cmaf["playlists"]] == ["m3u8", "mpd"]
    assert manifest_exists(asset_id)
    _, metrics = split_output(capsys.readouterr().out)
    assert metric_values(metrics, "AssetsReconciled", Pipeline=PIPELINE_ID)[-1] == 2


def test_a_failed_job_found_by_the_reconciler_fails_the_asset_with_its_code(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asset_id = processing_asset(stack, context)
    cmaf, mp4 = (mediaconvert.job_for(asset_id, f) for f in FORMATS)
    mediaconvert.finish(mp4, "ERROR", error_code=1010)
    later(monkeypatch, mediaconvert, minutes=45)
    reconcile()
    item = repo().get(asset_id)
    assert (item["status"], item["failureKind"]) == (AssetStatus.FAILED, "JOB_FAILED")
    assert item["formatStatus"]["mp4"]["errorCode"] == 1010
    assert cmaf.status == "CANCELED"


def test_an_abandoned_claim_is_handed_back_to_the_orchestrator(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    """The orchestrator died after CreateJob and its message is gone (say, purged): only the
    reconciler can notice. It nudges the orchestrator, which adopts the orphaned job."""
    body = s3_event()
    asset_id = asset_id_of(body)
    send(stack.processing_queue_url, body)
    mediaconvert.crash_after_create = SimulatedCrash()
    with pytest.raises(SimulatedCrash):
        invoke(orchestrator, stack.processing_queue_url, FakeLambdaContext())
    sqs().purge_queue(QueueUrl=stack.processing_queue_url)
    orphan = mediaconvert.jobs[0]

    later(monkeypatch, mediaconvert, minutes=45)
    summary = reconcile()
    assert summary["stuck"] == 1 and summary["nudged"] == 1
    assert invoke(orchestrator, stack.processing_queue_url, context) == {"batchItemFailures": []}
    item = repo().get(asset_id)
    assert item["status"] == AssetStatus.PROCESSING
    assert item["formatStatus"][orphan.metadata["mediapipeFormat"]]["jobId"] == orphan.id
    assert len(mediaconvert.jobs) == len(FORMATS)
    _, metrics = split_output(capsys.readouterr().out)
    assert metric_values(metrics, "StuckAssets", Pipeline=PIPELINE_ID)[-1] == 1


def test_a_healthy_slow_asset_is_not_stuck(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    processing_asset(stack, context)
    for job in mediaconvert.jobs:
        mediaconvert.finish(job, "PROGRESSING")
    later(monkeypatch, mediaconvert, minutes=45)
    summary = reconcile()
    assert (summary["stuck"], summary["nudged"]) == (0, 0)


def test_every_dead_letter_ends_named_by_a_failed_record(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An upload whose message died before any record was written.
    unrecorded = s3_event("object_created_copy.json")
    # An asset still live whose message reached the DLQ (its last receive crashed).
    live_id = processing_asset(stack, context)
    # An asset that has since succeeded.
    done_body = s3_event("object_created_multipart.json")
    send(stack.processing_queue_url, done_body)
    invoke(orchestrator, stack.processing_queue_url, context)
    done_id = asset_id_of(done_body)
    for job in [j for j in mediaconvert.jobs if j.metadata["mediapipeAssetId"] == done_id]:
        apply(mediaconvert, context, job, "COMPLETE")
    assert repo().get(done_id)["status"] == AssetStatus.SUCCEEDED
    for body in (unrecorded, s3_event(), done_body, "{not json"):
        sqs().send_message(
            QueueUrl=stack.dead_letter_queue_url,
            MessageBody=body if isinstance(body, str) else json.dumps(body),
        )

    # Read messages normally stay hidden for the next runs; here the test reads them next.
    monkeypatch.setattr("mediapipe_handlers.reconciler.DLQ_VISIBILITY_SECONDS", 0)
    summary = reconcile()
    assert summary["deadLetters"] == 4
    letters = {
        json.loads(m["Body"])["detail"]["object"]["key"] if m["Body"] != "{not json" else "-": m
        for m in dead_letters(stack)
    }
    assert set(letters) == {"uploads/alice/holiday.mp4", "uploads/frank/clip.webm", "-"}

    created = repo().get(asset_id_of(unrecorded))
    assert (created["status"], created["failureKind"]) == (AssetStatus.FAILED, "DEAD_LETTERED")
    assert created["deadLetters"] == [letters["uploads/frank/clip.webm"]["MessageId"]]
    live = repo().get(live_id)
    assert (live["status"], live["failureKind"]) == (AssetStatus.FAILED, "DEAD_LETTERED")
    assert live["deadLetters"] == [letters["uploads/alice/holiday.mp4"]["MessageId"]]
    assert all(
        j.status == "CANCELED"
        for j in mediaconvert.jobs
        if j.metadata["mediapipeAssetId"] == live_id
    )
    assert repo().get(done_id)["status"] == AssetStatus.SUCCEEDED  # its letter was deleted

    # A redrive of the dead letter reopens the asset it names.
    send(stack.processing_queue_url, letters["uploads/alice/holiday.mp4"]["Body"])
    assert invoke(orchestrator, stack.processing_queue_url, context) == {"batchItemFailures": []}
    reopened = repo().get(live_id)
    assert reopened["status"] == AssetStatus.PROCESSING
    assert {s["attempt"] for s in reopened["formatStatus"].values()} == {2}
    assert all(s["status"] == JobState.SUBMITTED for s in reopened["formatStatus"].values())


def test_a_dead_letter_read_by_a_run_stays_hidden_from_the_next_runs(
    runtime: Any, stack: Stack, context: Any
) -> None:
    sqs().send_message(QueueUrl=stack.dead_letter_queue_url, MessageBody="{not json")
    assert reconcile()["deadLetters"] == 1
    assert dead_letters(stack) == []  # hidden for DLQ_VISIBILITY_SECONDS (10 minutes)
    assert reconcile()["deadLetters"] == 0


def test_a_run_with_too_little_time_left_starts_no_work(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asset_id = processing_asset(stack, context)
    for job in mediaconvert.jobs:
        mediaconvert.finish(job, "COMPLETE")
    later(monkeypatch, mediaconvert, minutes=45)
    summary = reconcile(FakeLambdaContext(remaining_ms=15_000))
    assert summary["jobsApplied"] == 0
    assert repo().get(asset_id)["status"] == AssetStatus.PROCESSING
    assert reconcile()["jobsApplied"] == 2  # the next run, with its time, finishes it
