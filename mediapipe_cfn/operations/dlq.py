"""The dead-letter queues: what is in them, and putting it back where it can be processed.

Three queues hold what the pipeline could not finish (``--queue``):

* ``processing``: the processing queue's DLQ: upload events that used up their receives,
  ``job-failed`` notices of jobs that failed for good, unparseable (poison) messages. Redriven to
  the processing queue with SQS's message-move task; where that API is not available, by a
  receive-send-delete loop that deletes a message only after its copy was accepted.
* ``events``: events EventBridge could not deliver: an upload event goes to the processing queue,
  a MediaConvert job event to the status processor (an asynchronous invoke).
* ``status``: the status processor's on-failure destination: each record's ``requestPayload`` (the
  job event) goes to the status processor again.

The move task applies only to a DLQ of an SQS queue, so the other two are always replayed
message by message. Reading a queue to summarise it hides each message for a moment and then
makes it visible again; nothing is deleted except a message whose copy was delivered.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mediapipe_cfn.contract import META_ASSET_ID, Attr
from mediapipe_cfn.operations.aws import (
    ACCESS_DENIED_CODES,
    CREDENTIAL_CODES,
    Aws,
    OperationsError,
    aws_errors,
    error_code,
)
from mediapipe_cfn.operations.handler_code import handler_module
from mediapipe_cfn.operations.output import progress
from mediapipe_cfn.operations.stack import DLQ_EVENTS, DLQ_PROCESSING, DLQ_STATUS, PipelineStack

# How long a message read by these commands stays hidden from other readers while it is handled.
READ_VISIBILITY_SECONDS = 120
# Upper bound on what one command reads from one queue (a DLQ this full needs a look first).
DEFAULT_MAX_MESSAGES = 5000
# How often the move task's progress is polled.
MOVE_TASK_POLL_SECONDS = 2.0
MOVE_TASK_DONE = frozenset({"COMPLETED", "CANCELLED", "FAILED"})
# What an endpoint without the message-move API answers (older regions, emulators).
MOVE_TASK_UNSUPPORTED = frozenset(
    {"UnsupportedOperation", "InvalidAction", "AWS.SimpleQueueService.UnsupportedOperation"}
)


# ------------------------------------------------------------------ reading


@dataclass(frozen=True)
class DeadLetter:
    """One message of a dead-letter queue, classified."""

    message_id: str
    kind: str  # upload, job-failed, reconcile, retry-job, job-event, poison, other
    reason: str
    asset_id: str | None
    body: str
    receipt_handle: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


def read_queue(aws: Aws, queue_url: str, max_messages: int) -> list[dict[str, Any]]:
    """Receive up to ``max_messages`` messages, each once, leaving them hidden for a while."""
    sqs = aws.client("sqs")
    seen: dict[str, dict[str, Any]] = {}
    with aws_errors(f"reading {queue_url}"):
        while len(seen) < max_messages:
            batch = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(10, max_messages - len(seen)),
                VisibilityTimeout=READ_VISIBILITY_SECONDS,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            seen.update((m["MessageId"], m) for m in fresh)
    return list(seen.values())


def release(aws: Aws, queue_url: str, receipt_handles: list[str]) -> None:
    """Make messages this command read visible again at once."""
    sqs = aws.client("sqs")
    with aws_errors(f"releasing messages of {queue_url}"):
        for start in range(0, len(receipt_handles), 10):
            sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, handle in enumerate(receipt_handles[start : start + 10])
                ],
            )


def queue_counts(aws: Aws, queue_url: str) -> dict[str, int]:
    """Visible, in-flight (hidden by a reader) and delayed messages, as SQS approximates them."""
    names = {
        "ApproximateNumberOfMessages": "visible",
        "ApproximateNumberOfMessagesNotVisible": "inFlight",
        "ApproximateNumberOfMessagesDelayed": "delayed",
    }
    with aws_errors(f"reading the attributes of {queue_url}"):
        attributes = aws.client("sqs").get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=list(names)
        )["Attributes"]
    return {short: int(attributes.get(name, 0)) for name, short in names.items()}


class Classifier:
    """Names each dead letter's kind, reason and asset (asset ids looked up once each)."""

    def __init__(self, aws: Aws, stack: PipelineStack) -> None:
        self.aws, self.stack = aws, stack
        self._records: dict[str, dict[str, Any] | None] = {}

    def classify(self, queue: str, message: Mapping[str, Any]) -> DeadLetter:
        body = str(message.get("Body", ""))
        attributes = message.get("MessageAttributes") or {}
        if queue == DLQ_PROCESSING:
            kind, reason, asset_id = self._processing_message(body)
        elif queue == DLQ_EVENTS:
            kind, reason, asset_id = self._event(_json(body))
            error = (attributes.get("ERROR_CODE") or {}).get("StringValue")
            reason = error or reason
        else:
            record = _json(body) or {}
            kind, reason, asset_id = self._event(record.get("requestPayload"))
            failure = record.get("responsePayload") or {}
            condition = (record.get("requestContext") or {}).get("condition")
            reason = str(failure.get("errorType") or condition or reason)
        return DeadLetter(
            message_id=str(message["MessageId"]),
            kind=kind,
            reason=reason,
            asset_id=asset_id,
            body=body,
            receipt_handle=str(message["ReceiptHandle"]),
            attributes=attributes,
        )

    def _processing_message(self, body: str) -> tuple[str, str, str | None]:
        messages = handler_module("messages")
        try:
            parsed = messages.parse_queue_message(body)
        except messages.MalformedMessage as error:
            return "poison", str(error), None
        if isinstance(parsed, messages.UploadEvent):
            asset_id, record = self._upload_asset(parsed)
            reason = (record or {}).get(Attr.FAILURE_KIND) or "no record"
            return "upload", str(reason), asset_id
        details = parsed.details or {}
        reason = details.get("errorCode") or details.get("errorMessage") or parsed.command
        if parsed.command == messages.COMMAND_JOB_FAILED:
            message = details.get("errorMessage") or ""
            reason = f"{parsed.format}: error {details.get('errorCode')} {message}".strip()
        return parsed.command, str(reason), parsed.asset_id

    def _event(self, event: Any) -> tuple[str, str, str | None]:
        if not isinstance(event, Mapping):
            return "other", "not an event", None
        messages = handler_module("messages")
        if event.get("source") == messages.S3_SOURCE:
            try:
                upload = messages.parse_queue_message(json.dumps(event))
            except messages.MalformedMessage as error:
                return "upload-event", str(error), None
            asset_id, _ = self._upload_asset(upload)
            return "upload-event", "undelivered", asset_id
        if event.get("source") == messages.MEDIACONVERT_SOURCE:
            detail = event.get("detail") or {}
            metadata = detail.get("userMetadata") or {}
            return (
                "job-event",
                str(detail.get("status") or "undelivered"),
                metadata.get(META_ASSET_ID),
            )
        return "other", f"source {event.get('source')!r}", None

    def _upload_asset(self, upload: Any) -> tuple[str | None, dict[str, Any] | None]:
        """The asset an upload event names: the key reading whose record exists, else the first."""
        from mediapipe_cfn.operations.assets import get_asset
        from mediapipe_cfn.operations.aws import NotFound

        derive = handler_module("uploads").derive_asset_id
        candidates = [
            derive(upload.bucket, key, upload.version_id, upload.sequencer)
            for key in upload.key_candidates()
        ]
        for asset_id in candidates:
            if asset_id not in self._records:
                try:
                    self._records[asset_id] = get_asset(self.aws, self.stack, asset_id)
                except NotFound:
                    self._records[asset_id] = None
            if self._records[asset_id] is not None:
                return asset_id, self._records[asset_id]
        return candidates[0], None


