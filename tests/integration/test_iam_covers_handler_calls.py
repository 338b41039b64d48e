"""Each function's role allows every AWS call its handler makes, and nothing it never needs.

The default profile, and a variant (SNS on final states, on an existing KMS key named by alias),
is rendered, deployed into moto from the template's own properties and driven with the built zip
through the paths that call AWS differently: successes through both functions (manifest,
final-state event), a key that needs HeadObject to resolve, a retryable job error resubmitted
through the queue, a permanent job error dead-lettered, an upload rejected at ingest, a crash
right after CreateJob (orphan search with ListJobs), an EventBridge outage on a final state (the
status processor's on-failure destination, then the orchestrator announcing on a duplicate), a
duplicate upload event and a poison message.

Every call each handler makes is recorded and turned into the IAM requests it needs, plus what
the Lambda service does with the role (event source mapping, on-failure destination, logs,
traces, environment decryption); each request is judged with the security evaluator against
the rendered template's resolved role, resource and key policies. Then the other way round:
every part of every Allow statement (action, resource, condition value) must be relied on by
some request, except the grants listed in ``UNEXERCISED`` with their reasons.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

HANDLER_TESTS = str(Path(__file__).resolve().parents[1] / "handlers")
if HANDLER_TESTS not in sys.path:
    sys.path.insert(0, HANDLER_TESTS)

from handler_fakes import FakeMediaConvert, SimulatedCrash, client_error  # noqa: E402
from iam_calls import (  # noqa: E402
    Audit,
    CallRecorder,
    Denial,
    DeployedStack,
    InvocationWatch,
    RecordedCall,
    UnmappedCallError,
    grant_units,
    without_statement,
)
from lambda_stack import (  # noqa: E402
    ACCOUNT,
    REGION,
    LambdaFunction,
    SimulatedClock,
    TemplateStack,
    extract,
)
from test_end_to_end import Pipeline  # noqa: E402

from mediapipe_cfn import build_template, ids, load_profile  # noqa: E402
from mediapipe_cfn.artifacts import write_handler_zip  # noqa: E402
from mediapipe_cfn.contract import MANIFEST_FILE_NAME  # noqa: E402
from mediapipe_cfn.profile.model import Capacity, Profile  # noqa: E402
from mediapipe_cfn.security.evaluator import Decision  # noqa: E402
from mediapipe_cfn.security.intrinsics import (  # noqa: E402
    SampleEnvironment,
    Scenario,
    sequence_of,
)

pytestmark = pytest.mark.integration

STACK = "media-iam"
FUNCTIONS = (ids.ORCHESTRATOR_FUNCTION, ids.STATUS_FUNCTION, ids.RECONCILER_FUNCTION)
ROLE_FUNCTIONS = {ids.ORCHESTRATOR_ROLE: ids.ORCHESTRATOR_FUNCTION,
                  ids.STATUS_ROLE: ids.STATUS_FUNCTION,
                  ids.RECONCILER_ROLE: ids.RECONCILER_FUNCTION}  # fmt: skip
EXISTING_KEY_ALIAS = "alias/mediapipe-existing-key"
# A key of another account: neither role nor bucket policy may let a manifest go under it.
OTHER_KEY_ARN = f"arn:aws:kms:{REGION}:210987654321:key/00000000-1111-2222-3333-444444444444"
CREATED_KEY, EXISTING_KEY = "created key", "existing key, SNS on final states"
CAPACITY = "created key, capacity queues and budgets"
RESERVED_QUEUE = f"arn:aws:mediaconvert:{REGION}:{ACCOUNT}:queues/reserved-ladder"
# Small budgets, so that the run's bursts fill them: jobs spill over and assets are put off.
CAPACITY_SECTION = {
    "stack_queue_budget": 4,
    "queues": {"reserved": {"arn": RESERVED_QUEUE, "reserved_slots": 2}},
    "routing": {"default": ["reserved", "stack"], "by_job_kind": {"mp4": ["stack"]}},
    "priority": {"by_job_kind": {"mp4": -10}},
    "full_retry_seconds": 30,
    # Two throttled CreateJobs open the breaker: jobs then go to the fallback region.
    "fallback": {"region": "us-west-2", "open_after_failures": 2, "open_seconds": 3600},
}
FALLBACK_REGION = "us-west-2"
FALLBACK_QUEUE = f"arn:aws:mediaconvert:{FALLBACK_REGION}:{ACCOUNT}:queues/Default"
# mp4 fails for good while cmaf runs: the status processor cancels cmaf in the fallback region.
FALLBACK_UPLOAD = "uploads/alice/halting-fallback.mp4"
PROBE_UPLOAD = "uploads/alice/after-recovery.mp4"

UPLOADS = {
    "plain": "uploads/alice/holiday.mp4",
    "plus": "uploads/gus/c++ talk 100%.mov",  # "+" may stand for a space: HeadObject by version
    "flaky": "uploads/frank/flaky-clip.mov",  # retryable job error: resubmitted via the queue
    "broken": "uploads/erin/broken-clip.mp4",  # permanent job error: dead-lettered
    "invalid": "uploads/erin/notes.txt",  # rejected at ingest: the orchestrator announces it
    "outage": "uploads/ivy/outage-clip.mp4",  # EventBridge fails when its final state is announced
}
INTERRUPTED = "uploads/hal/interrupted.mp4"  # the orchestrator dies right after CreateJob
# A caption file uploaded before its video: its own event is acknowledged without a record, and
# the video's plan finds it (HeadObject) and copies it beside the working copy (CopyObject).
CAPTIONS = "uploads/cara/captioned.vtt"
CAPTIONED = "uploads/cara/captioned.mp4"
# For the reconciler: jobs that finish without their events reaching the bus, a job that runs
# on while its upload's message reaches the DLQ, a dead-lettered upload nobody recorded (its
# "+" needs HeadObject to resolve), and a stale dead letter of an asset that succeeded.
LOST = "uploads/lea/lost-events.mp4"
STALLED = "uploads/max/stalled-clip.mp4"
UNRECORDED = "uploads/ned/late+clip.mp4"
ABANDONED = "uploads/oli/abandoned.mp4"  # its orchestrator dies and its message is lost
# Failing for good, and what else that costs: the process dies on every receive (parked on
# the DLQ), CreateJob refuses one format (the other's job is canceled), a format fails while
# the other runs (canceled by the status processor), and an asset whose jobs complete after
# its retries ran out, finished by the orchestrator when an operator redrives it.
KILLER = "uploads/pia/killer-clip.mp4"
REJECTED = "uploads/quin/rejected-clip.mp4"
HALTING = "uploads/rex/halting-clip.mp4"
REDRIVEN = "uploads/sam/redriven-clip.mp4"

# Calls each function must make in every run, so the paths above are known to have run.
EXERCISED_CALLS = {
    ids.ORCHESTRATOR_FUNCTION: {
        "ssm.GetParameter",
        "dynamodb.PutItem",
        "dynamodb.GetItem",
        "dynamodb.UpdateItem",
        "s3.HeadObject",
        "mediaconvert.Probe",
        "mediaconvert.CreateJob",
        "mediaconvert.SearchJobs",
        "s3.CopyObject",
        "sqs.ChangeMessageVisibility",
        "events.PutEvents",
    },
    ids.STATUS_FUNCTION: {
        "ssm.GetParameter",
        "dynamodb.GetItem",
        "dynamodb.UpdateItem",
        "s3.PutObject",
        "sqs.SendMessage",
        "events.PutEvents",
    },
    ids.RECONCILER_FUNCTION: {
        "ssm.GetParameter",
        "dynamodb.Query",
        "dynamodb.GetItem",
        "dynamodb.PutItem",
        "dynamodb.UpdateItem",
        "mediaconvert.GetJob",
        "mediaconvert.CancelJob",
        "sqs.ReceiveMessage",
        "sqs.DeleteMessage",
        "sqs.SendMessage",
        "s3.HeadObject",
        "s3.PutObject",
        "events.PutEvents",
    },
}
# On an existing key both functions resolve its alias; with SNS on, both publish final states.
EXISTING_KEY_CALLS = {"kms.DescribeKey", "sns.Publish"}
# With a capacity section: budgets taken and given back, assets put off while queues are full.
CAPACITY_CALLS = {
    ids.ORCHESTRATOR_FUNCTION: {"sqs.SendMessage"},
    ids.STATUS_FUNCTION: set(),
    ids.RECONCILER_FUNCTION: set(),
}

# Grants a run leaves unused, with the reason. Compared both ways: a grant that becomes used, or
# one that becomes unused, fails the test until this list says why. ``{created_key}`` and
# ``{function_name}`` stand for the run's sample key ARN and the role's function name.
_DESCRIBE_KEY_ONLY_FOR_ALIASES = (
    "DescribeKey resolves an existing key's alias; with the created key the environment holds "
    "the key ARN already, so this grant is needed only under the existing-key condition"
)
_ENVIRONMENT_UNDER_LAMBDA_KEY = (
    "on an existing key the functions' environment stays under Lambda's own key (KmsKeyArn is "
    "AWS::NoValue), so the role never decrypts it"
)
_MULTIPART_ABORT = (
    "the orchestrator aborts only a multipart copy (a source over 5 GiB) that fails midway; "
    "the run copies small sources in one CopyObject"
)
# The created key's runs (with and without a capacity section) leave the same grants unused.
_CREATED_KEY_UNEXERCISED: dict[str, str] = {
    f"{ids.ORCHESTRATOR_ROLE}/WriteWorkingCopies: action s3:AbortMultipartUpload": (
        _MULTIPART_ABORT
    ),
    **{
        f"{role}/ResolvePipelineKeyArn: {part}": _DESCRIBE_KEY_ONLY_FOR_ALIASES
        for role in ROLE_FUNCTIONS
        for part in ("action kms:DescribeKey", "resource {created_key}")
    },
}
UNEXERCISED: dict[str, dict[str, str]] = {
    CREATED_KEY: _CREATED_KEY_UNEXERCISED,
    CAPACITY: {
        **_CREATED_KEY_UNEXERCISED,
        **{
            f"{role}/CancelJobsOfFailedAssets: resource "
            f"arn:aws:mediaconvert:{FALLBACK_REGION}:{ACCOUNT}:jobs/*": reason
            for role, reason in (
                (
                    ids.ORCHESTRATOR_ROLE,
                    "the orchestrator cancels an asset's other jobs when CreateJob rejects one; "
                    "the run's fallback jobs are all accepted (the status processor cancels one)",
                ),
                (
                    ids.RECONCILER_ROLE,
                    "the reconciler cancels the jobs of an asset it fails at its deadline; the "
                    "run's fallback asset settles before that (the status processor cancels one)",
                ),
            )
        },
    },
    EXISTING_KEY: {
        f"{ids.ORCHESTRATOR_ROLE}/WriteWorkingCopies: action s3:AbortMultipartUpload": (
            _MULTIPART_ABORT
        ),
        **{
            f"{role}/DecryptOwnEnvironment: {part}": _ENVIRONMENT_UNDER_LAMBDA_KEY
            for role in ROLE_FUNCTIONS
            for part in (
                "action kms:Decrypt",
                f"resource arn:aws:kms:{REGION}:{ACCOUNT}:key/*",
                f"ForAnyValue:StringEquals kms:ResourceAliases {EXISTING_KEY_ALIAS}",
                "StringEquals kms:EncryptionContext:LambdaFunctionName {function_name}",
            )
        },
    },
}


@dataclass(frozen=True)
class Deployment:
    """A profile and the stack parameters it is deployed with."""

    profile: Profile
    parameters: Mapping[str, str]


def deployments() -> dict[str, Deployment]:
    default = load_profile("default")
    notifications = default.notifications.model_copy(update={"sns_on_final_state": True})
    with_sns = default.model_copy(update={"notifications": notifications})
    with_capacity = default.model_copy(
        update={"capacity": Capacity.model_validate(CAPACITY_SECTION)}
    )
    return {
        CREATED_KEY: Deployment(default, {}),
        EXISTING_KEY: Deployment(with_sns, {ids.P_KMS_KEY_ALIAS: EXISTING_KEY_ALIAS}),
        CAPACITY: Deployment(with_capacity, {}),
    }


@dataclass(frozen=True)
class Run:
    """What one deployment's run recorded, and the audit of it."""

    name: str
    audit: Audit
    sdk_calls_seen: int  # SDK calls made during invocations, through any client
    unrecorded: list[tuple[str, str]]  # those of them the recorder does not have
    status_failures: int
    final_statuses: Mapping[str, str]


