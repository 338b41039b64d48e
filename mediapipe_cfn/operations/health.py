"""`status`: the pipeline's health on one screen.

Queue depths and the age of each queue's oldest message, the dead-letter queues, the alarms in
ALARM (each with the command that diagnoses it), MediaConvert jobs in flight on the pipeline's
queue, and the assets that reached a final state in the last 24 hours (Queries with
``Select=COUNT`` on the ``ByStatus`` index).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mediapipe_cfn import contract
from mediapipe_cfn.contract import AssetStatus, Attr
from mediapipe_cfn.operations.aws import Aws, aws_errors
from mediapipe_cfn.operations.dlq import queue_counts
from mediapipe_cfn.operations.handler_code import handler_module
from mediapipe_cfn.operations.stack import DLQ_NAMES, PipelineStack

RECENT = timedelta(hours=24)
# The window CloudWatch is asked about for the oldest message's age (SQS publishes every minute).
AGE_WINDOW = timedelta(minutes=15)

# The command that diagnoses each alarm (by the alarm's logical id in the template); the
# runbook in docs/operations.md names the same command under each alarm (a test checks both).
_DLQ_SHOW = "mediapipe-cfn dlq show --stack STACK --queue"
ALARM_COMMANDS: dict[str, str] = {
    "ProcessingQueueDepthAlarm": "mediapipe-cfn status --stack STACK",
    "ProcessingQueueOldestMessageAlarm": "mediapipe-cfn assets list --stack STACK --status PENDING",
    "ProcessingDeadLetterQueueNotEmptyAlarm": f"{_DLQ_SHOW} processing",
    "EventDeliveryDeadLetterQueueNotEmptyAlarm": f"{_DLQ_SHOW} events",
    "StatusProcessorFailureQueueNotEmptyAlarm": f"{_DLQ_SHOW} status",
    "JobFailureRateAlarm": "mediapipe-cfn assets list --stack STACK --status FAILED --since 24h",
    "StuckAssetsAlarm": "mediapipe-cfn assets list --stack STACK --status PROCESSING",
    "IngestOrchestratorErrorsAlarm": "mediapipe-cfn status --stack STACK",
    "JobStatusProcessorErrorsAlarm": f"{_DLQ_SHOW} status",
    "ReconcilerErrorsAlarm": "mediapipe-cfn assets list --stack STACK --status PROCESSING",
}


@dataclass(frozen=True)
class QueueLine:
    name: str
    url: str


def diagnosing_command(alarm_name: str, stack_name: str) -> str | None:
    """The command for an alarm, found by the logical id CloudFormation puts in its name."""
    for logical_id, command in ALARM_COMMANDS.items():
        if logical_id in alarm_name:
            return command.replace("STACK", stack_name)
    return None


def health(aws: Aws, stack: PipelineStack, now: datetime) -> dict[str, Any]:
    queues = [QueueLine("processing queue", stack.processing_queue_url)] + [
        QueueLine(f"{name} DLQ", stack.dlq_url(name)) for name in DLQ_NAMES
    ]
    ages = oldest_message_ages(aws, [q.url for q in queues], now)
    queue_rows = [
        {"queue": q.name, **queue_counts(aws, q.url), "oldest": ages.get(q.url)} for q in queues
    ]
    alarms = alarms_in_alarm(aws, stack)
    return {
        "stack": stack.name,
        "region": stack.region,
        "queues": queue_rows,
        "alarms": alarms,
        "mediaconvert": jobs_in_flight(aws, stack),
        "last24h": recent_assets(aws, stack, now),
        "dashboard": stack.dashboard_url,
        "healthy": not alarms and all(r["visible"] + r["inFlight"] == 0 for r in queue_rows[1:]),
    }


def _queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def oldest_message_ages(aws: Aws, urls: list[str], now: datetime) -> dict[str, float | None]:
    """Seconds, the latest ApproximateAgeOfOldestMessage of each queue (None: no data)."""
    queries = [
        {
            "Id": f"q{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateAgeOfOldestMessage",
                    "Dimensions": [{"Name": "QueueName", "Value": _queue_name(url)}],
                },
                "Period": 60,
                "Stat": "Maximum",
            },
        }
        for index, url in enumerate(urls)
    ]
    with aws_errors("reading queue metrics"):
        answer = aws.client("cloudwatch").get_metric_data(
            MetricDataQueries=queries,
            StartTime=now - AGE_WINDOW,
            EndTime=now,
            ScanBy="TimestampDescending",
        )
    latest = {r["Id"]: (r.get("Values") or [None])[0] for r in answer.get("MetricDataResults", [])}
    return {url: latest.get(f"q{index}") for index, url in enumerate(urls)}


def alarms_in_alarm(aws: Aws, stack: PipelineStack) -> list[dict[str, Any]]:
    """This stack's alarms (they all notify its alarm topic) that are in ALARM now."""
    found = []
    with aws_errors("reading alarms"):
        pages = (
            aws.client("cloudwatch")
            .get_paginator("describe_alarms")
            .paginate(
                ActionPrefix=stack.alarm_topic_arn, StateValue="ALARM", AlarmTypes=["MetricAlarm"]
            )
        )
        for page in pages:
            # Checked again here: not every endpoint combines the two filters.
            for alarm in page.get("MetricAlarms", []):
                if alarm.get("StateValue") != "ALARM":
                    continue
                found.append(
                    {
                        "alarm": alarm["AlarmName"],
                        "since": str(alarm.get("StateUpdatedTimestamp") or ""),
                        "reason": alarm.get("StateReason"),
                        "diagnose": diagnosing_command(alarm["AlarmName"], stack.name),
                    }
                )
    return found


def jobs_in_flight(aws: Aws, stack: PipelineStack) -> dict[str, Any]:
    """The pipeline's MediaConvert queue: its status and its submitted and progressing jobs."""
    name = stack.mediaconvert_queue_arn.rsplit("/", 1)[-1]
    with aws_errors(f"reading MediaConvert queue {name}"):
        queue = aws.client("mediaconvert").get_queue(Name=name)["Queue"]
    return {
        "queue": name,
        "status": queue.get("Status"),
        "submitted": int(queue.get("SubmittedJobsCount") or 0),
        "progressing": int(queue.get("ProgressingJobsCount") or 0),
    }


def recent_assets(aws: Aws, stack: PipelineStack, now: datetime) -> dict[str, int]:
    """Assets per status changed in the last 24 h (final ones: those that finished then)."""
    since = handler_module("clock").iso(now - RECENT)
    counts = {}
    paginator = aws.client("dynamodb").get_paginator("query")
    with aws_errors("counting assets"):
        for status in AssetStatus:
            pages = paginator.paginate(
                TableName=stack.table,
                IndexName=contract.INDEX_BY_STATUS,
                KeyConditionExpression="#s = :s AND #t >= :since",
                ExpressionAttributeNames={"#s": Attr.STATUS, "#t": contract.INDEX_SORT_KEY},
                ExpressionAttributeValues={":s": {"S": status.value}, ":since": {"S": since}},
                Select="COUNT",
            )
            counts[status.value] = sum(int(page.get("Count", 0)) for page in pages)
    return counts
