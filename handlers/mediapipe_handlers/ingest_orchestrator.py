"""ingest-orchestrator: SQS records in, MediaAssets records and MediaConvert jobs out.

Every message, whatever its kind (an upload event, a retry, a redriven failure, the
reconciler's nudge), comes down to one asset, and the orchestrator *drives that asset
forward* from whatever state it finds it in: make the working copy, probe and plan, then per
format claim -> CreateJob -> record the job; then settle it (all COMPLETE: SUCCEEDED; a format
failed for good: FAILED). Each step is a conditional write, so a crash or a duplicate at any
point leaves the asset resumable and never submits one attempt twice; the state machine is
:mod:`mediapipe_handlers.lifecycle`.

Every record of a batch ends in one of these ways:

* **success** (the message is deleted): the asset moved forward as far as it can now, was
  already past this point (a duplicate), or failed for good with the reason on its record;
* **batch item failure with backoff** after a *transient* problem: on the last receive the
  queue allows, the record is marked FAILED (TRANSIENT_EXHAUSTED) first, naming the message
  that then moves to the dead-letter queue;
* **batch item failure, short delay**, while another invocation holds a live claim on one of
  the asset's jobs, or when this invocation's time is nearly up (the record was not started);
* **batch item failure, visible at once**, for a message that cannot be parsed: it cycles
  through its receives into the dead-letter queue.

A message whose processing ends the process itself (out of memory, a timeout, a native crash)
is caught by a breadcrumb on the asset: from the second receive on, the orchestrator notes
which message it is working on; a breadcrumb an earlier receive of the same message never
cleared is a crash, and after ``crashLimit`` of them the asset is FAILED (HANDLER_CRASHED) and
the message parked on the dead-letter queue, so it stops taking its batch neighbours down. In
a batch that carries redelivered messages, records are handled least-delivered first and each
success is deleted at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from functools import cached_property
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
from mediapipe_cfn.mediaconvert.settings import (
    CaptionFile,
    build_create_job_request,
    caption_languages,
    plan_jobs,
    poster_path,
)
from mediapipe_handlers import clock
from mediapipe_handlers.backoff import backoff_seconds
from mediapipe_handlers.captions import (
    caption_from_record,
    caption_to_record,
    copy_sidecar,
    find_sidecar,
    is_sidecar_upload,
)
from mediapipe_handlers.failures import PermanentFailure, TransientFailure, describe
from mediapipe_handlers.lifecycle import (
    FINAL_RANK,
    JOB_STATE_RANK,
    REOPENABLE_BY_JOB_REDRIVE,
    REOPENABLE_BY_UPLOAD,
    AssetEvent,
    FailureKind,
    JobState,
)
from mediapipe_handlers.log import asset_context, get_logger
from mediapipe_handlers.messages import (
    COMMAND_JOB_FAILED,
    COMMAND_RECONCILE,
    JobCommand,
    MalformedMessage,
    UploadEvent,
    command_body,
    parse_queue_message,
)
from mediapipe_handlers.metrics import PipelineMetrics
from mediapipe_handlers.notify import send_to_dead_letter_queue, send_to_processing_queue
from mediapipe_handlers.records import new_asset_record
from mediapipe_handlers.repository import AssetRepository, error_entry
from mediapipe_handlers.routing import Placement, QueuesFull, Router, router_for
from mediapipe_handlers.runtime import Runtime, get_runtime
from mediapipe_handlers.settlement import Settlement, owes_announcement
from mediapipe_handlers.sources import make_working_copy, resolve_key, working_copy_key
from mediapipe_handlers.transcoding import (
    JobNotCreated,
    create_job,
    find_submitted_job,
    probe_source,
    source_from_record,
    source_to_record,
)
from mediapipe_handlers.uploads import derive_asset_id, rejection_reason

# A claim outlives the invocation that wrote it by this much (clock differences, retries).
LEASE_SLACK = timedelta(seconds=5)
# Backoff used when the configuration itself cannot be read.
FALLBACK_BACKOFF = (30, 900)
# A record is started only with this much of the invocation left: a worst-case SDK call is
# 3 attempts x (2 s + 5 s), and a record makes a few in a row.
RECORD_BUDGET = timedelta(seconds=20)
# How long a delivery waits in place for another invocation's live claim to resolve.
CLAIM_WAIT = timedelta(seconds=6)
CLAIM_POLL_SECONDS = 1.0
# Visibility of a record set aside while another invocation holds a claim on its asset.
WAIT_FOR_CLAIM_SECONDS = 30


class RetryLater(Exception):
    """Raised from a record handler: report the record as a batch item failure."""


class FormatOutcome(Enum):
    """Where one format stands after this delivery did what it could."""

    HAS_JOB = "has a job"  # submitted, running or complete
    FAILED = "failed for good"
    SCHEDULED = "retry scheduled"  # another delivery left it for its retry command
    WAITING = "another delivery holds a live claim"


@dataclass(frozen=True)
class Delivery:
    """One receive of one SQS message."""

    message_id: str
    receipt_handle: str
    receive_count: int
    body: str
    token: str  # identifies this delivery's claims
    lease_until: str  # this invocation's deadline: its claims expire then


def _claimed_by_earlier_receive(claim_token: str, delivery: Delivery) -> bool:
    """A claim made by an earlier receive of this same message is dead, whatever its lease says.

    That receive ended before SQS delivered the message again, so waiting for its lease would
    only acknowledge the message while nobody submits the job.
    """
    message_id, _, count = claim_token.rpartition("#")
    return (
        message_id == delivery.message_id
        and count.isdigit()
        and int(count) < delivery.receive_count
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (SQS event source with ReportBatchItemFailures)."""
    return get_logger().inject_lambda_context(_handle, clear_state=True)(event, context)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    runtime = get_runtime()
    metrics = PipelineMetrics(runtime.env.metrics_namespace, runtime.env.pipeline_id)
    orchestrator = Orchestrator(runtime, metrics, context)
    records = list(event.get("Records") or [])
    careful = any(_receive_count(r) > 1 for r in records)
    if careful:
        # A redelivered batch may hold a message that ends the process: run the least
        # delivered first, and delete each success at once, so a crash cannot take them along.
        records.sort(key=_receive_count)
        orchestrator.delete_on_success = True
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    try:
        return dict(
            process_partial_response(
                event={**event, "Records": records},
                record_handler=orchestrator.handle_record,
                processor=processor,
                context=context,
            )
        )
    finally:
        metrics.flush()


