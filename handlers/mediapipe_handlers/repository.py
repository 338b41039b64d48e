"""The MediaAssets table: every write is conditional, so retries and races cannot corrupt it.

Asset status moves forward only (PENDING -> PROCESSING -> SUCCEEDED | FAILED). Each format's
job has its own small state machine under ``formatStatus.<format>``::

    SUBMITTING (0) -> SUBMITTED (1) -> PROGRESSING (2) -> COMPLETE | ERROR | CANCELED |
    RETRY_SCHEDULED (3)

``rank`` is stored beside the state so a condition expression can say "only if this is news"
(``rank < :new``); ``attempt`` ties every job event to the submission it belongs to, so events
of an earlier attempt never touch a resubmitted job. A claim (SUBMITTING) is written *before*
CreateJob with a lease that ends with the claiming invocation; only an expired claim can be
taken over, which is what makes "a crash between steps never submits twice" hold.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from mediapipe_cfn.contract import OUTBOX_PENDING, AssetStatus, Attr
from mediapipe_handlers.lifecycle import (
    FAILED_JOB_STATES,
    FINAL_RANK,
    JOB_STATE_RANK,
    AssetEvent,
    FailureKind,
    JobState,
    asset_sources,
)

__all__ = [
    "FAILED_JOB_STATES",
    "FINAL_RANK",
    "JOB_STATE_RANK",
    "AssetRepository",
    "FailureKind",
    "JobState",
    "error_entry",
]

MAX_ERROR_MESSAGE_CHARS = 1000


_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_dynamo(value: Any) -> Any:
    """Python -> DynamoDB-ready Python (floats as Decimal, tuples as lists)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo(v) for v in value]
    return value


def from_dynamo(value: Any) -> Any:
    """DynamoDB Python -> plain Python (Decimal as int or float)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [from_dynamo(v) for v in value]
    return value


class _Expression:
    """Collects placeholders for names and values while an expression is written."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._counter = itertools.count()

    def path(self, *parts: str) -> str:
        """A document path, every part through a name placeholder (formats are user data)."""
        placeholders = []
        for part in parts:
            placeholder = next((k for k, v in self.names.items() if v == part), None)
            if placeholder is None:
                placeholder = f"#n{len(self.names)}"
                self.names[placeholder] = part
            placeholders.append(placeholder)
        return ".".join(placeholders)

    def value(self, value: Any) -> str:
        placeholder = f":v{next(self._counter)}"
        self.values[placeholder] = _serializer.serialize(to_dynamo(value))
        return placeholder

    def kwargs(self) -> dict[str, Any]:
        result: dict[str, Any] = {"ExpressionAttributeNames": self.names}
        if self.values:
            result["ExpressionAttributeValues"] = self.values
        return result


def error_entry(
    message: str, *, at: str, source: str, code: str | int | None = None, **extra: Any
) -> dict[str, Any]:
    """One element of ``errors[]``: what went wrong, when, and where."""
    entry: dict[str, Any] = {
        "at": at,
        "source": source,
        "message": message[:MAX_ERROR_MESSAGE_CHARS],
    }
    if code is not None:
        entry["code"] = code
    entry.update({k: v for k, v in extra.items() if v is not None})
    return entry


