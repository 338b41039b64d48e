"""A stateful property-based test: whatever happens, every upload ends final, exactly once.

Hypothesis drives the orchestrator, the status processor and the reconciler against moto (a
versioned uploads bucket, the processing queue with its dead-letter queue and maxReceiveCount,
the table with its indexes, the SSM configuration, an EventBridge observer) and the fake
MediaConvert, in random interleavings of: uploads, re-uploads of a key, deletes before
processing, duplicate S3 events, batches of any size, time passing (visibility timeouts,
delays, leases, the reconciler's deadline), crashes before and after any AWS call, answers
lost after the call was applied (the SDK retries it, as it does after a timeout), throttles
and 5xx answers, job progress to COMPLETE or to a retryable (1999) or permanent (1010) ERROR,
job events duplicated, reordered or lost, reconciler runs and operator redrives of the DLQ.

At every quiescent point (faults off; every message delivered, every job run to its end,
every event delivered, time moved past every deadline and the reconciler run, until nothing
changes) these must hold:

* every upload has exactly one record for its version, final; a FAILED one has errors and a
  failure kind, and the kind is one something in this run explains (SOURCE_MISSING: the key was
  deleted after the upload; JOB_FAILED: a job of the asset was made to fail; the fault kinds:
  faults were injected);
* every job of an asset read that asset's own uploaded bytes;
* at most one *billed* job per asset, format and attempt. Billed: the job reached COMPLETE, or
  was CANCELED after it had started PROGRESSING (a job that ERRORs, or is canceled while
  still queued, costs nothing);
* every message in the processing DLQ names an asset whose record is FAILED and lists it;
* every final asset was announced: outbox cleared, finalNotifiedAt set, manifest.json for a
  SUCCEEDED one, and its MediaAsset Processed/Failed event seen on the bus.

A second machine runs the same pipeline with a capacity section (jobs routed between two
queues of one job each): no CreateJob may give a queue more unfinished jobs than its budget, and
at every quiescent point no budget may still be held.

CI runs a bounded number of examples (``MEDIAPIPE_PROPERTY_EXAMPLES`` raises it);
benchmarks/property_search.py runs many more.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
from botocore.exceptions import ClientError
from conftest import (
    MAX_RECEIVE_COUNT,
    MC_QUEUE_ARN,
    OUTPUTS_BUCKET,
    PARAMETER,
    TABLE,
    UPLOADS_BUCKET,
    create_table,
    default_config,
    handler_environment,
)
from handler_delivery import failed_ids, finish_batch, receive_event
from handler_fakes import (
    ACCOUNT,
    REGION,
    FakeLambdaContext,
    FakeMediaConvert,
    SimulatedCrash,
    client_error,
    load_event,
)
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)
from moto import mock_aws

from mediapipe_cfn.contract import (
    EVENT_ASSET_FAILED,
    EVENT_ASSET_PROCESSED,
    FINAL_STATUSES,
    AssetStatus,
    Attr,
    Env,
)

EXAMPLES = int(os.environ.get("MEDIAPIPE_PROPERTY_EXAMPLES", "30"))
STEPS = int(os.environ.get("MEDIAPIPE_PROPERTY_STEPS", "30"))
KEYS = [f"uploads/alice/clip{n}.mp4" for n in range(3)]
# Long enough for every visibility timeout, delay, lease and the reconciler's deadline.
QUIET_SECONDS = 2000
MAX_SETTLE_ROUNDS = 12
MAX_INVOCATIONS_PER_ROUND = 60
# Lambda retries a failed asynchronous invocation twice; then the event is gone.
ASYNC_ATTEMPTS = 3
FAULT_KINDS = (
    "crash_before",
    "crash_after",
    "lost_answer",
    "throttle",
    "server_error",
    # Not a failure: another invocation runs to its end at this call boundary, so two
    # handlers overlap the way concurrent Lambda invocations do.
    "interleave_orchestrator",
    "interleave_job_event",
)
# Failure kinds that only injected faults can explain.
FAULT_FAILURE_KINDS = frozenset({"TRANSIENT_EXHAUSTED", "HANDLER_CRASHED", "DEAD_LETTERED"})
_THROTTLE = {
    "dynamodb": ("ThrottlingException", 400),
    "s3": ("SlowDown", 503),
    "sqs": ("RequestThrottled", 403),
    "events": ("ThrottlingException", 400),
    "sns": ("Throttling", 400),
    "ssm": ("ThrottlingException", 400),
}


# A fault that strikes within the step it comes with: (kind, countdown, repeat).
FAULTS = st.one_of(
    st.none(),
    st.tuples(st.sampled_from(FAULT_KINDS), st.integers(1, 20), st.integers(0, 6)),
)
Fault = tuple[str, int, int] | None


class Violation(AssertionError):
    """An invariant of the pipeline does not hold."""


def _error(code: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


# ---------------------------------------------------------------------------- time


class SimClock:
    """One clock for the handlers, the fake MediaConvert and moto's SQS."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def patches(self) -> list[Any]:
        import moto.sqs.models as sqs_models
        from mediapipe_handlers import clock

        real_seconds, real_millis = sqs_models.unix_time, sqs_models.unix_time_millis
        return [
            mock.patch.object(clock, "utc_now", self.now),
            # Only "now" moves; conversions of a given time stay exact.
            mock.patch.object(
                sqs_models,
                "unix_time",
                lambda *a: real_seconds(*a) + (0 if a else self.offset),
            ),
            mock.patch.object(
                sqs_models,
                "unix_time_millis",
                lambda *a: real_millis(*a) + (0 if a else self.offset * 1000),
            ),
        ]


