"""The one builder of MediaConvert job settings.

Everything that turns the transcode spec (:func:`mediapipe_cfn.mediaconvert.spec.transcode_spec`,
read from SSM at run time) into MediaConvert documents lives here: the job templates in the
CloudFormation template, the ``CreateJob`` requests the orchestrator sends, the offline checks
and the cost estimate all call these functions, so there is exactly one definition of what a
job contains and no per-resolution copies of settings files.

Design, in brief (docs/transcoding.md has the reasons):

* HLS and DASH come from ONE CMAF output group writing both ``.m3u8`` and ``.mpd`` over a single
  set of fMP4 segments, audio as its own rendition; ``packaging: separate`` gives an HLS (TS)
  group and a DASH-ISO group instead, which bills the ladder twice.
* Video is QVBR, single-pass HQ H.264 unless the profile asks for more, with a fixed closed GOP
  in seconds and no GOP-size variance (``MinIInterval`` 0), so every rendition cuts its
  segments at the same instants.
* The output layout is predictable: ``<asset prefix><format>/<base name><name modifier>``,
  e.g. ``alice/4f2a.../cmaf/master_720p.m3u8``.
* With a source description (MediaConvert Probe) the ladder is trimmed to the source and each
  output keeps the source's aspect ratio; without one, the full ladder is scaled
  ``FIT_NO_UPSCALE``.

Standard library only (plus :mod:`mediapipe_cfn.contract` and :mod:`.ladder`): this module is
bundled into the Lambda handler zip.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mediapipe_cfn import contract
from mediapipe_cfn.contract import Format
from mediapipe_cfn.mediaconvert.ladder import (
    SourceInfo,
    UnusableSourceError,
    even,
    output_size,
    select_renditions,
)

__all__ = [
    "ADAPTIVE_FORMATS",
    "AUDIO_SELECTOR",
    "BASE_NAMES",
    "CAPTION_SOURCE_TYPES",
    "SUPPORTED_SPEC_VERSION",
    "CaptionFile",
    "acceleration_mode",
    "build_create_job_request",
    "build_job_settings",
    "caption_languages",
    "client_request_token",
    "fragment_seconds",
    "iter_outputs",
    "job_formats",
    "job_groups",
    "job_template_settings",
    "output_formats",
    "plan_jobs",
    "poster_path",
    "status_update_interval",
    "thumbnail_interval",
]

SUPPORTED_SPEC_VERSION = 1
AUDIO_SELECTOR = "Audio Selector 1"
AUDIO_NAME_MODIFIER = "_audio"
THUMBNAIL_NAME_MODIFIER = "_thumb"
CAPTION_SELECTOR = "Captions Selector 1"
CAPTIONS_NAME_MODIFIER = "_captions"
SURROUND_NAME_MODIFIER = "_audio_51"
HDR_NAME_SUFFIX = "_hdr"
# Only the renditions of at least this short side get an HDR twin: small screens gain nothing.
HDR_MIN_SHORT_SIDE = 720
SURROUND_BITRATE = 384_000
# Sidecar caption file extension -> MediaConvert CaptionSourceType.
CAPTION_SOURCE_TYPES: Mapping[str, str] = {"vtt": "WEBVTT", "srt": "SRT", "scc": "SCC"}
# ITU-R BS.775 downmix of 5.1 (L R C LFE Ls Rs) to stereo, in dB per input channel: front
# channels as they are, centre and surrounds at -3 dB, the LFE left out (-60 mutes).
_DOWNMIX_51: tuple[list[int], list[int]] = ([0, -60, -3, -60, -3, -60], [-60, 0, -3, -60, -60, -3])
# Thumbnails of a clip shorter than this many intervals are taken closer together, so that even
# a 3-second clip has captures after its first frame to choose a poster from.
MIN_CAPTURES_PER_CLIP = 4
# File names are fixed per format, so outputs never depend on what the uploaded file was
# called: cmaf/master.m3u8, cmaf/master.mpd, mp4/video_preview.mp4, thumbnails/image_thumb...
BASE_NAMES: Mapping[str, str] = {
    Format.CMAF.value: "master",
    Format.HLS.value: "master",
    Format.DASH.value: "master",
    Format.MP4.value: "video",
    Format.THUMBNAILS.value: "image",
}
ADAPTIVE_FORMATS = frozenset({Format.CMAF.value, Format.HLS.value, Format.DASH.value})
# MP4 previews are sized by height only; without a source they fit a 16:9 box.
_PREVIEW_ASPECT = 16 / 9
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
# Billing-tag source: the stack tags its queue, so per-output costs carry the stack's tags.
_BILLING_TAGS_SOURCE = "QUEUE"


# ------------------------------------------------------------------------------------------
# Which jobs an asset gets
# ------------------------------------------------------------------------------------------


def output_formats(spec: Mapping[str, Any]) -> list[str]:
    """The formats the spec produces, in a fixed order (cmaf or hls/dash, mp4, thumbnails)."""
    _check_version(spec)
    formats = spec["formats"]
    produced: list[str] = []
    if formats["hls"] or formats["dash"]:
        if formats["packaging"] == "cmaf":
            produced.append(Format.CMAF.value)
        else:
            produced += [f.value for f in (Format.HLS, Format.DASH) if formats[f.value]]
    if formats["mp4"]["enabled"]:
        produced.append(Format.MP4.value)
    if formats["thumbnails"]["enabled"]:
        produced.append(Format.THUMBNAILS.value)
    return produced


def job_groups(spec: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each MediaConvert job an asset gets, with the formats (output groups) it writes.

    ``per_format`` grouping gives one job per format (independent status and retries);
    ``per_asset`` gives the single job ``"all"`` holding every output group. Thumbnails never
    get a job of their own: MediaConvert rejects a job whose only outputs are frame captures,
    so the thumbnails group rides in the MP4 job, or without MP4 previews in the first
    HLS/DASH job.
    """
    formats = output_formats(spec)
    if spec["transcoding"]["grouping"] == "per_asset":
        return {Format.ALL.value: formats}
    jobs = {f: [f] for f in formats if f != Format.THUMBNAILS.value}
    if Format.THUMBNAILS.value in formats:
        host = Format.MP4.value if Format.MP4.value in jobs else next(iter(jobs))
        jobs[host].append(Format.THUMBNAILS.value)
    return jobs


