"""Assets: read one record, list them from the status and uploader indexes, and retry them.

Reads are a consistent GetItem or a Query on a GSI, never a Scan. A retry is a message on the
processing queue in the exact shape the orchestrator already handles (the handlers' own
``command_body``): a ``job-failed`` notice reopens an asset whose failure a new attempt can fix,
as a redriven DLQ notice would; a ``reconcile`` command drives a stuck live asset forward, as the
reconciler would. Both are idempotent in the orchestrator (conditional writes, one job per
format and attempt), so sending one twice is harmless.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mediapipe_cfn import contract
from mediapipe_cfn.contract import FINAL_STATUSES, AssetStatus, Attr
from mediapipe_cfn.operations.aws import Aws, NotFound, OperationsError, aws_errors
from mediapipe_cfn.operations.handler_code import handler_module
from mediapipe_cfn.operations.output import age, plain
from mediapipe_cfn.operations.stack import PipelineStack

ASSET_ID = re.compile(r"^[0-9a-f]{32}$")
RETRIED_BY = "mediapipe-cfn assets retry"


# ------------------------------------------------------------------ reading


def resolve_asset_id(aws: Aws, stack: PipelineStack, reference: str) -> str:
    """An asset id, given as such or as ``s3://bucket/key[?versionId=V]`` (latest version)."""
    if ASSET_ID.match(reference):
        return reference
    if not reference.startswith("s3://"):
        raise OperationsError(
            f"{reference!r}: not an asset id (32 hex characters) nor an s3://bucket/key URI"
        )
    parts = urlsplit(reference)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if not bucket or not key:
        raise OperationsError(f"{reference!r}: an s3:// URI needs a bucket and a key")
    version = (parse_qs(parts.query).get("versionId") or [None])[0]
    if version is None:
        version = _latest_version(aws, bucket, key)
    derive = handler_module("uploads").derive_asset_id
    return str(derive(bucket, key, version, None))


def _latest_version(aws: Aws, bucket: str, key: str) -> str:
    import botocore.exceptions

    with aws_errors(f"reading s3://{bucket}/{key}"):
        try:
            head = aws.client("s3").head_object(Bucket=bucket, Key=key)
        except botocore.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise NotFound(
                    f"s3://{bucket}/{key} does not exist (a deleted upload: give its "
                    "?versionId=, or the asset id)"
                ) from None
            raise
    version = head.get("VersionId")
    if not version or version == "null":
        raise OperationsError(f"s3://{bucket}/{key} has no version id; give the asset id")
    return str(version)


def get_asset(aws: Aws, stack: PipelineStack, asset_id: str) -> dict[str, Any]:
    """The record, read consistently; NotFound if there is none."""
    with aws_errors(f"reading asset {asset_id}"):
        answer = aws.client("dynamodb").get_item(
            TableName=stack.table, Key={Attr.ASSET_ID: {"S": asset_id}}, ConsistentRead=True
        )
    if "Item" not in answer:
        raise NotFound(f"no asset {asset_id} in {stack.table}")
    return _from_dynamodb(answer["Item"])


