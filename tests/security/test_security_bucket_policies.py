"""The bucket policies do their job: proved by evaluating requests against the resolved documents.

Each request is decided as AWS would decide it in the sample account: the principal's identity
policies and the bucket policy together, for the parameter defaults (a key and a MediaConvert role
created by the stack) and for the alternative parameters (an existing key named by alias, an
existing MediaConvert role, named buckets).
"""

from __future__ import annotations

import pytest
from sample_deployment import (
    BOTH_SCENARIOS,
    ENV,
    OTHER_ACCOUNT,
    OTHER_KEY_ARN,
    Deployment,
)

from mediapipe_cfn import contract, ids
from mediapipe_cfn.components import storage
from mediapipe_cfn.security.evaluator import ANONYMOUS, Decision, Principal

SSE = storage.SSE_HEADER
SSE_KEY = storage.SSE_KEY_HEADER
SSE_C = storage.SSE_CUSTOMER_HEADER
DATA_BUCKETS = pytest.mark.parametrize("bucket", [ids.UPLOADS_BUCKET, ids.OUTPUTS_BUCKET])
UPLOAD_KEY = "uploads/uploader-7/holiday.mp4"
# The asset's immutable copy of that upload's version, which every job reads.
WORKING_COPY_KEY = "sources/0f1e2d3c4b5a69788796a5b4c3d2e1f0/source.mp4"
OUTPUT_KEY = "uploader-7/asset-1/cmaf/1080p_00001.m4s"
MANIFEST_KEY = f"uploader-7/asset-1/{contract.MANIFEST_FILE_NAME}"
FOREIGN_ROLE = Principal.role(f"arn:aws:iam::{OTHER_ACCOUNT}:role/attacker")


@pytest.fixture(scope="module", params=["parameter defaults", "alternative parameters"])
def stack(request: pytest.FixtureRequest) -> Deployment:
    return Deployment.of("default", request.param)


def everyone(stack: Deployment) -> list[Principal]:
    return [
        ANONYMOUS,
        FOREIGN_ROLE,
        stack.mediaconvert_role,
        stack.role(ids.ORCHESTRATOR_ROLE),
        stack.role(ids.STATUS_ROLE),
    ]


# --- transport -------------------------------------------------------------------------------


@DATA_BUCKETS
@pytest.mark.parametrize("action", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
def test_plain_http_is_refused_to_everyone(stack: Deployment, bucket: str, action: str) -> None:
    key = UPLOAD_KEY if bucket == ids.UPLOADS_BUCKET else MANIFEST_KEY
    for principal in everyone(stack):
        decision = stack.decide(
            principal, action, stack.object_arn(bucket, key), **{"aws:SecureTransport": False}
        )
        assert decision is Decision.EXPLICIT_DENY, principal


def test_plain_http_is_refused_on_the_bucket_itself(stack: Deployment) -> None:
    decision = stack.decide(
        stack.role(ids.ORCHESTRATOR_ROLE),
        "s3:ListBucket",
        stack.arn(ids.UPLOADS_BUCKET),
        **{"aws:SecureTransport": False},
    )
    assert decision is Decision.EXPLICIT_DENY


def test_the_access_logs_bucket_requires_tls_too(stack: Deployment) -> None:
    logs = stack.object_arn(ids.ACCESS_LOGS_BUCKET, f"{storage.UPLOADS_LOG_PREFIX}x")
    plain = stack.decide(
        stack.role(ids.ORCHESTRATOR_ROLE), "s3:GetObject", logs, **{"aws:SecureTransport": False}
    )
    assert plain is Decision.EXPLICIT_DENY


def put_headers(stack: Deployment, explicit: bool) -> list[dict[str, str]]:
    """Encryption headers of a put: none (default encryption), or each way to name the key."""
    if not explicit:
        return [{}]
    return [{SSE: "aws:kms", SSE_KEY: key_id} for key_id in stack.key_ids_for_puts]


# --- encryption of puts ------------------------------------------------------------------------


@DATA_BUCKETS
@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({SSE: "AES256"}, "S3-managed keys instead of the pipeline key"),
        ({SSE: "aws:kms:dsse"}, "another encryption type"),
        (
            {SSE: "aws:kms", SSE_KEY: OTHER_KEY_ARN.replace(ENV.account_id, OTHER_ACCOUNT)},
            "another account's key",
        ),
        ({SSE: "aws:kms", SSE_KEY: "alias/aws/s3"}, "a bare alias"),
        ({SSE_C: "AES256"}, "a customer-provided key"),
    ],
)
def test_puts_with_the_wrong_encryption_are_refused(
    stack: Deployment, bucket: str, headers: dict[str, str], why: str
) -> None:
    object_arn = stack.object_arn(
        bucket, UPLOAD_KEY if bucket == ids.UPLOADS_BUCKET else MANIFEST_KEY
    )
    for principal in everyone(stack):
        decision = stack.decide(principal, "s3:PutObject", object_arn, **headers)
        assert decision is Decision.EXPLICIT_DENY, (why, principal)