def job_formats(spec: Mapping[str, Any]) -> list[str]:
    """The jobs an asset gets, as values of :class:`contract.Format` (``UserMetadata``)."""
    return list(job_groups(spec))


def plan_jobs(spec: Mapping[str, Any], source: SourceInfo | None) -> list[str]:
    """Like :func:`job_formats`, but for this source: the jobs worth submitting.

    Audio-only sources keep only the jobs with an HLS/DASH group (an audio-only package).
    Raises :class:`UnusableSourceError` when the source has no usable track, or when it has
    only audio and the spec produces nothing but video outputs (MP4 previews, thumbnails).
    """
    groups = job_groups(spec)
    if source is None:
        return list(groups)
    _require_usable(source)
    if source.has_video:
        return list(groups)
    audio_capable = [job for job, formats in groups.items() if ADAPTIVE_FORMATS & set(formats)]
    if not audio_capable:
        raise UnusableSourceError(
            "the source has no video track"
            + _problem_suffix(source)
            + " and this profile only produces video outputs (MP4 previews, thumbnails)"
        )
    return audio_capable


def _require_usable(source: SourceInfo) -> None:
    if not source.has_video and not source.has_audio:
        raise UnusableSourceError(
            "the source has no usable video or audio track" + _problem_suffix(source)
        )
    if source.duration_seconds is not None and source.duration_seconds <= 0:
        raise UnusableSourceError("the source has a duration of 0 seconds")


def _problem_suffix(source: SourceInfo) -> str:
    return f" ({'; '.join(source.problems)})" if source.problems else ""


# ------------------------------------------------------------------------------------------
# Job settings
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptionFile:
    """A sidecar caption file found beside the upload: ``s3://`` URI, extension, language."""

    uri: str
    extension: str  # a key of CAPTION_SOURCE_TYPES
    language: str  # ISO 639-2, lower case, e.g. "eng"


@dataclass(frozen=True)
class _Job:
    """What every group builder of one job needs to know."""

    spec: Mapping[str, Any]
    source: SourceInfo | None
    destination: str | None
    kms_key_arn: str | None
    sidecar: CaptionFile | None = None
    with_captions: bool = True  # False for jobs with no HLS/DASH group (nothing carries them)

    @property
    def quality(self) -> Mapping[str, Any]:
        return self.spec["quality"]

    @property
    def hdr_source(self) -> str | None:
        """HDR10 or HLG when Probe found an HDR source (its SDR outputs are tone-mapped)."""
        return self.source.hdr if self.source is not None and self.source.has_video else None

    @property
    def deinterlaced(self) -> bool:
        return bool(
            self.quality["deinterlace"] and self.source is not None and self.source.interlaced
        )

    @property
    def caption_language(self) -> str | None:
        """The language of the captions this job carries, or None without captions."""
        if not (self.with_video and self.with_captions):
            return None
        if self.sidecar is not None:
            return self.sidecar.language
        if self._embedded_captions:
            reported = self.source.caption_language if self.source is not None else None
            return reported or str(self.quality["captions"]["language"])
        return None

    @property
    def _embedded_captions(self) -> bool:
        return bool(
            self.quality["captions"]["embedded"]
            and self.source is not None
            and self.source.embedded_captions
        )

    @property
    def surround(self) -> bool:
        """A 5.1 rendition is kept: the profile asks for it and the source has 5.1."""
        return bool(
            self.quality["surroundRendition"]
            and self.source is not None
            and self.source.audio_channels == 6
        )

    @property
    def with_video(self) -> bool:
        return self.source is None or self.source.has_video

    @property
    def with_audio(self) -> bool:
        return self.source is None or self.source.has_audio

    @property
    def automated_abr(self) -> bool:
        return bool(self.spec["transcoding"]["automatedAbr"]["enabled"])


def build_job_settings(
    spec: Mapping[str, Any],
    job_format: str,
    *,
    input_uri: str | None,
    destination: str | None,
    source: SourceInfo | None,
    kms_key_arn: str | None,
    sidecar: CaptionFile | None = None,
) -> dict[str, Any]:
    """The ``Settings`` (shape ``JobSettings``) of the ``job_format`` job of an asset.

    ``destination`` is the asset's output prefix, ``s3://bucket/<prefix>/`` (ending in "/");
    each group writes under ``<destination><format>/``. With ``input_uri`` and ``destination``
    None the result is valid ``JobTemplateSettings`` (the job supplies both). Outputs are
    written with SSE-KMS under ``kms_key_arn`` when it is given.
    """
    if job_format not in job_formats(spec):
        raise ValueError(
            f"{job_format!r} is not a job of this spec; its jobs are {job_formats(spec)}"
        )
    _check_destination(destination)
    _check_kms_key_arn(kms_key_arn)
    if source is not None:
        _require_usable(source)
    job = _Job(
        spec=spec,
        source=source,
        destination=destination,
        kms_key_arn=kms_key_arn,
        sidecar=sidecar,
        with_captions=bool(ADAPTIVE_FORMATS & set(job_groups(spec)[job_format])),
    )
    groups = [_GROUP_BUILDERS[f](job) for f in _group_formats(job, job_format)]
    return {
        "TimecodeConfig": {"Source": "ZEROBASED"},
        "Inputs": [_input(job, input_uri)],
        "OutputGroups": groups,
    }


