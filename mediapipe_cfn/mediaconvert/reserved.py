"""On-demand or reserved: how many reserved transcode slots a workload needs, and what each costs.

A reserved transcode slot (RTS) runs one job at a time, whatever the job's outputs, for a fixed
monthly price under a 12-month commitment; on demand, every output minute is billed. So:

* **slots needed** = the day's job-seconds / (86,400 s x the utilisation a slot is planned at),
  rounded up; a job occupies its slot for ``job_seconds_per_source_second`` x the source's
  duration (an assumption in the price table: measure yours);
* **reserved monthly** = slots x the slot price; **on-demand monthly** = the estimate's
  MediaConvert line;
* **break-even**: a slot costs the same as the on-demand bill of the work it does when it is
  busy ``break_even_utilisation`` of the time, i.e. at ``break_even_uploads_per_day_per_slot``
  uploads of this profile a day. Below that, on demand is cheaper.

When the profile's ``capacity`` section names reserved queues, their slots are priced as well:
the work they cannot absorb at the stated utilisation spills over to on-demand queues.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The estimate's own rounding and money format, so both reports read alike.
from mediapipe_cfn.mediaconvert.cost import _money, _round
from mediapipe_cfn.profile.model import Profile

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class ConfiguredSlots:
    """The profile's own reserved queues, priced for the workload."""

    slots: int
    reserved_monthly: float
    spill_fraction: float  # of the job-seconds, run on demand
    spill_monthly: float

    @property
    def monthly(self) -> float:
        return self.reserved_monthly + self.spill_monthly


@dataclass(frozen=True)
class ReservedPlan:
    currency: str
    source: str
    uploads_per_day: int
    jobs_per_asset: int
    utilisation: float
    job_seconds_per_day: float
    slot_price: float
    slots_needed: int
    on_demand_monthly: float
    break_even_utilisation: float | None  # None: no work, nothing to compare
    break_even_uploads_per_day_per_slot: float | None
    configured: ConfiguredSlots | None
    notes: tuple[str, ...] = ()
    assumptions: Mapping[str, str] = field(default_factory=dict)

    @property
    def reserved_monthly(self) -> float:
        return self.slots_needed * self.slot_price

    @property
    def cheaper(self) -> str:
        return "reserved" if self.reserved_monthly < self.on_demand_monthly else "on_demand"

    def to_dict(self) -> dict[str, Any]:
        configured = self.configured
        return {
            "currency": self.currency,
            "source": self.source,
            "uploadsPerDay": self.uploads_per_day,
            "jobsPerAsset": self.jobs_per_asset,
            "utilisation": self.utilisation,
            "jobHoursPerDay": _round(self.job_seconds_per_day / 3600),
            "reservedSlotMonthly": self.slot_price,
            "slotsNeeded": self.slots_needed,
            "reservedMonthly": _round(self.reserved_monthly),
            "onDemandMonthly": _round(self.on_demand_monthly),
            "cheaper": self.cheaper,
            "monthlySavings": _round(abs(self.on_demand_monthly - self.reserved_monthly)),
            "breakEvenUtilisation": _maybe_round(self.break_even_utilisation),
            "breakEvenUploadsPerDayPerSlot": _maybe_round(self.break_even_uploads_per_day_per_slot),
            "configured": None
            if configured is None
            else {
                "reservedSlots": configured.slots,
                "reservedMonthly": _round(configured.reserved_monthly),
                "spillFraction": _round(configured.spill_fraction),
                "spillOnDemandMonthly": _round(configured.spill_monthly),
                "monthly": _round(configured.monthly),
            },
            "notes": list(self.notes),
            "assumptions": dict(sorted(self.assumptions.items())),
        }

    def format_table(self) -> str:
        money = _money
        lines = [
            f"Reserved slots or on demand (MediaConvert, per month; {self.source})",
            f"  Work: {self.uploads_per_day:,} uploads/day x {self.jobs_per_asset} jobs = "
            f"{self.job_seconds_per_day / 3600:,.1f} job-hours/day",
            f"  Slots needed at {self.utilisation:.0%} utilisation: {self.slots_needed:,} "
            f"x {money(self.slot_price)} = {money(self.reserved_monthly)}",
            f"  On demand: {money(self.on_demand_monthly)}; cheaper: "
            f"{self.cheaper.replace('_', '-')} by "
            f"{money(abs(self.on_demand_monthly - self.reserved_monthly))}",
        ]
        if self.break_even_utilisation is not None and self.break_even_utilisation > 1:
            lines.append(
                "  Break-even: never; a slot would have to be busy "
                f"{self.break_even_utilisation:.0%} of the time to cost what on demand does"
            )
        elif self.break_even_utilisation is not None:
            per_slot = self.break_even_uploads_per_day_per_slot or 0.0
            lines.append(
                f"  Break-even: a slot pays off when busy over {self.break_even_utilisation:.0%}"
                f" of the time (about {per_slot:,.0f} uploads/day per slot of this profile)"
            )
        if self.configured is not None:
            c = self.configured
            lines.append(
                f"  The profile's {c.slots} reserved slot(s): {money(c.reserved_monthly)} + "
                f"{c.spill_fraction:.0%} of the work on demand {money(c.spill_monthly)} = "
                f"{money(c.monthly)}"
            )
        lines += [f"  - {note}" for note in self.notes]
        lines += [f"  - {key}: {text}" for key, text in sorted(self.assumptions.items())]
        return "\n".join(lines) + "\n"


