"""Every upload reaches a final state, whatever fails: the paths that once left assets stuck.

Each test provokes one path an independent harness found (a retry dropped while PENDING, a
reopen that forgot another format's retry, all jobs COMPLETE with the asset PROCESSING, a
message that kills the process on every receive, a failed asset whose other jobs kept running)
and checks that the asset now ends final, with a reason when FAILED.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import Stack
from handler_delivery import failed_ids, finish_batch, invoke, make_visible, receive_event, send
from handler_fakes import REGION, FakeLambdaContext, FakeMediaConvert, SimulatedCrash
from mediapipe_handlers.ingest_orchestrator import handler as orchestrator
from mediapipe_handlers.lifecycle import JobState
from mediapipe_handlers.messages import COMMAND_JOB_FAILED
from test_ingest_orchestrator import FORMATS, asset_id_of, repo, s3_event, working_copy_uri
from test_ingest_recovery import later
from test_job_status_processor import apply, processing_asset

from mediapipe_cfn.contract import AssetStatus


def sqs() -> Any:
    return boto3.client("sqs", region_name=REGION)


def dead_letters(stack: Stack) -> list[dict[str, Any]]:
    return (
        sqs()
        .receive_message(
            QueueUrl=stack.dead_letter_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        .get("Messages", [])
    )


def fail_dynamodb_update(
    runtime: Any, matches: Callable[[dict[str, Any]], bool], times: int = 1
) -> list[int]:
    """The next ``times`` UpdateItem calls that ``matches`` answer 500 (nothing written)."""
    left = [times]

    def hook(params: dict[str, Any], **_: Any) -> None:
        if left[0] > 0 and matches(params):
            left[0] -= 1
            raise ClientError(
                {
                    "Error": {"Code": "InternalServerError", "Message": "injected"},
                    "ResponseMetadata": {"HTTPStatusCode": 500},
                },
                "UpdateItem",
            )

    runtime.clients.dynamodb.meta.events.register("provide-client-params.dynamodb.UpdateItem", hook)
    return left


def sets_processing(params: dict[str, Any]) -> bool:
    """The PENDING -> PROCESSING write (and no other)."""
    names = params.get("ExpressionAttributeNames", {})
    values = params.get("ExpressionAttributeValues", {})
    return (
        params["UpdateExpression"].startswith("SET #n0 = :v0,")
        and names.get("#n0") == "status"
        and values.get(":v0") == {"S": "PROCESSING"}
    )


# ---------------------------------------------------------------------------- retries


def test_a_retryable_error_while_pending_is_resubmitted_not_dropped(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The orchestrator died right after CreateJob (asset PENDING, claim SUBMITTING); the
    job's retryable ERROR arrives before its message comes back."""
    body = s3_event()
    asset_id = asset_id_of(body)
    send(stack.processing_queue_url, body)
    mediaconvert.crash_after_create = SimulatedCrash()
    crashed = receive_event(stack.processing_queue_url)
    with pytest.raises(SimulatedCrash):
        orchestrator(crashed, FakeLambdaContext())
    orphan = mediaconvert.jobs[0]
    assert repo().get(asset_id)["status"] == AssetStatus.PENDING

    assert apply(mediaconvert, context, orphan, "ERROR", errorCode=1999) == ["retry scheduled"]
    [retry] = [c for c in stack.calls("SendMessage") if "retry-job" in c["MessageBody"]]
    later(monkeypatch, mediaconvert, minutes=2)  # the retry's delay has passed
    sqs().purge_queue(QueueUrl=stack.processing_queue_url)
    send(stack.processing_queue_url, retry["MessageBody"])
    assert invoke(orchestrator, stack.processing_queue_url, context) == {"batchItemFailures": []}

    orphan_format = orphan.metadata["mediapipeFormat"]
    second = mediaconvert.job_for(asset_id, orphan_format, attempt=2)
    item = repo().get(asset_id)
    assert item["formatStatus"][orphan_format]["status"] == JobState.SUBMITTED
    assert item["status"] == AssetStatus.PROCESSING

    # The crashed upload message returns: the other format gets its job, nothing twice.
    send(stack.processing_queue_url, body)
    assert invoke(orchestrator, stack.processing_queue_url, context) == {"batchItemFailures": []}
    for job_format in FORMATS:
        attempt = 2 if job_format == orphan_format else 1
        job = mediaconvert.job_for(asset_id, job_format, attempt=attempt)
        assert apply(mediaconvert, context, job, "COMPLETE") == ["complete"]
    assert repo().get(asset_id)["status"] == AssetStatus.SUCCEEDED
    assert second.id in repo().get(asset_id)["jobIds"]