class AssetRepository:
    """Typed, conditional access to the MediaAssets table."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # ---------------------------------------------------------------- reads

    def get(self, asset_id: str) -> dict[str, Any] | None:
        answer = self._client.get_item(
            TableName=self._table, Key=self._key(asset_id), ConsistentRead=True
        )
        item = answer.get("Item")
        return _deserialize(item) if item else None

    # --------------------------------------------------------------- ingest

    def create(self, item: Mapping[str, Any]) -> bool:
        """Write a new record; False when one with this assetId already exists."""
        expression = _Expression()
        condition = f"attribute_not_exists({expression.path(Attr.ASSET_ID)})"
        try:
            self._client.put_item(
                TableName=self._table,
                Item={k: _serializer.serialize(to_dynamo(v)) for k, v in item.items()},
                ConditionExpression=condition,
                ExpressionAttributeNames=expression.names,
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def record_plan(
        self,
        asset_id: str,
        formats: Sequence[str],
        source: Mapping[str, Any],
        now: str,
        caption_languages: Sequence[str] = (),
    ) -> bool:
        """Store the probed source and the formats to produce, while the asset is PENDING."""
        e = _Expression()
        update = (
            f"SET {e.path(Attr.FORMATS)} = {e.value(list(formats))}, "
            f"{e.path(Attr.SOURCE)} = {e.value(dict(source))}, "
            f"{e.path(Attr.UPDATED_AT)} = {e.value(now)}"
        )
        if caption_languages:
            update += f", {e.path(Attr.CAPTION_LANGUAGES)} = {e.value(list(caption_languages))}"
        condition = f"{e.path(Attr.STATUS)} = {e.value(AssetStatus.PENDING)}"
        return self._update(asset_id, e, update, condition, returning=False) is not None

    def record_working_copy(self, asset_id: str, copy: Mapping[str, Any], now: str) -> bool:
        """Remember that the uploaded version was copied to its per-asset key."""
        e = _Expression()
        update = (
            f"SET {e.path(Attr.WORKING_COPY)} = {e.value(dict(copy))}, "
            f"{e.path(Attr.UPDATED_AT)} = {e.value(now)}"
        )
        condition = self._status_in(e, asset_sources(AssetEvent.JOB_RECORDED))
        return self._update(asset_id, e, update, condition, returning=False) is not None

    def claim_format(
        self,
        asset_id: str,
        job_format: str,
        *,
        attempt: int,
        token: str,
        lease_until: str,
        now: str,
        input_uri: str,
        first_claimed_at: str | None = None,
        takeover_token: str | None = None,
        previous_claim_ended: bool = False,
    ) -> bool:
        """Claim the right to submit ``job_format``'s job for ``attempt``.

        The asset must be live (PENDING or PROCESSING). A first claim needs no state for the
        format; a retry claim needs RETRY_SCHEDULED for exactly this attempt; a takeover needs
        the previous claim (``takeover_token``) released or past its lease, or
        ``previous_claim_ended`` (the caller knows its holder is gone). ``firstClaimedAt``
        survives takeovers: it bounds when a job of this attempt can have been created.
        """
        e = _Expression()
        state_path = e.path(Attr.FORMAT_STATUS, job_format)
        claim = {
            "status": JobState.SUBMITTING,
            "rank": JOB_STATE_RANK[JobState.SUBMITTING],
            "attempt": attempt,
            "claimToken": token,
            "leaseUntil": lease_until,
            "claimedAt": now,
            "firstClaimedAt": first_claimed_at or now,
            "inputUri": input_uri,
            "updatedAt": now,
            "warnings": {},
        }
        live = self._status_in(e, asset_sources(AssetEvent.JOB_RECORDED))
        if takeover_token is not None:
            token_path = e.path(Attr.FORMAT_STATUS, job_format, "claimToken")
            state = e.path(Attr.FORMAT_STATUS, job_format, "status")
            condition = (
                f"{token_path} = {e.value(takeover_token)} AND "
                f"{state} = {e.value(JobState.SUBMITTING)}"
            )
            if not previous_claim_ended:
                # Placeholders are registered only when used: DynamoDB rejects unused ones.
                released = e.path(Attr.FORMAT_STATUS, job_format, "released")
                lease = e.path(Attr.FORMAT_STATUS, job_format, "leaseUntil")
                condition += f" AND ({released} = {e.value(True)} OR {lease} < {e.value(now)})"
        elif attempt == 1:
            condition = f"attribute_not_exists({state_path})"
        else:
            state = e.path(Attr.FORMAT_STATUS, job_format, "status")
            next_attempt = e.path(Attr.FORMAT_STATUS, job_format, "nextAttempt")
            condition = (
                f"{state} = {e.value(JobState.RETRY_SCHEDULED)} AND "
                f"{next_attempt} = {e.value(attempt)}"
            )
        update = f"SET {state_path} = {e.value(claim)}, {e.path(Attr.UPDATED_AT)} = {e.value(now)}"
        condition = f"{condition} AND {live}"
        return self._update(asset_id, e, update, condition, returning=False) is not None

    def release_claim(self, asset_id: str, job_format: str, token: str, now: str) -> bool:
        """Mark a claim whose CreateJob certainly created nothing, so it is taken over at once."""
        e = _Expression()
        released = e.path(Attr.FORMAT_STATUS, job_format, "released")
        token_path = e.path(Attr.FORMAT_STATUS, job_format, "claimToken")
        state = e.path(Attr.FORMAT_STATUS, job_format, "status")
        update = f"SET {released} = {e.value(True)}, {e.path(Attr.UPDATED_AT)} = {e.value(now)}"
        condition = f"{token_path} = {e.value(token)} AND {state} = {e.value(JobState.SUBMITTING)}"
        return self._update(asset_id, e, update, condition, returning=False) is not None

    def record_submission(
        self,
        asset_id: str,
        job_format: str,
        *,
        attempt: int,
        token: str,
        job_id: str,
        now: str,
        region: str | None = None,
    ) -> bool:
        """Store the created job under the claim; False if the claim is no longer ours.

        ``region``: the job's region when it is not the stack's (the regional fallback's).
        """
        e = _Expression()
        fs = (Attr.FORMAT_STATUS, job_format)
        in_region = f", {e.path(*fs, 'region')} = {e.value(region)}" if region else ""
        update = (
            f"SET {e.path(*fs, 'status')} = {e.value(JobState.SUBMITTED)}, "
            f"{e.path(*fs, 'rank')} = {e.value(JOB_STATE_RANK[JobState.SUBMITTED])}, "
            f"{e.path(*fs, 'jobId')} = {e.value(job_id)}, "
            f"{e.path(*fs, 'submittedAt')} = {e.value(now)}, "
            f"{e.path(*fs, 'updatedAt')} = {e.value(now)}, "
            f"{e.path(Attr.JOB_IDS)} = list_append({e.path(Attr.JOB_IDS)}, {e.value([job_id])}), "
            f"{e.path(Attr.UPDATED_AT)} = {e.value(now)}{in_region}"
        )
        condition = (
            f"{e.path(*fs, 'claimToken')} = {e.value(token)} AND "
            f"{e.path(*fs, 'attempt')} = {e.value(attempt)} AND "
            f"{e.path(*fs, 'rank')} < {e.value(JOB_STATE_RANK[JobState.SUBMITTED])}"
        )
        return self._update(asset_id, e, update, condition, returning=False) is not None

    def add_job_id(self, asset_id: str, job_id: str, now: str) -> bool:
        """Append ``job_id`` to ``jobIds`` unless it is there already."""
        e = _Expression()
        job_ids = e.path(Attr.JOB_IDS)
        update = (
            f"SET {job_ids} = list_append({job_ids}, {e.value([job_id])}), "
            f"{e.path(Attr.UPDATED_AT)} = {e.value(now)}"
        )
        condition = f"NOT contains({job_ids}, {e.value(job_id)})"
        return self._update(asset_id, e, update, condition, returning=False) is not None

    def mark_processing(self, asset_id: str, now: str) -> bool:
        """PENDING -> PROCESSING once a job exists (PROCESSING stays as it is)."""
        e = _Expression()
        status = e.path(Attr.STATUS)
        update = (
            f"SET {status} = {e.value(AssetStatus.PROCESSING)}, "
            f"{e.path(Attr.UPDATED_AT)} = {e.value(now)}"
        )
        condition = f"{status} = {e.value(AssetStatus.PENDING)}"
        return self._update(asset_id, e, update, condition, returning=False) is not None

    def append_error(self, asset_id: str, entry: Mapping[str, Any], now: str) -> bool:
        """Add ``entry`` to ``errors[]``."""
        e = _Expression()
        errors = e.path(Attr.ERRORS)
        update = (
            f"SET {errors} = list_append({errors}, {e.value([dict(entry)])}), "
            f"{e.path(Attr.UPDATED_AT)} = {e.value(now)}"
        )
        condition = f"attribute_exists({e.path(Attr.ASSET_ID)})"
        return self._update(asset_id, e, update, condition, returning=False) is not None

    def mark_failed(
        self,
        asset_id: str,
        entry: Mapping[str, Any],
        kind: FailureKind,
        now: str,
        *,
        event: AssetEvent = AssetEvent.INGEST_FAILED,
        dead_letter: str | None = None,
    ) -> dict[str, Any] | None:
        """Live -> FAILED with the error, owing its announcements; the new item, or None if the
        asset was already final (or gone)."""
        e = _Expression()
        status, errors = e.path(Attr.STATUS), e.path(Attr.ERRORS)
        update = (
            f"SET {status} = {e.value(AssetStatus.FAILED)}, "
            f"{e.path(Attr.FAILURE_KIND)} = {e.value(kind)}, "
            f"{errors} = list_append({errors}, {e.value([dict(entry)])}), "
            f"{e.path(Attr.OUTBOX)} = {e.value(OUTBOX_PENDING)}, "
            f"{e.path(Attr.COMPLETED_AT)} = {e.value(now)}, "
            f"{e.path(Attr.UPDATED_AT)} = {e.value(now)}"
        )
        if dead_letter is not None:
            letters = e.path(Attr.DEAD_LETTERS)
            update += (
                f", {letters} = list_append(if_not_exists({letters}, {e.value([])}), "
                f"{e.value([dead_letter])})"
            )
        update += f" REMOVE {e.path(Attr.IN_FLIGHT)}"
        condition = self._status_in(e, asset_sources(event))
        return self._update(asset_id, e, update, condition)

    def add_dead_letter(self, asset_id: str, message_id: str, now: str) -> bool:
        """Name a dead-letter-queue message on the record (once)."""
        e = _Expression()
        letters = e.path(Attr.DEAD_LETTERS)
        update = (
            f"SET {letters} = list_append(if_not_exists({letters}, {e.value([])}), "
            f"{e.value([message_id])}), {e.path(Attr.UPDATED_AT)} = {e.value(now)}"
        )
        condition = (
            f"attribute_exists({e.path(Attr.ASSET_ID)}) AND "
            f"NOT contains({letters}, {e.value(message_id)})"
        )
        return self._update(asset_id, e, update, condition, returning=False) is not None

    def reopen(
        self, item: Mapping[str, Any], kinds: frozenset[FailureKind], now: str
    ) -> dict[str, Any] | None:
        """FAILED -> live again for a new attempt; None if ``item`` is no longer current.

        An asset that was never planned goes back to PENDING, one that was to PROCESSING; every
        format whose job failed or was canceled is scheduled for its next attempt, and formats
        already RETRY_SCHEDULED keep theirs. The write is conditional on ``updatedAt`` as
        read, so two concurrent reopens cannot both succeed.
        """
        e = _Expression()
        planned = "plannedAt" in (item.get(Attr.SOURCE) or {})
        target = AssetStatus.PROCESSING if planned else AssetStatus.PENDING
        sets = [
            f"{e.path(Attr.STATUS)} = {e.value(target)}",
            f"{e.path(Attr.UPDATED_AT)} = {e.value(now)}",
        ]
        for job_format, state in sorted((item.get(Attr.FORMAT_STATUS) or {}).items()):
            if state.get("status") not in FAILED_JOB_STATES:
                continue
            fs = (Attr.FORMAT_STATUS, job_format)
            sets += [
                f"{e.path(*fs, 'status')} = {e.value(JobState.RETRY_SCHEDULED)}",
                f"{e.path(*fs, 'rank')} = {e.value(JOB_STATE_RANK[JobState.RETRY_SCHEDULED])}",
                f"{e.path(*fs, 'nextAttempt')} = {e.value(int(state['attempt']) + 1)}",
                f"{e.path(*fs, 'updatedAt')} = {e.value(now)}",
            ]
        removed = (
            Attr.FAILURE_KIND,
            Attr.COMPLETED_AT,
            Attr.FINAL_NOTIFIED_AT,
            Attr.OUTBOX,
            Attr.IN_FLIGHT,
        )
        update = (
            "SET "
            + ", ".join(sets)
            + f" ADD {e.path(Attr.ATTEMPTS)} {e.value(1)} REMOVE "
            + ", ".join(e.path(name) for name in removed)
        )
        condition = (
            f"{e.path(Attr.STATUS)} = {e.value(AssetStatus.FAILED)} AND "
            f"{e.path(Attr.FAILURE_KIND)} IN ({', '.join(e.value(k) for k in sorted(kinds))}) AND "
            f"{e.path(Attr.UPDATED_AT)} = {e.value(item[Attr.UPDATED_AT])}"
        )
        return self._update(str(item[Attr.ASSET_ID]), e, update, condition)

    # ------------------------------------------------------------ in flight

    def start_in_flight(
        self, asset_id: str, message_id: str, receive_count: int, now: str
    ) -> tuple[bool, dict[str, Any] | None]:
        """Leave a breadcrumb before working on ``asset_id`` for this receive of a message.

        Returns whether the record exists, and the breadcrumb an earlier receive left: one from
        the same message that was never ended means that receive ended the handler (out of
        memory, timeout, a native crash) while working on this asset.
        """
        e = _Expression()
        path = e.path(Attr.IN_FLIGHT)
        crumb = {"messageId": message_id, "receiveCount": receive_count, "startedAt": now}
        update = f"SET {path} = {e.value(crumb)}"
        condition = f"attribute_exists({e.path(Attr.ASSET_ID)})"
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=self._key(asset_id),
                UpdateExpression=update,
                ConditionExpression=condition,
                ReturnValues="UPDATED_OLD",
                **e.kwargs(),
            )
        except ClientError as error:
            if _condition_failed(error):
                return False, None
            raise
        old = _deserialize(answer.get("Attributes") or {}).get(Attr.IN_FLIGHT)
        return True, old

    def count_crash(self, asset_id: str, message_id: str, receive_count: int, crashes: int) -> None:
        """Store how many receives of this message have ended the handler so far."""
        e = _Expression()
        update = f"SET {e.path(Attr.IN_FLIGHT, 'crashes')} = {e.value(crashes)}"
        condition = (
            f"{e.path(Attr.IN_FLIGHT, 'messageId')} = {e.value(message_id)} AND "
            f"{e.path(Attr.IN_FLIGHT, 'receiveCount')} = {e.value(receive_count)}"
        )
        self._update(asset_id, e, update, condition, returning=False)

    def end_in_flight(self, asset_id: str, message_id: str, receive_count: int) -> bool:
        """Remove this receive's breadcrumb: it ended normally."""
        e = _Expression()
        update = f"REMOVE {e.path(Attr.IN_FLIGHT)}"
        condition = (
            f"{e.path(Attr.IN_FLIGHT, 'messageId')} = {e.value(message_id)} AND "
            f"{e.path(Attr.IN_FLIGHT, 'receiveCount')} = {e.value(receive_count)}"
        )
        return self._update(asset_id, e, update, condition, returning=False) is not None

    # ----------------------------------------------------------- queries

    def query_index(
        self,
        index: str,
        partition_attr: str,
        partition_value: str,
        *,
        updated_before: str,
        limit: int,
    ) -> list[str]:
        """Asset ids in ``index`` under ``partition_value`` last updated before a time,
        oldest first (at most ``limit``)."""
        e = _Expression()
        condition = (
            f"{e.path(partition_attr)} = {e.value(partition_value)} AND "
            f"{e.path(Attr.UPDATED_AT)} < {e.value(updated_before)}"
        )
        ids: list[str] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ScanIndexForward": True,
            **e.kwargs(),
        }
        while len(ids) < limit:
            answer = self._client.query(**request, Limit=limit - len(ids))
            ids += [item[Attr.ASSET_ID.value]["S"] for item in answer.get("Items") or []]
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return ids

    # ---------------------------------------------------------- job events

    def advance_format(
        self,
        asset_id: str,
        job_format: str,
        *,
        attempt: int,
        state: JobState,
        job_id: str | None,
        now: str,
        fields: Mapping[str, Any] | None = None,
        outputs: Mapping[str, Any] | None = None,
        error: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Move one format forward to ``state`` (only if it is news for this attempt).

        Returns the whole new item, or None when the event is stale, duplicated or belongs to
        another attempt.
        """
        e = _Expression()
        fs = (Attr.FORMAT_STATUS, job_format)
        rank = JOB_STATE_RANK[state]
        sets = [
            f"{e.path(*fs, 'status')} = {e.value(state)}",
            f"{e.path(*fs, 'rank')} = {e.value(rank)}",
            f"{e.path(*fs, 'updatedAt')} = {e.value(now)}",
            f"{e.path(Attr.UPDATED_AT)} = {e.value(now)}",
        ]
        if job_id is not None:
            sets.append(f"{e.path(*fs, 'jobId')} = {e.value(job_id)}")
        sets += [
            f"{e.path(*fs, name)} = {e.value(value)}" for name, value in (fields or {}).items()
        ]
        if outputs is not None:
            sets.append(f"{e.path(Attr.OUTPUTS, job_format)} = {e.value(dict(outputs))}")
        if error is not None:
            errors = e.path(Attr.ERRORS)
            sets.append(f"{errors} = list_append({errors}, {e.value([dict(error)])})")
        condition = (
            f"{e.path(*fs, 'attempt')} = {e.value(attempt)} AND "
            f"{e.path(*fs, 'rank')} < {e.value(rank)}"
        )
        return self._update(asset_id, e, "SET " + ", ".join(sets), condition)

    def record_progress(
        self,
        asset_id: str,
        job_format: str,
        *,
        attempt: int,
        job_id: str,
        progress: Mapping[str, Any],
        event_timestamp_ms: int,
        now: str,
    ) -> bool:
        """Store a STATUS_UPDATE unless a newer one (or a final state) is already recorded."""
        e = _Expression()
        fs = (Attr.FORMAT_STATUS, job_format)
        progress_path = e.path(Attr.PROGRESS, job_format)
        stamp = e.path(Attr.PROGRESS, job_format, "eventTimestamp")
        document = {**progress, "eventTimestamp": event_timestamp_ms, "jobId": job_id}
        update = (
            f"SET {progress_path} = {e.value(document)}, "
            f"{e.path(*fs, 'status')} = {e.value(JobState.PROGRESSING)}, "
            f"{e.path(*fs, 'rank')} = {e.value(JOB_STATE_RANK[JobState.PROGRESSING])}, "
            f"{e.path(*fs, 'jobId')} = {e.value(job_id)}, "
            f"{e.path(*fs, 'updatedAt')} = {e.value(now)}, "
            f"{e.path(Attr.UPDATED_AT)} = {e.value(now)}"
        )
        condition = (
            f"{e.path(*fs, 'attempt')} = {e.value(attempt)} AND "
            f"{e.path(*fs, 'rank')} < {e.value(FINAL_RANK)} AND "
            f"(attribute_not_exists({progress_path}) OR {stamp} < {e.value(event_timestamp_ms)})"
        )
        return self._update(asset_id, e, update, condition, returning=False) is not None

    def record_warning(
        self, asset_id: str, job_format: str, *, attempt: int, code: str, message: str, now: str
    ) -> bool:
        text = message[:MAX_ERROR_MESSAGE_CHARS]
        e = _Expression()
        fs = (Attr.FORMAT_STATUS, job_format)
        update = (
            f"SET {e.path(*fs, 'warnings', code)} = {e.value(text)}, "
            f"{e.path(Attr.UPDATED_AT)} = {e.value(now)}"
        )
        condition = (
            f"{e.path(*fs, 'attempt')} = {e.value(attempt)} AND "
            f"attribute_exists({e.path(*fs, 'warnings')})"
        )
        if self._update(asset_id, e, update, condition, returning=False) is not None:
            return True
        # No warnings map yet (a record written before there was one): create it.
        e = _Expression()
        update = (
            f"SET {e.path(*fs, 'warnings')} = {e.value({code: text})}, "
            f"{e.path(Attr.UPDATED_AT)} = {e.value(now)}"
        )
        condition = (
            f"{e.path(*fs, 'attempt')} = {e.value(attempt)} AND "
            f"attribute_not_exists({e.path(*fs, 'warnings')})"
        )
        return self._update(asset_id, e, update, condition, returning=False) is not None

    def record_input_details(self, asset_id: str, details: Any, now: str) -> bool:
        """Keep the first INPUT_INFORMATION the service reports about the source."""
        e = _Expression()
        path = e.path(Attr.SOURCE, "inputDetails")
        update = f"SET {path} = {e.value(details)}, {e.path(Attr.UPDATED_AT)} = {e.value(now)}"
        condition = f"attribute_exists({e.path(Attr.SOURCE)}) AND attribute_not_exists({path})"
        return self._update(asset_id, e, update, condition, returning=False) is not None

    def finish_succeeded(
        self, asset_id: str, formats: Iterable[str], now: str
    ) -> dict[str, Any] | None:
        """-> SUCCEEDED, only if every format's job is COMPLETE and the asset is not final."""
        e = _Expression()
        status = e.path(Attr.STATUS)
        all_complete = " AND ".join(
            f"{e.path(Attr.FORMAT_STATUS, f, 'status')} = {e.value(JobState.COMPLETE)}"
            for f in formats
        )
        update = (
            f"SET {status} = {e.value(AssetStatus.SUCCEEDED)}, "
            f"{e.path(Attr.OUTBOX)} = {e.value(OUTBOX_PENDING)}, "
            f"{e.path(Attr.COMPLETED_AT)} = {e.value(now)}, "
            f"{e.path(Attr.UPDATED_AT)} = {e.value(now)}"
        )
        condition = self._status_in(e, asset_sources(AssetEvent.ALL_COMPLETE)) + (
            f" AND {all_complete}" if all_complete else ""
        )
        return self._update(asset_id, e, update, condition)

    def mark_notified(
        self, asset_id: str, now: str, playback: Mapping[str, Any] | None = None
    ) -> bool:
        """Announcements done: record when (first time only) and leave the outbox; with
        ``playback``, keep the playback URLs that were announced."""
        e = _Expression()
        path = e.path(Attr.FINAL_NOTIFIED_AT)
        playback_set = (
            f", {e.path(Attr.PLAYBACK)} = {e.value(dict(playback))}" if playback is not None else ""
        )
        update = (
            f"SET {path} = if_not_exists({path}, {e.value(now)}){playback_set} "
            f"REMOVE {e.path(Attr.OUTBOX)}"
        )
        condition = self._status_in(e, asset_sources(AssetEvent.ANNOUNCED))
        return self._update(asset_id, e, update, condition, returning=False) is not None

    @staticmethod
    def _status_in(e: _Expression, statuses: Iterable[AssetStatus]) -> str:
        values = ", ".join(e.value(s) for s in sorted(statuses))
        return f"{e.path(Attr.STATUS)} IN ({values})"

    # -------------------------------------------------------------- helpers

    @staticmethod
    def _key(asset_id: str) -> dict[str, Any]:
        return {Attr.ASSET_ID.value: {"S": asset_id}}

    def _update(
        self,
        asset_id: str,
        e: _Expression,
        update: str,
        condition: str,
        *,
        returning: bool = True,
    ) -> dict[str, Any] | None:
        """Run a conditional update: None when the condition did not hold, else the new item
        (``returning``) or an empty dict (callers that only need to know it happened)."""
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=self._key(asset_id),
                UpdateExpression=update,
                ConditionExpression=condition,
                ReturnValues="ALL_NEW" if returning else "NONE",
                **e.kwargs(),
            )
        except ClientError as error:
            if _condition_failed(error):
                return None
            raise
        return _deserialize(answer["Attributes"]) if returning else {}


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: from_dynamo(_deserializer.deserialize(v)) for k, v in item.items()}
