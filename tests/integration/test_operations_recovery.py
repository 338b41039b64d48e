"""Retry and redrive against the pipeline in moto, followed through the handlers to the end.

A retried asset reaches SUCCEEDED; sending a retry twice submits no job twice; a redrive moves
every message of a dead-letter queue and loses none, and a message it could not deliver stays.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from operations_harness import KEYS, POISON, Operator, populate

from mediapipe_cfn.operations.aws import Aws
from mediapipe_cfn.operations.handler_code import handler_module

pytestmark = pytest.mark.integration


def _jobs_per_attempt(operator: Operator) -> Counter[tuple[str, str, str]]:
    return Counter(
        (
            j.metadata["mediapipeAssetId"],
            j.metadata["mediapipeFormat"],
            j.metadata["mediapipeAttempt"],
        )
        for j in operator.pipeline.mediaconvert.jobs
    )


def test_retry_reopens_failed_assets_through_the_queue_and_one_reaches_succeeded(
    operator: Operator,
) -> None:
    populate(operator)
    pipeline = operator.pipeline
    ids = {name: operator.asset_id(name) for name in KEYS}
    waiting = operator.queue_bodies(pipeline.queue_url)  # the PENDING asset's upload

    chosen = [ids[n] for n in ("throttled", "job_failed", "invalid", "succeeded")]
    plan = operator.json("assets", "retry", *chosen, "--dry-run", expect=1)
    actions = {row["assetId"]: row["action"] for row in plan["assets"]}
    assert actions == {
        ids["throttled"]: "reopen",
        ids["job_failed"]: "reopen",
        ids["invalid"]: None,
        ids["succeeded"]: None,
    }
    assert plan["dryRun"] and all(row["sent"] is None for row in plan["assets"])
    assert operator.queue_bodies(pipeline.queue_url) == waiting, "a dry run sends nothing"
    # The message is one the orchestrator parses as the redriven job-failed notice it handles.
    messages = handler_module("messages")
    for row in plan["assets"]:
        if row["message"]:
            parsed = messages.parse_queue_message(row["message"])
            assert parsed.command == messages.COMMAND_JOB_FAILED
            assert parsed.asset_id == row["assetId"]
    explained = {row["assetId"]: row["explanation"] for row in plan["assets"]}
    assert "INVALID_UPLOAD" in explained[ids["invalid"]]
    assert "nothing to retry" in explained[ids["succeeded"]]

    # Sent twice (an operator repeating the command): idempotent in the orchestrator.
    first = operator.json("assets", "retry", ids["throttled"], ids["job_failed"])
    assert all(row["sent"] for row in first["assets"])
    operator.json("assets", "retry", ids["throttled"], ids["job_failed"])
    assert len(operator.queue_bodies(pipeline.queue_url)) == len(waiting) + 4
    pipeline.run_until_quiet()

    throttled = pipeline.asset(KEYS["throttled"])
    assert throttled["status"] == "SUCCEEDED" and throttled["attempts"] == 2
    assert pipeline.asset(KEYS["pending"])["status"] == "SUCCEEDED"
    broken = pipeline.asset(KEYS["job_failed"])  # its mp4 fails on every attempt
    assert broken["status"] == "FAILED" and broken["formatStatus"]["mp4"]["attempt"] == 2
    per_attempt = _jobs_per_attempt(operator)
    assert set(per_attempt.values()) == {1}, "never two jobs for one attempt"
    assert per_attempt[(ids["job_failed"], "mp4", "2")] == 1
    shown = operator.json("assets", "show", ids["throttled"])
    assert shown["record"]["status"] == "SUCCEEDED" and shown["messages"] == []


def test_retry_drives_a_stuck_asset_without_submitting_again(operator: Operator) -> None:
    populate(operator)
    pipeline = operator.pipeline
    stuck = operator.asset_id("processing")
    jobs_before = [
        j.id for j in pipeline.mediaconvert.jobs if j.metadata["mediapipeAssetId"] == stuck
    ]
    fresh = operator.json("assets", "retry", stuck, "--stuck-after", "1d", expect=1)
    assert fresh["assets"][0]["action"] is None
    assert "still in progress" in fresh["assets"][0]["explanation"]
    nudged = operator.json("assets", "retry", stuck, "--stuck-after", "1h")
    [row] = nudged["assets"]
    assert row["action"] == "nudge"
    parsed = handler_module("messages").parse_queue_message(row["message"])
    assert parsed.command == "reconcile" and parsed.format == "*"
    pipeline.run_until_quiet()
    # Its jobs are still running at MediaConvert: driven forward, nothing was submitted again.
    assert pipeline.asset(KEYS["processing"])["status"] == "PROCESSING"
    jobs = [j.id for j in pipeline.mediaconvert.jobs if j.metadata["mediapipeAssetId"] == stuck]
    assert jobs == jobs_before


def test_redrive_moves_every_message_and_loses_none(operator: Operator) -> None:
    populate(operator)
    pipeline = operator.pipeline
    dead = operator.queue_bodies(pipeline.dlq_url)
    waiting = operator.queue_bodies(pipeline.queue_url)
    assert len(dead) == 3 and POISON in dead

    result = operator.run("dlq", "redrive", "--json")
    report = json.loads(result.stdout)
    # moto has no StartMessageMoveTask: the per-message path moved them.
    assert "not available here" in result.stderr and "moved 3 of 3" in result.stderr
    assert report["method"] == "per-message"
    assert (report["moved"], report["skipped"], report["remaining"]) == (3, 0, 0)
    assert operator.queue_bodies(pipeline.dlq_url) == []
    assert operator.queue_bodies(pipeline.queue_url) == sorted(waiting + dead)

    pipeline.run_until_quiet()
    assert pipeline.asset(KEYS["throttled"])["status"] == "SUCCEEDED"
    # The poison fails again and comes back; the broken upload's new failure is parked again.
    pipeline.clock.advance(3600)  # past the time a reconciler run hides what it read
    back = operator.queue_bodies(pipeline.dlq_url)
    assert POISON in back and len(back) == 2


def test_redrive_never_deletes_a_message_it_could_not_send(
    operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(operator)
    pipeline = operator.pipeline
    dead = operator.queue_bodies(pipeline.dlq_url)
    waiting = operator.queue_bodies(pipeline.queue_url)

    def refuse_job_failures(params: dict[str, Any], **_: Any) -> None:
        if "job-failed" in params.get("MessageBody", ""):
            raise ClientError(
                {"Error": {"Code": "ServiceUnavailable", "Message": "injected"}}, "SendMessage"
            )

    def sqs_client(region: str) -> Any:
        client = pipeline.stack.session.client("sqs", region_name=region)
        client.meta.events.register("provide-client-params.sqs.SendMessage", refuse_job_failures)
        return client

    monkeypatch.setattr(Aws, "overrides", {**Aws.overrides, "sqs": sqs_client})
    report = operator.json("dlq", "redrive", "--method", "per-message", expect=1)
    assert (report["moved"], report["skipped"], report["remaining"]) == (2, 1, 1)
    assert "ServiceUnavailable" in report["problems"][0]
    [kept] = operator.queue_bodies(pipeline.dlq_url)
    assert "job-failed" in kept
    assert operator.queue_bodies(pipeline.queue_url) == sorted(
        waiting + [body for body in dead if body != kept]
    )


def _failed_invocation_record(event: dict[str, Any], function_arn: str) -> dict[str, Any]:
    """What Lambda's on-failure destination puts on the queue for an asynchronous invocation."""
    return {
        "version": "1.0",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "requestContext": {
            "requestId": "0c1f0a43-2b3e-4d49-8a0e-6ea6f1f0f5b1",
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorMessage": "Rate exceeded",
            "errorType": "ProvisionedThroughputExceededException",
        },
    }


