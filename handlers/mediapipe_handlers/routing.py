"""Which MediaConvert queue a job goes to, at what priority, within the queues' budgets.

Only a profile with a ``capacity`` section routes (the runtime configuration's ``capacity``
key); without one every job goes to the stack's queue at the transcoding priority, as before.

* **Route**: each job kind has an ordered list of queues (``routes``); the job goes to the
  first queue whose in-flight budget has room. A reserved queue's budget is its slots plus the
  backlog it may keep, so jobs fill the reserved slots first and spill over to the next queue
  once that backlog is reached. When every queue of the route is full the job is put off
  (:class:`QueuesFull`) instead of being submitted into a throttle.
* **Priority**: the transcoding priority, plus the job kind's adjustment, plus that of the
  first uploader class whose patterns match the asset's uploader, kept within -50..50.
* **Idempotency**: budget is keyed by the job attempt, so a retried or taken-over submission
  finds its own entry and counts once; SearchJobs for an interrupted submission looks in every
  configured queue, since the earlier delivery may have chosen another, in both regions.
* **Regional fallback** (``capacity.fallback``): while the circuit breaker
  (:mod:`mediapipe_handlers.breaker`) is open, jobs go to the secondary region's queue, with
  its own in-flight budget (the queue ``fallback-region``); the placement names the region.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mediapipe_handlers import clock
from mediapipe_handlers.breaker import (
    BreakerEvent,
    BreakerPolicy,
    CircuitBreaker,
    Recorded,
    Route,
)
from mediapipe_handlers.budget import InFlightLedger, job_key, parse_job_key
from mediapipe_handlers.environment import ConfigurationError
from mediapipe_handlers.failures import TransientFailure

STACK_QUEUE = "stack"
# The secondary region's queue, as the budget table names it ('-' keeps it apart from the
# profile's queue names).
FALLBACK_QUEUE = "fallback-region"
MIN_PRIORITY, MAX_PRIORITY = -50, 50
# A budget no queue item reaches (an item holds far fewer entries): counts without a limit.
UNLIMITED = 1_000_000


@dataclass(frozen=True)
class QueueRule:
    name: str
    arn: str
    budget: int
    region: str | None = None  # None: the stack's region


@dataclass(frozen=True)
class FallbackRule:
    """The secondary region's queue and the breaker's policy."""

    queue: QueueRule
    policy: BreakerPolicy

    @classmethod
    def parse(cls, document: Mapping[str, Any], stack_queue_arn: str) -> FallbackRule:
        region = str(document["region"])
        arn = document.get("queueArn") or default_queue_arn(stack_queue_arn, region)
        return cls(
            QueueRule(FALLBACK_QUEUE, str(arn), int(document["budget"]), region),
            BreakerPolicy.parse(document),
        )


def default_queue_arn(stack_queue_arn: str, region: str) -> str:
    """The Default queue of ``region`` in the stack queue's partition and account."""
    partition, account = stack_queue_arn.split(":")[1], stack_queue_arn.split(":")[4]
    return f"arn:{partition}:mediaconvert:{region}:{account}:queues/Default"


@dataclass(frozen=True)
class UploaderClass:
    name: str
    patterns: tuple[str, ...]
    priority: int

    def matches(self, uploader: str) -> bool:
        return any(fnmatch.fnmatchcase(uploader, pattern) for pattern in self.patterns)


