"""The roles' policies allow each handler's calls, and little else.

``HANDLER_CALLS`` lists the AWS calls the three handlers make (see ``handlers/``; the
reconciler's and the working-copy calls as the handler design specifies them), as the IAM
requests they become; every one must be allowed, for the parameter defaults and the alternative
parameters. The other tests probe the edges: another queue, another role, another table action.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sample_deployment import ENV, Deployment

from mediapipe_cfn import contract, ids
from mediapipe_cfn.security.evaluator import (
    Decision,
    Principal,
    PrincipalMatch,
    Request,
    statement_applies,
)
from mediapipe_cfn.security.intrinsics import ALTERNATIVES_NAME
from mediapipe_cfn.security.policies import PolicyKind

SSE = "s3:x-amz-server-side-encryption"
SSE_KEY = "s3:x-amz-server-side-encryption-aws-kms-key-id"
UPLOAD_KEY = "uploads/uploader-7/holiday.mp4"
WORKING_COPY_KEY = "sources/0f1e2d3c4b5a69788796a5b4c3d2e1f0/source.mp4"
MANIFEST_KEY = f"uploader-7/asset-1/{contract.MANIFEST_FILE_NAME}"


def via(service: str) -> dict[str, str]:
    return {"kms:ViaService": f"{service}.{ENV.region}.{ENV.url_suffix}"}


@dataclass(frozen=True)
class Call:
    """One IAM request a handler makes: role, action, resource and context, from a deployment."""

    what: str
    role_id: str
    action: str
    resource: Callable[[Deployment], str]
    context: Callable[[Deployment], dict[str, Any]] = lambda stack: {}
    kms: bool = False
    # Only made when the stack uses an existing key (the handlers resolve its alias to its ARN).
    existing_key_only: bool = False

    def made_in(self, scenario: str) -> bool:
        return not self.existing_key_only or scenario == ALTERNATIVES_NAME

    def decide(self, stack: Deployment) -> Decision:
        principal = stack.role(self.role_id)
        if self.kms:
            return stack.decide_kms(principal, self.action, **self.context(stack))
        return stack.decide(principal, self.action, self.resource(stack), **self.context(stack))


ORCH, STATUS, RECONCILER = ids.ORCHESTRATOR_ROLE, ids.STATUS_ROLE, ids.RECONCILER_ROLE


def table(stack: Deployment) -> str:
    return stack.arn(ids.ASSETS_TABLE)


def log_stream(log_group_id: str) -> Callable[[Deployment], str]:
    return lambda stack: stack.arn(log_group_id).removesuffix("*") + "log-stream:2026/01/01/x"


def parameter(stack: Deployment) -> str:
    return ENV.arn("ssm", "parameter" + stack.name(ids.TRANSCODE_PARAMETER))


def function_context(function_id: str) -> Callable[[Deployment], dict[str, Any]]:
    return lambda stack: {"kms:EncryptionContext:LambdaFunctionName": stack.name(function_id)}


def index(name: str) -> Callable[[Deployment], str]:
    return lambda stack: f"{table(stack)}/index/{name}"


def job(stack: Deployment) -> str:
    return ENV.arn("mediaconvert", "jobs/1700000000000-abc123")


def working_copy(stack: Deployment) -> str:
    return stack.object_arn(ids.UPLOADS_BUCKET, WORKING_COPY_KEY)


def upload(stack: Deployment) -> str:
    return stack.object_arn(ids.UPLOADS_BUCKET, UPLOAD_KEY)


def pipeline_key(stack: Deployment) -> dict[str, Any]:
    """The copy and the manifest name the pipeline key's ARN (resolved from an alias)."""
    return {SSE: "aws:kms", SSE_KEY: stack.key_arn}


def event_bus(stack: Deployment) -> str:
    return ENV.arn("events", "event-bus/default")


def final_event(stack: Deployment) -> dict[str, Any]:
    return {
        "events:source": contract.EVENT_SOURCE,
        "events:detail-type": contract.EVENT_ASSET_FAILED,
    }


