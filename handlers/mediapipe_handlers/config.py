"""The runtime configuration document the template stores in SSM, parsed and checked.

The document is written by the generator from the profile (``mediapipe_cfn.runtime_config``);
the handlers never see the profile itself. Parsing is strict about what the handlers rely on, so
a document from an incompatible generator fails loudly at the first invocation instead of
misbehaving record by record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mediapipe_handlers.environment import ConfigurationError

SUPPORTED_VERSION = 1


@dataclass(frozen=True)
class IngestRules:
    """Which uploads are accepted, and where the uploader id comes from."""

    prefix: str
    extensions: frozenset[str]
    max_size_bytes: int
    uploader_id_source: str  # "key_segment" or "none"
    uploader_id_segment: int


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff of transient ingest failures and resubmission of failed jobs."""

    backoff_base_seconds: int
    backoff_max_seconds: int
    max_receive_count: int
    job_retry_attempts: int
    job_retry_base_delay_seconds: int


@dataclass(frozen=True)
class ReconcilePolicy:
    """The safety net's limits (older documents without them get these defaults)."""

    stuck_after_seconds: int = 1800
    crash_limit: int = 2
    dlq_receive_limit: int = 100


DEFAULT_WORKING_COPY_PREFIX = "sources/"


@dataclass(frozen=True)
class RuntimeConfig:
    """The parsed document; ``transcoding`` is handed untouched to the settings builder."""

    ingest: IngestRules
    output_path: str
    retry: RetryPolicy
    sns_on_final_state: bool
    transcoding: Mapping[str, Any] = field(repr=False)
    # Optional override of the MediaConvert error codes worth resubmitting (None: the default).
    retryable_error_codes: frozenset[int] | None = None
    # Where each asset's immutable copy of its uploaded version lives, in the uploads bucket.
    working_copy_prefix: str = DEFAULT_WORKING_COPY_PREFIX
    reconcile: ReconcilePolicy = field(default_factory=ReconcilePolicy)
    # The profile's capacity section (queues, routes, priorities, budgets), or None: every job
    # goes to the stack's queue. Read by mediapipe_handlers.routing.
    capacity: Mapping[str, Any] | None = field(default=None, repr=False)


def parse_runtime_config(text: str) -> RuntimeConfig:
    """Parse the SSM parameter's value; :class:`ConfigurationError` names what is wrong."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"runtime configuration is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise ConfigurationError("runtime configuration must be a JSON object")
    version = document.get("version")
    if version != SUPPORTED_VERSION:
        raise ConfigurationError(
            f"runtime configuration version {version!r} is not supported "
            f"(these handlers read version {SUPPORTED_VERSION})"
        )
    try:
        return _build(document)
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigurationError(f"runtime configuration is incomplete: {error!r}") from None


def _build(document: Mapping[str, Any]) -> RuntimeConfig:
    ingest = document["ingest"]
    retry = document["retry"]
    codes = retry.get("retryableErrorCodes")
    prefix = str(ingest["prefix"])
    if not prefix.endswith("/"):
        raise ValueError(f"ingest.prefix must end with '/': {prefix!r}")
    output_path = str(document["outputPath"])
    if "{assetId}" not in output_path or not output_path.endswith("/"):
        raise ValueError(f"outputPath must contain {{assetId}} and end with '/': {output_path!r}")
    working_copy_prefix = str(
        (document.get("workingCopy") or {}).get("prefix", DEFAULT_WORKING_COPY_PREFIX)
    )
    if not working_copy_prefix.endswith("/") or working_copy_prefix.startswith(prefix):
        raise ValueError(
            f"workingCopy.prefix must end with '/' and lie outside the ingest prefix: "
            f"{working_copy_prefix!r}"
        )
    reconcile = document.get("reconcile") or {}
    defaults = ReconcilePolicy()
    return RuntimeConfig(
        working_copy_prefix=working_copy_prefix,
        reconcile=ReconcilePolicy(
            stuck_after_seconds=int(
                reconcile.get("stuckAfterSeconds", defaults.stuck_after_seconds)
            ),
            crash_limit=int(reconcile.get("crashLimit", defaults.crash_limit)),
            dlq_receive_limit=int(reconcile.get("dlqReceiveLimit", defaults.dlq_receive_limit)),
        ),
        ingest=IngestRules(
            prefix=prefix,
            extensions=frozenset(str(e).lower().lstrip(".") for e in ingest["extensions"]),
            max_size_bytes=int(ingest["maxSizeBytes"]),
            uploader_id_source=str(ingest.get("uploaderIdSource", "key_segment")),
            uploader_id_segment=int(ingest.get("uploaderIdSegment", 0)),
        ),
        output_path=output_path,
        retry=RetryPolicy(
            backoff_base_seconds=int(retry["backoffBaseSeconds"]),
            backoff_max_seconds=int(retry["backoffMaxSeconds"]),
            max_receive_count=int(retry["maxReceiveCount"]),
            job_retry_attempts=int(retry["jobRetryAttempts"]),
            job_retry_base_delay_seconds=int(retry["jobRetryBaseDelaySeconds"]),
        ),
        sns_on_final_state=bool(document.get("notifications", {}).get("snsOnFinalState", False)),
        transcoding=document["transcoding"],
        retryable_error_codes=frozenset(int(c) for c in codes) if codes is not None else None,
        capacity=document.get("capacity") or None,
    )