def job_template_settings(spec: Mapping[str, Any], job_format: str) -> dict[str, Any]:
    """``JobTemplateSettings`` for the ``job_format`` job: no input, destination or source."""
    return build_job_settings(
        spec, job_format, input_uri=None, destination=None, source=None, kms_key_arn=None
    )


def _group_formats(job: _Job, job_format: str) -> list[str]:
    formats = job_groups(job.spec)[job_format]
    if job.with_video:
        return formats
    audio_formats = [f for f in formats if f in ADAPTIVE_FORMATS]
    if not audio_formats:
        problems = _problem_suffix(job.source) if job.source is not None else ""
        raise UnusableSourceError(
            f"the source has no video track{problems}, so there is nothing to make the "
            f"{job_format} job's outputs ({', '.join(formats)}) from"
        )
    return audio_formats


def _check_version(spec: Mapping[str, Any]) -> None:
    version = spec.get("version")
    if version != SUPPORTED_SPEC_VERSION:
        raise ValueError(
            f"transcode spec version {version!r} is not supported "
            f"(this builder reads version {SUPPORTED_SPEC_VERSION})"
        )


def _check_destination(destination: str | None) -> None:
    if destination is not None and not (
        destination.startswith("s3://") and destination.endswith("/") and len(destination) > 6
    ):
        raise ValueError(f"destination must be 's3://bucket/prefix/' (got {destination!r})")


def _check_kms_key_arn(kms_key_arn: str | None) -> None:
    # MediaConvert takes only a key ARN here; an alias would fail every job at submission.
    if kms_key_arn is not None and not _KMS_KEY_ARN.match(kms_key_arn):
        raise ValueError(
            f"kms_key_arn must be a KMS key ARN 'arn:<partition>:kms:<region>:<account>:key/<id>'"
            f" (got {kms_key_arn!r})"
        )


def _input(job: _Job, input_uri: str | None) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if input_uri is not None:
        settings["FileInput"] = input_uri
    # Zero-based timecodes: accelerated transcoding requires them, and segment and
    # thumbnail times then start at 0 whatever the source's embedded timecode says.
    settings["TimecodeSource"] = "ZEROBASED"
    if job.with_video:
        # Phones record portrait video as landscape frames plus a rotation flag.
        selector: dict[str, Any] = {"Rotate": "AUTO"}
        if job.hdr_source:
            # What Probe read, used only where the stream itself carries no colour metadata.
            selector["ColorSpace"] = "HDR10" if job.hdr_source == "HDR10" else "HLG_2020"
            selector["ColorSpaceUsage"] = "FALLBACK"
        settings["VideoSelector"] = selector
    if job.with_audio:
        settings["AudioSelectors"] = {AUDIO_SELECTOR: {"DefaultSelection": "DEFAULT"}}
    selector_source = _caption_source(job)
    if selector_source is not None:
        settings["CaptionSelectors"] = {CAPTION_SELECTOR: {"SourceSettings": selector_source}}
    return settings


def _caption_source(job: _Job) -> dict[str, Any] | None:
    """The sidecar file when there is one, else the source's embedded 608/708 captions."""
    if job.caption_language is None:
        return None
    if job.sidecar is not None:
        return {
            "SourceType": CAPTION_SOURCE_TYPES[job.sidecar.extension],
            "FileSourceSettings": {"SourceFile": job.sidecar.uri},
        }
    return {
        "SourceType": "EMBEDDED",
        "EmbeddedSourceSettings": {
            "Source608ChannelNumber": 1,
            "Convert608To708": "DISABLED",
            "TerminateCaptions": "END_OF_INPUT",
        },
    }


def caption_languages(
    spec: Mapping[str, Any], source: SourceInfo | None, sidecar: CaptionFile | None
) -> list[str]:
    """The languages of the captions the asset's outputs carry (empty without captions)."""
    job = _Job(
        spec=spec,
        source=source,
        destination=None,
        kms_key_arn=None,
        sidecar=sidecar,
        with_captions=bool(ADAPTIVE_FORMATS & set(output_formats(spec))),
    )
    return [job.caption_language] if job.caption_language else []


def _group_settings(job: _Job, job_format: str, extra: dict[str, Any]) -> dict[str, Any]:
    """Destination (fixed base name under the format's folder) + encryption + ``extra``."""
    settings: dict[str, Any] = {}
    if job.destination is not None:
        settings["Destination"] = f"{job.destination}{job_format}/{BASE_NAMES[job_format]}"
    if job.kms_key_arn is not None:
        settings["DestinationSettings"] = {
            "S3Settings": {
                "Encryption": {
                    "EncryptionType": "SERVER_SIDE_ENCRYPTION_KMS",
                    "KmsKeyArn": job.kms_key_arn,
                }
            }
        }
    settings.update(extra)
    return settings


def fragment_seconds(gop_seconds: float, segment_seconds: int) -> int:
    """The shortest whole-second fragment that is a whole number of GOPs and divides a segment.

    CMAF/DASH fragments must start on a keyframe just like segments do; with the default 2 s
    GOP and 6 s segments this is 2.
    """
    for length in range(1, segment_seconds + 1):
        if segment_seconds % length == 0 and _is_whole_multiple(length, gop_seconds):
            return length
    return segment_seconds