HANDLER_CALLS = [
    Call(
        "orchestrator writes its logs",
        ORCH,
        "logs:PutLogEvents",
        log_stream(ids.ORCHESTRATOR_LOG_GROUP),
    ),
    Call("orchestrator sends traces", ORCH, "xray:PutTraceSegments", lambda s: "*"),
    Call("orchestrator reads its configuration", ORCH, "ssm:GetParameter", parameter),
    Call(
        "orchestrator decrypts its environment",
        ORCH,
        "kms:Decrypt",
        lambda s: "",
        function_context(ids.ORCHESTRATOR_FUNCTION),
        kms=True,
    ),
    Call(
        "orchestrator receives uploads",
        ORCH,
        "sqs:ReceiveMessage",
        lambda s: s.arn(ids.PROCESSING_QUEUE),
    ),
    Call(
        "orchestrator deletes handled messages",
        ORCH,
        "sqs:DeleteMessage",
        lambda s: s.arn(ids.PROCESSING_QUEUE),
    ),
    Call(
        "orchestrator delays retries",
        ORCH,
        "sqs:ChangeMessageVisibility",
        lambda s: s.arn(ids.PROCESSING_QUEUE),
    ),
    Call(
        "orchestrator decrypts queue messages",
        ORCH,
        "kms:Decrypt",
        lambda s: "",
        lambda s: via("sqs"),
        kms=True,
    ),
    Call("orchestrator creates the asset record", ORCH, "dynamodb:PutItem", table),
    Call("orchestrator updates the asset record", ORCH, "dynamodb:UpdateItem", table),
    Call("orchestrator reads the asset record", ORCH, "dynamodb:GetItem", table),
    Call(
        "orchestrator encrypts table items",
        ORCH,
        "kms:GenerateDataKey",
        lambda s: "",
        lambda s: via("dynamodb"),
        kms=True,
    ),
    Call("orchestrator probes the upload", ORCH, "mediaconvert:Probe", lambda s: "*"),
    Call("orchestrator reads the uploaded version to copy it", ORCH, "s3:GetObjectVersion", upload),
    Call("orchestrator reads the upload's metadata (HeadObject)", ORCH, "s3:GetObject", upload),
    Call(
        "orchestrator writes the working copy (CopyObject, multipart copy)",
        ORCH,
        "s3:PutObject",
        working_copy,
        pipeline_key,
    ),
    Call(
        "orchestrator aborts an interrupted multipart copy",
        ORCH,
        "s3:AbortMultipartUpload",
        working_copy,
    ),
    Call("orchestrator reads the working copy for probe", ORCH, "s3:GetObject", working_copy),
    Call(
        "orchestrator encrypts the working copy",
        ORCH,
        "kms:GenerateDataKey",
        lambda s: "",
        lambda s: via("s3"),
        kms=True,
    ),
    Call(
        "orchestrator decrypts the upload for the copy and probe",
        ORCH,
        "kms:Decrypt",
        lambda s: "",
        lambda s: via("s3"),
        kms=True,
    ),
    Call(
        "orchestrator submits jobs to the pipeline queue",
        ORCH,
        "mediaconvert:CreateJob",
        lambda s: s.arn(ids.MEDIACONVERT_QUEUE),
    ),
    Call(
        "orchestrator passes the MediaConvert role",
        ORCH,
        "iam:PassRole",
        lambda s: s.mediaconvert_role.identifier,
        lambda s: {"iam:PassedToService": "mediaconvert.amazonaws.com"},
    ),
    Call(
        "orchestrator finds a job orphaned by a crash",
        ORCH,
        "mediaconvert:SearchJobs",
        lambda s: s.arn(ids.MEDIACONVERT_QUEUE),
    ),
    Call(
        "orchestrator cancels the other jobs of an asset that failed for good",
        ORCH,
        "mediaconvert:CancelJob",
        job,
    ),
    Call(
        "orchestrator parks a message that keeps ending the process",
        ORCH,
        "sqs:SendMessage",
        lambda s: s.arn(ids.PROCESSING_DLQ),
    ),
    Call(
        "orchestrator writes the manifest of a redriven asset it finishes",
        ORCH,
        "s3:PutObject",
        lambda s: s.object_arn(ids.OUTPUTS_BUCKET, MANIFEST_KEY),
        lambda s: {SSE: "aws:kms", SSE_KEY: s.key_arn},
    ),
    Call(
        "orchestrator announces an asset that failed at ingest",
        ORCH,
        "events:PutEvents",
        event_bus,
        final_event,
    ),
    Call(
        "orchestrator publishes that announcement (prod: sns_on_final_state)",
        ORCH,
        "sns:Publish",
        lambda s: s.resolver.ref(ids.ASSET_EVENTS_TOPIC),
    ),
    Call(
        "orchestrator encrypts topic messages",
        ORCH,
        "kms:GenerateDataKey",
        lambda s: "",
        lambda s: via("sns"),
        kms=True,
    ),
    Call(
        "orchestrator resolves the existing key's ARN",
        ORCH,
        "kms:DescribeKey",
        lambda s: "",
        kms=True,
        existing_key_only=True,
    ),
    Call(
        "status processor resolves the existing key's ARN for manifests (Runtime.kms_key_arn)",
        STATUS,
        "kms:DescribeKey",
        lambda s: "",
        kms=True,
        existing_key_only=True,
    ),
    Call(
        "status processor writes its logs",
        STATUS,
        "logs:PutLogEvents",
        log_stream(ids.STATUS_LOG_GROUP),
    ),
    Call("status processor sends traces", STATUS, "xray:PutTelemetryRecords", lambda s: "*"),
    Call("status processor reads its configuration", STATUS, "ssm:GetParameter", parameter),
    Call(
        "status processor decrypts its environment",
        STATUS,
        "kms:Decrypt",
        lambda s: "",
        function_context(ids.STATUS_FUNCTION),
        kms=True,
    ),
    Call("status processor reads the asset record", STATUS, "dynamodb:GetItem", table),
    Call("status processor moves the asset record", STATUS, "dynamodb:UpdateItem", table),
    Call(
        "status processor cancels the other jobs of an asset that failed for good",
        STATUS,
        "mediaconvert:CancelJob",
        job,
    ),
    Call(
        "status processor resubmits through the queue",
        STATUS,
        "sqs:SendMessage",
        lambda s: s.arn(ids.PROCESSING_QUEUE),
    ),
    Call(
        "status processor dead-letters a final failure",
        STATUS,
        "sqs:SendMessage",
        lambda s: s.arn(ids.PROCESSING_DLQ),
    ),
    Call(
        "status processor encrypts queue messages",
        STATUS,
        "kms:GenerateDataKey",
        lambda s: "",
        lambda s: via("sqs"),
        kms=True,
    ),
    Call(
        "status processor writes the manifest",
        STATUS,
        "s3:PutObject",
        lambda s: s.object_arn(ids.OUTPUTS_BUCKET, MANIFEST_KEY),
        lambda s: {SSE: "aws:kms", SSE_KEY: s.key_arn},
    ),
    Call(
        "status processor encrypts the manifest",
        STATUS,
        "kms:GenerateDataKey",
        lambda s: "",
        lambda s: via("s3"),
        kms=True,
    ),
    Call(
        "status processor announces final states",
        STATUS,
        "events:PutEvents",
        event_bus,
        final_event,
    ),
    Call(
        "status processor publishes final states (prod: sns_on_final_state)",
        STATUS,
        "sns:Publish",
        lambda s: s.resolver.ref(ids.ASSET_EVENTS_TOPIC),
    ),
    Call(
        "status processor encrypts topic messages",
        STATUS,
        "kms:GenerateDataKey",
        lambda s: "",
        lambda s: via("sns"),
        kms=True,
    ),
    *[
        Call(f"reconciler {what}", RECONCILER, action, resource, context, kms=kms)
        for what, action, resource, context, kms in [
            (
                "writes its logs",
                "logs:PutLogEvents",
                log_stream(ids.RECONCILER_LOG_GROUP),
                lambda s: {},
                False,
            ),
            ("sends traces", "xray:PutTraceSegments", lambda s: "*", lambda s: {}, False),
            ("reads its configuration", "ssm:GetParameter", parameter, lambda s: {}, False),
            (
                "decrypts its environment",
                "kms:Decrypt",
                lambda s: "",
                function_context(ids.RECONCILER_FUNCTION),
                True,
            ),
            (
                "finds stuck assets",
                "dynamodb:Query",
                index(contract.INDEX_BY_STATUS),
                lambda s: {},
                False,
            ),
            (
                "finds owed announcements",
                "dynamodb:Query",
                index(contract.INDEX_BY_OUTBOX),
                lambda s: {},
                False,
            ),
            ("re-reads an asset", "dynamodb:GetItem", table, lambda s: {}, False),
            ("finishes an asset", "dynamodb:UpdateItem", table, lambda s: {}, False),
            ("records a dead-lettered upload", "dynamodb:PutItem", table, lambda s: {}, False),
            ("reads table items", "kms:Decrypt", lambda s: "", lambda s: via("dynamodb"), True),
            ("asks MediaConvert about a job", "mediaconvert:GetJob", job, lambda s: {}, False),
            ("cancels a failed asset's jobs", "mediaconvert:CancelJob", job, lambda s: {}, False),
            (
                "resubmits an upload",
                "sqs:SendMessage",
                lambda s: s.arn(ids.PROCESSING_QUEUE),
                lambda s: {},
                False,
            ),
            (
                "encrypts queue messages",
                "kms:GenerateDataKey",
                lambda s: "",
                lambda s: via("sqs"),
                True,
            ),
            *[
                (
                    f"reads dead letters ({action})",
                    action,
                    lambda s: s.arn(ids.PROCESSING_DLQ),
                    lambda s: {},
                    False,
                )
                for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage")
            ],
            (
                "resolves a dead-lettered upload",
                "s3:GetObjectVersion",
                upload,
                lambda s: {},
                False,
            ),
            (
                "writes an owed manifest",
                "s3:PutObject",
                lambda s: s.object_arn(ids.OUTPUTS_BUCKET, MANIFEST_KEY),
                pipeline_key,
                False,
            ),
            ("announces final states", "events:PutEvents", event_bus, final_event, False),
            (
                "publishes final states (prod: sns_on_final_state)",
                "sns:Publish",
                lambda s: s.resolver.ref(ids.ASSET_EVENTS_TOPIC),
                lambda s: {},
                False,
            ),
            (
                "encrypts topic messages",
                "kms:GenerateDataKey",
                lambda s: "",
                lambda s: via("sns"),
                True,
            ),
        ]
    ],
    Call(
        "reconciler resolves the existing key's ARN",
        RECONCILER,
        "kms:DescribeKey",
        lambda s: "",
        kms=True,
        existing_key_only=True,
    ),
]