# --- driving the pipeline --------------------------------------------------------------------


class WatchedFunction:
    """A function as the Lambda service runs it, its invocations watched for SDK calls.

    For the SQS-driven orchestrator, an invocation that dies deletes nothing: its whole batch
    comes back after the queue's visibility timeout.
    """

    def __init__(self, function: LambdaFunction, function_id: str, watch: InvocationWatch) -> None:
        self.function = function
        self.function_id = function_id
        self.watch = watch

    def invoke(self, event: Any, context: Any) -> Any:
        with self.watch.invoking(self.function_id):
            try:
                return self.function.invoke(event, context)
            except SimulatedCrash:
                if self.function_id != ids.ORCHESTRATOR_FUNCTION:
                    raise
                return {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                              for r in event["Records"]]}  # fmt: skip

    def __getattr__(self, name: str) -> Any:
        return getattr(self.function, name)


@contextmanager
def eventbridge_outage(client: Any, marker: str) -> Iterator[None]:
    """While active, the client's PutEvents calls that mention ``marker`` fail with a 500."""

    def fail(params: Mapping[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        body = params.get("body") or b""
        if marker.encode() not in (body if isinstance(body, bytes) else body.encode()):
            return None
        error = {"Code": "InternalException", "Message": "EventBridge is unavailable"}
        parsed = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 500}}
        return AWSResponse(params["url"], 500, {}, None), parsed

    event = "before-call.events.PutEvents"
    client.meta.events.register_first(event, fail, unique_id="eventbridge-outage")
    try:
        yield
    finally:
        client.meta.events.unregister(event, unique_id="eventbridge-outage")