# ---------------------------------------------------------------------------- faults


@dataclass
class FaultPlan:
    """At most one armed fault: it fires at the ``countdown``-th AWS call from now."""

    kind: str | None = None
    countdown: int = 0
    repeat: int = 0  # further calls a throttle storm or 5xx run also hits
    lost_pending: bool = False  # the call being made gets a lost answer
    crash_after_pending: bool = False
    fired: Counter[str] = field(default_factory=Counter)
    interleave: Callable[[str], None] | None = None  # runs another invocation

    def arm(self, kind: str, countdown: int, repeat: int) -> None:
        self.kind, self.countdown, self.repeat = kind, countdown, repeat

    def disarm(self) -> None:
        self.kind, self.lost_pending, self.crash_after_pending = None, False, False

    def before(self, service: str, operation: str) -> None:
        """Called before a call is applied; raises for a fault that hits it first."""
        if self.kind is None:
            return
        in_worker = threading.current_thread() is not threading.main_thread()
        if self.countdown > 1:
            self.countdown -= 1
            return
        kind = self.kind
        if kind.startswith("crash") and in_worker:
            return  # a worker thread cannot end the process; the next call on main can
        self.fired[kind] += 1
        if kind in ("throttle", "server_error"):
            if self.repeat > 0:
                self.repeat -= 1
            else:
                self.kind = None
            if kind == "throttle":
                code, status = _THROTTLE.get(service, ("TooManyRequestsException", 429))
            else:
                code, status = ("InternalServerErrorException", 500)
                if service in ("dynamodb", "s3", "sqs"):
                    code = {"dynamodb": "InternalServerError", "s3": "InternalError"}.get(
                        service, "InternalFailure"
                    )
            raise _error(code, status, operation)
        self.kind = None
        if kind.startswith("interleave"):
            if self.interleave is not None:
                self.interleave(kind)
            return
        if kind == "crash_before":
            raise SimulatedCrash(f"crash before {service}.{operation}")
        if kind == "crash_after":
            self.crash_after_pending = True
        elif kind == "lost_answer":
            self.lost_pending = True

    def after(self, service: str, operation: str) -> None:
        """Called once a call was applied, before its caller sees the answer."""
        if self.crash_after_pending:
            self.crash_after_pending = False
            raise SimulatedCrash(f"crash after {service}.{operation}")

    def take_lost_answer(self) -> bool:
        taken, self.lost_pending = self.lost_pending, False
        return taken


def hook_client(client: Any, plan: FaultPlan) -> None:
    """Inject ``plan``'s faults at every call of a botocore client."""
    service = client.meta.service_model.service_name

    def before(model: Any, **_: Any) -> None:
        plan.before(service, model.name)

    def after(model: Any, **_: Any) -> None:
        plan.after(service, model.name)

    def replay(caught_exception: Any = None, operation: Any = None, **_: Any) -> int | None:
        # The answer never reached the caller: the SDK sends the request again, as it does
        # after a timeout, and the service applies it a second time.
        if caught_exception is None and plan.take_lost_answer():
            return 0
        return None

    client.meta.events.register("before-call", before)
    client.meta.events.register("after-call", after)
    client.meta.events.register_first("needs-retry", replay)