# Calls the handlers make that the roles do not allow yet (requested from the compute component).
SCENARIOS = ("parameter defaults", ALTERNATIVES_NAME)


def calls_by_scenario(calls: list[Call]) -> list[Any]:
    return [
        pytest.param(scenario, call, id=f"{scenario}-{call.what}")
        for scenario in SCENARIOS
        for call in calls
        if call.made_in(scenario)
    ]


@pytest.fixture(scope="module")
def stacks() -> dict[str, Deployment]:
    return {scenario: Deployment.of("prod", scenario) for scenario in SCENARIOS}


@pytest.fixture(scope="module", params=SCENARIOS)
def stack(request: pytest.FixtureRequest, stacks: dict[str, Deployment]) -> Deployment:
    return stacks[request.param]


@pytest.mark.parametrize(("scenario", "call"), calls_by_scenario(HANDLER_CALLS))
def test_handler_calls_are_allowed(
    stacks: dict[str, Deployment], scenario: str, call: Call
) -> None:
    assert call.decide(stacks[scenario]) is Decision.ALLOW


def test_orchestrator_submits_jobs_only_to_the_pipeline_queue(stack: Deployment) -> None:
    role = stack.role(ORCH)
    for queue in (
        ENV.arn("mediaconvert", "queues/Default"),
        ENV.arn("mediaconvert", "queues/another-pipeline-jobs"),
        stack.arn(ids.MEDIACONVERT_QUEUE).replace(ENV.account_id, "210987654321"),
    ):
        assert stack.decide(role, "mediaconvert:CreateJob", queue) is Decision.IMPLICIT_DENY, queue
    for action in (
        "mediaconvert:CancelJob",
        "mediaconvert:UpdateQueue",
        "mediaconvert:DeleteQueue",
        "mediaconvert:ListJobs",
    ):
        assert (
            stack.decide(role, action, stack.arn(ids.MEDIACONVERT_QUEUE)) is Decision.IMPLICIT_DENY
        )
    other_queue = ENV.arn("mediaconvert", "queues/another-pipeline-jobs")
    assert stack.decide(role, "mediaconvert:SearchJobs", other_queue) is Decision.IMPLICIT_DENY
    # Jobs, only to cancel those of an asset that failed for good, in this account and region.
    assert stack.decide(role, "mediaconvert:CancelJob", job(stack)) is Decision.ALLOW
    elsewhere = job(stack).replace(ENV.account_id, "210987654321")
    assert stack.decide(role, "mediaconvert:CancelJob", elsewhere) is Decision.IMPLICIT_DENY


