"""job-status-processor: MediaConvert job state changes folded into the MediaAssets record.

Invoked asynchronously by the stack's job-state rule, one event per invocation. EventBridge
delivers at least once and in no particular order, so every write is conditional:

* a format's job state only moves forward within its attempt (``rank``), and events of an
  earlier attempt are ignored;
* STATUS_UPDATE progress is kept only if newer than what is stored (by the event timestamp);
* the asset becomes SUCCEEDED when every format's job is COMPLETE, FAILED as soon as one has
  failed for good (its other running jobs are then canceled); both are conditional on the
  asset not being final yet (:mod:`mediapipe_handlers.settlement`).

A retryable ERROR (see :mod:`mediapipe_handlers.failures`) schedules a resubmission through the
processing queue with an exponential delay, up to the configured attempts; a job that failed for
good also leaves a copy of its failure on the dead-letter queue, where operators find every
failure in one place (and can redrive it once the cause is fixed).

Final states are announced (manifest.json on success, EventBridge event, optional SNS) after
the record says so, through the record's outbox flag: a crash in between is repaired by the
next event, Lambda's own retry of this one, or the reconciler (at least once).

Every raw event is also written to the function's log (key ``job_event``): the job history.

Transient errors are raised: Lambda retries the event, then hands it to the function's
on-failure destination.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mediapipe_cfn.contract import (
    FINAL_STATUSES,
    META_ASSET_ID,
    META_ATTEMPT,
    META_FORMAT,
    META_PIPELINE_ID,
    Attr,
    Metric,
)
from mediapipe_handlers import clock
from mediapipe_handlers.backoff import backoff_seconds
from mediapipe_handlers.failures import describe, is_retryable_job_error
from mediapipe_handlers.log import asset_context, get_logger
from mediapipe_handlers.messages import (
    COMMAND_JOB_FAILED,
    COMMAND_RETRY_JOB,
    JobStateEvent,
    MalformedMessage,
    command_body,
    parse_job_state_event,
)
from mediapipe_handlers.metrics import PipelineMetrics
from mediapipe_handlers.notify import send_to_dead_letter_queue, send_to_processing_queue
from mediapipe_handlers.outputs import summarize_job_outputs
from mediapipe_handlers.repository import AssetRepository, JobState, error_entry
from mediapipe_handlers.routing import router_for
from mediapipe_handlers.runtime import Runtime, get_runtime
from mediapipe_handlers.settlement import Settlement

INPUT_DETAIL_KEYS = ("id", "uri", "video", "audio")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (asynchronous invocation by the job-state EventBridge rule)."""
    return get_logger().inject_lambda_context(_handle, clear_state=True)(event, context)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    runtime = get_runtime()
    metrics = PipelineMetrics(runtime.env.metrics_namespace, runtime.env.pipeline_id)
    try:
        return StatusProcessor(runtime, metrics).process(event)
    finally:
        metrics.flush()