class FaultyMediaConvert(FakeMediaConvert):
    """The fake MediaConvert with the plan's faults around each operation."""

    plan: FaultPlan

    def _around(self, operation: str, call: Callable[..., Any], request: Any) -> Any:
        self.plan.before("mediaconvert", operation)
        answer = call(**request)
        self.plan.after("mediaconvert", operation)
        if self.plan.take_lost_answer():
            # Applied, but the caller only sees a 500 (the SDK's retries are spent).
            raise client_error("InternalServerErrorException", operation)
        return answer

    def probe(self, **request: Any) -> dict[str, Any]:
        return self._around("Probe", super().probe, request)

    def create_job(self, **request: Any) -> dict[str, Any]:
        return self._around("CreateJob", super().create_job, request)

    def search_jobs(self, **request: Any) -> dict[str, Any]:
        return self._around("SearchJobs", super().search_jobs, request)

    def get_job(self, **request: Any) -> dict[str, Any]:
        return self._around("GetJob", super().get_job, request)

    def cancel_job(self, **request: Any) -> dict[str, Any]:
        return self._around("CancelJob", super().cancel_job, request)


# ---------------------------------------------------------------------------- the stack


@dataclass
class Upload:
    key: str
    version_id: str
    body: bytes
    event: dict[str, Any]
    asset_id: str
    deleted_after: bool = False  # a delete marker was put on its key after it


@dataclass
class PendingEvent:
    event: dict[str, Any]
    attempts: int = 0


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


@functools.cache
def _shared_session() -> boto3.session.Session:
    return boto3.session.Session(region_name=REGION)


@contextmanager
def pipeline_stack(
    clock: SimClock, capacity: dict[str, Any] | None = None
) -> Iterator[dict[str, str]]:
    """moto with the stack's resources and the handlers' environment; the queue URLs.

    With ``capacity`` (the runtime configuration's key), jobs are routed within budgets kept
    in a capacity table.
    """
    credentials = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }
    with ExitStack() as stack:
        stack.enter_context(mock.patch.dict(os.environ, credentials))
        stack.enter_context(mock_aws())
        for patch in clock.patches():
            stack.enter_context(patch)
        session = _shared_session()
        sqs, s3, events, sns = (session.client(s) for s in ("sqs", "s3", "events", "sns"))
        create_table(session.client("dynamodb"), TABLE)
        dlq_url = sqs.create_queue(QueueName="mediapipe-test-dlq")["QueueUrl"]
        dlq_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:mediapipe-test-dlq"
        queue_url = sqs.create_queue(
            QueueName="mediapipe-test-processing",
            Attributes={
                "VisibilityTimeout": "420",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
                ),
            },
        )["QueueUrl"]
        for bucket in (UPLOADS_BUCKET, OUTPUTS_BUCKET):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(
            Bucket=UPLOADS_BUCKET, VersioningConfiguration={"Status": "Enabled"}
        )
        config = default_config() | ({"capacity": capacity} if capacity else {})
        session.client("ssm").put_parameter(
            Name=PARAMETER, Type="String", Value=json.dumps(config, sort_keys=True)
        )
        observer_url = sqs.create_queue(QueueName="asset-events-observer")["QueueUrl"]
        events.put_rule(
            Name="observe-assets", EventPattern=json.dumps({"source": ["mediapipe.assets"]})
        )
        events.put_targets(
            Rule="observe-assets",
            Targets=[
                {"Id": "observer", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:asset-events-observer"}
            ],
        )
        topic_arn = sns.create_topic(Name="mediapipe-test-assets")["TopicArn"]
        environment = handler_environment(queue_url, dlq_url, topic_arn)
        if capacity:
            session.client("dynamodb").create_table(
                TableName=CAPACITY_TABLE,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "queue", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "queue", "KeyType": "HASH"}],
            )
            environment[Env.CAPACITY_TABLE] = CAPACITY_TABLE
        stack.enter_context(
            mock.patch.dict(os.environ, {str(k): v for k, v in environment.items()})
        )
        yield {"queue": queue_url, "dlq": dlq_url, "observer": observer_url}


# ---------------------------------------------------------------------------- the machine