def _from_dynamodb(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return plain({key: deserializer.deserialize(value) for key, value in item.items()})


@dataclass(frozen=True)
class AssetQuery:
    status: str | None = None
    uploader: str | None = None
    since: datetime | None = None
    # An updatedAt: changes at or before it (the next page of a listing; inclusive, so a row
    # sharing the boundary's millisecond is shown again rather than lost).
    before: str | None = None
    limit: int = 50


def list_assets(aws: Aws, stack: PipelineStack, query: AssetQuery) -> list[dict[str, Any]]:
    """Assets newest change first, from ByUploader (an uploader) or ByStatus (else)."""
    if query.uploader is not None:
        found = list(_query_index(aws, stack, contract.INDEX_BY_UPLOADER, Attr.UPLOADER_ID,
                                  query.uploader, query))  # fmt: skip
    else:
        statuses = [query.status] if query.status else [s.value for s in AssetStatus]
        found = [
            item
            for status in statuses
            for item in _query_index(
                aws, stack, contract.INDEX_BY_STATUS, Attr.STATUS, status, query
            )
        ]
    found.sort(key=lambda item: str(item.get(Attr.UPDATED_AT, "")), reverse=True)
    return found[: query.limit]


def _query_index(
    aws: Aws, stack: PipelineStack, index: str, key: str, value: str, query: AssetQuery
) -> Iterator[dict[str, Any]]:
    """One partition of ``index``, newest first, page by page until ``query.limit`` items."""
    condition = "#k = :k"
    values: dict[str, Any] = {":k": {"S": value}}
    names = {"#k": key}
    if query.since is not None or query.before is not None:
        names["#t"] = contract.INDEX_SORT_KEY
    if query.since is not None:
        values[":since"] = {"S": handler_module("clock").iso(query.since)}
    if query.before is not None:
        values[":before"] = {"S": query.before}
    if query.since is not None and query.before is not None:
        condition += " AND #t BETWEEN :since AND :before"
    elif query.since is not None:
        condition += " AND #t >= :since"
    elif query.before is not None:
        condition += " AND #t <= :before"
    arguments: dict[str, Any] = {
        "TableName": stack.table,
        "IndexName": index,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
    }
    if query.uploader is not None and query.status:  # the uploader's assets in one status
        arguments["FilterExpression"] = "#s = :s"
        names["#s"] = Attr.STATUS
        values[":s"] = {"S": query.status}
    else:
        arguments["Limit"] = query.limit
    returned = 0
    with aws_errors(f"querying {index}"):
        for page in aws.client("dynamodb").get_paginator("query").paginate(**arguments):
            for item in page["Items"]:
                yield _from_dynamodb(item)
                returned += 1
                if returned >= query.limit:
                    return


# ------------------------------------------------------------------ presenting


def console_link(region: str, job_id: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/mediaconvert/home?region={region}"
        f"#/jobs/summary/{job_id}"
    )


def format_rows(item: Mapping[str, Any], region: str) -> list[dict[str, Any]]:
    """One row per format: job state, attempt, progress, timestamps, job id and console link."""
    progress = item.get(Attr.PROGRESS) or {}
    rows = []
    for job_format in item.get(Attr.FORMATS) or sorted(item.get(Attr.FORMAT_STATUS) or {}):
        state = (item.get(Attr.FORMAT_STATUS) or {}).get(job_format) or {}
        step = progress.get(job_format) or {}
        percent = step.get("percent")
        job_id = state.get("jobId")
        rows.append(
            {
                "format": job_format,
                "state": state.get("status", "NOT STARTED"),
                "attempt": state.get("attempt"),
                "progress": None
                if percent is None
                else f"{percent}% {step.get('phase') or ''}".strip(),
                "submitted": state.get("submittedAt"),
                "finished": state.get("finishedAt"),
                "error": state.get("errorCode") or state.get("errorMessage"),
                "job": job_id,
                # A regional-fallback job lives in its own region.
                "console": console_link(state.get("region") or region, job_id) if job_id else None,
            }
        )
    return rows


def latency(item: Mapping[str, Any]) -> str | None:
    """Upload to final state (the JobLatency metric), when the asset is final."""
    from mediapipe_cfn.operations.output import duration

    clock = handler_module("clock")
    start = clock.parse_iso(str(item.get(Attr.CREATED_AT) or ""))
    end = clock.parse_iso(str(item.get(Attr.COMPLETED_AT) or ""))
    return None if start is None or end is None else duration((end - start).total_seconds())


def message_locations(item: Mapping[str, Any]) -> list[str]:
    """Where the asset's work waits: queue messages, running jobs, dead letters."""
    places = []
    live = item.get(Attr.STATUS) not in FINAL_STATUSES
    crumb = item.get(Attr.IN_FLIGHT) or {}
    retrying = [e for e in item.get(Attr.ERRORS) or [] if e.get("receiveCount")]
    if live and crumb:
        places.append(
            f"processing queue: message {crumb.get('messageId')} (receive "
            f"{crumb.get('receiveCount')}, started {crumb.get('startedAt')})"
        )
    elif live and retrying:
        last = retrying[-1]
        places.append(
            f"processing queue: message backing off after receive {last['receiveCount']} "
            f"({last.get('at')}: {last.get('message')})"
        )
    if live:
        for job_format, state in sorted((item.get(Attr.FORMAT_STATUS) or {}).items()):
            if state.get("status") in ("SUBMITTED", "PROGRESSING"):
                places.append(f"MediaConvert: {job_format} job {state.get('jobId')} running")
    # A SUCCEEDED asset's dead letters are stale: the reconciler deletes them.
    if item.get(Attr.STATUS) != AssetStatus.SUCCEEDED:
        places += [f"processing DLQ: message {m}" for m in item.get(Attr.DEAD_LETTERS) or []]
    return places


def asset_view(item: Mapping[str, Any], region: str, now: datetime) -> dict[str, Any]:
    """What `assets show` prints (and `--json` returns): the record and what it means."""
    return {
        "record": dict(item),
        "formats": format_rows(item, region),
        "latency": latency(item),
        "updatedAgo": age(item.get(Attr.UPDATED_AT), now),
        "messages": message_locations(item),
        "playback": item.get(Attr.PLAYBACK),
    }


# ------------------------------------------------------------------ retrying

# What the operator can do about a failure no new attempt fixes.
NOT_RETRYABLE_ADVICE = {
    "INVALID_UPLOAD": "the upload breaks an ingest rule; fix the file and upload it again",
    "UNUSABLE_SOURCE": "the source has no usable track or is corrupt; nothing to retry",
    "SOURCE_MISSING": "the uploaded object was deleted; nothing to retry",
    "JOB_REJECTED": "CreateJob refused the job; fix the deployment, then upload again",
}


@dataclass(frozen=True)
class RetryPlan:
    """What `assets retry` does for one asset: the message it sends, or why it sends none."""

    asset_id: str
    status: str | None
    action: str | None  # "reopen", "nudge", or None: nothing is sent
    explanation: str
    body: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "assetId": self.asset_id,
            "status": self.status,
            "action": self.action,
            "explanation": self.explanation,
            "message": self.body,
        }


