"""Fixtures for the handler tests: moto-backed AWS resources, the fake MediaConvert, and helpers
that deliver events the way Lambda does (SQS records with real receipt handles)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "handlers") not in sys.path:
    sys.path.insert(0, str(REPO / "handlers"))

from handler_fakes import ACCOUNT, REGION, FakeLambdaContext, FakeMediaConvert  # noqa: E402

from mediapipe_cfn.contract import Env  # noqa: E402
from mediapipe_cfn.profile.loader import load_profile  # noqa: E402
from mediapipe_cfn.runtime_config import runtime_config  # noqa: E402

PIPELINE_ID = "mediapipe-test"
UPLOADS_BUCKET = "mediapipe-test-uploads"
OUTPUTS_BUCKET = "mediapipe-test-outputs"
TABLE = "mediapipe-test-assets"
PARAMETER = "/mediapipe/test/runtime-config"
KMS_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
MC_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/mediapipe-test-mediaconvert"
MC_QUEUE_ARN = f"arn:aws:mediaconvert:{REGION}:{ACCOUNT}:queues/mediapipe-test"
MAX_RECEIVE_COUNT = 6


class _CurrentStdout:
    """A stream that writes to the current ``sys.stdout``, whoever replaced it last."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@dataclass
class Stack:
    """The resources one test runs against, plus observers of what the handlers publish."""

    processing_queue_url: str
    dead_letter_queue_url: str
    events_observer_url: str
    sns_observer_url: str
    topic_arn: str
    config: dict[str, Any]
    api_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def calls(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.api_calls if name == operation]


def default_config(**overrides: Any) -> dict[str, Any]:
    config = runtime_config(load_profile("default"))
    for path, value in overrides.items():
        target = config
        *parents, leaf = path.split("__")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return config


def create_table(client: Any, name: str) -> None:
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": a, "AttributeType": "S"}
            for a in ("assetId", "status", "uploaderId", "updatedAt", "outbox")
        ],
        KeySchema=[{"AttributeName": "assetId", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": partition, "KeyType": "HASH"},
                    {"AttributeName": "updatedAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": projection},
            }
            for index, partition, projection in (
                ("ByStatus", "status", "ALL"),
                ("ByUploader", "uploaderId", "ALL"),
                ("ByOutbox", "outbox", "KEYS_ONLY"),
            )
        ],
    )


def handler_environment(queue_url: str, dlq_url: str, topic_arn: str) -> dict[str, str]:
    """The variables the template gives the functions, for the test stack's resources."""
    return {
        Env.TABLE_NAME: TABLE,
        Env.UPLOADS_BUCKET: UPLOADS_BUCKET,
        Env.OUTPUTS_BUCKET: OUTPUTS_BUCKET,
        Env.PROCESSING_QUEUE_URL: queue_url,
        Env.DEAD_LETTER_QUEUE_URL: dlq_url,
        Env.MEDIACONVERT_ROLE_ARN: MC_ROLE_ARN,
        Env.MEDIACONVERT_QUEUE_ARN: MC_QUEUE_ARN,
        Env.TRANSCODE_PARAMETER: PARAMETER,
        Env.KMS_KEY_ARN: KMS_KEY_ARN,
        Env.EVENT_BUS_NAME: "default",
        Env.NOTIFICATION_TOPIC_ARN: topic_arn,
        Env.PIPELINE_ID: PIPELINE_ID,
        Env.METRICS_NAMESPACE: "MediaPipelineTest",
        Env.SERVICE_NAME: "mediapipe-test",
        Env.LOG_LEVEL: "INFO",
    }


# (key, version id named in an event file) -> the version really stored for it in this test.
STORED_UPLOADS: dict[tuple[str, str], str] = {}


@pytest.fixture(autouse=True)
def _forget_stored_uploads() -> Iterator[None]:
    STORED_UPLOADS.clear()
    yield
    STORED_UPLOADS.clear()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture
def config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The default profile's runtime configuration; parametrize indirectly to override keys
    (``{"retry__maxReceiveCount": 1}``)."""
    return default_config(**getattr(request, "param", {}))


@pytest.fixture
def stack(aws: None, config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Stack:
    session = boto3.session.Session(region_name=REGION)
    sqs, s3, events, sns = (session.client(s) for s in ("sqs", "s3", "events", "sns"))
    create_table(session.client("dynamodb"), TABLE)
    dlq_url = sqs.create_queue(QueueName="mediapipe-test-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
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
    s3.put_bucket_versioning(Bucket=UPLOADS_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    session.client("ssm").put_parameter(
        Name=PARAMETER, Type="String", Value=json.dumps(config, sort_keys=True)
    )
    events_observer = sqs.create_queue(QueueName="asset-events-observer")["QueueUrl"]
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
    sns_observer = sqs.create_queue(QueueName="asset-sns-observer")["QueueUrl"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:asset-sns-observer",
        Attributes={"RawMessageDelivery": "true"},
    )
    environment = handler_environment(queue_url, dlq_url, topic_arn)
    for name, value in environment.items():
        monkeypatch.setenv(str(name), value)
    return Stack(
        processing_queue_url=queue_url,
        dead_letter_queue_url=dlq_url,
        events_observer_url=events_observer,
        sns_observer_url=sns_observer,
        topic_arn=topic_arn,
        config=config,
    )


@pytest.fixture
def mediaconvert() -> FakeMediaConvert:
    return FakeMediaConvert(queue_arn=MC_QUEUE_ARN)


@pytest.fixture
def runtime(
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Any]:
    """A fresh container: runtime state reset, the fake MediaConvert in place, calls recorded."""
    from mediapipe_handlers import ingest_orchestrator, log
    from mediapipe_handlers import runtime as runtime_module

    # Waiting for another invocation's claim polls the table; tests need not wait seconds.
    monkeypatch.setattr(ingest_orchestrator, "CLAIM_POLL_SECONDS", 0.01)
    monkeypatch.setattr(ingest_orchestrator, "CLAIM_WAIT", timedelta(milliseconds=30))

    runtime_module.reset_runtime()
    current = runtime_module.get_runtime()
    current.clients.mediaconvert = mediaconvert
    for client in (current.clients.sqs, current.clients.s3, current.clients.dynamodb):
        client.meta.events.register(
            "provide-client-params.*.*",
            lambda params, model, **_: stack.api_calls.append((model.name, dict(params))),
        )
    # Log lines go to whatever stdout is current when they are written (capsys swaps it).
    log.get_logger().registered_handler.setStream(_CurrentStdout())
    yield current
    runtime_module.reset_runtime()


@pytest.fixture
def context() -> FakeLambdaContext:
    return FakeLambdaContext()