@dataclass(frozen=True)
class CapacityRules:
    """The runtime configuration's ``capacity`` key, checked."""

    queues: Mapping[str, QueueRule]
    routes: Mapping[str, tuple[str, ...]]  # job kind (or "default") -> queue names
    priority_by_kind: Mapping[str, int]
    uploader_classes: tuple[UploaderClass, ...]
    full_retry_seconds: int
    fallback: FallbackRule | None = None

    @classmethod
    def parse(cls, document: Mapping[str, Any], stack_queue_arn: str) -> CapacityRules:
        queues = {
            str(name): QueueRule(
                str(name), str(rule.get("arn") or stack_queue_arn), int(rule["budget"])
            )
            for name, rule in document["queues"].items()
        }
        routes = {
            str(kind): tuple(str(q) for q in route) for kind, route in document["routes"].items()
        }
        unknown = sorted({q for route in routes.values() for q in route} - set(queues))
        if unknown or "default" not in routes:
            raise ConfigurationError(f"capacity routes name unknown queues {unknown} or no default")
        priority = document.get("priority") or {}
        return cls(
            queues=queues,
            routes=routes,
            priority_by_kind={str(k): int(v) for k, v in (priority.get("byJobKind") or {}).items()},
            uploader_classes=tuple(
                UploaderClass(
                    str(c["name"]), tuple(str(p) for p in c["uploaders"]), int(c["priority"])
                )
                for c in priority.get("uploaderClasses") or []
            ),
            full_retry_seconds=int(document.get("fullRetrySeconds", 60)),
            fallback=(
                FallbackRule.parse(document["fallback"], stack_queue_arn)
                if document.get("fallback")
                else None
            ),
        )

    @property
    def all_queues(self) -> tuple[QueueRule, ...]:
        """Every queue a job may be in, the fallback region's last."""
        queues = tuple(self.queues[name] for name in sorted(self.queues))
        return queues + ((self.fallback.queue,) if self.fallback else ())

    def route(self, job_format: str) -> tuple[QueueRule, ...]:
        names = self.routes.get(job_format) or self.routes["default"]
        return tuple(self.queues[name] for name in names)

    def priority(self, base: int, job_format: str, uploader: str) -> int:
        value = base + self.priority_by_kind.get(job_format, 0)
        for uploader_class in self.uploader_classes:
            if uploader_class.matches(uploader):
                value += uploader_class.priority
                break
        return max(MIN_PRIORITY, min(MAX_PRIORITY, value))


class QueuesFull(TransientFailure):
    """Every queue of the job's route is at its in-flight budget: put the job off."""

    def __init__(self, job_format: str, queues: Sequence[str], retry_seconds: int) -> None:
        super().__init__(
            f"every queue for {job_format} is at its in-flight budget: {', '.join(queues)}"
        )
        self.retry_seconds = retry_seconds


@dataclass(frozen=True)
class Placement:
    """Where one job attempt goes."""

    queue_arn: str
    priority: int
    queue: str = STACK_QUEUE
    in_flight: int | None = None  # jobs counted against the queue, this one included
    budget: int | None = None
    region: str | None = None  # None: the stack's region
    route: Route = Route.PRIMARY


