"""Deliver messages to the orchestrator the way Lambda's SQS event source does.

Messages really go through the (moto) processing queue, so receipt handles, receive counts,
visibility changes and the redrive to the dead-letter queue behave like the service.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from handler_fakes import ACCOUNT, REGION


def _sqs() -> Any:
    return boto3.client("sqs", region_name=REGION)


def send(queue_url: str, body: dict[str, Any] | str, delay_seconds: int = 0) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    _sqs().send_message(QueueUrl=queue_url, MessageBody=text, DelaySeconds=delay_seconds)


def receive_event(queue_url: str, max_messages: int = 10) -> dict[str, Any]:
    """Receive up to ``max_messages`` and wrap them as a Lambda SQS event."""
    messages = (
        _sqs()
        .receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        .get("Messages", [])
    )
    name = queue_url.rsplit("/", 1)[-1]
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def make_visible(queue_url: str, event: dict[str, Any], response: dict[str, Any]) -> None:
    """Let time pass for the failed records: visible again now (their backoff has elapsed)."""
    failed = set(failed_ids(response))
    for record in event["Records"]:
        if record["messageId"] not in failed:
            continue
        _sqs().change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
        )


def drain(queue_url: str) -> list[dict[str, Any]]:
    """Every message currently visible on the queue (deleted as read), bodies parsed."""
    bodies: list[dict[str, Any]] = []
    client = _sqs()
    while True:
        messages = client.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def finish_batch(queue_url: str, event: dict[str, Any], response: dict[str, Any]) -> None:
    """What the event source mapping does after the function returns: delete the successes."""
    failed = set(failed_ids(response))
    client = _sqs()
    for record in event["Records"]:
        if record["messageId"] not in failed:
            client.delete_message(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"])


def invoke(handler: Any, queue_url: str, context: Any, max_messages: int = 10) -> dict[str, Any]:
    """Receive a batch, run ``handler`` on it and settle it like Lambda; the response."""
    event = receive_event(queue_url, max_messages)
    response = handler(event, context)
    finish_batch(queue_url, event, response)
    return response


def split_output(text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Captured stdout -> (structured log lines, EMF metric documents)."""
    logs, metrics = [], []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        (metrics if "_aws" in document else logs).append(document)
    return logs, metrics


def metric_values(metrics: list[dict[str, Any]], name: str, **dimensions: str) -> list[float]:
    """Values of metric ``name`` in EMF documents whose dimension set is exactly ``dimensions``."""
    values: list[float] = []
    wanted = sorted(dimensions)
    for document in metrics:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            names = [m["Name"] for m in directive["Metrics"]]
            if name not in names or wanted not in [sorted(d) for d in directive["Dimensions"]]:
                continue
            if all(document.get(k) == v for k, v in dimensions.items()):
                value = document[name]
                values.extend(value if isinstance(value, list) else [value])
    return values