def plan_retry(item: Mapping[str, Any], now: datetime, stuck_after: timedelta) -> RetryPlan:
    """Decide how to retry ``item``, exactly as the orchestrator will take it."""
    messages = handler_module("messages")
    lifecycle = handler_module("lifecycle")
    asset_id, status = str(item[Attr.ASSET_ID]), str(item[Attr.STATUS])
    if status == AssetStatus.SUCCEEDED:
        return RetryPlan(asset_id, status, None, "SUCCEEDED; nothing to retry")
    if status == AssetStatus.FAILED:
        kind = str(item.get(Attr.FAILURE_KIND) or "")
        if kind not in lifecycle.REOPENABLE_BY_JOB_REDRIVE:
            advice = NOT_RETRYABLE_ADVICE.get(kind, "no new attempt can fix it")
            return RetryPlan(asset_id, status, None, f"FAILED ({kind}): {advice}")
        job_format, attempt = _failed_format(item)
        body = messages.command_body(
            messages.COMMAND_JOB_FAILED, asset_id, job_format, attempt, {"by": RETRIED_BY}
        )
        failed = _failed_formats(item)
        again = f"; resubmits {', '.join(failed)} as a new attempt" if failed else ""
        return RetryPlan(
            asset_id,
            status,
            "reopen",
            f"FAILED ({kind}): the orchestrator reopens it (attempts + 1) and continues "
            f"where it stopped{again}; jobs already complete are kept",
            body,
        )
    updated = handler_module("clock").parse_iso(str(item.get(Attr.UPDATED_AT) or ""))
    if updated is not None and now - updated < stuck_after:
        return RetryPlan(
            asset_id,
            status,
            None,
            f"{status}, last updated {age(item.get(Attr.UPDATED_AT), now)} ago: still in "
            f"progress (not stuck before {_minutes(stuck_after)} without an update; see "
            "--stuck-after)",
        )
    body = messages.command_body(messages.COMMAND_RECONCILE, asset_id, "*", 1, {"by": RETRIED_BY})
    return RetryPlan(
        asset_id,
        status,
        "nudge",
        f"{status} with no update for {age(item.get(Attr.UPDATED_AT), now)}: the orchestrator "
        "drives it forward as the reconciler would (submits what has no job; never a job twice)",
        body,
    )


def _failed_formats(item: Mapping[str, Any]) -> list[str]:
    states = item.get(Attr.FORMAT_STATUS) or {}
    return sorted(f for f, s in states.items() if s.get("status") in ("ERROR", "CANCELED"))


def _failed_format(item: Mapping[str, Any]) -> tuple[str, int]:
    """The format and attempt the notice names (the orchestrator reopens the whole asset)."""
    states = item.get(Attr.FORMAT_STATUS) or {}
    for job_format in _failed_formats(item):
        return job_format, int(states[job_format].get("attempt") or 1)
    return "*", 1


def _minutes(delta: timedelta) -> str:
    return f"{int(delta.total_seconds() // 60)} min"


def send_retry(aws: Aws, stack: PipelineStack, plan: RetryPlan) -> str:
    """Put the plan's message on the processing queue; its message id."""
    assert plan.body is not None
    with aws_errors(f"sending the retry of {plan.asset_id}"):
        answer = aws.client("sqs").send_message(
            QueueUrl=stack.processing_queue_url, MessageBody=plan.body
        )
    return str(answer["MessageId"])
