"""The regional fallback's circuit breaker: one DynamoDB item every container shares.

While the primary region's MediaConvert keeps failing CreateJob (throttled after the SDK's
retries, or a 5xx), jobs go to the secondary region. The breaker's state machine is data
(:data:`BREAKER_TRANSITIONS`, printed in docs/architecture.md), and every change is one write
conditional on the version the writer read, so containers racing on the same item never lose
each other's counts and only one of them takes the half-open probe.

* ``CLOSED``: jobs go to the primary; its failures are counted within a window, and the
  ``openAfterFailures``-th one opens the breaker.
* ``OPEN``: jobs go to the secondary region for ``openSeconds``.
* ``HALF_OPEN``: one job (the probe) tries the primary; the others keep going to the
  secondary. The probe's success closes the breaker, its failure opens it again. A probe whose
  container died holds its lease only ``PROBE_LEASE_SECONDS``; then another job probes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from mediapipe_handlers.budget import QUEUE_KEY
from mediapipe_handlers.failures import error_code

# The breaker's item in the capacity table: no queue name can contain '#'.
BREAKER_KEY = "breaker#primary"
# How long the half-open probe may take before another job probes instead.
PROBE_LEASE_SECONDS = 60
# Conditional writes lost to other containers before giving up on recording an event.
WRITE_ATTEMPTS = 5


class BreakerState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class BreakerEvent(StrEnum):
    PRIMARY_FAILED = "primary failed"  # CreateJob throttled after retries, or a 5xx
    PRIMARY_SUCCEEDED = "primary succeeded"  # a job was created in the primary region
    PROBE_TAKEN = "probe taken"  # the open period (or a probe's lease) is over


class Route(StrEnum):
    PRIMARY = "primary"
    PROBE = "probe"  # the primary, as the half-open breaker's one probe
    SECONDARY = "secondary"


@dataclass(frozen=True)
class BreakerTransition:
    event: BreakerEvent
    sources: frozenset[BreakerState]
    targets: frozenset[BreakerState]
    action: str


_CLOSED, _OPEN, _HALF = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN

BREAKER_TRANSITIONS: tuple[BreakerTransition, ...] = (
    BreakerTransition(
        BreakerEvent.PRIMARY_FAILED,
        frozenset({_CLOSED}),
        frozenset({_CLOSED, _OPEN}),
        "count it in the window; the openAfterFailures-th opens for openSeconds",
    ),
    BreakerTransition(
        BreakerEvent.PRIMARY_FAILED,
        frozenset({_HALF}),
        frozenset({_OPEN}),
        "the probe failed: open for openSeconds again",
    ),
    BreakerTransition(
        BreakerEvent.PRIMARY_FAILED,
        frozenset({_OPEN}),
        frozenset({_OPEN}),
        "a job placed before it opened: nothing changes",
    ),
    BreakerTransition(
        BreakerEvent.PRIMARY_SUCCEEDED,
        frozenset({_CLOSED, _HALF}),
        frozenset({_CLOSED}),
        "the primary works: forget the failures, close",
    ),
    BreakerTransition(
        BreakerEvent.PRIMARY_SUCCEEDED,
        frozenset({_OPEN}),
        frozenset({_OPEN}),
        "a job placed before it opened: only the probe closes it",
    ),
    BreakerTransition(
        BreakerEvent.PROBE_TAKEN,
        frozenset({_OPEN, _HALF}),
        frozenset({_OPEN, _HALF}),
        "after openSeconds (or a dead probe's lease): one job tries the primary; before, none",
    ),
)


@dataclass(frozen=True)
class BreakerPolicy:
    open_after_failures: int
    failure_window_seconds: int
    open_seconds: int

    @classmethod
    def parse(cls, document: Mapping[str, Any]) -> BreakerPolicy:
        return cls(
            int(document["openAfterFailures"]),
            int(document["failureWindowSeconds"]),
            int(document["openSeconds"]),
        )


@dataclass(frozen=True)
class BreakerRecord:
    """The item's content; times are epoch seconds."""

    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    window_start: float = 0.0
    open_until: float = 0.0
    probe_until: float = 0.0
    version: int = 0


def transition_for(event: BreakerEvent, state: BreakerState) -> BreakerTransition:
    for transition in BREAKER_TRANSITIONS:
        if transition.event is event and state in transition.sources:
            return transition
    raise ValueError(f"no breaker transition for {event} in {state}")


def decide(record: BreakerRecord, now: float) -> Route:
    """Where a job goes, as this record says (a PROBE still has to be taken)."""
    if record.state is BreakerState.CLOSED:
        return Route.PRIMARY
    if record.state is BreakerState.OPEN:
        return Route.PROBE if now >= record.open_until else Route.SECONDARY
    return Route.PROBE if now >= record.probe_until else Route.SECONDARY