def _is_whole_multiple(value: float, unit: float) -> bool:
    ratio = value / unit
    return abs(ratio - round(ratio)) < 1e-9 and round(ratio) >= 1


# --- video and audio descriptions ---------------------------------------------------------


def _codec_settings(
    job: _Job, *, max_bitrate_kbps: int | None, qvbr_level: int | None, hdr: bool = False
) -> dict[str, Any]:
    """QVBR H.264/H.265 with a fixed closed GOP in seconds, shared by every video output.

    ``hdr`` makes an HDR rendition: HEVC Main10 (High tier) whatever the ladder's codec.
    """
    video = job.spec["video"]
    automated = max_bitrate_kbps is None
    multi_pass = automated or video["qualityTuning"] == "multi_pass_hq"
    codec: dict[str, Any] = {
        "RateControlMode": "QVBR",
        "QualityTuningLevel": "MULTI_PASS_HQ" if multi_pass else "SINGLE_PASS_HQ",
        "GopSize": float(video["gopSeconds"]),
        "GopSizeUnits": "SECONDS",
        # Every GOP closed, and no cadence keyframe ever moved for a scene change: all
        # renditions cut at the same instants, so players can switch at any segment.
        "GopClosedCadence": 1,
        "MinIInterval": 0,
        "SceneChangeDetect": "TRANSITION_DETECTION",
        "CodecLevel": "AUTO",
        "InterlaceMode": "PROGRESSIVE",
        "FramerateControl": "INITIALIZE_FROM_SOURCE",
        # Square pixels: sizes are computed from the displayed aspect ratio.
        "ParControl": "SPECIFIED",
        "ParNumerator": 1,
        "ParDenominator": 1,
        "AdaptiveQuantization": "AUTO",
    }
    if not automated:
        # Automated ABR picks each rendition's bitrate and quality itself.
        codec["MaxBitrate"] = int(max_bitrate_kbps) * 1000  # type: ignore[arg-type]
        codec["QvbrSettings"] = {"QvbrQualityLevel": int(qvbr_level)}  # type: ignore[arg-type]
    if hdr or video["codec"] == "h265":
        # HDR: Main10 High tier, MediaConvert's settings for HDR HLS that Apple devices play
        # (with hvc1 packaging). The level stays AUTO so a 2160p60 source gets the level it
        # needs (5.1) rather than the 5 of AWS's 30 fps example.
        codec["CodecProfile"] = "MAIN10_HIGH" if hdr else "MAIN_MAIN"
        # 'hvc1' sample entries: what Apple players require for HEVC in fMP4.
        codec["WriteMp4PackagingType"] = "HVC1"
        return {"Codec": "H_265", "H265Settings": codec}
    codec["CodecProfile"] = "HIGH"
    return {"Codec": "H_264", "H264Settings": codec}


def _picture(job: _Job, *, hdr: bool = False) -> dict[str, Any]:
    """Colour and scan handling of one video output, decided from the probed source.

    An HDR source's SDR outputs (and its JPEG captures) are converted to BT.709 with the HDR
    tone mapper and say so in their colour metadata; its HDR outputs pass the source's colour
    through. An interlaced source is deinterlaced (adaptive: film cadences are detected and
    inverse-telecined, video fields interpolated). SDR progressive sources get nothing.
    """
    preprocessors: dict[str, Any] = {}
    if job.hdr_source and not hdr:
        preprocessors["ColorCorrector"] = {
            "ColorSpaceConversion": "FORCE_709",
            "HdrToSdrToneMapper": _tone_mapper(job),
        }
    if job.deinterlaced:
        preprocessors["Deinterlacer"] = {
            "Mode": "ADAPTIVE",
            "Algorithm": "INTERPOLATE",
            "Control": "NORMAL",
        }
    picture: dict[str, Any] = {}
    if job.hdr_source:
        picture["ColorMetadata"] = "INSERT"
    if preprocessors:
        picture["VideoPreprocessors"] = preprocessors
    return picture


def _tone_mapper(job: _Job) -> str:
    """The profile's choice; ``auto`` follows AWS: VIBRANT for HDR10, PRESERVE_DETAILS for HLG."""
    choice = str(job.quality["toneMapping"])
    if choice == "auto":
        return "VIBRANT" if job.hdr_source == "HDR10" else "PRESERVE_DETAILS"
    return choice.upper()


def _scaled_video(
    job: _Job,
    width: int,
    height: int,
    max_bitrate_kbps: int,
    qvbr_level: int,
    *,
    hdr: bool = False,
) -> dict[str, Any]:
    out_width, out_height = output_size(width, height, job.source)
    return {
        "Width": out_width,
        "Height": out_height,
        # Known source: the size already has its aspect ratio and is never larger.
        "ScalingBehavior": "FIT_NO_UPSCALE" if job.source is None else "STRETCH_TO_OUTPUT",
        "Sharpness": 50,
        "CodecSettings": _codec_settings(
            job, max_bitrate_kbps=max_bitrate_kbps, qvbr_level=qvbr_level, hdr=hdr
        ),
        **_picture(job, hdr=hdr),
    }


def _automated_video(job: _Job) -> dict[str, Any]:
    # No size or bitrate: automated ABR chooses the renditions (and never upscales).
    return {
        "ScalingBehavior": "DEFAULT",
        "Sharpness": 50,
        "CodecSettings": _codec_settings(job, max_bitrate_kbps=None, qvbr_level=None),
        **_picture(job),
    }


