"""Checks of MediaConvert settings that the service model cannot express.

The strict validator (:mod:`.validator`) proves a document has the right shape, types, ranges
and enums. It cannot know that six renditions with different GOP lengths make segments that do
not line up, that two outputs writing the same file name overwrite each other, or that 8 Mb/s
for a 416x234 rendition is money thrown away. These checks do, each finding naming the path of
the value to change.

Bits-per-pixel bounds
---------------------
A rendition's ``MaxBitrate`` is judged by bits per pixel per frame at a reference 30 fps:
``MaxBitrate / (Width x Height x 30)``. Apple's HLS authoring ladder runs from 0.05 (416x234 at
145 kb/s) to 0.125 (1920x1080 at 7.8 Mb/s) for H.264; HEVC needs roughly 40 % less. The bounds
below leave room either side of that: under the floor, QVBR hits the cap on any moving scene and
the picture falls apart; over the ceiling, the cap never binds and only inflates the peak
bitrate players must plan for.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mediapipe_cfn import contract
from mediapipe_cfn.mediaconvert.ladder import SourceInfo, UnusableSourceError
from mediapipe_cfn.mediaconvert.settings import (
    CaptionFile,
    build_create_job_request,
    iter_outputs,
    job_formats,
    job_template_settings,
    plan_jobs,
)
from mediapipe_cfn.mediaconvert.validator import (
    Finding,
    validate_create_job_request,
    validate_job_template_settings,
)

if TYPE_CHECKING:
    from mediapipe_cfn.profile.model import Profile

__all__ = [
    "BITS_PER_PIXEL_BOUNDS",
    "REFERENCE_FRAME_RATE",
    "REPRESENTATIVE_SOURCES",
    "check_create_job_request",
    "check_profile_transcoding",
    "check_settings",
]

REFERENCE_FRAME_RATE = 30
# (lowest, highest) sensible MaxBitrate per pixel per frame at REFERENCE_FRAME_RATE.
BITS_PER_PIXEL_BOUNDS: Mapping[str, tuple[float, float]] = {
    "H_264": (0.03, 0.40),
    "H_265": (0.018, 0.24),
}
# Apple HLS authoring spec: H.264 at most High profile level 4.2 (1920x1080 frames).
_HLS_H264_MAX_PIXELS = 1920 * 1088
_CODEC_SETTINGS_KEY = {"H_264": "H264Settings", "H_265": "H265Settings"}
_ABR_GROUP_KEYS = {
    "CMAF_GROUP_SETTINGS": "CmafGroupSettings",
    "HLS_GROUP_SETTINGS": "HlsGroupSettings",
    "DASH_ISO_GROUP_SETTINGS": "DashIsoGroupSettings",
    "MS_SMOOTH_GROUP_SETTINGS": "MsSmoothGroupSettings",
}
# Groups whose outputs each hold exactly one track (video or audio).
_SINGLE_TRACK_GROUPS = frozenset({"CMAF_GROUP_SETTINGS", "DASH_ISO_GROUP_SETTINGS"})

# Stand-ins for the deployment's identifiers: valid in form, never used against AWS.
_EXAMPLE = {
    "asset_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "input_uri": "s3://example-uploads/uploads/uploader-1/movie.mp4",
    "destination": "s3://example-outputs/uploader-1/0f8fad5b-d9cb-469f-a165-70867728950e/",
    "role_arn": "arn:aws:iam::123456789012:role/example-mediaconvert",
    "queue_arn": "arn:aws:mediaconvert:us-east-1:123456789012:queues/example",
    "pipeline_id": "mediapipe-example",
    "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
}

# Sources every profile is checked against (None: Probe unavailable, full ladder).
REPRESENTATIVE_SOURCES: Mapping[str, SourceInfo | None] = {
    "1080p landscape": SourceInfo(1920, 1080, duration_seconds=600.0, frame_rate=30.0),
    "720p": SourceInfo(1280, 720, duration_seconds=95.5, frame_rate=25.0),
    "4K": SourceInfo(3840, 2160, duration_seconds=1800.0, frame_rate=60.0),
    "portrait 1080x1920": SourceInfo(1080, 1920, duration_seconds=42.0, frame_rate=30.0),
    "phone 1920x1080 rotated 90": SourceInfo(1920, 1080, rotation=90, duration_seconds=15.0),
    "scope 1920x800": SourceInfo(1920, 800, duration_seconds=5400.0, frame_rate=24.0),
    "video without audio": SourceInfo(1280, 720, has_audio=False, duration_seconds=30.0),
    "audio-only": SourceInfo(None, None, has_video=False, duration_seconds=180.0),
    "no source description": None,
    "HDR10 2160p": SourceInfo(3840, 2160, duration_seconds=124.0, frame_rate=24.0, hdr="HDR10"),
    "HLG phone clip 5 s": SourceInfo(1920, 1080, rotation=90, duration_seconds=5.0, hdr="HLG"),
    "interlaced 1080i": SourceInfo(1920, 1080, duration_seconds=1800.0, interlaced=True),
    "5.1 audio": SourceInfo(1920, 1080, duration_seconds=5412.0, audio_channels=6),
    "mono audio": SourceInfo(1280, 720, duration_seconds=60.0, audio_channels=1),
    "608 captions": SourceInfo(1280, 720, duration_seconds=612.0, embedded_captions=("C608",)),
}
# A sidecar caption file beside the upload, checked with the 1080p source.
EXAMPLE_SIDECAR = CaptionFile("s3://example-uploads/uploads/uploader-1/movie.vtt", "vtt", "eng")


# ------------------------------------------------------------------------------------------
# Settings documents
# ------------------------------------------------------------------------------------------


def check_settings(settings: Mapping[str, Any], root: str = "Settings") -> list[Finding]:
    """Semantic findings for a ``JobSettings``/``JobTemplateSettings`` document."""
    findings: list[Finding] = []
    groups = settings.get("OutputGroups") or []
    for index, group in enumerate(groups):
        path = f"{root}.OutputGroups[{index}]"
        findings += _check_name_modifiers(group, path)
        findings += _check_video_outputs(group, path)
        if _group_type(group) in _ABR_GROUP_KEYS:
            findings += _check_abr_group(group, path)
    findings += _check_automated_abr_everywhere(groups, root)
    findings += _check_not_only_frame_captures(settings, root)
    findings += _check_colour(settings, root)
    findings += _check_captions(settings, root)
    findings += _check_audio_remix(settings, root)
    return findings


# --- colour, trick play, captions and audio remixing -----------------------------------------

_HDR_INPUT_SPACES = frozenset({"HDR10", "HLG_2020", "P3D65_HDR"})
_HDR_CONVERSIONS = frozenset({"FORCE_HDR10", "FORCE_HLG_2020", "FORCE_P3D65_HDR"})
_SDR_CONVERSIONS = frozenset({"FORCE_601", "FORCE_709", "FORCE_P3D65_SDR"})
_TEN_BIT_PROFILES = frozenset(
    {"MAIN10_MAIN", "MAIN10_HIGH", "MAIN_422_10BIT_MAIN", "MAIN_422_10BIT_HIGH"}
)
_AAC_CHANNELS = {"CODING_MODE_1_0": 1, "CODING_MODE_2_0": 2, "CODING_MODE_5_1": 6}


def _is_ten_bit_hevc(output: Mapping[str, Any]) -> bool:
    codec, codec_settings = _codec(output)
    return codec == "H_265" and codec_settings.get("CodecProfile") in _TEN_BIT_PROFILES


def _check_colour(settings: Mapping[str, Any], root: str) -> list[Finding]:
    """HDR colour only on HEVC 10-bit; an HDR source's 8-bit outputs must be tone-mapped."""
    inputs = settings.get("Inputs") or []
    spaces = {str((i.get("VideoSelector") or {}).get("ColorSpace", "FOLLOW")) for i in inputs}
    hdr_input = bool(spaces & _HDR_INPUT_SPACES)
    findings: list[Finding] = []
    for group, index, output in iter_outputs(settings):
        video = _video(output)
        corrector = (video.get("VideoPreprocessors") or {}).get("ColorCorrector") or {}
        conversion = corrector.get("ColorSpaceConversion", "NONE")
        where = f"{root}.OutputGroups[{group}].Outputs[{index}].VideoDescription"
        hdr_out = conversion in _HDR_CONVERSIONS or "Hdr10Metadata" in corrector
        if hdr_out and not _is_ten_bit_hevc(output):
            findings.append(
                Finding(
                    f"{where}.VideoPreprocessors.ColorCorrector",
                    "HDR colour needs an HEVC output with a 10-bit profile (MAIN10_*); an "
                    "8-bit output cannot carry it",
                )
            )
        codec = _codec(output)[0]
        eight_bit = codec == "FRAME_CAPTURE" or (
            codec in _CODEC_SETTINGS_KEY and not _is_ten_bit_hevc(output)
        )
        if hdr_input and eight_bit and conversion not in _SDR_CONVERSIONS:
            findings.append(
                Finding(
                    f"{where}.VideoPreprocessors.ColorCorrector.ColorSpaceConversion",
                    "the input is HDR but this 8-bit output is not converted to an SDR colour "
                    "space (FORCE_709): it would play washed out",
                )
            )
    return findings


