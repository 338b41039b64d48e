"""Normalized MediaConvert output minutes per source minute: CMAF default vs separate HLS + DASH,
and what the default profile costs per source minute for each kind of source.

For the default profile on a 10-minute 1080p source, prints every billed output of the jobs the
pipeline submits (from the same settings builder the orchestrator uses), the normalized minutes
per source minute and the cost, next to the same figures for a job delivering the same formats
as separate HLS (TS) and DASH-ISO groups with the same ladder, every output billed at the
Professional rate (as when such a job runs accelerated or multi-pass). Then the default
profile's cost per source minute for SDR progressive, HDR, interlaced and 5.1 sources of the same
size, with the loudness add-on shown apart.

    python benchmarks/output_minutes.py

Prices come from mediapipe_cfn/mediaconvert/prices.json (an estimate; see its assumptions).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from mediapipe_cfn.mediaconvert.cost import (
    SOURCE_PRESETS,
    OutputCharge,
    add_on_rate,
    cost_per_source_minute,
    load_prices,
    output_charges,
)
from mediapipe_cfn.mediaconvert.ladder import SourceInfo
from mediapipe_cfn.mediaconvert.spec import transcode_spec
from mediapipe_cfn.profile import load_profile

SOURCE = "1080p"
SOURCE_MINUTES = 10.0
# 1080p sources of each kind the pipeline treats differently (docs/transcoding.md).
SOURCE_KINDS: Mapping[str, SourceInfo] = {
    "SDR progressive": SourceInfo(1920, 1080, frame_rate=30.0),
    "HDR10 / HLG (tone-mapped)": SourceInfo(1920, 1080, frame_rate=30.0, hdr="HLG"),
    "interlaced 1080i (deinterlaced)": SourceInfo(1920, 1080, frame_rate=25.0, interlaced=True),
    "5.1 audio (downmixed)": SourceInfo(1920, 1080, frame_rate=30.0, audio_channels=6),
}


def separate_packaging(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The same spec delivering HLS and DASH as two groups (TS and DASH-ISO)."""
    variant = copy.deepcopy(dict(spec))
    variant["formats"]["packaging"] = "separate"
    return variant


def describe(
    title: str, charges: Sequence[OutputCharge], prices: Mapping[str, Any], tier: str | None
) -> tuple[float, float]:
    per_minute = sum(c.multiplier for c in charges)
    cost = cost_per_source_minute(charges, prices, tier)
    print(title)
    print(f"  {'job':<7}{'group':<25}{'output':<16}{'class':<8}{'tier':<14}{'x':>5}")
    for c in charges:
        shown_tier = tier or c.tier
        print(
            f"  {c.job:<7}{c.group:<25}{c.name:<16}{c.resolution_class:<8}{shown_tier:<14}"
            f"{c.multiplier:>5.2f}"
        )
    print(f"  outputs billed: {len(charges)}")
    print(f"  normalized output minutes per source minute: {per_minute:.2f}")
    print(
        f"  for a {SOURCE_MINUTES:g}-minute {SOURCE} source: {per_minute * SOURCE_MINUTES:.1f} "
        f"normalized minutes, ${cost * SOURCE_MINUTES:.4f} (${cost:.4f} per source minute)"
    )
    print()
    return per_minute, cost


def main() -> None:
    prices = load_prices()
    spec = transcode_spec(load_profile("default"))
    source = SOURCE_PRESETS[SOURCE]
    seconds = SOURCE_MINUTES * 60
    print(
        f"ESTIMATE - MediaConvert list prices {prices['region']} as of {prices['as_of']} "
        "(see prices.json for the assumed multipliers)\n"
    )
    cmaf_minutes, cmaf_cost = describe(
        "Default profile: one CMAF group (HLS + DASH), MP4 preview, thumbnails; tier as billed",
        output_charges(spec, source, prices, seconds),
        prices,
        tier=None,
    )
    separate_minutes, separate_cost = describe(
        "Same formats as separate HLS-TS + DASH-ISO groups, same ladder, Professional tier",
        output_charges(separate_packaging(spec), source, prices, seconds),
        prices,
        tier="Professional",
    )
    print(
        f"separate/CMAF: {separate_minutes / cmaf_minutes:.2f}x the normalized minutes, "
        f"{separate_cost / cmaf_cost:.2f}x the cost"
    )
    print()
    by_source_kind(spec, prices, seconds)


def by_source_kind(spec: Mapping[str, Any], prices: Mapping[str, Any], seconds: float) -> None:
    """The default profile's cost per source minute for each kind of 1080p source."""
    print("Default profile by source kind (1080p), per source minute")
    print(
        f"  {'source':<34}{'outputs':>8}{'normalized':>12}{'Professional':>14}"
        f"{'add-ons':>10}{'cost':>10}"
    )
    for name, source in SOURCE_KINDS.items():
        charges = output_charges(spec, source, prices, seconds)
        add_ons = sum(add_on_rate(c, prices) for c in charges)
        professional = sum(c.tier == "Professional" for c in charges)
        print(
            f"  {name:<34}{len(charges):>8}{sum(c.multiplier for c in charges):>12.2f}"
            f"{professional:>14}{'$' + format(add_ons, '.4f'):>10}"
            f"{'$' + format(cost_per_source_minute(charges, prices), '.4f'):>10}"
        )


if __name__ == "__main__":
    main()