def _audio_descriptions(job: _Job, *, surround: bool = False) -> list[dict[str, Any]]:
    """The AAC audio of an output: the profile's stereo (or mono) mix, or the 5.1 rendition."""
    audio = job.spec["audio"]
    channels = 6 if surround else int(audio["channels"])
    description: dict[str, Any] = {
        "AudioSourceName": AUDIO_SELECTOR,
        "AudioTypeControl": "FOLLOW_INPUT",
        "LanguageCodeControl": "FOLLOW_INPUT",
        "CodecSettings": {
            "Codec": "AAC",
            "AacSettings": {
                "Bitrate": SURROUND_BITRATE if surround else int(audio["bitrateKbps"]) * 1000,
                "CodingMode": _AAC_CODING_MODES[channels],
                "SampleRate": int(audio["sampleRate"]),
                "CodecProfile": "LC",
                "RateControlMode": "CBR",
                "RawFormat": "NONE",
                "Specification": "MPEG4",
            },
        },
    }
    remix = None if surround else _remix(job, channels)
    if remix is not None:
        description["RemixSettings"] = remix
    loudness = job.quality["loudness"]
    if loudness["enabled"]:
        description["AudioNormalizationSettings"] = {
            # BS.1770-3: gated (EBU R128) loudness with the updated true-peak measurement.
            "Algorithm": "ITU_BS_1770_3",
            "AlgorithmControl": "CORRECT_AUDIO",
            "TargetLkfs": float(loudness["targetLkfs"]),
            "PeakCalculation": "TRUE_PEAK",
            "TruePeakLimiterThreshold": float(loudness["truePeakDbtp"]),
            "LoudnessLogging": "DONT_LOG",
        }
    return [description]


_AAC_CODING_MODES: Mapping[int, str] = {
    1: "CODING_MODE_1_0",
    2: "CODING_MODE_2_0",
    6: "CODING_MODE_5_1",
}


def _remix(job: _Job, channels_out: int) -> dict[str, Any] | None:
    """Mono sources fill both stereo channels; 5.1 is downmixed (ITU-R BS.775).

    Other layouts (and undescribed sources) are left to the AAC encoder's own channel
    handling, as before.
    """
    channels_in = job.source.audio_channels if job.source is not None else None
    if channels_in == 1 and channels_out == 2:
        mapping = [[0], [0]]
    elif channels_in == 6 and channels_out == 2:
        mapping = [list(_DOWNMIX_51[0]), list(_DOWNMIX_51[1])]
    elif channels_in == 6 and channels_out == 1:
        mapping = [[-3, -3, -3, -60, -6, -6]]
    else:
        return None
    return {
        "ChannelsIn": channels_in,
        "ChannelsOut": channels_out,
        "ChannelMapping": {"OutputChannels": [{"InputChannels": row} for row in mapping]},
    }


def _ladder(job: _Job) -> list[tuple[str, dict[str, Any]]]:
    """(name modifier, video description) per rendition worth encoding for this source."""
    if not job.with_video:
        return []
    if job.automated_abr:
        return [("_video", _automated_video(job))]
    outputs: list[tuple[str, dict[str, Any]]] = []
    sizes: set[tuple[int, int]] = set()
    for rung in select_renditions(job.spec["video"]["ladder"], job.source):
        description = _scaled_video(
            job, rung["width"], rung["height"], rung["maxBitrateKbps"], rung["qvbrLevel"]
        )
        size = (description["Width"], description["Height"])
        if size in sizes:
            continue  # two rungs capped to the same small source: encode it once
        sizes.add(size)
        outputs.append((f"_{rung['name']}", description))
    return outputs


def _hdr_ladder(job: _Job) -> list[tuple[str, dict[str, Any]]]:
    """HDR twins (HEVC Main10, the source's colour passed through) of the SDR renditions of
    720p and up, when the profile keeps HDR and the source is HDR."""
    if not (job.quality["hdrLadder"] and job.hdr_source) or job.automated_abr:
        return []
    outputs: list[tuple[str, dict[str, Any]]] = []
    for modifier, sdr in _ladder(job):
        if min(sdr["Width"], sdr["Height"]) < HDR_MIN_SHORT_SIDE and outputs:
            continue
        rung = next(r for r in job.spec["video"]["ladder"] if f"_{r['name']}" == modifier)
        description = _scaled_video(
            job,
            rung["width"],
            rung["height"],
            rung["maxBitrateKbps"],
            rung["qvbrLevel"],
            hdr=True,
        )
        outputs.append((modifier + HDR_NAME_SUFFIX, description))
    return outputs


def _caption_output(job: _Job, container: dict[str, Any], kind: str) -> dict[str, Any]:
    """A captions-only output: WebVTT for HLS and CMAF, TTML in fMP4 for DASH-ISO."""
    language = str(job.caption_language)
    destination: dict[str, Any] = {"DestinationType": kind}
    if kind == "WEBVTT":
        destination["WebvttDestinationSettings"] = {"StylePassthrough": "DISABLED"}
    output: dict[str, Any] = {
        "NameModifier": f"{CAPTIONS_NAME_MODIFIER}_{language}",
        "ContainerSettings": container,
        "CaptionDescriptions": [
            {
                "CaptionSelectorName": CAPTION_SELECTOR,
                "DestinationSettings": destination,
                "CustomLanguageCode": language,
            }
        ],
    }
    return output


def _automated_abr_settings(job: _Job) -> dict[str, Any]:
    abr = job.spec["transcoding"]["automatedAbr"]
    return {
        "AbrSettings": {
            "MaxRenditions": int(abr["maxRenditions"]),
            "MaxAbrBitrate": int(abr["maxBitrateKbps"]) * 1000,
            "MinAbrBitrate": int(abr["minBitrateKbps"]) * 1000,
        }
    }


