"""The orchestrator's MediaConvert calls: Probe, CreateJob, and finding a job after a crash.

The settings themselves come from the one builder, :mod:`mediapipe_cfn.mediaconvert.settings`;
this module only decides what each API answer means for the asset.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from mediapipe_cfn.contract import META_ASSET_ID, META_ATTEMPT, META_FORMAT, META_PIPELINE_ID
from mediapipe_cfn.mediaconvert.ladder import SourceInfo
from mediapipe_handlers.failures import PermanentFailure, TransientFailure, describe, error_code
from mediapipe_handlers.failures import is_transient as is_transient_error
from mediapipe_handlers.log import get_logger
from mediapipe_handlers.repository import FailureKind

# An asset has a few jobs per attempt; the search of its working copy's jobs is short.
SEARCH_JOBS_PAGE_SIZE = 20
SEARCH_JOBS_MAX_PAGES = 10

# Probe answers meaning "this input cannot be transcoded" (not "try again").
_PROBE_UNUSABLE = frozenset({"UnprocessableEntityException"})
_PROBE_NOT_FOUND = frozenset({"NotFoundException"})
# Probe answers meaning "Probe cannot help with this input": fall back to the full ladder.
_PROBE_UNAVAILABLE = frozenset({"BadRequestException", "ForbiddenException"})
# CreateJob answers that reject the request itself; it would be rejected again.
_CREATE_JOB_REJECTED = frozenset({"BadRequestException", "ForbiddenException", "NotFoundException"})
# Answers that prove the request was refused before anything was created.
_NOT_CREATED = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "ServiceQuotaExceededException"}
)


@dataclasses.dataclass(frozen=True)
class ProbeOutcome:
    """What Probe said about the source; ``source`` None means "use the full ladder"."""

    source: SourceInfo | None
    note: str


def probe_source(mediaconvert: Any, input_uri: str) -> ProbeOutcome:
    """Describe the source with Probe, or explain why the full ladder is used instead."""
    try:
        answer = mediaconvert.probe(InputFiles=[{"FileUrl": input_uri}])
    except ClientError as error:
        code = error_code(error)
        if code in _PROBE_UNUSABLE:
            raise PermanentFailure(
                f"the source is malformed or corrupt ({describe(error)})",
                FailureKind.UNUSABLE_SOURCE,
            ) from error
        if code in _PROBE_NOT_FOUND:
            raise PermanentFailure(
                f"the source could not be found ({describe(error)})", FailureKind.SOURCE_MISSING
            ) from error
        if code in _PROBE_UNAVAILABLE:
            return ProbeOutcome(None, f"probe unavailable, full ladder: {describe(error)}")
        if is_transient_error(error):
            raise TransientFailure(describe(error)) from error
        raise
    results = answer.get("ProbeResults") or []
    if not results:
        return ProbeOutcome(None, "probe returned no result, full ladder")
    return ProbeOutcome(SourceInfo.from_probe(results[0]), "probed")


def source_to_record(source: SourceInfo | None) -> dict[str, Any] | None:
    """A SourceInfo as a DynamoDB-friendly map (None stays None)."""
    if source is None:
        return None
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(source).items()
    }


def source_from_record(document: Mapping[str, Any] | None) -> SourceInfo | None:
    """The SourceInfo stored by :func:`source_to_record`."""
    if not document:
        return None
    known = {f.name for f in dataclasses.fields(SourceInfo)}
    values = {k: v for k, v in document.items() if k in known}
    for name in ("problems", "embedded_captions"):
        if name in values:
            values[name] = tuple(values[name])
    return SourceInfo(**values)


class JobNotCreated(TransientFailure):
    """CreateJob was refused before creating anything: the claim can be released."""


def create_job(mediaconvert: Any, request: Mapping[str, Any]) -> str:
    """Submit the job; its id. Rejections are permanent, throttling and 5xx transient."""
    try:
        answer = mediaconvert.create_job(**request)
    except ClientError as error:
        code = error_code(error)
        if code in _CREATE_JOB_REJECTED:
            raise PermanentFailure(
                f"MediaConvert rejected the job ({describe(error)})", FailureKind.JOB_REJECTED
            ) from error
        if code in _NOT_CREATED:
            raise JobNotCreated(describe(error)) from error
        if is_transient_error(error):
            raise TransientFailure(describe(error)) from error
        raise
    return str(answer["Job"]["Id"])


def find_submitted_job(
    mediaconvert: Any,
    *,
    queue_arn: str,
    input_uri: str,
    pipeline_id: str,
    asset_id: str,
    job_format: str,
    attempt: int,
) -> str | None:
    """The id of a job an interrupted submission created for this attempt, if any.

    Every job of an asset reads the asset's own working copy, so SearchJobs filtered by that
    input (and the stack's queue) lists this asset's jobs only: a handful, however busy the
    queue is. Returns None when no such job exists (submitting is then safe); raises
    TransientFailure when the search could not be completed.
    """
    wanted = {
        META_ASSET_ID: asset_id,
        META_FORMAT: job_format,
        META_ATTEMPT: str(attempt),
        META_PIPELINE_ID: pipeline_id,
    }
    token: str | None = None
    for _ in range(SEARCH_JOBS_MAX_PAGES):
        request: dict[str, Any] = {
            "InputFile": input_uri,
            "Queue": queue_arn,
            "Order": "DESCENDING",
            "MaxResults": SEARCH_JOBS_PAGE_SIZE,
        }
        if token:
            request["NextToken"] = token
        try:
            page = mediaconvert.search_jobs(**request)
        except ClientError as error:
            raise TransientFailure(describe(error)) from error
        for job in page.get("Jobs") or []:
            metadata = job.get("UserMetadata") or {}
            if all(metadata.get(k) == v for k, v in wanted.items()):
                return str(job["Id"])
        token = page.get("NextToken")
        if not token:
            return None
    get_logger().warning(
        "job search ended before its last page",
        extra={"format": job_format, "attempt": attempt, "pages": SEARCH_JOBS_MAX_PAGES},
    )
    raise TransientFailure("could not tell whether a job exists for an interrupted submission")


# CancelJob answers meaning "nothing left to cancel".
_ALREADY_FINISHED = frozenset({"NotFoundException", "ConflictException", "BadRequestException"})


def cancel_job(mediaconvert: Any, job_id: str) -> bool:
    """Cancel a job that is no longer wanted; False when it had already finished."""
    try:
        mediaconvert.cancel_job(Id=job_id)
    except ClientError as error:
        if error_code(error) in _ALREADY_FINISHED:
            return False
        raise
    return True
