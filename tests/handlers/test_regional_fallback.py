"""The regional fallback: a circuit breaker sends jobs to a secondary region while the primary
keeps throttling CreateJob, the secondary's job events come back through the forwarding rule
the fallback template deploys, and the breaker closes once the primary recovers.

One fake MediaConvert per region; the forwarding path is modelled by checking each secondary
event against the fallback template's rule pattern (in the secondary region) and against the
pipeline's job-state rule pattern (in the primary region) with EventBridge's own matcher.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from conftest import MC_QUEUE_ARN, PIPELINE_ID, Stack
from handler_delivery import (
    drain,
    finish_batch,
    make_visible,
    metric_values,
    receive_event,
    send,
    split_output,
)
from handler_fakes import ACCOUNT, REGION, FakeMediaConvert, SimulatedCrash, client_error
from mediapipe_handlers import clock
from mediapipe_handlers.breaker import BreakerState, CircuitBreaker
from mediapipe_handlers.ingest_orchestrator import handler as orchestrator
from mediapipe_handlers.job_status_processor import handler as status_processor
from mediapipe_handlers.reconciler import handler as reconciler
from mediapipe_handlers.routing import FALLBACK_QUEUE, FallbackRule
from test_capacity_routing import CAPACITY_TABLE, ledger, routed  # noqa: F401
from test_ingest_orchestrator import asset_id_of, repo, s3_event

from mediapipe_cfn.capacity import capacity_runtime_config
from mediapipe_cfn.components.events import job_state_event_pattern
from mediapipe_cfn.contract import AssetStatus
from mediapipe_cfn.profile.model import Profile

SECONDARY = "us-west-2"
SECONDARY_QUEUE = f"arn:aws:mediaconvert:{SECONDARY}:{ACCOUNT}:queues/Default"
OPEN_AFTER, OPEN_SECONDS = 2, 300
CAPACITY = {
    "fallback": {
        "region": SECONDARY,
        "in_flight_budget": 10,
        "open_after_failures": OPEN_AFTER,
        "failure_window_seconds": 120,
        "open_seconds": OPEN_SECONDS,
    }
}


def fallback_document() -> dict[str, Any]:
    profile = Profile.model_validate({"capacity": CAPACITY})
    assert profile.capacity is not None
    return {**capacity_runtime_config(profile.capacity), "fullRetrySeconds": 0}


WITH_FALLBACK = pytest.mark.parametrize(
    "config", [{"capacity": fallback_document()}], indirect=True
)


class Clock:
    """The handlers' clock, moved forward by the test (the breaker's open period)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def time(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moment = Clock()
    monkeypatch.setattr(clock, "utc_now", moment)
    return moment


@pytest.fixture
def secondary(routed: Any, time: Clock) -> FakeMediaConvert:  # noqa: F811
    fake = FakeMediaConvert(queue_arn=SECONDARY_QUEUE, region=SECONDARY, now=time)
    routed.clients.regional_mediaconvert[SECONDARY] = fake
    return fake


def throttled() -> Exception:
    return client_error("TooManyRequestsException", "CreateJob", "Too many requests")


def matches(region: str, pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether a rule with ``pattern`` on ``region``'s default bus takes ``event`` (moto's
    EventBridge matches the pattern and delivers to an observer queue)."""
    name = f"fallback-pattern-{abs(hash(json.dumps(pattern, sort_keys=True))) % 10**8}"
    sqs = boto3.client("sqs", region_name=region)
    events = boto3.client("events", region_name=region)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule=name, Targets=[{"Id": "observer", "Arn": f"arn:aws:sqs:{region}:{ACCOUNT}:{name}"}]
    )
    events.put_events(
        Entries=[
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
            }
        ]
    )
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for message in received:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return any(json.loads(m["Body"])["detail"] == event["detail"] for m in received)


def forwarded(event: dict[str, Any]) -> dict[str, Any]:
    """The fallback region's rule forwards the event to the primary's default bus, unchanged;
    the pipeline's job-state rule there must take it."""
    assert event["region"] == SECONDARY
    assert matches(SECONDARY, job_state_event_pattern(PIPELINE_ID), event)
    assert matches(REGION, job_state_event_pattern(PIPELINE_ID), event)
    return event


def deliver_all(stack: Stack, context: Any) -> None:
    """The processing queue's messages until none is visible; failed ones come back at once."""
    for _ in range(50):
        event = receive_event(stack.processing_queue_url)
        if not event["Records"]:
            return
        response = orchestrator(event, context)
        finish_batch(stack.processing_queue_url, event, response)
        make_visible(stack.processing_queue_url, event, response)
    raise AssertionError("the processing queue never emptied")


def finish_all(fake: FakeMediaConvert, context: Any, via: Any = lambda e: e) -> int:
    finished = 0
    for job in fake.jobs:
        if job.status == "SUBMITTED":
            fake.finish(job, "COMPLETE")
            for status in ("PROGRESSING", "COMPLETE"):
                status_processor(via(fake.job_event(job, status)), context)
            finished += 1
    return finished


def open_the_breaker(
    mediaconvert: FakeMediaConvert, stack: Stack, context: Any, throttles: int = OPEN_AFTER
) -> None:
    """The primary throttles ``throttles`` CreateJobs of one upload: the breaker opens."""
    mediaconvert.fail_next("CreateJob", *[throttled() for _ in range(throttles)])
    send(stack.processing_queue_url, s3_event(key="uploads/alice/first.mp4"))
    deliver_all(stack, context)
    assert breaker_state() is BreakerState.OPEN


def breaker_state() -> BreakerState:
    policy = FallbackRule.parse(fallback_document()["fallback"], MC_QUEUE_ARN).policy
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    return CircuitBreaker(dynamodb, CAPACITY_TABLE, policy).load().state


@WITH_FALLBACK
def test_persistent_throttling_opens_the_breaker_jobs_go_to_the_secondary_and_come_back(
    routed: Any,  # noqa: F811
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    secondary: FakeMediaConvert,
    time: Clock,
    context: Any,
    capsys: Any,
) -> None:
    mediaconvert.now = time
    mediaconvert.fail_next("CreateJob", *[throttled() for _ in range(OPEN_AFTER)])
    events = [s3_event(key=f"uploads/alice/clip-{i}.mp4") for i in range(3)]
    for event in events:
        send(stack.processing_queue_url, event)
    deliver_all(stack, context)

    # Two throttled CreateJobs opened the breaker; every job then went to the secondary region.
    assert breaker_state() is BreakerState.OPEN
    assert mediaconvert.jobs == []
    assert {job.request["Queue"] for job in secondary.jobs} == {SECONDARY_QUEUE}
    ids = [asset_id_of(event) for event in events]
    for asset_id in ids:
        states = repo().get(asset_id)["formatStatus"].values()
        assert {state.get("region") for state in states} == {SECONDARY}
    # The secondary's events come back through the forwarding rule; the assets finish.
    assert finish_all(secondary, context, via=forwarded) == len(secondary.jobs)
    assert [repo().get(a)["status"] for a in ids] == [AssetStatus.SUCCEEDED] * 3
    assert ledger().holders(FALLBACK_QUEUE) == {}
    _, metrics = split_output(capsys.readouterr().out)
    assert metric_values(metrics, "FallbackActivations", Pipeline=PIPELINE_ID) == [1]

    # After the open period, one job probes the primary, which has recovered: the breaker
    # closes and later jobs stay in the primary region.
    time.now += timedelta(seconds=OPEN_SECONDS + 1)
    later = [s3_event(key=f"uploads/alice/later-{i}.mp4") for i in range(2)]
    for event in later:
        send(stack.processing_queue_url, event)
    deliver_all(stack, context)
    assert breaker_state() is BreakerState.CLOSED
    assert {job.request["Queue"] for job in mediaconvert.jobs} == {MC_QUEUE_ARN}
    assert finish_all(mediaconvert, context) == len(mediaconvert.jobs)
    every = ids + [asset_id_of(event) for event in later]
    assert [repo().get(a)["status"] for a in every] == [AssetStatus.SUCCEEDED] * 5
    # Nothing lost, nothing submitted twice across the two regions.
    jobs = Counter(
        (job.metadata["mediapipeAssetId"], job.metadata["mediapipeFormat"])
        for job in [*mediaconvert.jobs, *secondary.jobs]
    )
    assert set(jobs.values()) == {1}
    assert {asset for asset, _ in jobs} == set(every)
    assert drain(stack.processing_queue_url) == []


@WITH_FALLBACK
def test_a_failed_probe_opens_the_breaker_again(
    routed: Any,  # noqa: F811
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    secondary: FakeMediaConvert,
    time: Clock,
    context: Any,
) -> None:
    open_the_breaker(mediaconvert, stack, context, throttles=OPEN_AFTER + 1)
    time.now += timedelta(seconds=OPEN_SECONDS + 1)
    send(stack.processing_queue_url, s3_event(key="uploads/alice/b.mp4"))
    deliver_all(stack, context)
    # The probe was throttled: open again, and the job went to the secondary after all.
    assert breaker_state() is BreakerState.OPEN
    assert mediaconvert.jobs == []
    assert len(secondary.jobs) == 4  # two assets, two formats each


@WITH_FALLBACK
def test_a_crash_after_create_job_in_the_secondary_is_taken_over_without_a_second_job(
    routed: Any,  # noqa: F811
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    secondary: FakeMediaConvert,
    time: Clock,
    context: Any,
) -> None:
    from test_ingest_recovery import redeliver

    open_the_breaker(mediaconvert, stack, context)
    event = s3_event(key="uploads/alice/crash.mp4")
    send(stack.processing_queue_url, event)
    batch = receive_event(stack.processing_queue_url)
    secondary.crash_after_create = SimulatedCrash("killed after CreateJob")
    with pytest.raises(SimulatedCrash):
        orchestrator(batch, context)
    asset_id = asset_id_of(event)
    assert len([j for j in secondary.jobs if j.metadata["mediapipeAssetId"] == asset_id]) == 1

    # The primary recovered meanwhile and the breaker closed again: the later delivery must
    # still find the job in the secondary region instead of submitting one in the primary.
    time.now += timedelta(seconds=OPEN_SECONDS + 1)
    redeliver(stack, batch, context)
    assert SECONDARY_QUEUE in {call["Queue"] for call in secondary.submitted("SearchJobs")}
    ours = [
        job
        for job in [*mediaconvert.jobs, *secondary.jobs]
        if job.metadata["mediapipeAssetId"] == asset_id
    ]
    # One job per format across both regions; the crashed submission's stays the only one.
    assert len(ours) == len({job.metadata["mediapipeFormat"] for job in ours})
    [crashed] = [job for job in secondary.jobs if job.metadata["mediapipeAssetId"] == asset_id]
    state = repo().get(asset_id)["formatStatus"][crashed.metadata["mediapipeFormat"]]
    assert state["jobId"] == crashed.id and state["region"] == SECONDARY


@WITH_FALLBACK
def test_the_reconciler_reads_a_fallback_job_in_its_region(
    routed: Any,  # noqa: F811
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    secondary: FakeMediaConvert,
    time: Clock,
    context: Any,
) -> None:
    mediaconvert.fail_next("CreateJob", *[throttled() for _ in range(OPEN_AFTER)])
    event = s3_event(key="uploads/alice/lost-events.mp4")
    send(stack.processing_queue_url, event)
    deliver_all(stack, context)
    asset_id = asset_id_of(event)
    assert secondary.jobs
    # The forwarded events are lost; the jobs finish all the same.
    for job in secondary.jobs:
        secondary.finish(job, "COMPLETE")
    time.now += timedelta(hours=2)
    reconciler({"source": "aws.events", "detail-type": "Scheduled Event"}, context)
    assert {call["Id"] for call in secondary.submitted("GetJob")} == {
        job.id for job in secondary.jobs
    }
    assert mediaconvert.submitted("GetJob") == []
    assert repo().get(asset_id)["status"] == AssetStatus.SUCCEEDED
