"""What each operations command prints: tables for people, or the same data as JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import click

from mediapipe_cfn.contract import Attr
from mediapipe_cfn.operations.output import age, cell, duration, emit_json, fields, table


def _section(title: str, body: str) -> None:
    click.echo(f"\n{title}")
    click.echo(body)


def show_asset(view: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(view)
        return
    record = view["record"]
    click.echo(
        fields(
            [
                ("asset", record.get(Attr.ASSET_ID)),
                ("status", record.get(Attr.STATUS)),
                ("failure kind", record.get(Attr.FAILURE_KIND)),
                ("source", f"s3://{record.get(Attr.SOURCE_BUCKET)}/{record.get(Attr.S3_KEY)}"),
                ("version", record.get(Attr.SOURCE_VERSION_ID)),
                ("uploader", record.get(Attr.UPLOADER_ID)),
                ("attempts", record.get(Attr.ATTEMPTS)),
                ("created", record.get(Attr.CREATED_AT)),
                ("updated", f"{record.get(Attr.UPDATED_AT)} ({view['updatedAgo']} ago)"),
                ("completed", record.get(Attr.COMPLETED_AT)),
                ("latency", view.get("latency")),
                ("announced", record.get(Attr.FINAL_NOTIFIED_AT)),
                ("outputs at", record.get(Attr.OUTPUT_PREFIX)),
                ("captions", record.get("captionLanguages")),
            ]
        )
    )
    if view["formats"]:
        columns = [
            "format",
            "state",
            "attempt",
            "progress",
            "submitted",
            "finished",
            "error",
            "job",
        ]
        _section("Jobs", table(view["formats"], columns))
        links = [f"{row['format']}: {row['console']}" for row in view["formats"] if row["console"]]
        if links:
            _section("MediaConvert console", "\n".join(links))
    errors = record.get(Attr.ERRORS) or []
    if errors:
        _section("Errors", table(errors, ["at", "source", "kind", "format", "code", "message"]))
    outputs = record.get(Attr.OUTPUTS) or {}
    if outputs:
        _section(
            "Outputs",
            "\n".join(f"{name}: {_output_summary(o)}" for name, o in sorted(outputs.items())),
        )
    playback = view.get("playback")
    if playback:
        _section("Playback", fields(sorted((k, v) for k, v in playback.items())))
    if view["messages"]:
        _section("Messages", "\n".join(view["messages"]))


def _output_summary(output: Any) -> str:
    """The manifests a format wrote (else its files), and how many thumbnails."""
    if not isinstance(output, Mapping):
        return cell(output)
    groups = output.get("groups") or []
    written = [p for g in groups for p in g.get("playlists") or []] or [
        p for g in groups for o in g.get("outputs") or [] for p in o.get("paths") or []
    ]
    thumbnails = output.get("thumbnailCount")
    return cell(written) + (f" (+{thumbnails} thumbnails)" if thumbnails else "")


def show_asset_list(
    items: Sequence[Mapping[str, Any]], now: datetime, as_json: bool, limit: int
) -> None:
    rows = [
        {
            "asset": item.get(Attr.ASSET_ID),
            "status": item.get(Attr.STATUS),
            "kind": item.get(Attr.FAILURE_KIND),
            "updated": item.get(Attr.UPDATED_AT),
            "age": age(item.get(Attr.UPDATED_AT), now),
            "uploader": item.get(Attr.UPLOADER_ID),
            "key": item.get(Attr.S3_KEY),
        }
        for item in items
    ]
    if as_json:
        emit_json(rows)
    else:
        click.echo(table(rows, ["asset", "status", "kind", "updated", "age", "uploader", "key"]))
    click.echo(f"{len(rows)} asset(s)", err=True)
    if rows and len(rows) == limit:
        click.echo(f"more may follow: add --before {rows[-1]['updated']}", err=True)


def show_retries(
    plans: Sequence[Any], sent: Mapping[str, str], dry_run: bool, as_json: bool
) -> None:
    rows = [{**plan.to_dict(), "sent": sent.get(plan.asset_id)} for plan in plans]
    if as_json:
        emit_json({"dryRun": dry_run, "assets": rows})
        return
    shown = [{**row, "asset": row["assetId"]} for row in rows]
    click.echo(table(shown, ["asset", "status", "action", "explanation"]))
    verb = "would send" if dry_run else "sent"
    count = sum(plan.body is not None for plan in plans)
    click.echo(f"{verb} {count} message(s) to the processing queue", err=True)


def show_dead_letters(reports: Sequence[Mapping[str, Any]], as_json: bool) -> None:
    if as_json:
        emit_json(reports)
        return
    for report in reports:
        held = (
            f", {report['heldElsewhere']} hidden by another reader"
            if report["heldElsewhere"]
            else ""
        )
        click.echo(f"{report['queue']} DLQ: {report['read']} message(s){held}")
        if report["groups"]:
            click.echo(table(report["groups"], ["count", "kind", "reason", "assets"]))
        click.echo("")


def show_redrive(result: Any, as_json: bool) -> None:
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(
        f"{result.queue}: {result.moved} message(s) moved ({result.method}), "
        f"{result.skipped} left in the queue"
        + ("" if result.remaining is None else f"; the queue now holds {result.remaining}")
    )
    for problem in result.problems:
        click.echo(f"  {problem}")


def show_health(report: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(report)
        return
    verdict = "healthy" if report["healthy"] else "NEEDS ATTENTION"
    click.echo(f"{report['stack']} ({report['region']}): {verdict}")
    queues = [
        {**row, "oldest": None if row["oldest"] is None else duration(row["oldest"])}
        for row in report["queues"]
    ]
    _section("Queues", table(queues, ["queue", "visible", "inFlight", "delayed", "oldest"]))
    alarms = report["alarms"]
    _section(
        "Alarms in ALARM",
        table(alarms, ["alarm", "since", "diagnose"]) if alarms else "none",
    )
    jobs = report["mediaconvert"]
    _section(
        "MediaConvert",
        f"queue {jobs['queue']} ({cell(jobs['status'])}): {jobs['submitted']} submitted, "
        f"{jobs['progressing']} progressing",
    )
    recent = report["last24h"]
    _section("Assets changed in the last 24 h", ", ".join(f"{k} {v}" for k, v in recent.items()))
    _section("Dashboard", report["dashboard"])