def _abr_group(
    job: _Job,
    name: str,
    settings_key: str,
    group_type: str,
    group_settings: dict[str, Any],
    outputs: list[dict[str, Any]],
) -> dict[str, Any]:
    group: dict[str, Any] = {
        "Name": name,
        "OutputGroupSettings": {"Type": group_type, settings_key: group_settings},
        "Outputs": outputs,
    }
    if job.automated_abr and job.with_video:
        group["AutomatedEncodingSettings"] = _automated_abr_settings(job)
    return group


def _video_output(modifier: str, container: str, description: dict[str, Any]) -> dict[str, Any]:
    return {
        "NameModifier": modifier,
        "ContainerSettings": {"Container": container},
        "VideoDescription": description,
    }


# --- output groups --------------------------------------------------------------------------


def _cmaf_group(job: _Job) -> dict[str, Any]:
    video, formats = job.spec["video"], job.spec["formats"]
    segment = int(video["segmentSeconds"])
    settings = _group_settings(
        job,
        Format.CMAF.value,
        {
            "SegmentLength": segment,
            "FragmentLength": fragment_seconds(float(video["gopSeconds"]), segment),
            "SegmentControl": "SEGMENTED_FILES",
            "SegmentLengthControl": "GOP_MULTIPLE",
            "WriteHlsManifest": "ENABLED" if formats["hls"] else "DISABLED",
            "WriteDashManifest": "ENABLED" if formats["dash"] else "DISABLED",
            "MpdProfile": "MAIN_PROFILE",
            "ManifestDurationFormat": "FLOATING_POINT",
            "StreamInfResolution": "INCLUDE",
            "CodecSpecification": "RFC_6381",
            "WriteSegmentTimelineInRepresentation": "ENABLED",
            "ClientCache": "ENABLED",
            "ManifestCompression": "NONE",
            **_trick_play(job),
        },
    )
    outputs = [
        _video_output(modifier, "CMFC", description)
        for modifier, description in _ladder(job) + _hdr_ladder(job)
    ]
    if job.with_audio:
        # Audio is its own CMAF track: encoded once, shared by every video rendition.
        container: dict[str, Any] = {"Container": "CMFC"}
        if not job.with_video:
            container["CmfcSettings"] = {"AudioTrackType": "AUDIO_ONLY_VARIANT_STREAM"}
        outputs.append(
            {
                "NameModifier": AUDIO_NAME_MODIFIER,
                "ContainerSettings": container,
                "AudioDescriptions": _audio_descriptions(job),
            }
        )
        if job.surround:
            # A second rendition in the same audio group: players that can decode 5.1
            # offer it; the stereo downmix stays the default.
            outputs.append(
                {
                    "NameModifier": SURROUND_NAME_MODIFIER,
                    "ContainerSettings": {
                        "Container": "CMFC",
                        "CmfcSettings": {"AudioTrackType": "ALTERNATE_AUDIO_AUTO_SELECT"},
                    },
                    "AudioDescriptions": _audio_descriptions(job, surround=True),
                }
            )
    if job.caption_language:
        outputs.append(_caption_output(job, {"Container": "CMFC"}, "WEBVTT"))
    return _abr_group(job, "CMAF", "CmafGroupSettings", "CMAF_GROUP_SETTINGS", settings, outputs)


def _trick_play(job: _Job) -> dict[str, Any]:
    """Image-based trick play: tiled JPEG thumbnails listed in the HLS and DASH manifests."""
    if not job.quality["trickPlay"] or not job.with_video:
        return {}
    return {"ImageBasedTrickPlay": "THUMBNAIL"}


def _hls_group(job: _Job) -> dict[str, Any]:
    settings = _group_settings(
        job,
        Format.HLS.value,
        {
            "SegmentLength": int(job.spec["video"]["segmentSeconds"]),
            "MinSegmentLength": 0,
            "SegmentControl": "SEGMENTED_FILES",
            "SegmentLengthControl": "GOP_MULTIPLE",
            "DirectoryStructure": "SINGLE_DIRECTORY",
            "OutputSelection": "MANIFESTS_AND_SEGMENTS",
            "ManifestDurationFormat": "FLOATING_POINT",
            "StreamInfResolution": "INCLUDE",
            "CodecSpecification": "RFC_4281",
            "ProgramDateTime": "EXCLUDE",
            "ClientCache": "ENABLED",
            "ManifestCompression": "NONE",
        },
    )
    outputs: list[dict[str, Any]] = []
    for modifier, description in _ladder(job):
        # Legacy players want audio muxed into every TS rendition.
        output: dict[str, Any] = {
            "NameModifier": modifier,
            "ContainerSettings": {"Container": "M3U8", "M3u8Settings": {}},
            "OutputSettings": {"HlsSettings": {}},
            "VideoDescription": description,
        }
        if job.with_audio:
            output["AudioDescriptions"] = _audio_descriptions(job)
        outputs.append(output)
    if not job.with_video:
        outputs.append(
            {
                "NameModifier": AUDIO_NAME_MODIFIER,
                "ContainerSettings": {"Container": "M3U8", "M3u8Settings": {}},
                "OutputSettings": {
                    "HlsSettings": {
                        "AudioTrackType": "AUDIO_ONLY_VARIANT_STREAM",
                        "AudioOnlyContainer": "AUTOMATIC",
                    }
                },
                "AudioDescriptions": _audio_descriptions(job),
            }
        )
    if job.caption_language:
        container = {"Container": "M3U8", "M3u8Settings": {}}
        output = _caption_output(job, container, "WEBVTT")
        outputs.append({**output, "OutputSettings": {"HlsSettings": {}}})
    return _abr_group(job, "HLS", "HlsGroupSettings", "HLS_GROUP_SETTINGS", settings, outputs)


