"""ingest-orchestrator: SQS records in, MediaAssets records and MediaConvert jobs out.

Every record of a batch ends in exactly one of three ways:

* **success** (the message is deleted): the asset moved forward, was already past this point
  (a duplicate), or failed for good and its record says FAILED with the reason;
* **batch item failure** after a *transient* problem: the message's visibility is stretched
  exponentially with its receive count, so it comes back later; on the last receive the queue
  allows (``maxReceiveCount``) the record is first marked FAILED with its errors, and the queue
  then moves the message to the dead-letter queue;
* **batch item failure, visible at once**, for a message that cannot be parsed: it cycles
  quickly through its receives into the dead-letter queue, where an operator can read it.

Steps per upload, each guarded by a condition expression so a crash at any point leaves the
asset resumable and never submits a job twice: resolve the key -> create the PENDING record
(``attribute_not_exists``) -> Probe and plan (while PENDING) -> per format: claim, CreateJob,
record the job id -> PROCESSING.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError

from mediapipe_cfn.contract import FINAL_STATUSES, AssetStatus, Attr, Metric
from mediapipe_cfn.mediaconvert.ladder import SourceInfo, UnusableSourceError
from mediapipe_cfn.mediaconvert.settings import build_create_job_request, plan_jobs
from mediapipe_handlers import clock
from mediapipe_handlers.backoff import backoff_seconds
from mediapipe_handlers.failures import PermanentFailure, TransientFailure, describe, error_code
from mediapipe_handlers.log import asset_context, get_logger
from mediapipe_handlers.messages import (
    COMMAND_JOB_FAILED,
    JobCommand,
    MalformedMessage,
    UploadEvent,
    parse_queue_message,
)
from mediapipe_handlers.metrics import PipelineMetrics
from mediapipe_handlers.notify import publish_final_state
from mediapipe_handlers.repository import (
    JOB_STATE_RANK,
    AssetRepository,
    FailureKind,
    JobState,
    error_entry,
)
from mediapipe_handlers.runtime import Runtime, get_runtime
from mediapipe_handlers.transcoding import (
    JobNotCreated,
    create_job,
    find_submitted_job,
    probe_source,
    source_from_record,
    source_to_record,
)
from mediapipe_handlers.uploads import (
    derive_asset_id,
    output_prefix,
    rejection_reason,
    uploader_id,
)

# A claim outlives the invocation that wrote it by this much (clock differences, retries).
LEASE_SLACK = timedelta(seconds=5)
# Backoff used when the configuration itself cannot be read.
FALLBACK_BACKOFF = (30, 900)
# HeadObject answers meaning "not this key".
_ABSENT_CODES = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NotFound", "400", "403"})


def _claimed_by_earlier_receive(claim_token: str, delivery: Delivery) -> bool:
    """A claim made by an earlier receive of this same message is dead, whatever its lease says.

    That receive ended before SQS delivered the message again (it failed the record, e.g. on a
    CreateJob answer that left the outcome unknown), so waiting for its lease would only
    acknowledge the message while nobody submits the job: the asset would stay PENDING.
    """
    message_id, _, count = claim_token.rpartition("#")
    return (
        message_id == delivery.message_id
        and count.isdigit()
        and int(count) < delivery.receive_count
    )


class RetryLater(Exception):
    """Raised from a record handler: report the record as a batch item failure."""


@dataclass(frozen=True)
class Delivery:
    """One receive of one SQS message."""

    message_id: str
    receipt_handle: str
    receive_count: int
    token: str  # identifies this delivery's claims
    lease_until: str  # this invocation's deadline: its claims expire then


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (SQS event source with ReportBatchItemFailures)."""
    return get_logger().inject_lambda_context(_handle, clear_state=True)(event, context)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    runtime = get_runtime()
    metrics = PipelineMetrics(runtime.env.metrics_namespace, runtime.env.pipeline_id)
    orchestrator = Orchestrator(runtime, metrics, context)
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    try:
        return dict(
            process_partial_response(
                event=event,
                record_handler=orchestrator.handle_record,
                processor=processor,
                context=context,
            )
        )
    finally:
        metrics.flush()