def _json(body: str) -> Any:
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return None


def summarise(letters: list[DeadLetter]) -> list[dict[str, Any]]:
    """Messages grouped by kind and reason, largest group first, with their asset ids."""
    groups: dict[tuple[str, str], list[DeadLetter]] = defaultdict(list)
    for letter in letters:
        groups[(letter.kind, letter.reason)].append(letter)
    rows = [
        {
            "kind": kind,
            "reason": reason,
            "count": len(members),
            "assets": sorted({m.asset_id for m in members if m.asset_id}),
        }
        for (kind, reason), members in groups.items()
    ]
    return sorted(rows, key=lambda row: (-row["count"], row["kind"], row["reason"]))


def inspect(aws: Aws, stack: PipelineStack, queue: str, max_messages: int) -> dict[str, Any]:
    """Read ``queue`` (then release what was read): counts and the grouped summary."""
    url = stack.dlq_url(queue)
    counts = queue_counts(aws, url)
    read = read_queue(aws, url, max_messages)
    classifier = Classifier(aws, stack)
    letters = [classifier.classify(queue, message) for message in read]
    release(aws, url, [letter.receipt_handle for letter in letters])
    return {
        "queue": queue,
        "url": url,
        "read": len(letters),
        # Hidden by another reader (the reconciler holds what it reads for 10 minutes).
        "heldElsewhere": counts["inFlight"],
        "groups": summarise(letters),
    }