def _check_trick_play(
    group: Mapping[str, Any], settings_path: str, videos: Sequence[tuple[int, Any]]
) -> list[Finding]:
    """Trick-play images are cut from a video rendition of the same group."""
    if _group_settings(group)[1].get("ImageBasedTrickPlay", "NONE") == "NONE" or videos:
        return []
    return [
        Finding(
            f"{settings_path}.ImageBasedTrickPlay",
            "trick-play images are made from a video rendition, and this group has none",
        )
    ]


def _check_captions(settings: Mapping[str, Any], root: str) -> list[Finding]:
    """Caption outputs name a selector of every input, in a format their group can carry."""
    inputs = settings.get("Inputs") or []
    selectors = [set((i.get("CaptionSelectors") or {}).keys()) for i in inputs]
    findings: list[Finding] = []
    for group_index, group in enumerate(settings.get("OutputGroups") or []):
        kind = _group_type(group)
        for index, output in enumerate(group.get("Outputs") or []):
            for number, caption in enumerate(output.get("CaptionDescriptions") or []):
                where = (
                    f"{root}.OutputGroups[{group_index}].Outputs[{index}]"
                    f".CaptionDescriptions[{number}]"
                )
                name = caption.get("CaptionSelectorName")
                if not selectors or any(name not in known for known in selectors):
                    findings.append(
                        Finding(
                            f"{where}.CaptionSelectorName",
                            f"no input has a caption selector {name!r}",
                        )
                    )
                destination = (caption.get("DestinationSettings") or {}).get("DestinationType")
                if kind == "DASH_ISO_GROUP_SETTINGS" and destination == "WEBVTT":
                    findings.append(
                        Finding(
                            f"{where}.DestinationSettings.DestinationType",
                            "DASH-ISO groups cannot carry WebVTT; use TTML or IMSC",
                        )
                    )
    return findings


