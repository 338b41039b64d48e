"""The state machine is data: the docs print it, and every conditional write obeys it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import REPO
from lifecycle_tables import asset_table, job_table
from mediapipe_handlers.lifecycle import (
    ASSET_TRANSITIONS,
    AssetEvent,
    FailureKind,
    JobEvent,
    JobState,
    asset_sources,
    job_sources,
)
from mediapipe_handlers.repository import error_entry
from test_ingest_orchestrator import repo

from mediapipe_cfn.contract import AssetStatus

NOW = "2026-01-01T00:00:00.000Z"


def test_architecture_page_prints_the_tables_of_the_code() -> None:
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert asset_table() in page, "regenerate docs/architecture.md's asset table"
    assert job_table() in page, "regenerate docs/architecture.md's job table"


def test_every_asset_event_has_one_row_and_a_reason_to_exist() -> None:
    assert sorted(t.event for t in ASSET_TRANSITIONS) == sorted(AssetEvent)
    assert all(t.sources and t.action for t in ASSET_TRANSITIONS)


def _record(status: AssetStatus, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "assetId": "a" * 32,
        "status": status,
        "formats": ["cmaf"],
        "formatStatus": {"cmaf": {"status": "COMPLETE", "rank": 3, "attempt": 1}},
        "errors": [],
        "jobIds": [],
        "updatedAt": NOW,
        "attempts": 1,
        **extra,
    }
    if status == AssetStatus.FAILED:
        item["failureKind"] = FailureKind.TRANSIENT_EXHAUSTED
    return item


def _entry() -> dict[str, Any]:
    return error_entry("injected", at=NOW, source="test")


def _fail_with(event: AssetEvent) -> Callable[[Any, dict[str, Any]], Any]:
    def write(assets: Any, item: dict[str, Any]) -> Any:
        return assets.mark_failed(
            item["assetId"], _entry(), FailureKind.JOB_FAILED, NOW, event=event
        )

    return write


# Each asset event's write, from a record in a given status; truthy when the write happened.
WRITES: dict[AssetEvent, Callable[[Any, dict[str, Any]], Any]] = {
    AssetEvent.JOB_RECORDED: lambda r, item: (
        r.mark_processing(item["assetId"], NOW) or item["status"] == AssetStatus.PROCESSING
    ),  # PROCESSING stays PROCESSING: no write needed
    AssetEvent.ALL_COMPLETE: lambda r, item: r.finish_succeeded(item["assetId"], ["cmaf"], NOW),
    AssetEvent.REOPENED: lambda r, item: r.reopen(
        item, frozenset({FailureKind.TRANSIENT_EXHAUSTED}), NOW
    ),
    AssetEvent.ANNOUNCED: lambda r, item: r.mark_notified(item["assetId"], NOW),
    **{
        event: _fail_with(event)
        for event in (
            AssetEvent.FAILED_FOR_GOOD,
            AssetEvent.INGEST_FAILED,
            AssetEvent.RETRIES_EXHAUSTED,
            AssetEvent.CRASH_LIMIT,
            AssetEvent.DEAD_LETTERED,
        )
    },
}


@pytest.mark.parametrize("event", list(WRITES), ids=str)
@pytest.mark.parametrize("status", list(AssetStatus), ids=str)
def test_each_write_accepts_exactly_the_states_its_row_lists(
    event: AssetEvent, status: AssetStatus, stack: Any
) -> None:
    from mediapipe_handlers.repository import to_dynamo

    assets = repo()
    item = _record(status)
    assets.create(to_dynamo(item))
    happened = bool(WRITES[event](assets, item))
    assert happened == (status in asset_sources(event)), (event, status)


@pytest.mark.parametrize("state", [*JobState, None], ids=str)
def test_a_claim_is_taken_only_where_the_job_table_allows(
    state: JobState | None, stack: Any
) -> None:
    assets = repo()
    format_status = {}
    if state is not None:
        format_status["cmaf"] = {"status": state, "rank": 0, "attempt": 1, "nextAttempt": 2}
    assets.create(_record(AssetStatus.PENDING, formatStatus=format_status))
    attempt = 2 if state == JobState.RETRY_SCHEDULED else 1
    claimed = assets.claim_format(
        "a" * 32,
        "cmaf",
        attempt=attempt,
        token="t#1",
        lease_until=NOW,
        now=NOW,
        input_uri="s3://b/sources/a/source.mp4",
    )
    assert claimed == (state in job_sources(JobEvent.CLAIMED))