# ------------------------------------------------------------------ redriving


@dataclass
class RedriveResult:
    queue: str
    method: str  # move-task or per-message
    moved: int = 0
    skipped: int = 0  # not delivered: left in the queue, visible again
    remaining: int | None = None  # what the queue holds afterwards
    problems: list[str] = field(default_factory=list)
    task: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "method": self.method,
            "moved": self.moved,
            "skipped": self.skipped,
            "remaining": self.remaining,
            "problems": self.problems,
            "task": self.task,
        }


def redrive(
    aws: Aws,
    stack: PipelineStack,
    queue: str,
    *,
    method: str = "auto",
    rate: int | None = None,
    max_messages: int = DEFAULT_MAX_MESSAGES,
    sleep: Callable[[float], None] = time.sleep,
) -> RedriveResult:
    """Put every message of ``queue`` back where it can be processed (see the module doc)."""
    if queue == DLQ_PROCESSING and method in ("auto", "move-task"):
        result = _try_move_task(aws, stack, rate, sleep)
        if result is not None:
            return result
        if method == "move-task":
            raise OperationsError(
                "this SQS endpoint does not support StartMessageMoveTask; use --method auto "
                "or per-message"
            )
        progress("the message-move API is not available here; moving message by message")
    deliver = Redelivery(aws, stack)
    return move_each(aws, stack, queue, deliver, max_messages)


def _try_move_task(
    aws: Aws, stack: PipelineStack, rate: int | None, sleep: Callable[[float], None]
) -> RedriveResult | None:
    """SQS moves the messages itself; None where the API does not exist."""
    import botocore.exceptions

    sqs = aws.client("sqs")
    source = stack.processing_dlq_arn
    arguments: dict[str, Any] = {"SourceArn": source, "DestinationArn": stack.processing_queue_arn}
    if rate is not None:
        arguments["MaxNumberOfMessagesPerSecond"] = rate
    with aws_errors("starting the message-move task"):
        try:
            handle = sqs.start_message_move_task(**arguments)["TaskHandle"]
        except NotImplementedError:  # an emulator without the API
            return None
        except botocore.exceptions.ClientError as error:
            if error_code(error) in MOVE_TASK_UNSUPPORTED:
                return None
            raise
    progress(f"message-move task started: {handle}")
    while True:
        with aws_errors("reading the message-move task"):
            tasks = sqs.list_message_move_tasks(SourceArn=source, MaxResults=10)["Results"]
        task = next((t for t in tasks if t.get("TaskHandle") == handle), tasks[0] if tasks else {})
        moved = int(task.get("ApproximateNumberOfMessagesMoved") or 0)
        total = task.get("ApproximateNumberOfMessagesToMove")
        progress(
            f"{task.get('Status', 'UNKNOWN')}: moved {moved} of {'?' if total is None else total}"
        )
        if task.get("Status") in MOVE_TASK_DONE:
            result = RedriveResult(DLQ_PROCESSING, "move-task", moved=moved, task=dict(task))
            if task.get("Status") != "COMPLETED":
                reason = task.get("FailureReason", "")
                result.problems.append(f"the move task ended {task.get('Status')}: {reason}")
            return result
        sleep(MOVE_TASK_POLL_SECONDS)


