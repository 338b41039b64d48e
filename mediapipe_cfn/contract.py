"""Names shared by the rendered template and the Lambda handlers.

The template writes these names (environment variables, metric names, event types) and the
handlers read them; keeping them in one module means a rename cannot break one side silently.
This module is bundled into the handler zips, so it must stay standard-library only.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Env(StrEnum):
    """Environment variables the template sets on the functions."""

    TABLE_NAME = "MEDIAPIPE_TABLE_NAME"
    UPLOADS_BUCKET = "MEDIAPIPE_UPLOADS_BUCKET"
    OUTPUTS_BUCKET = "MEDIAPIPE_OUTPUTS_BUCKET"
    PROCESSING_QUEUE_URL = "MEDIAPIPE_PROCESSING_QUEUE_URL"
    DEAD_LETTER_QUEUE_URL = "MEDIAPIPE_DEAD_LETTER_QUEUE_URL"
    MEDIACONVERT_ROLE_ARN = "MEDIAPIPE_MEDIACONVERT_ROLE_ARN"
    MEDIACONVERT_QUEUE_ARN = "MEDIAPIPE_MEDIACONVERT_QUEUE_ARN"
    # Optional override; by default the regional endpoint mediaconvert.<region>.amazonaws.com.
    MEDIACONVERT_ENDPOINT = "MEDIAPIPE_MEDIACONVERT_ENDPOINT"
    TRANSCODE_PARAMETER = "MEDIAPIPE_TRANSCODE_PARAMETER"
    KMS_KEY_ARN = "MEDIAPIPE_KMS_KEY_ARN"
    EVENT_BUS_NAME = "MEDIAPIPE_EVENT_BUS_NAME"
    NOTIFICATION_TOPIC_ARN = "MEDIAPIPE_NOTIFICATION_TOPIC_ARN"
    PIPELINE_ID = "MEDIAPIPE_PIPELINE_ID"
    # Set only when the profile has a capacity section: the in-flight budget table.
    CAPACITY_TABLE = "MEDIAPIPE_CAPACITY_TABLE"
    METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
    SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
    LOG_LEVEL = "POWERTOOLS_LOG_LEVEL"
    # Set only with CloudFront delivery: https://<host>, the base of playback URLs.
    PLAYBACK_BASE_URL = "MEDIAPIPE_PLAYBACK_BASE_URL"


class AssetStatus(StrEnum):
    """Lifecycle of a MediaAssets record. It only ever moves forward (see ``STATUS_RANK``)."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


# Forward-only ordering; both final states share the top rank so neither overwrites the other.
STATUS_RANK: Final[dict[AssetStatus, int]] = {
    AssetStatus.PENDING: 0,
    AssetStatus.PROCESSING: 1,
    AssetStatus.SUCCEEDED: 2,
    AssetStatus.FAILED: 2,
}
FINAL_STATUSES: Final = frozenset({AssetStatus.SUCCEEDED, AssetStatus.FAILED})


class Attr(StrEnum):
    """Attribute names of a MediaAssets item."""

    ASSET_ID = "assetId"
    UPLOADER_ID = "uploaderId"
    S3_KEY = "s3Key"
    STATUS = "status"
    FORMATS = "formats"
    CREATED_AT = "createdAt"
    UPDATED_AT = "updatedAt"
    JOB_IDS = "jobIds"
    ERRORS = "errors"
    SOURCE_BUCKET = "sourceBucket"
    SOURCE_VERSION_ID = "sourceVersionId"
    SOURCE_SIZE = "sourceSize"
    SOURCE_ETAG = "sourceEtag"
    SOURCE = "source"
    FORMAT_STATUS = "formatStatus"
    PROGRESS = "progress"
    OUTPUTS = "outputs"
    ATTEMPTS = "attempts"
    OUTPUT_PREFIX = "outputPrefix"
    COMPLETED_AT = "completedAt"
    FAILURE_KIND = "failureKind"  # why a FAILED asset failed; decides whether a redrive reopens it
    FINAL_NOTIFIED_AT = "finalNotifiedAt"  # when the final-state event was published
    # Set while a final asset's announcements (manifest, events, SNS) are still owed; removed
    # when they are done. Only such items appear in the sparse INDEX_BY_OUTBOX.
    OUTBOX = "outbox"
    # The immutable per-asset copy of the uploaded version that every job reads.
    WORKING_COPY = "workingCopy"
    # The last receive of a queue message that started work on this asset (crash detection).
    IN_FLIGHT = "inFlight"
    DEAD_LETTERS = "deadLetters"  # ids of dead-letter-queue messages about this asset
    # With CloudFront delivery: playback URLs of a SUCCEEDED asset (see PLAYBACK_KEYS).
    PLAYBACK = "playback"
    # ISO 639-2 codes of the captions the outputs carry (sidecar or embedded); absent if none.
    CAPTION_LANGUAGES = "captionLanguages"


