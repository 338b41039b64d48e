"""What a finished job produced, read from its COMPLETE event, and the asset's manifest.json.

The COMPLETE event lists, per output group, the manifests (``playlistFilePaths``: the
``.m3u8``/``.mpd`` files of HLS, DASH and CMAF groups) and, per output, its files with their
duration and video details. Frame-capture outputs name only the *last* image they wrote
(``name.0000041.jpg``): captures are numbered from 0, so that number + 1 is how many there are.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Any

from mediapipe_cfn.contract import MANIFEST_FILE_NAME, Attr

MANIFEST_VERSION = 1
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
_CAPTURE_NUMBER = re.compile(r"\.(\d+)\.(?:jpe?g|png)$", re.IGNORECASE)
_VIDEO_DETAIL_KEYS = ("widthInPx", "heightInPx", "averageBitrate", "qvbrAvgQuality")


def summarize_job_outputs(detail: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a COMPLETE event worth keeping on the record, per output group."""
    groups: list[dict[str, Any]] = []
    for group in detail.get("outputGroupDetails") or []:
        outputs = []
        for output in group.get("outputDetails") or []:
            entry: dict[str, Any] = {"paths": list(output.get("outputFilePaths") or [])}
            if isinstance(output.get("durationInMs"), int | float):
                entry["durationMs"] = int(output["durationInMs"])
            video = output.get("videoDetails") or {}
            details = {k: video[k] for k in _VIDEO_DETAIL_KEYS if k in video}
            if details:
                entry["video"] = details
            outputs.append(entry)
        groups.append(
            {
                "type": str(group.get("type") or "UNKNOWN"),
                "playlists": list(group.get("playlistFilePaths") or []),
                "outputs": outputs,
            }
        )
    paths = [p for g in groups for o in g["outputs"] for p in o["paths"]]
    durations = [o["durationMs"] for g in groups for o in g["outputs"] if "durationMs" in o]
    return {
        "groups": groups,
        "thumbnails": [p for p in paths if p.lower().endswith(IMAGE_EXTENSIONS)],
        "thumbnailCount": thumbnail_count(paths),
        "durationMs": max(durations) if durations else None,
    }


def thumbnail_count(paths: Sequence[str]) -> int:
    """How many images the listed outputs stand for (see the module docstring)."""
    total = 0
    for path in paths:
        if not path.lower().endswith(IMAGE_EXTENSIONS):
            continue
        match = _CAPTURE_NUMBER.search(path)
        total += int(match.group(1)) + 1 if match else 1
    return total


def manifest_key(output_prefix: str) -> str:
    return f"{output_prefix}{MANIFEST_FILE_NAME}"


def build_manifest(item: Mapping[str, Any], outputs_bucket: str) -> dict[str, Any]:
    """The asset's manifest.json: every output, with paths relative to the manifest."""
    prefix = str(item.get("outputPrefix") or "")
    base = f"s3://{outputs_bucket}/{prefix}"
    formats: dict[str, Any] = {}
    for job_format, summary in sorted((item.get("outputs") or {}).items()):
        formats[job_format] = {
            "manifests": [
                _file(path, base)
                for group in summary.get("groups", [])
                for path in group["playlists"]
            ],
            "outputs": [
                {
                    "groupType": group["type"],
                    "files": [_file(path, base) for path in output["paths"]],
                    **({"durationMs": output["durationMs"]} if "durationMs" in output else {}),
                    **({"video": output["video"]} if "video" in output else {}),
                }
                for group in summary.get("groups", [])
                for output in group["outputs"]
            ],
            "thumbnails": [_file(path, base) for path in summary.get("thumbnails", [])],
            "thumbnailCount": summary.get("thumbnailCount", 0),
            "durationMs": summary.get("durationMs"),
        }
    manifest: dict[str, Any] = {
        "version": MANIFEST_VERSION,
        "assetId": item.get("assetId"),
        "uploaderId": item.get("uploaderId"),
        "source": {
            "bucket": item.get("sourceBucket"),
            "key": item.get("s3Key"),
            "versionId": item.get("sourceVersionId"),
        },
        "completedAt": item.get("completedAt"),
        "formats": formats,
        **({"playback": item["playback"]} if item.get("playback") else {}),
    }
    # Only assets with captions or a poster name them: the others' manifests are unchanged.
    languages = item.get(Attr.CAPTION_LANGUAGES)
    if languages:
        manifest["captionLanguages"] = list(languages)
    poster = poster_uri(item, outputs_bucket)
    if poster:
        manifest["poster"] = _file(poster, base)
    return manifest


