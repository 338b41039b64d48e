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
  configured queue, since the earlier delivery may have chosen another.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mediapipe_handlers.budget import InFlightLedger, job_key, parse_job_key
from mediapipe_handlers.environment import ConfigurationError
from mediapipe_handlers.failures import TransientFailure

STACK_QUEUE = "stack"
MIN_PRIORITY, MAX_PRIORITY = -50, 50
# A budget no queue item reaches (an item holds far fewer entries): counts without a limit.
UNLIMITED = 1_000_000


@dataclass(frozen=True)
class QueueRule:
    name: str
    arn: str
    budget: int


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
        )

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


class Router:
    """Places jobs; a router without rules sends everything to the stack's queue."""

    def __init__(
        self,
        rules: CapacityRules | None,
        ledger: InFlightLedger | None,
        stack_queue_arn: str,
    ) -> None:
        if rules is not None and ledger is None:
            raise ConfigurationError("a capacity section needs the capacity table's name")
        self.rules = rules
        self.ledger = ledger
        self.stack_queue_arn = stack_queue_arn

    @property
    def queue_arns(self) -> list[str]:
        """Every queue a job of this pipeline may be in, for finding an interrupted one's job."""
        if self.rules is None:
            return [self.stack_queue_arn]
        return sorted({rule.arn for rule in self.rules.queues.values()})

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
        route = self.rules.route(job_format)
        for rule in route:
            taken = self.ledger.take(rule.name, key, rule.budget, now)
            if taken is not None:
                return Placement(rule.arn, priority, rule.name, taken.in_flight, rule.budget)
        raise QueuesFull(job_format, [rule.name for rule in route], self.rules.full_retry_seconds)

    def count_found(
        self, *, asset_id: str, job_format: str, attempt: int, queue_arn: str, now: str
    ) -> None:
        """Count a job an interrupted submission created, whatever the budget: it exists."""
        if self.rules is None or self.ledger is None:
            return
        key = job_key(asset_id, job_format, attempt)
        for rule in self.rules.queues.values():
            if rule.arn == queue_arn:
                self.ledger.take(rule.name, key, UNLIMITED, now)
                return

    def release(self, asset_id: str, job_format: str, attempt: int) -> None:
        """Give back whatever budget the job attempt holds, in every queue (idempotent)."""
        if self.rules is None or self.ledger is None:
            return
        key = job_key(asset_id, job_format, attempt)
        for name in sorted(self.rules.queues):
            self.ledger.give_back(name, key)

    def stale_entries(self, taken_before: str) -> list[tuple[str, str, str, int]]:
        """(queue, asset id, format, attempt) of every entry taken before ``taken_before``."""
        if self.rules is None or self.ledger is None:
            return []
        entries = []
        for name in sorted(self.rules.queues):
            for key, taken_at in sorted(self.ledger.holders(name).items()):
                parsed = parse_job_key(key)
                if parsed is not None and taken_at < taken_before:
                    entries.append((name, *parsed))
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
    return Router(
        rules,
        InFlightLedger(runtime.clients.dynamodb, env.capacity_table),
        env.mediaconvert_queue_arn,
    )
