"""ingest-orchestrator under crashes, races, poison messages, commands and redrives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from conftest import REPO, Stack
from handler_delivery import (
    drain,
    failed_ids,
    finish_batch,
    invoke,
    make_visible,
    receive_event,
    send,
    split_output,
)
from handler_fakes import (
    REGION,
    FakeLambdaContext,
    FakeMediaConvert,
    SimulatedCrash,
    client_error,
    load_event,
)
from mediapipe_handlers import clock
from mediapipe_handlers.environment import ConfigurationError
from mediapipe_handlers.ingest_orchestrator import handler
from mediapipe_handlers.messages import COMMAND_JOB_FAILED, COMMAND_RETRY_JOB, command_body
from mediapipe_handlers.repository import FailureKind, JobState, error_entry
from test_ingest_orchestrator import FORMATS, asset_id_of, repo, s3_event, stored_upload

from mediapipe_cfn.contract import AssetStatus, Env


def later(monkeypatch: pytest.MonkeyPatch, mediaconvert: FakeMediaConvert, minutes: int) -> None:
    """Move the handlers' clock and the service's clock forward."""
    moment = datetime.now(UTC) + timedelta(minutes=minutes)
    monkeypatch.setattr(clock, "utc_now", lambda: moment)
    mediaconvert.now = lambda: moment


def redeliver(stack: Stack, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The visibility timeout of an unfinished invocation elapsed: the message is back."""
    for record in event["Records"]:
        boto3.client("sqs", region_name=REGION).change_message_visibility(
            QueueUrl=stack.processing_queue_url,
            ReceiptHandle=record["receiptHandle"],
            VisibilityTimeout=0,
        )
    return invoke(handler, stack.processing_queue_url, context)