def _check_audio_remix(settings: Mapping[str, Any], root: str) -> list[Finding]:
    """A remix matrix has one row per output channel, one value per input channel, and
    makes as many channels as the AAC coding mode encodes."""
    findings: list[Finding] = []
    for group, index, output in iter_outputs(settings):
        for number, audio in enumerate(output.get("AudioDescriptions") or []):
            remix = audio.get("RemixSettings")
            if not remix:
                continue
            where = f"{root}.OutputGroups[{group}].Outputs[{index}].AudioDescriptions[{number}]"
            rows = (remix.get("ChannelMapping") or {}).get("OutputChannels") or []
            channels_in, channels_out = remix.get("ChannelsIn"), remix.get("ChannelsOut")
            if len(rows) != channels_out or any(
                len(row.get("InputChannels") or []) != channels_in for row in rows
            ):
                findings.append(
                    Finding(
                        f"{where}.RemixSettings.ChannelMapping",
                        f"needs {channels_out} rows of {channels_in} values (ChannelsOut rows of "
                        "ChannelsIn values)",
                    )
                )
            mode = ((audio.get("CodecSettings") or {}).get("AacSettings") or {}).get("CodingMode")
            if mode in _AAC_CHANNELS and _AAC_CHANNELS[mode] != channels_out:
                findings.append(
                    Finding(
                        f"{where}.RemixSettings.ChannelsOut",
                        f"{channels_out} channels, but {mode} encodes {_AAC_CHANNELS[mode]}",
                    )
                )
    return findings