class Router:
    """Places jobs; a router without rules sends everything to the stack's queue."""

    def __init__(
        self,
        rules: CapacityRules | None,
        ledger: InFlightLedger | None,
        stack_queue_arn: str,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        if rules is not None and ledger is None:
            raise ConfigurationError("a capacity section needs the capacity table's name")
        self.rules = rules
        self.ledger = ledger
        self.stack_queue_arn = stack_queue_arn
        self.breaker = breaker

    @property
    def queue_arns(self) -> list[tuple[str | None, str]]:
        """(region, ARN) of every queue a job of this pipeline may be in, for finding an
        interrupted submission's job; the stack's region's first."""
        if self.rules is None:
            return [(None, self.stack_queue_arn)]
        return sorted(
            {(rule.region, rule.arn) for rule in self.rules.all_queues},
            key=lambda place: (place[0] is not None, place[0] or "", place[1]),
        )

    def place(
        self,
        *,
        asset_id: str,
        job_format: str,
        attempt: int,
        uploader: str,
        base_priority: int,
        now: str,
    ) -> Placement:
        """Take budget in the first queue of the route with room; :class:`QueuesFull` if none."""
        if self.rules is None or self.ledger is None:
            return Placement(self.stack_queue_arn, base_priority)
        priority = self.rules.priority(base_priority, job_format, uploader)
        key = job_key(asset_id, job_format, attempt)
        region_route = self._region_route(now)
        fallback = self.rules.fallback
        if region_route is Route.SECONDARY and fallback is not None:
            route: tuple[QueueRule, ...] = (fallback.queue,)
        else:
            route = self.rules.route(job_format)
        for rule in route:
            taken = self.ledger.take(rule.name, key, rule.budget, now)
            if taken is not None:
                return Placement(
                    rule.arn,
                    priority,
                    rule.name,
                    taken.in_flight,
                    rule.budget,
                    rule.region,
                    region_route,
                )
        raise QueuesFull(job_format, [rule.name for rule in route], self.rules.full_retry_seconds)

    def _region_route(self, now: str) -> Route:
        """The breaker's answer; always the primary without a fallback."""
        if self.breaker is None:
            return Route.PRIMARY
        return self.breaker.route(_epoch(now))

    def primary_outcome(self, placement: Placement, succeeded: bool, now: str) -> Recorded | None:
        """Tell the breaker how CreateJob in the primary region went (None: no breaker, or
        the job went to the secondary region)."""
        if self.breaker is None or placement.region is not None:
            return None
        event = BreakerEvent.PRIMARY_SUCCEEDED if succeeded else BreakerEvent.PRIMARY_FAILED
        return self.breaker.record(event, _epoch(now))

    def count_found(
        self, *, asset_id: str, job_format: str, attempt: int, queue_arn: str, now: str
    ) -> None:
        """Count a job an interrupted submission created, whatever the budget: it exists."""
        if self.rules is None or self.ledger is None:
            return
        key = job_key(asset_id, job_format, attempt)
        for rule in self.rules.all_queues:
            if rule.arn == queue_arn:
                self.ledger.take(rule.name, key, UNLIMITED, now)
                return

    def release(self, asset_id: str, job_format: str, attempt: int) -> None:
        """Give back whatever budget the job attempt holds, in every queue (idempotent)."""
        if self.rules is None or self.ledger is None:
            return
        key = job_key(asset_id, job_format, attempt)
        for rule in self.rules.all_queues:
            self.ledger.give_back(rule.name, key)

    def stale_entries(self, taken_before: str) -> list[tuple[str, str, str, int]]:
        """(queue, asset id, format, attempt) of every entry taken before ``taken_before``."""
        if self.rules is None or self.ledger is None:
            return []
        entries = []
        for rule in self.rules.all_queues:
            for key, taken_at in sorted(self.ledger.holders(rule.name).items()):
                parsed = parse_job_key(key)
                if parsed is not None and taken_at < taken_before:
                    entries.append((rule.name, *parsed))
        return entries

    def give_back(self, queue: str, asset_id: str, job_format: str, attempt: int) -> None:
        if self.ledger is not None:
            self.ledger.give_back(queue, job_key(asset_id, job_format, attempt))


def router_for(runtime: Any) -> Router:
    """The router of this container's configuration and environment."""
    env = runtime.env
    document = runtime.config.capacity
    if document is None:
        return Router(None, None, env.mediaconvert_queue_arn)
    if not env.capacity_table:
        raise ConfigurationError("the capacity section needs MEDIAPIPE_CAPACITY_TABLE")
    rules = CapacityRules.parse(document, env.mediaconvert_queue_arn)
    breaker = (
        CircuitBreaker(runtime.clients.dynamodb, env.capacity_table, rules.fallback.policy)
        if rules.fallback is not None
        else None
    )
    return Router(
        rules,
        InFlightLedger(runtime.clients.dynamodb, env.capacity_table),
        env.mediaconvert_queue_arn,
        breaker,
    )


def _epoch(now: str) -> float:
    """Epoch seconds of an ISO timestamp written by :func:`clock.iso`."""
    moment = clock.parse_iso(now)
    if moment is None:
        raise ValueError(f"not a timestamp: {now!r}")
    return moment.timestamp()
