"""What a source is, and which renditions of the ladder it deserves.

The orchestrator asks MediaConvert's ``Probe`` API about an upload before creating any job;
:meth:`SourceInfo.from_probe` turns one element of the answer's ``ProbeResults`` into the few
facts the settings builder needs. :func:`select_renditions` then drops the rungs a source is too
small for, comparing in the source's orientation (for 16:9 pictures, by the *short* side) so
that a portrait phone video (1080x1920) keeps the same rungs as its landscape twin, and
:func:`output_size` fits the source's picture into each kept rung, never upscaling.

Standard library only: this module is bundled into the Lambda handler zip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AUTO_ROTATED_CONTAINERS",
    "EMBEDDED_CAPTION_CODECS",
    "HDR_TRANSFERS",
    "UPSCALE_TOLERANCE",
    "SourceInfo",
    "UnusableSourceError",
    "even",
    "fit_scale",
    "output_size",
    "rendition_short_side",
    "select_renditions",
]

# A rung stays when it would enlarge the source by at most this much: a 1080p upload cropped to
# 1900x1068 still gets its 1080p rung (encoded at the source's size, never upscaled).
UPSCALE_TOLERANCE = 0.03
# MediaConvert's smallest frame side (VideoDescription.Width/Height minimum).
MIN_SIDE = 32
# Containers whose rotation metadata MediaConvert applies with `Rotate: AUTO` (Probe's
# Container.Format values); other containers are encoded as stored, so their rotation is ignored.
AUTO_ROTATED_CONTAINERS = frozenset({"mp4", "quicktime"})
# Probe's TransferCharacteristics of the HDR formats MediaConvert reads: PQ is HDR10 (also the
# base layer of Dolby Vision profile 8.1), ARIB STD-B67 is HLG (also Dolby Vision 8.4, the
# iPhone's format). Anything else is treated as SDR.
HDR_TRANSFERS: Mapping[str, str] = {"SMPTE_2084": "HDR10", "ARIB_B67": "HLG"}
# Probe's data-track codecs of captions embedded in the video.
EMBEDDED_CAPTION_CODECS = frozenset({"C608", "C708"})


class UnusableSourceError(ValueError):
    """The source cannot produce any output this profile asks for (a permanent failure).

    The message says exactly why, e.g. "the source has no video or audio track (video track 1:
    codec UNKNOWN)", so the asset record tells the uploader what to fix.
    """


@dataclass(frozen=True)
class SourceInfo:
    """The facts about an upload that decide which outputs it gets.

    ``width``/``height`` are the coded frame size; ``rotation`` (clockwise degrees, from the
    container) and ``sample_aspect_ratio`` turn them into the displayed size. ``problems`` lists
    tracks that were present but unusable, so an error can say why nothing is left.
    """

    width: int | None
    height: int | None
    rotation: int = 0
    duration_seconds: float | None = None
    has_video: bool = True
    has_audio: bool = True
    video_codec: str | None = None
    frame_rate: float | None = None
    sample_aspect_ratio: float | None = None
    problems: tuple[str, ...] = ()
    hdr: str | None = None  # "HDR10" or "HLG"; None for SDR or unknown
    interlaced: bool = False
    audio_channels: int | None = None
    embedded_captions: tuple[str, ...] = ()  # e.g. ("C608",)
    caption_language: str | None = None  # ISO 639-2 of the embedded captions, when reported

    @classmethod
    def from_probe(cls, probe_result: Mapping[str, Any]) -> SourceInfo:
        """Read one element of a ``Probe`` response's ``ProbeResults``.

        Probe omits any field it cannot read for the container/codec, so every member is
        optional here. The first usable video track (a known codec and a frame size) is the
        video; any audio track with a known codec counts as audio.
        """
        container = probe_result.get("Container") or {}
        tracks = [t for t in container.get("Tracks") or [] if isinstance(t, Mapping)]
        problems: list[str] = []
        video = _first_usable_video_track(tracks, problems)
        has_audio = _has_usable_audio_track(tracks, problems)
        duration = _positive_float(container.get("Duration"))
        audio_channels = _audio_channels(tracks)
        if video is None:
            return cls(
                width=None,
                height=None,
                duration_seconds=duration,
                has_video=False,
                has_audio=has_audio,
                problems=tuple(problems),
                audio_channels=audio_channels,
            )
        properties = video.get("VideoProperties") or {}
        codec_metadata = properties.get("CodecMetadata") or {}
        return cls(
            width=int(properties["Width"]),
            height=int(properties["Height"]),
            rotation=_applied_rotation(container.get("Format"), properties.get("Rotation")),
            duration_seconds=duration or _positive_float(video.get("Duration")),
            has_video=True,
            has_audio=has_audio,
            video_codec=video.get("Codec"),
            frame_rate=_ratio(properties.get("FrameRate")),
            sample_aspect_ratio=_ratio(properties.get("SampleAspectRatio")),
            problems=tuple(problems),
            hdr=_hdr_format(properties, codec_metadata),
            interlaced=_is_interlaced(codec_metadata),
            audio_channels=audio_channels,
            embedded_captions=_embedded_captions(tracks),
            caption_language=_caption_language(tracks),
        )

    @property
    def display_width(self) -> int | None:
        """Width as shown to a viewer (after rotation and non-square pixels)."""
        size = self._display_size()
        return size[0] if size else None

    @property
    def display_height(self) -> int | None:
        """Height as shown to a viewer (after rotation and non-square pixels)."""
        size = self._display_size()
        return size[1] if size else None

    @property
    def short_side(self) -> int | None:
        size = self._display_size()
        return min(size) if size else None

    @property
    def is_portrait(self) -> bool:
        size = self._display_size()
        return bool(size) and size[1] > size[0]

    def _display_size(self) -> tuple[int, int] | None:
        if not self.has_video or not self.width or not self.height:
            return None
        width = self.width
        if self.sample_aspect_ratio and not math.isclose(self.sample_aspect_ratio, 1.0):
            # Anamorphic sources store fewer columns than they show.
            width = round(width * self.sample_aspect_ratio)
        if self.rotation in (90, 270):
            return self.height, width
        return width, self.height


def _first_usable_video_track(
    tracks: Sequence[Mapping[str, Any]], problems: list[str]
) -> Mapping[str, Any] | None:
    for position, track in enumerate(tracks, start=1):
        if track.get("TrackType") != "video":
            continue
        number = _track_number(track, position)
        properties = track.get("VideoProperties") or {}
        if track.get("Codec") in (None, "UNKNOWN"):
            problems.append(f"video track {number}: codec not recognised")
        elif not _positive_int(properties.get("Width")) or not _positive_int(
            properties.get("Height")
        ):
            problems.append(f"video track {number}: no frame size")
        else:
            return track
    return None


def _has_usable_audio_track(tracks: Sequence[Mapping[str, Any]], problems: list[str]) -> bool:
    usable = False
    for position, track in enumerate(tracks, start=1):
        if track.get("TrackType") != "audio":
            continue
        number = _track_number(track, position)
        if track.get("Codec") in (None, "UNKNOWN"):
            problems.append(f"audio track {number}: codec not recognised")
        else:
            usable = True
    return usable


def _hdr_format(properties: Mapping[str, Any], codec_metadata: Mapping[str, Any]) -> str | None:
    """HDR10 or HLG from the transfer function (the container's, else the codec's)."""
    transfer = properties.get("TransferCharacteristics") or codec_metadata.get(
        "TransferCharacteristics"
    )
    return HDR_TRANSFERS.get(str(transfer)) if transfer else None


def _is_interlaced(codec_metadata: Mapping[str, Any]) -> bool:
    """Interlaced when the essence says so: a scan type, or a field order (interlaced only)."""
    scan_type = str(codec_metadata.get("ScanType") or "").lower()
    return scan_type.startswith("interlace") or bool(codec_metadata.get("FieldOrder"))


def _audio_channels(tracks: Sequence[Mapping[str, Any]]) -> int | None:
    """Channels of the first usable audio track (the one the default selector picks)."""
    for track in tracks:
        if track.get("TrackType") == "audio" and track.get("Codec") not in (None, "UNKNOWN"):
            channels = (track.get("AudioProperties") or {}).get("Channels")
            return channels if _positive_int(channels) else None
    return None


def _embedded_captions(tracks: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    found = {str(t.get("Codec")) for t in tracks if t.get("Codec") in EMBEDDED_CAPTION_CODECS}
    return tuple(sorted(found))


def _caption_language(tracks: Sequence[Mapping[str, Any]]) -> str | None:
    """The first caption track's language, when Probe reports an ISO 639-2 code."""
    for track in tracks:
        if track.get("Codec") in EMBEDDED_CAPTION_CODECS:
            code = str((track.get("DataProperties") or {}).get("LanguageCode") or "").lower()
            return code if len(code) == 3 and code.isalpha() and code.isascii() else None
    return None


