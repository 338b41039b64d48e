"""How the operations commands print: aligned text tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import click

from mediapipe_cfn.operations.handler_code import handler_module

EMPTY = "-"


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """``rows`` as a left-aligned table with a header; values rendered by :func:`cell`."""
    header = [column.upper() for column in columns]
    body = [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(columns))]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in [header, *body]
    ]
    return "\n".join(line.rstrip() for line in lines)


def fields(pairs: Sequence[tuple[str, Any]]) -> str:
    """``name: value`` lines, names aligned; pairs whose value is None are left out."""
    shown = [(name, cell(value)) for name, value in pairs if value is not None]
    width = max((len(name) for name, _ in shown), default=0)
    return "\n".join(f"{name + ':':<{width + 1}} {value}" for name, value in shown)


def cell(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def plain(value: Any) -> Any:
    """``value`` with DynamoDB's Decimals as int/float and sets as sorted lists (JSON-ready)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def emit_json(document: Any) -> None:
    click.echo(json.dumps(plain(document), indent=2, sort_keys=True, default=str))


def progress(message: str) -> None:
    """A progress line on stderr, so stdout stays the command's result."""
    click.echo(message, err=True)


def age(iso_time: str | None, now: datetime) -> str | None:
    """How long ago ``iso_time`` was, e.g. ``3h12m``."""
    moment = handler_module("clock").parse_iso(iso_time) if iso_time else None
    return None if moment is None else duration((now - moment).total_seconds())


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{seconds:02d}s"
    return f"{seconds}s"