def apply(
    record: BreakerRecord, event: BreakerEvent, now: float, policy: BreakerPolicy
) -> BreakerRecord:
    """The record after ``event`` (the same record when nothing changes)."""
    transition = transition_for(event, record.state)
    new = _next(record, event, now, policy)
    if new.state not in transition.targets:  # the table and this code must agree
        raise AssertionError(f"{record.state} -> {new.state} on {event} is not in the table")
    return new if new == record else replace(new, version=record.version + 1)


def _next(
    record: BreakerRecord, event: BreakerEvent, now: float, policy: BreakerPolicy
) -> BreakerRecord:
    state = record.state
    if event is BreakerEvent.PROBE_TAKEN:
        if decide(record, now) is not Route.PROBE:
            return record  # the open period (or another probe's lease) is not over
        return replace(record, state=BreakerState.HALF_OPEN, probe_until=now + PROBE_LEASE_SECONDS)
    if event is BreakerEvent.PRIMARY_SUCCEEDED:
        if state is BreakerState.OPEN:
            return record
        return BreakerRecord(version=record.version)
    if state is BreakerState.OPEN:
        return record
    if state is BreakerState.HALF_OPEN:
        return _opened(record, now, policy)
    in_window = now - record.window_start <= policy.failure_window_seconds
    failures = record.failures + 1 if in_window and record.failures else 1
    if failures >= policy.open_after_failures:
        return _opened(record, now, policy)
    window_start = record.window_start if failures > 1 else now
    return replace(record, failures=failures, window_start=window_start)


def _opened(record: BreakerRecord, now: float, policy: BreakerPolicy) -> BreakerRecord:
    return BreakerRecord(
        state=BreakerState.OPEN, open_until=now + policy.open_seconds, version=record.version
    )


@dataclass(frozen=True)
class Recorded:
    """What recording an event did: the state before and after (None: nothing was written)."""

    before: BreakerState
    after: BreakerState
    written: bool

    @property
    def opened(self) -> bool:
        return self.written and self.after is BreakerState.OPEN and self.before is not self.after


class CircuitBreaker:
    """The breaker's item in the capacity table."""

    def __init__(self, dynamodb: Any, table_name: str, policy: BreakerPolicy) -> None:
        self.dynamodb = dynamodb
        self.table = table_name
        self.policy = policy

    def load(self) -> BreakerRecord:
        answer = self.dynamodb.get_item(
            TableName=self.table, Key={QUEUE_KEY: {"S": BREAKER_KEY}}, ConsistentRead=True
        )
        item = answer.get("Item")
        if not item:
            return BreakerRecord()
        return BreakerRecord(
            state=BreakerState(item["state"]["S"]),
            failures=int(item["failures"]["N"]),
            window_start=float(item["windowStart"]["N"]),
            open_until=float(item["openUntil"]["N"]),
            probe_until=float(item["probeUntil"]["N"]),
            version=int(item["version"]["N"]),
        )

    def try_write(self, old: BreakerRecord, new: BreakerRecord) -> bool:
        """Store ``new`` if the item is still ``old``; False when another container wrote first."""
        values = {
            ":state": {"S": new.state.value},
            ":failures": {"N": str(new.failures)},
            ":window": {"N": repr(new.window_start)},
            ":open": {"N": repr(new.open_until)},
            ":probe": {"N": repr(new.probe_until)},
            ":version": {"N": str(new.version)},
        }
        if old.version:
            condition = "#version = :expected"
            values[":expected"] = {"N": str(old.version)}
        else:
            condition = "attribute_not_exists(#version)"
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={QUEUE_KEY: {"S": BREAKER_KEY}},
                UpdateExpression=(
                    "SET #state = :state, failures = :failures, windowStart = :window, "
                    "openUntil = :open, probeUntil = :probe, #version = :version"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#state": "state", "#version": "version"},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def record(self, event: BreakerEvent, now: float) -> Recorded:
        """Apply ``event`` to the item, re-reading when another container wrote first."""
        for _ in range(WRITE_ATTEMPTS):
            old = self.load()
            new = apply(old, event, now, self.policy)
            if new == old:
                return Recorded(old.state, old.state, written=False)
            if self.try_write(old, new):
                return Recorded(old.state, new.state, written=True)
        raise RuntimeError(f"the breaker could not record {event!r}: too many concurrent writes")

    def route(self, now: float) -> Route:
        """Where the next job goes; PROBE only for the one container that took the probe."""
        current = self.load()
        route = decide(current, now)
        if route is not Route.PROBE:
            return route
        taken = apply(current, BreakerEvent.PROBE_TAKEN, now, self.policy)
        return Route.PROBE if self.try_write(current, taken) else Route.SECONDARY