def share_simulated_time(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    """Handlers and MediaConvert read the clock the queues run on, so leases expire with it."""

    def now() -> datetime:
        return datetime.now(UTC) + timedelta(seconds=pipeline.clock.offset_seconds)

    for function in (pipeline.orchestrator, pipeline.processor, pipeline.reconciler):
        monkeypatch.setattr(function.loaded_module("mediapipe_handlers.clock"), "utc_now", now)
    pipeline.mediaconvert.now = now


def drive(pipeline: Pipeline) -> None:
    # The orchestrator dies right after CreateJob while MediaConvert has not started the job
    # (no state change yet): the redelivery finds the job with SearchJobs instead of
    # resubmitting.
    pipeline.mediaconvert.crash_after_create = SimulatedCrash()
    pipeline.upload(INTERRUPTED)
    with patch.object(pipeline, "_run_jobs", return_value=False):
        pipeline.run_until_quiet()
    pipeline.run_until_quiet()
    pipeline.upload(CAPTIONS, b"WEBVTT\n\n00:01.000 --> 00:02.000\nHello\n")
    pipeline.run_until_quiet()
    with eventbridge_outage(pipeline.processor.runtime().clients.events, "outage-clip"):
        for key in (*UPLOADS.values(), CAPTIONED):
            pipeline.upload(key)
        pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody="{not json")
        pipeline.run_until_quiet()
    # Late duplicates: one of an announced asset, one of the asset whose announcement failed.
    for name in ("plain", "outage"):
        body = next(b for b in pipeline.orchestrator_bodies if UPLOADS[name] in b)
        pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=body)
    pipeline.run_until_quiet()
    drive_the_reconciler(pipeline)