def test_reconciler_queries_indexes_but_never_scans_or_submits(stack: Deployment) -> None:
    role = stack.role(RECONCILER)
    assert (
        stack.decide(role, "dynamodb:Query", index(contract.INDEX_BY_UPLOADER)(stack))
        is Decision.IMPLICIT_DENY
    )
    for action in ("dynamodb:Query", "dynamodb:Scan", "dynamodb:DeleteItem"):
        assert stack.decide(role, action, table(stack)) is Decision.IMPLICIT_DENY, action
    assert (
        stack.decide(role, "dynamodb:Scan", index(contract.INDEX_BY_STATUS)(stack))
        is Decision.IMPLICIT_DENY
    )
    for action, resource in [
        ("mediaconvert:CreateJob", stack.arn(ids.MEDIACONVERT_QUEUE)),
        ("sqs:SendMessage", stack.arn(ids.PROCESSING_DLQ)),
        ("sqs:ReceiveMessage", stack.arn(ids.PROCESSING_QUEUE)),
        ("sqs:PurgeQueue", stack.arn(ids.PROCESSING_DLQ)),
        ("s3:PutObject", upload(stack)),
        ("s3:GetObject", stack.object_arn(ids.OUTPUTS_BUCKET, MANIFEST_KEY)),
        ("iam:PassRole", stack.mediaconvert_role.identifier),
    ]:
        assert stack.decide(role, action, resource) is Decision.IMPLICIT_DENY, (action, resource)