class PipelineMachine(RuleBasedStateMachine):
    """One pipeline stack; each rule is something that happens to it."""

    # Totals over every example of a run, for the benchmark's report.
    totals: Counter[str] = Counter()
    # The runtime configuration's capacity key (None: every job to the stack's queue).
    capacity: dict[str, Any] | None = None
    settle_rounds = MAX_SETTLE_ROUNDS

    def __init__(self) -> None:
        super().__init__()
        from mediapipe_handlers import ingest_orchestrator, log
        from mediapipe_handlers import runtime as runtime_module

        self._started = False
        self.clock = SimClock()
        self.plan = FaultPlan()
        self._exit = ExitStack()
        self.urls = self._exit.enter_context(pipeline_stack(self.clock, self.capacity))
        # Waiting for another invocation's claim polls the table; no real seconds here.
        self._exit.enter_context(
            mock.patch.object(ingest_orchestrator, "CLAIM_POLL_SECONDS", 0.001)
        )
        self._exit.enter_context(
            mock.patch.object(ingest_orchestrator, "CLAIM_WAIT", timedelta(milliseconds=3))
        )
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.mediaconvert = FaultyMediaConvert(queue_arn=MC_QUEUE_ARN, read_input=self._read_input)
        self.mediaconvert.plan = self.plan
        self.plan.interleave = self._interleave
        self.mediaconvert.now = self.clock.now
        runtime_module.reset_runtime()
        runtime = runtime_module.get_runtime()
        # Each container makes its clients from one session; sharing it across examples keeps
        # botocore's loaded service models (a new session reads them from disk again).
        runtime.clients._session = _shared_session()
        runtime.clients.mediaconvert = self.mediaconvert
        for client in (
            runtime.clients.dynamodb,
            runtime.clients.sqs,
            runtime.clients.s3,
            runtime.clients.s3_copy,
            runtime.clients.events,
            runtime.clients.sns,
        ):
            hook_client(client, self.plan)
        log.get_logger().registered_handler.setStream(_Discard())
        self._exit.callback(runtime_module.reset_runtime)
        self.context = FakeLambdaContext()
        self.uploads: list[Upload] = []
        self.uploads_made = 0
        self.pending_events: list[PendingEvent] = []
        self.emitted: dict[str, str] = {}  # job id -> the last status an event was sent for
        self.progressed: set[str] = set()  # job ids that reached PROGRESSING
        self.failed_on_purpose: set[str] = set()  # asset ids with a job made to ERROR
        self.observed: dict[str, set[str]] = {}  # asset id -> final-state event types seen
        self.sequencer = 0x617F08299329D189
        self._count("examples")

    def check_invariants(self, *args: Any, **kwargs: Any) -> None:
        # Hypothesis calls this once before the first step and after every step.
        if self._started:
            self._count("steps")
        self._started = True
        super().check_invariants(*args, **kwargs)

    def teardown(self) -> None:
        try:
            self.settle_and_check()
        finally:
            for kind, count in self.plan.fired.items():
                self._count(f"faults: {kind}", count)
            self._exit.close()

    # ------------------------------------------------------------------ helpers

    def _read_input(self, uri: str) -> tuple[str, bytes] | None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            answer = self.s3.get_object(Bucket=bucket, Key=key)
        except ClientError:
            return None
        return str(answer.get("VersionId")), answer["Body"].read()

    def _count(self, name: str, amount: int = 1) -> None:
        PipelineMachine.totals[name] += amount

    def _invoke_orchestrator(self, max_messages: int) -> int:
        from mediapipe_handlers.ingest_orchestrator import handler as orchestrator

        event = receive_event(self.urls["queue"], max_messages)
        if not event["Records"]:
            return 0
        self._count("orchestrator invocations")
        try:
            response = orchestrator(event, self.context)
        except SimulatedCrash:
            self._count("crashes")
            return len(event["Records"])  # no response: the messages come back later
        except Exception:
            self._count("invocation errors")
            return len(event["Records"])
        self._count("batch item failures", len(failed_ids(response)))
        finish_batch(self.urls["queue"], event, response)
        return len(event["Records"])

    def _deliver_event(self, index: int, duplicate: bool) -> None:
        from mediapipe_handlers.job_status_processor import handler as status_processor

        pending = self.pending_events[index]
        if not duplicate:
            self.pending_events.pop(index)
        self._count("job events delivered")
        try:
            status_processor(pending.event, self.context)
        except (SimulatedCrash, Exception):
            self._count("status processor failures")
            if not duplicate:
                pending.attempts += 1
                if pending.attempts < ASYNC_ATTEMPTS:
                    self.pending_events.append(pending)
                else:
                    self._count("job events lost")

    def _interleave(self, kind: str) -> None:
        """Another invocation, started while one is between two of its calls."""
        if kind == "interleave_orchestrator":
            self._invoke_orchestrator(10)
        elif self.pending_events:
            self._deliver_event(0, duplicate=False)

    def _emit(self, job: Any, status: str, **detail: Any) -> None:
        self.emitted[job.id] = status
        self.pending_events.append(PendingEvent(self.mediaconvert.job_event(job, status, **detail)))

    def _running_jobs(self) -> list[Any]:
        return [j for j in self.mediaconvert.jobs if j.status in ("SUBMITTED", "PROGRESSING")]

    def _reconcile(self) -> dict[str, Any]:
        from mediapipe_handlers.reconciler import handler as reconciler

        self._count("reconciler runs")
        try:
            return dict(
                reconciler({"source": "aws.events", "detail-type": "Scheduled Event"}, self.context)
            )
        except (SimulatedCrash, Exception):
            self._count("reconciler failures")
            return {}

    # ------------------------------------------------------------------ rules: uploads

    @initialize(keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=3))
    def first_uploads(self, keys: list[str]) -> None:
        for key in keys:
            self.upload(key)

    @rule(key=st.sampled_from(KEYS))
    def upload(self, key: str) -> None:
        """A new object, or a new version of an existing key; its event reaches the queue."""
        self.uploads_made += 1
        body = f"{key} upload #{self.uploads_made}".encode()
        version = self.s3.put_object(Bucket=UPLOADS_BUCKET, Key=key, Body=body)["VersionId"]
        self.sequencer += 1
        event = load_event("s3/object_created_put.json")
        event["detail"]["object"].update(
            {"key": key, "version-id": version, "sequencer": f"{self.sequencer:016X}"}
        )
        from mediapipe_handlers.uploads import derive_asset_id

        asset_id = derive_asset_id(UPLOADS_BUCKET, key, version, f"{self.sequencer:016X}")
        self.uploads.append(Upload(key, version, body, event, asset_id))
        self.sqs.send_message(QueueUrl=self.urls["queue"], MessageBody=json.dumps(event))
        self._count("uploads")

    @rule(index=st.integers(0, 50))
    def repeat_upload_event(self, index: int) -> None:
        """S3 delivers an event again (at least once)."""
        if self.uploads:
            upload = self.uploads[index % len(self.uploads)]
            self.sqs.send_message(QueueUrl=self.urls["queue"], MessageBody=json.dumps(upload.event))

    @rule(key=st.sampled_from(KEYS))
    def delete_key(self, key: str) -> None:
        """The uploader deletes the object (a delete marker), maybe before it is processed."""
        self.s3.delete_object(Bucket=UPLOADS_BUCKET, Key=key)
        for upload in self.uploads:
            if upload.key == key:
                upload.deleted_after = True

    # ------------------------------------------------------------------ rules: delivery

    def _arm(self, fault: Fault) -> None:
        if fault is not None:
            self.arm_fault(*fault)

    @rule(batch=st.integers(1, 10), fault=FAULTS)
    def deliver_batch(self, batch: int, fault: Fault) -> None:
        self._arm(fault)
        self._invoke_orchestrator(batch)

    @rule(
        kind=st.sampled_from(FAULT_KINDS),
        countdown=st.integers(1, 30),
        repeat=st.integers(0, 6),
    )
    def arm_fault(self, kind: str, countdown: int, repeat: int) -> None:
        """The countdown-th AWS call from now fails this way."""
        self.plan.arm(kind, countdown, repeat)
        self._count("faults armed")

    @rule(seconds=st.sampled_from([1, 31, 65, 430, 1000, 1900]))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule(fault=FAULTS)
    def run_reconciler(self, fault: Fault) -> None:
        self._arm(fault)
        self._reconcile()

    @rule()
    def redrive_dead_letters(self) -> None:
        """An operator moves every message of the DLQ back to the processing queue."""
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.urls["dlq"], MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return
            for message in messages:
                self.sqs.send_message(QueueUrl=self.urls["queue"], MessageBody=message["Body"])
                self.sqs.delete_message(
                    QueueUrl=self.urls["dlq"], ReceiptHandle=message["ReceiptHandle"]
                )
                self._count("dead letters redriven")

    # ------------------------------------------------------------------ rules: jobs

    @rule(
        index=st.integers(0, 50),
        outcome=st.sampled_from(["PROGRESSING", "COMPLETE", "ERROR 1999", "ERROR 1010"]),
    )
    def job_moves(self, index: int, outcome: str) -> None:
        running = self._running_jobs()
        if not running:
            return
        job = running[index % len(running)]
        if outcome == "PROGRESSING":
            job.status = "PROGRESSING"
            self.progressed.add(job.id)
            self._emit(job, "PROGRESSING")
        elif outcome == "COMPLETE":
            self.mediaconvert.finish(job, "COMPLETE")
            self._emit(job, "COMPLETE")
        else:
            code = int(outcome.split()[1])
            self.mediaconvert.finish(job, "ERROR", code)
            self.failed_on_purpose.add(job.metadata.get("mediapipeAssetId", ""))
            self._emit(job, "ERROR", errorCode=code, errorMessage=f"injected {code}")

    @rule(index=st.integers(0, 50), duplicate=st.booleans(), fault=FAULTS)
    def deliver_job_event(self, index: int, duplicate: bool, fault: Fault) -> None:
        """Any pending event, in any order; a duplicate leaves it pending too."""
        self._arm(fault)
        if self.pending_events:
            self._deliver_event(index % len(self.pending_events), duplicate)

    @rule(index=st.integers(0, 50))
    def lose_job_event(self, index: int) -> None:
        if self.pending_events:
            self.pending_events.pop(index % len(self.pending_events))
            self._count("job events lost")

    @rule()
    def quiescent_point(self) -> None:
        self.settle_and_check()

    # ------------------------------------------------------------------ quiescence

    def settle_and_check(self) -> None:
        # A fault still armed strikes in the first round; the rounds after it are fault-free,
        # so the pipeline can settle.
        for round_number in range(self.settle_rounds):
            busy = self._settle_round()
            self.plan.disarm()
            if not busy and round_number > 0:
                break
        else:
            raise Violation(f"the pipeline did not settle within {self.settle_rounds} rounds")
        self._count("quiescent points")
        self.check_pipeline_invariants()

    def _settle_round(self) -> bool:
        """One round of letting everything happen; whether anything did."""
        activity = 0
        for _ in range(MAX_INVOCATIONS_PER_ROUND):
            delivered = self._invoke_orchestrator(10)
            if not delivered:
                break
            activity += delivered
        for job in self.mediaconvert.jobs:
            if job.status in ("SUBMITTED", "PROGRESSING"):
                self.mediaconvert.finish(job, "COMPLETE")
            if self.emitted.get(job.id, "SUBMITTED") != job.status:
                self._emit(job, job.status)
        while self.pending_events:
            activity += 1
            self._deliver_event(0, duplicate=False)
        self.clock.advance(QUIET_SECONDS)
        summary = self._reconcile()
        activity += sum(
            int(summary.get(k, 0))
            for k in ("announced", "jobsApplied", "nudged", "deadLettersRecorded")
        )
        return activity > 0 or self._queue_depth() > 0

    def _queue_depth(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.urls["queue"], AttributeNames=["All"]
        )["Attributes"]
        return sum(
            int(attributes.get(name, 0))
            for name in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )

    def _records(self) -> dict[str, dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        deserialize = TypeDeserializer().deserialize
        records: dict[str, dict[str, Any]] = {}
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=TABLE):
            for raw in page["Items"]:
                item = {k: deserialize(v) for k, v in raw.items()}
                records[str(item[Attr.ASSET_ID])] = item
        return records

    def _observe_events(self) -> None:
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.urls["observer"], MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return
            for message in messages:
                event = json.loads(message["Body"])
                asset_id = str(event["detail"].get("assetId"))
                self.observed.setdefault(asset_id, set()).add(event["detail-type"])
                self.sqs.delete_message(
                    QueueUrl=self.urls["observer"], ReceiptHandle=message["ReceiptHandle"]
                )

    def _dead_letters(self) -> list[dict[str, Any]]:
        """Every message in the DLQ (the reconciler's reads hide them for a while)."""
        self.clock.advance(601)
        found: dict[str, dict[str, Any]] = {}
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.urls["dlq"],
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                VisibilityTimeout=30,
            ).get("Messages", [])
            if not messages:
                break
            found.update({m["MessageId"]: m for m in messages})
        self.clock.advance(31)
        return list(found.values())

    def check_pipeline_invariants(self) -> None:
        from mediapipe_handlers.messages import UploadEvent, parse_queue_message
        from mediapipe_handlers.outputs import manifest_key
        from mediapipe_handlers.uploads import derive_asset_id

        records = self._records()
        self._observe_events()
        # Interleaving is no fault: it alone must not fail anything.
        faults = any(n for k, n in self.plan.fired.items() if not k.startswith("interleave"))
        uploads = {u.asset_id: u for u in self.uploads}

        versions = Counter(
            (r.get(Attr.S3_KEY), r.get(Attr.SOURCE_VERSION_ID)) for r in records.values()
        )
        for (key, version), count in versions.items():
            if count != 1:
                raise Violation(f"{count} records for {key} version {version}")
        for asset_id in records:
            if asset_id not in uploads:
                raise Violation(f"record {asset_id} belongs to no upload")

        for upload in uploads.values():
            record = records.get(upload.asset_id)
            where = f"upload {upload.key} version {upload.version_id} (asset {upload.asset_id})"
            if record is None:
                raise Violation(f"{where} has no record")
            status = record[Attr.STATUS]
            if status not in FINAL_STATUSES:
                raise Violation(f"{where} is {status}, not final: {_summary(record)}")
            kind = record.get(Attr.FAILURE_KIND)
            if status == AssetStatus.FAILED:
                if not record.get(Attr.ERRORS) or not kind:
                    raise Violation(f"{where} FAILED without a reason: {_summary(record)}")
                explained = (
                    (kind == "SOURCE_MISSING" and upload.deleted_after)
                    or (kind == "JOB_FAILED" and upload.asset_id in self.failed_on_purpose)
                    or (kind in FAULT_FAILURE_KINDS and faults)
                )
                if not explained:
                    raise Violation(
                        f"{where} FAILED {kind}, which nothing in this run explains: "
                        f"{_summary(record)}"
                    )
            if record.get(Attr.OUTBOX) or not record.get(Attr.FINAL_NOTIFIED_AT):
                raise Violation(f"{where} is {status} but was never announced")
            expected = EVENT_ASSET_PROCESSED
            if status == AssetStatus.FAILED:
                expected = EVENT_ASSET_FAILED
            if expected not in self.observed.get(upload.asset_id, set()):
                raise Violation(f"{where} is {status} but no {expected!r} event was seen")
            if status == AssetStatus.SUCCEEDED:
                manifest = manifest_key(str(record[Attr.OUTPUT_PREFIX]))
                listed = self.s3.list_objects_v2(Bucket=OUTPUTS_BUCKET, Prefix=manifest)
                if not listed.get("KeyCount"):
                    raise Violation(f"{where} SUCCEEDED without {manifest}")

        billed: Counter[tuple[str, str, str]] = Counter()
        for job in self.mediaconvert.jobs:
            metadata = job.metadata
            upload = uploads.get(metadata.get("mediapipeAssetId", ""))
            if upload is None:
                raise Violation(f"job {job.id} belongs to no upload: {metadata}")
            if job.input_bytes != upload.body:
                raise Violation(
                    f"job {job.id} of {upload.key} version {upload.version_id} read "
                    f"{job.input_bytes!r}, not its own upload {upload.body!r}"
                )
            if job.status == "COMPLETE" or (job.status == "CANCELED" and job.id in self.progressed):
                billed[
                    (upload.asset_id, metadata["mediapipeFormat"], metadata["mediapipeAttempt"])
                ] += 1
        for (asset_id, job_format, attempt), count in billed.items():
            if count > 1:
                raise Violation(
                    f"{count} billed jobs for {asset_id} {job_format} attempt {attempt}"
                )

        for message in self._dead_letters():
            parsed = parse_queue_message(message["Body"])
            if isinstance(parsed, UploadEvent):
                asset_id = derive_asset_id(
                    parsed.bucket,
                    parsed.key_candidates()[0],
                    parsed.version_id,
                    parsed.sequencer,
                )
            else:
                asset_id = parsed.asset_id
            record = records.get(asset_id) or {}
            if record.get(Attr.STATUS) != AssetStatus.FAILED or message["MessageId"] not in (
                record.get(Attr.DEAD_LETTERS) or []
            ):
                raise Violation(
                    f"DLQ message {message['MessageId']} about {asset_id} is not named by a "
                    f"FAILED record: {_summary(record)}"
                )