def drive_the_reconciler(pipeline: Pipeline) -> None:
    """What only the reconciler finishes (it runs whenever the pipeline is quiet)."""
    pipeline.upload(LOST)
    pipeline.upload(STALLED)
    pipeline.run_until_quiet()
    plain = next(b for b in pipeline.orchestrator_bodies if UPLOADS["plain"] in b)
    stalled = next(b for b in pipeline.orchestrator_bodies if STALLED in b)
    pipeline.upload(UNRECORDED)
    # Its message is lost before any record is written: it reaches the DLQ as it was.
    [message] = pipeline.sqs.receive_message(QueueUrl=pipeline.queue_url)["Messages"]
    pipeline.sqs.delete_message(QueueUrl=pipeline.queue_url, ReceiptHandle=message["ReceiptHandle"])
    for body in (plain, stalled, message["Body"]):
        pipeline.sqs.send_message(QueueUrl=pipeline.dlq_url, MessageBody=body)
    pipeline.run_until_quiet()
    # The orchestrator dies right after CreateJob and the message is lost: only the
    # reconciler notices, and hands the asset back to the orchestrator.
    pipeline.mediaconvert.crash_after_create = SimulatedCrash()
    pipeline.upload(ABANDONED)
    with (
        patch.object(pipeline, "_run_jobs", return_value=False),
        patch.object(pipeline, "_let_time_pass", return_value=False),
    ):
        pipeline.run_until_quiet()
    pipeline.sqs.purge_queue(QueueUrl=pipeline.queue_url)
    pipeline.run_until_quiet()
    drive_failures(pipeline)


def source_name(uri: str) -> str:
    """The name an upload was made under, read from the bytes (see Pipeline.upload).

    Read from moto's store, not through an SDK client: this runs inside an invocation, whose
    every SDK call the audit attributes to the function.
    """
    from moto.s3.models import s3_backends

    bucket, _, key = uri[len("s3://") :].partition("/")
    stored = s3_backends[ACCOUNT]["aws"].get_object(bucket, key)
    return bytes(stored.value).decode(errors="replace") if stored else ""


