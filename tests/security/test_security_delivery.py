"""CloudFront reads the outputs for this distribution only: proved with the policy evaluator.

The test plays CloudFront: a request by ``cloudfront.amazonaws.com`` carrying the distribution's
ARN as ``aws:SourceArn`` (what origin access control sends) is decided against the resolved
bucket and key policies of the ``prod`` profile (delivery on), for a key created by the stack and
for an existing key (whose administrator adds the statement the stack outputs).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sample_deployment import BOTH_SCENARIOS, ENV, Deployment

from mediapipe_cfn import contract, ids
from mediapipe_cfn.components import delivery, storage
from mediapipe_cfn.profile import Profile
from mediapipe_cfn.security.evaluator import Decision, Principal, Request, evaluate_access
from mediapipe_cfn.security.gate import rendered_template

CLOUDFRONT = Principal.service("cloudfront.amazonaws.com")
OUTPUT_KEY = "uploader-7/asset-1/cmaf/1080p_00001.m4s"
MANIFEST_KEY = f"uploader-7/asset-1/{contract.MANIFEST_FILE_NAME}"
UPLOAD_KEY = "uploads/uploader-7/holiday.mp4"
WORKING_COPY_KEY = "sources/0f1e2d3c4b5a69788796a5b4c3d2e1f0/source.mp4"
OTHER_DISTRIBUTION = f"arn:aws:cloudfront::{ENV.account_id}:distribution/E2OTHERDISTRIB"


@pytest.fixture(scope="module", params=["parameter defaults", "alternative parameters"])
def stack(request: pytest.FixtureRequest) -> Deployment:
    return Deployment.of("prod", request.param)


def distribution_arn(stack: Deployment) -> str:
    return stack.arn(ids.DISTRIBUTION)


def cloudfront_get(stack: Deployment, bucket: str, key: str, source_arn: str | None) -> Decision:
    context: dict[str, Any] = {"aws:SourceAccount": ENV.account_id}
    if source_arn is not None:
        context["aws:SourceArn"] = source_arn
    return stack.decide(CLOUDFRONT, "s3:GetObject", stack.object_arn(bucket, key), **context)


def test_the_distribution_arn_is_cloudfronts_global_form(stack: Deployment) -> None:
    arn = distribution_arn(stack)
    assert arn.startswith(f"arn:aws:cloudfront::{ENV.account_id}:distribution/")


@pytest.mark.parametrize("key", [OUTPUT_KEY, MANIFEST_KEY])
def test_this_distribution_reads_outputs(stack: Deployment, key: str) -> None:
    decision = cloudfront_get(stack, ids.OUTPUTS_BUCKET, key, distribution_arn(stack))
    assert decision is Decision.ALLOW


@pytest.mark.parametrize("key", [OUTPUT_KEY, MANIFEST_KEY])
def test_another_distribution_or_none_reads_nothing(stack: Deployment, key: str) -> None:
    for source_arn in (OTHER_DISTRIBUTION, None):
        decision = cloudfront_get(stack, ids.OUTPUTS_BUCKET, key, source_arn)
        assert decision is not Decision.ALLOW, source_arn


@pytest.mark.parametrize("key", [UPLOAD_KEY, WORKING_COPY_KEY])
def test_uploads_stay_unreadable_to_the_distribution(stack: Deployment, key: str) -> None:
    decision = cloudfront_get(stack, ids.UPLOADS_BUCKET, key, distribution_arn(stack))
    assert decision is not Decision.ALLOW


def test_logs_stay_unreadable_to_the_distribution(stack: Deployment) -> None:
    for prefix in (storage.OUTPUTS_LOG_PREFIX, delivery.ACCESS_LOG_PREFIX):
        decision = cloudfront_get(
            stack, ids.ACCESS_LOGS_BUCKET, f"{prefix}x.gz", distribution_arn(stack)
        )
        assert decision is not Decision.ALLOW, prefix


def test_the_distribution_may_only_read(stack: Deployment) -> None:
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:GetObjectAcl"):
        decision = stack.decide(
            CLOUDFRONT,
            action,
            stack.object_arn(ids.OUTPUTS_BUCKET, OUTPUT_KEY),
            **{"aws:SourceArn": distribution_arn(stack)},
        )
        assert decision is not Decision.ALLOW, action


def test_plain_http_is_refused_to_the_distribution_too(stack: Deployment) -> None:
    decision = stack.decide(
        CLOUDFRONT,
        "s3:GetObject",
        stack.object_arn(ids.OUTPUTS_BUCKET, OUTPUT_KEY),
        **{"aws:SourceArn": distribution_arn(stack), "aws:SecureTransport": False},
    )
    assert decision is Decision.EXPLICIT_DENY


# --- the key ---------------------------------------------------------------------------------


def key_policy_for(stack: Deployment) -> dict[str, Any]:
    """The created key's policy, or for an existing key the statement the stack outputs."""
    if stack.creates_key:
        return dict(stack.key_policy)
    output = stack.template["Outputs"][ids.O_DELIVERY_KEY_POLICY_STATEMENT]
    assert stack.resolver.condition(output["Condition"])
    statement = json.loads(stack.resolver.resolve(output["Value"]))
    return {"Version": "2012-10-17", "Statement": [statement]}


def decrypt(stack: Deployment, action: str, source_arn: str | None) -> Decision:
    context: dict[str, Any] = {"aws:SecureTransport": True}
    if source_arn is not None:
        context["aws:SourceArn"] = source_arn
    request = Request(CLOUDFRONT, action, stack.key_arn, context)
    return evaluate_access(request, key_policy=key_policy_for(stack))


def test_this_distribution_decrypts_with_the_pipeline_key(stack: Deployment) -> None:
    assert decrypt(stack, "kms:Decrypt", distribution_arn(stack)) is Decision.ALLOW


def test_another_distribution_cannot_decrypt(stack: Deployment) -> None:
    for source_arn in (OTHER_DISTRIBUTION, None):
        assert decrypt(stack, "kms:Decrypt", source_arn) is not Decision.ALLOW


def test_the_distribution_may_only_decrypt(stack: Deployment) -> None:
    for action in ("kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:CreateGrant"):
        assert decrypt(stack, action, distribution_arn(stack)) is not Decision.ALLOW, action


@BOTH_SCENARIOS
def test_the_output_statement_exists_only_for_an_existing_key(scenario: str) -> None:
    stack = Deployment.of("prod", scenario)
    output = stack.template["Outputs"][ids.O_DELIVERY_KEY_POLICY_STATEMENT]
    assert stack.resolver.condition(output["Condition"]) is not stack.creates_key


def test_a_scoped_output_path_keeps_other_prefixes_of_the_bucket_unreadable() -> None:
    profile = Profile.model_validate(
        {"delivery": {"enabled": True}, "output_path": "media/{uploaderId}/{assetId}/"}
    )
    stack = Deployment(rendered_template(profile))
    inside = cloudfront_get(
        stack, ids.OUTPUTS_BUCKET, "media/u/a/hls/x.m3u8", distribution_arn(stack)
    )
    outside = cloudfront_get(
        stack, ids.OUTPUTS_BUCKET, "private/report.csv", distribution_arn(stack)
    )
    assert (inside, outside) == (Decision.ALLOW, Decision.IMPLICIT_DENY)