def _summary(record: dict[str, Any]) -> str:
    """The parts of a record that explain its state, for a violation's message."""
    formats = {
        name: {k: state.get(k) for k in ("status", "attempt", "jobId", "nextAttempt")}
        for name, state in (record.get(Attr.FORMAT_STATUS) or {}).items()
    }
    return json.dumps(
        {
            "status": record.get(Attr.STATUS),
            "failureKind": record.get(Attr.FAILURE_KIND),
            "formats": formats,
            "errors": [e.get("message") for e in record.get(Attr.ERRORS) or []][-3:],
            "deadLetters": record.get(Attr.DEAD_LETTERS),
            "outbox": record.get(Attr.OUTBOX),
        },
        default=str,
        sort_keys=True,
    )


# Budgets of one job each, so that uploads wait for each other's jobs: the streaming jobs use
# a reserved queue first and spill over to the stack's queue, which the previews use alone.
RESERVED_QUEUE_ARN = f"arn:aws:mediaconvert:{REGION}:{ACCOUNT}:queues/reserved"
CAPACITY_TABLE = "mediapipe-test-capacity"
BUDGETS = {RESERVED_QUEUE_ARN: 1, MC_QUEUE_ARN: 1}
CAPACITY_DOCUMENT = {
    "queues": {
        "stack": {"arn": None, "budget": BUDGETS[MC_QUEUE_ARN]},
        "reserved": {"arn": RESERVED_QUEUE_ARN, "budget": BUDGETS[RESERVED_QUEUE_ARN]},
    },
    "routes": {"default": ["reserved", "stack"], "mp4": ["stack"]},
    "priority": {"byJobKind": {"mp4": -10}, "uploaderClasses": []},
    "fullRetrySeconds": 30,
}