def test_orchestrator_passes_only_the_mediaconvert_role_to_mediaconvert(stack: Deployment) -> None:
    role = stack.role(ORCH)
    to_mediaconvert = {"iam:PassedToService": "mediaconvert.amazonaws.com"}
    for other in (stack.arn(ORCH), stack.arn(STATUS), f"arn:aws:iam::{ENV.account_id}:role/Admin"):
        assert (
            stack.decide(role, "iam:PassRole", other, **to_mediaconvert) is Decision.IMPLICIT_DENY
        )
    mediaconvert_role = stack.mediaconvert_role.identifier
    for service in ("lambda.amazonaws.com", "ec2.amazonaws.com"):
        passed = {"iam:PassedToService": service}
        assert (
            stack.decide(role, "iam:PassRole", mediaconvert_role, **passed)
            is Decision.IMPLICIT_DENY
        )
    assert stack.decide(role, "iam:PassRole", mediaconvert_role) is Decision.IMPLICIT_DENY


def test_status_processor_cannot_submit_or_pass(stack: Deployment) -> None:
    role = stack.role(STATUS)
    assert (
        stack.decide(role, "mediaconvert:CreateJob", stack.arn(ids.MEDIACONVERT_QUEUE))
        is Decision.IMPLICIT_DENY
    )
    passed = {"iam:PassedToService": "mediaconvert.amazonaws.com"}
    assert (
        stack.decide(role, "iam:PassRole", stack.mediaconvert_role.identifier, **passed)
        is Decision.IMPLICIT_DENY
    )


@pytest.mark.parametrize("role_id", [ORCH, STATUS, RECONCILER])
@pytest.mark.parametrize(
    "action",
    ["dynamodb:DeleteItem", "dynamodb:Scan", "dynamodb:DeleteTable", "dynamodb:UpdateTable"],
)
def test_roles_cannot_delete_or_scan_the_table(
    stack: Deployment, role_id: str, action: str
) -> None:
    assert stack.decide(stack.role(role_id), action, table(stack)) is Decision.IMPLICIT_DENY


def test_only_the_orchestrator_creates_records(stack: Deployment) -> None:
    assert (
        stack.decide(stack.role(STATUS), "dynamodb:PutItem", table(stack)) is Decision.IMPLICIT_DENY
    )


