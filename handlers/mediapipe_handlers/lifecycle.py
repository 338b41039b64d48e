"""The asset and job state machines, as data.

Every conditional write in :mod:`mediapipe_handlers.repository` takes the states it may start
from out of these tables, so the code cannot drift from them; docs/architecture.md prints the
same tables and a test checks that the two agree.

An asset moves ``PENDING -> PROCESSING -> SUCCEEDED | FAILED``; the only way back is an
explicit *reopen* of an asset whose failure a new attempt can fix. Each of an asset's formats
has a job with its own states; ``attempt`` numbers the submissions of one format, and an event
of another attempt never changes the current one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mediapipe_cfn.contract import AssetStatus


class FailureKind(StrEnum):
    """Why an asset is FAILED; decides whether a reopen may start it again."""

    INVALID_UPLOAD = "INVALID_UPLOAD"
    UNUSABLE_SOURCE = "UNUSABLE_SOURCE"
    SOURCE_MISSING = "SOURCE_MISSING"
    JOB_REJECTED = "JOB_REJECTED"
    JOB_FAILED = "JOB_FAILED"
    TRANSIENT_EXHAUSTED = "TRANSIENT_EXHAUSTED"
    HANDLER_CRASHED = "HANDLER_CRASHED"
    DEAD_LETTERED = "DEAD_LETTERED"


# Failures a new attempt can fix. An upload message that reaches such an asset again (an
# operator's redrive of the dead-letter queue, or S3 repeating the event) reopens it; a redriven
# ``job-failed`` notice reopens a JOB_FAILED asset.
REOPENABLE_BY_UPLOAD = frozenset(
    {FailureKind.TRANSIENT_EXHAUSTED, FailureKind.HANDLER_CRASHED, FailureKind.DEAD_LETTERED}
)
REOPENABLE_BY_JOB_REDRIVE = frozenset({FailureKind.JOB_FAILED, *REOPENABLE_BY_UPLOAD})


class AssetEvent(StrEnum):
    CREATED = "created"  # the first upload event of a version
    REJECTED = "rejected"  # the upload breaks an ingest rule, or its object is gone
    JOB_RECORDED = "job recorded"  # a job of one of its formats exists
    ALL_COMPLETE = "all formats complete"
    FAILED_FOR_GOOD = "a format failed for good"  # the other running jobs are canceled
    INGEST_FAILED = "ingest failed for good"  # unusable/missing source, job rejected
    RETRIES_EXHAUSTED = "transient retries exhausted"  # the last receive the queue allows
    CRASH_LIMIT = "crash limit reached"  # its message ended the handler `crashLimit` times
    DEAD_LETTERED = "message found in the DLQ"  # by the reconciler, with no record of why
    REOPENED = "reopened"  # by a redrive, when the failure kind allows it
    ANNOUNCED = "announced"  # manifest, event and SNS done: the outbox flag is cleared


@dataclass(frozen=True)
class Transition:
    event: AssetEvent
    sources: frozenset[AssetStatus | None]  # None: no record yet
    targets: frozenset[AssetStatus]  # empty: the status does not change
    action: str


_LIVE = frozenset({AssetStatus.PENDING, AssetStatus.PROCESSING})
_FINAL = frozenset({AssetStatus.SUCCEEDED, AssetStatus.FAILED})

ASSET_TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        AssetEvent.CREATED,
        frozenset({None}),
        frozenset({AssetStatus.PENDING}),
        "copy, probe, plan, submit",
    ),
    Transition(AssetEvent.REJECTED, frozenset({None}), frozenset({AssetStatus.FAILED}), "announce"),
    Transition(
        AssetEvent.JOB_RECORDED, _LIVE, frozenset({AssetStatus.PROCESSING}), "wait for job events"
    ),
    Transition(
        AssetEvent.ALL_COMPLETE, _LIVE, frozenset({AssetStatus.SUCCEEDED}), "manifest, announce"
    ),
    Transition(
        AssetEvent.FAILED_FOR_GOOD,
        _LIVE,
        frozenset({AssetStatus.FAILED}),
        "cancel other jobs, dead-letter, announce",
    ),
    Transition(AssetEvent.INGEST_FAILED, _LIVE, frozenset({AssetStatus.FAILED}), "announce"),
    Transition(
        AssetEvent.RETRIES_EXHAUSTED,
        _LIVE,
        frozenset({AssetStatus.FAILED}),
        "announce; message to the DLQ",
    ),
    Transition(
        AssetEvent.CRASH_LIMIT,
        _LIVE,
        frozenset({AssetStatus.FAILED}),
        "copy the message to the DLQ, announce",
    ),
    Transition(
        AssetEvent.DEAD_LETTERED,
        frozenset({None, *_LIVE}),
        frozenset({AssetStatus.FAILED}),
        "announce",
    ),
    Transition(
        AssetEvent.REOPENED,
        frozenset({AssetStatus.FAILED}),
        _LIVE,
        "PENDING if never planned, else PROCESSING; failed jobs get a new attempt",
    ),
    Transition(AssetEvent.ANNOUNCED, _FINAL, frozenset(), "clear the outbox flag"),
)


class JobState(StrEnum):
    SUBMITTING = "SUBMITTING"
    SUBMITTED = "SUBMITTED"
    PROGRESSING = "PROGRESSING"
    COMPLETE = "COMPLETE"
    ERROR = "ERROR"
    CANCELED = "CANCELED"
    RETRY_SCHEDULED = "RETRY_SCHEDULED"


# Stored beside the state, so a condition can say "only if this is news" (rank < new rank).
JOB_STATE_RANK: dict[JobState, int] = {
    JobState.SUBMITTING: 0,
    JobState.SUBMITTED: 1,
    JobState.PROGRESSING: 2,
    JobState.COMPLETE: 3,
    JobState.ERROR: 3,
    JobState.CANCELED: 3,
    JobState.RETRY_SCHEDULED: 3,
}
FINAL_RANK = 3
FAILED_JOB_STATES = frozenset({JobState.ERROR, JobState.CANCELED})
RUNNING_JOB_STATES = frozenset({JobState.SUBMITTED, JobState.PROGRESSING})


class JobEvent(StrEnum):
    CLAIMED = "claimed"  # before CreateJob, with a lease
    TAKEN_OVER = "taken over"  # the claim's holder is gone: find its job, or submit
    CREATED = "job created"
    REJECTED = "CreateJob rejected"
    PROGRESS = "PROGRESSING / STATUS_UPDATE"
    COMPLETE = "COMPLETE"
    RETRYABLE_ERROR = "retryable ERROR, attempts left"
    FAILED = "ERROR (no retry) / CANCELED"
    REOPENED = "asset reopened"


@dataclass(frozen=True)
class JobTransition:
    event: JobEvent
    sources: frozenset[JobState | None]  # None: the format has no job yet
    target: JobState
    attempt: str  # what happens to the attempt number


_BEFORE_FINAL = frozenset({JobState.SUBMITTING, JobState.SUBMITTED, JobState.PROGRESSING})

JOB_TRANSITIONS: tuple[JobTransition, ...] = (
    JobTransition(JobEvent.CLAIMED, frozenset({None}), JobState.SUBMITTING, "1"),
    JobTransition(
        JobEvent.CLAIMED, frozenset({JobState.RETRY_SCHEDULED}), JobState.SUBMITTING, "next"
    ),
    JobTransition(
        JobEvent.TAKEN_OVER, frozenset({JobState.SUBMITTING}), JobState.SUBMITTING, "same"
    ),
    JobTransition(JobEvent.CREATED, frozenset({JobState.SUBMITTING}), JobState.SUBMITTED, "same"),
    JobTransition(JobEvent.REJECTED, frozenset({JobState.SUBMITTING}), JobState.ERROR, "same"),
    JobTransition(
        JobEvent.PROGRESS,
        frozenset({JobState.SUBMITTING, JobState.SUBMITTED, JobState.PROGRESSING}),
        JobState.PROGRESSING,
        "same",
    ),
    JobTransition(JobEvent.COMPLETE, _BEFORE_FINAL, JobState.COMPLETE, "same"),
    JobTransition(JobEvent.RETRYABLE_ERROR, _BEFORE_FINAL, JobState.RETRY_SCHEDULED, "next"),
    JobTransition(JobEvent.FAILED, _BEFORE_FINAL, JobState.ERROR, "same"),
    JobTransition(
        JobEvent.REOPENED,
        frozenset({JobState.ERROR, JobState.CANCELED}),
        JobState.RETRY_SCHEDULED,
        "next",
    ),
)


def asset_sources(event: AssetEvent) -> frozenset[AssetStatus]:
    """The statuses ``event`` may start from (existing records only)."""
    for transition in ASSET_TRANSITIONS:
        if transition.event == event:
            return frozenset(s for s in transition.sources if s is not None)
    raise KeyError(event)


def job_sources(event: JobEvent) -> frozenset[JobState | None]:
    """Every job state ``event`` may start from."""
    found = [t for t in JOB_TRANSITIONS if t.event == event]
    if not found:
        raise KeyError(event)
    return frozenset(s for t in found for s in t.sources)


def max_source_rank(event: JobEvent) -> int:
    """The highest rank ``event`` may start from (conditions compare ranks)."""
    return max(JOB_STATE_RANK[s] for s in job_sources(event) if s is not None)