def drive_failures(pipeline: Pipeline) -> None:
    mediaconvert = pipeline.mediaconvert
    probe, create_job = mediaconvert.probe, mediaconvert.create_job

    def dying_probe(**request: Any) -> Any:
        if KILLER in source_name(request["InputFiles"][0]["FileUrl"]):
            raise SimulatedCrash("out of memory")
        return probe(**request)

    def refusing_create_job(**request: Any) -> Any:
        source = request["Settings"]["Inputs"][0]["FileInput"]
        if REJECTED in source_name(source) and request["UserMetadata"]["mediapipeFormat"] == "mp4":
            raise client_error("BadRequestException", "CreateJob", "invalid settings")
        return create_job(**request)

    with (
        patch.object(mediaconvert, "probe", dying_probe),
        patch.object(mediaconvert, "create_job", refusing_create_job),
    ):
        for key in (KILLER, REJECTED, HALTING):
            pipeline.upload(key)
        pipeline.run_until_quiet()
    # Every PENDING -> PROCESSING write fails while its jobs wait in MediaConvert's queue: the
    # message's receives run out (TRANSIENT_EXHAUSTED, the message in the DLQ); then the jobs
    # complete, and an operator redrives the DLQ.
    orchestrator_table = pipeline.orchestrator.runtime().clients.dynamodb
    with (
        dynamodb_outage(orchestrator_table, '":v0": {"S": "PROCESSING"}'),
        patch.object(pipeline, "_run_jobs", return_value=False),
        patch.object(pipeline, "reconcile", return_value=False),
    ):
        pipeline.upload(REDRIVEN)
        pipeline.run_until_quiet()
    pipeline.run_until_quiet()
    pipeline.clock.advance(3600)  # dead letters the reconciler read are visible again
    for body in pipeline.drain(pipeline.dlq_url):
        if REDRIVEN in body:
            pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=body)
    pipeline.run_until_quiet()


def drive_budget_repair(pipeline: Pipeline) -> None:
    """Budget whose release was lost (a container that died holding it) is given back by the
    reconciler once the record shows its job is not running."""
    table = pipeline.stack.physical[ids.CAPACITY_TABLE]["Ref"]
    pipeline.dynamodb.update_item(
        TableName=table,
        Key={"queue": {"S": "stack"}},
        UpdateExpression="SET holders.#k = :at",
        ExpressionAttributeNames={"#k": "lost-asset#cmaf#1"},
        ExpressionAttributeValues={":at": {"S": "2020-01-01T00:00:00.000Z"}},
    )
    pipeline.reconcile()
    item = pipeline.dynamodb.get_item(TableName=table, Key={"queue": {"S": "stack"}})["Item"]
    assert "lost-asset#cmaf#1" not in item["holders"]["M"]


def drive_fallback(pipeline: Pipeline, secondary: FakeMediaConvert) -> None:
    """The primary throttles CreateJob until the breaker opens; the asset's jobs go to the
    fallback region (a crash after CreateJob there is taken over with SearchJobs), where the
    reconciler reads them (GetJob) before they finish and report back; after the open period
    one job probes the recovered primary and closes the breaker."""
    primary = pipeline.mediaconvert
    throttled = [client_error("TooManyRequestsException", "CreateJob") for _ in range(2)]
    primary.fail_next("CreateJob", *throttled)
    # The orchestrator dies right after the fallback region's CreateJob: the redelivery finds
    # the job there with SearchJobs.
    secondary.crash_after_create = SimulatedCrash()
    pipeline.upload(FALLBACK_UPLOAD)
    pipeline.run_until_quiet()
    assert secondary.jobs, "the breaker opened and the jobs went to the fallback region"
    pipeline.clock.advance(3600)
    pipeline.reconcile()  # the asset looks stuck: its jobs are read in their region
    assert secondary.submitted("GetJob")
    pipeline.mediaconvert = secondary  # the fallback region runs its jobs; events come back
    try:
        pipeline.run_until_quiet()
    finally:
        pipeline.mediaconvert = primary
    in_primary, in_secondary = len(primary.jobs), len(secondary.jobs)
    pipeline.clock.advance(3600)
    pipeline.upload(PROBE_UPLOAD)
    pipeline.run_until_quiet()
    assert len(primary.jobs) > in_primary, "the probe went to the recovered primary"
    assert len(secondary.jobs) == in_secondary


@contextmanager
def dynamodb_outage(client: Any, marker: str) -> Iterator[None]:
    """While active, UpdateItem calls whose first value is ``marker`` fail with a 500."""

    def fail(params: Mapping[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        body = params.get("body") or b""
        text = body.decode() if isinstance(body, bytes) else str(body)
        if marker not in text or "SET #n0 = :v0," not in text:
            return None
        error = {"Code": "InternalServerError", "Message": "DynamoDB is unavailable"}
        parsed = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 500}}
        return AWSResponse(params["url"], 500, {}, None), parsed

    event = "before-call.dynamodb.UpdateItem"
    client.meta.events.register_first(event, fail, unique_id="dynamodb-outage")
    try:
        yield
    finally:
        client.meta.events.unregister(event, unique_id="dynamodb-outage")