def test_crash_after_create_job_resumes_without_submitting_twice(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event_body = s3_event()
    send(stack.processing_queue_url, event_body)
    mediaconvert.crash_after_create = SimulatedCrash()
    crashed = receive_event(stack.processing_queue_url)
    with pytest.raises(SimulatedCrash):
        handler(crashed, FakeLambdaContext(remaining_ms=30_000))
    asset_id = asset_id_of(event_body)
    stuck = repo().get(asset_id)
    assert stuck["status"] == AssetStatus.PENDING
    assert stuck["formatStatus"]["cmaf"]["status"] == JobState.SUBMITTING
    orphan = mediaconvert.jobs[0]

    later(monkeypatch, mediaconvert, minutes=10)  # past the lease and the token window
    assert redeliver(stack, crashed, FakeLambdaContext()) == {"batchItemFailures": []}

    item = repo().get(asset_id)
    assert item["status"] == AssetStatus.PROCESSING
    assert item["formatStatus"]["cmaf"]["jobId"] == orphan.id
    assert len(mediaconvert.jobs) == len(FORMATS), "the orphaned job was adopted, not repeated"
    assert sorted(item["jobIds"]) == sorted(j.id for j in mediaconvert.jobs)
    assert mediaconvert.submitted("SearchJobs")


def test_ambiguous_create_job_failure_is_checked_before_resubmitting(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mediaconvert.fail_next("CreateJob", client_error("InternalServerErrorException", "CreateJob"))
    send(stack.processing_queue_url, s3_event())
    event = receive_event(stack.processing_queue_url)
    response = handler(event, context)
    finish_batch(stack.processing_queue_url, event, response)
    assert len(failed_ids(response)) == 1
    item = repo().get(asset_id_of(s3_event()))
    assert item["formatStatus"]["cmaf"]["status"] == JobState.SUBMITTING
    assert "released" not in item["formatStatus"]["cmaf"]

    later(monkeypatch, mediaconvert, minutes=10)
    make_visible(stack.processing_queue_url, event, response)
    assert invoke(handler, stack.processing_queue_url, context) == {"batchItemFailures": []}
    assert mediaconvert.submitted("SearchJobs"), "looked for a job before submitting again"
    assert len(mediaconvert.jobs) == len(FORMATS)
    assert repo().get(asset_id_of(s3_event()))["status"] == AssetStatus.PROCESSING


def test_ambiguous_create_job_failure_is_resumed_by_the_next_receive_at_once(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    """The redelivery comes after the short backoff, while the failed receive's lease still
    runs: the claim is its own message's, so it takes over instead of acknowledging."""
    mediaconvert.fail_next("CreateJob", client_error("InternalServerErrorException", "CreateJob"))
    send(stack.processing_queue_url, s3_event())
    event = receive_event(stack.processing_queue_url)
    response = handler(event, context)
    finish_batch(stack.processing_queue_url, event, response)
    assert len(failed_ids(response)) == 1

    make_visible(stack.processing_queue_url, event, response)  # no clock change: lease live
    assert invoke(handler, stack.processing_queue_url, context) == {"batchItemFailures": []}
    item = repo().get(asset_id_of(s3_event()))
    assert item["status"] == AssetStatus.PROCESSING
    assert item["formatStatus"]["cmaf"]["status"] == JobState.SUBMITTED
    assert len(mediaconvert.jobs) == len(FORMATS)


def test_throttled_create_job_releases_its_claim_for_a_prompt_retry(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    mediaconvert.fail_next("CreateJob", client_error("TooManyRequestsException", "CreateJob"))
    send(stack.processing_queue_url, s3_event())
    event = receive_event(stack.processing_queue_url)
    response = handler(event, context)
    finish_batch(stack.processing_queue_url, event, response)
    assert repo().get(asset_id_of(s3_event()))["formatStatus"]["cmaf"]["released"] is True

    make_visible(stack.processing_queue_url, event, response)
    assert invoke(handler, stack.processing_queue_url, context) == {"batchItemFailures": []}
    assert not mediaconvert.submitted("SearchJobs"), "a released claim needs no job lookup"
    assert len(mediaconvert.jobs) == len(FORMATS)


def test_overlapping_deliveries_wait_for_a_live_claim_and_take_over_a_dead_one(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = s3_event()
    asset_id = asset_id_of(body)
    first = FakeLambdaContext(remaining_ms=600_000)
    # The first delivery planned the asset and claimed cmaf, and is still running.
    mediaconvert.crash_after_create = SimulatedCrash()
    send(stack.processing_queue_url, body)
    with pytest.raises(SimulatedCrash):
        handler(receive_event(stack.processing_queue_url), first)
    mediaconvert.jobs.clear()  # as if its CreateJob had not happened yet

    # A duplicate S3 event arrives meanwhile: it submits what nobody claimed, and comes back
    # later rather than acknowledge an asset whose cmaf job nobody may ever submit.
    send(stack.processing_queue_url, {**body, "id": "another-event-id"})
    duplicate = receive_event(stack.processing_queue_url)
    response = handler(duplicate, context)
    finish_batch(stack.processing_queue_url, duplicate, response)
    assert len(failed_ids(response)) == 1
    item = repo().get(asset_id)
    assert item["status"] == AssetStatus.PROCESSING  # a job exists
    assert [j.metadata["mediapipeFormat"] for j in mediaconvert.jobs] == ["mp4"]
    logs, _ = split_output(capsys.readouterr().out)
    assert any(line["message"] == "another invocation is submitting this job" for line in logs)

    # The claimer never finishes: once its lease is over the duplicate takes the job over.
    later(monkeypatch, mediaconvert, minutes=15)
    make_visible(stack.processing_queue_url, duplicate, response)
    assert invoke(handler, stack.processing_queue_url, context) == {"batchItemFailures": []}
    item = repo().get(asset_id)
    assert sorted(j.metadata["mediapipeFormat"] for j in mediaconvert.jobs) == ["cmaf", "mp4"]
    assert {s["status"] for s in item["formatStatus"].values()} == {JobState.SUBMITTED}


def run_duplicate(stack: Stack, context: Any, body: dict[str, Any]) -> dict[str, Any]:
    duplicate = {**body, "id": "another-event-id"}
    send(stack.processing_queue_url, duplicate)
    return invoke(handler, stack.processing_queue_url, context)


def test_poison_message_cycles_into_the_dead_letter_queue_and_spares_the_batch(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    batch = load_event("sqs/batch_with_poison.json")
    for record in batch["Records"]:
        body = record["body"]
        if body.startswith("{") and "detail" in body:
            body = json.dumps(stored_upload(json.loads(body)))
        send(stack.processing_queue_url, body)
    event = receive_event(stack.processing_queue_url)
    response = handler(event, context)
    finish_batch(stack.processing_queue_url, event, response)
    [poison_id] = failed_ids(response)
    poison = next(r for r in event["Records"] if r["messageId"] == poison_id)
    assert poison["body"] == "{not json"
    assert stack.calls("ChangeMessageVisibility")[-1]["VisibilityTimeout"] == 0
    assert repo().get(asset_id_of(s3_event()))["status"] == AssetStatus.PROCESSING

    for _ in range(10):  # it is visible at once; each receive spends one of its six
        event = receive_event(stack.processing_queue_url)
        if not event["Records"]:
            break
        finish_batch(stack.processing_queue_url, event, handler(event, context))
    assert receive_event(stack.processing_queue_url)["Records"] == []
    dead = boto3.client("sqs", region_name=REGION).receive_message(
        QueueUrl=stack.dead_letter_queue_url
    )["Messages"]
    assert [m["Body"] for m in dead] == ["{not json"]


def _processing_asset(stack: Stack, context: Any) -> str:
    send(stack.processing_queue_url, s3_event())
    assert invoke(handler, stack.processing_queue_url, context) == {"batchItemFailures": []}
    return asset_id_of(s3_event())


def test_retry_command_resubmits_the_format_once(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    asset_id = _processing_asset(stack, context)
    first = mediaconvert.job_for(asset_id, "mp4")
    now = clock.now_iso()
    scheduled = repo().advance_format(
        asset_id,
        "mp4",
        attempt=1,
        state=JobState.RETRY_SCHEDULED,
        job_id=first.id,
        now=now,
        fields={"nextAttempt": 2, "errorCode": 1999},
    )
    assert scheduled is not None
    command = command_body(COMMAND_RETRY_JOB, asset_id, "mp4", 2, {"errorCode": 1999})
    send(stack.processing_queue_url, command)
    send(stack.processing_queue_url, command)  # duplicated delivery of the command
    for _ in range(2):
        assert invoke(handler, stack.processing_queue_url, context, 1) == {"batchItemFailures": []}

    retried = mediaconvert.job_for(asset_id, "mp4", attempt=2)
    assert retried.request["ClientRequestToken"] != first.request["ClientRequestToken"]
    state = repo().get(asset_id)["formatStatus"]["mp4"]
    assert (state["status"], state["attempt"], state["jobId"]) == ("SUBMITTED", 2, retried.id)
    assert len(mediaconvert.jobs) == len(FORMATS) + 1


def test_redriven_job_failure_reopens_the_asset_and_resubmits(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    asset_id = _processing_asset(stack, context)
    job = mediaconvert.job_for(asset_id, "cmaf")
    now = clock.now_iso()
    repo().advance_format(
        asset_id, "cmaf", attempt=1, state=JobState.ERROR, job_id=job.id, now=now,
        fields={"errorCode": 1432},
    )  # fmt: skip
    entry = error_entry("IAM role error", at=now, source="mediaconvert", code=1432)
    assert repo().mark_failed(asset_id, entry, FailureKind.JOB_FAILED, now) is not None

    notice = command_body(COMMAND_JOB_FAILED, asset_id, "cmaf", 1, {"jobId": job.id})
    send(stack.processing_queue_url, notice)
    assert invoke(handler, stack.processing_queue_url, context) == {"batchItemFailures": []}

    item = repo().get(asset_id)
    assert item["status"] == AssetStatus.PROCESSING
    assert "failureKind" not in item
    assert item["formatStatus"]["cmaf"]["attempt"] == 2
    assert mediaconvert.job_for(asset_id, "cmaf", attempt=2)


@pytest.mark.parametrize("config", [{"retry__maxReceiveCount": 1}], indirect=True)
def test_redriven_upload_reopens_an_asset_failed_by_transient_errors(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    mediaconvert.fail_next("Probe", client_error("InternalServerErrorException", "Probe"))
    send(stack.processing_queue_url, s3_event())
    assert len(failed_ids(invoke(handler, stack.processing_queue_url, context))) == 1
    asset_id = asset_id_of(s3_event())
    assert repo().get(asset_id)["failureKind"] == FailureKind.TRANSIENT_EXHAUSTED
    [dead] = drain(stack.events_observer_url)
    assert dead["detail-type"] == "MediaAsset Failed"

    send(stack.processing_queue_url, s3_event())  # an operator's redrive
    assert invoke(handler, stack.processing_queue_url, context) == {"batchItemFailures": []}
    item = repo().get(asset_id)
    assert (item["status"], item["attempts"]) == (AssetStatus.PROCESSING, 2)
    assert len(mediaconvert.jobs) == len(FORMATS)


def test_configuration_is_read_once_per_container(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    reads: list[str] = []
    runtime.clients.ssm.meta.events.register(
        "before-call.ssm.GetParameter", lambda **_: reads.append("GetParameter")
    )
    send(stack.processing_queue_url, s3_event())
    send(stack.processing_queue_url, s3_event("object_created_copy.json"))
    invoke(handler, stack.processing_queue_url, context, 1)
    invoke(handler, stack.processing_queue_url, context, 1)
    assert len(mediaconvert.jobs) == 2 * len(FORMATS)
    assert reads == ["GetParameter"]


def test_handlers_read_no_environment_and_create_no_client_at_import() -> None:
    code = (
        "import mediapipe_handlers.ingest_orchestrator, mediapipe_handlers.job_status_processor\n"
        "from mediapipe_handlers import runtime\n"
        "assert runtime._current is None\n"
        "import sys; print('boto3.session' in sys.modules and 'ok')\n"
    )
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "handlers")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_missing_environment_is_named_in_one_error(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, context: Any
) -> None:
    from mediapipe_handlers import runtime as runtime_module

    runtime_module.reset_runtime()
    monkeypatch.delenv(str(Env.TABLE_NAME))
    monkeypatch.delenv(str(Env.KMS_KEY_ARN))
    with pytest.raises(ConfigurationError, match="MEDIAPIPE_KMS_KEY_ARN, MEDIAPIPE_TABLE_NAME"):
        handler({"Records": []}, context)
    runtime_module.reset_runtime()


def test_object_deleted_events_are_not_uploads(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    send(stack.processing_queue_url, json.dumps(load_event("s3/object_deleted.json")))
    event = receive_event(stack.processing_queue_url)
    response = handler(event, context)
    assert len(failed_ids(response)) == 1
    assert mediaconvert.calls == []