# Global secondary indexes: each partitions by one attribute and sorts by a timestamp.
INDEX_BY_STATUS: Final = "ByStatus"
INDEX_BY_UPLOADER: Final = "ByUploader"
# Sparse: only final assets whose announcements are still owed carry Attr.OUTBOX.
INDEX_BY_OUTBOX: Final = "ByOutbox"
OUTBOX_PENDING: Final = "pending"
INDEX_SORT_KEY: Final = Attr.UPDATED_AT

# Keys of the MediaConvert job's UserMetadata. The job-state EventBridge rule matches on
# PIPELINE_ID so that only this stack's jobs reach this stack's status processor.
META_ASSET_ID: Final = "mediapipeAssetId"
META_FORMAT: Final = "mediapipeFormat"
META_PIPELINE_ID: Final = "mediapipePipelineId"
META_ATTEMPT: Final = "mediapipeAttempt"

# CloudWatch metrics, written as EMF log lines by the handlers and read by dashboard + alarms.
DIMENSION_PIPELINE: Final = "Pipeline"
DIMENSION_FORMAT: Final = "Format"


class Metric(StrEnum):
    ASSETS_RECEIVED = "AssetsReceived"
    INVALID_UPLOADS = "InvalidUploads"
    JOBS_SUBMITTED = "JobsSubmitted"
    INGEST_TRANSIENT_FAILURES = "IngestTransientFailures"
    DAILY_PROCESSED_COUNT = "DailyProcessedCount"
    ASSETS_FAILED = "AssetsFailed"
    FORMAT_SUCCEEDED = "FormatSucceeded"
    FORMAT_FAILED = "FormatFailed"
    MEDIACONVERT_JOB_FAILURES = "MediaConvertJobFailures"
    JOB_RETRIES = "JobRetries"
    JOB_LATENCY = "JobLatency"
    JOB_DURATION = "JobDuration"
    THUMBNAILS_GENERATED = "ThumbnailsGenerated"
    # Written by the reconciler: assets found not final past their deadline, and what it did.
    STUCK_ASSETS = "StuckAssets"
    ASSETS_RECONCILED = "AssetsReconciled"
    # A queue message whose processing ended the orchestrator before it could finish.
    HANDLER_CRASHES = "HandlerCrashes"
    JOBS_CANCELED = "JobsCanceled"
    # A job found every queue of its route at its in-flight budget and was put off.
    CAPACITY_WAITS = "CapacityWaits"
    # Jobs counted against a queue's in-flight budget, after a job took its place (Queue dimension).
    QUEUE_IN_FLIGHT = "QueueInFlight"
    # The regional fallback's breaker opened: jobs go to the secondary region.
    FALLBACK_ACTIVATIONS = "FallbackActivations"


# Capacity metrics (a profile with a capacity section only): QueueInFlight is emitted with the
# Queue dimension (the queue's name in the profile) besides the Pipeline one.
DIMENSION_QUEUE: Final = "Queue"
PER_QUEUE_METRICS: Final = frozenset({Metric.QUEUE_IN_FLIGHT})
CAPACITY_METRICS: Final = frozenset({Metric.CAPACITY_WAITS, Metric.QUEUE_IN_FLIGHT})
# Emitted only with capacity.fallback.
FALLBACK_METRICS: Final = frozenset({Metric.FALLBACK_ACTIVATIONS})

# Metrics emitted with the Format dimension as well as the Pipeline one.
PER_FORMAT_METRICS: Final = frozenset(
    {Metric.FORMAT_SUCCEEDED, Metric.FORMAT_FAILED, Metric.JOBS_SUBMITTED}
)

# Events the status processor publishes for downstream services when an asset is final.
EVENT_SOURCE: Final = "mediapipe.assets"
EVENT_ASSET_PROCESSED: Final = "MediaAsset Processed"
EVENT_ASSET_FAILED: Final = "MediaAsset Failed"

# The per-asset index written beside the outputs on success.
MANIFEST_FILE_NAME: Final = "manifest.json"

# Keys of the ``playback`` map (record, manifest.json, MediaAsset Processed): HLS and DASH
# manifest URLs, the MP4 URLs (a list) and the poster image URL; a key is absent when its format
# is off. The poster is the frame capture the orchestrator chose for it.
PLAYBACK_HLS: Final = "hls"
PLAYBACK_DASH: Final = "dash"
PLAYBACK_MP4: Final = "mp4"
PLAYBACK_POSTER: Final = "poster"


# Output formats a profile can turn on; also the values of META_FORMAT and DIMENSION_FORMAT.
class Format(StrEnum):
    CMAF = "cmaf"  # one group, HLS + DASH manifests over shared fMP4 segments
    HLS = "hls"
    DASH = "dash"
    MP4 = "mp4"
    THUMBNAILS = "thumbnails"
    ALL = "all"  # one job per asset: every group in a single job
