"""A new MediaAssets record for an upload event: live (PENDING) or already FAILED."""

from __future__ import annotations

from typing import Any

from mediapipe_cfn.contract import OUTBOX_PENDING, AssetStatus, Attr
from mediapipe_handlers.config import RuntimeConfig
from mediapipe_handlers.lifecycle import FailureKind
from mediapipe_handlers.messages import UploadEvent
from mediapipe_handlers.repository import error_entry
from mediapipe_handlers.uploads import output_prefix, uploader_id


def new_asset_record(
    upload: UploadEvent,
    key: str,
    asset_id: str,
    config: RuntimeConfig,
    now: str,
    reason: str | None = None,
    kind: FailureKind = FailureKind.INVALID_UPLOAD,
    *,
    source: str = "ingest",
    dead_letter: str | None = None,
) -> dict[str, Any]:
    """The first write of an asset; with ``reason`` it is FAILED from the start (``kind``),
    owing its announcements."""
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
        record[Attr.FAILURE_KIND] = kind
        record[Attr.ERRORS] = [error_entry(reason, at=now, source=source, kind=str(kind))]
        record[Attr.COMPLETED_AT] = now
        record[Attr.OUTBOX] = OUTBOX_PENDING
    if dead_letter:
        record[Attr.DEAD_LETTERS] = [dead_letter]
    return {str(k): v for k, v in record.items() if v is not None}
