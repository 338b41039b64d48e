"""reconciler: the scheduled safety net for every path that leaves an asset unfinished.

The orchestrator and the status processor are built to finish every asset; this function makes
sure of it, idempotently and safely next to them (it changes records only through the same
conditional writes, and asks the orchestrator to resubmit instead of submitting itself). Each
run, within its time:

1. **The outbox.** Final assets whose announcements are still owed (the sparse ``ByOutbox``
   index) get them: manifest.json, the final-state event, SNS.
2. **Stuck assets.** Live assets not updated for ``stuckAfterSeconds`` (a Query on the
   ``ByStatus`` index per live status, oldest first, never a Scan). For each, MediaConvert is
   asked about every job the record thinks is running: a job that finished without its event
   reaching the record is applied as that event would have been (the status processor's own
   code). An asset that is still live afterwards and has a format no running job explains
   (a claim nobody finished, a retry nobody sent, a plan never made) is *stuck*: counted in
   ``StuckAssets`` and handed to the orchestrator with a ``reconcile`` command.
3. **The dead-letter queue.** Every message in the processing DLQ must be explained by a FAILED
   record that names it: an asset still live is failed (DEAD_LETTERED), an upload without a
   record gets one, a FAILED record gets the message id; a message whose asset SUCCEEDED since
   is deleted (there is nothing left to redrive).
4. **Queue budgets** (a capacity section only). A job counted against a queue's in-flight
   budget for longer than ``BUDGET_GRACE`` whose record no longer shows it submitting or
   running (its release was lost with a crashed container or a lost event) stops counting.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from mediapipe_cfn.contract import (
    INDEX_BY_OUTBOX,
    INDEX_BY_STATUS,
    OUTBOX_PENDING,
    AssetStatus,
    Attr,
    Metric,
)
from mediapipe_handlers import clock
from mediapipe_handlers.failures import PermanentFailure, describe
from mediapipe_handlers.job_status_processor import StatusProcessor
from mediapipe_handlers.lifecycle import RUNNING_JOB_STATES, AssetEvent, FailureKind, JobState
from mediapipe_handlers.log import asset_context, get_logger
from mediapipe_handlers.messages import (
    COMMAND_RECONCILE,
    JOB_STATE_CHANGE,
    MEDIACONVERT_SOURCE,
    MalformedMessage,
    UploadEvent,
    command_body,
    parse_queue_message,
)
from mediapipe_handlers.metrics import PipelineMetrics
from mediapipe_handlers.notify import send_to_processing_queue
from mediapipe_handlers.outputs import output_groups_from_job
from mediapipe_handlers.records import new_asset_record
from mediapipe_handlers.repository import AssetRepository, error_entry
from mediapipe_handlers.routing import router_for
from mediapipe_handlers.runtime import Runtime, get_runtime
from mediapipe_handlers.settlement import Settlement, owes_announcement
from mediapipe_handlers.sources import resolve_key
from mediapipe_handlers.uploads import derive_asset_id

# A final write is announced by its own handler within seconds; the outbox sweep leaves it
# that long before stepping in.
OUTBOX_GRACE = timedelta(minutes=2)
# Items read per index query, per run.
SWEEP_LIMIT = 200
# Stop starting new work with this much of the invocation left.
TIME_RESERVE = timedelta(seconds=20)
# A dead-lettered message read by this run stays hidden from the next runs this long.
DLQ_VISIBILITY_SECONDS = 600
FINISHED_JOB_STATUSES = frozenset({"COMPLETE", "ERROR", "CANCELED"})
# A budget entry younger than this may belong to a submission still in progress.
BUDGET_GRACE = timedelta(minutes=15)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (a scheduled EventBridge rule)."""
    return get_logger().inject_lambda_context(_handle, clear_state=True)(event, context)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    runtime = get_runtime()
    metrics = PipelineMetrics(runtime.env.metrics_namespace, runtime.env.pipeline_id)
    try:
        summary = Reconciler(runtime, metrics, context).run()
        get_logger().info("reconciliation done", extra={"summary": summary})
        return summary
    finally:
        metrics.flush()