def _dash_group(job: _Job) -> dict[str, Any]:
    video = job.spec["video"]
    segment = int(video["segmentSeconds"])
    settings = _group_settings(
        job,
        Format.DASH.value,
        {
            "SegmentLength": segment,
            "FragmentLength": fragment_seconds(float(video["gopSeconds"]), segment),
            "SegmentControl": "SEGMENTED_FILES",
            "SegmentLengthControl": "GOP_MULTIPLE",
            "MpdProfile": "MAIN_PROFILE",
            "HbbtvCompliance": "NONE",
            "WriteSegmentTimelineInRepresentation": "ENABLED",
        },
    )
    # DASH-ISO representations carry one track each: video renditions, then the audio.
    outputs = [
        _video_output(modifier, "MPD", description) for modifier, description in _ladder(job)
    ]
    if job.with_audio:
        outputs.append(
            {
                "NameModifier": AUDIO_NAME_MODIFIER,
                "ContainerSettings": {"Container": "MPD"},
                "AudioDescriptions": _audio_descriptions(job),
            }
        )
    if job.caption_language:
        # DASH-ISO cannot carry WebVTT: TTML in fragmented MP4 is its sidecar format.
        container = {"Container": "MPD", "MpdSettings": {"CaptionContainerType": "FRAGMENTED_MP4"}}
        outputs.append(_caption_output(job, container, "TTML"))
    return _abr_group(
        job, "DASH ISO", "DashIsoGroupSettings", "DASH_ISO_GROUP_SETTINGS", settings, outputs
    )


def _mp4_group(job: _Job) -> dict[str, Any]:
    previews = [
        {**preview, "width": even(int(preview["height"]) * _PREVIEW_ASPECT)}
        for preview in job.spec["formats"]["mp4"]["previews"]
    ]
    outputs: list[dict[str, Any]] = []
    for preview in select_renditions(previews, job.source):
        output: dict[str, Any] = {
            "NameModifier": f"_{preview['name']}",
            "Extension": "mp4",
            "ContainerSettings": {
                "Container": "MP4",
                # moov first: a preview starts playing before it has fully downloaded.
                "Mp4Settings": {
                    "MoovPlacement": "PROGRESSIVE_DOWNLOAD",
                    "CslgAtom": "INCLUDE",
                    "FreeSpaceBox": "EXCLUDE",
                },
            },
            "VideoDescription": _scaled_video(
                job,
                preview["width"],
                preview["height"],
                preview["maxBitrateKbps"],
                preview["qvbrLevel"],
            ),
        }
        if job.with_audio:
            output["AudioDescriptions"] = _audio_descriptions(job)
        outputs.append(output)
    return {
        "Name": "MP4 previews",
        "OutputGroupSettings": {
            "Type": "FILE_GROUP_SETTINGS",
            "FileGroupSettings": _group_settings(job, Format.MP4.value, {}),
        },
        "Outputs": outputs,
    }


