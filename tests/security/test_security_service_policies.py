"""Queue, key, topic, log-group and trust policies let exactly the intended services in."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sample_deployment import (
    BOTH_SCENARIOS,
    ENV,
    OTHER_ACCOUNT,
    Deployment,
    job_events_log_group_template,
)

from mediapipe_cfn import ids
from mediapipe_cfn.profile.loader import load_profile
from mediapipe_cfn.security.evaluator import (
    ANONYMOUS,
    Decision,
    Principal,
    Request,
    evaluate_access,
)
from mediapipe_cfn.security.gate import rendered_template
from mediapipe_cfn.security.intrinsics import sequence_of
from mediapipe_cfn.security.policies import PolicyKind

EVENTS = Principal.service("events.amazonaws.com")
FOREIGN_ROLE = Principal.role(f"arn:aws:iam::{OTHER_ACCOUNT}:role/attacker")


@pytest.fixture(scope="module")
def stack() -> Deployment:
    return Deployment.of("prod")


@pytest.fixture(scope="module")
def stack_with_job_events_log_group() -> Deployment:
    return Deployment(job_events_log_group_template("prod"))


def rule_arn(stack: Deployment, rule_id: str) -> str:
    return stack.arn(rule_id)


def from_rule(stack: Deployment, rule_id: str) -> dict[str, Any]:
    return {"aws:SourceArn": rule_arn(stack, rule_id), "aws:SourceAccount": ENV.account_id}


# --- SQS ---------------------------------------------------------------------------------------


def test_processing_queue_accepts_only_the_upload_rule(stack: Deployment) -> None:
    queue = stack.arn(ids.PROCESSING_QUEUE)
    allowed = stack.decide(
        EVENTS, "sqs:SendMessage", queue, **from_rule(stack, ids.UPLOAD_EVENTS_RULE)
    )
    assert allowed is Decision.ALLOW
    other_rule = ENV.arn("events", "rule/someone-elses-rule")
    for principal, context in [
        (EVENTS, from_rule(stack, ids.JOB_STATE_RULE)),
        (EVENTS, {"aws:SourceArn": other_rule}),
        (EVENTS, {}),
        (Principal.service("sns.amazonaws.com"), from_rule(stack, ids.UPLOAD_EVENTS_RULE)),
        (Principal.service("s3.amazonaws.com"), {"aws:SourceArn": stack.arn(ids.UPLOADS_BUCKET)}),
        (ANONYMOUS, {}),
        (FOREIGN_ROLE, {}),
    ]:
        assert (
            stack.decide(principal, "sqs:SendMessage", queue, **context) is Decision.IMPLICIT_DENY
        ), (
            principal,
            context,
        )


def test_the_upload_rule_may_only_send(stack: Deployment) -> None:
    queue = stack.arn(ids.PROCESSING_QUEUE)
    context = from_rule(stack, ids.UPLOAD_EVENTS_RULE)
    for action in (
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:PurgeQueue",
        "sqs:SetQueueAttributes",
    ):
        assert stack.decide(EVENTS, action, queue, **context) is Decision.IMPLICIT_DENY


def test_plain_http_is_refused_by_every_queue(stack: Deployment) -> None:
    for queue_id in (
        ids.PROCESSING_QUEUE,
        ids.PROCESSING_DLQ,
        ids.STATUS_FAILURE_QUEUE,
        ids.EVENTS_DLQ,
    ):
        context = {**from_rule(stack, ids.UPLOAD_EVENTS_RULE), "aws:SecureTransport": False}
        decision = stack.decide(EVENTS, "sqs:SendMessage", stack.arn(queue_id), **context)
        assert decision is Decision.EXPLICIT_DENY, queue_id
        orchestrator = stack.role(ids.ORCHESTRATOR_ROLE)
        plain = stack.decide(
            orchestrator,
            "sqs:ReceiveMessage",
            stack.arn(queue_id),
            **{"aws:SecureTransport": False},
        )
        assert plain is Decision.EXPLICIT_DENY


def test_failure_queues_accept_no_service_sender(stack: Deployment) -> None:
    for queue_id in (ids.PROCESSING_DLQ, ids.STATUS_FAILURE_QUEUE):
        for rule_id in (ids.UPLOAD_EVENTS_RULE, ids.JOB_STATE_RULE):
            decision = stack.decide(
                EVENTS, "sqs:SendMessage", stack.arn(queue_id), **from_rule(stack, rule_id)
            )
            assert decision is Decision.IMPLICIT_DENY


def test_event_delivery_dlq_accepts_the_pipeline_rules_only(stack: Deployment) -> None:
    queue = stack.arn(ids.EVENTS_DLQ)
    for rule_id in (ids.UPLOAD_EVENTS_RULE, ids.JOB_STATE_RULE):
        assert (
            stack.decide(EVENTS, "sqs:SendMessage", queue, **from_rule(stack, rule_id))
            is Decision.ALLOW
        )
    other = {"aws:SourceArn": ENV.arn("events", "rule/other")}
    assert stack.decide(EVENTS, "sqs:SendMessage", queue, **other) is Decision.IMPLICIT_DENY


def test_pipeline_roles_use_their_queues_by_iam(stack: Deployment) -> None:
    orchestrator = stack.role(ids.ORCHESTRATOR_ROLE)
    status = stack.role(ids.STATUS_ROLE)
    processing = stack.arn(ids.PROCESSING_QUEUE)
    assert stack.decide(orchestrator, "sqs:ReceiveMessage", processing) is Decision.ALLOW
    assert stack.decide(orchestrator, "sqs:ChangeMessageVisibility", processing) is Decision.ALLOW
    assert (
        stack.decide(orchestrator, "sqs:ReceiveMessage", stack.arn(ids.PROCESSING_DLQ))
        is Decision.IMPLICIT_DENY
    )
    assert stack.decide(orchestrator, "sqs:PurgeQueue", processing) is Decision.IMPLICIT_DENY
    for queue_id in (ids.PROCESSING_QUEUE, ids.PROCESSING_DLQ, ids.STATUS_FAILURE_QUEUE):
        assert stack.decide(status, "sqs:SendMessage", stack.arn(queue_id)) is Decision.ALLOW
    assert stack.decide(status, "sqs:ReceiveMessage", processing) is Decision.IMPLICIT_DENY
    assert (
        stack.decide(status, "sqs:SendMessage", stack.arn(ids.EVENTS_DLQ)) is Decision.IMPLICIT_DENY
    )


# --- KMS -----------------------------------------------------------------------------------------


def test_key_policy_grants_no_wildcard_principal(stack: Deployment) -> None:
    for statement in sequence_of(stack.key_policy["Statement"]):
        principal = statement["Principal"]
        assert principal != "*"
        assert "NotPrincipal" not in statement
        for values in principal.values():
            assert "*" not in sequence_of(values), statement["Sid"]
        services = sequence_of(principal.get("Service"))
        if services:
            assert statement.get("Condition"), f"{statement['Sid']}: a service grant must be pinned"
        for aws in sequence_of(principal.get("AWS")):
            assert aws == f"arn:aws:iam::{ENV.account_id}:root"


def test_no_principal_outside_the_account_can_use_the_key(stack: Deployment) -> None:
    for principal in (ANONYMOUS, FOREIGN_ROLE, Principal.service("s3.amazonaws.com")):
        for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:PutKeyPolicy"):
            assert stack.decide_kms(principal, action).allowed is False


def test_a_role_of_the_account_needs_an_iam_grant(stack: Deployment) -> None:
    bystander = Principal.role(f"arn:aws:iam::{ENV.account_id}:role/bystander")
    assert stack.decide_kms(bystander, "kms:Decrypt") is Decision.IMPLICIT_DENY


def test_eventbridge_uses_the_key_only_for_the_pipeline_rules(stack: Deployment) -> None:
    for rule_id in (ids.UPLOAD_EVENTS_RULE, ids.JOB_STATE_RULE):
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            assert stack.decide_kms(EVENTS, action, **from_rule(stack, rule_id)) is Decision.ALLOW
    other = {"aws:SourceArn": ENV.arn("events", "rule/other")}
    assert stack.decide_kms(EVENTS, "kms:GenerateDataKey", **other) is Decision.IMPLICIT_DENY
    assert stack.decide_kms(EVENTS, "kms:GenerateDataKey") is Decision.IMPLICIT_DENY
    assert (
        stack.decide_kms(EVENTS, "kms:Encrypt", **from_rule(stack, ids.UPLOAD_EVENTS_RULE))
        is Decision.IMPLICIT_DENY
    )


def test_cloudwatch_logs_uses_the_key_only_for_pipeline_log_groups(
    stack: Deployment, stack_with_job_events_log_group: Deployment
) -> None:
    logs = Principal.service(f"logs.{ENV.region}.{ENV.url_suffix}")
    context_key = "kms:EncryptionContext:aws:logs:arn"
    for deployment, log_group_id in (
        (stack, ids.ORCHESTRATOR_LOG_GROUP),
        (stack, ids.STATUS_LOG_GROUP),
        (stack, ids.RECONCILER_LOG_GROUP),
        (stack_with_job_events_log_group, ids.JOB_EVENTS_LOG_GROUP),
    ):
        log_group = deployment.arn(log_group_id).removesuffix(":*")
        decision = deployment.decide_kms(logs, "kms:Encrypt", **{context_key: log_group})
        assert decision is Decision.ALLOW, log_group_id
    other = ENV.arn("logs", "log-group:/aws/lambda/someone-else")
    assert stack.decide_kms(logs, "kms:Decrypt", **{context_key: other}) is Decision.IMPLICIT_DENY
    assert (
        stack.decide_kms(
            Principal.service("logs.eu-west-1.amazonaws.com"), "kms:Decrypt", **{context_key: other}
        )
        is Decision.IMPLICIT_DENY
    )


def test_cloudwatch_alarms_use_the_key_only_for_this_account(stack: Deployment) -> None:
    cloudwatch = Principal.service("cloudwatch.amazonaws.com")
    alarm = ENV.arn("cloudwatch", "alarm:mediapipe-test-queue-depth")
    ok = {"aws:SourceAccount": ENV.account_id, "aws:SourceArn": alarm}
    assert stack.decide_kms(cloudwatch, "kms:GenerateDataKey", **ok) is Decision.ALLOW
    foreign = {
        "aws:SourceAccount": OTHER_ACCOUNT,
        "aws:SourceArn": alarm.replace(ENV.account_id, OTHER_ACCOUNT),
    }
    assert stack.decide_kms(cloudwatch, "kms:GenerateDataKey", **foreign) is Decision.IMPLICIT_DENY


# --- SNS and CloudWatch Logs -------------------------------------------------------------------


def test_alarm_topic_accepts_this_accounts_alarms_over_tls(stack: Deployment) -> None:
    topic = stack.resolver.ref(ids.ALARM_TOPIC)
    cloudwatch = Principal.service("cloudwatch.amazonaws.com")
    alarm = ENV.arn("cloudwatch", "alarm:x")
    ok = {"aws:SourceAccount": ENV.account_id, "aws:SourceArn": alarm}
    assert stack.decide(cloudwatch, "sns:Publish", topic, **ok) is Decision.ALLOW
    assert (
        stack.decide(cloudwatch, "sns:Publish", topic, **{**ok, "aws:SecureTransport": False})
        is Decision.EXPLICIT_DENY
    )
    assert (
        stack.decide(cloudwatch, "sns:Publish", topic, **{**ok, "aws:SourceAccount": OTHER_ACCOUNT})
        is Decision.IMPLICIT_DENY
    )
    assert stack.decide(EVENTS, "sns:Publish", topic, **ok) is Decision.IMPLICIT_DENY
    assert stack.decide(ANONYMOUS, "sns:Subscribe", topic) is Decision.IMPLICIT_DENY


def test_asset_events_topic_takes_the_status_processor_over_tls(stack: Deployment) -> None:
    topic = stack.resolver.ref(ids.ASSET_EVENTS_TOPIC)
    status = stack.role(ids.STATUS_ROLE)
    assert stack.decide(status, "sns:Publish", topic) is Decision.ALLOW
    assert (
        stack.decide(status, "sns:Publish", topic, **{"aws:SecureTransport": False})
        is Decision.EXPLICIT_DENY
    )
    assert stack.decide(ANONYMOUS, "sns:Publish", topic) is Decision.IMPLICIT_DENY


def test_job_events_log_accepts_the_job_state_rule(
    stack_with_job_events_log_group: Deployment,
) -> None:
    stack = stack_with_job_events_log_group
    document = stack.policy(ids.JOB_EVENTS_LOG_POLICY, PolicyKind.RESOURCE)
    stream = stack.arn(ids.JOB_EVENTS_LOG_GROUP).removesuffix("*") + "log-stream:s1"

    def decide(action: str, **context: Any) -> Decision:
        return evaluate_access(
            Request(EVENTS, action, stream, context), resource_policies=[document]
        )

    assert (
        decide("logs:PutLogEvents", **{"aws:SourceArn": stack.arn(ids.JOB_STATE_RULE)})
        is Decision.ALLOW
    )
    assert (
        decide("logs:PutLogEvents", **{"aws:SourceArn": stack.arn(ids.UPLOAD_EVENTS_RULE)})
        is Decision.IMPLICIT_DENY
    )
    assert decide("logs:CreateLogStream") is Decision.ALLOW
    other_group = ENV.arn("logs", "log-group:/aws/events/other:log-stream:s1")
    other = Request(EVENTS, "logs:CreateLogStream", other_group)
    assert evaluate_access(other, resource_policies=[document]) is Decision.IMPLICIT_DENY


def test_only_the_job_state_rule_invokes_the_status_processor(stack: Deployment) -> None:
    function = stack.arn(ids.STATUS_FUNCTION)
    document = stack.policy(ids.STATUS_INVOKE_PERMISSION, PolicyKind.RESOURCE)

    def decide(principal: Principal, **context: Any) -> Decision:
        request = Request(principal, "lambda:InvokeFunction", function, context)
        return evaluate_access(request, resource_policies=[document])

    assert decide(EVENTS, **{"aws:SourceArn": stack.arn(ids.JOB_STATE_RULE)}) is Decision.ALLOW
    assert (
        decide(EVENTS, **{"aws:SourceArn": stack.arn(ids.UPLOAD_EVENTS_RULE)})
        is Decision.IMPLICIT_DENY
    )
    assert decide(Principal.service("sns.amazonaws.com")) is Decision.IMPLICIT_DENY


def test_only_the_schedule_rule_invokes_the_reconciler(stack: Deployment) -> None:
    function = stack.arn(ids.RECONCILER_FUNCTION)
    document = stack.policy(ids.RECONCILER_INVOKE_PERMISSION, PolicyKind.RESOURCE)

    def decide(principal: Principal, **context: Any) -> Decision:
        request = Request(principal, "lambda:InvokeFunction", function, context)
        return evaluate_access(request, resource_policies=[document])

    schedule = stack.arn(ids.RECONCILE_SCHEDULE_RULE)
    assert decide(EVENTS, **{"aws:SourceArn": schedule}) is Decision.ALLOW
    for other in (ids.JOB_STATE_RULE, ids.UPLOAD_EVENTS_RULE):
        assert decide(EVENTS, **{"aws:SourceArn": stack.arn(other)}) is Decision.IMPLICIT_DENY
    assert decide(EVENTS) is Decision.IMPLICIT_DENY
    assert decide(FOREIGN_ROLE) is Decision.IMPLICIT_DENY


# The account-wide policy docs/operations.md tells an administrator to create once.
OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def documented_shared_job_events_policy(workdir: Path) -> dict[str, Any]:
    """Run the documented commands that write the policy file (all but the AWS call)."""
    text = OPERATIONS.read_text(encoding="utf-8")
    found = re.search(
        r"\nREGION=[^\n]*\n(cat > job-events-policy\.json <<EOF\n.*?\nEOF\n)", text, re.S
    )
    assert found, "docs/operations.md shows how to write job-events-policy.json"
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "REGION": ENV.region,
        "ACCOUNT": ENV.account_id,
    }
    subprocess.run(["bash", "-c", found.group(1)], cwd=workdir, env=environment, check=True)
    return json.loads((workdir / "job-events-policy.json").read_text(encoding="utf-8"))


def test_the_documented_shared_policy_lets_every_pipelines_job_state_rule_write_its_log(
    tmp_path: Path,
) -> None:
    document = documented_shared_job_events_policy(tmp_path)
    profile = load_profile("prod")
    observability = profile.observability.model_copy(
        update={"job_event_log": "log_group_shared_policy"}
    )
    template = rendered_template(profile.model_copy(update={"observability": observability}))
    types = {body["Type"] for body in template["Resources"].values()}
    assert "AWS::Logs::ResourcePolicy" not in types, "the stack relies on the shared policy"
    stack = Deployment(template)
    stream = stack.arn(ids.JOB_EVENTS_LOG_GROUP).removesuffix("*") + "log-stream:s1"

    def decide(action: str, resource: str = stream, **context: Any) -> Decision:
        request = Request(EVENTS, action, resource, context)
        return evaluate_access(request, resource_policies=[document])

    rule = stack.arn(ids.JOB_STATE_RULE)
    assert decide("logs:PutLogEvents", **{"aws:SourceArn": rule}) is Decision.ALLOW
    assert decide("logs:CreateLogStream") is Decision.ALLOW
    # Another pipeline's job-state rule is covered too: that is the point of sharing it.
    other_pipeline = rule.replace(ENV.stack_name, "another-pipeline")
    other_stream = stream.replace(ENV.stack_name, "another-pipeline")
    assert (
        decide("logs:PutLogEvents", other_stream, **{"aws:SourceArn": other_pipeline})
        is Decision.ALLOW
    )
    # Nothing else: not the upload rule, not another log group, not another account's rule.
    upload_rule = stack.arn(ids.UPLOAD_EVENTS_RULE)
    assert decide("logs:PutLogEvents", **{"aws:SourceArn": upload_rule}) is Decision.IMPLICIT_DENY
    foreign_rule = rule.replace(ENV.account_id, OTHER_ACCOUNT)
    assert decide("logs:PutLogEvents", **{"aws:SourceArn": foreign_rule}) is Decision.IMPLICIT_DENY
    lambda_log = ENV.arn("logs", "log-group:/aws/lambda/x:log-stream:s1")
    assert decide("logs:CreateLogStream", lambda_log) is Decision.IMPLICIT_DENY
    assert (
        decide("logs:PutLogEvents", lambda_log, **{"aws:SourceArn": rule}) is Decision.IMPLICIT_DENY
    )


# --- trust policies ----------------------------------------------------------------------------


def assume(stack: Deployment, role_id: str, principal: Principal, **context: Any) -> Decision:
    request = Request(principal, "sts:AssumeRole", stack.arn(role_id), context)
    return evaluate_access(request, resource_policies=[stack.trust_policy(role_id)])


def test_mediaconvert_trust_is_pinned_to_the_account_and_the_pipeline_queue(
    stack: Deployment,
) -> None:
    mediaconvert = Principal.service("mediaconvert.amazonaws.com")
    queue = stack.arn(ids.MEDIACONVERT_QUEUE)
    pinned = {"aws:SourceAccount": ENV.account_id, "aws:SourceArn": queue}
    assert assume(stack, ids.MEDIACONVERT_ROLE, mediaconvert, **pinned) is Decision.ALLOW
    default_queue = ENV.arn("mediaconvert", "queues/Default")
    for context in [
        {"aws:SourceAccount": ENV.account_id, "aws:SourceArn": default_queue},
        {
            "aws:SourceAccount": OTHER_ACCOUNT,
            "aws:SourceArn": queue.replace(ENV.account_id, OTHER_ACCOUNT),
        },
        {"aws:SourceAccount": OTHER_ACCOUNT, "aws:SourceArn": queue},
        {"aws:SourceAccount": ENV.account_id},
        {},
    ]:
        assert (
            assume(stack, ids.MEDIACONVERT_ROLE, mediaconvert, **context) is Decision.IMPLICIT_DENY
        ), context
    for principal in (
        Principal.service("lambda.amazonaws.com"),
        stack.role(ids.ORCHESTRATOR_ROLE),
        ANONYMOUS,
    ):
        assert assume(stack, ids.MEDIACONVERT_ROLE, principal, **pinned) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize("role_id", [ids.ORCHESTRATOR_ROLE, ids.STATUS_ROLE])
def test_function_roles_trust_lambda_only(stack: Deployment, role_id: str) -> None:
    assert assume(stack, role_id, Principal.service("lambda.amazonaws.com")) is Decision.ALLOW
    for principal in (
        Principal.service("mediaconvert.amazonaws.com"),
        EVENTS,
        FOREIGN_ROLE,
        ANONYMOUS,
    ):
        assert assume(stack, role_id, principal) is Decision.IMPLICIT_DENY


@BOTH_SCENARIOS
def test_trust_policies_name_no_wildcard_principal(scenario: str) -> None:
    stack = Deployment.of("prod", scenario)
    trust = [p for p in stack.policies if p.kind is PolicyKind.TRUST]
    assert trust
    for policy in trust:
        for statement in policy.statements():
            assert statement["Principal"] != "*"
            assert "*" not in sequence_of(statement["Principal"].get("AWS"))
            assert sequence_of(statement["Action"]) == ["sts:AssumeRole"]