def test_redrive_replays_undelivered_events_and_failed_job_events(operator: Operator) -> None:
    populate(operator)
    pipeline = operator.pipeline
    sqs = pipeline.sqs
    events_dlq = operator.outputs["EventDeliveryDeadLetterQueueUrl"]
    status_dlq = operator.outputs["StatusProcessorFailureQueueUrl"]
    # An upload whose event EventBridge could not deliver: it lands in the events DLQ instead.
    before = set(operator.queue_bodies(pipeline.queue_url))
    pipeline.upload("uploads/jo/late.mp4")
    [upload_event] = set(operator.queue_bodies(pipeline.queue_url)) - before
    pipeline.drain(pipeline.queue_url)
    sqs.send_message(
        QueueUrl=events_dlq,
        MessageBody=upload_event,
        MessageAttributes={"ERROR_CODE": {"DataType": "String", "StringValue": "NO_PERMISSIONS"}},
    )
    # The stalled asset's jobs complete, but the status processor failed on both events.
    stalled = operator.asset_id("processing")
    for job in pipeline.mediaconvert.jobs:
        if job.metadata["mediapipeAssetId"] == stalled:
            event = pipeline.mediaconvert.job_event(job, "COMPLETE")
            record = _failed_invocation_record(event, operator.lambda_service.function_arn)
            sqs.send_message(QueueUrl=status_dlq, MessageBody=json.dumps(record))

    reports = {r["queue"]: r for r in operator.json("dlq", "show", "--queue", "events",
                                                     "--queue", "status", expect=1)}  # fmt: skip
    [undelivered] = reports["events"]["groups"]
    assert (undelivered["kind"], undelivered["reason"], undelivered["count"]) == (
        "upload-event", "NO_PERMISSIONS", 1
    )  # fmt: skip
    [failed] = reports["status"]["groups"]
    assert (failed["kind"], failed["count"], failed["assets"]) == ("job-event", 2, [stalled])
    assert failed["reason"] == "ProvisionedThroughputExceededException"

    events = operator.json("dlq", "redrive", "--queue", "events")
    status = operator.json("dlq", "redrive", "--queue", "status")
    assert (events["moved"], status["moved"]) == (1, 2)
    assert operator.queue_bodies(events_dlq) == [] and operator.queue_bodies(status_dlq) == []
    invoked = [json.loads(call["Payload"]) for _, call in operator.lambda_service.calls]
    assert sorted(e["detail"]["jobId"] for e in invoked) == sorted(
        j.id for j in pipeline.mediaconvert.jobs if j.metadata["mediapipeAssetId"] == stalled
    )
    pipeline.run_until_quiet()
    assert pipeline.asset("uploads/jo/late.mp4")["status"] == "SUCCEEDED"
    assert pipeline.asset(KEYS["processing"])["status"] == "SUCCEEDED"
