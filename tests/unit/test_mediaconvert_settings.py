"""The one MediaConvert settings builder: jobs, groups, outputs and CreateJob requests."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from mediapipe_cfn import contract
from mediapipe_cfn.mediaconvert import settings as builder
from mediapipe_cfn.mediaconvert.ladder import SourceInfo, UnusableSourceError
from mediapipe_cfn.mediaconvert.semantic import REPRESENTATIVE_SOURCES, check_create_job_request
from mediapipe_cfn.mediaconvert.spec import transcode_spec
from mediapipe_cfn.mediaconvert.validator import (
    validate_create_job_request,
    validate_job_template_settings,
)
from mediapipe_cfn.profile import builtin_profiles, load_profile
from mediapipe_cfn.profile.model import Profile

KMS = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
DESTINATION = "s3://outputs-bucket/alice/asset-1/"
INPUT = "s3://uploads-bucket/uploads/alice/holiday video.mov"
REQUEST_IDS = {
    "asset_id": "asset-1",
    "input_uri": INPUT,
    "destination": DESTINATION,
    "role_arn": "arn:aws:iam::123456789012:role/pipeline-mediaconvert",
    "queue_arn": "arn:aws:mediaconvert:eu-west-1:123456789012:queues/pipeline",
    "pipeline_id": "mediapipe-prod",
    "kms_key_arn": KMS,
}
LANDSCAPE = SourceInfo(1920, 1080, duration_seconds=600.0)
AUDIO_ONLY = SourceInfo(None, None, has_video=False, duration_seconds=120.0)


def spec_of(**overrides: Any) -> dict[str, Any]:
    return transcode_spec(Profile.model_validate(overrides))


def settings_for(spec: dict[str, Any], job: str, source: SourceInfo | None) -> dict[str, Any]:
    return builder.build_job_settings(
        spec, job, input_uri=INPUT, destination=DESTINATION, source=source, kms_key_arn=KMS
    )


def request_for(
    spec: dict[str, Any], job: str, source: SourceInfo | None, attempt: int = 1
) -> dict[str, Any]:
    return builder.build_create_job_request(
        spec, job_format=job, source=source, attempt=attempt, **REQUEST_IDS
    )


def group(settings: dict[str, Any], group_type: str) -> dict[str, Any]:
    matches = [
        g for g in settings["OutputGroups"] if g["OutputGroupSettings"]["Type"] == group_type
    ]
    assert len(matches) == 1, [g["OutputGroupSettings"]["Type"] for g in settings["OutputGroups"]]
    return matches[0]


def group_settings(g: dict[str, Any]) -> dict[str, Any]:
    kind = g["OutputGroupSettings"]["Type"]
    key = {
        "CMAF_GROUP_SETTINGS": "CmafGroupSettings",
        "HLS_GROUP_SETTINGS": "HlsGroupSettings",
        "DASH_ISO_GROUP_SETTINGS": "DashIsoGroupSettings",
        "FILE_GROUP_SETTINGS": "FileGroupSettings",
    }[kind]
    return g["OutputGroupSettings"][key]


def codec_settings(output: dict[str, Any]) -> dict[str, Any]:
    codec = output["VideoDescription"]["CodecSettings"]
    return codec[{"H_264": "H264Settings", "H_265": "H265Settings"}[codec["Codec"]]]


def video_sizes(g: dict[str, Any]) -> list[tuple[int, int]]:
    return [
        (o["VideoDescription"]["Width"], o["VideoDescription"]["Height"])
        for o in g["Outputs"]
        if "VideoDescription" in o
    ]


# --- which jobs ------------------------------------------------------------------------------

JOB_TABLE = [
    ({}, {"cmaf": ["cmaf"], "mp4": ["mp4", "thumbnails"]}),
    (
        {"formats": {"packaging": {"mode": "separate"}}},
        {"hls": ["hls"], "dash": ["dash"], "mp4": ["mp4", "thumbnails"]},
    ),
    (
        {"formats": {"packaging": {"mode": "separate", "dash": {"enabled": False}}}},
        {"hls": ["hls"], "mp4": ["mp4", "thumbnails"]},
    ),
    ({"formats": {"mp4": {"enabled": False}}}, {"cmaf": ["cmaf", "thumbnails"]}),
    ({"formats": {"thumbnails": {"enabled": False}}}, {"cmaf": ["cmaf"], "mp4": ["mp4"]}),
    (
        {"formats": {"packaging": {"hls": {"enabled": False}, "dash": {"enabled": False}}}},
        {"mp4": ["mp4", "thumbnails"]},
    ),
    ({"transcoding": {"job_grouping": "per_asset"}}, {"all": ["cmaf", "mp4", "thumbnails"]}),
]


@pytest.mark.parametrize(("profile", "expected"), JOB_TABLE)
def test_job_groups(profile: dict[str, Any], expected: dict[str, list[str]]) -> None:
    spec = spec_of(**profile)
    assert builder.job_groups(spec) == expected
    assert builder.job_formats(spec) == list(expected)
    assert set(builder.job_formats(spec)) <= {f.value for f in contract.Format}


def test_thumbnails_never_make_a_job_of_their_own() -> None:
    # MediaConvert refuses a job whose only outputs are frame captures.
    for profile, _ in JOB_TABLE:
        assert "thumbnails" not in builder.job_formats(spec_of(**profile))


PLAN_TABLE = [
    ({}, LANDSCAPE, ["cmaf", "mp4"]),
    ({}, None, ["cmaf", "mp4"]),
    ({}, AUDIO_ONLY, ["cmaf"]),
    ({"formats": {"packaging": {"mode": "separate"}}}, AUDIO_ONLY, ["hls", "dash"]),
    ({"transcoding": {"job_grouping": "per_asset"}}, AUDIO_ONLY, ["all"]),
    ({}, SourceInfo(1280, 720, has_audio=False), ["cmaf", "mp4"]),
]


@pytest.mark.parametrize(("profile", "source", "expected"), PLAN_TABLE)
def test_plan_jobs_for_a_source(
    profile: dict[str, Any], source: SourceInfo | None, expected: list[str]
) -> None:
    assert builder.plan_jobs(spec_of(**profile), source) == expected


UNUSABLE = [
    (
        {},
        SourceInfo(
            None, None, has_video=False, has_audio=False, problems=("video track 1: no frame size",)
        ),
        "no usable video or audio track (video track 1: no frame size)",
    ),
    ({}, SourceInfo(1920, 1080, duration_seconds=0.0), "duration of 0 seconds"),
    (
        {"formats": {"packaging": {"hls": {"enabled": False}, "dash": {"enabled": False}}}},
        AUDIO_ONLY,
        "only produces video outputs (MP4 previews, thumbnails)",
    ),
]


@pytest.mark.parametrize(("profile", "source", "reason"), UNUSABLE)
def test_plan_jobs_rejects_unusable_sources_with_the_reason(
    profile: dict[str, Any], source: SourceInfo, reason: str
) -> None:
    with pytest.raises(UnusableSourceError, match=re.escape(reason)):
        builder.plan_jobs(spec_of(**profile), source)


def test_building_a_video_only_job_for_an_audio_only_source_is_refused() -> None:
    with pytest.raises(UnusableSourceError, match="nothing to make the mp4 job's outputs"):
        settings_for(spec_of(), "mp4", AUDIO_ONLY)


def test_unknown_job_and_spec_version_are_refused() -> None:
    with pytest.raises(ValueError, match="'hls' is not a job of this spec"):
        settings_for(spec_of(), "hls", None)
    with pytest.raises(ValueError, match="spec version 2 is not supported"):
        builder.job_formats({**spec_of(), "version": 2})


# --- the default CMAF job -----------------------------------------------------------------------


def test_one_cmaf_group_writes_both_manifests_over_one_ladder() -> None:
    settings = settings_for(spec_of(), "cmaf", LANDSCAPE)
    assert len(settings["OutputGroups"]) == 1
    cmaf = group(settings, "CMAF_GROUP_SETTINGS")
    options = group_settings(cmaf)
    assert options["WriteHlsManifest"] == options["WriteDashManifest"] == "ENABLED"
    assert options["SegmentControl"] == "SEGMENTED_FILES"
    assert (options["SegmentLength"], options["FragmentLength"]) == (6, 2)
    modifiers = [o["NameModifier"] for o in cmaf["Outputs"]]
    assert modifiers == ["_1080p", "_720p", "_540p", "_432p", "_360p", "_234p", "_audio"]


def test_cmaf_audio_is_its_own_rendition_and_video_outputs_carry_no_audio() -> None:
    cmaf = group(settings_for(spec_of(), "cmaf", LANDSCAPE), "CMAF_GROUP_SETTINGS")
    *videos, audio = cmaf["Outputs"]
    assert all("AudioDescriptions" not in o for o in videos)
    assert "VideoDescription" not in audio
    aac = audio["AudioDescriptions"][0]["CodecSettings"]["AacSettings"]
    assert (aac["Bitrate"], aac["SampleRate"], aac["CodingMode"]) == (
        128_000,
        48_000,
        "CODING_MODE_2_0",
    )


def test_video_is_qvbr_single_pass_hq_with_a_closed_aligned_gop() -> None:
    cmaf = group(settings_for(spec_of(), "cmaf", LANDSCAPE), "CMAF_GROUP_SETTINGS")
    top = cmaf["Outputs"][0]
    assert top["VideoDescription"]["CodecSettings"]["Codec"] == "H_264"
    h264 = codec_settings(top)
    assert h264["RateControlMode"] == "QVBR"
    assert h264["QualityTuningLevel"] == "SINGLE_PASS_HQ"
    assert (h264["QvbrSettings"]["QvbrQualityLevel"], h264["MaxBitrate"]) == (9, 6_000_000)
    assert (h264["GopSize"], h264["GopSizeUnits"], h264["GopClosedCadence"]) == (2.0, "SECONDS", 1)
    assert h264["MinIInterval"] == 0  # cadence keyframes never moved for scene changes


def test_without_a_source_the_full_ladder_is_scaled_fit_no_upscale() -> None:
    cmaf = group(settings_for(spec_of(), "cmaf", None), "CMAF_GROUP_SETTINGS")
    videos = [o["VideoDescription"] for o in cmaf["Outputs"] if "VideoDescription" in o]
    assert {v["ScalingBehavior"] for v in videos} == {"FIT_NO_UPSCALE"}
    assert video_sizes(cmaf)[0] == (1920, 1080) and len(videos) == 6


def test_a_known_source_gets_its_aspect_ratio_and_no_rendition_above_it() -> None:
    portrait = group(settings_for(spec_of(), "cmaf", SourceInfo(720, 1280)), "CMAF_GROUP_SETTINGS")
    assert video_sizes(portrait) == [(720, 1280), (540, 960), (432, 768), (360, 640), (234, 416)]
    assert {o["VideoDescription"]["ScalingBehavior"] for o in portrait["Outputs"][:-1]} == {
        "STRETCH_TO_OUTPUT"
    }


def test_rungs_capped_to_the_same_small_source_are_encoded_once() -> None:
    spec = spec_of(
        video={
            "ladder": [
                {
                    "name": "hi",
                    "width": 1280,
                    "height": 720,
                    "max_bitrate_kbps": 3000,
                    "qvbr_level": 8,
                },
                {
                    "name": "mid",
                    "width": 1248,
                    "height": 702,
                    "max_bitrate_kbps": 2800,
                    "qvbr_level": 8,
                },
                {
                    "name": "lo",
                    "width": 640,
                    "height": 360,
                    "max_bitrate_kbps": 700,
                    "qvbr_level": 7,
                },
            ]
        }
    )
    cmaf = group(settings_for(spec, "cmaf", SourceInfo(1248, 700)), "CMAF_GROUP_SETTINGS")
    assert [o["NameModifier"] for o in cmaf["Outputs"]] == ["_hi", "_lo", "_audio"]


def test_video_only_source_gets_no_audio_outputs() -> None:
    source = SourceInfo(1280, 720, has_audio=False)
    settings = settings_for(spec_of(), "cmaf", source)
    assert "AudioSelectors" not in settings["Inputs"][0]
    assert all(
        "AudioDescriptions" not in o for o in group(settings, "CMAF_GROUP_SETTINGS")["Outputs"]
    )


def test_audio_only_source_gets_an_audio_only_variant() -> None:
    settings = settings_for(spec_of(), "cmaf", AUDIO_ONLY)
    assert "VideoSelector" not in settings["Inputs"][0]
    (audio,) = group(settings, "CMAF_GROUP_SETTINGS")["Outputs"]
    assert (
        audio["ContainerSettings"]["CmfcSettings"]["AudioTrackType"] == "AUDIO_ONLY_VARIANT_STREAM"
    )


def test_input_rotates_automatically_and_starts_timecodes_at_zero() -> None:
    settings = settings_for(spec_of(), "cmaf", LANDSCAPE)
    (source_input,) = settings["Inputs"]
    assert source_input["FileInput"] == INPUT
    assert source_input["VideoSelector"] == {"Rotate": "AUTO"}
    assert source_input["TimecodeSource"] == settings["TimecodeConfig"]["Source"] == "ZEROBASED"


# --- layout and encryption ------------------------------------------------------------------


def test_output_layout_is_predictable_per_format() -> None:
    spec = spec_of(transcoding={"job_grouping": "per_asset"})
    settings = settings_for(spec, "all", LANDSCAPE)
    destinations = [group_settings(g)["Destination"] for g in settings["OutputGroups"]]
    assert destinations == [
        f"{DESTINATION}cmaf/master",
        f"{DESTINATION}mp4/video",
        f"{DESTINATION}thumbnails/image",
    ]


def test_every_group_writes_with_sse_kms_on_the_stack_key() -> None:
    spec = spec_of(
        formats={"packaging": {"mode": "separate"}}, transcoding={"job_grouping": "per_asset"}
    )
    for g in settings_for(spec, "all", LANDSCAPE)["OutputGroups"]:
        encryption = group_settings(g)["DestinationSettings"]["S3Settings"]["Encryption"]
        assert encryption == {"EncryptionType": "SERVER_SIDE_ENCRYPTION_KMS", "KmsKeyArn": KMS}


@pytest.mark.parametrize(
    "destination", ["s3://bucket/prefix", "https://bucket/prefix/", "s3:///", "bucket/prefix/"]
)
def test_destination_must_be_an_s3_prefix(destination: str) -> None:
    with pytest.raises(ValueError, match="destination must be"):
        builder.build_job_settings(
            spec_of(),
            "cmaf",
            input_uri=INPUT,
            destination=destination,
            source=None,
            kms_key_arn=None,
        )


def test_kms_alias_is_refused_because_mediaconvert_takes_only_key_arns() -> None:
    with pytest.raises(ValueError, match="must be a KMS key ARN"):
        builder.build_job_settings(
            spec_of(),
            "cmaf",
            input_uri=INPUT,
            destination=DESTINATION,
            source=None,
            kms_key_arn="arn:aws:kms:eu-west-1:123456789012:alias/media",
        )


def test_template_settings_have_no_input_destination_or_encryption() -> None:
    settings = builder.job_template_settings(spec_of(), "cmaf")
    assert "FileInput" not in settings["Inputs"][0]
    cmaf = group_settings(settings["OutputGroups"][0])
    assert "Destination" not in cmaf and "DestinationSettings" not in cmaf
    assert validate_job_template_settings(settings) == []


# --- format options ---------------------------------------------------------------------------


def test_separate_packaging_gives_hls_ts_with_muxed_audio_and_dash_iso() -> None:
    spec = spec_of(formats={"packaging": {"mode": "separate"}})
    hls = group(settings_for(spec, "hls", LANDSCAPE), "HLS_GROUP_SETTINGS")
    assert {o["ContainerSettings"]["Container"] for o in hls["Outputs"]} == {"M3U8"}
    assert all(o["AudioDescriptions"] for o in hls["Outputs"])
    dash = group(settings_for(spec, "dash", LANDSCAPE), "DASH_ISO_GROUP_SETTINGS")
    assert {o["ContainerSettings"]["Container"] for o in dash["Outputs"]} == {"MPD"}
    assert [o["NameModifier"] for o in dash["Outputs"]][-1] == "_audio"
    assert group_settings(dash)["FragmentLength"] == 2


def test_only_hls_in_cmaf_disables_the_dash_manifest() -> None:
    spec = spec_of(formats={"packaging": {"dash": {"enabled": False}}})
    options = group_settings(group(settings_for(spec, "cmaf", None), "CMAF_GROUP_SETTINGS"))
    assert (options["WriteHlsManifest"], options["WriteDashManifest"]) == ("ENABLED", "DISABLED")


def test_mp4_previews_are_progressive_download_files_capped_at_the_source() -> None:
    spec = spec_of(
        formats={
            "mp4": {
                "previews": [
                    {"name": "small", "height": 360, "max_bitrate_kbps": 800},
                    {"name": "large", "height": 1080, "max_bitrate_kbps": 5000, "qvbr_level": 8},
                ]
            }
        }
    )
    mp4 = settings_for(spec, "mp4", SourceInfo(1280, 720))["OutputGroups"][0]
    assert mp4["Name"] == "MP4 previews"
    # The 1080 preview is dropped for a 720p source, keeping the 360 one.
    assert [o["NameModifier"] for o in mp4["Outputs"]] == ["_small"]
    output = mp4["Outputs"][0]
    assert output["ContainerSettings"]["Mp4Settings"]["MoovPlacement"] == "PROGRESSIVE_DOWNLOAD"
    assert (output["VideoDescription"]["Width"], output["VideoDescription"]["Height"]) == (640, 360)
    assert output["AudioDescriptions"]


def test_one_frame_capture_output_serves_thumbnails_and_poster() -> None:
    settings = settings_for(spec_of(), "mp4", LANDSCAPE)
    thumbnails = settings["OutputGroups"][1]
    assert group_settings(thumbnails)["Destination"] == f"{DESTINATION}thumbnails/image"
    (thumb,) = thumbnails["Outputs"]  # no second, separately billed poster capture
    capture = thumb["VideoDescription"]["CodecSettings"]
    assert capture["Codec"] == "FRAME_CAPTURE"
    assert capture["FrameCaptureSettings"] == {
        "FramerateNumerator": 1,
        "FramerateDenominator": 10,
        "MaxCaptures": 60,
        "Quality": 80,
    }
    assert thumb["ContainerSettings"] == {"Container": "RAW"}
    assert (thumb["VideoDescription"]["Width"], thumb["VideoDescription"]["Height"]) == (640, 360)
    # 600 s, a capture every 10 s, at most 60: the poster is the one at 30 % (180 s).
    assert builder.poster_path(spec_of(), LANDSCAPE) == "thumbnails/image_thumb.0000018.jpg"


@pytest.mark.parametrize(
    ("duration", "interval", "poster_index"),
    [
        (600.0, 10, 18),  # 30 % of 600 s = 180 s = capture 18
        (12.0, 3, 1),  # shorter than the 10 s interval: captures every 3 s, never frame 0
        (2.5, 1, 1),  # a 2.5 s clip: captures at 0, 1, 2 s; the poster is not frame 0
        (0.6, 1, 0),  # too short for a second capture: the only frame it has
    ],
)
def test_poster_rule_holds_for_short_clips(
    duration: float, interval: int, poster_index: int
) -> None:
    source = SourceInfo(1920, 1080, duration_seconds=duration)
    spec = spec_of()
    assert builder.thumbnail_interval(spec, source) == interval
    thumbs = settings_for(spec, "mp4", source)["OutputGroups"][1]["Outputs"][0]
    rate = thumbs["VideoDescription"]["CodecSettings"]["FrameCaptureSettings"]
    assert rate["FramerateDenominator"] == interval
    assert builder.poster_path(spec, source) == f"thumbnails/image_thumb.{poster_index:07d}.jpg"


def test_poster_position_and_capture_limit_come_from_the_profile() -> None:
    spec = spec_of(
        quality={"poster_position_percent": 90}, formats={"thumbnails": {"max_captures": 5}}
    )
    # 90 % of 600 s is capture 54, but only captures 0-4 exist.
    assert builder.poster_path(spec, LANDSCAPE) == "thumbnails/image_thumb.0000004.jpg"
    # Undescribed source: the second capture (the first is often black).
    assert builder.poster_path(spec, None) == "thumbnails/image_thumb.0000001.jpg"


def test_poster_can_be_turned_off() -> None:
    spec = spec_of(formats={"thumbnails": {"poster": False}})
    settings = settings_for(spec, "mp4", LANDSCAPE)
    assert [o["NameModifier"] for o in settings["OutputGroups"][1]["Outputs"]] == ["_thumb"]
    assert builder.poster_path(spec, LANDSCAPE) is None
    assert builder.poster_path(spec_of(), AUDIO_ONLY) is None


def test_hevc_uses_hvc1_main_profile() -> None:
    cmaf = group(
        settings_for(spec_of(video={"codec": "h265"}), "cmaf", None), "CMAF_GROUP_SETTINGS"
    )
    top = cmaf["Outputs"][0]
    assert top["VideoDescription"]["CodecSettings"]["Codec"] == "H_265"
    h265 = codec_settings(top)
    assert (h265["CodecProfile"], h265["WriteMp4PackagingType"]) == ("MAIN_MAIN", "HVC1")


def test_multi_pass_option() -> None:
    spec = spec_of(video={"quality_tuning": "multi_pass_hq"})
    cmaf = group(settings_for(spec, "cmaf", None), "CMAF_GROUP_SETTINGS")
    assert codec_settings(cmaf["Outputs"][0])["QualityTuningLevel"] == "MULTI_PASS_HQ"


def test_automated_abr_has_one_base_video_output_without_size_or_bitrate() -> None:
    spec = spec_of(transcoding={"automated_abr": {"enabled": True, "max_renditions": 5}})
    cmaf = group(settings_for(spec, "cmaf", LANDSCAPE), "CMAF_GROUP_SETTINGS")
    assert cmaf["AutomatedEncodingSettings"] == {
        "AbrSettings": {"MaxRenditions": 5, "MaxAbrBitrate": 6_000_000, "MinAbrBitrate": 300_000}
    }
    video, audio = cmaf["Outputs"]
    assert "Width" not in video["VideoDescription"]
    assert video["VideoDescription"]["ScalingBehavior"] != "FIT_NO_UPSCALE"
    h264 = codec_settings(video)
    assert "MaxBitrate" not in h264 and h264["QualityTuningLevel"] == "MULTI_PASS_HQ"
    assert audio["NameModifier"] == "_audio"


def test_fragment_length_is_a_whole_number_of_gops_dividing_the_segment() -> None:
    assert builder.fragment_seconds(2.0, 6) == 2
    assert builder.fragment_seconds(1.5, 6) == 3
    assert builder.fragment_seconds(0.5, 4) == 1
    assert builder.fragment_seconds(3.0, 6) == 3
    assert builder.fragment_seconds(2.5, 10) == 5


# --- acceleration -----------------------------------------------------------------------------

ACCELERATION = [
    ("disabled", "cmaf", "DISABLED"),
    ("preferred", "cmaf", "PREFERRED"),
    ("enabled", "cmaf", "PREFERRED"),  # the CMAF audio rendition cannot be accelerated
    ("enabled", "hls", "ENABLED"),  # every TS output carries video
    ("enabled", "mp4", "PREFERRED"),  # thumbnails ride along
]


@pytest.mark.parametrize(("mode", "job", "expected"), ACCELERATION)
def test_acceleration_mode_never_fails_a_job_that_cannot_be_accelerated(
    mode: str, job: str, expected: str
) -> None:
    spec = spec_of(
        formats={"packaging": {"mode": "separate" if job == "hls" else "cmaf"}},
        transcoding={"acceleration": mode},
    )
    assert request_for(spec, job, LANDSCAPE)["AccelerationSettings"] == {"Mode": expected}


def test_audio_only_job_is_never_accelerated() -> None:
    spec = spec_of(transcoding={"acceleration": "enabled"})
    assert request_for(spec, "cmaf", AUDIO_ONLY)["AccelerationSettings"] == {"Mode": "DISABLED"}


# --- the CreateJob request --------------------------------------------------------------------


def test_create_job_request_carries_identity_queue_role_and_profile_options() -> None:
    spec = spec_of(transcoding={"status_update_interval_seconds": 30, "priority": 7})
    request = request_for(spec, "cmaf", LANDSCAPE, attempt=2)
    assert request["Role"] == REQUEST_IDS["role_arn"]
    assert request["Queue"] == REQUEST_IDS["queue_arn"]
    assert request["UserMetadata"] == {
        contract.META_ASSET_ID: "asset-1",
        contract.META_FORMAT: "cmaf",
        contract.META_PIPELINE_ID: "mediapipe-prod",
        contract.META_ATTEMPT: "2",
    }
    assert (request["StatusUpdateInterval"], request["Priority"]) == ("SECONDS_30", 7)
    assert request["BillingTagsSource"] == "QUEUE"
    assert validate_create_job_request(request) == []
    assert check_create_job_request(request) == []


def test_client_request_token_is_deterministic_and_changes_with_the_attempt() -> None:
    spec = spec_of()
    first = request_for(spec, "cmaf", LANDSCAPE)["ClientRequestToken"]
    assert first == request_for(spec, "cmaf", None)["ClientRequestToken"]
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    others = {
        request_for(spec, "cmaf", LANDSCAPE, attempt=2)["ClientRequestToken"],
        request_for(spec, "mp4", LANDSCAPE)["ClientRequestToken"],
        builder.client_request_token("mediapipe-dev", "asset-1", "cmaf", 1),
    }
    assert first not in others and len(others) == 3


def test_attempt_counts_from_one() -> None:
    with pytest.raises(ValueError, match="attempt counts from 1"):
        request_for(spec_of(), "cmaf", None, attempt=0)


def test_the_builder_is_pure_and_deterministic() -> None:
    spec = spec_of()
    before = json.dumps(spec, sort_keys=True)
    one = json.dumps(request_for(spec, "mp4", LANDSCAPE), sort_keys=True)
    two = json.dumps(request_for(spec, "mp4", LANDSCAPE), sort_keys=True)
    assert one == two
    assert json.dumps(spec, sort_keys=True) == before


def test_spec_survives_a_json_round_trip_like_the_ssm_parameter() -> None:
    spec = spec_of(video={"codec": "h265"}, formats={"packaging": {"mode": "separate"}})
    restored = json.loads(json.dumps(spec, separators=(",", ":")))
    assert request_for(restored, "dash", LANDSCAPE) == request_for(spec, "dash", LANDSCAPE)


# --- every built-in profile, every representative source, every job ---------------------------


def builtin_cases() -> Iterator[Any]:
    for name in sorted(builtin_profiles()):
        for source_name in REPRESENTATIVE_SOURCES:
            yield pytest.param(name, source_name, id=f"{name}-{source_name}")


@pytest.mark.parametrize(("profile_name", "source_name"), list(builtin_cases()))
def test_builtin_profile_jobs_pass_the_strict_validator(
    profile_name: str, source_name: str
) -> None:
    spec = transcode_spec(load_profile(profile_name))
    source = REPRESENTATIVE_SOURCES[source_name]
    try:
        jobs = builder.plan_jobs(spec, source)
    except UnusableSourceError:
        assert source is not None and not source.has_video  # refused only for audio-only
        return
    assert jobs
    for job in jobs:
        request = request_for(spec, job, source)
        assert [str(f) for f in validate_create_job_request(request)] == [], job


@pytest.mark.parametrize("profile_name", sorted(builtin_profiles()))
def test_builtin_profile_job_templates_pass_the_strict_validator(profile_name: str) -> None:
    spec = transcode_spec(load_profile(profile_name))
    for job in builder.job_formats(spec):
        findings = validate_job_template_settings(builder.job_template_settings(spec, job))
        assert [str(f) for f in findings] == [], job
