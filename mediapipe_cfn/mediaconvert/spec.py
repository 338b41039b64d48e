"""The profile's transcoding settings as the small JSON document the builder consumes.

The settings builder (:mod:`mediapipe_cfn.mediaconvert.settings`) runs in the template
generator, in the cost estimate and in the orchestrator Lambda, which has no pydantic and no
profile: all three read this spec. It travels in the stack's SSM runtime-config parameter, so it
is compact (camelCase keys, no defaults repeated elsewhere) and versioned.
"""

from __future__ import annotations

from typing import Any

from mediapipe_cfn.profile.model import Profile

SPEC_VERSION = 1


def transcode_spec(profile: Profile) -> dict[str, Any]:
    """Everything the settings builder needs from ``profile``, as JSON-able data."""
    return {
        "version": SPEC_VERSION,
        "video": _video(profile),
        "audio": _audio(profile),
        "formats": _formats(profile),
        "transcoding": _transcoding(profile),
        "quality": _quality(profile),
    }


def _video(profile: Profile) -> dict[str, Any]:
    video = profile.video
    return {
        "codec": video.codec,
        "qualityTuning": video.quality_tuning,
        "gopSeconds": video.gop_seconds,
        "segmentSeconds": video.segment_seconds,
        "ladder": [
            {
                "name": rung.name,
                "width": rung.width,
                "height": rung.height,
                "maxBitrateKbps": rung.max_bitrate_kbps,
                "qvbrLevel": rung.qvbr_level,
            }
            for rung in video.ladder
        ],
    }


def _audio(profile: Profile) -> dict[str, Any]:
    audio = profile.audio
    return {
        "codec": audio.codec,
        "bitrateKbps": audio.bitrate_kbps,
        "sampleRate": audio.sample_rate,
        "channels": audio.channels,
    }


def _formats(profile: Profile) -> dict[str, Any]:
    formats = profile.formats
    thumbnails = formats.thumbnails
    return {
        "packaging": formats.packaging.mode,
        "hls": formats.packaging.hls.enabled,
        "dash": formats.packaging.dash.enabled,
        "mp4": {
            "enabled": formats.mp4.enabled,
            "previews": [
                {
                    "name": preview.name,
                    "height": preview.height,
                    "maxBitrateKbps": preview.max_bitrate_kbps,
                    "qvbrLevel": preview.qvbr_level,
                }
                for preview in formats.mp4.previews
            ],
        },
        "thumbnails": {
            "enabled": thumbnails.enabled,
            "intervalSeconds": thumbnails.interval_seconds,
            "width": thumbnails.width,
            "height": thumbnails.height,
            "maxCaptures": thumbnails.max_captures,
            "quality": thumbnails.quality,
            "poster": thumbnails.poster,
        },
    }


def _transcoding(profile: Profile) -> dict[str, Any]:
    transcoding = profile.transcoding
    abr = transcoding.automated_abr
    return {
        "grouping": transcoding.job_grouping,
        "acceleration": transcoding.acceleration,
        "statusUpdateIntervalSeconds": transcoding.status_update_interval_seconds,
        "priority": transcoding.priority,
        "automatedAbr": {
            "enabled": abr.enabled,
            "maxRenditions": abr.max_renditions,
            "minBitrateKbps": abr.min_bitrate_kbps,
            "maxBitrateKbps": abr.max_bitrate_kbps,
        },
    }


def _quality(profile: Profile) -> dict[str, Any]:
    quality = profile.quality
    loudness, captions = quality.loudness, quality.captions
    return {
        "hdrLadder": quality.hdr_ladder,
        "toneMapping": quality.tone_mapping,
        "deinterlace": quality.deinterlace,
        "loudness": {
            "enabled": loudness.enabled,
            "targetLkfs": loudness.target_lkfs,
            "truePeakDbtp": loudness.true_peak_dbtp,
        },
        "surroundRendition": quality.surround_rendition,
        "posterPositionPercent": quality.poster_position_percent,
        "trickPlay": quality.trick_play,
        "captions": {
            "sidecarExtensions": list(captions.sidecar_extensions),
            "language": captions.language,
            "embedded": captions.embedded,
        },
    }
