"""Capacity settings shared by the template and the handlers' runtime configuration.

A profile's ``capacity`` section names the MediaConvert queues jobs may go to (the stack's own
on-demand queue, ``stack``, and existing queues by ARN, e.g. reserved ones), the order each job
kind tries them in, job priorities, and each queue's in-flight budget. The template scopes the
roles to exactly these queues; the handlers receive the same facts in the runtime
configuration's ``capacity`` key (the stack queue's ARN comes from their environment).
"""

from __future__ import annotations

from typing import Any

from mediapipe_cfn.profile.model import STACK_QUEUE, Capacity, Fallback


def capacity_runtime_config(capacity: Capacity) -> dict[str, Any]:
    """The handlers' copy of the section (``arn`` null: the stack queue of their environment)."""
    budgets = capacity.budgets()
    queues: dict[str, Any] = {STACK_QUEUE: {"arn": None, "budget": budgets[STACK_QUEUE]}}
    for name, queue in sorted(capacity.queues.items()):
        queues[name] = {"arn": queue.arn, "budget": budgets[name]}
        if queue.reserved_slots is not None:
            queues[name]["reservedSlots"] = queue.reserved_slots
    routing = capacity.routing
    return {
        "queues": queues,
        "routes": {
            "default": list(routing.default),
            **{kind: list(route) for kind, route in sorted(routing.by_job_kind.items())},
        },
        "priority": {
            "byJobKind": dict(sorted(capacity.priority.by_job_kind.items())),
            "uploaderClasses": [
                {"name": c.name, "uploaders": list(c.uploaders), "priority": c.priority}
                for c in capacity.priority.uploader_classes
            ],
        },
        "fullRetrySeconds": capacity.full_retry_seconds,
        **({"fallback": fallback_runtime_config(capacity.fallback)} if capacity.fallback else {}),
    }


def fallback_runtime_config(fallback: Fallback) -> dict[str, Any]:
    """The breaker's policy and the secondary queue (``queueArn`` null: the region's Default
    queue, whose ARN the handlers build from their stack queue's account)."""
    return {
        "region": fallback.region,
        "queueArn": fallback.queue_arn,
        "budget": fallback.in_flight_budget,
        "openAfterFailures": fallback.open_after_failures,
        "failureWindowSeconds": fallback.failure_window_seconds,
        "openSeconds": fallback.open_seconds,
    }