class Reconciler:
    def __init__(self, runtime: Runtime, metrics: PipelineMetrics, context: Any) -> None:
        self.runtime = runtime
        self.metrics = metrics
        self.context = context
        self.repo = AssetRepository(runtime.clients.dynamodb, runtime.env.table_name)
        self.settlement = Settlement(runtime, self.repo, metrics)
        self.status = StatusProcessor(runtime, metrics)
        self.log = get_logger()
        self.summary: dict[str, int] = {
            "announced": 0,
            "stuck": 0,
            "jobsApplied": 0,
            "nudged": 0,
            "deadLetters": 0,
            "deadLettersRecorded": 0,
            "deadLettersDeleted": 0,
            "errors": 0,
            "budgetsRepaired": 0,
        }

    def run(self) -> dict[str, int]:
        self._drain_outbox()
        self._sweep_stuck()
        self._sweep_dead_letters()
        self._repair_budgets()
        self.metrics.count(Metric.STUCK_ASSETS, self.summary["stuck"])
        self.metrics.count(
            Metric.ASSETS_RECONCILED,
            self.summary["announced"] + self.summary["jobsApplied"] + self.summary["nudged"],
        )
        return dict(self.summary)

    def _time_left(self) -> bool:
        remaining = timedelta(milliseconds=int(self.context.get_remaining_time_in_millis()))
        return remaining > TIME_RESERVE

    def _each(self, asset_ids: list[str], work: Any) -> None:
        """Run ``work`` per asset; one asset's failure never stops the others."""
        for asset_id in asset_ids:
            if not self._time_left():
                self.log.warning("out of time; the next run continues")
                return
            with asset_context(asset_id):
                try:
                    work(asset_id)
                except Exception as error:
                    self.summary["errors"] += 1
                    self.log.exception("could not reconcile", extra={"error": describe(error)})

    # ------------------------------------------------------------------ queue budgets

    def _repair_budgets(self) -> None:
        router = router_for(self.runtime)
        before = clock.iso(clock.utc_now() - BUDGET_GRACE)
        for queue, asset_id, job_format, attempt in router.stale_entries(before):
            if not self._time_left():
                self.log.warning("out of time; the next run continues")
                return
            try:
                if not self._job_in_flight(asset_id, job_format, attempt):
                    router.give_back(queue, asset_id, job_format, attempt)
                    self.summary["budgetsRepaired"] += 1
                    self.log.warning(
                        "queue budget held by a job that no longer runs; given back",
                        extra={"queue": queue, "asset_id": asset_id, "format": job_format},
                    )
            except Exception as error:
                self.summary["errors"] += 1
                self.log.exception("could not repair a budget", extra={"error": describe(error)})

    def _job_in_flight(self, asset_id: str, job_format: str, attempt: int) -> bool:
        """Whether this job attempt may still be submitting or running.

        A live asset's record says so itself (a submission still claimed, or a job submitted or
        progressing: the stuck sweep resolves those). A final asset can still have a job that
        was never canceled: MediaConvert is asked.
        """
        item = self.repo.get(asset_id)
        if item is None:
            return False
        state = (item.get(Attr.FORMAT_STATUS) or {}).get(job_format) or {}
        if int(state.get("attempt") or 0) != attempt:
            return False  # a later attempt replaced it once this one had ended
        status = state.get("status")
        if item[Attr.STATUS] in (AssetStatus.PENDING, AssetStatus.PROCESSING):
            submitting = status == JobState.SUBMITTING and not state.get("released")
            return submitting or status in RUNNING_JOB_STATES
        job_id = state.get("jobId")
        return (
            bool(job_id)
            and status in RUNNING_JOB_STATES
            and not self._apply_finished_job(str(job_id), state.get("region"))
        )

    # ------------------------------------------------------------------ outbox

    def _drain_outbox(self) -> None:
        before = clock.iso(clock.utc_now() - OUTBOX_GRACE)
        ids = self.repo.query_index(
            INDEX_BY_OUTBOX, Attr.OUTBOX, OUTBOX_PENDING, updated_before=before, limit=SWEEP_LIMIT
        )
        self._each(ids, self._announce)

    def _announce(self, asset_id: str) -> None:
        item = self.repo.get(asset_id)
        if item is not None and owes_announcement(item):
            self.settlement.announce(item)
            self.summary["announced"] += 1
            self.log.warning("announced a final state its handler left unannounced")

    # ------------------------------------------------------------------ stuck assets

    def _sweep_stuck(self) -> None:
        stuck_after = timedelta(seconds=self.runtime.config.reconcile.stuck_after_seconds)
        before = clock.iso(clock.utc_now() - stuck_after)
        for status in (AssetStatus.PENDING, AssetStatus.PROCESSING):
            ids = self.repo.query_index(
                INDEX_BY_STATUS, Attr.STATUS, status, updated_before=before, limit=SWEEP_LIMIT
            )
            self._each(ids, self._reconcile_asset)

    def _reconcile_asset(self, asset_id: str) -> None:
        item = self.repo.get(asset_id)
        if item is None or item[Attr.STATUS] not in (AssetStatus.PENDING, AssetStatus.PROCESSING):
            return
        running = 0
        for _, state in sorted((item.get(Attr.FORMAT_STATUS) or {}).items()):
            if state.get("status") not in RUNNING_JOB_STATES or not state.get("jobId"):
                continue
            if self._apply_finished_job(str(state["jobId"]), state.get("region")):
                self.summary["jobsApplied"] += 1
            else:
                running += 1
        current = self.repo.get(asset_id)
        if current is None:
            return
        current = dict(self.settlement.settle(current))
        if current[Attr.STATUS] not in (AssetStatus.PENDING, AssetStatus.PROCESSING):
            return
        formats = list(current.get(Attr.FORMATS) or [])
        planned = "plannedAt" in (current.get(Attr.SOURCE) or {})
        if planned and formats and running == len(formats):
            return  # every format has a job MediaConvert is working on: slow, not stuck
        self.summary["stuck"] += 1
        self.summary["nudged"] += 1
        self.log.warning(
            "asset stuck; the orchestrator is asked to drive it",
            extra={"status": current[Attr.STATUS], "updated_at": current.get(Attr.UPDATED_AT)},
        )
        send_to_processing_queue(
            command_body(COMMAND_RECONCILE, asset_id, "*", 1, {"by": "reconciler"}),
            0,
            self.runtime,
        )

    def _apply_finished_job(self, job_id: str, region: str | None = None) -> bool:
        """Apply a finished job's final state as its event would have; False if it runs.

        ``region``: the record's region of the job (the regional fallback's), None for the
        stack's own.
        """
        try:
            job = self.runtime.clients.mediaconvert_in(region).get_job(Id=job_id)["Job"]
        except ClientError as error:
            self.log.warning(
                "could not read a job", extra={"job_id": job_id, "error": describe(error)}
            )
            return False
        status = str(job.get("Status"))
        if status not in FINISHED_JOB_STATUSES:
            return False
        self.log.warning(
            "job finished without its event reaching the record; applying it",
            extra={"job_id": job_id, "job_status": status},
        )
        self.status.process(_job_state_event(job))
        return True

    # ------------------------------------------------------------------ dead letters

    def _sweep_dead_letters(self) -> None:
        sqs = self.runtime.clients.sqs
        queue = self.runtime.env.dead_letter_queue_url
        limit = self.runtime.config.reconcile.dlq_receive_limit
        seen: set[str] = set()
        while len(seen) < limit and self._time_left():
            messages = sqs.receive_message(
                QueueUrl=queue,
                MaxNumberOfMessages=min(10, limit - len(seen)),
                VisibilityTimeout=DLQ_VISIBILITY_SECONDS,
                WaitTimeSeconds=0,
            ).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                return
            for message in fresh:
                seen.add(str(message["MessageId"]))
                self.summary["deadLetters"] += 1
                try:
                    self._account_for(message)
                except Exception as error:
                    self.summary["errors"] += 1
                    self.log.exception(
                        "could not account for a dead letter", extra={"error": describe(error)}
                    )

    def _account_for(self, message: Mapping[str, Any]) -> None:
        message_id = str(message["MessageId"])
        try:
            parsed = parse_queue_message(str(message.get("Body") or ""))
        except MalformedMessage as error:
            self.log.error(
                "dead letter that names no asset",
                extra={"dlq_message_id": message_id, "reason": str(error)},
            )
            return
        if isinstance(parsed, UploadEvent):
            asset_id = self._asset_of_upload(parsed, message_id)
        else:
            asset_id = parsed.asset_id
        if asset_id is None:
            return
        with asset_context(asset_id, dlq_message_id=message_id):
            self._fail_for_dead_letter(asset_id, message_id, message)

    def _asset_of_upload(self, upload: UploadEvent, message_id: str) -> str | None:
        try:
            key = resolve_key(self.runtime.clients.s3, upload)
        except PermanentFailure:
            key = upload.key_candidates()[0]
        asset_id = derive_asset_id(upload.bucket, key, upload.version_id, upload.sequencer)
        record = new_asset_record(
            upload,
            key,
            asset_id,
            self.runtime.config,
            clock.now_iso(),
            "its upload message reached the dead-letter queue before the asset was recorded",
            FailureKind.DEAD_LETTERED,
            source="reconciler",
            dead_letter=message_id,
        )
        if self.repo.create(record):
            self.summary["deadLettersRecorded"] += 1
            self.metrics.count(Metric.ASSETS_RECEIVED)
            self.metrics.count(Metric.ASSETS_FAILED)
            self.log.error("dead-lettered upload recorded as FAILED", extra={"asset": asset_id})
            self.settlement.announce_quietly(record)
            return None
        return asset_id

    def _fail_for_dead_letter(
        self, asset_id: str, message_id: str, message: Mapping[str, Any]
    ) -> None:
        item = self.repo.get(asset_id)
        if item is None:
            self.log.error("dead letter for an unknown asset")
            return
        status = item[Attr.STATUS]
        now = clock.now_iso()
        if status == AssetStatus.SUCCEEDED:
            self.runtime.clients.sqs.delete_message(
                QueueUrl=self.runtime.env.dead_letter_queue_url,
                ReceiptHandle=message["ReceiptHandle"],
            )
            self.summary["deadLettersDeleted"] += 1
            self.log.info("dead letter of an asset that has since succeeded: deleted")
            return
        if status == AssetStatus.FAILED:
            if message_id not in (item.get(Attr.DEAD_LETTERS) or []):
                self.repo.add_dead_letter(asset_id, message_id, now)
                self.summary["deadLettersRecorded"] += 1
            return
        entry = error_entry(
            "a message about this asset reached the dead-letter queue",
            at=now,
            source="reconciler",
            dlqMessageId=message_id,
        )
        failed = self.repo.mark_failed(
            asset_id,
            entry,
            FailureKind.DEAD_LETTERED,
            now,
            event=AssetEvent.DEAD_LETTERED,
            dead_letter=message_id,
        )
        if failed is not None:
            self.summary["deadLettersRecorded"] += 1
            self.metrics.count(Metric.ASSETS_FAILED)
            self.log.error("asset FAILED: its message is in the dead-letter queue")
            self.settlement.cancel_running_jobs(failed)
            self.settlement.announce_quietly(failed)