class Redelivery:
    """Delivers one dead letter to where it is processed; True only once it was accepted."""

    def __init__(self, aws: Aws, stack: PipelineStack) -> None:
        self.aws, self.stack = aws, stack

    def __call__(self, queue: str, message: Mapping[str, Any]) -> str | None:
        """Deliver; None when delivered, else why the message stays (it is not deleted)."""
        body = str(message["Body"])
        if queue == DLQ_PROCESSING:
            return self._to_processing_queue(body, message.get("MessageAttributes") or {})
        document = _json(body)
        if queue == DLQ_STATUS:
            document = (document or {}).get("requestPayload")
        if not isinstance(document, Mapping):
            return "not an event; left in the queue"
        source = document.get("source")
        messages = handler_module("messages")
        if queue == DLQ_EVENTS and source == messages.S3_SOURCE:
            return self._to_processing_queue(body, {})
        if source == messages.MEDIACONVERT_SOURCE:
            return self._to_status_processor(document)
        return f"an event of source {source!r}: no pipeline function takes it; left in the queue"

    def _to_processing_queue(self, body: str, attributes: Mapping[str, Any]) -> str | None:
        arguments: dict[str, Any] = {
            "QueueUrl": self.stack.processing_queue_url,
            "MessageBody": body,
        }
        if attributes:
            arguments["MessageAttributes"] = {
                name: {
                    k: v
                    for k, v in value.items()
                    if k in ("DataType", "StringValue", "BinaryValue")
                }
                for name, value in attributes.items()
            }
        answer, problem = self._call("sqs", "send_message", arguments)
        if problem is not None:
            return problem
        # SQS's digest of what it stored: the copy is the message, byte for byte.
        if answer.get("MD5OfMessageBody") != hashlib.md5(body.encode()).hexdigest():
            return "the processing queue's copy does not match; left in the queue"
        return None

    def _call(
        self, service: str, operation: str, request: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any], str | None]:
        """One delivery call; a refusal of this message is a problem, not the end of the run.

        Credentials and permissions stop the whole command (every message would fail alike).
        """
        import botocore.exceptions

        with aws_errors(f"calling {service} {operation}"):
            try:
                return getattr(self.aws.client(service), operation)(**request), None
            except botocore.exceptions.ClientError as error:
                if error_code(error) in ACCESS_DENIED_CODES | CREDENTIAL_CODES:
                    raise
                return {}, f"not delivered ({error_code(error)}): {error}; left in the queue"

    def _to_status_processor(self, event: Mapping[str, Any]) -> str | None:
        request = {
            "FunctionName": self.stack.status_function_arn,
            "InvocationType": "Event",
            "Payload": json.dumps(event).encode(),
        }
        answer, problem = self._call("lambda", "invoke", request)
        if problem is not None:
            return problem
        if int(answer.get("StatusCode") or 0) != 202:
            return f"the status processor did not accept the event ({answer.get('StatusCode')})"
        return None


def move_each(
    aws: Aws,
    stack: PipelineStack,
    queue: str,
    deliver: Callable[[str, Mapping[str, Any]], str | None],
    max_messages: int,
) -> RedriveResult:
    """Receive, deliver, and delete only what was delivered; release the rest at the end."""
    url = stack.dlq_url(queue)
    sqs = aws.client("sqs")
    result = RedriveResult(queue, "per-message")
    kept: list[str] = []  # receipt handles of what stays
    seen: set[str] = set()
    total = queue_counts(aws, url)["visible"]
    while result.moved + len(kept) < max_messages:
        batch = read_queue(aws, url, min(10, max_messages - result.moved - len(kept)))
        batch = [m for m in batch if m["MessageId"] not in seen]
        if not batch:
            break
        for message in batch:
            seen.add(message["MessageId"])
            problem = deliver(queue, message)
            if problem is not None:
                result.skipped += 1
                result.problems.append(f"{message['MessageId']}: {problem}")
                kept.append(message["ReceiptHandle"])
                continue
            with aws_errors(f"deleting a redriven message from {url}"):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            result.moved += 1
        progress(f"{queue}: moved {result.moved} of {total}, {result.skipped} left in the queue")
    release(aws, url, kept)
    counts = queue_counts(aws, url)
    result.remaining = counts["visible"] + counts["inFlight"] + counts["delayed"]
    return result