class BudgetedMediaConvert(FaultyMediaConvert):
    """Also notes every CreateJob that gives a queue more unfinished jobs than its budget.

    Noted, not raised: the orchestrator would take an exception for a service error.
    """

    over_budget: list[str]

    def create_job(self, **request: Any) -> dict[str, Any]:
        queue = request["Queue"]
        unfinished = sum(
            j.request["Queue"] == queue and j.status in ("SUBMITTED", "PROGRESSING")
            for j in self.jobs
        )
        if unfinished >= BUDGETS[queue]:
            self.over_budget.append(f"CreateJob into {queue} with {unfinished} unfinished jobs")
        return super().create_job(**request)


class CapacityPipelineMachine(PipelineMachine):
    """The same pipeline, its jobs routed within per-queue budgets.

    On top of the pipeline's invariants: no CreateJob ever exceeds its queue's budget, and at
    every quiescent point (no job running) no budget is left held.
    """

    capacity = CAPACITY_DOCUMENT
    # Each round runs every job to its end, so with budgets of one job a round finishes about
    # one job per queue: enough rounds for every upload a run can make.
    settle_rounds = MAX_SETTLE_ROUNDS + 2 * STEPS + 6

    def __init__(self) -> None:
        super().__init__()
        budgeted = BudgetedMediaConvert(queue_arn=MC_QUEUE_ARN, read_input=self._read_input)
        budgeted.plan, budgeted.now, budgeted.over_budget = self.plan, self.clock.now, []
        self.mediaconvert = budgeted
        from mediapipe_handlers import runtime as runtime_module

        runtime_module.get_runtime().clients.mediaconvert = budgeted

    def check_pipeline_invariants(self) -> None:
        super().check_pipeline_invariants()
        over_budget = getattr(self.mediaconvert, "over_budget", [])
        if over_budget:
            raise Violation(f"a queue was given more jobs than its budget: {over_budget[0]}")
        for queue in ("stack", "reserved"):
            item = self.dynamodb.get_item(TableName=CAPACITY_TABLE, Key={"queue": {"S": queue}})
            held = (item.get("Item") or {}).get("holders", {}).get("M", {})
            if held:
                raise Violation(f"queue {queue} still counts {sorted(held)} with no job running")


def property_settings(examples: int = EXAMPLES, steps: int = STEPS) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def test_every_upload_ends_final_and_announced_whatever_fails() -> None:
    run_state_machine_as_test(PipelineMachine, settings=property_settings())


def test_routed_jobs_stay_within_budgets_and_every_upload_still_ends_final() -> None:
    # Half the examples: its quiescent points take many more rounds.
    examples = max(1, EXAMPLES // 2)
    run_state_machine_as_test(CapacityPipelineMachine, settings=property_settings(examples))