class StatusProcessor:
    """Applies one job state event."""

    def __init__(self, runtime: Runtime, metrics: PipelineMetrics) -> None:
        self.runtime = runtime
        self.metrics = metrics
        self.repo = AssetRepository(runtime.clients.dynamodb, runtime.env.table_name)
        self.settlement = Settlement(runtime, self.repo, metrics)
        self.log = get_logger()

    def process(self, raw_event: Mapping[str, Any]) -> dict[str, Any]:
        self.log.info("job event received", extra={"job_event": raw_event})
        try:
            event = parse_job_state_event(raw_event)
        except MalformedMessage as error:
            self.log.error("not a job state event; ignored", extra={"reason": str(error)})
            return {"outcome": "ignored", "reason": str(error)}
        metadata = event.user_metadata
        if metadata.get(META_PIPELINE_ID) != self.runtime.env.pipeline_id:
            self.log.debug("job of another pipeline; ignored", extra={"job_id": event.job_id})
            return {"outcome": "ignored", "reason": "not this pipeline's job"}
        asset_id, job_format = metadata.get(META_ASSET_ID), metadata.get(META_FORMAT)
        attempt = _attempt(metadata.get(META_ATTEMPT))
        if not asset_id or not job_format or attempt is None:
            self.log.error("job without asset metadata; ignored", extra={"job_id": event.job_id})
            return {"outcome": "ignored", "reason": "incomplete user metadata"}
        with asset_context(asset_id, job_id=event.job_id, format=job_format):
            outcome = self._apply(event, asset_id, job_format, attempt)
            self.log.info("job event processed", extra={"status": event.status, "outcome": outcome})
            return {"outcome": outcome, "assetId": asset_id, "status": event.status}

    # ------------------------------------------------------------------ dispatch

    def _apply(self, event: JobStateEvent, asset_id: str, job_format: str, attempt: int) -> str:
        status = event.status
        if status in ("PROGRESSING", "STATUS_UPDATE"):
            return self._progress(event, asset_id, job_format, attempt)
        if status == "COMPLETE":
            outcome = self._complete(event, asset_id, job_format, attempt)
            self._release_budget(asset_id, job_format, attempt)
            return outcome
        if status in ("ERROR", "CANCELED"):
            outcome = self._failed(event, asset_id, job_format, attempt)
            self._release_budget(asset_id, job_format, attempt)
            return outcome
        if status == "NEW_WARNING":
            return self._warning(event, asset_id, job_format, attempt)
        if status == "INPUT_INFORMATION":
            return self._input_information(event, asset_id)
        if status == "QUEUE_HOP":
            self.log.info(
                "job moved queue", extra={"previous_queue": event.detail.get("previousQueue")}
            )
            return "logged"
        self.log.warning("unknown job status; ignored", extra={"status": status})
        return "ignored"

    def _region_of(self, event: JobStateEvent) -> dict[str, str]:
        """``region`` for the record when the job ran outside the stack's region (a job of the
        regional fallback, whose event the secondary region forwarded here)."""
        if event.region and event.region != self.runtime.env.region:
            return {"region": event.region}
        return {}

    def _release_budget(self, asset_id: str, job_format: str, attempt: int) -> None:
        """The finished job no longer counts against its queue's in-flight budget."""
        try:
            router_for(self.runtime).release(asset_id, job_format, attempt)
        except Exception as error:  # the reconciler gives it back on its next run
            self.log.warning("could not release queue budget", extra={"error": describe(error)})

    # ------------------------------------------------------------------ running jobs

    def _progress(self, event: JobStateEvent, asset_id: str, job_format: str, attempt: int) -> str:
        progress = _progress_fields(event)
        recorded = self.repo.record_progress(
            asset_id,
            job_format,
            attempt=attempt,
            job_id=event.job_id,
            progress=progress,
            event_timestamp_ms=event.timestamp_ms,
            now=clock.now_iso(),
        )
        return "recorded" if recorded else "stale"

    def _warning(self, event: JobStateEvent, asset_id: str, job_format: str, attempt: int) -> str:
        code = str(event.detail.get("warningCode", "unknown"))
        message = str(event.detail.get("warningMessage", ""))
        self.log.warning("job warning", extra={"warning_code": code, "warning_message": message})
        recorded = self.repo.record_warning(
            asset_id, job_format, attempt=attempt, code=code, message=message, now=clock.now_iso()
        )
        return "recorded" if recorded else "stale"

    def _input_information(self, event: JobStateEvent, asset_id: str) -> str:
        details = [
            {k: entry[k] for k in INPUT_DETAIL_KEYS if k in entry}
            for entry in event.detail.get("inputDetails") or []
            if isinstance(entry, Mapping)
        ]
        recorded = self.repo.record_input_details(asset_id, details, clock.now_iso())
        return "recorded" if recorded else "duplicate"

    # ------------------------------------------------------------------ final job states

    def _complete(self, event: JobStateEvent, asset_id: str, job_format: str, attempt: int) -> str:
        summary = summarize_job_outputs(event.detail)
        fields: dict[str, Any] = {"finishedAt": _event_time(event), **self._region_of(event)}
        if event.detail.get("warnings"):
            fields["completionWarnings"] = event.detail["warnings"]
        item = self.repo.advance_format(
            asset_id,
            job_format,
            attempt=attempt,
            state=JobState.COMPLETE,
            job_id=event.job_id,
            now=clock.now_iso(),
            fields=fields,
            outputs=summary,
        )
        if item is None:
            self._settle(asset_id)
            return "stale"
        self._keep_job_id(item, event.job_id)
        self.metrics.count(Metric.FORMAT_SUCCEEDED, job_format=job_format)
        if summary["thumbnailCount"]:
            self.metrics.count(Metric.THUMBNAILS_GENERATED, summary["thumbnailCount"])
        state = item[Attr.FORMAT_STATUS][job_format]
        submitted = clock.parse_iso(str(state.get("submittedAt") or ""))
        if submitted is not None and event.timestamp_ms:
            duration = (clock.from_epoch_ms(event.timestamp_ms) - submitted).total_seconds()
            self.metrics.seconds(Metric.JOB_DURATION, duration)
        self._settle(asset_id, item)
        return "complete"

    def _failed(self, event: JobStateEvent, asset_id: str, job_format: str, attempt: int) -> str:
        code = _error_code(event.detail.get("errorCode"))
        message = str(event.detail.get("errorMessage") or event.status)
        canceled = event.status == "CANCELED"
        config = self.runtime.config
        retryable = not canceled and is_retryable_job_error(code, config.retryable_error_codes)
        will_retry = retryable and attempt <= config.retry.job_retry_attempts
        now = clock.now_iso()
        entry = error_entry(
            message if not canceled else "the job was canceled",
            at=now,
            source="mediaconvert",
            code=code,
            format=job_format,
            jobId=event.job_id,
            attempt=attempt,
            retryScheduled=will_retry,
        )
        state = JobState.RETRY_SCHEDULED if will_retry else JobState(event.status)
        fields: dict[str, Any] = {
            "finishedAt": _event_time(event),
            "errorMessage": message,
            **self._region_of(event),
        }
        if code is not None:
            fields["errorCode"] = code
        if will_retry:
            fields["nextAttempt"] = attempt + 1
        item = self.repo.advance_format(
            asset_id,
            job_format,
            attempt=attempt,
            state=state,
            job_id=event.job_id,
            now=now,
            fields=fields,
            error=entry,
        )
        if item is None:
            return self._repeat_failure_side_effects(asset_id, job_format, attempt, event)
        self._keep_job_id(item, event.job_id)
        if not canceled:
            self.metrics.count(Metric.MEDIACONVERT_JOB_FAILURES)
        if will_retry:
            self._schedule_retry(asset_id, job_format, attempt, code)
            return "retry scheduled"
        self.metrics.count(Metric.FORMAT_FAILED, job_format=job_format)
        if item[Attr.STATUS] not in FINAL_STATUSES:
            # The failure that fails the asset leaves one notice for the operator to redrive
            # (a redrive reopens every unfinished format); later ones, such as the jobs
            # canceled because of it, add nothing.
            self._dead_letter(asset_id, job_format, attempt, event, code, message)
        self.settlement.settle(item)
        return "failed"

    def _retry_delay(self, attempt: int) -> int:
        retry = self.runtime.config.retry
        return backoff_seconds(attempt, retry.job_retry_base_delay_seconds, 900)

    def _schedule_retry(
        self, asset_id: str, job_format: str, attempt: int, code: int | None
    ) -> None:
        delay = self._retry_delay(attempt)
        body = command_body(
            COMMAND_RETRY_JOB, asset_id, job_format, attempt + 1, {"errorCode": code}
        )
        send_to_processing_queue(body, delay, self.runtime)
        self.metrics.count(Metric.JOB_RETRIES)
        self.log.warning(
            "retryable job error; resubmission scheduled",
            extra={"error_code": code, "next_attempt": attempt + 1, "delay_seconds": delay},
        )

    def _dead_letter(
        self,
        asset_id: str,
        job_format: str,
        attempt: int,
        event: JobStateEvent,
        code: int | None,
        message: str,
    ) -> None:
        details = {
            "jobId": event.job_id,
            "status": event.status,
            "errorCode": code,
            "errorMessage": message,
            "pipelineId": self.runtime.env.pipeline_id,
            "failedAt": _event_time(event),
        }
        parked = send_to_dead_letter_queue(
            command_body(COMMAND_JOB_FAILED, asset_id, job_format, attempt, details), self.runtime
        )
        self.repo.add_dead_letter(asset_id, parked, clock.now_iso())

    def _repeat_failure_side_effects(
        self, asset_id: str, job_format: str, attempt: int, event: JobStateEvent
    ) -> str:
        """A repeated ERROR: redo what a crash may have cut short (idempotent downstream)."""
        item = self.repo.get(asset_id)
        state = ((item or {}).get(Attr.FORMAT_STATUS) or {}).get(job_format) or {}
        if state.get("attempt") != attempt or state.get("jobId") != event.job_id:
            return "stale"
        if state.get("status") == JobState.RETRY_SCHEDULED:
            # The retry command may not have been sent; a duplicate is harmless (the
            # orchestrator's claim admits one submission per attempt).
            self._schedule_retry(asset_id, job_format, attempt, state.get("errorCode"))
            return "retry rescheduled"
        if item is not None:
            self.settlement.settle(item)
        return "stale"

    # ------------------------------------------------------------------ the asset

    def _settle(self, asset_id: str, item: Mapping[str, Any] | None = None) -> None:
        """Finish the asset if its formats decide it, then announce a final state once."""
        item = item if item is not None else self.repo.get(asset_id)
        if item is None:
            self.log.warning("job event for an unknown asset")
            return
        self.settlement.settle(item)

    def _keep_job_id(self, item: Mapping[str, Any], job_id: str) -> None:
        if job_id not in (item.get(Attr.JOB_IDS) or []):
            self.repo.add_job_id(item[Attr.ASSET_ID], job_id, clock.now_iso())


def _attempt(value: str | None) -> int | None:
    try:
        attempt = int(value) if value is not None else None
    except ValueError:
        return None
    return attempt if attempt is not None and attempt >= 1 else None


def _error_code(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _event_time(event: JobStateEvent) -> str | None:
    if event.timestamp_ms:
        return clock.from_epoch_ms(event.timestamp_ms).isoformat().replace("+00:00", "Z")
    return event.event_time


def _progress_fields(event: JobStateEvent) -> dict[str, Any]:
    progress = event.detail.get("jobProgress") or {}
    fields: dict[str, Any] = {"status": event.status}
    if isinstance(progress.get("jobPercentComplete"), int | float):
        fields["percent"] = progress["jobPercentComplete"]
    if progress.get("currentPhase"):
        fields["phase"] = progress["currentPhase"]
    if isinstance(event.detail.get("framesDecoded"), int):
        fields["framesDecoded"] = event.detail["framesDecoded"]
    return fields
