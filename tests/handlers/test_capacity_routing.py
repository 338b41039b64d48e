"""Queue routing, job priorities and in-flight budgets (a profile with a capacity section).

A reserved queue of a few slots takes jobs first, up to its slots plus the backlog it may keep;
the rest spill over to the stack's on-demand queue; MP4 previews never use the reserved queue;
when every queue of a route is at its budget the asset is put off as a delayed message, and no
queue ever has more unfinished jobs than its budget.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import pytest
from conftest import MC_QUEUE_ARN, PIPELINE_ID, Stack
from handler_delivery import (
    drain,
    finish_batch,
    invoke,
    metric_values,
    receive_event,
    send,
    split_output,
)
from handler_fakes import ACCOUNT, REGION, FakeMediaConvert, SimulatedCrash, client_error
from mediapipe_handlers.budget import InFlightLedger, job_key
from mediapipe_handlers.ingest_orchestrator import handler as orchestrator
from mediapipe_handlers.job_status_processor import handler as status_processor
from mediapipe_handlers.reconciler import handler as reconciler
from test_ingest_orchestrator import asset_id_of, repo, s3_event

from mediapipe_cfn.capacity import capacity_runtime_config
from mediapipe_cfn.contract import AssetStatus, Env
from mediapipe_cfn.profile.model import Profile

CAPACITY_TABLE = "mediapipe-test-capacity"
RESERVED_ARN = f"arn:aws:mediaconvert:{REGION}:{ACCOUNT}:queues/reserved-ladder"
RESERVED_SLOTS, SPILL_BACKLOG, STACK_BUDGET = 2, 1, 4
BUDGETS = {RESERVED_ARN: RESERVED_SLOTS + SPILL_BACKLOG, MC_QUEUE_ARN: STACK_BUDGET}
CAPACITY = {
    "stack_queue_budget": STACK_BUDGET,
    "queues": {
        "reserved": {
            "arn": RESERVED_ARN,
            "reserved_slots": RESERVED_SLOTS,
            "spill_backlog": SPILL_BACKLOG,
        }
    },
    "routing": {"default": ["reserved", "stack"], "by_job_kind": {"mp4": ["stack"]}},
    "priority": {
        "by_job_kind": {"cmaf": 10, "mp4": -10},
        "uploader_classes": [{"name": "interactive", "uploaders": ["ali*"], "priority": 20}],
    },
}


def capacity_document(**changes: Any) -> dict[str, Any]:
    """The runtime configuration's capacity key, as the generator writes it from the profile."""
    profile = Profile.model_validate({"capacity": CAPACITY})
    assert profile.capacity is not None
    # Put-off assets come back at once here; a real profile waits full_retry_seconds (>= 10).
    return {**capacity_runtime_config(profile.capacity), "fullRetrySeconds": 0, **changes}


ROUTED = pytest.mark.parametrize("config", [{"capacity": capacity_document()}], indirect=True)


@pytest.fixture
def routed(stack: Stack, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Any:
    """The capacity table and its environment variable, then a fresh container."""
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=CAPACITY_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "queue", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "queue", "KeyType": "HASH"}],
    )
    monkeypatch.setenv(Env.CAPACITY_TABLE, CAPACITY_TABLE)
    return request.getfixturevalue("runtime")


def ledger() -> InFlightLedger:
    return InFlightLedger(boto3.client("dynamodb", region_name=REGION), CAPACITY_TABLE)


def unfinished(mediaconvert: FakeMediaConvert, queue_arn: str) -> int:
    return sum(
        job.request["Queue"] == queue_arn and job.status in ("SUBMITTED", "PROGRESSING")
        for job in mediaconvert.jobs
    )