@DATA_BUCKETS
def test_another_key_of_the_account_is_refused_when_the_stack_creates_the_key(bucket: str) -> None:
    stack = Deployment.of("default", "parameter defaults")
    object_arn = stack.object_arn(bucket, MANIFEST_KEY)
    headers = {SSE: "aws:kms", SSE_KEY: OTHER_KEY_ARN}
    assert (
        stack.decide(stack.role(ids.STATUS_ROLE), "s3:PutObject", object_arn, **headers)
        is Decision.EXPLICIT_DENY
    )


@DATA_BUCKETS
@pytest.mark.parametrize("explicit", [False, True])
def test_puts_with_the_pipeline_key_or_default_encryption_pass_the_bucket_policy(
    stack: Deployment, bucket: str, explicit: bool
) -> None:
    # No principal here has an IAM grant for every put; what matters is that the bucket policy
    # does not deny: the decision is an allow or an implicit deny, never an explicit deny.
    object_arn = stack.object_arn(bucket, UPLOAD_KEY)
    for headers in put_headers(stack, explicit):
        for principal in everyone(stack):
            decision = stack.decide(principal, "s3:PutObject", object_arn, **headers)
            assert decision is not Decision.EXPLICIT_DENY, (headers, principal)


# --- the pipeline's roles can do their work ----------------------------------------------------


@pytest.mark.parametrize("action", ["s3:GetObject", "s3:GetObjectVersion"])
def test_mediaconvert_reads_only_the_working_copies(stack: Deployment, action: str) -> None:
    role = stack.mediaconvert_role
    copy = stack.object_arn(ids.UPLOADS_BUCKET, WORKING_COPY_KEY)
    if stack.resolver.condition(ids.C_CREATE_MEDIACONVERT_ROLE):
        assert stack.decide(role, action, copy) is Decision.ALLOW
        # Never the ingest prefix, where a re-upload may already have replaced the bytes.
        for outside in (UPLOAD_KEY, "private/notes.txt"):
            resource = stack.object_arn(ids.UPLOADS_BUCKET, outside)
            assert stack.decide(role, action, resource) is Decision.IMPLICIT_DENY
    else:
        # An existing role's grants are its owner's: the bucket policy must simply not refuse it.
        assert stack.decide(role, action, copy) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize("explicit", [False, True])
def test_mediaconvert_writes_outputs_with_the_pipeline_key(
    stack: Deployment, explicit: bool
) -> None:
    expected = (
        Decision.ALLOW
        if stack.resolver.condition(ids.C_CREATE_MEDIACONVERT_ROLE)
        else Decision.IMPLICIT_DENY
    )
    outputs = stack.object_arn(ids.OUTPUTS_BUCKET, OUTPUT_KEY)
    for headers in put_headers(stack, explicit):
        decision = stack.decide(stack.mediaconvert_role, "s3:PutObject", outputs, **headers)
        assert decision is expected, headers


def test_mediaconvert_cannot_touch_what_it_does_not_need() -> None:
    stack = Deployment.of("default")
    role = stack.mediaconvert_role
    for action, resource in [
        ("s3:PutObject", stack.object_arn(ids.UPLOADS_BUCKET, UPLOAD_KEY)),
        ("s3:DeleteObject", stack.object_arn(ids.UPLOADS_BUCKET, UPLOAD_KEY)),
        ("s3:GetObject", stack.object_arn(ids.OUTPUTS_BUCKET, OUTPUT_KEY)),
        ("s3:DeleteObject", stack.object_arn(ids.OUTPUTS_BUCKET, OUTPUT_KEY)),
        ("s3:PutBucketPolicy", stack.arn(ids.OUTPUTS_BUCKET)),
        ("s3:GetObject", stack.object_arn(ids.ACCESS_LOGS_BUCKET, "s3-access/uploads/x")),
    ]:
        assert stack.decide(role, action, resource) is Decision.IMPLICIT_DENY, (action, resource)