def _track_number(track: Mapping[str, Any], position: int) -> int:
    """The track's own index when Probe gives one (what a user sees in a media tool)."""
    index = track.get("Index")
    return index if _positive_int(index) else position


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _positive_float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def _ratio(value: Any) -> float | None:
    """``{"Numerator": n, "Denominator": d}`` as a float, or None when absent or degenerate."""
    if not isinstance(value, Mapping):
        return None
    numerator, denominator = value.get("Numerator"), value.get("Denominator")
    if _positive_int(numerator) and _positive_int(denominator):
        return numerator / denominator
    return None


def _applied_rotation(container_format: Any, value: Any) -> int:
    """The rotation MediaConvert will apply: none for containers it does not auto-rotate."""
    if container_format is not None and container_format not in AUTO_ROTATED_CONTAINERS:
        return 0
    return _normalized_rotation(value)


def _normalized_rotation(value: Any) -> int:
    """Rotation snapped to 0/90/180/270 (Probe reports null for none or odd matrices)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return 0
    return (round(value / 90) * 90) % 360


def even(value: float) -> int:
    """The nearest even integer (4:2:0 video needs even sides), at least MIN_SIDE."""
    return max(MIN_SIDE, 2 * round(value / 2))


def rendition_short_side(rung: Mapping[str, Any]) -> int:
    """A rung is named by its short side (1080p is 1080 whichever way up)."""
    return min(int(rung["width"]), int(rung["height"]))


def fit_scale(width: int, height: int, source: SourceInfo) -> float:
    """How much the source must be scaled to fit a ``width`` x ``height`` box turned its way.

    The box is turned to the source's orientation, so a 1920x1080 rung holds a 1080x1920
    portrait video whole. Above 1 the rung would enlarge the source.
    """
    box_long, box_short = max(width, height), min(width, height)
    source_long = max(source.display_width or 0, source.display_height or 0)
    source_short = source.short_side or 0
    return min(box_long / source_long, box_short / source_short)


def select_renditions(
    ladder: Sequence[Mapping[str, Any]], source: SourceInfo | None
) -> list[dict[str, Any]]:
    """The rungs of ``ladder`` worth encoding for ``source``, in ladder order.

    Without a source description (Probe unavailable) the whole ladder is kept and the builder
    relies on ``FIT_NO_UPSCALE``. Otherwise a rung is dropped when it would enlarge the source
    by more than :data:`UPSCALE_TOLERANCE`, comparing in the source's orientation: for 16:9 and
    narrower pictures that is the short side (a portrait 1080x1920 video keeps the 1080p rung),
    for wider ones the width (a 1920x800 scope film keeps it too, at 1920x800). The lowest rung
    always stays, so even a tiny source gets one rendition. Audio-only sources keep nothing.
    """
    rungs = [dict(rung) for rung in ladder]
    if source is None:
        return rungs
    if not source.has_video or source.short_side is None:
        return []
    limit = 1 + UPSCALE_TOLERANCE
    kept = [r for r in rungs if fit_scale(int(r["width"]), int(r["height"]), source) <= limit]
    if kept:
        return kept
    return [min(rungs, key=rendition_short_side)] if rungs else []


def output_size(width: int, height: int, source: SourceInfo | None) -> tuple[int, int]:
    """The frame size of a ``width`` x ``height`` output for ``source``.

    Without a source the configured box is used as is (the builder scales with
    ``FIT_NO_UPSCALE``). With one, the output is the source's displayed picture fitted inside
    the box turned the source's way, never enlarged, rounded to even sides: a 1440x1080 source
    gets 960x720 from a 1280x720 rung, a 720x1280 portrait source gets 720x1280 from it.
    """
    if source is None or source.short_side is None:
        return width, height
    scale = min(1.0, fit_scale(width, height, source))
    display_w, display_h = source.display_width or 0, source.display_height or 0
    return even(display_w * scale), even(display_h * scale)
