"""What a profile will cost a month: MediaConvert, S3 over a year, and the request-driven rest.

This is an ESTIMATE from list prices (``prices.json``: one region, on-demand, with its source and
date) and from workload assumptions that are labelled as such in the same file. It is built from
the very job settings the pipeline submits (:mod:`.settings`), so it counts what MediaConvert
bills: every output of every output group, per minute of output.

* MediaConvert: each output's normalized minutes = source minutes x its multiplier (resolution
  class, HEVC, multi-pass, frame rate); priced at the Basic or Professional rate. An output is
  Professional when it uses HEVC, multi-pass or automated ABR, or when its job is accelerated
  (acceleration is job-wide). One CMAF group bills the ladder once for HLS and DASH; separate
  HLS and DASH groups bill it twice.
* S3: a year of daily uploads, each object moving through the profile's lifecycle rules
  (objects under ``min_transition_size_kb`` stay in Standard), storage by class, transition
  requests and Intelligent-Tiering monitoring.
* Requests: Lambda (requests, GB-seconds), SQS, DynamoDB on-demand (every write also rewrites
  both GSIs, which sort on ``updatedAt``), EventBridge custom events, CloudWatch Logs and
  metrics, S3 PUTs of the outputs.
"""

from __future__ import annotations

import copy
import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mediapipe_cfn import contract
from mediapipe_cfn.mediaconvert.ladder import SourceInfo, output_size, select_renditions
from mediapipe_cfn.mediaconvert.settings import (
    acceleration_mode,
    build_job_settings,
    output_formats,
    plan_jobs,
)
from mediapipe_cfn.mediaconvert.spec import transcode_spec
from mediapipe_cfn.profile.model import Profile, Transition

__all__ = [
    "PRICES_PATH",
    "SOURCE_PRESETS",
    "CostLine",
    "Estimate",
    "MediaConvertLine",
    "OutputCharge",
    "StorageMonth",
    "add_on_rate",
    "cost_per_source_minute",
    "estimate",
    "load_prices",
    "output_charges",
]

PRICES_PATH = Path(__file__).with_name("prices.json")
BASIC, PROFESSIONAL = "Basic", "Professional"
# Sources the estimate can assume (`--source`); frame rates of 30 fps.
SOURCE_PRESETS: Mapping[str, SourceInfo] = {
    "2160p": SourceInfo(3840, 2160, frame_rate=30.0),
    "1440p": SourceInfo(2560, 1440, frame_rate=30.0),
    "1080p": SourceInfo(1920, 1080, frame_rate=30.0),
    "portrait-1080p": SourceInfo(1080, 1920, frame_rate=30.0),
    "720p": SourceInfo(1280, 720, frame_rate=30.0),
    "480p": SourceInfo(854, 480, frame_rate=30.0),
    "audio": SourceInfo(None, None, has_video=False),
}
_SEGMENTED_GROUPS = frozenset(
    {"CMAF_GROUP_SETTINGS", "HLS_GROUP_SETTINGS", "DASH_ISO_GROUP_SETTINGS"}
)
_MANIFEST_BYTES = 2048
_GSI_COUNT = 2  # ByStatus and ByUploader, both sorted by updatedAt
# Events a job always sends besides STATUS_UPDATE: INPUT_INFORMATION, PROGRESSING, COMPLETE.
_FIXED_EVENTS_PER_JOB = 3
_BYTES_PER_GB = 1024**3


# ------------------------------------------------------------------------------------------
# Prices
# ------------------------------------------------------------------------------------------


def load_prices(path: str | Path | None = None) -> dict[str, Any]:
    """The bundled price table, with the JSON file at ``path`` (if any) merged over it.

    An override file only needs the figures it changes, e.g.
    ``{"mediaconvert": {"per_normalized_minute": {"Basic": 0.0068}}}``.
    """
    prices: dict[str, Any] = json.loads(PRICES_PATH.read_text(encoding="utf-8"))
    if path is not None:
        override = json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=_no_constant)
        if not isinstance(override, dict):
            raise ValueError(f"{path}: a price file must hold a JSON object")
        _check_override(prices, override, "")
        prices = _merged(prices, override)
    return prices


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a price; use a finite number")