class Orchestrator:
    """Handles the records of one invocation."""

    def __init__(self, runtime: Runtime, metrics: PipelineMetrics, context: Any) -> None:
        self.runtime = runtime
        self.metrics = metrics
        self.context = context
        self.repo = AssetRepository(runtime.clients.dynamodb, runtime.env.table_name)
        self.log = get_logger()

    # ------------------------------------------------------------------ records

    def handle_record(self, record: SQSRecord) -> None:
        delivery = self._delivery(record)
        self.log.append_keys(message_id=delivery.message_id)
        try:
            try:
                message = parse_queue_message(record.body)
            except MalformedMessage as error:
                self._reject_poison(delivery, str(error))
            if isinstance(message, UploadEvent):
                self._ingest(message, delivery)
            else:
                self._run_command(message, delivery)
        finally:
            self.log.remove_keys(["message_id"])

    def _delivery(self, record: SQSRecord) -> Delivery:
        count = int(record.attributes.approximate_receive_count or 1)
        remaining_ms = int(self.context.get_remaining_time_in_millis())
        deadline = clock.utc_now() + timedelta(milliseconds=remaining_ms) + LEASE_SLACK
        return Delivery(
            message_id=record.message_id,
            receipt_handle=record.receipt_handle,
            receive_count=count,
            token=f"{record.message_id}#{count}",
            lease_until=clock.iso(deadline),
        )

    def _reject_poison(self, delivery: Delivery, reason: str) -> NoReturn:
        # Visible again at once: it spends its receives quickly and lands in the DLQ.
        self.log.error(
            "unusable message; it will move to the dead-letter queue",
            extra={"reason": reason, "receive_count": delivery.receive_count},
        )
        self._set_visibility(delivery, 0)
        raise RetryLater(reason)

    # ------------------------------------------------------------------ uploads

    def _ingest(self, upload: UploadEvent, delivery: Delivery) -> None:
        try:
            key = self._resolve_key(upload)
        except PermanentFailure as failure:
            # No object, no asset: nothing to record; the event is dropped with a reason.
            self.log.warning(
                "upload event dropped",
                extra={
                    "reason": failure.reason,
                    "bucket": upload.bucket,
                    "raw_key": upload.raw_key,
                },
            )
            return
        except Exception as error:
            self._retry_later(delivery, None, error)
        asset_id = derive_asset_id(upload.bucket, key, upload.version_id, upload.sequencer)
        with asset_context(asset_id):
            self._guarded(
                delivery, asset_id, lambda: self._ingest_asset(upload, key, asset_id, delivery)
            )

    def _resolve_key(self, upload: UploadEvent) -> str:
        """The object's real key (see :mod:`mediapipe_handlers.messages` on key encoding)."""
        candidates = upload.key_candidates()
        if len(candidates) == 1:
            return candidates[0]
        denied = 0
        for candidate in candidates:
            request: dict[str, Any] = {"Bucket": upload.bucket, "Key": candidate}
            if upload.version_id:
                request["VersionId"] = upload.version_id
            try:
                head = self.runtime.clients.s3.head_object(**request)
            except ClientError as error:
                code = error_code(error)
                status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
                if code in _ABSENT_CODES or status in _ABSENT_CODES:
                    denied += status == "403" or code == "403"
                    continue
                raise
            if upload.version_id or _same_object(head, upload):
                return candidate
        if denied == len(candidates):
            raise TransientFailure("access denied reading the uploaded object")
        raise PermanentFailure("the uploaded object no longer exists", FailureKind.SOURCE_MISSING)

    def _ingest_asset(
        self, upload: UploadEvent, key: str, asset_id: str, delivery: Delivery
    ) -> None:
        config = self.runtime.config
        now = clock.now_iso()
        reason = rejection_reason(key, upload.size, config.ingest)
        if upload.bucket != self.runtime.env.uploads_bucket:
            reason = f"bucket {upload.bucket!r} is not this pipeline's uploads bucket"
        record = self._new_record(upload, key, asset_id, now, reason)
        if self.repo.create(record):
            self.metrics.count(Metric.ASSETS_RECEIVED)
            if reason:
                self.metrics.count(Metric.INVALID_UPLOADS)
                self.metrics.count(Metric.ASSETS_FAILED)
                self.log.warning("upload rejected", extra={"reason": reason, "s3_key": key})
                self._announce_final(record)
                return
            self.log.info(
                "asset created",
                extra={"s3_key": key, "size": upload.size, "multipart": upload.is_multipart},
            )
            item: dict[str, Any] | None = record
        else:
            item = self._existing_asset(asset_id)
        if item is not None:
            self._advance(item, delivery)

    def _new_record(
        self, upload: UploadEvent, key: str, asset_id: str, now: str, reason: str | None
    ) -> dict[str, Any]:
        config = self.runtime.config
        uploader = uploader_id(key, config.ingest)
        record: dict[str, Any] = {
            Attr.ASSET_ID: asset_id,
            Attr.UPLOADER_ID: uploader,
            Attr.S3_KEY: key,
            Attr.STATUS: AssetStatus.PENDING,
            Attr.FORMATS: [],
            Attr.CREATED_AT: now,
            Attr.UPDATED_AT: now,
            Attr.JOB_IDS: [],
            Attr.ERRORS: [],
            Attr.SOURCE_BUCKET: upload.bucket,
            Attr.SOURCE_SIZE: upload.size,
            Attr.SOURCE_ETAG: upload.etag,
            Attr.SOURCE_VERSION_ID: upload.version_id,
            Attr.SOURCE: {
                "uploadedAt": upload.event_time or now,
                "reason": upload.reason,
                "multipart": upload.is_multipart,
                "sequencer": upload.sequencer,
            },
            Attr.FORMAT_STATUS: {},
            Attr.PROGRESS: {},
            Attr.OUTPUTS: {},
            Attr.ATTEMPTS: 1,
            Attr.OUTPUT_PREFIX: output_prefix(config.output_path, uploader, asset_id),
        }
        if reason:
            record[Attr.STATUS] = AssetStatus.FAILED
            record[Attr.FAILURE_KIND] = FailureKind.INVALID_UPLOAD
            record[Attr.ERRORS] = [error_entry(reason, at=now, source="ingest")]
            record[Attr.COMPLETED_AT] = now
        return {str(k): v for k, v in record.items() if v is not None}

    def _existing_asset(self, asset_id: str) -> dict[str, Any] | None:
        """A record already exists: resume it, reopen it, or recognise a duplicate."""
        item = self.repo.get(asset_id)
        if item is None:  # deleted between the two calls: the next delivery starts afresh
            raise TransientFailure("asset record vanished while being read")
        status = item[Attr.STATUS]
        if status == AssetStatus.PENDING:
            self.log.info("resuming an asset an earlier delivery left PENDING")
            return item
        if (
            status == AssetStatus.FAILED
            and item.get(Attr.FAILURE_KIND) == FailureKind.TRANSIENT_EXHAUSTED
            and self.repo.reopen_after_transient_failure(asset_id, clock.now_iso())
        ):
            self.log.warning("asset reopened: its upload was redriven after transient failures")
            return self.repo.get(asset_id)
        self.log.info("duplicate event: nothing to do", extra={"status": status})
        self._announce_if_unannounced(item)
        return None

    # ------------------------------------------------------------------ jobs

    def _advance(self, item: dict[str, Any], delivery: Delivery) -> None:
        """PENDING asset -> plan -> one job per format -> PROCESSING."""
        asset_id = item[Attr.ASSET_ID]
        source_doc = dict(item.get(Attr.SOURCE) or {})
        if "plannedAt" not in source_doc:
            item = self._plan(item, source_doc)
            if item[Attr.STATUS] != AssetStatus.PENDING:
                return
        source = source_from_record(item[Attr.SOURCE].get("probe"))
        results = [
            self._ensure_job(item, job_format, 1, source, delivery)
            for job_format in item[Attr.FORMATS]
        ]
        if all(results) and self.repo.mark_processing(asset_id, clock.now_iso()):
            self.log.info("asset PROCESSING", extra={"formats": item[Attr.FORMATS]})

    def _plan(self, item: dict[str, Any], source_doc: dict[str, Any]) -> dict[str, Any]:
        outcome = probe_source(self.runtime.clients.mediaconvert, _input_uri(item))
        try:
            formats = plan_jobs(self.runtime.config.transcoding, outcome.source)
        except UnusableSourceError as error:
            raise PermanentFailure(str(error), FailureKind.UNUSABLE_SOURCE) from error
        now = clock.now_iso()
        source_doc.update(
            {"probe": source_to_record(outcome.source), "probeNote": outcome.note, "plannedAt": now}
        )
        if self.repo.record_plan(item[Attr.ASSET_ID], formats, source_doc, now):
            self.log.info("plan recorded", extra={"formats": formats, "probe": outcome.note})
            return {**item, Attr.FORMATS: formats, Attr.SOURCE: source_doc}
        # Another delivery planned (or finished) first: continue from what it stored.
        current = self.repo.get(item[Attr.ASSET_ID])
        if current is None:
            raise TransientFailure("asset record vanished while planning")
        return current

    def _ensure_job(
        self,
        item: Mapping[str, Any],
        job_format: str,
        attempt: int,
        source: SourceInfo | None,
        delivery: Delivery,
    ) -> bool:
        """Make sure ``job_format`` has a job for ``attempt``; False if another delivery is
        submitting it right now."""
        asset_id = item[Attr.ASSET_ID]
        state = (item.get(Attr.FORMAT_STATUS) or {}).get(job_format)
        now = clock.now_iso()
        claim = {"token": delivery.token, "lease_until": delivery.lease_until, "now": now}
        if state is None:
            if not self.repo.claim_format(asset_id, job_format, attempt=1, **claim):
                return self._lost_claim(asset_id, job_format)
            return self._submit(item, job_format, 1, source, delivery)
        if state["status"] == JobState.SUBMITTING and state["attempt"] == attempt:
            return self._take_over(item, job_format, state, source, delivery)
        if state["status"] == JobState.RETRY_SCHEDULED and state.get("nextAttempt") == attempt:
            if not self.repo.claim_format(asset_id, job_format, attempt=attempt, **claim):
                return self._lost_claim(asset_id, job_format)
            return self._submit(item, job_format, attempt, source, delivery)
        return JOB_STATE_RANK[JobState(state["status"])] >= JOB_STATE_RANK[JobState.SUBMITTED]

    def _take_over(
        self,
        item: Mapping[str, Any],
        job_format: str,
        state: Mapping[str, Any],
        source: SourceInfo | None,
        delivery: Delivery,
    ) -> bool:
        """Resume a submission an earlier delivery claimed but never recorded."""
        asset_id, attempt = item[Attr.ASSET_ID], int(state["attempt"])
        now = clock.now_iso()
        claim_token = str(state.get("claimToken", ""))
        ended = _claimed_by_earlier_receive(claim_token, delivery)
        if not state.get("released") and not ended and str(state["leaseUntil"]) >= now:
            self.log.info("another invocation is submitting this job", extra={"format": job_format})
            return False
        if not self.repo.claim_format(
            asset_id,
            job_format,
            attempt=attempt,
            token=delivery.token,
            lease_until=delivery.lease_until,
            now=now,
            takeover_token=claim_token,
            previous_claim_ended=ended,
        ):
            return self._lost_claim(asset_id, job_format)
        if not state.get("released"):
            claimed_at = clock.parse_iso(str(state.get("claimedAt"))) or clock.utc_now()
            job_id = find_submitted_job(
                self.runtime.clients.mediaconvert,
                queue_arn=self.runtime.env.mediaconvert_queue_arn,
                pipeline_id=self.runtime.env.pipeline_id,
                asset_id=asset_id,
                job_format=job_format,
                attempt=attempt,
                claimed_at=claimed_at,
            )
            if job_id is not None:
                self.log.warning(
                    "found the job of an interrupted submission; not submitting again",
                    extra={"format": job_format, "job_id": job_id},
                )
                self._record_job(asset_id, job_format, attempt, delivery, job_id)
                return True
        return self._submit(item, job_format, attempt, source, delivery)

    def _lost_claim(self, asset_id: str, job_format: str) -> bool:
        current = self.repo.get(asset_id) or {}
        state = (current.get(Attr.FORMAT_STATUS) or {}).get(job_format) or {}
        self.log.info(
            "another delivery claimed this job first",
            extra={"format": job_format, "state": state.get("status")},
        )
        status = state.get("status")
        return status is not None and JOB_STATE_RANK[JobState(status)] >= 1

    def _submit(
        self,
        item: Mapping[str, Any],
        job_format: str,
        attempt: int,
        source: SourceInfo | None,
        delivery: Delivery,
    ) -> bool:
        env = self.runtime.env
        asset_id = item[Attr.ASSET_ID]
        request = build_create_job_request(
            self.runtime.config.transcoding,
            job_format=job_format,
            asset_id=asset_id,
            input_uri=_input_uri(item),
            destination=f"s3://{env.outputs_bucket}/{item[Attr.OUTPUT_PREFIX]}",
            source=source,
            role_arn=env.mediaconvert_role_arn,
            queue_arn=env.mediaconvert_queue_arn,
            pipeline_id=env.pipeline_id,
            kms_key_arn=self.runtime.kms_key_arn,
            attempt=attempt,
        )
        try:
            job_id = create_job(self.runtime.clients.mediaconvert, request)
        except JobNotCreated:
            self.repo.release_claim(asset_id, job_format, delivery.token, clock.now_iso())
            raise
        except PermanentFailure as failure:
            self.repo.advance_format(
                asset_id,
                job_format,
                attempt=attempt,
                state=JobState.ERROR,
                job_id=None,
                now=clock.now_iso(),
                fields={"errorMessage": failure.reason},
            )
            self.metrics.count(Metric.FORMAT_FAILED, job_format=job_format)
            raise
        self._record_job(asset_id, job_format, attempt, delivery, job_id)
        self.metrics.count(Metric.JOBS_SUBMITTED, job_format=job_format)
        self.log.info(
            "job submitted", extra={"format": job_format, "job_id": job_id, "attempt": attempt}
        )
        return True

    def _record_job(
        self, asset_id: str, job_format: str, attempt: int, delivery: Delivery, job_id: str
    ) -> None:
        now = clock.now_iso()
        if self.repo.record_submission(
            asset_id, job_format, attempt=attempt, token=delivery.token, job_id=job_id, now=now
        ):
            return
        # The status processor saw the job's first event before this write: keep its jobId in
        # jobIds[] all the same. Anything else means two jobs exist; both write the same
        # outputs, and the record keeps both ids so operators can see it.
        current = self.repo.get(asset_id) or {}
        state = (current.get(Attr.FORMAT_STATUS) or {}).get(job_format) or {}
        if state.get("jobId") != job_id:
            self.log.error(
                "job created under a claim that was taken over",
                extra={"format": job_format, "job_id": job_id, "recorded": state.get("jobId")},
            )
        self.repo.add_job_id(asset_id, job_id, now)

    # ------------------------------------------------------------------ commands

    def _run_command(self, command: JobCommand, delivery: Delivery) -> None:
        with asset_context(command.asset_id, format=command.format):
            self._guarded(delivery, command.asset_id, lambda: self._resubmit(command, delivery))

    def _resubmit(self, command: JobCommand, delivery: Delivery) -> None:
        asset_id = command.asset_id
        attempt = command.attempt
        if command.command == COMMAND_JOB_FAILED:
            # A failure notice comes back from the DLQ only through an operator's redrive.
            if not self.repo.reopen_failed_job(asset_id, command.format, attempt, clock.now_iso()):
                self.log.info("redriven failure does not match the record; nothing to reopen")
                return
            self.log.warning("failed job reopened by a redrive", extra={"attempt": attempt + 1})
            attempt += 1
        item = self.repo.get(asset_id)
        if item is None:
            self.log.warning("job command for an unknown asset dropped")
            return
        if item[Attr.STATUS] in FINAL_STATUSES:
            self.log.info(
                "asset already final; job command dropped", extra={"status": item["status"]}
            )
            return
        source = source_from_record((item.get(Attr.SOURCE) or {}).get("probe"))
        if self._ensure_job(item, command.format, attempt, source, delivery):
            self.log.info("job resubmitted", extra={"attempt": attempt})

    # ------------------------------------------------------------------ failures

    def _guarded(self, delivery: Delivery, asset_id: str, work: Callable[[], None]) -> None:
        """Run ``work`` for ``asset_id``, turning every failure into its documented outcome."""
        try:
            try:
                work()
            except PermanentFailure as failure:
                self._fail_asset(asset_id, failure.reason, FailureKind(failure.kind))
        except RetryLater:
            raise
        except Exception as error:  # transient, or unexpected: never crash the batch
            self._retry_later(delivery, asset_id, error)

    def _fail_asset(self, asset_id: str, reason: str, kind: FailureKind) -> None:
        now = clock.now_iso()
        entry = error_entry(reason, at=now, source="ingest", kind=str(kind))
        item = self.repo.mark_failed(asset_id, entry, kind, now)
        if item is None:
            self.log.info(
                "asset already final; failure not recorded again", extra={"reason": reason}
            )
            return
        self.metrics.count(Metric.ASSETS_FAILED)
        self.log.error("asset FAILED", extra={"reason": reason, "failure_kind": str(kind)})
        self._announce_final(item)

    def _retry_later(
        self, delivery: Delivery, asset_id: str | None, error: BaseException
    ) -> NoReturn:
        """Batch item failure with backoff; on the last allowed receive, FAILED first."""
        description = describe(error)
        try:
            retry = self.runtime.config.retry
            base, cap, max_receives = (
                retry.backoff_base_seconds,
                retry.backoff_max_seconds,
                retry.max_receive_count,
            )
        except Exception:  # the configuration itself is unreadable: back off, decide nothing
            (base, cap), max_receives = FALLBACK_BACKOFF, None
        last = max_receives is not None and delivery.receive_count >= max_receives
        self.metrics.count(Metric.INGEST_TRANSIENT_FAILURES)
        if asset_id is not None:
            self._record_transient(asset_id, description, delivery, last)
        delay = 0 if last else backoff_seconds(delivery.receive_count, base, cap)
        self.log.warning(
            "transient failure; the message will be retried"
            if not last
            else "transient failure on the last allowed receive; the message goes to the DLQ",
            extra={"error": description, "receive_count": delivery.receive_count, "delay": delay},
            exc_info=not isinstance(error, TransientFailure | ClientError),
        )
        self._set_visibility(delivery, delay)
        raise RetryLater(description) from error

    def _record_transient(
        self, asset_id: str, description: str, delivery: Delivery, last: bool
    ) -> None:
        now = clock.now_iso()
        entry = error_entry(
            description, at=now, source="ingest", receiveCount=delivery.receive_count
        )
        try:
            if not last:
                self.repo.append_error(asset_id, entry, now)
                return
            item = self.repo.mark_failed(asset_id, entry, FailureKind.TRANSIENT_EXHAUSTED, now)
            if item is not None:
                self.metrics.count(Metric.ASSETS_FAILED)
                self.log.error("asset FAILED after its last allowed retry")
                self._announce_final(item)
        except Exception as error:  # the queue still retries; the record catches up then
            self.log.warning("could not record the failure", extra={"error": describe(error)})

    def _set_visibility(self, delivery: Delivery, seconds: int) -> None:
        try:
            self.runtime.clients.sqs.change_message_visibility(
                QueueUrl=self.runtime.env.processing_queue_url,
                ReceiptHandle=delivery.receipt_handle,
                VisibilityTimeout=seconds,
            )
        except Exception as error:  # the queue's own visibility timeout applies instead
            self.log.warning("could not change visibility", extra={"error": describe(error)})

    # ------------------------------------------------------------------ announcements

    def _announce_final(self, item: Mapping[str, Any]) -> None:
        try:
            publish_final_state(item, self.runtime)
            self.repo.mark_notified(item[Attr.ASSET_ID], clock.now_iso())
        except Exception as error:  # announced later: by a duplicate delivery or a redrive
            self.log.warning("final state not announced yet", extra={"error": describe(error)})

    def _announce_if_unannounced(self, item: Mapping[str, Any]) -> None:
        if item.get(Attr.STATUS) in FINAL_STATUSES and not item.get(Attr.FINAL_NOTIFIED_AT):
            self._announce_final(item)


def _input_uri(item: Mapping[str, Any]) -> str:
    return f"s3://{item[Attr.SOURCE_BUCKET]}/{item[Attr.S3_KEY]}"


def _same_object(head: Mapping[str, Any], upload: UploadEvent) -> bool:
    """Without a version id, ETag and size tell whether HeadObject found the uploaded object."""
    etag = str(head.get("ETag", "")).strip('"')
    size = head.get("ContentLength")
    return (upload.etag is None or etag == upload.etag) and (
        upload.size is None or size == upload.size
    )
