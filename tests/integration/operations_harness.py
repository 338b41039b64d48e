"""The operations CLI run against the end-to-end pipeline in moto, with assets in every status.

:func:`operator` wraps the end-to-end harness (tests/integration/test_end_to_end.py): the stack
created from the rendered template, its outputs published as a CloudFormation stack, and the two
services moto cannot run standing in as they do for the handlers: the validating fake
MediaConvert, and a Lambda service whose asynchronous invoke delivers to the function's inbox,
from which the harness invokes the status processor.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from handler_fakes import client_error
from test_end_to_end import Pipeline

from mediapipe_cfn import ids
from mediapipe_cfn.cli import main
from mediapipe_cfn.operations import commands
from mediapipe_cfn.operations.aws import Aws

STACK = "media-e2e"
REGION = "us-east-1"

# One upload per outcome; the names tell the end-to-end harness's MediaConvert what to do.
KEYS = {
    "succeeded": "uploads/alice/holiday.mp4",
    "job_failed": "uploads/erin/broken-clip.mp4",
    "invalid": "uploads/erin/notes.txt",
    "processing": "uploads/gus/stalled-clip.mp4",
    "throttled": "uploads/hal/clip.mp4",
    "pending": "uploads/ivy/clip.mp4",
}
POISON = "{not json"


@dataclass
class LambdaService:
    """Lambda's asynchronous invoke: the event goes to the function's inbox (see lambda_stack)."""

    pipeline: Pipeline
    function_arn: str
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("Invoke", request))
        assert request["FunctionName"] == self.function_arn, request["FunctionName"]
        assert request["InvocationType"] == "Event"
        body = request["Payload"]
        self.pipeline.sqs.send_message(
            QueueUrl=self.pipeline.status_inbox,
            MessageBody=body.decode() if isinstance(body, bytes) else body,
        )
        return {"StatusCode": 202}


@dataclass
class Operator:
    """Runs `mediapipe-cfn` commands against the pipeline's stack."""

    pipeline: Pipeline
    outputs: dict[str, str]
    lambda_service: LambdaService
    runner: CliRunner = field(default_factory=CliRunner)

    def run(self, *args: str, expect: int = 0) -> Result:
        result = self.runner.invoke(main, [*args, "--stack", STACK, "--region", REGION])
        assert result.exit_code == expect, (result.exit_code, result.output, result.exception)
        return result

    def json(self, *args: str, expect: int = 0) -> Any:
        return json.loads(self.run(*args, "--json", expect=expect).stdout)

    def asset_id(self, name: str) -> str:
        return str(self.pipeline.asset(KEYS[name])["assetId"])

    def queue_bodies(self, url: str) -> list[str]:
        """Every message body of a queue, read without removing any (then visible again)."""
        sqs, seen = self.pipeline.sqs, {}
        while True:
            batch = sqs.receive_message(
                # No long poll: the queues' own receive wait would hold every empty read.
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=30,
                WaitTimeSeconds=0,
            ).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            seen.update((m["MessageId"], m) for m in fresh)
        for message in seen.values():
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return sorted(m["Body"] for m in seen.values())


@pytest.fixture
def operator(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Iterator[Operator]:
    pipeline.stack.create_observability()
    outputs = pipeline.stack.publish_outputs()
    service = LambdaService(pipeline, outputs[ids.O_STATUS_FUNCTION_ARN])
    # The commands' "now" is the pipeline's simulated time, as the handlers' is.
    monkeypatch.setattr(
        commands,
        "_now",
        lambda: datetime.now(UTC) + timedelta(seconds=pipeline.clock.offset_seconds),
    )
    monkeypatch.setattr(
        Aws,
        "overrides",
        {"mediaconvert": lambda region: pipeline.mediaconvert, "lambda": lambda region: service},
    )
    yield Operator(pipeline, outputs, service)


def populate(operator: Operator) -> None:
    """Assets in every status; the processing DLQ holds an upload, a job failure and poison."""
    pipeline = operator.pipeline
    receives = int(
        pipeline.stack.resources("AWS::SQS::Queue")[ids.PROCESSING_QUEUE]["RedrivePolicy"][
            "maxReceiveCount"
        ]
    )
    # Probe throttled on every receive the queue allows: FAILED (TRANSIENT_EXHAUSTED), the
    # upload event in the DLQ.
    throttle = [client_error("TooManyRequestsException", "Probe") for _ in range(receives)]
    pipeline.mediaconvert.fail_next("Probe", *throttle)
    pipeline.upload(KEYS["throttled"])
    pipeline.run_until_quiet()
    for name in ("succeeded", "job_failed", "invalid", "processing"):
        pipeline.upload(KEYS[name])
    pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=POISON)
    pipeline.run_until_quiet()
    # PENDING: its first receive hit a throttled Probe; the message waits for its backoff.
    pipeline.mediaconvert.fail_next("Probe", client_error("TooManyRequestsException", "Probe"))
    pipeline.upload(KEYS["pending"])
    assert pipeline._deliver_queue_batch()
    # Past the time a reconciler run hides the dead letters it read.
    pipeline.clock.advance(3600)
