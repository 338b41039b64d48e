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
    "SUPPORTED_SPEC_VERSION",
    "acceleration_mode",
    "build_create_job_request",
    "build_job_settings",
    "client_request_token",
    "fragment_seconds",
    "iter_outputs",
    "job_formats",
    "job_groups",
    "job_template_settings",
    "output_formats",
    "plan_jobs",
    "status_update_interval",
]

SUPPORTED_SPEC_VERSION = 1
AUDIO_SELECTOR = "Audio Selector 1"
AUDIO_NAME_MODIFIER = "_audio"
THUMBNAIL_NAME_MODIFIER = "_thumb"
POSTER_NAME_MODIFIER = "_poster"
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
class _Job:
    """What every group builder of one job needs to know."""

    spec: Mapping[str, Any]
    source: SourceInfo | None
    destination: str | None
    kms_key_arn: str | None

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
    job = _Job(spec=spec, source=source, destination=destination, kms_key_arn=kms_key_arn)
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
        settings["VideoSelector"] = {"Rotate": "AUTO"}
    if job.with_audio:
        settings["AudioSelectors"] = {AUDIO_SELECTOR: {"DefaultSelection": "DEFAULT"}}
    return settings


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
    job: _Job, *, max_bitrate_kbps: int | None, qvbr_level: int | None
) -> dict[str, Any]:
    """QVBR H.264/H.265 with a fixed closed GOP in seconds, shared by every video output."""
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
    if video["codec"] == "h265":
        codec["CodecProfile"] = "MAIN_MAIN"
        # 'hvc1' sample entries: what Apple players require for HEVC in fMP4.
        codec["WriteMp4PackagingType"] = "HVC1"
        return {"Codec": "H_265", "H265Settings": codec}
    codec["CodecProfile"] = "HIGH"
    return {"Codec": "H_264", "H264Settings": codec}


def _scaled_video(
    job: _Job, width: int, height: int, max_bitrate_kbps: int, qvbr_level: int
) -> dict[str, Any]:
    out_width, out_height = output_size(width, height, job.source)
    return {
        "Width": out_width,
        "Height": out_height,
        # Known source: the size already has its aspect ratio and is never larger.
        "ScalingBehavior": "FIT_NO_UPSCALE" if job.source is None else "STRETCH_TO_OUTPUT",
        "Sharpness": 50,
        "CodecSettings": _codec_settings(
            job, max_bitrate_kbps=max_bitrate_kbps, qvbr_level=qvbr_level
        ),
    }


def _automated_video(job: _Job) -> dict[str, Any]:
    # No size or bitrate: automated ABR chooses the renditions (and never upscales).
    return {
        "ScalingBehavior": "DEFAULT",
        "Sharpness": 50,
        "CodecSettings": _codec_settings(job, max_bitrate_kbps=None, qvbr_level=None),
    }


def _audio_descriptions(job: _Job) -> list[dict[str, Any]]:
    audio = job.spec["audio"]
    return [
        {
            "AudioSourceName": AUDIO_SELECTOR,
            "AudioTypeControl": "FOLLOW_INPUT",
            "LanguageCodeControl": "FOLLOW_INPUT",
            "CodecSettings": {
                "Codec": "AAC",
                "AacSettings": {
                    "Bitrate": int(audio["bitrateKbps"]) * 1000,
                    "CodingMode": "CODING_MODE_2_0"
                    if int(audio["channels"]) == 2
                    else "CODING_MODE_1_0",
                    "SampleRate": int(audio["sampleRate"]),
                    "CodecProfile": "LC",
                    "RateControlMode": "CBR",
                    "RawFormat": "NONE",
                    "Specification": "MPEG4",
                },
            },
        }
    ]


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
        },
    )
    outputs = [
        _video_output(modifier, "CMFC", description) for modifier, description in _ladder(job)
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
    return _abr_group(job, "CMAF", "CmafGroupSettings", "CMAF_GROUP_SETTINGS", settings, outputs)


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


def _frame_capture(
    job: _Job, width: int, height: int, *, interval: int, max_captures: int, quality: int
) -> dict[str, Any]:
    out_width, out_height = output_size(width, height, job.source)
    return {
        "Width": out_width,
        "Height": out_height,
        "ScalingBehavior": "FIT_NO_UPSCALE" if job.source is None else "STRETCH_TO_OUTPUT",
        "CodecSettings": {
            "Codec": "FRAME_CAPTURE",
            # The first frame, then one every `interval` seconds.
            "FrameCaptureSettings": {
                "FramerateNumerator": 1,
                "FramerateDenominator": interval,
                "MaxCaptures": max_captures,
                "Quality": quality,
            },
        },
    }


def _thumbnails_group(job: _Job) -> dict[str, Any]:
    thumbnails = job.spec["formats"]["thumbnails"]
    outputs: list[dict[str, Any]] = [
        {
            "NameModifier": THUMBNAIL_NAME_MODIFIER,
            "Extension": "jpg",
            "ContainerSettings": {"Container": "RAW"},
            "VideoDescription": _frame_capture(
                job,
                int(thumbnails["width"]),
                int(thumbnails["height"]),
                interval=int(thumbnails["intervalSeconds"]),
                max_captures=int(thumbnails["maxCaptures"]),
                quality=int(thumbnails["quality"]),
            ),
        }
    ]
    if thumbnails["poster"]:
        # One full-size frame at the top rendition's size, for players and catalogue pages.
        top = select_renditions(job.spec["video"]["ladder"], job.source)[0]
        outputs.append(
            {
                "NameModifier": POSTER_NAME_MODIFIER,
                "Extension": "jpg",
                "ContainerSettings": {"Container": "RAW"},
                "VideoDescription": _frame_capture(
                    job,
                    int(top["width"]),
                    int(top["height"]),
                    interval=1,
                    max_captures=1,
                    quality=int(thumbnails["quality"]),
                ),
            }
        )
    return {
        "Name": "Thumbnails",
        "OutputGroupSettings": {
            "Type": "FILE_GROUP_SETTINGS",
            "FileGroupSettings": _group_settings(job, Format.THUMBNAILS.value, {}),
        },
        "Outputs": outputs,
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