def _check_override(base: Mapping[str, Any], override: Mapping[str, Any], where: str) -> None:
    """An override's figures are finite, non-negative numbers where the table has numbers."""
    for key, value in override.items():
        path = f"{where}.{key}" if where else str(key)
        known = base.get(key)
        if isinstance(known, Mapping):
            if not isinstance(value, Mapping):
                raise ValueError(f"{path}: expected an object, got {json.dumps(value)}")
            _check_override(known, value, path)
        elif _is_number(known) and not (_is_number(value) and math.isfinite(value) and value >= 0):
            raise ValueError(f"{path}: expected a finite number >= 0, got {json.dumps(value)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = _merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


# ------------------------------------------------------------------------------------------
# Outputs and what each costs
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputCharge:
    """One output of one job, as MediaConvert bills it and as S3 stores it."""

    job: str
    group: str  # output group type, e.g. CMAF_GROUP_SETTINGS
    name: str  # name modifier
    kind: str  # "video", "audio" or "frames"
    resolution_class: str  # SD, HD, UHD, audio or frames
    tier: str  # Basic or Professional
    multiplier: float  # normalized minutes per source minute
    reasons: tuple[str, ...] = ()  # why Professional / why the multiplier
    average_bitrate_bps: float = 0.0
    segment_seconds: int | None = None  # None: one file per output
    images: int = 0  # frame captures per source (frames outputs)
    image_bytes: float = 0.0
    add_ons: tuple[str, ...] = ()  # features billed per output minute on top (prices "quality")


def output_charges(
    spec: Mapping[str, Any],
    source: SourceInfo | None,
    prices: Mapping[str, Any],
    duration_seconds: float,
) -> list[OutputCharge]:
    """Every output of every job the spec plans for ``source``, priced by its multiplier."""
    charges: list[OutputCharge] = []
    for job in plan_jobs(spec, source):
        settings = build_job_settings(
            spec,
            job,
            input_uri="s3://estimate/source.mp4",
            destination="s3://estimate/outputs/",
            source=source,
            kms_key_arn=None,
        )
        accelerated = _is_accelerated(spec, settings)
        for group in settings["OutputGroups"]:
            charges += _group_charges(
                spec, source, prices, job, group, accelerated, duration_seconds
            )
    return charges


def _is_accelerated(spec: Mapping[str, Any], settings: Mapping[str, Any]) -> bool:
    # PREFERRED runs accelerated only when every output can be; ENABLED always is.
    mode = acceleration_mode(spec, settings)
    if mode == "DISABLED":
        return False
    outputs = [o for g in settings["OutputGroups"] for o in g["Outputs"]]
    return all(_video_codec(o) in ("H_264", "H_265") for o in outputs)


def _video_codec(output: Mapping[str, Any]) -> str | None:
    return output.get("VideoDescription", {}).get("CodecSettings", {}).get("Codec")


def _group_charges(
    spec: Mapping[str, Any],
    source: SourceInfo | None,
    prices: Mapping[str, Any],
    job: str,
    group: Mapping[str, Any],
    accelerated: bool,
    duration_seconds: float,
) -> list[OutputCharge]:
    group_type = group["OutputGroupSettings"]["Type"]
    segment = int(spec["video"]["segmentSeconds"]) if group_type in _SEGMENTED_GROUPS else None
    automated = bool(group.get("AutomatedEncodingSettings"))
    charges: list[OutputCharge] = []
    for output in group["Outputs"]:
        base = {"job": job, "group": group_type, "name": output.get("NameModifier", "")}
        codec = _video_codec(output)
        if codec == "FRAME_CAPTURE":
            charges.append(_frames_charge(base, output, prices, accelerated, duration_seconds))
        elif codec is None and not output.get("AudioDescriptions"):
            continue  # a captions-only output: the estimate's sources carry no captions
        elif codec is None:
            charges.append(_audio_charge(base, output, prices, accelerated, segment))
        elif automated:
            charges += _automated_abr_charges(base, spec, source, prices, segment, accelerated)
        else:
            charges.append(
                _video_charge(base, output, source, prices, segment, accelerated, automated)
            )
    charges += _trick_play_charges(spec, prices, job, group, duration_seconds)
    return charges


def _trick_play_charges(
    spec: Mapping[str, Any],
    prices: Mapping[str, Any],
    job: str,
    group: Mapping[str, Any],
    duration_seconds: float,
) -> list[OutputCharge]:
    """Image-based trick play: assumed to bill like one more frame-capture output, writing one
    tile image per segment (see prices.json, key "quality")."""
    settings = next(
        (v for v in group["OutputGroupSettings"].values() if isinstance(v, Mapping)), {}
    )
    if settings.get("ImageBasedTrickPlay", "NONE") == "NONE":
        return []
    multiplier = float(prices["quality"]["trick_play_multiplier"])
    thumbnails = spec["formats"]["thumbnails"]
    segment = int(spec["video"]["segmentSeconds"])
    pixels = int(thumbnails["width"]) * int(thumbnails["height"])
    return [
        OutputCharge(
            job=job,
            group=str(group["OutputGroupSettings"]["Type"]),
            name="(trick play)",
            kind="frames",
            resolution_class="frames",
            tier=BASIC,
            multiplier=multiplier,
            reasons=(f"image-based trick play x{multiplier:g} (assumed)",),
            images=math.ceil(duration_seconds / segment),
            image_bytes=pixels * float(prices["workload"]["jpeg_bytes_per_pixel"]),
        )
    ]


def _preprocessor_reasons(video: Mapping[str, Any]) -> list[str]:
    """Professional-tier picture features an output uses (assumed: see prices.json)."""
    preprocessors = video.get("VideoPreprocessors") or {}
    return [
        reason
        for reason, key in (
            ("Professional: HDR tone mapping", "ColorCorrector"),
            ("Professional: deinterlacer", "Deinterlacer"),
        )
        if key in preprocessors
    ]


def _audio_add_ons(output: Mapping[str, Any]) -> tuple[str, ...]:
    normalized = any(
        "AudioNormalizationSettings" in d for d in output.get("AudioDescriptions") or []
    )
    return ("loudness",) if normalized else ()


def _resolution_class(width: int, height: int) -> str:
    short = min(width, height)
    return "SD" if short < 720 else "HD" if short <= 1080 else "UHD"


def _video_multiplier(
    prices: Mapping[str, Any],
    width: int,
    height: int,
    codec: str,
    multi_pass: bool,
    source: SourceInfo | None,
) -> tuple[float, list[str]]:
    rates = prices["mediaconvert"]
    resolution = _resolution_class(width, height)
    multiplier = float(rates["resolution_multiplier"][resolution])
    reasons = [f"{resolution} x{multiplier:g}"]
    if codec == "H_265":
        multiplier *= float(rates["hevc_multiplier"])
        reasons.append(f"HEVC x{rates['hevc_multiplier']:g}")
    if multi_pass:
        multiplier *= float(rates["multi_pass_multiplier"])
        reasons.append(f"multi-pass x{rates['multi_pass_multiplier']:g}")
    if source is not None and (source.frame_rate or 0) > 30:
        multiplier *= float(rates["high_frame_rate_multiplier"])
        reasons.append(f">30 fps x{rates['high_frame_rate_multiplier']:g}")
    return multiplier, reasons


def _tier(professional_reasons: Sequence[str]) -> str:
    return PROFESSIONAL if professional_reasons else BASIC


def _video_charge(
    base: Mapping[str, str],
    output: Mapping[str, Any],
    source: SourceInfo | None,
    prices: Mapping[str, Any],
    segment: int | None,
    accelerated: bool,
    automated: bool,
) -> OutputCharge:
    video = output["VideoDescription"]
    codec = video["CodecSettings"]["Codec"]
    codec_settings = video["CodecSettings"]["H264Settings" if codec == "H_264" else "H265Settings"]
    multi_pass = codec_settings.get("QualityTuningLevel") == "MULTI_PASS_HQ"
    width, height = int(video["Width"]), int(video["Height"])
    multiplier, reasons = _video_multiplier(prices, width, height, codec, multi_pass, source)
    professional = _professional_reasons(codec, multi_pass, automated, accelerated)
    professional += _preprocessor_reasons(video)
    ratio = float(prices["workload"]["qvbr_average_to_max_bitrate"])
    bitrate = codec_settings["MaxBitrate"] * ratio + _muxed_audio_bps(output)
    return OutputCharge(
        **base,
        kind="video",
        resolution_class=_resolution_class(width, height),
        tier=_tier(professional),
        multiplier=multiplier,
        reasons=tuple(reasons + professional),
        average_bitrate_bps=bitrate,
        segment_seconds=segment,
        add_ons=_audio_add_ons(output),
    )


def _professional_reasons(
    codec: str, multi_pass: bool, automated: bool, accelerated: bool
) -> list[str]:
    return [
        reason
        for reason, applies in (
            ("Professional: HEVC", codec == "H_265"),
            ("Professional: multi-pass", multi_pass),
            ("Professional: automated ABR", automated),
            ("Professional: accelerated job", accelerated),
        )
        if applies
    ]


def _muxed_audio_bps(output: Mapping[str, Any]) -> float:
    return float(
        sum(
            d["CodecSettings"]["AacSettings"]["Bitrate"]
            for d in output.get("AudioDescriptions", [])
        )
    )


def _automated_abr_charges(
    base: Mapping[str, str],
    spec: Mapping[str, Any],
    source: SourceInfo | None,
    prices: Mapping[str, Any],
    segment: int | None,
    accelerated: bool,
) -> list[OutputCharge]:
    """Automated ABR decides its renditions per title; assume MaxRenditions of them, sized like
    the source-trimmed ladder (extra ones at the lowest rung), bitrates spread evenly between
    the ABR minimum and maximum average bitrates."""
    abr = spec["transcoding"]["automatedAbr"]
    count = int(abr["maxRenditions"])
    rungs = select_renditions(spec["video"]["ladder"], source)
    sizes = [output_size(r["width"], r["height"], source) for r in rungs]
    sizes += [sizes[-1]] * max(0, count - len(sizes))
    high, low = float(abr["maxBitrateKbps"]) * 1000, float(abr["minBitrateKbps"]) * 1000
    codec = "H_265" if spec["video"]["codec"] == "h265" else "H_264"
    charges = []
    for index, (width, height) in enumerate(sizes[:count]):
        multiplier, reasons = _video_multiplier(prices, width, height, codec, True, source)
        professional = _professional_reasons(codec, True, True, accelerated)
        bitrate = high - (high - low) * index / max(1, count - 1)
        charges.append(
            OutputCharge(
                **{**base, "name": f"{base['name']}#{index + 1}"},
                kind="video",
                resolution_class=_resolution_class(width, height),
                tier=PROFESSIONAL,
                multiplier=multiplier,
                reasons=(*reasons, *professional, "assumed automated ABR rendition"),
                average_bitrate_bps=bitrate,
                segment_seconds=segment,
            )
        )
    return charges


def _audio_charge(
    base: Mapping[str, str],
    output: Mapping[str, Any],
    prices: Mapping[str, Any],
    accelerated: bool,
    segment: int | None,
) -> OutputCharge:
    multiplier = float(prices["mediaconvert"]["audio_only_multiplier"])
    return OutputCharge(
        **base,
        kind="audio",
        resolution_class="audio",
        tier=PROFESSIONAL if accelerated else BASIC,
        multiplier=multiplier,
        reasons=(f"audio-only x{multiplier:g}",),
        average_bitrate_bps=_muxed_audio_bps(output),
        segment_seconds=segment,
        add_ons=_audio_add_ons(output),
    )


def _frames_charge(
    base: Mapping[str, str],
    output: Mapping[str, Any],
    prices: Mapping[str, Any],
    accelerated: bool,
    duration_seconds: float,
) -> OutputCharge:
    video = output["VideoDescription"]
    capture = video["CodecSettings"]["FrameCaptureSettings"]
    interval = capture["FramerateDenominator"] / capture["FramerateNumerator"]
    images = min(int(capture["MaxCaptures"]), math.floor(duration_seconds / interval) + 1)
    multiplier = float(prices["mediaconvert"]["frame_capture_multiplier"])
    pixels = int(video["Width"]) * int(video["Height"])
    professional = _preprocessor_reasons(video)
    return OutputCharge(
        **base,
        kind="frames",
        resolution_class="frames",
        tier=PROFESSIONAL if accelerated or professional else BASIC,
        multiplier=multiplier,
        reasons=(f"frame capture x{multiplier:g}", *professional),
        images=images,
        image_bytes=pixels * float(prices["workload"]["jpeg_bytes_per_pixel"]),
    )


def cost_per_source_minute(
    charges: Sequence[OutputCharge], prices: Mapping[str, Any], tier: str | None = None
) -> float:
    """MediaConvert cost of one source minute; ``tier`` prices every output at that tier.

    Add-on features (loudness normalisation) are billed per output minute on top."""
    rates = prices["mediaconvert"]["per_normalized_minute"]
    return sum(
        c.multiplier * float(rates[tier or c.tier]) + add_on_rate(c, prices) for c in charges
    )


def add_on_rate(charge: OutputCharge, prices: Mapping[str, Any]) -> float:
    """What the charge's add-on features cost per minute of output."""
    rates = prices["quality"]["add_on_per_output_minute"]
    return sum(float(rates[name]) for name in charge.add_ons)


# ------------------------------------------------------------------------------------------
# The estimate
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaConvertLine:
    tier: str
    resolution_class: str
    outputs_per_asset: int
    output_minutes: float  # per month
    normalized_minutes: float  # per month
    cost: float  # per month


@dataclass(frozen=True)
class StorageMonth:
    month: int
    outputs_gb: Mapping[str, float]  # average GB stored during the month, by storage class
    uploads_gb: Mapping[str, float]
    storage_cost: float
    transition_cost: float
    monitoring_cost: float

    @property
    def total(self) -> float:
        return self.storage_cost + self.transition_cost + self.monitoring_cost


@dataclass(frozen=True)
class CostLine:
    service: str
    item: str
    quantity: float  # per month
    unit: str
    cost: float  # per month


@dataclass(frozen=True)
class Estimate:
    """A month of running the profile's pipeline, and a year of its storage (estimated)."""

    profile: str
    region: str
    currency: str
    prices_as_of: str
    prices_source: Mapping[str, str]
    uploads_per_day: int
    avg_minutes: float
    source: str
    days_per_month: int
    jobs: tuple[str, ...]
    normalized_minutes_per_source_minute: float
    mediaconvert: tuple[MediaConvertLine, ...]
    storage: tuple[StorageMonth, ...]
    requests: tuple[CostLine, ...]
    assumptions: Mapping[str, str] = field(default_factory=dict)

    @property
    def mediaconvert_cost(self) -> float:
        return sum(line.cost for line in self.mediaconvert)

    @property
    def requests_cost(self) -> float:
        return sum(line.cost for line in self.requests)

    def month_total(self, month: int) -> float:
        """Everything in month ``month`` (1-based): transcoding, storage so far, requests."""
        return self.mediaconvert_cost + self.storage[month - 1].total + self.requests_cost

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, rounded to 1/10,000 of a cent (deterministic output)."""
        return {
            "estimate": True,
            "profile": self.profile,
            "region": self.region,
            "currency": self.currency,
            "pricesAsOf": self.prices_as_of,
            "pricesSource": dict(self.prices_source),
            "workload": {
                "uploadsPerDay": self.uploads_per_day,
                "avgMinutes": self.avg_minutes,
                "source": self.source,
                "daysPerMonth": self.days_per_month,
                "jobsPerAsset": list(self.jobs),
            },
            "mediaconvert": {
                "normalizedMinutesPerSourceMinute": _round(
                    self.normalized_minutes_per_source_minute
                ),
                "lines": [
                    {
                        "tier": line.tier,
                        "resolutionClass": line.resolution_class,
                        "outputsPerAsset": line.outputs_per_asset,
                        "outputMinutes": _round(line.output_minutes),
                        "normalizedMinutes": _round(line.normalized_minutes),
                        "cost": _round(line.cost),
                    }
                    for line in self.mediaconvert
                ],
                "monthlyCost": _round(self.mediaconvert_cost),
            },
            "storage": [
                {
                    "month": month.month,
                    "outputsGb": {k: _round(v) for k, v in sorted(month.outputs_gb.items())},
                    "uploadsGb": {k: _round(v) for k, v in sorted(month.uploads_gb.items())},
                    "storageCost": _round(month.storage_cost),
                    "transitionCost": _round(month.transition_cost),
                    "monitoringCost": _round(month.monitoring_cost),
                    "total": _round(month.total),
                }
                for month in self.storage
            ],
            "requests": [
                {
                    "service": line.service,
                    "item": line.item,
                    "quantity": _round(line.quantity),
                    "unit": line.unit,
                    "cost": _round(line.cost),
                }
                for line in self.requests
            ],
            "monthlyRequestCost": _round(self.requests_cost),
            "totals": {
                "firstMonth": _round(self.month_total(1)),
                "lastMonth": _round(self.month_total(len(self.storage))),
            },
            "assumptions": dict(sorted(self.assumptions.items())),
        }

    def format_table(self) -> str:
        """A plain-text report that says plainly it is an estimate."""
        return "\n".join(_report_lines(self)) + "\n"


def _round(value: float) -> float:
    return round(value, 6)


def estimate(
    profile: Profile,
    *,
    uploads_per_day: int,
    avg_minutes: float,
    source: str = "1080p",
    prices: Mapping[str, Any] | None = None,
) -> Estimate:
    """Estimate a month of ``profile`` at ``uploads_per_day`` uploads of ``avg_minutes``."""
    if uploads_per_day < 0 or avg_minutes <= 0:
        raise ValueError("uploads_per_day must be >= 0 and avg_minutes > 0")
    if source not in SOURCE_PRESETS:
        raise ValueError(f"unknown source {source!r}; choose one of: {', '.join(SOURCE_PRESETS)}")
    prices = prices if prices is not None else load_prices()
    workload = prices["workload"]
    spec = transcode_spec(profile)
    source_info = SOURCE_PRESETS[source]
    duration = avg_minutes * 60
    charges = output_charges(spec, source_info, prices, duration)
    jobs = tuple(plan_jobs(spec, source_info))
    days = int(workload["days_per_month"])
    assets_per_month = uploads_per_day * days
    return Estimate(
        profile=profile.name,
        region=str(prices["region"]),
        currency=str(prices["currency"]),
        prices_as_of=str(prices["as_of"]),
        prices_source=dict(prices["source"]) | _delivery_sources(profile, prices),
        uploads_per_day=uploads_per_day,
        avg_minutes=avg_minutes,
        source=source,
        days_per_month=days,
        jobs=jobs,
        normalized_minutes_per_source_minute=sum(c.multiplier for c in charges),
        mediaconvert=tuple(_mediaconvert_lines(charges, prices, assets_per_month * avg_minutes)),
        storage=tuple(_storage_months(profile, charges, prices, uploads_per_day, duration, source)),
        requests=tuple(
            _request_lines(profile, spec, charges, prices, assets_per_month, len(jobs), duration)
        ),
        assumptions=dict(prices.get("assumptions", {}))
        | prices.get("quality", {}).get("assumptions", {})
        | _delivery_assumptions(profile, prices),
    )


def _mediaconvert_lines(
    charges: Sequence[OutputCharge], prices: Mapping[str, Any], source_minutes: float
) -> list[MediaConvertLine]:
    rates = prices["mediaconvert"]["per_normalized_minute"]
    grouped: dict[tuple[str, str], list[OutputCharge]] = defaultdict(list)
    for charge in charges:
        grouped[(charge.tier, charge.resolution_class)].append(charge)
    order = {"UHD": 0, "HD": 1, "SD": 2, "audio": 3, "frames": 4}
    lines = []
    for (tier, resolution), members in sorted(
        grouped.items(), key=lambda item: (item[0][0], order.get(item[0][1], 9))
    ):
        normalized = sum(c.multiplier for c in members) * source_minutes
        lines.append(
            MediaConvertLine(
                tier=tier,
                resolution_class=resolution,
                outputs_per_asset=len(members),
                output_minutes=len(members) * source_minutes,
                normalized_minutes=normalized,
                cost=normalized * float(rates[tier]),
            )
        )
    return lines + _add_on_lines(charges, prices, source_minutes)


def _add_on_lines(
    charges: Sequence[OutputCharge], prices: Mapping[str, Any], source_minutes: float
) -> list[MediaConvertLine]:
    """One line per add-on feature: billed per output minute, not normalized."""
    rates = prices["quality"]["add_on_per_output_minute"]
    lines = []
    for name in sorted({name for c in charges for name in c.add_ons}):
        outputs = sum(name in c.add_ons for c in charges)
        lines.append(
            MediaConvertLine(
                tier="Add-on",
                resolution_class=name,
                outputs_per_asset=outputs,
                output_minutes=outputs * source_minutes,
                normalized_minutes=0.0,
                cost=outputs * source_minutes * float(rates[name]),
            )
        )
    return lines


# --- S3 over time ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _StoredKind:
    """Objects of one kind written per asset (e.g. 6 s segments of the 720p rendition)."""

    objects: int
    object_bytes: float
    transitions: bool  # large enough for the lifecycle rules to move it


@dataclass(frozen=True)
class _Span:
    start_day: int
    end_day: int | None  # None: kept forever
    storage_class: str


def _output_objects(
    charges: Sequence[OutputCharge], duration_seconds: float, min_transition_bytes: float
) -> list[_StoredKind]:
    kinds: list[_StoredKind] = []
    segmented_groups: set[tuple[str, str]] = set()
    for charge in charges:
        if charge.kind == "frames":
            count, size = charge.images, charge.image_bytes
        elif charge.segment_seconds:
            count = math.ceil(duration_seconds / charge.segment_seconds)
            size = charge.average_bitrate_bps * charge.segment_seconds / 8
            segmented_groups.add((charge.job, charge.group))
            kinds.append(_StoredKind(1, _MANIFEST_BYTES, False))  # the rendition's playlist
        else:
            count, size = 1, charge.average_bitrate_bps * duration_seconds / 8
        kinds.append(_StoredKind(count, size, size > min_transition_bytes))
    # Multivariant playlist and/or MPD of each segmented group.
    kinds += [_StoredKind(2, _MANIFEST_BYTES, False) for _ in sorted(segmented_groups)]
    return kinds


def _schedule(
    transitions: Sequence[Transition], expiration_days: int | None, workload: Mapping[str, Any]
) -> list[_Span]:
    """Which storage class an object is in at each age (days), under the lifecycle rules."""
    steps = [(0, "STANDARD")] + [(t.days, t.storage_class) for t in transitions]
    spans: list[_Span] = []
    for index, (start, storage_class) in enumerate(steps):
        end = steps[index + 1][0] if index + 1 < len(steps) else expiration_days
        if end is not None and end <= start:
            continue
        if storage_class == "INTELLIGENT_TIERING":
            spans += _intelligent_tiering_spans(start, end, workload)
        else:
            spans.append(_Span(start, end, storage_class))
    return spans


def _intelligent_tiering_spans(
    start: int, end: int | None, workload: Mapping[str, Any]
) -> list[_Span]:
    """Intelligent-Tiering's own tiers, for an object nobody reads after its first month."""
    boundaries = [
        start,
        start + int(workload["intelligent_tiering_days_to_infrequent"]),
        start + int(workload["intelligent_tiering_days_to_archive_instant"]),
    ]
    names = [
        "INTELLIGENT_TIERING",
        "INTELLIGENT_TIERING_INFREQUENT",
        "INTELLIGENT_TIERING_ARCHIVE_INSTANT",
    ]
    spans = []
    for index, name in enumerate(names):
        low = boundaries[index]
        high = boundaries[index + 1] if index + 1 < len(boundaries) else None
        if end is not None:
            if low >= end:
                break
            high = end if high is None else min(high, end)
        spans.append(_Span(low, high, name))
    return spans


def _ages_in_span(day: int, span: _Span) -> int:
    """How many daily cohorts (ages 0..day) sit in ``span`` on ``day``."""
    upper = day + 1 if span.end_day is None else min(span.end_day, day + 1)
    return max(0, upper - span.start_day)


@dataclass(frozen=True)
class _Stored:
    """What one bucket receives per asset, and where its objects live as they age."""

    kinds: list[_StoredKind]
    moving: list[_Span]  # objects the lifecycle rules transition
    staying: list[_Span]  # objects too small to transition: Standard until they expire


def _storage_months(
    profile: Profile,
    charges: Sequence[OutputCharge],
    prices: Mapping[str, Any],
    uploads_per_day: int,
    duration_seconds: float,
    source: str,
) -> list[StorageMonth]:
    workload = prices["workload"]
    outputs_rules, uploads_rules = profile.retention.outputs, profile.retention.uploads
    source_bytes = float(workload["source_bitrate_mbps"][source]) * 1e6 * duration_seconds / 8
    stored = {
        "outputs": _Stored(
            _output_objects(charges, duration_seconds, outputs_rules.min_transition_size_kb * 1024),
            _schedule(outputs_rules.transitions, outputs_rules.expiration_days, workload),
            _schedule([], outputs_rules.expiration_days, workload),
        ),
        "uploads": _Stored(
            [_StoredKind(1, source_bytes, True)],
            _schedule(uploads_rules.transitions, uploads_rules.expiration_days, workload),
            _schedule([], uploads_rules.expiration_days, workload),
        ),
    }
    return [
        _storage_month(month, stored, prices, uploads_per_day)
        for month in range(1, int(workload["months"]) + 1)
    ]


def _storage_month(
    month: int, stored: Mapping[str, _Stored], prices: Mapping[str, Any], uploads_per_day: int
) -> StorageMonth:
    """Average GB by class during ``month``, plus its transitions and monitoring."""
    s3 = prices["s3"]
    days_per_month = int(prices["workload"]["days_per_month"])
    days = range((month - 1) * days_per_month, month * days_per_month)
    gigabytes: dict[str, dict[str, float]] = {}
    transitioned: dict[str, float] = defaultdict(float)  # objects moved, by target class
    monitored_object_months = 0.0
    for bucket, contents in stored.items():
        by_class: dict[str, float] = defaultdict(float)
        for kind in contents.kinds:
            for span in contents.moving if kind.transitions else contents.staying:
                # Daily cohorts in this span, summed over the month's days: cohort-days.
                cohort_days = sum(_ages_in_span(day, span) for day in days)
                objects = uploads_per_day * kind.objects
                by_class[span.storage_class] += (
                    objects * kind.object_bytes * cohort_days / days_per_month / _BYTES_PER_GB
                )
                if span.storage_class.startswith("INTELLIGENT_TIERING"):
                    monitored_object_months += objects * cohort_days / days_per_month
                if kind.transitions:
                    # One cohort reaches the span's first day on each day from then on.
                    transitioned[span.storage_class] += objects * sum(
                        1 for day in days if day >= span.start_day
                    )
        gigabytes[bucket] = {k: v for k, v in sorted(by_class.items()) if v > 0}
    return StorageMonth(
        month=month,
        outputs_gb=gigabytes["outputs"],
        uploads_gb=gigabytes["uploads"],
        storage_cost=sum(
            size * float(s3["storage_per_gb_month"][storage_class])
            for classes in gigabytes.values()
            for storage_class, size in classes.items()
        ),
        transition_cost=sum(
            count / 1000 * float(s3["transition_per_1000"][storage_class])
            for storage_class, count in transitioned.items()
            if storage_class in s3["transition_per_1000"]
        ),
        monitoring_cost=monitored_object_months
        / 1000
        * float(s3["intelligent_tiering_monitoring_per_1000_objects"]),
    )


# --- request-driven services ----------------------------------------------------------------


@dataclass(frozen=True)
class _Volumes:
    """A month's counts that drive the request-priced services."""

    assets: int
    jobs: int
    job_events: int  # MediaConvert job-state events, each one status-processor invocation
    output_objects: int  # objects MediaConvert writes (segments, playlists, files, images)

    @property
    def invocations(self) -> int:
        return self.assets + self.job_events


def _request_lines(
    profile: Profile,
    spec: Mapping[str, Any],
    charges: Sequence[OutputCharge],
    prices: Mapping[str, Any],
    assets: int,
    jobs_per_asset: int,
    duration_seconds: float,
) -> list[CostLine]:
    workload = prices["workload"]
    interval = int(spec["transcoding"]["statusUpdateIntervalSeconds"])
    job_seconds = duration_seconds * float(workload["transcode_seconds_per_source_second"])
    events_per_job = _FIXED_EVENTS_PER_JOB + math.ceil(job_seconds / interval)
    objects_per_asset = sum(
        kind.objects for kind in _output_objects(charges, duration_seconds, math.inf)
    )
    volumes = _Volumes(
        assets=assets,
        jobs=assets * jobs_per_asset,
        job_events=assets * jobs_per_asset * events_per_job,
        output_objects=assets * objects_per_asset,
    )
    return [
        *_lambda_lines(profile, prices, volumes),
        *_queue_and_table_lines(prices, volumes),
        *_event_and_log_lines(spec, prices, volumes),
        _s3_put_line(prices, volumes),
        *_delivery_lines(profile, prices, assets, duration_seconds),
    ]


def _lambda_lines(profile: Profile, prices: Mapping[str, Any], v: _Volumes) -> list[CostLine]:
    workload, lam, functions = prices["workload"], prices["lambda"], profile.functions
    gb_second = float(lam["gb_second"][functions.architecture])
    orchestrator = (
        v.assets * float(workload["orchestrator_seconds_per_upload"])
        * functions.orchestrator.memory_mb / 1024
    )  # fmt: skip
    status = (
        v.job_events * float(workload["status_processor_seconds_per_event"])
        * functions.status_processor.memory_mb / 1024
    )  # fmt: skip
    requests = v.invocations / 1e6 * float(lam["request_per_million"])
    return [
        CostLine("Lambda", "requests", v.invocations, "invocations", requests),
        CostLine("Lambda", "ingest-orchestrator compute", orchestrator, "GB-seconds",
                 orchestrator * gb_second),
        CostLine("Lambda", "job-status-processor compute", status, "GB-seconds",
                 status * gb_second),
    ]  # fmt: skip


def _queue_and_table_lines(prices: Mapping[str, Any], v: _Volumes) -> list[CostLine]:
    workload, ddb = prices["workload"], prices["dynamodb"]
    # Per upload: EventBridge sends, the poller receives, the orchestrator deletes.
    sqs_requests = v.assets * 3 + float(workload["sqs_idle_polling_requests_per_month"])
    # Create the record and record its jobs, then one conditional update per job event;
    # each write also rewrites both GSIs.
    writes = v.assets * 2 + v.job_events
    write_units = writes * math.ceil(float(workload["item_size_kb"])) * (1 + _GSI_COUNT)
    read_units = v.jobs  # one consistent read when a job reaches a final state
    return [
        CostLine("SQS", "requests (send, receive, delete, idle polling)", sqs_requests,
                 "requests", sqs_requests / 1e6 * float(prices["sqs"]["request_per_million"])),
        CostLine("DynamoDB", "write request units (table + 2 GSIs)", write_units, "WRU",
                 write_units / 1e6 * float(ddb["write_request_unit_per_million"])),
        CostLine("DynamoDB", "read request units", read_units, "RRU",
                 read_units / 1e6 * float(ddb["read_request_unit_per_million"])),
    ]  # fmt: skip


def _event_and_log_lines(
    spec: Mapping[str, Any], prices: Mapping[str, Any], v: _Volumes
) -> list[CostLine]:
    workload, events, cw = prices["workload"], prices["eventbridge"], prices["cloudwatch"]
    service_events = v.assets + v.job_events  # S3 Object Created + MediaConvert job states
    log_gb = (
        v.invocations * float(workload["log_bytes_per_invocation"])
        + v.job_events * float(workload["job_event_bytes"])
    ) / _BYTES_PER_GB
    # EMF metrics: each with the Pipeline dimension, some also per format.
    metrics = len(contract.Metric) + len(contract.PER_FORMAT_METRICS) * len(output_formats(spec))
    return [
        CostLine("EventBridge", "S3 and MediaConvert events (AWS service events)",
                 service_events, "events",
                 service_events / 1e6 * float(events["aws_service_event_per_million"])),
        CostLine("EventBridge", "asset processed/failed events", v.assets, "events",
                 v.assets / 1e6 * float(events["custom_event_per_million"])),
        CostLine("CloudWatch", "logs ingested (functions + job events)", log_gb, "GB",
                 log_gb * float(cw["logs_ingestion_per_gb"])),
        CostLine("CloudWatch", "custom metrics (EMF)", metrics, "metrics",
                 metrics * float(cw["custom_metric_per_month"])),
    ]  # fmt: skip


def _s3_put_line(prices: Mapping[str, Any], v: _Volumes) -> CostLine:
    puts = v.output_objects + v.assets  # every output object, plus the upload itself
    return CostLine("S3", "PUT requests (outputs and uploads)", puts, "requests",
                    puts / 1000 * float(prices["s3"]["put_per_1000"]))  # fmt: skip


# --- CloudFront delivery (only with delivery.enabled) ----------------------------------------


def viewed_kbps(profile: Profile) -> tuple[int, int]:
    """Average bitrate a viewer receives: the top streaming rendition (or the first MP4 when
    HLS and DASH are off) at its QVBR average, plus the audio."""
    packaging = profile.formats.packaging
    if packaging.hls.enabled or packaging.dash.enabled:
        abr = profile.transcoding.automated_abr
        top = abr.max_bitrate_kbps if abr.enabled else profile.video.ladder[0].max_bitrate_kbps
    else:
        top = profile.formats.mp4.previews[0].max_bitrate_kbps
    return top, profile.audio.bitrate_kbps


def _delivery_lines(
    profile: Profile, prices: Mapping[str, Any], assets: int, duration_seconds: float
) -> list[CostLine]:
    if not profile.delivery.enabled:
        return []
    cloudfront = prices["cloudfront"]
    viewing = cloudfront["viewing"]
    views = assets * float(viewing["views_per_asset_per_month"])
    watched_seconds = duration_seconds * float(viewing["watched_fraction"])
    video_kbps, audio_kbps = viewed_kbps(profile)
    average_ratio = float(prices["workload"]["qvbr_average_to_max_bitrate"])
    bits = (video_kbps * average_ratio + audio_kbps) * 1000 * watched_seconds
    gigabytes = views * bits / 8 / _BYTES_PER_GB
    segments = math.ceil(watched_seconds / profile.video.segment_seconds)
    requests = views * (
        segments * float(viewing["requests_per_segment"])
        + float(viewing["manifest_requests_per_view"])
    )
    return [
        CostLine("CloudFront", "data transfer out to viewers (US/Europe bands)", gigabytes, "GB",
                 banded_cost(gigabytes, cloudfront["data_transfer_out_bands"])),
        CostLine("CloudFront", "HTTPS requests (segments and manifests)", requests, "requests",
                 requests / 10_000 * float(cloudfront["https_requests_per_10000"])),
    ]  # fmt: skip


def banded_cost(quantity: float, bands: Sequence[Mapping[str, Any]]) -> float:
    """Cost of ``quantity`` under volume bands ({up_to_gb, per_gb}; the last up_to_gb null)."""
    cost, floor = 0.0, 0.0
    for band in bands:
        ceiling = math.inf if band["up_to_gb"] is None else float(band["up_to_gb"])
        cost += max(0.0, min(quantity, ceiling) - floor) * float(band["per_gb"])
        floor = ceiling
        if quantity <= ceiling:
            break
    return cost


def _delivery_sources(profile: Profile, prices: Mapping[str, Any]) -> dict[str, str]:
    if not profile.delivery.enabled:
        return {}
    return {"cloudfront": str(prices["cloudfront"]["source"])}


def _delivery_assumptions(profile: Profile, prices: Mapping[str, Any]) -> dict[str, str]:
    if not profile.delivery.enabled:
        return {}
    assumed = prices["cloudfront"].get("assumptions", {})
    return {f"cloudfront.{key}": str(text) for key, text in assumed.items()}


# --- the report -----------------------------------------------------------------------------


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:,.2f}"


