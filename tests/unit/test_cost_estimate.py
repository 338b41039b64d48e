"""The cost estimate: output minutes by tier and class, storage over time, request costs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mediapipe_cfn.mediaconvert.cost import (
    PRICES_PATH,
    SOURCE_PRESETS,
    Estimate,
    cost_per_source_minute,
    estimate,
    load_prices,
    output_charges,
)
from mediapipe_cfn.mediaconvert.ladder import SourceInfo
from mediapipe_cfn.mediaconvert.spec import transcode_spec
from mediapipe_cfn.profile import builtin_profiles, load_profile
from mediapipe_cfn.profile.model import Profile

UPLOADS = 5000
MINUTES = 10.0


def profile_of(**overrides: Any) -> Profile:
    return Profile.model_validate(overrides)


def run(profile: Profile, source: str = "1080p", **kwargs: Any) -> Estimate:
    return estimate(profile, uploads_per_day=UPLOADS, avg_minutes=MINUTES, source=source, **kwargs)


def lines(result: Estimate) -> dict[tuple[str, str], int]:
    return {
        (line.tier, line.resolution_class): line.outputs_per_asset for line in result.mediaconvert
    }


def normalized_per_minute(profile: Profile, source: str = "1080p") -> float:
    return run(profile, source).normalized_minutes_per_source_minute


# --- the price file ------------------------------------------------------------------------------


def test_price_file_names_its_source_date_and_assumptions() -> None:
    prices = json.loads(PRICES_PATH.read_text())
    assert prices["region"] == "us-east-1" and prices["as_of"]
    assert set(prices["source"]) >= {"mediaconvert", "s3", "lambda", "sqs", "dynamodb"}
    assert any("UHD" in key for key in prices["assumptions"])


def test_price_override_merges_over_the_defaults(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"mediaconvert": {"per_normalized_minute": {"Basic": 0.015}}}))
    prices = load_prices(override)
    assert prices["mediaconvert"]["per_normalized_minute"] == {
        "Basic": 0.015,
        "Professional": 0.012,
    }
    assert prices["s3"] == load_prices()["s3"]
    doubled = run(load_profile("default"), prices=prices)
    add_ons = sum(line.cost for line in doubled.mediaconvert if line.tier == "Add-on")
    assert add_ons > 0  # billed per output minute, not at the Basic rate
    assert doubled.mediaconvert_cost - add_ons == pytest.approx(
        2 * (run(load_profile("default")).mediaconvert_cost - add_ons)
    )


def test_price_override_must_be_an_object(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    override.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        load_prices(override)


# --- MediaConvert output minutes ------------------------------------------------------------------


def test_default_profile_bills_each_rendition_once() -> None:
    result = run(load_profile("default"))
    # CMAF: 2 HD + 4 SD renditions + audio; MP4: 1 SD preview; one capture output for
    # thumbnails and poster; loudness normalisation on the two outputs that carry audio.
    assert lines(result) == {
        ("Basic", "HD"): 2,
        ("Basic", "SD"): 5,
        ("Basic", "audio"): 1,
        ("Basic", "frames"): 1,
        ("Add-on", "loudness"): 2,
    }
    assert result.normalized_minutes_per_source_minute == pytest.approx(2 * 2 + 5 + 0.4 + 1)
    monthly_source_minutes = UPLOADS * 30 * MINUTES
    hd = next(line for line in result.mediaconvert if line.resolution_class == "HD")
    assert hd.output_minutes == 2 * monthly_source_minutes
    assert hd.normalized_minutes == 4 * monthly_source_minutes
    assert hd.cost == pytest.approx(4 * monthly_source_minutes * 0.0075)


def test_separate_hls_and_dash_bill_the_ladder_twice() -> None:
    cmaf = profile_of()
    separate = profile_of(formats={"packaging": {"mode": "separate"}})
    ladder_cost = 2 * 2 + 4 * 1  # per source minute, normalized
    assert normalized_per_minute(separate) - normalized_per_minute(cmaf) == pytest.approx(
        ladder_cost
    )


def test_benchmark_comparison_cmaf_versus_separate_at_professional_tier() -> None:
    prices = load_prices()
    source = SOURCE_PRESETS["1080p"]
    spec = transcode_spec(load_profile("default"))
    separate = transcode_spec(profile_of(formats={"packaging": {"mode": "separate"}}))
    cmaf_charges = output_charges(spec, source, prices, 600)
    separate_charges = output_charges(separate, source, prices, 600)
    cmaf_cost = cost_per_source_minute(cmaf_charges, prices)
    separate_cost = cost_per_source_minute(separate_charges, prices, "Professional")
    assert len(separate_charges) - len(cmaf_charges) == 6
    loudness = 0.0012  # per minute of each normalized audio output
    # CMAF: audio rendition + MP4 preview; separate: 6 HLS renditions (muxed audio), the DASH
    # audio and the MP4 preview.
    assert separate_cost / cmaf_cost == pytest.approx(
        (18.4 * 0.012 + 8 * loudness) / (10.4 * 0.0075 + 2 * loudness)
    )


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"video": {"codec": "h265"}}, "Professional: HEVC"),
        ({"video": {"quality_tuning": "multi_pass_hq"}}, "Professional: multi-pass"),
        ({"transcoding": {"automated_abr": {"enabled": True}}}, "Professional: automated ABR"),
        (
            {
                "formats": {"packaging": {"mode": "separate"}},
                "transcoding": {"acceleration": "preferred"},
            },
            "Professional: accelerated job",
        ),
    ],
)
def test_professional_features_move_video_outputs_to_professional(
    overrides: dict[str, Any], reason: str
) -> None:
    charges = output_charges(
        transcode_spec(profile_of(**overrides)), SOURCE_PRESETS["1080p"], load_prices(), 600
    )
    professional = [c for c in charges if c.tier == "Professional"]
    assert professional and all(reason in c.reasons for c in professional)
    assert all(c.kind == "video" for c in professional)


def test_basic_profile_has_no_professional_output() -> None:
    assert {tier for tier, _ in lines(run(load_profile("default")))} == {"Basic", "Add-on"}


def test_acceleration_is_job_wide_but_only_for_jobs_that_can_be_accelerated() -> None:
    spec = transcode_spec(
        profile_of(
            formats={"packaging": {"mode": "separate"}}, transcoding={"acceleration": "enabled"}
        )
    )
    charges = output_charges(spec, SOURCE_PRESETS["1080p"], load_prices(), 600)
    tiers = {(c.job, c.tier) for c in charges}
    # HLS (all video) runs accelerated; DASH has an audio-only output and MP4 carries the
    # thumbnails, so both run at standard speed on the Basic tier.
    assert tiers == {("hls", "Professional"), ("dash", "Basic"), ("mp4", "Basic")}


def test_hevc_and_multi_pass_raise_the_multiplier() -> None:
    base = normalized_per_minute(profile_of())
    assert normalized_per_minute(profile_of(video={"codec": "h265"})) > base
    assert normalized_per_minute(profile_of(video={"quality_tuning": "multi_pass_hq"})) > base


def test_resolution_classes_follow_the_source() -> None:
    assert lines(run(profile_of(), "720p")) == {
        ("Basic", "HD"): 1,
        ("Basic", "SD"): 5,
        ("Basic", "audio"): 1,
        ("Basic", "frames"): 1,
        ("Add-on", "loudness"): 2,
    }
    uhd_ladder = [
        {
            "name": "2160p",
            "width": 3840,
            "height": 2160,
            "max_bitrate_kbps": 16800,
            "qvbr_level": 9,
        },
        {"name": "1440p", "width": 2560, "height": 1440, "max_bitrate_kbps": 8100, "qvbr_level": 9},
        {"name": "1080p", "width": 1920, "height": 1080, "max_bitrate_kbps": 4700, "qvbr_level": 8},
    ]
    hevc = profile_of(video={"codec": "h265", "ladder": uhd_ladder})
    assert lines(run(hevc, "2160p"))[("Professional", "UHD")] == 2
    assert ("Professional", "UHD") not in lines(run(hevc, "1080p"))


def test_portrait_source_bills_like_its_landscape_twin() -> None:
    assert normalized_per_minute(profile_of(), "portrait-1080p") == normalized_per_minute(
        profile_of()
    )


def test_audio_only_source_bills_only_the_audio_rendition() -> None:
    assert lines(run(profile_of(), "audio")) == {
        ("Basic", "audio"): 1,
        ("Add-on", "loudness"): 1,
    }


def test_fewer_renditions_cost_less() -> None:
    assert (
        run(load_profile("lean")).mediaconvert_cost < run(load_profile("default")).mediaconvert_cost
    )


# --- storage over time ---------------------------------------------------------------------------


def test_storage_grows_and_moves_to_cheaper_classes_after_transitions() -> None:
    result = run(load_profile("default"))  # outputs: IA at 30 days, Glacier IR at 120 days
    months = result.storage
    assert len(months) == 12
    assert set(months[0].outputs_gb) == {"STANDARD"}
    assert "STANDARD_IA" in months[1].outputs_gb and "GLACIER_IR" in months[4].outputs_gb
    # Cost per stored GB drops once objects leave Standard.
    per_gb = [
        m.storage_cost / (sum(m.outputs_gb.values()) + sum(m.uploads_gb.values())) for m in months
    ]
    assert per_gb[11] < per_gb[3] < per_gb[0]
    assert months[1].transition_cost > 0


def test_small_objects_stay_in_standard() -> None:
    # 96 kb/s audio in 6 s segments is 72 KB a segment, under the 128 KB transition floor;
    # 640x360 thumbnails (about 23 KB each) and playlists are smaller still.
    def standard_after_a_year(floor_kb: int) -> float:
        profile = profile_of(
            audio={"bitrate_kbps": 96},
            retention={"outputs": {"min_transition_size_kb": floor_kb}},
        )
        return run(profile).storage[11].outputs_gb["STANDARD"]

    small_bytes_per_asset = 96_000 * 600 / 8 + 60 * 640 * 360 * 0.1 + 9 * 2048
    # In month 12 (days 330-359) the cohorts older than the 30-day transition average 315.5.
    kept_back = UPLOADS * 315.5 * small_bytes_per_asset / 1024**3
    extra = standard_after_a_year(128) - standard_after_a_year(0)
    assert extra == pytest.approx(kept_back, rel=0.01)


def test_no_transitions_means_everything_stays_in_standard() -> None:
    profile = profile_of(retention={"outputs": {"transitions": []}, "uploads": {"transitions": []}})
    month = run(profile).storage[11]
    assert set(month.outputs_gb) == set(month.uploads_gb) == {"STANDARD"}
    assert month.transition_cost == 0


def test_expiration_caps_storage() -> None:
    profile = profile_of(
        retention={
            "outputs": {"transitions": [], "expiration_days": 60},
            "uploads": {"transitions": []},
        }
    )
    months = run(profile).storage
    assert sum(months[11].outputs_gb.values()) == pytest.approx(sum(months[3].outputs_gb.values()))


def test_intelligent_tiering_moves_through_its_own_tiers_and_bills_monitoring() -> None:
    months = run(load_profile("lean")).storage  # outputs go to Intelligent-Tiering at day 0
    assert "INTELLIGENT_TIERING_ARCHIVE_INSTANT" in months[5].outputs_gb
    assert months[5].monitoring_cost > 0


# --- request-driven services and the report ------------------------------------------------------


def test_request_costs_cover_the_serverless_services() -> None:
    services = {line.service for line in run(load_profile("prod")).requests}
    assert services >= {"Lambda", "SQS", "DynamoDB", "EventBridge"}


def test_request_costs_scale_with_uploads() -> None:
    small = estimate(load_profile("prod"), uploads_per_day=1000, avg_minutes=MINUTES)
    large = estimate(load_profile("prod"), uploads_per_day=5000, avg_minutes=MINUTES)
    dynamodb = [
        (s.cost, b.cost)
        for s, b in zip(small.requests, large.requests, strict=True)
        if s.service == "DynamoDB" and "write" in s.item
    ]
    assert dynamodb[0][1] == pytest.approx(5 * dynamodb[0][0])


def test_to_dict_is_json_and_deterministic() -> None:
    first = json.dumps(run(load_profile("prod")).to_dict(), sort_keys=True)
    assert first == json.dumps(run(load_profile("prod")).to_dict(), sort_keys=True)
    data = json.loads(first)
    assert data["estimate"] is True
    assert data["workload"]["jobsPerAsset"] == ["cmaf", "mp4"]
    assert data["mediaconvert"]["monthlyCost"] > 0 and len(data["storage"]) == 12


def test_table_says_plainly_it_is_an_estimate() -> None:
    table = run(load_profile("prod")).format_table()
    assert table.startswith("ESTIMATE (not a quote)")
    assert "Assumptions" in table and "us-east-1" in table and "Normalized output minutes" in table


@pytest.mark.parametrize("name", sorted(builtin_profiles()))
def test_every_builtin_profile_can_be_estimated(name: str) -> None:
    result = run(load_profile(name))
    assert result.mediaconvert_cost > 0 and result.month_total(12) > result.month_total(1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"uploads_per_day": -1, "avg_minutes": 1.0}, "uploads_per_day"),
        ({"uploads_per_day": 1, "avg_minutes": 0.0}, "avg_minutes"),
        ({"uploads_per_day": 1, "avg_minutes": 1.0, "source": "8k"}, "unknown source '8k'"),
    ],
)
def test_bad_inputs_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        estimate(load_profile("default"), **kwargs)


# --- CloudFront delivery ---------------------------------------------------------------------


def cloudfront_lines(result: Estimate) -> dict[str, Any]:
    return {line.unit: line for line in result.requests if line.service == "CloudFront"}


def test_without_delivery_nothing_is_billed_for_cloudfront() -> None:
    result = run(load_profile("default"))
    assert cloudfront_lines(result) == {}
    assert "cloudfront" not in result.prices_source
    assert not any(key.startswith("cloudfront.") for key in result.assumptions)


def test_delivery_bills_viewing_under_the_stated_assumption() -> None:
    prices = load_prices()
    viewing = prices["cloudfront"]["viewing"]
    profile = profile_of(delivery={"enabled": True})
    result = run(profile)
    lines_by_unit = cloudfront_lines(result)
    views = UPLOADS * 30 * viewing["views_per_asset_per_month"]
    watched = MINUTES * 60 * viewing["watched_fraction"]
    # Top rung 6,000 kb/s at the QVBR average (0.6) plus 128 kb/s of audio.
    gigabytes = views * (6000 * 0.6 + 128) * 1000 * watched / 8 / 1024**3
    assert lines_by_unit["GB"].quantity == pytest.approx(gigabytes)
    segments = watched / profile.video.segment_seconds
    assert lines_by_unit["requests"].quantity == pytest.approx(views * (segments * 2 + 3))
    assert lines_by_unit["requests"].cost == pytest.approx(views * (segments * 2 + 3) / 1e4 * 0.01)
    assert result.prices_source["cloudfront"].startswith("https://aws.amazon.com/cloudfront/")
    assert "cloudfront.viewing.watched_fraction" in result.assumptions
    assert "CloudFront" in result.format_table()


def test_more_views_cost_more_and_the_override_file_sets_them(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"cloudfront": {"viewing": {"views_per_asset_per_month": 40}}}))
    profile = profile_of(delivery={"enabled": True})
    base, doubled = run(profile), run(profile, prices=load_prices(override))
    assert cloudfront_lines(doubled)["GB"].quantity == pytest.approx(
        2 * cloudfront_lines(base)["GB"].quantity
    )
    assert doubled.requests_cost > base.requests_cost


def test_data_transfer_is_priced_in_volume_bands() -> None:
    from mediapipe_cfn.mediaconvert.cost import banded_cost

    bands = load_prices()["cloudfront"]["data_transfer_out_bands"]
    assert banded_cost(0, bands) == 0
    assert banded_cost(10240, bands) == pytest.approx(10240 * 0.085)
    assert banded_cost(20000, bands) == pytest.approx(10240 * 0.085 + 9760 * 0.08)
    huge = 6_000_000
    expected = (
        10240 * 0.085 + 40960 * 0.08 + 102400 * 0.06 + 358400 * 0.04 + 536576 * 0.03
        + 4194304 * 0.025 + (huge - 5242880) * 0.02
    )  # fmt: skip
    assert banded_cost(huge, bands) == pytest.approx(expected)


# --- quality features -----------------------------------------------------------------------------


def test_one_capture_output_and_loudness_cost_less_than_before_for_sdr_progressive() -> None:
    """The default profile per 1080p SDR progressive source minute: 10.4 normalized minutes at
    the Basic rate plus loudness normalisation on two audio-carrying outputs, against 11.4 when
    the poster was a second capture output and audio was not normalized."""
    prices = load_prices()
    charges = output_charges(
        transcode_spec(load_profile("default")), SOURCE_PRESETS["1080p"], prices, 600
    )
    now = cost_per_source_minute(charges, prices)
    assert now == pytest.approx(10.4 * 0.0075 + 2 * 0.0012)
    assert now < 11.4 * 0.0075


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (SourceInfo(1920, 1080, frame_rate=30.0, hdr="HDR10"), "Professional: HDR tone mapping"),
        (SourceInfo(1920, 1080, frame_rate=25.0, interlaced=True), "Professional: deinterlacer"),
    ],
)
def test_tone_mapping_and_deinterlacing_are_priced_as_professional(
    source: SourceInfo, reason: str
) -> None:
    charges = output_charges(transcode_spec(load_profile("default")), source, load_prices(), 600)
    pictures = [c for c in charges if c.kind in ("video", "frames")]
    assert pictures and all(c.tier == "Professional" and reason in c.reasons for c in pictures)
    assert all(c.tier == "Basic" for c in charges if c.kind == "audio")
    # docs/transcoding.md: 10 normalized minutes at the Professional rate, the audio rendition
    # at the Basic rate, loudness on two outputs.
    assert cost_per_source_minute(charges, load_prices()) == pytest.approx(
        10 * 0.012 + 0.4 * 0.0075 + 2 * 0.0012
    )


def test_trick_play_is_priced_as_one_more_capture_output() -> None:
    prices = load_prices()
    plain = output_charges(transcode_spec(profile_of()), SOURCE_PRESETS["1080p"], prices, 600)
    with_trick_play = output_charges(
        transcode_spec(profile_of(quality={"trick_play": True})),
        SOURCE_PRESETS["1080p"],
        prices,
        600,
    )
    (extra,) = [c for c in with_trick_play if c.name == "(trick play)"]
    assert len(with_trick_play) == len(plain) + 1
    assert extra.multiplier == prices["quality"]["trick_play_multiplier"]
    assert extra.images == 100  # one tile image per 6 s segment of a 600 s source
    assert cost_per_source_minute(with_trick_play, prices) > cost_per_source_minute(plain, prices)


def test_loudness_off_removes_the_add_on() -> None:
    result = run(profile_of(quality={"loudness": {"enabled": False}}))
    assert not any(line.tier == "Add-on" for line in result.mediaconvert)
    assert "quality.add_on_per_output_minute.loudness" in result.assumptions
