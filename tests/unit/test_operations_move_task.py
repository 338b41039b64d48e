"""`dlq redrive` with SQS's message-move task: the path moto cannot run, driven by a Stubber.

The per-message path (and the fallback to it where the API is missing) runs against moto in
tests/integration/test_operations_recovery.py.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from mediapipe_cfn import ids
from mediapipe_cfn.cli import main
from mediapipe_cfn.operations import dlq
from mediapipe_cfn.operations.aws import Aws, OperationsError
from mediapipe_cfn.operations.policy import COMMAND_CALLS
from mediapipe_cfn.operations.stack import REQUIRED_OUTPUTS, PipelineStack

REGION = "us-east-1"
STACK = "media"
ARN = f"arn:aws:sqs:{REGION}:123456789012"
OUTPUTS = {key: f"{ARN}:{key}" for key in REQUIRED_OUTPUTS} | {
    ids.O_PROCESSING_DLQ_ARN: f"{ARN}:media-processing-dlq",
    ids.O_PROCESSING_QUEUE_ARN: f"{ARN}:media-processing",
}
MOVE = {
    "SourceArn": OUTPUTS[ids.O_PROCESSING_DLQ_ARN],
    "DestinationArn": OUTPUTS[ids.O_PROCESSING_QUEUE_ARN],
}
LIST = {"SourceArn": OUTPUTS[ids.O_PROCESSING_DLQ_ARN], "MaxResults": 10}


def _client(service: str) -> Any:
    return boto3.client(
        service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )


def _task(status: str, moved: int, total: int, **extra: Any) -> dict[str, Any]:
    return {
        "Results": [
            {
                "TaskHandle": "task-1",
                "Status": status,
                "SourceArn": MOVE["SourceArn"],
                "DestinationArn": MOVE["DestinationArn"],
                "ApproximateNumberOfMessagesMoved": moved,
                "ApproximateNumberOfMessagesToMove": total,
                **extra,
            }
        ]
    }


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    client = _client("sqs")
    monkeypatch.setattr(Aws, "overrides", {"sqs": lambda region: client})
    return Stubber(client)


def _stack() -> PipelineStack:
    return PipelineStack(name=STACK, region=REGION, outputs=OUTPUTS)


def test_the_move_task_is_followed_until_it_completes(
    sqs: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs.add_response("start_message_move_task", {"TaskHandle": "task-1"}, MOVE)
    sqs.add_response("list_message_move_tasks", _task("RUNNING", 2, 5), LIST)
    sqs.add_response("list_message_move_tasks", _task("COMPLETED", 5, 5), LIST)
    waits: list[float] = []
    with sqs:
        result = dlq.redrive(Aws(REGION, None), _stack(), "processing", sleep=waits.append)
    sqs.assert_no_pending_responses()
    assert (result.method, result.moved, result.problems) == ("move-task", 5, [])
    assert waits == [dlq.MOVE_TASK_POLL_SECONDS]
    # The operator policy covers these calls (tests/integration/test_operator_policy.py).
    assert {"sqs.StartMessageMoveTask", "sqs.ListMessageMoveTasks"} <= COMMAND_CALLS["dlq redrive"]
    progress = capsys.readouterr().err
    assert "RUNNING: moved 2 of 5" in progress and "COMPLETED: moved 5 of 5" in progress


def test_a_failed_move_task_is_a_problem(sqs: Stubber) -> None:
    sqs.add_response(
        "start_message_move_task",
        {"TaskHandle": "task-1"},
        {**MOVE, "MaxNumberOfMessagesPerSecond": 5},
    )
    failed = _task("FAILED", 1, 4, FailureReason="AWS.SimpleQueueService.NonExistentQueue")
    sqs.add_response("list_message_move_tasks", failed, LIST)
    with sqs:
        result = dlq.redrive(
            Aws(REGION, None), _stack(), "processing", rate=5, sleep=lambda s: None
        )
    assert result.moved == 1
    assert result.problems == [
        "the move task ended FAILED: AWS.SimpleQueueService.NonExistentQueue"
    ]


def test_an_endpoint_without_the_move_task_api(sqs: Stubber) -> None:
    sqs.add_client_error("start_message_move_task", service_error_code="UnsupportedOperation")
    with sqs:
        assert dlq._try_move_task(Aws(REGION, None), _stack(), None, lambda s: None) is None
    sqs.add_client_error("start_message_move_task", service_error_code="UnsupportedOperation")
    with sqs, pytest.raises(OperationsError, match="does not support StartMessageMoveTask"):
        dlq.redrive(Aws(REGION, None), _stack(), "processing", method="move-task")


def test_the_redrive_command_prints_the_task_and_exits_0(
    sqs: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloudformation = _client("cloudformation")
    outputs = [{"OutputKey": k, "OutputValue": v} for k, v in OUTPUTS.items()]
    stacks = {"Stacks": [{"StackName": STACK, "CreationTime": "2026-01-01T00:00:00Z",
                          "StackStatus": "CREATE_COMPLETE", "Outputs": outputs}]}  # fmt: skip
    monkeypatch.setattr(
        Aws, "overrides", {**Aws.overrides, "cloudformation": lambda r: cloudformation}
    )
    monkeypatch.setattr(dlq, "MOVE_TASK_POLL_SECONDS", 0)
    sqs.add_response("start_message_move_task", {"TaskHandle": "task-1"}, MOVE)
    sqs.add_response("list_message_move_tasks", _task("COMPLETED", 3, 3), LIST)
    with sqs, Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", stacks, {"StackName": STACK})
        result = CliRunner().invoke(
            main, ["dlq", "redrive", "--stack", STACK, "--region", REGION, "--json"]
        )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["method"], report["moved"]) == ("move-task", 3)
    assert "message-move task started: task-1" in result.stderr
