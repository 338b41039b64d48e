"""The runtime configuration the Lambda handlers read from the stack's SSM parameter.

Handlers never see the profile (no pydantic in the Lambda zip): the template writes this
document, as compact JSON, into the parameter named by
:func:`mediapipe_cfn.ids.runtime_config_parameter_name`, and the handlers read it at cold
start. The key names are a contract with the handlers; ``version`` changes when they change.
"""

from __future__ import annotations

import json
from typing import Any

from mediapipe_cfn.capacity import capacity_runtime_config
from mediapipe_cfn.mediaconvert.spec import transcode_spec
from mediapipe_cfn.profile.model import Profile

RUNTIME_CONFIG_VERSION = 1
# Most dead-lettered messages the reconciler reads in one run (10 receives of 10 messages).
DLQ_RECEIVE_LIMIT = 100
_BYTES_PER_GIB = 1024**3


def runtime_config(profile: Profile) -> dict[str, Any]:
    """The whole SSM value: ingest rules, output layout, retries, notifications, working copies,
    the reconciler's limits and transcoding."""
    ingest = profile.ingest
    queue = profile.queue
    transcoding = profile.transcoding
    # Only a profile with a capacity section has the key: other documents stay as they were.
    capacity = {"capacity": capacity_runtime_config(profile.capacity)} if profile.capacity else {}
    return {
        "version": RUNTIME_CONFIG_VERSION,
        "ingest": {
            "prefix": ingest.prefix,
            "extensions": list(ingest.extensions),
            "maxSizeBytes": int(ingest.max_size_gb * _BYTES_PER_GIB),
            "uploaderIdSource": ingest.uploader_id.source,
            "uploaderIdSegment": ingest.uploader_id.segment,
        },
        "outputPath": profile.output_path,
        "retry": {
            "backoffBaseSeconds": queue.backoff_base_seconds,
            "backoffMaxSeconds": queue.backoff_max_seconds,
            "maxReceiveCount": queue.max_receive_count,
            "jobRetryAttempts": transcoding.retry_attempts,
            "jobRetryBaseDelaySeconds": transcoding.retry_base_delay_seconds,
        },
        "notifications": {"snsOnFinalState": profile.notifications.sns_on_final_state},
        "workingCopy": {"prefix": ingest.working_copy_prefix},
        "reconcile": {
            "stuckAfterSeconds": profile.stuck_after_seconds,
            "crashLimit": profile.reliability.crash_limit,
            "dlqReceiveLimit": DLQ_RECEIVE_LIMIT,
        },
        "transcoding": transcode_spec(profile),
        **capacity,
    }


def runtime_config_json(profile: Profile) -> str:
    """The parameter's value: compact, key-sorted JSON (same profile, same bytes)."""
    return json.dumps(runtime_config(profile), sort_keys=True, separators=(",", ":"))
