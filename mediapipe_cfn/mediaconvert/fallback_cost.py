"""The regional fallback's extra cost: sources read across regions by fallback jobs.

A job submitted to the fallback region reads the asset's working copy from the uploads bucket
in the stack's region; S3 charges that transfer out to another region per GB. Each job of an
asset reads the source once, so a month's cross-region bytes are jobs x source bytes for the
share of jobs that ran there. The figure is given for the price table's assumed share and for
every job (the breaker open all month), as the bounds of what an outage can add.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mediapipe_cfn.mediaconvert.cost import _money, _round
from mediapipe_cfn.profile.model import Profile

BYTES_PER_GB = 1e9


@dataclass(frozen=True)
class FallbackTransfer:
    region: str
    currency: str
    source: str
    price_per_gb: float
    share: float  # of the month's jobs assumed to run in the fallback region
    gb_if_all: float  # source GB a month if every job ran there

    @property
    def monthly_at_share(self) -> float:
        return self.gb_if_all * self.share * self.price_per_gb

    @property
    def monthly_if_all(self) -> float:
        return self.gb_if_all * self.price_per_gb

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "currency": self.currency,
            "source": self.source,
            "interRegionTransferPerGb": self.price_per_gb,
            "shareOfJobs": self.share,
            "sourceGbPerMonthIfAll": _round(self.gb_if_all),
            "monthlyAtShare": _round(self.monthly_at_share),
            "monthlyIfAll": _round(self.monthly_if_all),
        }

    def format_table(self) -> str:
        return (
            f"Regional fallback to {self.region}: sources read across regions "
            f"({_money(self.price_per_gb)}/GB; {self.source})\n"
            f"  {self.share:.0%} of the jobs there: {_money(self.monthly_at_share)}/month; "
            f"every job there: {self.gb_if_all:,.0f} GB = {_money(self.monthly_if_all)}/month\n"
        )


def fallback_transfer(
    profile: Profile,
    *,
    uploads_per_day: int,
    avg_minutes: float,
    source: str,
    jobs_per_asset: int,
    prices: Mapping[str, Any],
) -> FallbackTransfer | None:
    """The cross-region transfer of a profile with ``capacity.fallback``; None without one."""
    fallback = profile.capacity.fallback if profile.capacity else None
    if fallback is None:
        return None
    workload, table = prices["workload"], prices["capacity"]
    source_bytes = float(workload["source_bitrate_mbps"][source]) * 1e6 * avg_minutes * 60 / 8
    jobs_per_month = uploads_per_day * int(workload["days_per_month"]) * jobs_per_asset
    share = float(table["fallback_share_of_jobs"])
    if not 0 <= share <= 1:
        raise ValueError(f"capacity.fallback_share_of_jobs must be in [0, 1], got {share}")
    return FallbackTransfer(
        region=fallback.region,
        currency=str(prices["currency"]),
        source=str(table["inter_region_transfer_source"]),
        price_per_gb=float(table["inter_region_transfer_per_gb"]),
        share=share,
        gb_if_all=jobs_per_month * source_bytes / BYTES_PER_GB,
    )