def test_orchestrator_copies_uploads_to_working_copies_and_nothing_else(
    stack: Deployment,
) -> None:
    role = stack.role(ids.ORCHESTRATOR_ROLE)
    upload = stack.object_arn(ids.UPLOADS_BUCKET, UPLOAD_KEY)
    copy = stack.object_arn(ids.UPLOADS_BUCKET, WORKING_COPY_KEY)
    for action in ("s3:GetObject", "s3:GetObjectVersion"):
        assert stack.decide(role, action, upload) is Decision.ALLOW, action
    assert stack.decide(role, "s3:GetObject", copy) is Decision.ALLOW
    # The copy is sent with the pipeline key named (its ARN, resolved from the alias when the
    # key is an existing one): the bucket policy's encryption rules let it through.
    headers = {SSE: "aws:kms", SSE_KEY: stack.key_arn}
    for action in ("s3:PutObject", "s3:AbortMultipartUpload"):
        assert stack.decide(role, action, copy, **headers) is Decision.ALLOW, action
    for action, resource in [
        ("s3:PutObject", upload),
        ("s3:DeleteObject", upload),
        ("s3:DeleteObject", copy),
        ("s3:GetObject", stack.object_arn(ids.OUTPUTS_BUCKET, OUTPUT_KEY)),
        ("s3:PutObject", stack.object_arn(ids.OUTPUTS_BUCKET, OUTPUT_KEY)),
    ]:
        assert stack.decide(role, action, resource) is Decision.IMPLICIT_DENY, (action, resource)
    # Of the outputs, only the manifest of an asset it finishes itself (a redriven one).
    manifest = stack.object_arn(ids.OUTPUTS_BUCKET, MANIFEST_KEY)
    assert stack.decide(role, "s3:PutObject", manifest, **headers) is Decision.ALLOW


def test_status_processor_writes_manifests_only(stack: Deployment) -> None:
    role = stack.role(ids.STATUS_ROLE)
    # The handler names the key's ARN (resolved from the alias when the key is an existing one).
    headers = {SSE: "aws:kms", SSE_KEY: stack.key_arn}
    manifest = stack.object_arn(ids.OUTPUTS_BUCKET, MANIFEST_KEY)
    assert stack.decide(role, "s3:PutObject", manifest, **headers) is Decision.ALLOW
    for resource in [
        stack.object_arn(ids.OUTPUTS_BUCKET, OUTPUT_KEY),
        stack.object_arn(ids.UPLOADS_BUCKET, f"uploads/{contract.MANIFEST_FILE_NAME}"),
    ]:
        assert stack.decide(role, "s3:PutObject", resource, **headers) is Decision.IMPLICIT_DENY
    assert (
        stack.decide(role, "s3:GetObject", stack.object_arn(ids.UPLOADS_BUCKET, UPLOAD_KEY))
        is Decision.IMPLICIT_DENY
    )


@BOTH_SCENARIOS
def test_no_one_outside_the_pipeline_gets_anything_from_the_bucket_policies(scenario: str) -> None:
    stack = Deployment.of("default", scenario)
    for principal in (ANONYMOUS, FOREIGN_ROLE, Principal.service("cloudfront.amazonaws.com")):
        for action, resource in [
            ("s3:GetObject", stack.object_arn(ids.OUTPUTS_BUCKET, OUTPUT_KEY)),
            ("s3:PutObject", stack.object_arn(ids.UPLOADS_BUCKET, UPLOAD_KEY)),
            ("s3:ListBucket", stack.arn(ids.OUTPUTS_BUCKET)),
        ]:
            assert stack.decide(principal, action, resource).allowed is False


# --- server access logs ------------------------------------------------------------------------


def test_only_s3_logging_for_the_two_buckets_writes_access_logs(stack: Deployment) -> None:
    logging = Principal.service("logging.s3.amazonaws.com")
    target = stack.object_arn(ids.ACCESS_LOGS_BUCKET, f"{storage.UPLOADS_LOG_PREFIX}2026/01/01/log")
    own = {"aws:SourceAccount": ENV.account_id}
    for source in (ids.UPLOADS_BUCKET, ids.OUTPUTS_BUCKET):
        assert (
            stack.decide(
                logging, "s3:PutObject", target, **own, **{"aws:SourceArn": stack.arn(source)}
            )
            is Decision.ALLOW
        )
    for context in [
        {**own, "aws:SourceArn": "arn:aws:s3:::someone-elses-bucket"},
        {"aws:SourceAccount": OTHER_ACCOUNT, "aws:SourceArn": stack.arn(ids.UPLOADS_BUCKET)},
        {"aws:SourceArn": stack.arn(ids.UPLOADS_BUCKET)},
    ]:
        assert stack.decide(logging, "s3:PutObject", target, **context) is Decision.IMPLICIT_DENY
    outside_prefix = stack.object_arn(ids.ACCESS_LOGS_BUCKET, "elsewhere/log")
    context = {**own, "aws:SourceArn": stack.arn(ids.UPLOADS_BUCKET)}
    assert (
        stack.decide(logging, "s3:PutObject", outside_prefix, **context) is Decision.IMPLICIT_DENY
    )