def _check_not_only_frame_captures(settings: Mapping[str, Any], root: str) -> list[Finding]:
    codecs = [_codec(output)[0] for _, _, output in iter_outputs(settings)]
    if codecs and all(codec == "FRAME_CAPTURE" for codec in codecs):
        return [
            Finding(
                f"{root}.OutputGroups",
                "every output is a frame capture: MediaConvert only accepts frame-capture "
                "outputs in a job that also has a regular video or audio output",
            )
        ]
    return []


def _group_type(group: Mapping[str, Any]) -> str:
    return str((group.get("OutputGroupSettings") or {}).get("Type", ""))


def _group_settings(group: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    key = _ABR_GROUP_KEYS.get(_group_type(group), "")
    return key, (group.get("OutputGroupSettings") or {}).get(key) or {}


def _video(output: Mapping[str, Any]) -> Mapping[str, Any]:
    return output.get("VideoDescription") or {}


def _codec(output: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    codec_settings = _video(output).get("CodecSettings") or {}
    codec = str(codec_settings.get("Codec", ""))
    return codec, codec_settings.get(_CODEC_SETTINGS_KEY.get(codec, ""), {}) or {}


def _is_encoded_video(output: Mapping[str, Any]) -> bool:
    return _codec(output)[0] in _CODEC_SETTINGS_KEY


def _check_name_modifiers(group: Mapping[str, Any], path: str) -> list[Finding]:
    """Every output of a multi-output group needs its own name modifier, or files collide."""
    outputs = group.get("Outputs") or []
    findings: list[Finding] = []
    seen: dict[str, int] = {}
    for index, output in enumerate(outputs):
        where = f"{path}.Outputs[{index}].NameModifier"
        modifier = output.get("NameModifier")
        if modifier is None:
            if len(outputs) > 1:
                findings.append(
                    Finding(
                        where,
                        "missing: every output of a group with several outputs needs "
                        "a name modifier, or their files overwrite each other",
                    )
                )
            continue
        if modifier in seen:
            findings.append(
                Finding(
                    where,
                    f"{modifier!r} is already used by Outputs[{seen[modifier]}]: the two outputs "
                    "would write the same files",
                )
            )
        else:
            seen[modifier] = index
    return findings


def _check_video_outputs(group: Mapping[str, Any], path: str) -> list[Finding]:
    findings: list[Finding] = []
    for index, output in enumerate(group.get("Outputs") or []):
        if not _is_encoded_video(output):
            continue
        where = f"{path}.Outputs[{index}].VideoDescription"
        findings += _check_even_size(_video(output), where)
        findings += _check_bits_per_pixel(output, where)
    return findings


def _check_even_size(video: Mapping[str, Any], where: str) -> list[Finding]:
    return [
        Finding(f"{where}.{axis}", f"{video[axis]} is odd: 4:2:0 video needs even frame sizes")
        for axis in ("Width", "Height")
        if isinstance(video.get(axis), int) and video[axis] % 2
    ]


def _check_bits_per_pixel(output: Mapping[str, Any], where: str) -> list[Finding]:
    video = _video(output)
    codec, codec_settings = _codec(output)
    width, height = video.get("Width"), video.get("Height")
    max_bitrate = codec_settings.get("MaxBitrate")
    if not (isinstance(width, int) and isinstance(height, int) and isinstance(max_bitrate, int)):
        return []  # automated ABR, or a size taken from the source: nothing to judge
    low, high = BITS_PER_PIXEL_BOUNDS[codec]
    bpp = max_bitrate / (width * height * REFERENCE_FRAME_RATE)
    if low <= bpp <= high:
        return []
    side = "below" if bpp < low else "above"
    suggested = (low if bpp < low else high) * width * height * REFERENCE_FRAME_RATE
    return [
        Finding(
            f"{where}.CodecSettings.{_CODEC_SETTINGS_KEY[codec]}.MaxBitrate",
            f"{max_bitrate} b/s for {width}x{height} is {bpp:.3f} bits per pixel at "
            f"{REFERENCE_FRAME_RATE} fps, {side} the sensible range {low}-{high} for "
            f"{codec} (about {round(suggested, -3):.0f} b/s)",
        )
    ]


def _check_abr_group(group: Mapping[str, Any], path: str) -> list[Finding]:
    key, settings = _group_settings(group)
    settings_path = f"{path}.OutputGroupSettings.{key}"
    outputs = group.get("Outputs") or []
    videos = [(i, o) for i, o in enumerate(outputs) if _is_encoded_video(o)]
    findings: list[Finding] = []
    findings += _check_single_track_outputs(group, path)
    findings += _check_hls_compatibility(group, path)
    gop = _common_gop(videos, path, findings)
    if gop is not None:
        findings += _check_segment_alignment(settings, settings_path, gop)
    # An SDR ladder and its HDR twin (another codec profile) are each ordered on their own.
    for profile in sorted({_ladder_kind(o) for _, o in videos}):
        findings += _check_ladder_order([v for v in videos if _ladder_kind(v[1]) == profile], path)
    findings += _check_trick_play(group, settings_path, videos)
    return findings


def _ladder_kind(output: Mapping[str, Any]) -> str:
    codec, codec_settings = _codec(output)
    return f"{codec}/{codec_settings.get('CodecProfile', '')}"


def _check_single_track_outputs(group: Mapping[str, Any], path: str) -> list[Finding]:
    if _group_type(group) not in _SINGLE_TRACK_GROUPS:
        return []
    return [
        Finding(
            f"{path}.Outputs[{index}]",
            "has both video and audio: CMAF and DASH-ISO outputs carry one track each; put "
            "the audio in its own output",
        )
        for index, output in enumerate(group.get("Outputs") or [])
        if output.get("VideoDescription") and output.get("AudioDescriptions")
    ]


def _writes_hls(group: Mapping[str, Any]) -> bool:
    kind = _group_type(group)
    if kind == "HLS_GROUP_SETTINGS":
        return True
    return (
        kind == "CMAF_GROUP_SETTINGS"
        and _group_settings(group)[1].get("WriteHlsManifest", "ENABLED") == "ENABLED"
    )


def _check_hls_compatibility(group: Mapping[str, Any], path: str) -> list[Finding]:
    """Apple's HLS authoring spec: HEVC only in fMP4; H.264 at most High@4.2 (1080p)."""
    if not _writes_hls(group):
        return []
    findings: list[Finding] = []
    outputs = list(enumerate(group.get("Outputs") or []))
    hevc = [index for index, output in outputs if _codec(output)[0] == "H_265"]
    if hevc and _group_type(group) == "HLS_GROUP_SETTINGS":
        findings.append(
            Finding(
                f"{path}.Outputs[{hevc[0]}].VideoDescription.CodecSettings.Codec",
                "HEVC in an HLS transport-stream group does not play on Apple devices (HLS "
                "authoring spec 1.5: HEVC must be fMP4); use packaging mode 'cmaf'",
            )
        )
    for index, output in outputs:
        codec_settings = _codec(output)[1]
        if _is_ten_bit_hevc(output) and (
            codec_settings.get("CodecProfile") != "MAIN10_HIGH"
            or codec_settings.get("WriteMp4PackagingType") != "HVC1"
        ):
            findings.append(
                Finding(
                    f"{path}.Outputs[{index}].VideoDescription.CodecSettings.H265Settings",
                    "10-bit HEVC in HLS needs CodecProfile MAIN10_HIGH and "
                    "WriteMp4PackagingType HVC1 (MediaConvert's settings for HDR HLS that "
                    "complies with Apple's specification)",
                )
            )
        width, height = _video(output).get("Width"), _video(output).get("Height")
        sized = isinstance(width, int) and isinstance(height, int)
        if _codec(output)[0] == "H_264" and sized and width * height > _HLS_H264_MAX_PIXELS:
            findings.append(
                Finding(
                    f"{path}.Outputs[{index}].VideoDescription.Width",
                    f"H.264 at {width}x{height} needs a level above 4.2, the most Apple devices "
                    "accept over HLS (authoring spec 1.3); use HEVC for sizes above 1080p",
                )
            )
    return findings


def _common_gop(
    videos: Sequence[tuple[int, Mapping[str, Any]]], path: str, findings: list[Finding]
) -> float | None:
    """The GOP length (seconds) every rendition shares, or None (with findings) if none."""
    gops: dict[float, int] = {}
    for index, output in videos:
        codec, codec_settings = _codec(output)
        where = (
            f"{path}.Outputs[{index}].VideoDescription.CodecSettings.{_CODEC_SETTINGS_KEY[codec]}"
        )
        if codec_settings.get("GopSizeUnits") != "SECONDS" or not codec_settings.get("GopSize"):
            findings.append(
                Finding(
                    f"{where}.GopSizeUnits",
                    "segmented renditions need a fixed GOP in SECONDS with a GopSize, so "
                    "every rendition has keyframes at the same instants",
                )
            )
            return None
        if codec_settings.get("GopClosedCadence", 1) < 1:
            findings.append(
                Finding(
                    f"{where}.GopClosedCadence",
                    "must be at least 1: segments must start with a closed GOP",
                )
            )
        scene_change = codec_settings.get("SceneChangeDetect", "ENABLED") != "DISABLED"
        if scene_change and codec_settings.get("MinIInterval") != 0:
            findings.append(
                Finding(
                    f"{where}.MinIInterval",
                    "must be 0 with scene-change detection on: otherwise the encoder moves "
                    "cadence keyframes next to scene cuts, differently in each rendition, and "
                    "segments stop lining up",
                )
            )
        gops.setdefault(float(codec_settings["GopSize"]), index)
    if len(gops) > 1:
        sizes = ", ".join(f"{size:g} s (Outputs[{i}])" for size, i in gops.items())
        findings.append(
            Finding(
                f"{path}.Outputs",
                f"renditions use different GOP lengths ({sizes}): their segments cannot align",
            )
        )
        return None
    return next(iter(gops), None)


def _check_segment_alignment(
    settings: Mapping[str, Any], settings_path: str, gop: float
) -> list[Finding]:
    findings: list[Finding] = []
    segment = settings.get("SegmentLength")
    if isinstance(segment, int) and not _whole_multiple(segment, gop):
        findings.append(
            Finding(
                f"{settings_path}.SegmentLength",
                f"{segment} s is not a whole number of {gop:g} s GOPs: segments would not "
                "start on a keyframe",
            )
        )
    fragment = settings.get("FragmentLength")
    if isinstance(fragment, int):
        if not _whole_multiple(fragment, gop):
            findings.append(
                Finding(
                    f"{settings_path}.FragmentLength",
                    f"{fragment} s is not a whole number of {gop:g} s GOPs: fragments would "
                    "not start on a keyframe",
                )
            )
        if isinstance(segment, int) and segment % fragment:
            findings.append(
                Finding(
                    f"{settings_path}.FragmentLength",
                    f"{fragment} s does not divide the {segment} s segments evenly",
                )
            )
    return findings


def _whole_multiple(value: float, unit: float) -> bool:
    ratio = value / unit
    return math.isclose(ratio, round(ratio), abs_tol=1e-9) and round(ratio) >= 1


def _check_ladder_order(
    videos: Sequence[tuple[int, Mapping[str, Any]]], path: str
) -> list[Finding]:
    """Renditions highest first, no two the same size, bitrate falling with size."""
    findings: list[Finding] = []
    previous: tuple[int, int, int, int] | None = None  # (index, short side, pixels, bitrate)
    for index, output in videos:
        video = _video(output)
        width, height = video.get("Width"), video.get("Height")
        if not (isinstance(width, int) and isinstance(height, int)):
            continue
        codec, codec_settings = _codec(output)
        bitrate = int(codec_settings.get("MaxBitrate") or 0)
        current = (index, min(width, height), width * height, bitrate)
        where = f"{path}.Outputs[{index}].VideoDescription"
        if previous is not None:
            if current[2] == previous[2] and current[1] == previous[1]:
                findings.append(
                    Finding(
                        f"{where}.Height",
                        f"{width}x{height} repeats Outputs[{previous[0]}]: a duplicate "
                        "rendition costs a full output and adds nothing",
                    )
                )
            elif current[1] > previous[1]:
                findings.append(
                    Finding(
                        f"{where}.Height",
                        f"the ladder must go from the highest rendition down; this one is "
                        f"larger than Outputs[{previous[0]}]",
                    )
                )
            elif bitrate and previous[3] and bitrate > previous[3]:
                findings.append(
                    Finding(
                        f"{where}.CodecSettings.{_CODEC_SETTINGS_KEY[codec]}.MaxBitrate",
                        f"{bitrate} b/s is more than the larger rendition Outputs[{previous[0]}]"
                        f" ({previous[3]} b/s)",
                    )
                )
        previous = current
    return findings


def _check_automated_abr_everywhere(
    groups: Sequence[Mapping[str, Any]], root: str
) -> list[Finding]:
    """Automated ABR: all ABR groups or none, multi-pass QVBR, and no FIT_NO_UPSCALE."""
    abr_groups = [(i, g) for i, g in enumerate(groups) if _group_type(g) in _ABR_GROUP_KEYS]
    automated = [i for i, g in abr_groups if g.get("AutomatedEncodingSettings")]
    if not automated:
        return []
    findings = [
        Finding(
            f"{root}.OutputGroups[{i}].AutomatedEncodingSettings",
            "missing: when one ABR group of a job uses automated ABR, all of them must",
        )
        for i, _ in abr_groups
        if i not in automated
    ]
    for group_index in automated:
        for index, output in enumerate(groups[group_index].get("Outputs") or []):
            if not _is_encoded_video(output):
                continue
            codec, codec_settings = _codec(output)
            where = f"{root}.OutputGroups[{group_index}].Outputs[{index}].VideoDescription"
            if (
                codec_settings.get("RateControlMode") != "QVBR"
                or codec_settings.get("QualityTuningLevel") != "MULTI_PASS_HQ"
            ):
                findings.append(
                    Finding(
                        f"{where}.CodecSettings.{_CODEC_SETTINGS_KEY[codec]}",
                        "automated ABR needs RateControlMode QVBR and QualityTuningLevel "
                        "MULTI_PASS_HQ",
                    )
                )
            if _video(output).get("ScalingBehavior") == "FIT_NO_UPSCALE":
                findings.append(
                    Finding(
                        f"{where}.ScalingBehavior", "automated ABR does not accept FIT_NO_UPSCALE"
                    )
                )
    return findings


# ------------------------------------------------------------------------------------------
# CreateJob requests
# ------------------------------------------------------------------------------------------


def check_create_job_request(request: Mapping[str, Any]) -> list[Finding]:
    """Semantic findings for ``CreateJob`` keyword arguments (settings included)."""
    findings = check_settings(request.get("Settings") or {})
    findings += _check_acceleration(request)
    metadata = request.get("UserMetadata") or {}
    for key in (contract.META_ASSET_ID, contract.META_FORMAT, contract.META_PIPELINE_ID):
        if not metadata.get(key):
            findings.append(
                Finding(
                    f'UserMetadata["{key}"]',
                    "missing: the job-state rule and the status processor match jobs by it",
                )
            )
    token = request.get("ClientRequestToken")
    if token is not None and (len(token) > 64 or not token.isascii()):
        findings.append(Finding("ClientRequestToken", "must be at most 64 ASCII characters"))
    return findings


def _check_acceleration(request: Mapping[str, Any]) -> list[Finding]:
    mode = (request.get("AccelerationSettings") or {}).get("Mode")
    if mode != "ENABLED":
        return []
    return [
        Finding(
            f"Settings.OutputGroups[{group}].Outputs[{index}]",
            "has no encoded video: with AccelerationSettings.Mode ENABLED MediaConvert fails "
            "the job (audio-only and frame-capture outputs cannot be accelerated); use "
            "PREFERRED",
        )
        for group, index, output in iter_outputs(request.get("Settings") or {})
        if not _is_encoded_video(output)
    ]


# ------------------------------------------------------------------------------------------
# A whole profile
# ------------------------------------------------------------------------------------------


def check_profile_transcoding(profile: Profile) -> list[Finding]:
    """Every job of ``profile`` for every representative source, strictly and semantically.

    Each job's ``CreateJob`` request is checked against the service model (types, required,
    ranges, enums, unknown keys) and by :func:`check_create_job_request`; each job template's
    settings likewise. A finding that recurs across sources is reported once, naming them.
    """
    from mediapipe_cfn.mediaconvert.spec import transcode_spec

    spec = transcode_spec(profile)
    where_found: dict[tuple[str, str], list[str]] = {}
    cases = [(name, source, None) for name, source in REPRESENTATIVE_SOURCES.items()]
    cases.append(("sidecar .vtt", REPRESENTATIVE_SOURCES["1080p landscape"], EXAMPLE_SIDECAR))
    for source_name, source, sidecar in cases:
        for label, finding in _findings_for_source(spec, source, sidecar):
            where_found.setdefault((f"{label}: {finding.path}", finding.message), []).append(
                source_name
            )
    for job_format in job_formats(spec):
        settings = job_template_settings(spec, job_format)
        for finding in validate_job_template_settings(settings) + check_settings(settings):
            where_found.setdefault(
                (f"{job_format} job: {finding.path}", finding.message), []
            ).append("job template")
    return [
        Finding(f"{path} [{', '.join(sources)}]", message)
        for (path, message), sources in where_found.items()
    ]


def _findings_for_source(
    spec: Mapping[str, Any], source: SourceInfo | None, sidecar: CaptionFile | None = None
) -> Iterable[tuple[str, Finding]]:
    try:
        jobs = plan_jobs(spec, source)
    except UnusableSourceError as error:
        if source is not None and not source.has_video:
            return  # an audio-only upload to a video-only profile is refused by design
        yield "plan", Finding("jobs", f"no job can be planned: {error}")
        return
    for job_format in jobs:
        try:
            request = build_create_job_request(
                spec, job_format=job_format, source=source, sidecar=sidecar, **_EXAMPLE
            )
        except (UnusableSourceError, ValueError) as error:
            yield f"{job_format} job", Finding("Settings", f"cannot be built: {error}")
            continue
        for finding in validate_create_job_request(request) + check_create_job_request(request):
            yield f"{job_format} job", finding
