"""Output quality decided from the Probe result: colour, deinterlacing, audio and captions.

Every fixture under tests/events/mediaconvert/ is a Probe answer that botocore's model accepts;
each test reads one, builds the jobs the default (or an extended premium) profile submits for it,
asserts the choice made for that kind of source, and validates every request strictly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mediapipe_cfn.mediaconvert import settings as builder
from mediapipe_cfn.mediaconvert.ladder import SourceInfo
from mediapipe_cfn.mediaconvert.semantic import check_create_job_request, check_settings
from mediapipe_cfn.mediaconvert.spec import transcode_spec
from mediapipe_cfn.mediaconvert.validator import validate_create_job_request
from mediapipe_cfn.profile import load_profile
from mediapipe_cfn.profile.model import Profile

EVENTS = Path(__file__).resolve().parents[1] / "events" / "mediaconvert"
REQUEST_IDS = {
    "asset_id": "asset-1",
    "input_uri": "s3://uploads-bucket/sources/asset-1/source.mov",
    "destination": "s3://outputs-bucket/alice/asset-1/",
    "role_arn": "arn:aws:iam::123456789012:role/pipeline-mediaconvert",
    "queue_arn": "arn:aws:mediaconvert:eu-west-1:123456789012:queues/pipeline",
    "pipeline_id": "mediapipe-prod",
    "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
}
SIDECAR = builder.CaptionFile("s3://uploads-bucket/uploads/alice/clip.vtt", "vtt", "eng")
DEFAULT = transcode_spec(load_profile("default"))


def premium_with(**quality: Any) -> dict[str, Any]:
    profile = load_profile("premium").model_dump()
    profile["quality"] = quality
    return transcode_spec(Profile.model_validate(profile))


def probe(name: str) -> SourceInfo:
    answer = json.loads((EVENTS / f"probe_{name}.json").read_text())
    return SourceInfo.from_probe(answer["ProbeResults"][0])


def requests(
    spec: dict[str, Any], source: SourceInfo, sidecar: builder.CaptionFile | None = None
) -> dict[str, dict[str, Any]]:
    """Every CreateJob request of the asset, each checked strictly and semantically."""
    built = {}
    for job in builder.plan_jobs(spec, source):
        request = builder.build_create_job_request(
            spec, job_format=job, source=source, sidecar=sidecar, **REQUEST_IDS
        )
        assert validate_create_job_request(request) == []
        assert check_create_job_request(request) == []
        built[job] = request
    return built


def video_outputs(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for _, _, output in builder.iter_outputs(request["Settings"]):
        if "VideoDescription" in output:
            yield output


def audio_descriptions(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for _, _, output in builder.iter_outputs(request["Settings"]):
        yield from output.get("AudioDescriptions") or []


NEW_FIXTURES = [
    "hdr10_pq_2160p",
    "hlg_1080p",
    "dolby_vision_84_phone",
    "interlaced_1080i_ts",
    "surround_51_1080p",
    "608_captions_720p",
]


@pytest.mark.parametrize("name", sorted(p.stem for p in EVENTS.glob("probe_*.json")))
def test_every_probe_fixture_is_an_answer_the_service_model_accepts(name: str) -> None:
    client = boto3.client("mediaconvert", region_name="us-east-1")
    answer = json.loads((EVENTS / f"{name}.json").read_text())
    with Stubber(client) as stubber:
        stubber.add_response("probe", answer)  # validates against the Probe output shape
        assert client.probe(InputFiles=[{"FileUrl": "s3://b/k.mp4"}])["ProbeResults"]


# --- colour -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "hdr", "input_space", "tone_mapper"),
    [
        ("hdr10_pq_2160p", "HDR10", "HDR10", "VIBRANT"),
        ("hlg_1080p", "HLG", "HLG_2020", "PRESERVE_DETAILS"),
        # Dolby Vision profile 8.4: an HLG base layer, which is what MediaConvert reads.
        ("dolby_vision_84_phone", "HLG", "HLG_2020", "PRESERVE_DETAILS"),
        ("phone_portrait_rotated", "HLG", "HLG_2020", "PRESERVE_DETAILS"),
    ],
)
def test_hdr_sources_are_tone_mapped_to_bt709_with_colour_metadata(
    name: str, hdr: str, input_space: str, tone_mapper: str
) -> None:
    source = probe(name)
    assert source.hdr == hdr
    built = requests(DEFAULT, source)
    for request in built.values():
        selector = request["Settings"]["Inputs"][0]["VideoSelector"]
        assert (selector["ColorSpace"], selector["ColorSpaceUsage"]) == (input_space, "FALLBACK")
        outputs = list(video_outputs(request))
        assert outputs
        for output in outputs:  # renditions, previews and JPEG captures alike
            video = output["VideoDescription"]
            corrector = video["VideoPreprocessors"]["ColorCorrector"]
            assert corrector == {
                "ColorSpaceConversion": "FORCE_709",
                "HdrToSdrToneMapper": tone_mapper,
            }
            assert video["ColorMetadata"] == "INSERT"


def test_tone_mapper_is_a_profile_choice() -> None:
    profile = load_profile("default").model_dump()
    profile["quality"] = {"tone_mapping": "preserve_details"}
    spec = transcode_spec(Profile.model_validate(profile))
    cmaf = requests(spec, probe("hdr10_pq_2160p"))["cmaf"]
    top = next(video_outputs(cmaf))["VideoDescription"]
    assert top["VideoPreprocessors"]["ColorCorrector"]["HdrToSdrToneMapper"] == "PRESERVE_DETAILS"


@pytest.mark.parametrize("name", ["1080p_landscape", "surround_51_1080p", "608_captions_720p"])
def test_sdr_progressive_sources_are_untouched(name: str) -> None:
    for request in requests(DEFAULT, probe(name)).values():
        assert request["Settings"]["Inputs"][0]["VideoSelector"] == {"Rotate": "AUTO"}
        for output in video_outputs(request):
            assert "VideoPreprocessors" not in output["VideoDescription"]
            assert "ColorMetadata" not in output["VideoDescription"]


def test_premium_keeps_an_hevc_main10_hdr_ladder_next_to_the_sdr_one() -> None:
    spec = premium_with(hdr_ladder=True)
    cmaf = requests(spec, probe("hdr10_pq_2160p"))["cmaf"]
    outputs = {o["NameModifier"]: o["VideoDescription"] for o in video_outputs(cmaf)}
    hdr = {name: v for name, v in outputs.items() if name.endswith("_hdr")}
    # Only renditions of 720p and up get an HDR twin.
    assert sorted(hdr) == ["_1080p_hdr", "_1440p_hdr", "_2160p_hdr", "_720p_hdr"]
    for video in hdr.values():
        codec = video["CodecSettings"]["H265Settings"]
        assert video["CodecSettings"]["Codec"] == "H_265"
        assert codec["CodecProfile"] == "MAIN10_HIGH"
        assert codec["WriteMp4PackagingType"] == "HVC1"
        assert video["ColorMetadata"] == "INSERT"
        assert "VideoPreprocessors" not in video  # the source's HDR10 colour passes through
    sdr = {name: v for name, v in outputs.items() if not name.endswith("_hdr")}
    assert all(
        v["VideoPreprocessors"]["ColorCorrector"]["ColorSpaceConversion"] == "FORCE_709"
        for v in sdr.values()
    )


def test_semantic_check_wants_apples_hdr_hls_settings() -> None:
    cmaf = requests(premium_with(hdr_ladder=True), probe("hlg_1080p"))["cmaf"]
    settings = json.loads(json.dumps(cmaf["Settings"]))
    outputs = settings["OutputGroups"][0]["Outputs"]
    index = next(i for i, o in enumerate(outputs) if o["NameModifier"].endswith("_hdr"))
    outputs[index]["VideoDescription"]["CodecSettings"]["H265Settings"]["CodecProfile"] = (
        "MAIN10_MAIN"
    )
    findings = [f for f in check_settings(settings) if f"Outputs[{index}]" in f.path]
    assert findings and "MAIN10_HIGH" in findings[0].message


def test_hdr_ladder_is_only_made_for_hdr_sources() -> None:
    spec = premium_with(hdr_ladder=True)
    cmaf = requests(spec, probe("1080p_landscape"))["cmaf"]
    assert not any(o["NameModifier"].endswith("_hdr") for o in video_outputs(cmaf))


def test_semantic_checks_reject_hdr_colour_on_8_bit_and_untone_mapped_hdr() -> None:
    cmaf = requests(DEFAULT, probe("hlg_1080p"))["cmaf"]
    settings = json.loads(json.dumps(cmaf["Settings"]))
    outputs = settings["OutputGroups"][0]["Outputs"]
    outputs[0]["VideoDescription"]["VideoPreprocessors"]["ColorCorrector"] = {
        "ColorSpaceConversion": "FORCE_HLG_2020"
    }
    del outputs[1]["VideoDescription"]["VideoPreprocessors"]
    messages = {f.path: f.message for f in check_settings(settings)}
    base = "Settings.OutputGroups[0].Outputs"
    assert "10-bit" in messages[f"{base}[0].VideoDescription.VideoPreprocessors.ColorCorrector"]
    assert (
        "washed out"
        in messages[
            f"{base}[1].VideoDescription.VideoPreprocessors.ColorCorrector.ColorSpaceConversion"
        ]
    )


# --- scan type ----------------------------------------------------------------------------------


def test_interlaced_sources_are_deinterlaced_adaptively() -> None:
    source = probe("interlaced_1080i_ts")
    assert source.interlaced and source.hdr is None
    for request in requests(DEFAULT, source).values():
        for output in video_outputs(request):
            video = output["VideoDescription"]
            assert video["VideoPreprocessors"] == {
                "Deinterlacer": {
                    "Mode": "ADAPTIVE",
                    "Algorithm": "INTERPOLATE",
                    "Control": "NORMAL",
                }
            }
            codec = video["CodecSettings"].get("H264Settings")
            assert codec is None or codec["InterlaceMode"] == "PROGRESSIVE"


def test_progressive_sources_are_not_deinterlaced() -> None:
    for name in ("1080p_landscape", "hlg_1080p", "anamorphic_pal_dv"):
        for request in requests(DEFAULT, probe(name)).values():
            for output in video_outputs(request):
                assert "Deinterlacer" not in output["VideoDescription"].get(
                    "VideoPreprocessors", {}
                )


def test_deinterlacing_can_be_turned_off() -> None:
    profile = load_profile("default").model_dump()
    profile["quality"] = {"deinterlace": False}
    spec = transcode_spec(Profile.model_validate(profile))
    for request in requests(spec, probe("interlaced_1080i_ts")).values():
        assert all(
            "VideoPreprocessors" not in o["VideoDescription"] for o in video_outputs(request)
        )


# --- audio --------------------------------------------------------------------------------------


def test_every_audio_output_is_loudness_normalised_with_a_true_peak_limit() -> None:
    for request in requests(DEFAULT, probe("1080p_landscape")).values():
        descriptions = list(audio_descriptions(request))
        assert descriptions
        for audio in descriptions:
            assert audio["AudioNormalizationSettings"] == {
                "Algorithm": "ITU_BS_1770_3",
                "AlgorithmControl": "CORRECT_AUDIO",
                "TargetLkfs": -16.0,
                "PeakCalculation": "TRUE_PEAK",
                "TruePeakLimiterThreshold": -1.0,
                "LoudnessLogging": "DONT_LOG",
            }
            assert "RemixSettings" not in audio  # stereo in, stereo out


def test_loudness_target_and_limit_come_from_the_profile() -> None:
    profile = load_profile("default").model_dump()
    profile["quality"] = {"loudness": {"target_lkfs": -23.0, "true_peak_dbtp": -2.0}}
    spec = transcode_spec(Profile.model_validate(profile))
    audio = next(audio_descriptions(requests(spec, probe("1080p_landscape"))["cmaf"]))
    assert audio["AudioNormalizationSettings"]["TargetLkfs"] == -23.0
    assert audio["AudioNormalizationSettings"]["TruePeakLimiterThreshold"] == -2.0


def test_51_sources_are_downmixed_to_stereo() -> None:
    source = probe("surround_51_1080p")
    assert source.audio_channels == 6
    for request in requests(DEFAULT, source).values():
        for audio in audio_descriptions(request):
            remix = audio["RemixSettings"]
            assert (remix["ChannelsIn"], remix["ChannelsOut"]) == (6, 2)
            left, right = (
                row["InputChannels"] for row in remix["ChannelMapping"]["OutputChannels"]
            )
            # L R C LFE Ls Rs: fronts as they are, centre and surround -3 dB, no LFE.
            assert left == [0, -60, -3, -60, -3, -60]
            assert right == [-60, 0, -3, -60, -60, -3]
            assert audio["CodecSettings"]["AacSettings"]["CodingMode"] == "CODING_MODE_2_0"


def test_mono_sources_fill_both_stereo_channels() -> None:
    source = SourceInfo(1280, 720, duration_seconds=60.0, audio_channels=1)
    audio = next(audio_descriptions(requests(DEFAULT, source)["cmaf"]))
    assert audio["RemixSettings"] == {
        "ChannelsIn": 1,
        "ChannelsOut": 2,
        "ChannelMapping": {"OutputChannels": [{"InputChannels": [0]}, {"InputChannels": [0]}]},
    }


def test_premium_option_keeps_51_as_a_second_audio_rendition() -> None:
    spec = premium_with(surround_rendition=True)
    cmaf = requests(spec, probe("surround_51_1080p"))["cmaf"]
    audio_outputs = {
        o["NameModifier"]: o
        for _, _, o in builder.iter_outputs(cmaf["Settings"])
        if o.get("AudioDescriptions")
    }
    assert sorted(audio_outputs) == ["_audio", "_audio_51"]
    surround = audio_outputs["_audio_51"]["AudioDescriptions"][0]
    assert surround["CodecSettings"]["AacSettings"]["CodingMode"] == "CODING_MODE_5_1"
    assert "RemixSettings" not in surround
    stereo = audio_outputs["_audio"]["AudioDescriptions"][0]
    assert stereo["RemixSettings"]["ChannelsOut"] == 2
    # A stereo source gets no 5.1 rendition.
    stereo_only = requests(spec, probe("1080p_landscape"))["cmaf"]
    assert not any(
        o.get("NameModifier") == "_audio_51"
        for _, _, o in builder.iter_outputs(stereo_only["Settings"])
    )


def test_semantic_check_rejects_a_remix_matrix_of_the_wrong_shape() -> None:
    cmaf = requests(DEFAULT, probe("surround_51_1080p"))["cmaf"]
    settings = json.loads(json.dumps(cmaf["Settings"]))
    audio = settings["OutputGroups"][0]["Outputs"][-1]["AudioDescriptions"][0]
    audio["RemixSettings"]["ChannelMapping"]["OutputChannels"].pop()
    assert any("RemixSettings.ChannelMapping" in f.path for f in check_settings(settings))


# --- captions -----------------------------------------------------------------------------------


def caption_outputs(request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (request["Settings"]["OutputGroups"][g]["OutputGroupSettings"]["Type"], output)
        for g, _, output in builder.iter_outputs(request["Settings"])
        if output.get("CaptionDescriptions")
    ]


def test_sidecar_vtt_is_carried_as_webvtt_in_the_cmaf_group() -> None:
    source = probe("1080p_landscape")
    built = requests(DEFAULT, source, SIDECAR)
    selectors = built["cmaf"]["Settings"]["Inputs"][0]["CaptionSelectors"]
    assert selectors == {
        "Captions Selector 1": {
            "SourceSettings": {
                "SourceType": "WEBVTT",
                "FileSourceSettings": {"SourceFile": SIDECAR.uri},
            }
        }
    }
    ((group, output),) = caption_outputs(built["cmaf"])
    assert group == "CMAF_GROUP_SETTINGS"
    assert output["NameModifier"] == "_captions_eng"
    (description,) = output["CaptionDescriptions"]
    assert description["DestinationSettings"]["DestinationType"] == "WEBVTT"
    assert description["CustomLanguageCode"] == "eng"
    # MP4 previews and thumbnails carry no captions (and the MP4 job reads none).
    assert caption_outputs(built["mp4"]) == []
    assert "CaptionSelectors" not in built["mp4"]["Settings"]["Inputs"][0]
    assert builder.caption_languages(DEFAULT, source, SIDECAR) == ["eng"]


@pytest.mark.parametrize(("extension", "source_type"), [("srt", "SRT"), ("scc", "SCC")])
def test_srt_and_scc_sidecars_are_read_as_their_format(extension: str, source_type: str) -> None:
    sidecar = builder.CaptionFile(
        f"s3://uploads-bucket/uploads/alice/clip.{extension}", extension, "fra"
    )
    cmaf = requests(DEFAULT, probe("1080p_landscape"), sidecar)["cmaf"]
    source = cmaf["Settings"]["Inputs"][0]["CaptionSelectors"]["Captions Selector 1"]
    assert source["SourceSettings"]["SourceType"] == source_type
    assert caption_outputs(cmaf)[0][1]["NameModifier"] == "_captions_fra"


def test_separate_packaging_carries_webvtt_in_hls_and_ttml_in_dash() -> None:
    spec = transcode_spec(Profile.model_validate({"formats": {"packaging": {"mode": "separate"}}}))
    built = requests(spec, probe("1080p_landscape"), SIDECAR)
    ((_, hls),) = caption_outputs(built["hls"])
    assert hls["CaptionDescriptions"][0]["DestinationSettings"]["DestinationType"] == "WEBVTT"
    ((_, dash),) = caption_outputs(built["dash"])
    assert dash["CaptionDescriptions"][0]["DestinationSettings"]["DestinationType"] == "TTML"
    assert dash["ContainerSettings"]["MpdSettings"]["CaptionContainerType"] == "FRAGMENTED_MP4"


def test_embedded_608_captions_pass_through() -> None:
    source = probe("608_captions_720p")
    assert source.embedded_captions == ("C608",)
    cmaf = requests(DEFAULT, source)["cmaf"]
    selector = cmaf["Settings"]["Inputs"][0]["CaptionSelectors"]["Captions Selector 1"]
    assert selector["SourceSettings"]["SourceType"] == "EMBEDDED"
    assert selector["SourceSettings"]["EmbeddedSourceSettings"]["Source608ChannelNumber"] == 1
    assert len(caption_outputs(cmaf)) == 1
    assert builder.caption_languages(DEFAULT, source, None) == ["eng"]  # as Probe reports it
    spanish = SourceInfo(1280, 720, embedded_captions=("C608",), caption_language="spa")
    assert builder.caption_languages(DEFAULT, spanish, None) == ["spa"]
    unreported = SourceInfo(1280, 720, embedded_captions=("C608",))
    assert builder.caption_languages(DEFAULT, unreported, None) == ["eng"]  # the profile's


def test_a_sidecar_wins_over_embedded_captions() -> None:
    cmaf = requests(DEFAULT, probe("608_captions_720p"), SIDECAR)["cmaf"]
    selectors = cmaf["Settings"]["Inputs"][0]["CaptionSelectors"]
    assert selectors["Captions Selector 1"]["SourceSettings"]["SourceType"] == "WEBVTT"


def test_an_asset_without_captions_is_unaffected() -> None:
    source = probe("1080p_landscape")
    for request in requests(DEFAULT, source).values():
        assert "CaptionSelectors" not in request["Settings"]["Inputs"][0]
        assert caption_outputs(request) == []
    assert builder.caption_languages(DEFAULT, source, None) == []


def test_semantic_checks_reject_webvtt_in_dash_iso_and_unknown_selectors() -> None:
    spec = transcode_spec(Profile.model_validate({"formats": {"packaging": {"mode": "separate"}}}))
    dash = requests(spec, probe("1080p_landscape"), SIDECAR)["dash"]
    settings = json.loads(json.dumps(dash["Settings"]))
    description = settings["OutputGroups"][0]["Outputs"][-1]["CaptionDescriptions"][0]
    description["DestinationSettings"] = {"DestinationType": "WEBVTT"}
    description["CaptionSelectorName"] = "Captions Selector 9"
    messages = " ".join(f.message for f in check_settings(settings))
    assert "cannot carry WebVTT" in messages
    assert "no input has a caption selector 'Captions Selector 9'" in messages


# --- trick play ---------------------------------------------------------------------------------


def test_trick_play_is_written_into_the_cmaf_manifests_when_asked() -> None:
    spec = premium_with(trick_play=True)
    cmaf = requests(spec, probe("1080p_landscape"))["cmaf"]
    group = cmaf["Settings"]["OutputGroups"][0]["OutputGroupSettings"]["CmafGroupSettings"]
    assert group["ImageBasedTrickPlay"] == "THUMBNAIL"
    plain = requests(DEFAULT, probe("1080p_landscape"))["cmaf"]
    assert (
        "ImageBasedTrickPlay"
        not in (plain["Settings"]["OutputGroups"][0]["OutputGroupSettings"]["CmafGroupSettings"])
    )


def test_trick_play_is_not_asked_of_an_audio_only_package() -> None:
    cmaf = requests(premium_with(trick_play=True), probe("audio_only"))["cmaf"]
    group = cmaf["Settings"]["OutputGroups"][0]["OutputGroupSettings"]["CmafGroupSettings"]
    assert "ImageBasedTrickPlay" not in group
    group["ImageBasedTrickPlay"] = "THUMBNAIL"
    assert any("trick-play" in f.message for f in check_settings(cmaf["Settings"]))


@pytest.mark.parametrize("option", ["hdr_ladder", "surround_rendition", "trick_play"])
def test_cmaf_only_options_are_refused_with_separate_packaging(option: str) -> None:
    with pytest.raises(ValueError, match=f"quality.{option}|needs formats.packaging.mode"):
        Profile.model_validate(
            {"formats": {"packaging": {"mode": "separate"}}, "quality": {option: True}}
        )
