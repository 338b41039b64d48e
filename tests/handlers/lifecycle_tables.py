"""docs/architecture.md's state-machine tables, rendered from mediapipe_handlers.lifecycle."""

from __future__ import annotations

from mediapipe_handlers.lifecycle import ASSET_TRANSITIONS, JOB_TRANSITIONS


def _states(states: frozenset) -> str:  # type: ignore[type-arg]
    names = sorted("(no record)" if s is None else str(s) for s in states)
    return ", ".join(f"`{n}`" if n != "(no record)" else n for n in names)


def asset_table() -> str:
    lines = ["| asset status | event | new status | action |", "| --- | --- | --- | --- |"]
    for t in ASSET_TRANSITIONS:
        target = _states(t.targets) if t.targets else "(unchanged)"
        lines.append(f"| {_states(t.sources)} | {t.event} | {target} | {t.action} |")
    return "\n".join(lines)


def job_table() -> str:
    lines = ["| job state | event | new state | attempt |", "| --- | --- | --- | --- |"]
    for t in JOB_TRANSITIONS:
        sources = _states(t.sources).replace("(no record)", "(no job yet)")
        lines.append(f"| {sources} | {t.event} | `{t.target}` | {t.attempt} |")
    return "\n".join(lines)


def breaker_table() -> str:
    """The regional fallback's breaker (mediapipe_handlers.breaker)."""
    from mediapipe_handlers.breaker import BREAKER_TRANSITIONS

    lines = ["| breaker state | event | new state | action |", "| --- | --- | --- | --- |"]
    for t in BREAKER_TRANSITIONS:
        lines.append(f"| {_states(t.sources)} | {t.event} | {_states(t.targets)} | {t.action} |")
    return "\n".join(lines)
