"""Exponential backoff, capped; the same curve for queue redeliveries and job resubmissions."""

from __future__ import annotations

# ChangeMessageVisibility accepts at most 12 hours.
MAX_VISIBILITY_SECONDS = 43_200


def backoff_seconds(failures: int, base_seconds: int, max_seconds: int) -> int:
    """Delay after the ``failures``-th consecutive failure: base, 2 x base, 4 x base ... capped."""
    if failures < 1:
        return 0
    exponent = min(failures - 1, 30)  # 2**30 x anything is past every cap
    return int(min(max_seconds, base_seconds * 2**exponent, MAX_VISIBILITY_SECONDS))
