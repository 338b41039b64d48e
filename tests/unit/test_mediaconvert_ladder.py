"""Source descriptions from MediaConvert Probe, and the source-aware ladder."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from mediapipe_cfn.mediaconvert.ladder import (
    SourceInfo,
    output_size,
    select_renditions,
)
from mediapipe_cfn.mediaconvert.validator import validate_shape
from mediapipe_cfn.profile.model import default_ladder

EVENTS = Path(__file__).resolve().parents[1] / "events" / "mediaconvert"
PROBE_FILES = sorted(EVENTS.glob("probe_*.json"))
LIBRARY = Path(__file__).resolve().parents[2] / "mediapipe_cfn"


def probe(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"probe_{name}.json").read_text())["ProbeResults"][0]


def ladder() -> list[dict[str, Any]]:
    return [
        {
            "name": r.name,
            "width": r.width,
            "height": r.height,
            "maxBitrateKbps": r.max_bitrate_kbps,
            "qvbrLevel": r.qvbr_level,
        }
        for r in default_ladder()
    ]


# --- the fixtures are what boto3 returns --------------------------------------------------


@pytest.mark.parametrize("path", PROBE_FILES, ids=lambda p: p.stem)
def test_probe_fixture_matches_the_service_model(path: Path) -> None:
    assert validate_shape(json.loads(path.read_text()), "ProbeResponse") == []


# --- SourceInfo.from_probe ------------------------------------------------------------------

PROBES = [
    # name, (width, height), (display w, h), duration, video, audio, codec, frame rate
    ("1080p_landscape", (1920, 1080), (1920, 1080), 600.6, True, True, "AVC", 29.97),
    ("phone_portrait_rotated", (1920, 1080), (1080, 1920), 15.233, True, True, "HEVC", 30.0),
    ("portrait_1080x1920", (1080, 1920), (1080, 1920), 42.0, True, True, "AVC", 30.0),
    ("4k_hevc_prores_audio", (3840, 2160), (3840, 2160), 1800.0, True, True, "HEVC", 59.94),
    ("anamorphic_pal_dv", (720, 576), (1024, 576), 95.52, True, True, "MPEG2", 25.0),
    ("video_without_audio", (1280, 720), (1280, 720), 30.0, True, False, "VP9", 25.0),
    ("audio_only", (None, None), (None, None), 183.4, False, True, None, None),
    ("sparse_members", (720, 480), (720, 480), None, True, True, "MPEG2", None),
]


@pytest.mark.parametrize(
    ("name", "coded", "display", "duration", "video", "audio", "codec", "fps"),
    PROBES,
    ids=[p[0] for p in PROBES],
)
def test_from_probe_reads_size_rotation_tracks_and_duration(
    name: str,
    coded: tuple[int | None, int | None],
    display: tuple[int | None, int | None],
    duration: float | None,
    video: bool,
    audio: bool,
    codec: str | None,
    fps: float | None,
) -> None:
    source = SourceInfo.from_probe(probe(name))
    assert (source.width, source.height) == coded
    assert (source.display_width, source.display_height) == display
    assert source.duration_seconds == duration
    assert (source.has_video, source.has_audio) == (video, audio)
    assert source.video_codec == codec
    assert source.frame_rate == (pytest.approx(fps, abs=0.01) if fps else None)


def test_from_probe_explains_unusable_tracks() -> None:
    source = SourceInfo.from_probe(probe("no_usable_track"))
    assert not source.has_video and not source.has_audio
    assert source.problems == (
        "video track 1: codec not recognised",
        "video track 2: no frame size",
        "audio track 3: codec not recognised",
    )


@pytest.mark.parametrize(
    "result",
    [{}, {"Container": {}}, {"Container": {"Tracks": []}}, {"Container": {"Tracks": None}}],
)
def test_from_probe_of_an_empty_result_has_no_tracks(result: dict[str, Any]) -> None:
    source = SourceInfo.from_probe(result)
    assert (source.has_video, source.has_audio, source.short_side) == (False, False, None)


@pytest.mark.parametrize(
    ("rotation", "expected"), [(None, 0), (90, 90), (-90, 270), (180, 180), (271, 270), (360, 0)]
)
def test_rotation_is_snapped_to_quarter_turns(rotation: int | None, expected: int) -> None:
    properties: dict[str, Any] = {"Width": 1920, "Height": 1080}
    if rotation is not None:
        properties["Rotation"] = rotation
    track = {"TrackType": "video", "Codec": "AVC", "VideoProperties": properties}
    assert SourceInfo.from_probe({"Container": {"Tracks": [track]}}).rotation == expected


@pytest.mark.parametrize(
    ("container", "expected"), [("mp4", 90), ("quicktime", 90), (None, 90), ("matroska", 0)]
)
def test_rotation_counts_only_where_mediaconvert_applies_it(
    container: str | None, expected: int
) -> None:
    # Rotate AUTO honours MP4/QuickTime metadata only; other containers are encoded as stored.
    track = {
        "TrackType": "video",
        "Codec": "AVC",
        "VideoProperties": {"Width": 1920, "Height": 1080, "Rotation": 90},
    }
    result: dict[str, Any] = {"Container": {"Tracks": [track]}}
    if container is not None:
        result["Container"]["Format"] = container
    assert SourceInfo.from_probe(result).rotation == expected


def test_short_side_and_orientation() -> None:
    assert SourceInfo(1920, 1080).short_side == 1080
    assert SourceInfo(1920, 1080, rotation=270).is_portrait
    assert not SourceInfo(1920, 1080, rotation=180).is_portrait
    assert SourceInfo(None, None, has_video=False).short_side is None


# --- select_renditions ------------------------------------------------------------------------

SELECTIONS = [
    # source, rung names kept
    (None, ["1080p", "720p", "540p", "432p", "360p", "234p"]),
    (SourceInfo(3840, 2160), ["1080p", "720p", "540p", "432p", "360p", "234p"]),
    (SourceInfo(1920, 1080), ["1080p", "720p", "540p", "432p", "360p", "234p"]),
    (SourceInfo(1920, 1072), ["1080p", "720p", "540p", "432p", "360p", "234p"]),  # crop
    (SourceInfo(1920, 1040), ["1080p", "720p", "540p", "432p", "360p", "234p"]),  # 1920 wide
    (SourceInfo(1920, 800), ["1080p", "720p", "540p", "432p", "360p", "234p"]),  # scope
    (SourceInfo(1280, 536), ["720p", "540p", "432p", "360p", "234p"]),
    (SourceInfo(1900, 1068), ["1080p", "720p", "540p", "432p", "360p", "234p"]),  # tolerance
    (SourceInfo(1800, 1012), ["720p", "540p", "432p", "360p", "234p"]),
    (SourceInfo(1280, 720), ["720p", "540p", "432p", "360p", "234p"]),
    (SourceInfo(1080, 1920), ["1080p", "720p", "540p", "432p", "360p", "234p"]),  # portrait
    (SourceInfo(1920, 1080, rotation=90), ["1080p", "720p", "540p", "432p", "360p", "234p"]),
    (SourceInfo(720, 1280), ["720p", "540p", "432p", "360p", "234p"]),  # portrait 720p
    (SourceInfo(1440, 1080), ["1080p", "720p", "540p", "432p", "360p", "234p"]),  # 4:3
    (SourceInfo(854, 480), ["432p", "360p", "234p"]),
    (SourceInfo(320, 180), ["234p"]),  # smaller than every rung: keep the lowest
    (SourceInfo(None, None, has_video=False), []),
]


@pytest.mark.parametrize(("source", "kept"), SELECTIONS)
def test_select_renditions_drops_rungs_that_would_enlarge_the_source(
    source: SourceInfo | None, kept: list[str]
) -> None:
    assert [r["name"] for r in select_renditions(ladder(), source)] == kept


def test_select_renditions_does_not_touch_its_input() -> None:
    rungs = ladder()
    select_renditions(rungs, SourceInfo(640, 360))[0]["name"] = "changed"
    assert rungs == ladder()


# --- output_size ------------------------------------------------------------------------------

SIZES = [
    # configured box, source, output size
    ((1920, 1080), None, (1920, 1080)),
    ((1920, 1080), SourceInfo(1920, 1080), (1920, 1080)),
    ((1280, 720), SourceInfo(1080, 1920), (720, 1280)),  # portrait keeps its orientation
    ((1280, 720), SourceInfo(1920, 1080, rotation=90), (720, 1280)),
    ((1280, 720), SourceInfo(1440, 1080), (960, 720)),  # 4:3 keeps its aspect ratio
    ((1920, 1080), SourceInfo(1920, 1072), (1920, 1072)),  # never upscaled
    ((640, 360), SourceInfo(1280, 536), (640, 268)),  # scope, limited by its width
    ((1920, 1080), SourceInfo(1920, 800), (1920, 800)),
    ((1280, 720), SourceInfo(1920, 800), (1280, 534)),  # rounded to even
    ((1280, 720), SourceInfo(720, 576, sample_aspect_ratio=64 / 45), (1024, 576)),
    ((1920, 1080), SourceInfo(9000, 1080), (1920, 230)),  # panorama fits the box
]


@pytest.mark.parametrize(("box", "source", "expected"), SIZES)
def test_output_size_follows_the_source(
    box: tuple[int, int], source: SourceInfo | None, expected: tuple[int, int]
) -> None:
    size = output_size(*box, source)
    assert size == expected
    assert size[0] % 2 == 0 and size[1] % 2 == 0


# --- bundled into the Lambda zip: standard library only --------------------------------------


@pytest.mark.parametrize("module", ["mediaconvert/ladder.py", "mediaconvert/settings.py"])
def test_lambda_bundled_modules_import_only_the_standard_library(module: str) -> None:
    allowed_project = {
        "mediapipe_cfn",
        "mediapipe_cfn.contract",
        "mediapipe_cfn.mediaconvert.ladder",
    }
    tree = ast.parse((LIBRARY / module).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    third_party = {
        name
        for name in imported
        if name not in allowed_project
        and name != "__future__"
        and name.split(".")[0] not in sys.stdlib_module_names
    }
    assert third_party == set()