def _report_lines(e: Estimate) -> list[str]:
    lines = [
        f"ESTIMATE (not a quote) of monthly AWS costs for profile '{e.profile}'",
        f"List prices: {e.region}, on-demand, {e.currency}, as of {e.prices_as_of}; "
        "no free tier, no volume discounts, no taxes.",
        f"Workload: {e.uploads_per_day:,} uploads/day x {e.avg_minutes:g} min, {e.source} "
        f"source, {e.days_per_month}-day months; jobs per asset: {', '.join(e.jobs)}.",
        "",
        "MediaConvert (per month)",
        f"  {'Tier':<13}{'Class':<8}{'Outputs/asset':>14}{'Output min':>16}"
        f"{'Normalized min':>17}{'Cost':>16}",
    ]
    for line in e.mediaconvert:
        lines.append(
            f"  {line.tier:<13}{line.resolution_class:<8}{line.outputs_per_asset:>14}"
            f"{_number(line.output_minutes):>16}{_number(line.normalized_minutes):>17}"
            f"{_money(line.cost):>16}"
        )
    lines += [
        f"  {'Total':<71}{_money(e.mediaconvert_cost):>13}",
        f"  Normalized output minutes per source minute: "
        f"{e.normalized_minutes_per_source_minute:.2f}",
        "",
        f"S3 storage, month by month under the profile's lifecycle rules "
        f"({len(e.storage)} months of uploads)",
        f"  {'Month':<7}{'Outputs GB':>12}{'Uploads GB':>12}{'Storage':>13}"
        f"{'Transitions':>13}{'Monitoring':>12}{'Total':>13}  Outputs by class",
    ]
    for month in e.storage:
        classes = ", ".join(f"{k} {_number(v)}" for k, v in month.outputs_gb.items())
        lines.append(
            f"  {month.month:<7}{_number(sum(month.outputs_gb.values())):>12}"
            f"{_number(sum(month.uploads_gb.values())):>12}{_money(month.storage_cost):>13}"
            f"{_money(month.transition_cost):>13}{_money(month.monitoring_cost):>12}"
            f"{_money(month.total):>13}  {classes}"
        )
    lines += [
        "",
        "Request-driven services (per month)",
        f"  {'Service':<13}{'Item':<50}{'Quantity':>24}{'Cost':>13}",
    ]
    for line in e.requests:
        quantity = f"{_number(line.quantity)} {line.unit}"
        lines.append(f"  {line.service:<13}{line.item:<50}{quantity:>24}{_money(line.cost):>13}")
    lines += [
        f"  {'Total':<87}{_money(e.requests_cost):>13}",
        "",
        f"Estimated total: month 1 {_money(e.month_total(1))}, month {len(e.storage)} "
        f"{_money(e.month_total(len(e.storage)))} (storage grows as assets accumulate).",
        "",
        "Assumptions (override with --prices FILE):",
    ]
    lines += [f"  - {key}: {text}" for key, text in sorted(e.assumptions.items())]
    return lines
