"""Deciding an asset from its formats, and announcing final states: shared by all three handlers.

* **Settle**: a live asset whose formats are all COMPLETE becomes SUCCEEDED; one with a format
  that failed for good becomes FAILED (JOB_FAILED) and its other running jobs are canceled, so
  they stop billing. Whoever notices first wins (conditional writes); the others change nothing.
* **Announce** (the outbox): the write that makes an asset final also sets ``outbox``; the
  announcements (manifest.json on success, the EventBridge event, SNS if enabled) follow, and
  only then is ``outbox`` removed. A crash in between leaves the flag, and the next handler to
  touch the asset, or the reconciler's sweep of the ``ByOutbox`` index, announces it: at least
  once, never never.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mediapipe_cfn.contract import FINAL_STATUSES, AssetStatus, Attr, Metric
from mediapipe_handlers import clock
from mediapipe_handlers.failures import describe
from mediapipe_handlers.lifecycle import (
    FAILED_JOB_STATES,
    AssetEvent,
    FailureKind,
    JobState,
)
from mediapipe_handlers.log import get_logger
from mediapipe_handlers.metrics import PipelineMetrics
from mediapipe_handlers.notify import publish_final_state, write_manifest
from mediapipe_handlers.playback import playback_urls
from mediapipe_handlers.repository import AssetRepository, error_entry
from mediapipe_handlers.runtime import Runtime
from mediapipe_handlers.transcoding import cancel_job


class Settlement:
    """Settles and announces assets for one handler invocation."""

    def __init__(self, runtime: Runtime, repo: AssetRepository, metrics: PipelineMetrics) -> None:
        self.runtime = runtime
        self.repo = repo
        self.metrics = metrics
        self.log = get_logger()

    def settle(self, item: Mapping[str, Any]) -> Mapping[str, Any]:
        """Finish ``item`` if its formats decide it, then announce it if that is owed."""
        if item[Attr.STATUS] not in FINAL_STATUSES:
            item = self.finish(item) or item
        if owes_announcement(item):
            self.announce(item)
        return item

    def finish(self, item: Mapping[str, Any]) -> dict[str, Any] | None:
        """The final item if this call made ``item`` final, else None."""
        asset_id = str(item[Attr.ASSET_ID])
        states = item.get(Attr.FORMAT_STATUS) or {}
        formats = list(item.get(Attr.FORMATS) or [])
        failed = [f for f in formats if (states.get(f) or {}).get("status") in FAILED_JOB_STATES]
        now = clock.now_iso()
        if failed:
            entry = error_entry(
                f"job(s) failed for good: {', '.join(failed)}", at=now, source="settlement"
            )
            finished = self.repo.mark_failed(
                asset_id, entry, FailureKind.JOB_FAILED, now, event=AssetEvent.FAILED_FOR_GOOD
            )
            if finished is not None:
                self.metrics.count(Metric.ASSETS_FAILED)
                self._latency(finished)
                self.log.error("asset FAILED", extra={"failed_formats": failed})
                self.cancel_running_jobs(finished)
            return finished
        if formats and all(
            (states.get(f) or {}).get("status") == JobState.COMPLETE for f in formats
        ):
            finished = self.repo.finish_succeeded(asset_id, formats, now)
            if finished is not None:
                self.metrics.count(Metric.DAILY_PROCESSED_COUNT)
                self._latency(finished)
                self.log.info("asset SUCCEEDED")
            return finished
        return None

    def cancel_running_jobs(self, item: Mapping[str, Any]) -> None:
        """Cancel the jobs of a FAILED asset that are still queued or running."""
        for job_format, state in sorted((item.get(Attr.FORMAT_STATUS) or {}).items()):
            job_id = state.get("jobId")
            if not job_id or state.get("status") in (*FAILED_JOB_STATES, JobState.COMPLETE):
                continue
            # A job of the regional fallback is canceled in its own region.
            mediaconvert = self.runtime.clients.mediaconvert_in(state.get("region"))
            try:
                if cancel_job(mediaconvert, str(job_id)):
                    self.metrics.count(Metric.JOBS_CANCELED)
                    self.log.warning(
                        "job canceled: its asset failed",
                        extra={"format": job_format, "job_id": job_id},
                    )
                    # Recorded now, so a reopen retries this format; the job's own CANCELED
                    # event then finds nothing new.
                    self.repo.advance_format(
                        str(item[Attr.ASSET_ID]),
                        job_format,
                        attempt=int(state["attempt"]),
                        state=JobState.CANCELED,
                        job_id=str(job_id),
                        now=clock.now_iso(),
                        fields={"canceledBecause": "the asset failed"},
                    )
            except Exception as error:  # it ends by itself; only its cost is at stake
                self.log.warning(
                    "could not cancel a job of a failed asset",
                    extra={"job_id": job_id, "error": describe(error)},
                )

    def announce(self, item: Mapping[str, Any]) -> None:
        """manifest.json (success), the final-state event and SNS; then leave the outbox.

        With CloudFront delivery a SUCCEEDED asset's playback URLs go into all three and onto
        the record (derived from its outputs, so a repeated announcement writes the same)."""
        playback = self._playback(item)
        if playback is not None:
            item = {**item, Attr.PLAYBACK.value: playback}
        if item[Attr.STATUS] == AssetStatus.SUCCEEDED:
            uri = write_manifest(item, self.runtime)
            self.log.info("manifest written", extra={"manifest": uri})
        publish_final_state(item, self.runtime)
        self.repo.mark_notified(str(item[Attr.ASSET_ID]), clock.now_iso(), playback=playback)

    def _playback(self, item: Mapping[str, Any]) -> dict[str, Any] | None:
        base_url = self.runtime.env.playback_base_url
        if not base_url or item[Attr.STATUS] != AssetStatus.SUCCEEDED:
            return None
        return playback_urls(item, self.runtime.env.outputs_bucket, base_url)

    def announce_quietly(self, item: Mapping[str, Any]) -> None:
        """:meth:`announce`, leaving the outbox flag for a later try if anything fails."""
        try:
            self.announce(item)
        except Exception as error:
            self.log.warning("final state not announced yet", extra={"error": describe(error)})

    def _latency(self, item: Mapping[str, Any]) -> None:
        uploaded = clock.parse_iso(str((item.get(Attr.SOURCE) or {}).get("uploadedAt") or ""))
        finished = clock.parse_iso(str(item.get(Attr.COMPLETED_AT) or ""))
        if uploaded is not None and finished is not None:
            self.metrics.seconds(Metric.JOB_LATENCY, (finished - uploaded).total_seconds())


def owes_announcement(item: Mapping[str, Any]) -> bool:
    """A final asset whose announcements have not all happened (records written before the
    outbox flag existed count by ``finalNotifiedAt``)."""
    if item.get(Attr.STATUS) not in FINAL_STATUSES:
        return False
    return bool(item.get(Attr.OUTBOX)) or not item.get(Attr.FINAL_NOTIFIED_AT)