def kms_key_names(session: Any) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every name of every key in the account (ID, ARN, alias, alias ARN) -> (ARN, aliases)."""
    kms = session.client("kms")
    aliases = kms.list_aliases()["Aliases"]
    names: dict[str, tuple[str, tuple[str, ...]]] = {}
    for key in kms.list_keys()["Keys"]:
        own = [a for a in aliases if a.get("TargetKeyId") == key["KeyId"]]
        entry = (key["KeyArn"], tuple(sorted(a["AliasName"] for a in own)))
        names[key["KeyId"]] = names[key["KeyArn"]] = entry
        for alias in own:
            names[alias["AliasName"]] = names[alias["AliasArn"]] = entry
    return names


def create_existing_key(stack: TemplateStack, alias: str) -> None:
    """The customer managed key a stack on an existing key is given by alias."""
    kms = stack.session.client("kms")
    key_id = kms.create_key(Description="existing key")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)


def run_deployment(name: str, deployment: Deployment, workdir: Path) -> Run:
    with pytest.MonkeyPatch.context() as monkeypatch:
        for variable, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            monkeypatch.setenv(variable, value)
        template = build_template(deployment.profile).to_dict()
        zip_path = write_handler_zip(workdir / "artifacts")
        with mock_aws():
            stack = TemplateStack(template, name=STACK, parameters=dict(deployment.parameters))
            if ids.P_KMS_KEY_ALIAS in deployment.parameters:
                create_existing_key(stack, deployment.parameters[ids.P_KMS_KEY_ALIAS])
            stack.create()
            functions = {
                function_id: LambdaFunction(
                    extract(zip_path, workdir / function_id),
                    stack.function(function_id)["Handler"],
                    stack.environment(function_id),
                )
                for function_id in FUNCTIONS
            }
            queue_arn = stack.physical[ids.MEDIACONVERT_QUEUE]["Arn"]
            mediaconvert = FakeMediaConvert(queue_arn=queue_arn)
            # The fallback region's MediaConvert (one fake per region), for a fallback profile.
            secondary = FakeMediaConvert(queue_arn=FALLBACK_QUEUE, region=FALLBACK_REGION)
            for function in functions.values():
                function.runtime().clients.mediaconvert = mediaconvert
                function.runtime().clients.regional_mediaconvert[FALLBACK_REGION] = secondary
            recorder = CallRecorder()
            for function_id, function in functions.items():
                recorder.attach(function_id, function.runtime().clients)
            watch = InvocationWatch()
            # Duck-typed: the pipeline only invokes them and reads their modules.
            watched: dict[str, Any] = {
                function_id: WatchedFunction(function, function_id, watch)
                for function_id, function in functions.items()
            }
            pipeline = Pipeline(
                stack=stack,
                orchestrator=watched[ids.ORCHESTRATOR_FUNCTION],
                processor=watched[ids.STATUS_FUNCTION],
                reconciler=watched[ids.RECONCILER_FUNCTION],
                mediaconvert=mediaconvert,
                clock=SimulatedClock(monkeypatch),
                observer_url="",  # no downstream consumer: the recorded PutEvents are read
            )
            share_simulated_time(pipeline, monkeypatch)
            with watch.watching():
                drive(pipeline)
                if deployment.profile.capacity is not None:
                    drive_budget_repair(pipeline)
                    drive_fallback(pipeline, secondary)
            deployed = DeployedStack(
                template,
                Scenario(name, dict(deployment.parameters)),
                SampleEnvironment(account_id=ACCOUNT, region=REGION, stack_name=STACK),
                stack.physical,
                kms_key_names(stack.session),
            )
            return Run(
                name=name,
                audit=Audit(deployed, list(recorder.calls), FUNCTIONS),
                sdk_calls_seen=len(watch.calls),
                unrecorded=watch.unrecorded(recorder.calls),
                status_failures=pipeline.status_failures,
                final_statuses={a["s3Key"]: a["status"] for a in pipeline.assets()},
            )


@pytest.fixture(scope="module", params=[CREATED_KEY, EXISTING_KEY, CAPACITY])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    name = str(request.param)
    return run_deployment(name, deployments()[name], tmp_path_factory.mktemp("iam"))


def expected_unexercised(run: Run) -> dict[str, str]:
    stack = run.audit.stack
    created_key = (
        stack.resolver.arn(ids.KMS_KEY) if stack.resolver.condition(ids.C_CREATE_KMS_KEY) else ""
    )
    found: dict[str, str] = {}
    for unit, reason in UNEXERCISED[run.name].items():
        function_id = ROLE_FUNCTIONS[unit.split("/", 1)[0]]
        name = stack.function_name(function_id)
        found[unit.format(created_key=created_key, function_name=name)] = reason
    return found


def new_denials(audit: Audit, overrides: Mapping[str, list[dict[str, Any]]]) -> list[Denial]:
    """Denials with a role's policies replaced, beyond those of the policies as rendered."""
    baseline = {d.requirement for d in audit.denials()}
    return [d for d in audit.denials(overrides) if d.requirement not in baseline]