def poster_uri(item: Mapping[str, Any], outputs_bucket: str) -> str | None:
    """The S3 URI of the capture the orchestrator chose as poster, once captures were written.

    Job events name only some of a frame-capture output's files, so the poster is known by the
    name the plan gave it (the source's ``poster``), not found among the reported paths.
    """
    poster = (item.get(Attr.SOURCE) or {}).get("poster")
    if not poster or not any(s.get("thumbnailCount") for s in (item.get("outputs") or {}).values()):
        return None
    return f"s3://{outputs_bucket}/{item.get('outputPrefix') or ''}{poster}"


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """Deterministic JSON: the same outputs always give the same file."""
    return (json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def _file(uri: str, base: str) -> dict[str, str]:
    relative = uri[len(base) :] if uri.startswith(base) else posixpath.basename(uri)
    return {"uri": uri, "path": relative}


# Output group types as CreateJob names them -> as job events name them, the key of their
# settings, and the manifests the group writes next to its destination.
_GROUP_KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "CMAF_GROUP_SETTINGS": ("CMAF_GROUP", "CmafGroupSettings", (".m3u8", ".mpd")),
    "HLS_GROUP_SETTINGS": ("HLS_GROUP", "HlsGroupSettings", (".m3u8",)),
    "DASH_ISO_GROUP_SETTINGS": ("DASH_ISO_GROUP", "DashIsoGroupSettings", (".mpd",)),
    "FILE_GROUP_SETTINGS": ("FILE_GROUP", "FileGroupSettings", ()),
}
_SEGMENTED = frozenset({"CMAF_GROUP", "HLS_GROUP", "DASH_ISO_GROUP"})


def output_groups_from_job(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``outputGroupDetails`` for a finished job read with GetJob (whose answer, unlike the
    COMPLETE event, lists no file paths): paths follow from the job's own settings, durations
    and video details come from the answer. Used when the COMPLETE event never arrived."""
    settings_groups = (job.get("Settings") or {}).get("OutputGroups") or []
    answered = job.get("OutputGroupDetails") or []
    groups: list[dict[str, Any]] = []
    for index, group in enumerate(settings_groups):
        group_settings = group.get("OutputGroupSettings") or {}
        kind, key, manifests = _GROUP_KINDS.get(
            str(group_settings.get("Type")), ("UNKNOWN", "", ())
        )
        destination = str((group_settings.get(key) or {}).get("Destination") or "")
        details = (answered[index] if index < len(answered) else {}).get("OutputDetails") or []
        outputs = []
        for position, output in enumerate(group.get("Outputs") or []):
            detail = details[position] if position < len(details) else {}
            outputs.append(_output_from_job(destination, output, detail, kind))
        entry: dict[str, Any] = {"type": kind, "outputDetails": outputs}
        if manifests:
            entry["playlistFilePaths"] = [destination + suffix for suffix in manifests]
        groups.append(entry)
    return groups


def _output_from_job(
    destination: str, output: Mapping[str, Any], detail: Mapping[str, Any], kind: str
) -> dict[str, Any]:
    modifier = str(output.get("NameModifier") or "")
    codec = ((output.get("VideoDescription") or {}).get("CodecSettings")) or {}
    duration = detail.get("DurationInMs")
    if codec.get("Codec") == "FRAME_CAPTURE":
        capture = codec.get("FrameCaptureSettings") or {}
        rate = capture.get("FramerateNumerator", 1) / max(1, capture.get("FramerateDenominator", 1))
        seconds = (duration or 0) / 1000
        count = max(1, min(int(capture.get("MaxCaptures", 1)), int(seconds * rate) + 1))
        return {"outputFilePaths": [f"{destination}{modifier}.{count - 1:07d}.jpg"]}
    extension = ".m3u8" if kind in _SEGMENTED and kind != "DASH_ISO_GROUP" else ""
    if kind == "DASH_ISO_GROUP":
        extension = ".mp4"
    if not extension:
        extension = "." + str(output.get("Extension") or "mp4")
    entry: dict[str, Any] = {"outputFilePaths": [f"{destination}{modifier}{extension}"]}
    if isinstance(duration, int | float):
        entry["durationInMs"] = int(duration)
    video = detail.get("VideoDetails") or {}
    converted = {
        "widthInPx": video.get("WidthInPx"),
        "heightInPx": video.get("HeightInPx"),
        "qvbrAvgQuality": video.get("QvbrAvgQuality"),
    }
    converted = {k: v for k, v in converted.items() if v is not None}
    if converted:
        entry["videoDetails"] = converted
    return entry