def _receive_count(record: Mapping[str, Any]) -> int:
    try:
        return int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
    except (TypeError, ValueError):
        return 1


class Orchestrator:
    """Handles the records of one invocation."""

    def __init__(self, runtime: Runtime, metrics: PipelineMetrics, context: Any) -> None:
        self.runtime = runtime
        self.metrics = metrics
        self.context = context
        self.repo = AssetRepository(runtime.clients.dynamodb, runtime.env.table_name)
        self.settlement = Settlement(runtime, self.repo, metrics)
        self.log = get_logger()
        self.delete_on_success = False
        self.submissions = 0  # jobs this invocation created or adopted

    @cached_property
    def router(self) -> Router:
        """Queue, priority and in-flight budget of each job (read with the configuration)."""
        return router_for(self.runtime)

    # ------------------------------------------------------------------ records

    def handle_record(self, record: SQSRecord) -> None:
        delivery = self._delivery(record)
        self.log.append_keys(message_id=delivery.message_id)
        try:
            if self._remaining() < RECORD_BUDGET:
                # Not started: another invocation takes it in a moment, nothing to undo.
                self.log.info("too little time left in this invocation; record set aside")
                self._set_visibility(delivery, 0)
                raise RetryLater("not started: the invocation is nearly out of time")
            try:
                message = parse_queue_message(record.body)
            except MalformedMessage as error:
                self._reject_poison(delivery, str(error))
            if isinstance(message, UploadEvent):
                self._ingest(message, delivery)
            else:
                self._run_command(message, delivery)
            if self.delete_on_success:
                self._delete(delivery)
        finally:
            self.log.remove_keys(["message_id"])

    def _remaining(self) -> timedelta:
        return timedelta(milliseconds=int(self.context.get_remaining_time_in_millis()))

    def _delivery(self, record: SQSRecord) -> Delivery:
        count = int(record.attributes.approximate_receive_count or 1)
        deadline = clock.utc_now() + self._remaining() + LEASE_SLACK
        return Delivery(
            message_id=record.message_id,
            receipt_handle=record.receipt_handle,
            receive_count=count,
            body=record.body,
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
        missing: str | None = None
        try:
            key = resolve_key(self.runtime.clients.s3, upload)
        except PermanentFailure as failure:
            # The object is gone: the asset is still recorded, FAILED with the reason.
            key, missing = upload.key_candidates()[0], failure.reason
        except Exception as error:
            self._retry_later(delivery, None, error)
        if self._is_caption_file(upload, key):
            # Picked up by its video when that is planned; not an asset of its own.
            self.log.info("caption file uploaded; it goes with its video", extra={"s3_key": key})
            return
        asset_id = derive_asset_id(upload.bucket, key, upload.version_id, upload.sequencer)
        with asset_context(asset_id):
            self._guarded(
                delivery,
                asset_id,
                lambda: self._ingest_asset(upload, key, asset_id, delivery, missing),
            )

    def _is_caption_file(self, upload: UploadEvent, key: str) -> bool:
        config = self.runtime.config
        return (
            upload.bucket == self.runtime.env.uploads_bucket
            and key.startswith(config.ingest.prefix)
            and is_sidecar_upload(key, config.ingest.extensions, self._sidecar_extensions())
        )

    def _sidecar_extensions(self) -> list[str]:
        return list(self.runtime.config.transcoding["quality"]["captions"]["sidecarExtensions"])

    def _ingest_asset(
        self,
        upload: UploadEvent,
        key: str,
        asset_id: str,
        delivery: Delivery,
        missing: str | None,
    ) -> None:
        config = self.runtime.config
        reason = rejection_reason(key, upload.size, config.ingest)
        if upload.bucket != self.runtime.env.uploads_bucket:
            reason = f"bucket {upload.bucket!r} is not this pipeline's uploads bucket"
        kind = FailureKind.INVALID_UPLOAD
        if reason is None and missing is not None:
            reason, kind = missing, FailureKind.SOURCE_MISSING
        record = new_asset_record(
            upload, key, asset_id, self.runtime.config, clock.now_iso(), reason, kind
        )
        if self.repo.create(record):
            self.metrics.count(Metric.ASSETS_RECEIVED)
            if reason:
                if kind == FailureKind.INVALID_UPLOAD:
                    self.metrics.count(Metric.INVALID_UPLOADS)
                self.metrics.count(Metric.ASSETS_FAILED)
                self.log.warning(
                    "upload rejected", extra={"reason": reason, "failure_kind": str(kind)}
                )
                self.settlement.announce_quietly(record)
                return
            self.log.info(
                "asset created",
                extra={"s3_key": key, "size": upload.size, "multipart": upload.is_multipart},
            )
        self._work_on(asset_id, delivery, REOPENABLE_BY_UPLOAD)

    # ------------------------------------------------------------------ commands

    def _run_command(self, command: JobCommand, delivery: Delivery) -> None:
        with asset_context(command.asset_id, format=command.format):
            kinds = REOPENABLE_BY_JOB_REDRIVE if command.command == COMMAND_JOB_FAILED else None
            self._guarded(
                delivery,
                command.asset_id,
                lambda: self._work_on(command.asset_id, delivery, kinds),
            )

    # ------------------------------------------------------------------ the asset

    def _work_on(
        self, asset_id: str, delivery: Delivery, reopen_kinds: frozenset[FailureKind] | None
    ) -> None:
        """Bring ``asset_id`` as far forward as it can go now (see the module docstring)."""
        if delivery.receive_count == 1:
            self._work_on_asset(asset_id, delivery, reopen_kinds)
            return
        if self._crashed_too_often(asset_id, delivery):
            return
        try:
            self._work_on_asset(asset_id, delivery, reopen_kinds)
        except Exception:
            self._end_in_flight(asset_id, delivery)
            raise
        # Not reached when the process is ending (a BaseException): that is what a crash is.
        self._end_in_flight(asset_id, delivery)

    def _end_in_flight(self, asset_id: str, delivery: Delivery) -> None:
        self.repo.end_in_flight(asset_id, delivery.message_id, delivery.receive_count)

    def _work_on_asset(
        self, asset_id: str, delivery: Delivery, reopen_kinds: frozenset[FailureKind] | None
    ) -> None:
        item = self.repo.get(asset_id)
        if item is None:
            self.log.warning("message for an unknown asset dropped")
            return
        status = item[Attr.STATUS]
        if status == AssetStatus.FAILED and item.get(Attr.FAILURE_KIND) in (reopen_kinds or ()):
            reopened = self.repo.reopen(item, reopen_kinds or frozenset(), clock.now_iso())
            if reopened is None:
                raise TransientFailure("the asset changed while it was being reopened")
            self.log.warning(
                "asset reopened for another attempt",
                extra={"failure_kind": item.get(Attr.FAILURE_KIND)},
            )
            item, status = reopened, reopened[Attr.STATUS]
        if status in FINAL_STATUSES:
            self.log.info("asset already final; nothing to do", extra={"status": status})
            if owes_announcement(item):
                self.settlement.announce_quietly(item)
            return
        self._drive(item, delivery)

    def _crashed_too_often(self, asset_id: str, delivery: Delivery) -> bool:
        """Leave this receive's breadcrumb; True when the asset was failed for crashing."""
        now = clock.now_iso()
        exists, previous = self.repo.start_in_flight(
            asset_id, delivery.message_id, delivery.receive_count, now
        )
        if not exists or not previous or previous.get("messageId") != delivery.message_id:
            return False
        if int(previous.get("receiveCount") or 0) >= delivery.receive_count:
            return False
        crashes = int(previous.get("crashes") or 0) + 1
        self.metrics.count(Metric.HANDLER_CRASHES)
        limit = self.runtime.config.reconcile.crash_limit
        self.log.error(
            "an earlier receive of this message ended the handler while working on it",
            extra={"crashes": crashes, "crash_limit": limit},
        )
        if crashes < limit:
            self.repo.count_crash(asset_id, delivery.message_id, delivery.receive_count, crashes)
            return False
        reason = (
            f"processing this message ended the handler {crashes} times (out of memory, a "
            "timeout or a crash) before it could finish"
        )
        # Parked on the DLQ so an operator can redrive it once the cause is fixed.
        parked = send_to_dead_letter_queue(delivery.body, self.runtime)
        entry = error_entry(reason, at=now, source="ingest", receiveCount=delivery.receive_count)
        item = self.repo.mark_failed(
            asset_id,
            entry,
            FailureKind.HANDLER_CRASHED,
            now,
            event=AssetEvent.CRASH_LIMIT,
            dead_letter=parked,
        )
        if item is not None:
            self.metrics.count(Metric.ASSETS_FAILED)
            self.log.error("asset FAILED", extra={"reason": reason})
            self.settlement.announce_quietly(item)
        return True

    def _drive(self, item: dict[str, Any], delivery: Delivery) -> None:
        item = self._ensure_working_copy(item)
        if "plannedAt" not in (item.get(Attr.SOURCE) or {}):
            item = self._plan(item)
            if item[Attr.STATUS] in FINAL_STATUSES:
                return
        source = source_from_record((item.get(Attr.SOURCE) or {}).get("probe"))
        submitted_before = self.submissions
        outcomes = {
            job_format: self._ensure_job(item, job_format, source, delivery)
            for job_format in item[Attr.FORMATS]
        }
        has_job = FormatOutcome.HAS_JOB in outcomes.values()
        if (
            has_job
            and item[Attr.STATUS] == AssetStatus.PENDING
            and self.repo.mark_processing(item[Attr.ASSET_ID], clock.now_iso())
        ):
            self.log.info("asset PROCESSING", extra={"formats": item[Attr.FORMATS]})
        if self.submissions == submitted_before and not has_job_changes(item, outcomes):
            self.log.info("nothing left to do for this asset now")
        waiting = [f for f, o in outcomes.items() if o is FormatOutcome.WAITING]
        if (
            waiting
            or any(_is_final_state(item, f) for f in outcomes)
            or FormatOutcome.FAILED in outcomes.values()
        ):
            current = self.repo.get(item[Attr.ASSET_ID])
            if current is not None:
                current = dict(self.settlement.settle(current))
                if current[Attr.STATUS] in FINAL_STATUSES:
                    return
                waiting = [f for f in waiting if _has_live_claim(current, f)]
        if waiting:
            raise _WaitForClaim(waiting)

    def _ensure_working_copy(self, item: dict[str, Any]) -> dict[str, Any]:
        if (item.get(Attr.WORKING_COPY) or {}).get("uri"):
            return item
        asset_id = str(item[Attr.ASSET_ID])
        copy = make_working_copy(
            self.runtime.clients.s3_copy,
            bucket=str(item[Attr.SOURCE_BUCKET]),
            key=str(item[Attr.S3_KEY]),
            version_id=item.get(Attr.SOURCE_VERSION_ID),
            etag=item.get(Attr.SOURCE_ETAG),
            target_key=working_copy_key(
                self.runtime.config.working_copy_prefix, asset_id, str(item[Attr.S3_KEY])
            ),
            kms_key_arn=self.runtime.kms_key_arn,
        )
        copy["copiedAt"] = clock.now_iso()
        if not self.repo.record_working_copy(asset_id, copy, copy["copiedAt"]):
            raise TransientFailure("the asset changed while its working copy was recorded")
        self.log.info("working copy made", extra={"working_copy": copy["uri"]})
        return {**item, Attr.WORKING_COPY: copy}

    def _plan(self, item: dict[str, Any]) -> dict[str, Any]:
        outcome = probe_source(self.runtime.clients.mediaconvert, _input_uri(item))
        try:
            formats = plan_jobs(self.runtime.config.transcoding, outcome.source)
        except UnusableSourceError as error:
            raise PermanentFailure(str(error), FailureKind.UNUSABLE_SOURCE) from error
        spec = self.runtime.config.transcoding
        sidecar = (
            self._sidecar(item) if outcome.source is None or outcome.source.has_video else None
        )
        languages = caption_languages(spec, outcome.source, sidecar)
        now = clock.now_iso()
        source_doc = dict(item.get(Attr.SOURCE) or {})
        source_doc.update(
            {"probe": source_to_record(outcome.source), "probeNote": outcome.note, "plannedAt": now}
        )
        if sidecar is not None:
            source_doc["captions"] = caption_to_record(sidecar)
        poster = poster_path(spec, outcome.source)
        if poster is not None:
            source_doc["poster"] = poster
        if self.repo.record_plan(item[Attr.ASSET_ID], formats, source_doc, now, languages):
            self.log.info(
                "plan recorded",
                extra={"formats": formats, "probe": outcome.note, "captions": languages},
            )
            planned = {**item, Attr.FORMATS: formats, Attr.SOURCE: source_doc}
            return {**planned, Attr.CAPTION_LANGUAGES: languages} if languages else planned
        # Another delivery planned (or finished) first: continue from what it stored.
        current = self.repo.get(item[Attr.ASSET_ID])
        if current is None:
            raise TransientFailure("asset record vanished while planning")
        return current

    def _sidecar(self, item: Mapping[str, Any]) -> CaptionFile | None:
        """The upload's caption file, copied beside its working copy (None without one)."""
        extensions = self._sidecar_extensions()
        bucket, key = str(item[Attr.SOURCE_BUCKET]), str(item[Attr.S3_KEY])
        found = (
            find_sidecar(self.runtime.clients.s3, bucket, key, extensions) if extensions else None
        )
        if found is None:
            return None
        return copy_sidecar(
            self.runtime.clients.s3,
            bucket=bucket,
            key=found,
            # The asset's own folder beside its working copy, which MediaConvert reads.
            target_prefix=f"{self.runtime.config.working_copy_prefix}{item[Attr.ASSET_ID]}/",
            language=str(self.runtime.config.transcoding["quality"]["captions"]["language"]),
            kms_key_arn=self.runtime.kms_key_arn,
        )

    # ------------------------------------------------------------------ jobs

    def _ensure_job(
        self,
        item: Mapping[str, Any],
        job_format: str,
        source: SourceInfo | None,
        delivery: Delivery,
        *,
        second_look: bool = False,
    ) -> FormatOutcome:
        """Make sure ``job_format`` has a job for its current attempt."""
        asset_id = str(item[Attr.ASSET_ID])
        state = (item.get(Attr.FORMAT_STATUS) or {}).get(job_format)
        status = JobState(state["status"]) if state else None
        if status is None or status is JobState.RETRY_SCHEDULED:
            # A retry is submitted by whichever delivery sees it first: normally the delayed
            # retry command, which is the backoff; sooner only if the upload comes back.
            attempt = 1 if state is None else int(state["nextAttempt"])
            if self.repo.claim_format(
                asset_id,
                job_format,
                attempt=attempt,
                token=delivery.token,
                lease_until=delivery.lease_until,
                now=clock.now_iso(),
                input_uri=_input_uri(item),
            ):
                return self._submit(item, job_format, attempt, source, delivery)
        elif status is JobState.SUBMITTING:
            return self._take_over(item, job_format, state, source, delivery)
        elif status in (JobState.ERROR, JobState.CANCELED):
            return FormatOutcome.FAILED
        else:
            return FormatOutcome.HAS_JOB
        # The claim was lost to another delivery: look at what it did, once.
        current = self.repo.get(asset_id)
        if current is None or current[Attr.STATUS] in FINAL_STATUSES or second_look:
            return FormatOutcome.WAITING
        return self._ensure_job(current, job_format, source, delivery, second_look=True)

    def _take_over(
        self,
        item: Mapping[str, Any],
        job_format: str,
        state: Mapping[str, Any],
        source: SourceInfo | None,
        delivery: Delivery,
    ) -> FormatOutcome:
        """Resume a submission an earlier delivery claimed but never recorded."""
        asset_id, attempt = str(item[Attr.ASSET_ID]), int(state["attempt"])
        claim_token = str(state.get("claimToken", ""))
        if claim_token == delivery.token:
            return self._submit(item, job_format, attempt, source, delivery)
        ended = _claimed_by_earlier_receive(claim_token, delivery)
        if not state.get("released") and not ended and str(state["leaseUntil"]) >= clock.now_iso():
            return self._wait_for_claim(item, job_format, source, delivery)
        if not self.repo.claim_format(
            asset_id,
            job_format,
            attempt=attempt,
            token=delivery.token,
            lease_until=delivery.lease_until,
            now=clock.now_iso(),
            input_uri=str(state.get("inputUri") or _input_uri(item)),
            first_claimed_at=str(state.get("firstClaimedAt") or state.get("claimedAt") or ""),
            takeover_token=claim_token,
            previous_claim_ended=ended,
        ):
            current = self.repo.get(asset_id) or {}
            return _outcome_of(current, job_format)
        if not state.get("released"):
            found = self._find_submitted_job(item, job_format, state, attempt)
            if found is not None:
                region, job_id = found
                self.log.warning(
                    "found the job of an interrupted submission; not submitting again",
                    extra={"format": job_format, "job_id": job_id},
                )
                self._record_job(asset_id, job_format, attempt, delivery, job_id, region)
                self.submissions += 1
                return FormatOutcome.HAS_JOB
        return self._submit(item, job_format, attempt, source, delivery)

    def _find_submitted_job(
        self, item: Mapping[str, Any], job_format: str, state: Mapping[str, Any], attempt: int
    ) -> tuple[str | None, str] | None:
        """(region, id) of the job an interrupted submission created, in whichever queue (and
        region: the fallback's too) it chose; region None is the stack's own."""
        for region, queue_arn in self.router.queue_arns:
            job_id = find_submitted_job(
                self.runtime.clients.mediaconvert_in(region),
                queue_arn=queue_arn,
                input_uri=str(state.get("inputUri") or _input_uri(item)),
                pipeline_id=self.runtime.env.pipeline_id,
                asset_id=str(item[Attr.ASSET_ID]),
                job_format=job_format,
                attempt=attempt,
            )
            if job_id is not None:
                self.router.count_found(
                    asset_id=str(item[Attr.ASSET_ID]),
                    job_format=job_format,
                    attempt=attempt,
                    queue_arn=queue_arn,
                    now=clock.now_iso(),
                )
                return region, job_id
        return None

    def _wait_for_claim(
        self,
        item: Mapping[str, Any],
        job_format: str,
        source: SourceInfo | None,
        delivery: Delivery,
    ) -> FormatOutcome:
        """Another invocation is submitting this job now: give it a few seconds to finish."""
        waited = timedelta()
        asset_id = str(item[Attr.ASSET_ID])
        while waited < CLAIM_WAIT and self._remaining() > RECORD_BUDGET:
            time.sleep(CLAIM_POLL_SECONDS)
            waited += timedelta(seconds=CLAIM_POLL_SECONDS)
            current = self.repo.get(asset_id) or {}
            if not _has_live_claim(current, job_format):
                if current.get(Attr.STATUS) in FINAL_STATUSES:
                    return _outcome_of(current, job_format)
                return self._ensure_job(current, job_format, source, delivery, second_look=True)
        self.log.info("another invocation is submitting this job", extra={"format": job_format})
        return FormatOutcome.WAITING

    def _submit(
        self,
        item: Mapping[str, Any],
        job_format: str,
        attempt: int,
        source: SourceInfo | None,
        delivery: Delivery,
    ) -> FormatOutcome:
        env = self.runtime.env
        asset_id = str(item[Attr.ASSET_ID])
        placement = self._place(item, job_format, attempt, delivery)
        request = build_create_job_request(
            self.runtime.config.transcoding,
            job_format=job_format,
            asset_id=asset_id,
            input_uri=_input_uri(item),
            destination=f"s3://{env.outputs_bucket}/{item[Attr.OUTPUT_PREFIX]}",
            source=source,
            role_arn=env.mediaconvert_role_arn,
            queue_arn=placement.queue_arn,
            pipeline_id=env.pipeline_id,
            kms_key_arn=self.runtime.kms_key_arn,
            attempt=attempt,
            sidecar=caption_from_record((item.get(Attr.SOURCE) or {}).get("captions")),
        )
        request["Priority"] = placement.priority
        try:
            job_id = create_job(self.runtime.clients.mediaconvert_in(placement.region), request)
        except JobNotCreated:
            self._tell_breaker(placement, succeeded=False)
            self.router.release(asset_id, job_format, attempt)
            self.repo.release_claim(asset_id, job_format, delivery.token, clock.now_iso())
            raise
        except TransientFailure:
            # A 5xx may still have created the job: the claim stays for the next delivery's
            # search; the primary's impairment counts all the same.
            self._tell_breaker(placement, succeeded=False)
            raise
        except PermanentFailure as failure:
            self.router.release(asset_id, job_format, attempt)
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
        self._record_job(asset_id, job_format, attempt, delivery, job_id, placement.region)
        self._tell_breaker(placement, succeeded=True)
        self.submissions += 1
        self.metrics.count(Metric.JOBS_SUBMITTED, job_format=job_format)
        if placement.in_flight is not None:
            self.metrics.per_queue(Metric.QUEUE_IN_FLIGHT, placement.queue, placement.in_flight)
        self.log.info(
            "job submitted",
            extra={
                "format": job_format,
                "job_id": job_id,
                "attempt": attempt,
                "queue": placement.queue,
                "priority": placement.priority,
                "in_flight": placement.in_flight,
                "budget": placement.budget,
                "region": placement.region,
            },
        )
        return FormatOutcome.HAS_JOB

    def _tell_breaker(self, placement: Placement, *, succeeded: bool) -> None:
        """The regional fallback's breaker learns how CreateJob went in the primary region.

        Never fails the submission: a breaker that cannot be written only opens later.
        """
        try:
            recorded = self.router.primary_outcome(placement, succeeded, clock.now_iso())
        except Exception as error:
            self.log.warning("could not update the fallback breaker", extra={"error": str(error)})
            return
        if recorded is not None and recorded.opened:
            self.metrics.count(Metric.FALLBACK_ACTIVATIONS)
            self.log.warning(
                "the primary region keeps failing CreateJob: jobs go to the fallback region",
                extra={"breaker": recorded.after, "was": recorded.before},
            )

    def _place(
        self, item: Mapping[str, Any], job_format: str, attempt: int, delivery: Delivery
    ) -> Placement:
        """The job's queue and priority; with every queue full, the claim is let go first."""
        asset_id = str(item[Attr.ASSET_ID])
        try:
            return self.router.place(
                asset_id=asset_id,
                job_format=job_format,
                attempt=attempt,
                uploader=str(item.get(Attr.UPLOADER_ID) or ""),
                base_priority=int(self.runtime.config.transcoding["transcoding"]["priority"]),
                now=clock.now_iso(),
            )
        except QueuesFull:
            self.repo.release_claim(asset_id, job_format, delivery.token, clock.now_iso())
            raise

    def _record_job(
        self,
        asset_id: str,
        job_format: str,
        attempt: int,
        delivery: Delivery,
        job_id: str,
        region: str | None = None,
    ) -> None:
        now = clock.now_iso()
        if self.repo.record_submission(
            asset_id,
            job_format,
            attempt=attempt,
            token=delivery.token,
            job_id=job_id,
            now=now,
            region=region,
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

    # ------------------------------------------------------------------ failures

    def _guarded(self, delivery: Delivery, asset_id: str, work: Callable[[], None]) -> None:
        """Run ``work`` for ``asset_id``, turning every failure into its documented outcome."""
        try:
            try:
                work()
            except PermanentFailure as failure:
                self._fail_asset(asset_id, failure.reason, FailureKind(failure.kind), delivery)
        except _WaitForClaim as waiting:
            self._wait_later(delivery, waiting)
        except QueuesFull as full:
            self._put_off(delivery, asset_id, full)
        except RetryLater:
            raise
        except Exception as error:  # transient, or unexpected: never crash the batch
            self._retry_later(delivery, asset_id, error)

    def _fail_asset(
        self, asset_id: str, reason: str, kind: FailureKind, delivery: Delivery
    ) -> None:
        now = clock.now_iso()
        entry = error_entry(reason, at=now, source="ingest", kind=str(kind))
        item = self.repo.mark_failed(asset_id, entry, kind, now)
        if item is None:
            current = self.repo.get(asset_id)
            if current is not None and owes_announcement(current):
                self.settlement.announce_quietly(current)
            self.log.info(
                "asset already final; failure not recorded again", extra={"reason": reason}
            )
            return
        self.metrics.count(Metric.ASSETS_FAILED)
        self.log.error("asset FAILED", extra={"reason": reason, "failure_kind": str(kind)})
        self.settlement.cancel_running_jobs(item)
        self.settlement.announce_quietly(item)

    def _wait_later(self, delivery: Delivery, waiting: _WaitForClaim) -> None:
        """Another invocation holds a live claim: come back when it has had time to finish."""
        if delivery.receive_count >= self.runtime.config.retry.max_receive_count:
            # The claim's holder finishes the job (or the reconciler does): nothing is lost by
            # letting this copy go, while the DLQ would fail an asset that is doing fine.
            self.log.info("last receive while another invocation holds a claim; released")
            return
        self._set_visibility(delivery, WAIT_FOR_CLAIM_SECONDS)
        raise RetryLater(f"waiting for another invocation's claim on {', '.join(waiting.formats)}")

    def _put_off(self, delivery: Delivery, asset_id: str, full: QueuesFull) -> None:
        """Every queue the job may use is full: come back later as a new delayed message.

        A new message rather than a failed receive, so that a long backlog never uses up the
        message's receives and sends a healthy asset to the dead-letter queue.
        """
        self.metrics.count(Metric.CAPACITY_WAITS)
        self.log.info(
            "queues at their in-flight budget; asset put off",
            extra={"reason": str(full), "delay": full.retry_seconds},
        )
        body = command_body(COMMAND_RECONCILE, asset_id, "*", 1, {"by": "capacity"})
        try:
            send_to_processing_queue(body, full.retry_seconds, self.runtime)
        except Exception as error:  # the message itself comes back with backoff instead
            self._retry_later(delivery, asset_id, error)

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
            # The message moves to the DLQ keeping its id: the record names it.
            item = self.repo.mark_failed(
                asset_id,
                entry,
                FailureKind.TRANSIENT_EXHAUSTED,
                now,
                event=AssetEvent.RETRIES_EXHAUSTED,
                dead_letter=delivery.message_id,
            )
            if item is not None:
                self.metrics.count(Metric.ASSETS_FAILED)
                self.log.error("asset FAILED after its last allowed retry")
                self.settlement.announce_quietly(item)
            else:
                self.repo.add_dead_letter(asset_id, delivery.message_id, now)
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

    def _delete(self, delivery: Delivery) -> None:
        try:
            self.runtime.clients.sqs.delete_message(
                QueueUrl=self.runtime.env.processing_queue_url,
                ReceiptHandle=delivery.receipt_handle,
            )
        except Exception as error:  # Lambda deletes it with the batch's successes anyway
            self.log.warning(
                "could not delete a finished message", extra={"error": describe(error)}
            )


class _WaitForClaim(Exception):
    """Another invocation holds a live claim on these formats."""

    def __init__(self, formats: list[str]) -> None:
        super().__init__(", ".join(formats))
        self.formats = formats


def has_job_changes(item: Mapping[str, Any], outcomes: Mapping[str, FormatOutcome]) -> bool:
    """Whether this look at the asset found anything but jobs that already existed."""
    return item[Attr.STATUS] == AssetStatus.PENDING or any(
        outcome is not FormatOutcome.HAS_JOB for outcome in outcomes.values()
    )


def _has_live_claim(item: Mapping[str, Any], job_format: str) -> bool:
    state = (item.get(Attr.FORMAT_STATUS) or {}).get(job_format) or {}
    return (
        state.get("status") == JobState.SUBMITTING
        and not state.get("released")
        and str(state.get("leaseUntil") or "") >= clock.now_iso()
    )


def _is_final_state(item: Mapping[str, Any], job_format: str) -> bool:
    state = (item.get(Attr.FORMAT_STATUS) or {}).get(job_format) or {}
    status = state.get("status")
    return status is not None and JOB_STATE_RANK[JobState(status)] >= FINAL_RANK


def _outcome_of(item: Mapping[str, Any], job_format: str) -> FormatOutcome:
    """What another delivery's write left ``job_format`` in, seen from here."""
    state = (item.get(Attr.FORMAT_STATUS) or {}).get(job_format) or {}
    status = state.get("status")
    if status in (JobState.ERROR, JobState.CANCELED):
        return FormatOutcome.FAILED
    if status in (JobState.SUBMITTED, JobState.PROGRESSING, JobState.COMPLETE):
        return FormatOutcome.HAS_JOB
    if status == JobState.RETRY_SCHEDULED:
        return FormatOutcome.SCHEDULED
    return FormatOutcome.WAITING


def _input_uri(item: Mapping[str, Any]) -> str:
    """What every MediaConvert call of the asset reads: its working copy."""
    copy = item.get(Attr.WORKING_COPY) or {}
    if copy.get("uri"):
        return str(copy["uri"])
    return f"s3://{item[Attr.SOURCE_BUCKET]}/{item[Attr.S3_KEY]}"