# --- the tests -------------------------------------------------------------------------------


def test_the_run_takes_every_path_that_calls_aws_differently(run: Run) -> None:
    statuses = run.final_statuses
    assert statuses[UPLOADS["plain"]] == statuses[UPLOADS["plus"]] == "SUCCEEDED"
    assert statuses[UPLOADS["flaky"]] == statuses[UPLOADS["outage"]] == "SUCCEEDED"
    assert statuses[INTERRUPTED] == "SUCCEEDED"
    assert statuses[CAPTIONED] == "SUCCEEDED" and CAPTIONS not in statuses
    caption_copies = [
        call
        for call in run.audit.calls
        if call.label == "s3.CopyObject"
        and str(call.params.get("Key", "")).endswith("/captions.vtt")
    ]
    assert caption_copies, "the caption file was copied beside the working copy"
    assert statuses[UPLOADS["broken"]] == statuses[UPLOADS["invalid"]] == "FAILED"
    assert statuses[LOST] == "SUCCEEDED"  # finished from GetJob by the reconciler
    assert statuses[ABANDONED] == "SUCCEEDED"  # nudged by the reconciler
    assert statuses[KILLER] == statuses[REJECTED] == statuses[HALTING] == "FAILED"
    assert statuses[REDRIVEN] == "SUCCEEDED"
    assert statuses[STALLED] == statuses[UNRECORDED] == "FAILED"  # dead letters
    assert run.status_failures == 1, "the outage's event went to the on-failure destination"
    for function_id, expected in EXERCISED_CALLS.items():
        extra = EXISTING_KEY_CALLS if run.name == EXISTING_KEY else set()
        if run.name == CAPACITY:
            extra = CAPACITY_CALLS[function_id]
        made = {call.label for call in run.audit.calls if call.function_id == function_id}
        assert made >= expected | extra, (function_id, sorted((expected | extra) - made))
    print(f"\n[{run.name}]\n{run.audit.table()}")


def test_capacity_calls_reach_the_budget_table_and_every_configured_queue(run: Run) -> None:
    if run.name != CAPACITY:
        pytest.skip("only the capacity deployment routes jobs")
    stack = run.audit.stack
    writes = {
        call.function_id
        for call in run.audit.calls
        if (call.service, call.operation) == ("dynamodb", "UpdateItem")
        and call.params["TableName"] == f"{STACK}-Capacity"
    }
    assert writes == set(FUNCTIONS)  # taken, given back, repaired
    queues = {
        stack.sample(call.params["Queue"])
        for call in run.audit.calls
        if call.operation in ("CreateJob", "SearchJobs")
    }
    assert RESERVED_QUEUE in queues and FALLBACK_QUEUE in queues and len(queues) == 3
    in_fallback = {call.label for call in run.audit.calls if call.region == FALLBACK_REGION}
    assert in_fallback >= {
        "mediaconvert.CreateJob",
        "mediaconvert.SearchJobs",
        "mediaconvert.GetJob",
    }
    breaker_reads = [
        call
        for call in run.audit.calls
        if call.label == "dynamodb.GetItem"
        and call.params["TableName"] == f"{STACK}-Capacity"
        and call.function_id == ids.ORCHESTRATOR_FUNCTION
    ]
    assert breaker_reads, "the orchestrator reads the breaker before placing jobs"
    put_off = [
        call
        for call in run.audit.calls
        if call.function_id == ids.ORCHESTRATOR_FUNCTION and call.label == "sqs.SendMessage"
    ]
    assert put_off, "the bursts filled the budgets and put assets off"


def test_every_sdk_call_of_the_handlers_was_recorded(run: Run) -> None:
    botocore_calls = [c for c in run.audit.calls if c.service != "mediaconvert"]
    assert run.sdk_calls_seen == len(botocore_calls) > 0
    assert run.unrecorded == []


def test_a_call_through_a_client_the_recorder_does_not_know_is_noticed() -> None:
    watch = InvocationWatch()
    with mock_aws(), watch.watching(), watch.invoking(ids.STATUS_FUNCTION):
        boto3.client("sqs", region_name=REGION).list_queues()
    assert watch.unrecorded([]) == [(ids.STATUS_FUNCTION, "sqs.ListQueues")]


def test_every_call_of_each_function_is_allowed(run: Run) -> None:
    denials = [denial.describe() for denial in run.audit.denials()]
    assert denials == [], "\n".join(denials)


