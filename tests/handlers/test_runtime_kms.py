"""A stack on an existing key gets the key's alias ARN; the handlers need the key ARN."""

from __future__ import annotations

import boto3
import pytest
from mediapipe_handlers import runtime as runtime_module

from mediapipe_cfn.contract import Env

REGION = "us-east-1"


def _environment(kms_key: str) -> dict[str, str]:
    names = [
        Env.TABLE_NAME, Env.UPLOADS_BUCKET, Env.OUTPUTS_BUCKET, Env.PROCESSING_QUEUE_URL,
        Env.DEAD_LETTER_QUEUE_URL, Env.MEDIACONVERT_ROLE_ARN, Env.MEDIACONVERT_QUEUE_ARN,
        Env.TRANSCODE_PARAMETER, Env.PIPELINE_ID,
    ]  # fmt: skip
    return {**{str(n): "set" for n in names}, Env.KMS_KEY_ARN: kms_key, "AWS_REGION": REGION}


@pytest.fixture
def fresh_runtime():  # type: ignore[no-untyped-def]
    runtime_module.reset_runtime()
    yield
    runtime_module.reset_runtime()


def test_alias_arn_is_resolved_to_the_key_arn_once(aws: None, fresh_runtime: None) -> None:
    kms = boto3.client("kms", region_name=REGION)
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/media-key", TargetKeyId=key_arn)
    alias_arn = key_arn.split(":key/")[0] + ":alias/media-key"

    runtime = runtime_module.get_runtime(_environment(alias_arn))
    calls: list[str] = []
    runtime.clients.kms.meta.events.register(
        "before-call.kms.DescribeKey", lambda **_: calls.append("DescribeKey")
    )
    assert runtime.kms_key_arn == key_arn
    assert runtime.kms_key_arn == key_arn
    assert calls == ["DescribeKey"], "resolved once per container"


def test_key_arn_is_used_as_given(aws: None, fresh_runtime: None) -> None:
    key_arn = f"arn:aws:kms:{REGION}:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
    runtime = runtime_module.get_runtime(_environment(key_arn))
    assert runtime.kms_key_arn == key_arn