def _job_state_event(job: Mapping[str, Any]) -> dict[str, Any]:
    """The ``MediaConvert Job State Change`` event a finished job would have sent."""
    finished = (job.get("Timing") or {}).get("FinishTime") or job.get("CreatedAt")
    moment = finished if hasattr(finished, "timestamp") else clock.utc_now()
    detail: dict[str, Any] = {
        "timestamp": int(moment.timestamp() * 1000),
        "jobId": job["Id"],
        "status": job["Status"],
        "queue": job.get("Queue"),
        "userMetadata": dict(job.get("UserMetadata") or {}),
        "reconstructedBy": "reconciler",
    }
    if job["Status"] == JobState.COMPLETE:
        detail["outputGroupDetails"] = output_groups_from_job(job)
    if job.get("ErrorCode") is not None:
        detail["errorCode"] = job["ErrorCode"]
        detail["errorMessage"] = job.get("ErrorMessage") or ""
    arn_parts = str(job.get("Arn") or "").split(":")
    return {
        "source": MEDIACONVERT_SOURCE,
        "detail-type": JOB_STATE_CHANGE,
        "time": clock.iso(moment),
        **({"region": arn_parts[3]} if len(arn_parts) > 3 and arn_parts[3] else {}),
        "detail": detail,
    }