def test_final_state_events_are_limited_to_the_pipeline_source(stack: Deployment) -> None:
    role = stack.role(STATUS)
    for context in [
        {"events:source": "aws.s3", "events:detail-type": contract.EVENT_ASSET_FAILED},
        {"events:source": contract.EVENT_SOURCE, "events:detail-type": "Something Else"},
        {},
    ]:
        assert (
            stack.decide(role, "events:PutEvents", event_bus(stack), **context)
            is Decision.IMPLICIT_DENY
        )
    other_bus = ENV.arn("events", "event-bus/other")
    assert (
        stack.decide(role, "events:PutEvents", other_bus, **final_event(stack))
        is Decision.IMPLICIT_DENY
    )


@pytest.mark.parametrize("role_id", [ORCH, STATUS, RECONCILER])
def test_key_use_goes_only_through_the_listed_services(stack: Deployment, role_id: str) -> None:
    principal = stack.role(role_id)
    for context in (via("ec2"), via("secretsmanager"), {}):
        assert stack.decide_kms(principal, "kms:Decrypt", **context) is Decision.IMPLICIT_DENY
    for action in ("kms:Encrypt", "kms:ReEncryptFrom", "kms:CreateGrant", "kms:PutKeyPolicy"):
        assert stack.decide_kms(principal, action, **via("s3")) is Decision.IMPLICIT_DENY


def test_environment_decryption_is_per_function(stack: Deployment) -> None:
    other_function = function_context(ids.STATUS_FUNCTION)(stack)
    assert (
        stack.decide_kms(stack.role(ORCH), "kms:Decrypt", **other_function)
        is Decision.IMPLICIT_DENY
    )


def test_mediaconvert_role_uses_the_key_only_through_s3(stacks: dict[str, Deployment]) -> None:
    stack = stacks["parameter defaults"]
    role = stack.mediaconvert_role
    assert stack.decide_kms(role, "kms:GenerateDataKey", **via("s3")) is Decision.ALLOW
    assert stack.decide_kms(role, "kms:Decrypt", **via("s3")) is Decision.ALLOW
    assert stack.decide_kms(role, "kms:Decrypt", **via("sqs")) is Decision.IMPLICIT_DENY
    assert stack.decide_kms(role, "kms:Decrypt") is Decision.IMPLICIT_DENY


def test_an_existing_key_is_matched_by_its_alias_only(stacks: dict[str, Deployment]) -> None:
    stack = stacks[ALTERNATIVES_NAME]
    assert not stack.creates_key
    role = stack.role(ORCH)
    wrong_alias = {"kms:ResourceAliases": ["alias/someone-elses-key"], **via("s3")}
    assert stack.decide_kms(role, "kms:Decrypt", **wrong_alias) is Decision.IMPLICIT_DENY
    assert stack.decide_kms(role, "kms:Decrypt", **via("s3")) is Decision.ALLOW


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_handler_calls_cover_every_statement_of_the_function_roles(
    stacks: dict[str, Deployment], scenario: str
) -> None:
    """Every Allow statement of the three function roles is needed by some handler call."""
    stack = stacks[scenario]
    calls = [c for c in HANDLER_CALLS if c.made_in(scenario)]
    unused = []
    for role_id in (ORCH, STATUS, RECONCILER):
        principal = stack.role(role_id)
        for statement in stack.policy(role_id, PolicyKind.IDENTITY)["Statement"]:
            needed = any(
                statement_applies(
                    statement, _request(stack, principal, call), resource_policy=False
                )
                is not PrincipalMatch.NONE
                for call in calls
                if call.role_id == role_id
            )
            if not needed:
                unused.append(f"{role_id} {statement['Sid']}")
    # With a key the stack creates, the handlers never resolve an alias.
    expected = (
        []
        if scenario == ALTERNATIVES_NAME
        else [f"{role} ResolvePipelineKeyArn" for role in (ORCH, STATUS, RECONCILER)]
    )
    assert unused == expected, "statements no handler call needs (too broad, or a call missing)"


def _request(stack: Deployment, principal: Principal, call: Call) -> Request:
    if call.kms:
        return stack.kms_request(principal, call.action, **call.context(stack))
    context = {"aws:SecureTransport": True, **call.context(stack)}
    return Request(principal, call.action, call.resource(stack), context)
