"""The environment variables the template sets on both functions, read once and checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mediapipe_cfn.contract import Env

# Used only if the template did not set POWERTOOLS_METRICS_NAMESPACE.
DEFAULT_METRICS_NAMESPACE = "MediaPipeline"


class ConfigurationError(RuntimeError):
    """The function is deployed without something it needs; no record can be processed."""


@dataclass(frozen=True)
class HandlerEnvironment:
    """Everything the handlers take from their environment (names in :class:`Env`)."""

    table_name: str
    uploads_bucket: str
    outputs_bucket: str
    processing_queue_url: str
    dead_letter_queue_url: str
    mediaconvert_role_arn: str
    mediaconvert_queue_arn: str
    mediaconvert_endpoint: str | None
    transcode_parameter: str
    kms_key_arn: str
    event_bus_name: str
    notification_topic_arn: str | None
    pipeline_id: str
    region: str
    metrics_namespace: str
    # With CloudFront delivery: https://<host>, the base of playback URLs; None without.
    playback_base_url: str | None = None
    capacity_table: str | None = None  # only with a capacity section

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> HandlerEnvironment:
        """Read and check the variables; every missing required one is named in one error."""
        required = {
            "table_name": Env.TABLE_NAME,
            "uploads_bucket": Env.UPLOADS_BUCKET,
            "outputs_bucket": Env.OUTPUTS_BUCKET,
            "processing_queue_url": Env.PROCESSING_QUEUE_URL,
            "dead_letter_queue_url": Env.DEAD_LETTER_QUEUE_URL,
            "mediaconvert_role_arn": Env.MEDIACONVERT_ROLE_ARN,
            "mediaconvert_queue_arn": Env.MEDIACONVERT_QUEUE_ARN,
            "transcode_parameter": Env.TRANSCODE_PARAMETER,
            "kms_key_arn": Env.KMS_KEY_ARN,
            "pipeline_id": Env.PIPELINE_ID,
        }
        missing = sorted(str(name) for name in required.values() if not environ.get(name))
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        if not region:
            missing.append("AWS_REGION")
        if missing:
            raise ConfigurationError(f"missing environment variable(s): {', '.join(missing)}")
        values = {field: environ[name] for field, name in required.items()}
        return cls(
            **values,
            mediaconvert_endpoint=environ.get(Env.MEDIACONVERT_ENDPOINT) or None,
            event_bus_name=environ.get(Env.EVENT_BUS_NAME) or "default",
            notification_topic_arn=environ.get(Env.NOTIFICATION_TOPIC_ARN) or None,
            region=str(region),
            metrics_namespace=environ.get(Env.METRICS_NAMESPACE) or DEFAULT_METRICS_NAMESPACE,
            playback_base_url=environ.get(Env.PLAYBACK_BASE_URL) or None,
            capacity_table=environ.get(Env.CAPACITY_TABLE) or None,
        )
