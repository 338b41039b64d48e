"""What arrives on the processing queue and from EventBridge, parsed into small typed values.

The processing queue carries three kinds of message body:

* an S3 ``Object Created`` event, delivered by the upload rule (the whole EventBridge event);
* a ``retry-job`` command, sent by the status processor (with a delay) to resubmit one format's
  job after a retryable MediaConvert error;
* a ``job-failed`` notice, which the status processor puts on the dead-letter queue when a job
  failed for good; it only reaches the processing queue when an operator redrives the DLQ, and
  then means "try this asset again";
* a ``reconcile`` command, sent by the reconciler for an asset that is not final past its
  deadline: "drive this asset forward" (``format`` is ``*``).

Object keys
-----------
S3's classic notifications (to SQS/SNS/Lambda) carry form-encoded keys (``red flower.jpg``
arrives as ``red+flower.jpg``, a literal ``+`` as ``%2B``). For EventBridge events the
encoding is not documented, and published examples only use keys where both readings agree.
So the key is never guessed: :func:`key_candidates` returns the form-decoded key and the key as
received, decoded at most once (``%2525`` never becomes ``%``), and the orchestrator asks S3
which of them exists when they differ (only keys containing ``+`` or ``%`` can differ). With a
version id the answer is unambiguous; without one, the size and ETag from the event decide.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

S3_SOURCE = "aws.s3"
OBJECT_CREATED = "Object Created"
MEDIACONVERT_SOURCE = "aws.mediaconvert"
JOB_STATE_CHANGE = "MediaConvert Job State Change"

# Commands the pipeline sends to itself through the processing queue (and its DLQ).
COMMAND_KEY = "mediapipeCommand"
COMMAND_RETRY_JOB = "retry-job"
COMMAND_JOB_FAILED = "job-failed"
COMMAND_RECONCILE = "reconcile"
COMMANDS = frozenset({COMMAND_RETRY_JOB, COMMAND_JOB_FAILED, COMMAND_RECONCILE})
COMMAND_VERSION = 1


class MalformedMessage(ValueError):
    """A message body the orchestrator cannot act on (it ends in the dead-letter queue)."""


@dataclass(frozen=True)
class UploadEvent:
    """One S3 ``Object Created`` event."""

    bucket: str
    raw_key: str
    size: int | None
    etag: str | None
    version_id: str | None
    sequencer: str | None
    reason: str | None
    event_id: str | None
    event_time: str | None

    @property
    def is_multipart(self) -> bool:
        # A multipart upload's ETag is "<md5 of the part md5s>-<part count>".
        return bool(self.etag and "-" in self.etag)

    def key_candidates(self) -> tuple[str, ...]:
        return key_candidates(self.raw_key)


@dataclass(frozen=True)
class JobCommand:
    """A ``retry-job`` command or a redriven ``job-failed`` notice for one format's job."""

    command: str
    asset_id: str
    format: str
    attempt: int
    details: Mapping[str, Any] = field(default_factory=dict)


QueueMessage = UploadEvent | JobCommand


def key_candidates(raw_key: str) -> tuple[str, ...]:
    """The keys ``raw_key`` may stand for: form-decoded first, then as received.

    Decoding happens exactly once. A key whose percent escapes are not valid UTF-8 cannot be an
    encoded key, so only the raw reading remains.
    """
    try:
        decoded = unquote_plus(raw_key, errors="strict")
    except UnicodeDecodeError:
        return (raw_key,)
    return (raw_key,) if decoded == raw_key else (decoded, raw_key)


def parse_queue_message(body: str) -> QueueMessage:
    """Parse an SQS message body of the processing queue."""
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, TypeError) as error:
        raise MalformedMessage(f"body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise MalformedMessage("body is not a JSON object")
    if COMMAND_KEY in document:
        return _parse_command(document)
    return _parse_upload_event(document)


def _event_detail(
    event: Mapping[str, Any], source: str, detail_type: str, what: str
) -> Mapping[str, Any]:
    """The ``detail`` of an EventBridge event, after checking it is the expected kind."""
    if event.get("source") != source or event.get("detail-type") != detail_type:
        raise MalformedMessage(
            f"expected {what}, got source={event.get('source')!r}, "
            f"detail-type={event.get('detail-type')!r}"
        )
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise MalformedMessage(f"{what} without a detail object")
    return detail


def _parse_upload_event(event: Mapping[str, Any]) -> UploadEvent:
    detail = _event_detail(event, S3_SOURCE, OBJECT_CREATED, "an S3 Object Created event")
    bucket = (detail.get("bucket") or {}).get("name")
    obj = detail.get("object") or {}
    key = obj.get("key")
    if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
        raise MalformedMessage("S3 event has no bucket name or object key")
    size = obj.get("size")
    return UploadEvent(
        bucket=bucket,
        raw_key=key,
        size=int(size) if isinstance(size, int | float) and not isinstance(size, bool) else None,
        etag=_optional_str(obj.get("etag")),
        version_id=_optional_str(obj.get("version-id")),
        sequencer=_optional_str(obj.get("sequencer")),
        reason=_optional_str(detail.get("reason")),
        event_id=_optional_str(event.get("id")),
        event_time=_optional_str(event.get("time")),
    )


def _parse_command(document: Mapping[str, Any]) -> JobCommand:
    command = document.get(COMMAND_KEY)
    if command not in COMMANDS:
        raise MalformedMessage(f"unknown command {command!r}")
    asset_id, job_format, attempt = (
        document.get("assetId"),
        document.get("format"),
        document.get("attempt"),
    )
    if not isinstance(asset_id, str) or not isinstance(job_format, str):
        raise MalformedMessage(f"{command} command without assetId or format")
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        raise MalformedMessage(f"{command} command with an invalid attempt {attempt!r}")
    details = document.get("details")
    return JobCommand(
        command=str(command),
        asset_id=asset_id,
        format=job_format,
        attempt=attempt,
        details=details if isinstance(details, Mapping) else {},
    )


def command_body(command: str, asset_id: str, job_format: str, attempt: int, details: Any) -> str:
    """The JSON body of a command message (stable key order)."""
    return json.dumps(
        {
            COMMAND_KEY: command,
            "version": COMMAND_VERSION,
            "assetId": asset_id,
            "format": job_format,
            "attempt": attempt,
            "details": details,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class JobStateEvent:
    """One ``MediaConvert Job State Change`` event."""

    job_id: str
    status: str
    timestamp_ms: int
    user_metadata: Mapping[str, str]
    detail: Mapping[str, Any]
    event_time: str | None
    region: str | None = None  # where the job ran (a forwarded event keeps its own region)


def parse_job_state_event(event: Mapping[str, Any]) -> JobStateEvent:
    """Parse the EventBridge event the status processor is invoked with."""
    detail = _event_detail(
        event, MEDIACONVERT_SOURCE, JOB_STATE_CHANGE, "a MediaConvert job state event"
    )
    job_id, status = detail.get("jobId"), detail.get("status")
    if not isinstance(job_id, str) or not isinstance(status, str):
        raise MalformedMessage("job state event without jobId or status")
    timestamp = detail.get("timestamp")
    metadata = detail.get("userMetadata")
    return JobStateEvent(
        job_id=job_id,
        status=status,
        timestamp_ms=int(timestamp) if isinstance(timestamp, int | float) else 0,
        user_metadata={str(k): str(v) for k, v in metadata.items()}
        if isinstance(metadata, Mapping)
        else {},
        detail=detail,
        event_time=_optional_str(event.get("time")),
        region=_optional_str(event.get("region")),
    )