def reserved_plan(
    profile: Profile,
    *,
    uploads_per_day: int,
    avg_minutes: float,
    jobs_per_asset: int,
    on_demand_monthly: float,
    prices: Mapping[str, Any],
    utilisation: float | None = None,
) -> ReservedPlan:
    """Size and price reserved slots for the workload the estimate describes."""
    table = prices["capacity"]
    busy = float(table["utilisation"] if utilisation is None else utilisation)
    if not 0 < busy <= 1:
        raise ValueError(f"utilisation must be in (0, 1], got {busy}")
    slot_price = float(table["reserved_slot_per_month"])
    job_seconds_per_upload = (
        jobs_per_asset * avg_minutes * 60 * float(table["job_seconds_per_source_second"])
    )
    job_seconds = uploads_per_day * job_seconds_per_upload
    slots = math.ceil(job_seconds / (SECONDS_PER_DAY * busy)) if job_seconds else 0
    on_demand_per_upload = on_demand_monthly / uploads_per_day if uploads_per_day else 0.0
    break_even_uploads = slot_price / on_demand_per_upload if on_demand_per_upload else None
    break_even_busy = (
        break_even_uploads * job_seconds_per_upload / SECONDS_PER_DAY
        if break_even_uploads is not None
        else None
    )
    return ReservedPlan(
        currency=str(prices["currency"]),
        source=str(table["source"]),
        uploads_per_day=uploads_per_day,
        jobs_per_asset=jobs_per_asset,
        utilisation=busy,
        job_seconds_per_day=job_seconds,
        slot_price=slot_price,
        slots_needed=slots,
        on_demand_monthly=on_demand_monthly,
        break_even_utilisation=break_even_busy,
        break_even_uploads_per_day_per_slot=break_even_uploads,
        configured=_configured(profile, job_seconds, busy, slot_price, on_demand_monthly),
        notes=tuple(str(note) for note in table.get("notes", ())),
        assumptions=dict(table.get("assumptions", {})),
    )


def _configured(
    profile: Profile, job_seconds: float, busy: float, slot_price: float, on_demand: float
) -> ConfiguredSlots | None:
    capacity = profile.capacity
    slots = sum(q.reserved_slots or 0 for q in capacity.queues.values()) if capacity else 0
    if not slots:
        return None
    absorbed = slots * SECONDS_PER_DAY * busy
    spill = max(0.0, 1 - absorbed / job_seconds) if job_seconds else 0.0
    return ConfiguredSlots(slots, slots * slot_price, spill, spill * on_demand)


def _maybe_round(value: float | None) -> float | None:
    return None if value is None else _round(value)