def test_a_reopen_resubmits_every_format_that_did_not_finish(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """mp4 fails for good (the asset FAILS, cmaf is canceled); a redrive of mp4's failure
    must bring cmaf back too, not only mp4."""
    asset_id = processing_asset(stack, context)
    cmaf, mp4 = (mediaconvert.job_for(asset_id, f) for f in FORMATS)
    assert apply(mediaconvert, context, mp4, "ERROR", errorCode=1010) == ["failed"]
    item = repo().get(asset_id)
    assert (item["status"], item["failureKind"]) == (AssetStatus.FAILED, "JOB_FAILED")
    assert [c["Id"] for _, c in mediaconvert.calls if _ == "CancelJob"] == [cmaf.id]
    assert cmaf.status == "CANCELED"
    assert apply(mediaconvert, context, cmaf, "CANCELED") == ["stale"]  # recorded already
    item = repo().get(asset_id)
    assert item["formatStatus"]["cmaf"]["status"] == JobState.CANCELED
    assert (item["status"], item["failureKind"]) == (AssetStatus.FAILED, "JOB_FAILED")

    [notice] = [m for m in dead_letters(stack) if COMMAND_JOB_FAILED in m["Body"]]
    assert notice["MessageId"] in repo().get(asset_id)["deadLetters"]
    send(stack.processing_queue_url, notice["Body"])  # the operator's redrive
    assert invoke(orchestrator, stack.processing_queue_url, context) == {"batchItemFailures": []}

    item = repo().get(asset_id)
    assert item["status"] == AssetStatus.PROCESSING
    for job_format in FORMATS:
        job = mediaconvert.job_for(asset_id, job_format, attempt=2)
        assert apply(mediaconvert, context, job, "COMPLETE") == ["complete"]
    item = repo().get(asset_id)
    assert item["status"] == AssetStatus.SUCCEEDED and "failureKind" not in item


def test_a_retry_of_a_failed_asset_waits_for_the_reopen_and_is_not_lost(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asset_id = processing_asset(stack, context)
    cmaf, mp4 = (mediaconvert.job_for(asset_id, f) for f in FORMATS)
    mediaconvert.failures["CancelJob"] = [RuntimeError("cancel lost")]  # cmaf keeps running
    assert apply(mediaconvert, context, mp4, "ERROR", errorCode=1010) == ["failed"]
    assert apply(mediaconvert, context, cmaf, "ERROR", errorCode=1999) == ["retry scheduled"]
    [retry] = [c for c in stack.calls("SendMessage") if "retry-job" in c["MessageBody"]]
    later(monkeypatch, mediaconvert, minutes=2)
    sqs().purge_queue(QueueUrl=stack.processing_queue_url)
    send(stack.processing_queue_url, retry["MessageBody"])
    assert invoke(orchestrator, stack.processing_queue_url, context) == {"batchItemFailures": []}
    assert repo().get(asset_id)["formatStatus"]["cmaf"]["status"] == JobState.RETRY_SCHEDULED

    [notice] = [m for m in dead_letters(stack) if COMMAND_JOB_FAILED in m["Body"]]
    send(stack.processing_queue_url, notice["Body"])
    assert invoke(orchestrator, stack.processing_queue_url, context) == {"batchItemFailures": []}
    assert mediaconvert.job_for(asset_id, "cmaf", attempt=2)
    assert mediaconvert.job_for(asset_id, "mp4", attempt=2)


# ---------------------------------------------------------------------------- settling


def test_all_jobs_complete_while_the_asset_failed_transiently_ends_succeeded_on_redrive(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
) -> None:
    """Marking PROCESSING fails on every receive (a DynamoDB 500), the message ends in the
    DLQ (TRANSIENT_EXHAUSTED) while both jobs COMPLETE; the redrive must finish the asset."""
    body = s3_event()
    asset_id = asset_id_of(body)
    fail_dynamodb_update(runtime, sets_processing, times=6)
    send(stack.processing_queue_url, body)
    for _ in range(6):
        event = receive_event(stack.processing_queue_url)
        response = orchestrator(event, context)
        finish_batch(stack.processing_queue_url, event, response)
        make_visible(stack.processing_queue_url, event, response)
    item = repo().get(asset_id)
    assert (item["status"], item["failureKind"]) == (AssetStatus.FAILED, "TRANSIENT_EXHAUSTED")
    for job_format in FORMATS:
        job = mediaconvert.job_for(asset_id, job_format)
        apply(mediaconvert, context, job, "COMPLETE")
    assert repo().get(asset_id)["status"] == AssetStatus.FAILED

    assert receive_event(stack.processing_queue_url)["Records"] == []  # moved to the DLQ
    [dead] = dead_letters(stack)
    assert dead["MessageId"] in repo().get(asset_id)["deadLetters"]
    send(stack.processing_queue_url, dead["Body"])  # redrive
    assert invoke(orchestrator, stack.processing_queue_url, context) == {"batchItemFailures": []}
    item = repo().get(asset_id)
    assert item["status"] == AssetStatus.SUCCEEDED
    assert item["finalNotifiedAt"] and "outbox" not in item
    assert len(mediaconvert.jobs) == len(FORMATS)


def test_an_asset_that_fails_for_good_cancels_its_other_running_jobs(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    asset_id = processing_asset(stack, context)
    cmaf, mp4 = (mediaconvert.job_for(asset_id, f) for f in FORMATS)
    apply(mediaconvert, context, cmaf, "PROGRESSING")
    assert apply(mediaconvert, context, mp4, "ERROR", errorCode=1040) == ["failed"]
    assert cmaf.status == "CANCELED"
    assert [p["Id"] for name, p in mediaconvert.calls if name == "CancelJob"] == [cmaf.id]


# ---------------------------------------------------------------------------- crashes


def test_a_message_that_kills_the_process_every_time_ends_failed_and_spares_its_neighbours(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    killer = s3_event()
    neighbour = s3_event("object_created_copy.json")
    killer_input = working_copy_uri(killer)
    probe = mediaconvert.probe

    def dying_probe(**request: Any) -> dict[str, Any]:
        if request["InputFiles"][0]["FileUrl"] == killer_input:
            raise SimulatedCrash("out of memory")
        return probe(**request)

    monkeypatch.setattr(mediaconvert, "probe", dying_probe)
    send(stack.processing_queue_url, killer)
    send(stack.processing_queue_url, neighbour)
    for _ in range(6):  # Lambda retries the whole batch after each crash
        event = receive_event(stack.processing_queue_url)
        if not event["Records"]:
            break
        try:
            response = orchestrator(event, FakeLambdaContext())
        except SimulatedCrash:
            make_visible(
                stack.processing_queue_url,
                event,
                {
                    "batchItemFailures": [
                        {"itemIdentifier": r["messageId"]} for r in event["Records"]
                    ]
                },
            )
            continue
        finish_batch(stack.processing_queue_url, event, response)
        assert failed_ids(response) == []

    item = repo().get(asset_id_of(killer))
    assert (item["status"], item["failureKind"]) == (AssetStatus.FAILED, "HANDLER_CRASHED")
    assert "ended the handler" in item["errors"][-1]["message"]
    [parked] = dead_letters(stack)
    assert parked["MessageId"] in item["deadLetters"]
    assert json.loads(parked["Body"])["detail"]["object"]["key"] == "uploads/alice/holiday.mp4"
    assert repo().get(asset_id_of(neighbour))["status"] == AssetStatus.PROCESSING
    assert receive_event(stack.processing_queue_url)["Records"] == []


def test_a_record_is_not_started_when_the_invocation_is_nearly_out_of_time(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert
) -> None:
    body = s3_event()
    send(stack.processing_queue_url, body)
    event = receive_event(stack.processing_queue_url)
    response = orchestrator(event, FakeLambdaContext(remaining_ms=5_000))
    assert len(failed_ids(response)) == 1
    assert repo().get(asset_id_of(body)) is None and mediaconvert.calls == []
    assert stack.calls("ChangeMessageVisibility")[-1]["VisibilityTimeout"] == 0