def watch_budgets(mediaconvert: FakeMediaConvert, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Check every CreateJob against its queue's budget; the peaks seen, per call."""
    create = mediaconvert.create_job
    peaks: list[int] = []

    def create_within_budget(**request: Any) -> dict[str, Any]:
        queue = request["Queue"]
        assert unfinished(mediaconvert, queue) < BUDGETS[queue], f"{queue} is over its budget"
        answer = create(**request)
        peaks.append(unfinished(mediaconvert, queue))
        return answer

    monkeypatch.setattr(mediaconvert, "create_job", create_within_budget)
    return peaks


def deliver_waiting(stack: Stack, context: Any) -> None:
    """Lambda polls the processing queue: one batch, if any message is there."""
    event = receive_event(stack.processing_queue_url)
    if event["Records"]:
        response = orchestrator(event, context)
        assert response == {"batchItemFailures": []}
        finish_batch(stack.processing_queue_url, event, response)


def finish_oldest(mediaconvert: FakeMediaConvert, context: Any) -> bool:
    """MediaConvert finishes its oldest unfinished job and its events arrive; False if none."""
    for job in mediaconvert.jobs:
        if job.status == "SUBMITTED":
            mediaconvert.finish(job, "COMPLETE")
            for status in ("PROGRESSING", "COMPLETE"):
                status_processor(mediaconvert.job_event(job, status), context)
            return True
    return False


def burst(count: int) -> list[dict[str, Any]]:
    """``count`` uploads, alternating between an interactive uploader and a bulk one."""
    uploaders = ("alice", "backfill")
    return [s3_event(key=f"uploads/{uploaders[i % 2]}/clip-{i:02d}.mp4") for i in range(count)]


@ROUTED
def test_a_burst_fills_the_reserved_slots_spills_to_on_demand_and_stays_within_budgets(
    routed: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    peaks = watch_budgets(mediaconvert, monkeypatch)
    events = burst(6)
    for event in events:
        send(stack.processing_queue_url, event)
    # Nothing finishes yet: the budgets take 3 + 4 jobs, the rest is put off, again and again.
    for _ in range(3):
        assert invoke(orchestrator, stack.processing_queue_url, context) == {
            "batchItemFailures": []
        }
    first_wave = Counter(
        (j.metadata["mediapipeFormat"], j.request["Queue"]) for j in mediaconvert.jobs
    )
    # Each asset asks for its cmaf job, then its mp4 job: the reserved queue takes cmaf jobs up
    # to slots + backlog, previews go on demand, and the 4th cmaf job spills over on demand.
    assert first_wave == {
        ("cmaf", RESERVED_ARN): RESERVED_SLOTS + SPILL_BACKLOG,
        ("mp4", MC_QUEUE_ARN): 3,
        ("cmaf", MC_QUEUE_ARN): 1,
    }

    # MediaConvert works through its queues; every put-off asset is submitted as budget frees.
    for _ in range(200):
        deliver_waiting(stack, context)
        if not finish_oldest(mediaconvert, context):
            break
    assert drain(stack.processing_queue_url) == []

    ids = [asset_id_of(event) for event in events]
    assert [repo().get(asset_id)["status"] for asset_id in ids] == [AssetStatus.SUCCEEDED] * 6
    # One job per asset and format: nothing submitted twice, nothing lost.
    assert Counter(
        (j.metadata["mediapipeAssetId"], j.metadata["mediapipeFormat"]) for j in mediaconvert.jobs
    ) == {(a, f): 1 for a in ids for f in ("cmaf", "mp4")}
    assert all(
        job.request["Queue"] == MC_QUEUE_ARN
        for job in mediaconvert.jobs
        if job.metadata["mediapipeFormat"] == "mp4"
    )
    assert max(peaks) <= max(BUDGETS.values())
    # Every job's budget came back when it finished.
    assert ledger().holders("reserved") == {} and ledger().holders("stack") == {}
    _, metrics = split_output(capsys.readouterr().out)
    assert sum(metric_values(metrics, "CapacityWaits", Pipeline=PIPELINE_ID)) > 0


@ROUTED
def test_priority_adds_the_job_kind_and_the_uploader_class(
    routed: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    for event in burst(2):
        send(stack.processing_queue_url, event)
    assert invoke(orchestrator, stack.processing_queue_url, context) == {"batchItemFailures": []}
    priorities = {
        (
            request["UserMetadata"]["mediapipeAssetId"],
            request["UserMetadata"]["mediapipeFormat"],
        ): request["Priority"]
        for request in mediaconvert.submitted()
    }
    alice, backfill = (asset_id_of(event) for event in burst(2))
    assert priorities == {
        (alice, "cmaf"): 30,  # 0 + cmaf 10 + interactive 20
        (alice, "mp4"): 10,  # 0 - 10 + 20
        (backfill, "cmaf"): 10,
        (backfill, "mp4"): -10,
    }


@ROUTED
def test_a_refused_or_rejected_create_job_gives_its_budget_back(
    routed: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    mediaconvert.fail_next(
        "CreateJob",
        client_error("TooManyRequestsException", "CreateJob", "slow down"),
        client_error("BadRequestException", "CreateJob", "bad settings"),
    )
    send(stack.processing_queue_url, burst(1)[0])
    invoke(orchestrator, stack.processing_queue_url, context)
    # The throttled cmaf job and the rejected mp4 job hold nothing.
    assert ledger().holders("reserved") == {} and ledger().holders("stack") == {}


@ROUTED
def test_a_submission_interrupted_after_create_job_is_found_in_the_queue_it_chose(
    routed: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    from test_ingest_recovery import redeliver

    event = burst(1)[0]
    send(stack.processing_queue_url, event)
    batch = receive_event(stack.processing_queue_url)
    mediaconvert.crash_after_create = SimulatedCrash("killed after CreateJob")
    with pytest.raises(SimulatedCrash):
        orchestrator(batch, context)
    assert [job.request["Queue"] for job in mediaconvert.jobs] == [RESERVED_ARN]

    redeliver(stack, batch, context)
    asset_id = asset_id_of(event)
    # The stack's queue is searched too, and the job is found in the reserved one: not resubmitted.
    searched = {call["Queue"] for call in mediaconvert.submitted("SearchJobs")}
    assert RESERVED_ARN in searched
    assert Counter(j.metadata["mediapipeFormat"] for j in mediaconvert.jobs) == {
        "cmaf": 1,
        "mp4": 1,
    }
    assert repo().get(asset_id)["status"] == AssetStatus.PROCESSING
    assert set(ledger().holders("reserved")) == {job_key(asset_id, "cmaf", 1)}


@ROUTED
def test_the_reconciler_gives_back_budget_whose_job_no_longer_runs(
    routed: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    send(stack.processing_queue_url, burst(1)[0])
    assert invoke(orchestrator, stack.processing_queue_url, context) == {"batchItemFailures": []}
    running = set(ledger().holders("reserved")) | set(ledger().holders("stack"))
    # Budget whose release was lost: a crashed container's, for an asset long gone.
    ledger().take("stack", job_key("gone-asset", "cmaf", 1), STACK_BUDGET, "2020-01-01T00:00:00Z")
    lost = ledger().holders("stack")
    assert job_key("gone-asset", "cmaf", 1) in lost

    summary = reconciler({"source": "aws.events", "detail-type": "Scheduled Event"}, context)

    assert summary["budgetsRepaired"] == 1
    left = set(ledger().holders("reserved")) | set(ledger().holders("stack"))
    assert left == running  # running jobs keep theirs


def test_the_capacity_key_is_absent_without_a_capacity_section() -> None:
    from mediapipe_cfn.profile.loader import load_profile
    from mediapipe_cfn.runtime_config import runtime_config

    assert "capacity" not in runtime_config(load_profile("default"))
    assert json.dumps(capacity_document(), sort_keys=True)


@ROUTED
def test_budget_of_a_failed_assets_job_that_still_runs_is_kept_until_it_finishes(
    routed: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mediapipe_handlers.lifecycle import FailureKind
    from mediapipe_handlers.repository import error_entry
    from test_ingest_recovery import later

    event = burst(1)[0]
    send(stack.processing_queue_url, event)
    assert invoke(orchestrator, stack.processing_queue_url, context) == {"batchItemFailures": []}
    asset_id = asset_id_of(event)
    held = set(ledger().holders("reserved")) | set(ledger().holders("stack"))
    assert held == {job_key(asset_id, "cmaf", 1), job_key(asset_id, "mp4", 1)}
    # Failed by an operator's tool, say, without its jobs being canceled: they run on.
    entry = error_entry("failed from outside", at="2026-01-01T00:00:00Z", source="test")
    assert repo().mark_failed(asset_id, entry, FailureKind.JOB_FAILED, "2026-01-01T00:00:00Z")
    later(monkeypatch, mediaconvert, minutes=20)

    reconciler({"source": "aws.events", "detail-type": "Scheduled Event"}, context)
    assert set(ledger().holders("reserved")) | set(ledger().holders("stack")) == held

    for job in mediaconvert.jobs:
        mediaconvert.finish(job, "COMPLETE")  # their events never arrive
    summary = reconciler({"source": "aws.events", "detail-type": "Scheduled Event"}, context)
    assert summary["budgetsRepaired"] == 2
    assert ledger().holders("reserved") == {} and ledger().holders("stack") == {}
