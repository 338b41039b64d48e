"""Extracting every IAM document, and the project's own least-privilege rules on them."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from sample_deployment import ENV, job_events_log_group_template, scenario_named, template_of

from mediapipe_cfn import ids
from mediapipe_cfn.profile.loader import builtin_profiles
from mediapipe_cfn.security.intrinsics import ALTERNATIVES_NAME, DEFAULTS
from mediapipe_cfn.security.policies import (
    IamPolicy,
    PolicyKind,
    all_policies,
    extract_policies,
    unextracted_documents,
)
from mediapipe_cfn.security.rules import (
    RESOURCE_STAR_ALLOWED,
    broad_grant_violations,
    policy_rule_violations,
    resource_star_violations,
    unpinned_service_violations,
)

PROFILES = list(builtin_profiles())


@pytest.fixture(scope="module")
def default_template() -> dict[str, Any]:
    return template_of("default")


@pytest.fixture(scope="module", params=PROFILES)
def profile_policies(request: pytest.FixtureRequest) -> list[IamPolicy]:
    return all_policies(template_of(request.param), ENV)


def test_every_iam_document_of_the_default_template_is_extracted(
    default_template: dict[str, Any],
) -> None:
    names = {(p.name, p.kind) for p in extract_policies(default_template, DEFAULTS, ENV)}
    assert names == {
        ("AccessLogsBucketPolicy bucket policy", PolicyKind.RESOURCE),
        ("UploadsBucketPolicy bucket policy", PolicyKind.RESOURCE),
        ("OutputsBucketPolicy bucket policy", PolicyKind.RESOURCE),
        ("ProcessingQueuePolicy queue policy", PolicyKind.RESOURCE),
        ("EventDeliveryDeadLetterQueuePolicy queue policy", PolicyKind.RESOURCE),
        ("AlarmTopicPolicy topic policy", PolicyKind.RESOURCE),
        ("PipelineKey key policy", PolicyKind.RESOURCE),
        ("JobStatusProcessorEventsPermission Lambda permission", PolicyKind.RESOURCE),
        ("ReconcilerSchedulePermission Lambda permission", PolicyKind.RESOURCE),
        ("IngestOrchestratorRole trust policy", PolicyKind.TRUST),
        ("JobStatusProcessorRole trust policy", PolicyKind.TRUST),
        ("ReconcilerRole trust policy", PolicyKind.TRUST),
        ("MediaConvertRole trust policy", PolicyKind.TRUST),
        (
            "IngestOrchestratorRole policy ingest-orchestrator-least-privilege",
            PolicyKind.IDENTITY,
        ),
        (
            "JobStatusProcessorRole policy job-status-processor-least-privilege",
            PolicyKind.IDENTITY,
        ),
        ("MediaConvertRole policy mediaconvert-jobs-least-privilege", PolicyKind.IDENTITY),
        ("ReconcilerRole policy reconciler-least-privilege", PolicyKind.IDENTITY),
    }
    # The job events log's per-stack policy only where the profile asks for it.
    with_log_group = extract_policies(job_events_log_group_template("default"), DEFAULTS, ENV)
    assert {(p.name, p.kind) for p in with_log_group} - names == {
        ("JobEventsLogResourcePolicy log resource policy", PolicyKind.RESOURCE)
    }


def test_nothing_policy_shaped_escapes_extraction() -> None:
    for name in PROFILES:
        assert unextracted_documents(template_of(name)) == [], name


def test_an_unknown_policy_bearing_resource_is_reported(default_template: dict[str, Any]) -> None:
    template = copy.deepcopy(default_template)
    template["Resources"]["Secret"] = {
        "Type": "AWS::SecretsManager::ResourcePolicy",
        "Properties": {"ResourcePolicy": {"Version": "2012-10-17", "Statement": []}},
    }
    assert unextracted_documents(template) == ["Secret:Properties.ResourcePolicy"]


def test_conditional_resources_follow_the_scenario(default_template: dict[str, Any]) -> None:
    alternative = scenario_named(default_template, ALTERNATIVES_NAME)
    logical_ids = {p.logical_id for p in extract_policies(default_template, alternative, ENV)}
    # An existing key and MediaConvert role: the stack creates neither, nor their policies.
    assert ids.KMS_KEY not in logical_ids
    assert ids.MEDIACONVERT_ROLE not in logical_ids
    assert ids.ORCHESTRATOR_ROLE in logical_ids


def test_policies_are_resolved_and_attached(default_template: dict[str, Any]) -> None:
    by_name = {p.name: p for p in extract_policies(default_template, DEFAULTS, ENV)}
    queue = by_name["ProcessingQueuePolicy queue policy"]
    assert queue.attached_to == tuple(
        f"arn:aws:sqs:us-east-1:123456789012:mediapipe-test-{suffix}"
        for suffix in ("processing", "processing-dlq", "status-processor-failures")
    )
    with_log_group = extract_policies(job_events_log_group_template("default"), DEFAULTS, ENV)
    log_policy = {p.name: p for p in with_log_group}[
        "JobEventsLogResourcePolicy log resource policy"
    ]
    (write,) = [s for s in log_policy.statements() if s["Sid"] == "JobStateRuleWritesJobEvents"]
    assert write["Condition"]["ArnEquals"]["aws:SourceArn"] == (
        "arn:aws:events:us-east-1:123456789012:rule/mediapipe-test-job-state-change"
    )
    permission = by_name["JobStatusProcessorEventsPermission Lambda permission"]
    (statement,) = permission.statements()
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Resource"] == permission.attached_to[0]
    schedule = by_name["ReconcilerSchedulePermission Lambda permission"]
    (statement,) = schedule.statements()
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Resource"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:mediapipe-test-reconciler"
    )
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == (
        "arn:aws:events:us-east-1:123456789012:rule/mediapipe-test-reconcile"
    )


def test_all_policies_repeats_only_what_a_scenario_changes(
    default_template: dict[str, Any],
) -> None:
    policies = all_policies(default_template, ENV)
    labels = [p.label for p in policies]
    assert len(labels) == len(set(labels))
    alternatives = {p.name for p in policies if p.scenario == ALTERNATIVES_NAME}
    # The queue policies name no parameter-dependent value; the roles' key grants do.
    assert "ProcessingQueuePolicy queue policy" not in alternatives
    assert "IngestOrchestratorRole policy ingest-orchestrator-least-privilege" in alternatives


# --- least-privilege rules ---------------------------------------------------------------------


def test_builtin_policies_follow_the_least_privilege_rules(
    profile_policies: list[IamPolicy],
) -> None:
    assert [str(v) for v in policy_rule_violations(profile_policies)] == []


def test_resource_star_appears_only_for_allow_listed_actions(
    profile_policies: list[IamPolicy],
) -> None:
    starred = {
        str(action)
        for policy in profile_policies
        if policy.resource_type != "AWS::KMS::Key"
        for statement in policy.statements()
        if statement["Effect"] == "Allow" and "*" in _list(statement.get("Resource"))
        for action in _list(statement["Action"])
    }
    assert starred and starred <= set(RESOURCE_STAR_ALLOWED)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def identity(*statements: dict[str, Any], kind: PolicyKind = PolicyKind.IDENTITY) -> IamPolicy:
    return IamPolicy(
        name="TestRole policy test",
        kind=kind,
        logical_id="TestRole",
        resource_type="AWS::IAM::Role",
        path="Properties.Policies[0].PolicyDocument",
        document={"Version": "2012-10-17", "Statement": list(statements)},
        attached_to=(),
    )


@pytest.mark.parametrize(
    ("statement", "violates"),
    [
        ({"Sid": "S", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}, True),
        (
            {
                "Sid": "S",
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "s3:GetObject"],
                "Resource": "*",
            },
            True,
        ),
        ({"Sid": "S", "Effect": "Allow", "NotAction": ["s3:*"], "Resource": "*"}, True),
        (
            {"Sid": "S", "Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"},
            False,
        ),
        ({"Sid": "S", "Effect": "Allow", "Action": "mediaconvert:Probe", "Resource": ["*"]}, False),
        ({"Sid": "S", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}, False),
        (
            {
                "Sid": "S",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
            },
            False,
        ),
    ],
)
def test_resource_star_rule(statement: dict[str, Any], violates: bool) -> None:
    assert bool(resource_star_violations(identity(statement))) is violates


def test_key_policies_may_use_resource_star() -> None:
    key_policy = identity(
        {
            "Sid": "Root",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:Decrypt",
            "Resource": "*",
        },
        kind=PolicyKind.RESOURCE,
    )
    key_policy = dataclasses.replace(key_policy, resource_type="AWS::KMS::Key")
    assert resource_star_violations(key_policy) == []


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            {"Sid": "S", "Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"},
            "wildcard",
        ),
        (
            {"Sid": "S", "Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"},
            "wildcard",
        ),
        (
            {
                "Sid": "S",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "NotResource": "arn:aws:s3:::b/*",
            },
            "NotResource",
        ),
        (
            {
                "Sid": "S",
                "Effect": "Allow",
                "NotAction": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
            },
            "NotAction",
        ),
    ],
)
def test_broad_grants_are_reported(statement: dict[str, Any], message: str) -> None:
    (violation,) = broad_grant_violations(identity(statement))
    assert message in violation.message
    assert violation.where == "TestRole policy test statement S"


def test_public_allow_in_a_resource_policy_is_reported() -> None:
    public = identity(
        {
            "Sid": "Public",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
        },
        kind=PolicyKind.RESOURCE,
    )
    assert [v.message for v in broad_grant_violations(public)] == ["allows every principal"]
    deny_everyone = identity(
        {
            "Sid": "D",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::b/*",
        },
        kind=PolicyKind.RESOURCE,
    )
    assert broad_grant_violations(deny_everyone) == []


def bucket_policy(*statements: dict[str, Any]) -> IamPolicy:
    return dataclasses.replace(
        identity(*statements, kind=PolicyKind.RESOURCE), resource_type="AWS::S3::BucketPolicy"
    )


CLOUDFRONT_READ = {
    "Sid": "CloudFrontReads",
    "Effect": "Allow",
    "Principal": {"Service": ["cloudfront.amazonaws.com"]},
    "Action": ["s3:GetObject"],
    "Resource": ["arn:aws:s3:::outputs/*"],
}


@pytest.mark.parametrize(
    ("condition", "violates"),
    [
        (None, True),
        ({"Bool": {"aws:SecureTransport": "true"}}, True),
        (
            {"ArnEquals": {"aws:SourceArn": "arn:aws:cloudfront::123456789012:distribution/E1"}},
            False,
        ),
        ({"StringEquals": {"AWS:SourceAccount": "123456789012"}}, False),
        ({"StringLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*"}}, False),
    ],
)
def test_a_service_in_a_bucket_policy_must_be_pinned(
    condition: dict[str, Any] | None, violates: bool
) -> None:
    statement = (
        CLOUDFRONT_READ if condition is None else {**CLOUDFRONT_READ, "Condition": condition}
    )
    found = unpinned_service_violations(bucket_policy(statement))
    assert bool(found) is violates
    if violates:
        assert "cloudfront.amazonaws.com" in found[0].message
        assert "confused deputy" in found[0].message


def test_the_pinning_rule_reads_bucket_and_key_policies_only() -> None:
    unpinned_queue = identity(CLOUDFRONT_READ, kind=PolicyKind.RESOURCE)
    assert unpinned_service_violations(unpinned_queue) == []
    assert unpinned_service_violations(identity(CLOUDFRONT_READ)) == []  # an identity policy
    key = dataclasses.replace(unpinned_queue, resource_type="AWS::KMS::Key")
    assert unpinned_service_violations(key) != []
