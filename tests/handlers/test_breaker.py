"""The regional fallback's circuit breaker: its state table, and a Hypothesis property test of
containers racing on the one DynamoDB item (moto), each reading and writing at any moment."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from handler_fakes import REGION
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from mediapipe_handlers.breaker import (
    BREAKER_TRANSITIONS,
    PROBE_LEASE_SECONDS,
    BreakerEvent,
    BreakerPolicy,
    BreakerRecord,
    BreakerState,
    CircuitBreaker,
    Route,
    apply,
    decide,
    transition_for,
)
from moto import mock_aws

TABLE = "breaker-test-capacity"
POLICY = BreakerPolicy(open_after_failures=3, failure_window_seconds=60, open_seconds=120)
CONTAINERS = 3


def make_table() -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "queue", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "queue", "KeyType": "HASH"}],
    )
    return client


def test_every_state_has_a_transition_for_every_event() -> None:
    for state in BreakerState:
        for event in BreakerEvent:
            if event is BreakerEvent.PROBE_TAKEN and state is BreakerState.CLOSED:
                with pytest.raises(ValueError):
                    transition_for(event, state)
            else:
                assert state in transition_for(event, state).sources
    # No two transitions claim the same (event, state).
    pairs = [(t.event, s) for t in BREAKER_TRANSITIONS for s in t.sources]
    assert len(pairs) == len(set(pairs))


def test_failures_open_only_within_the_window() -> None:
    record = BreakerRecord()
    record = apply(record, BreakerEvent.PRIMARY_FAILED, 0, POLICY)
    record = apply(record, BreakerEvent.PRIMARY_FAILED, 30, POLICY)
    # The third failure comes after the window: the count starts again at one.
    record = apply(record, BreakerEvent.PRIMARY_FAILED, 100, POLICY)
    assert (record.state, record.failures) == (BreakerState.CLOSED, 1)
    record = apply(record, BreakerEvent.PRIMARY_FAILED, 110, POLICY)
    record = apply(record, BreakerEvent.PRIMARY_FAILED, 120, POLICY)
    assert record.state is BreakerState.OPEN and record.open_until == 120 + POLICY.open_seconds
    assert decide(record, 200) is Route.SECONDARY and decide(record, 240) is Route.PROBE


def test_a_dead_probe_stops_blocking_others_when_its_lease_ends() -> None:
    opened = apply(BreakerRecord(failures=2), BreakerEvent.PRIMARY_FAILED, 0, POLICY)
    probing = apply(opened, BreakerEvent.PROBE_TAKEN, POLICY.open_seconds, POLICY)
    assert probing.state is BreakerState.HALF_OPEN
    assert decide(probing, POLICY.open_seconds + PROBE_LEASE_SECONDS - 1) is Route.SECONDARY
    assert decide(probing, POLICY.open_seconds + PROBE_LEASE_SECONDS) is Route.PROBE
    # The probe's success closes it; its failure opens it again for the whole period.
    closed = apply(probing, BreakerEvent.PRIMARY_SUCCEEDED, POLICY.open_seconds + 5, POLICY)
    assert closed.state is BreakerState.CLOSED and closed.failures == 0
    reopened = apply(probing, BreakerEvent.PRIMARY_FAILED, POLICY.open_seconds + 5, POLICY)
    assert reopened.open_until == 2 * POLICY.open_seconds + 5


class RacingContainers(RuleBasedStateMachine):
    """Containers read the item, then (maybe much later) write what they computed from it."""

    def __init__(self) -> None:
        super().__init__()
        self.client = boto3.client("dynamodb", region_name=REGION)
        self.client.delete_item(TableName=TABLE, Key={"queue": {"S": "breaker#primary"}})
        self.breaker = CircuitBreaker(self.client, TABLE, POLICY)
        self.now = 1_000_000.0
        self.snapshots: dict[int, BreakerRecord] = {}
        self.writes = 0
        self.history: list[tuple[BreakerState, BreakerState, BreakerEvent]] = []
        self.probes: list[float] = []  # when each probe was taken

    @rule(seconds=st.sampled_from([0, 1, 20, 61, 121, PROBE_LEASE_SECONDS + 1]))
    def time_passes(self, seconds: int) -> None:
        self.now += seconds

    @rule(container=st.integers(0, CONTAINERS - 1))
    def read(self, container: int) -> None:
        self.snapshots[container] = self.breaker.load()

    @precondition(lambda self: bool(self.snapshots))
    @rule(data=st.data(), event=st.sampled_from(list(BreakerEvent)))
    def write_from_what_it_read(self, data: st.DataObject, event: BreakerEvent) -> None:
        container = data.draw(st.sampled_from(sorted(self.snapshots)))
        old = self.snapshots.pop(container)
        if event is BreakerEvent.PROBE_TAKEN and old.state is BreakerState.CLOSED:
            return
        new = apply(old, event, self.now, POLICY)
        if new == old:
            return
        if self.breaker.try_write(old, new):
            self.writes += 1
            self.history.append((old.state, new.state, event))
            if event is BreakerEvent.PROBE_TAKEN:
                self.probes.append(self.now)
        else:
            # Someone else wrote since this container read: its write must not land.
            assert self.breaker.load().version != old.version

    @rule(event=st.sampled_from([BreakerEvent.PRIMARY_FAILED, BreakerEvent.PRIMARY_SUCCEEDED]))
    def record(self, event: BreakerEvent) -> None:
        before = self.breaker.load()
        recorded = self.breaker.record(event, self.now)
        if recorded.written:
            self.writes += 1
            self.history.append((recorded.before, recorded.after, event))
        else:
            assert recorded.before is recorded.after is before.state

    @rule()
    def route(self) -> None:
        before = self.breaker.load()
        route = self.breaker.route(self.now)
        if route is Route.PROBE:
            self.writes += 1
            self.history.append((before.state, BreakerState.HALF_OPEN, BreakerEvent.PROBE_TAKEN))
            self.probes.append(self.now)
        if before.state is BreakerState.CLOSED:
            assert route is Route.PRIMARY

    @invariant()
    def no_write_is_lost(self) -> None:
        assert self.breaker.load().version == self.writes

    @invariant()
    def every_change_is_in_the_table(self) -> None:
        for before, after, event in self.history:
            transition = transition_for(event, before)
            assert after in transition.targets

    @invariant()
    def one_probe_at_a_time(self) -> None:
        # A probe is taken only when the last one's lease has run out (or the breaker opened
        # again since): never two probes within one lease.
        for earlier, later in zip(self.probes, self.probes[1:], strict=False):
            assert later - earlier >= min(PROBE_LEASE_SECONDS, POLICY.open_seconds)

    @invariant()
    def open_only_after_enough_failures(self) -> None:
        for before, after, event in self.history:
            if before is BreakerState.CLOSED and after is BreakerState.OPEN:
                assert event is BreakerEvent.PRIMARY_FAILED


@pytest.fixture(scope="module")
def breaker_table() -> Any:
    with mock_aws():
        make_table()
        yield


def test_containers_racing_on_the_breaker_keep_it_consistent(breaker_table: Any) -> None:
    RacingContainers.TestCase.settings = settings(
        max_examples=60,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    RacingContainers.TestCase().runTest()


def test_architecture_page_prints_the_breaker_table_of_the_code() -> None:
    from pathlib import Path

    from lifecycle_tables import breaker_table

    page = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
    assert breaker_table() in page.read_text(encoding="utf-8"), "regenerate the breaker table"