def test_every_grant_of_each_role_is_used_or_explained(run: Run) -> None:
    unused = {unit.describe() for unit in run.audit.unexercised()}
    expected = expected_unexercised(run)
    assert sorted(unused - set(expected)) == [], "grants that no request relies on"
    assert sorted(set(expected) - unused) == [], (
        "explained as unused, but now used (or no longer granted)"
    )


def test_dropping_any_statement_denies_a_request_it_allowed(run: Run) -> None:
    """Every statement is needed: without it, some request of the run is denied."""
    stack = run.audit.stack
    explained = set(expected_unexercised(run))
    unnoticed: list[str] = []
    for role_id in ROLE_FUNCTIONS:
        (document,) = stack.identity_policies(role_id)
        for index, statement in enumerate(sequence_of(document["Statement"])):
            if {u.describe() for u in grant_units(role_id, statement, index)} <= explained:
                continue  # wholly unused, and explained as such
            overrides = {role_id: [without_statement(document, statement["Sid"])]}
            denied = {d.requirement.action for d in new_denials(run.audit, overrides)}
            if not denied & set(sequence_of(statement["Action"])):
                unnoticed.append(f"{role_id}/{statement['Sid']}")
    assert unnoticed == []


def test_a_dropped_statement_is_reported_as_the_permission_it_held(run: Run) -> None:
    stack = run.audit.stack
    (document,) = stack.identity_policies(ids.STATUS_ROLE)
    overrides = {ids.STATUS_ROLE: [without_statement(document, "WriteAssetManifests")]}
    denials = new_denials(run.audit, overrides)
    assert {d.requirement.action for d in denials} == {"s3:PutObject"}
    outputs = stack.resolver.arn(ids.OUTPUTS_BUCKET)
    for denial in denials:
        assert denial.requirement.source == "s3.PutObject"
        assert denial.requirement.resource.startswith(f"{outputs}/")
        assert denial.requirement.resource.endswith(f"/{MANIFEST_FILE_NAME}")
        assert not denial.role_allows
        assert f"{ids.STATUS_ROLE} allows no s3:PutObject" in denial.describe()


def test_a_new_call_outside_the_grants_is_reported(run: Run) -> None:
    stack = run.audit.stack
    table = stack.resolver.physical_name(ids.ASSETS_TABLE)
    outputs = stack.resolver.physical_name(ids.OUTPUTS_BUCKET)
    new_calls = [
        RecordedCall(ids.STATUS_FUNCTION, "dynamodb", "DeleteItem", {"TableName": table}),
        # A manifest under another key: the role may put it, the bucket policy refuses it.
        RecordedCall(
            ids.STATUS_FUNCTION,
            "s3",
            "PutObject",
            {
                "Bucket": outputs,
                "Key": f"alice/asset/{MANIFEST_FILE_NAME}",
                "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": OTHER_KEY_ARN,
            },
        ),
    ]
    widened = Audit(stack, [*run.audit.calls, *new_calls], FUNCTIONS)
    baseline = {d.requirement for d in run.audit.denials()}
    denied = {
        (d.requirement.action, d.role_allows, d.decision)
        for d in widened.denials()
        if d.requirement not in baseline
    }
    assert denied == {
        ("dynamodb:DeleteItem", False, Decision.IMPLICIT_DENY),
        ("s3:PutObject", True, Decision.EXPLICIT_DENY),
        ("kms:GenerateDataKey", False, Decision.IMPLICIT_DENY),
    }


def test_a_call_without_a_rule_fails_the_audit(run: Run) -> None:
    queue = run.audit.stack.resolver.ref(ids.PROCESSING_QUEUE)
    purge = RecordedCall(ids.ORCHESTRATOR_FUNCTION, "sqs", "PurgeQueue", {"QueueUrl": queue})
    with pytest.raises(UnmappedCallError, match=r"sqs\.PurgeQueue"):
        Audit(run.audit.stack, [*run.audit.calls, purge], FUNCTIONS)


def test_requests_name_the_templates_resources_and_their_policies(run: Run) -> None:
    """moto's physical names were translated: requests meet the template's resolved policies."""
    stack = run.audit.stack
    resources = {r.resource for r in run.audit.requirements}
    for logical_id in (ids.ASSETS_TABLE, ids.PROCESSING_QUEUE, ids.MEDIACONVERT_QUEUE):
        assert stack.resolver.arn(logical_id) in resources, logical_id
    manifests = [r for r in resources if r.endswith(f"/{MANIFEST_FILE_NAME}")]
    assert manifests and all(stack.resource_policies(m) for m in manifests)
    key_requests = [r for r in run.audit.requirements if r.action.startswith("kms:")]
    owns_key = stack.resolver.condition(ids.C_CREATE_KMS_KEY)
    assert key_requests and all((r.key_policy is not None) == owns_key for r in key_requests)