def thumbnail_interval(spec: Mapping[str, Any], source: SourceInfo | None) -> int:
    """Seconds between thumbnails: the profile's, closer for clips too short for it.

    A clip gets at least :data:`MIN_CAPTURES_PER_CLIP` captures when it lasts that many
    seconds, so a 6-second phone clip with a 10-second interval still has frames after the
    first (often black) one to pick a poster from.
    """
    interval = int(spec["formats"]["thumbnails"]["intervalSeconds"])
    duration = source.duration_seconds if source is not None else None
    if duration is None:
        return interval
    return max(1, min(interval, int(duration // MIN_CAPTURES_PER_CLIP)))


def _capture_count(spec: Mapping[str, Any], source: SourceInfo | None) -> int | None:
    """How many captures the thumbnails output writes for this source (None: unknown)."""
    if source is None or source.duration_seconds is None:
        return None
    thumbnails = spec["formats"]["thumbnails"]
    interval = thumbnail_interval(spec, source)
    taken = int(source.duration_seconds // interval) + 1
    return max(1, min(int(thumbnails["maxCaptures"]), taken))


def poster_path(spec: Mapping[str, Any], source: SourceInfo | None) -> str | None:
    """The poster, relative to the asset's prefix: one of the thumbnails, e.g.
    ``thumbnails/image_thumb.0000003.jpg``; None without thumbnails or poster.

    The rule: the capture nearest ``posterPositionPercent`` of the duration, but never capture
    0 (fades in from black) when there is a later one. Without a duration (Probe unavailable)
    it is capture 1 when the profile allows more than one, else capture 0.
    """
    thumbnails = spec["formats"]["thumbnails"]
    if not (thumbnails["enabled"] and thumbnails["poster"]):
        return None
    if source is not None and not source.has_video:
        return None
    count = _capture_count(spec, source)
    if count is None:
        index = 1 if int(thumbnails["maxCaptures"]) > 1 else 0
    else:
        interval = thumbnail_interval(spec, source)
        position = float(source.duration_seconds or 0) * spec["quality"]["posterPositionPercent"]
        index = min(count - 1, max(1, round(position / 100 / interval)))
        index = index if count > 1 else 0
    base = BASE_NAMES[Format.THUMBNAILS.value]
    return f"{Format.THUMBNAILS.value}/{base}{THUMBNAIL_NAME_MODIFIER}.{index:07d}.jpg"


def _thumbnails_group(job: _Job) -> dict[str, Any]:
    """One frame-capture output serves thumbnails and poster.

    MediaConvert bills a frame-capture output for the duration of the source (its COMPLETE
    event reports the whole duration for it), so a second, single-frame poster output would
    cost as much as all the thumbnails; the poster is one of the captures (:func:`poster_path`).
    """
    thumbnails = job.spec["formats"]["thumbnails"]
    width, height = output_size(int(thumbnails["width"]), int(thumbnails["height"]), job.source)
    interval = thumbnail_interval(job.spec, job.source)
    capture = {
        "NameModifier": THUMBNAIL_NAME_MODIFIER,
        "Extension": "jpg",
        "ContainerSettings": {"Container": "RAW"},
        "VideoDescription": {
            "Width": width,
            "Height": height,
            "ScalingBehavior": "FIT_NO_UPSCALE" if job.source is None else "STRETCH_TO_OUTPUT",
            "CodecSettings": {
                "Codec": "FRAME_CAPTURE",
                # The first frame, then one every `interval` seconds.
                "FrameCaptureSettings": {
                    "FramerateNumerator": 1,
                    "FramerateDenominator": interval,
                    "MaxCaptures": int(thumbnails["maxCaptures"]),
                    "Quality": int(thumbnails["quality"]),
                },
            },
            **_picture(job),
        },
    }
    return {
        "Name": "Thumbnails",
        "OutputGroupSettings": {
            "Type": "FILE_GROUP_SETTINGS",
            "FileGroupSettings": _group_settings(job, Format.THUMBNAILS.value, {}),
        },
        "Outputs": [capture],
    }


_GROUP_BUILDERS = {
    Format.CMAF.value: _cmaf_group,
    Format.HLS.value: _hls_group,
    Format.DASH.value: _dash_group,
    Format.MP4.value: _mp4_group,
    Format.THUMBNAILS.value: _thumbnails_group,
}


# ------------------------------------------------------------------------------------------
# The CreateJob request
# ------------------------------------------------------------------------------------------


def iter_outputs(settings: Mapping[str, Any]) -> Iterator[tuple[int, int, Mapping[str, Any]]]:
    """(group index, output index, output) for every output of a settings document."""
    for group_index, group in enumerate(settings.get("OutputGroups", [])):
        for output_index, output in enumerate(group.get("Outputs", [])):
            yield group_index, output_index, output


def _is_accelerable_video(output: Mapping[str, Any]) -> bool:
    codec = output.get("VideoDescription", {}).get("CodecSettings", {}).get("Codec")
    return codec in ("H_264", "H_265")


def acceleration_mode(spec: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """``AccelerationSettings.Mode`` for a job with these ``settings``.

    Accelerated transcoding needs every output to carry video (no audio-only or frame-capture
    outputs). A job with no accelerable output is not accelerated; when the profile says
    ``enabled`` but the job also has such outputs, ``PREFERRED`` is used, because ``ENABLED``
    would fail the job instead of running it at standard speed.
    """
    wanted = spec["transcoding"]["acceleration"]
    outputs = [output for _, _, output in iter_outputs(settings)]
    if wanted == "disabled" or not any(_is_accelerable_video(o) for o in outputs):
        return "DISABLED"
    if wanted == "enabled" and not all(_is_accelerable_video(o) for o in outputs):
        return "PREFERRED"
    return str(wanted).upper()


def status_update_interval(spec: Mapping[str, Any]) -> str:
    """The ``StatusUpdateInterval`` enum value, e.g. ``SECONDS_60``."""
    return f"SECONDS_{int(spec['transcoding']['statusUpdateIntervalSeconds'])}"


def client_request_token(pipeline_id: str, asset_id: str, job_format: str, attempt: int) -> str:
    """A deterministic ``ClientRequestToken`` (64 hex characters, the API's maximum).

    MediaConvert returns the original job for a token reused within a minute, so an
    orchestrator that crashed after CreateJob and retries straight away does not start a
    second, billed job. A new ``attempt`` (a deliberate resubmission) gets a new token.
    """
    key = "\n".join((pipeline_id, asset_id, job_format, str(attempt)))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def build_create_job_request(
    spec: Mapping[str, Any],
    *,
    job_format: str,
    asset_id: str,
    input_uri: str,
    destination: str,
    source: SourceInfo | None,
    role_arn: str,
    queue_arn: str,
    pipeline_id: str,
    kms_key_arn: str,
    attempt: int = 1,
    sidecar: CaptionFile | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``mediaconvert.create_job(**request)``."""
    if attempt < 1:
        raise ValueError(f"attempt counts from 1 (got {attempt})")
    settings = build_job_settings(
        spec,
        job_format,
        input_uri=input_uri,
        destination=destination,
        source=source,
        kms_key_arn=kms_key_arn,
        sidecar=sidecar,
    )
    transcoding = spec["transcoding"]
    return {
        "Role": role_arn,
        "Queue": queue_arn,
        "Settings": settings,
        # The status processor and the job-state rule recognise this stack's jobs by these.
        "UserMetadata": {
            contract.META_ASSET_ID: asset_id,
            contract.META_FORMAT: job_format,
            contract.META_PIPELINE_ID: pipeline_id,
            contract.META_ATTEMPT: str(attempt),
        },
        "StatusUpdateInterval": status_update_interval(spec),
        "Priority": int(transcoding["priority"]),
        "AccelerationSettings": {"Mode": acceleration_mode(spec, settings)},
        "BillingTagsSource": _BILLING_TAGS_SOURCE,
        "ClientRequestToken": client_request_token(pipeline_id, asset_id, job_format, attempt),
    }
