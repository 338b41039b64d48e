"""Playback URLs: with CloudFront delivery, a finished asset's record, manifest.json and
``MediaAsset Processed`` event carry the same ``playback`` map; without it, none does."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import boto3
import pytest
from conftest import OUTPUTS_BUCKET, Stack
from handler_delivery import drain
from handler_fakes import REGION, FakeMediaConvert, SimulatedCrash
from mediapipe_handlers.playback import playback_urls
from test_ingest_orchestrator import FORMATS, repo
from test_ingest_recovery import later
from test_job_status_processor import apply, processing_asset
from test_reconciler import reconcile

from mediapipe_cfn.contract import Env

BASE_URL = "https://d111111abcdef8.cloudfront.net"


def finish_every_format(stack: Stack, mediaconvert: FakeMediaConvert, context: Any) -> str:
    asset_id = processing_asset(stack, context)
    for job_format in FORMATS:
        job = mediaconvert.job_for(asset_id, job_format)
        assert apply(mediaconvert, context, job, "PROGRESSING", "COMPLETE")[-1] == "complete"
    return asset_id


def stored_manifest(asset_id: str) -> dict[str, Any]:
    body = boto3.client("s3", region_name=REGION).get_object(
        Bucket=OUTPUTS_BUCKET, Key=f"alice/{asset_id}/manifest.json"
    )["Body"]
    return json.loads(body.read())


def test_a_processed_asset_announces_its_playback_urls_everywhere(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
) -> None:
    runtime.env = replace(runtime.env, playback_base_url=BASE_URL)  # as the template sets it
    asset_id = finish_every_format(stack, mediaconvert, context)

    playback = repo().get(asset_id)["playback"]
    prefix = f"{BASE_URL}/alice/{asset_id}/"
    assert playback["hls"] == f"{prefix}cmaf/master.m3u8"
    assert playback["dash"] == f"{prefix}cmaf/master.mpd"
    assert playback["mp4"] and all(
        u.startswith(f"{prefix}mp4/") and u.endswith(".mp4") for u in playback["mp4"]
    )
    poster = repo().get(asset_id)["source"]["poster"]
    assert playback["poster"] == f"{prefix}{poster}" and poster.endswith(".jpg")

    assert stored_manifest(asset_id)["playback"] == playback
    [announced] = drain(stack.events_observer_url)
    assert announced["detail-type"] == "MediaAsset Processed"
    assert announced["detail"]["playback"] == playback


def test_the_reconciler_announces_the_same_playback_urls(
    runtime: Any,
    stack: Stack,
    mediaconvert: FakeMediaConvert,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime.env = replace(runtime.env, playback_base_url=BASE_URL)
    asset_id = processing_asset(stack, context)
    cmaf, mp4 = (mediaconvert.job_for(asset_id, f) for f in FORMATS)
    apply(mediaconvert, context, cmaf, "COMPLETE")
    # The status processor dies between the SUCCEEDED write and its announcements.
    monkeypatch.setattr(
        "mediapipe_handlers.settlement.write_manifest",
        lambda *_: (_ for _ in ()).throw(SimulatedCrash("timeout")),
    )
    with pytest.raises(SimulatedCrash):
        apply(mediaconvert, context, mp4, "COMPLETE")
    monkeypatch.undo()
    assert "playback" not in repo().get(asset_id)

    later(monkeypatch, mediaconvert, minutes=5)
    assert reconcile()["announced"] == 1
    playback = repo().get(asset_id)["playback"]
    assert playback["hls"] == f"{BASE_URL}/alice/{asset_id}/cmaf/master.m3u8"
    assert stored_manifest(asset_id)["playback"] == playback
    [event] = [e for e in drain(stack.events_observer_url) if e["detail"]["assetId"] == asset_id]
    assert event["detail"]["playback"] == playback


def test_without_delivery_nothing_mentions_playback(
    runtime: Any, stack: Stack, mediaconvert: FakeMediaConvert, context: Any
) -> None:
    asset_id = finish_every_format(stack, mediaconvert, context)
    assert "playback" not in repo().get(asset_id)
    assert "playback" not in stored_manifest(asset_id)
    [announced] = drain(stack.events_observer_url)
    assert "playback" not in announced["detail"]


def test_the_base_url_comes_from_the_environment_the_template_sets(stack: Stack) -> None:
    import os

    from mediapipe_handlers.environment import HandlerEnvironment

    environ = dict(os.environ)
    assert HandlerEnvironment.from_environ(environ).playback_base_url is None
    environ[str(Env.PLAYBACK_BASE_URL)] = BASE_URL
    assert HandlerEnvironment.from_environ(environ).playback_base_url == BASE_URL


# --- the URLs from a record's outputs --------------------------------------------------------

BUCKET = "outputs-bucket"


def record(
    *groups: dict[str, Any], thumbnails: list[str] | None = None, poster: str | None = None
) -> dict[str, Any]:
    summary = {"groups": list(groups), "thumbnails": thumbnails or []}
    summary["thumbnailCount"] = len(summary["thumbnails"])
    return {"outputPrefix": "u/a/", "source": {"poster": poster}, "outputs": {"all": summary}}


def group(kind: str, playlists: list[str] = (), paths: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {"type": kind, "playlists": list(playlists), "outputs": [{"paths": list(paths)}]}


def test_keys_of_formats_that_are_off_are_absent() -> None:
    hls_only = record(group("HLS_GROUP", [f"s3://{BUCKET}/u/a/hls/master.m3u8"]))
    assert playback_urls(hls_only, BUCKET, "https://video.example.com") == {
        "hls": "https://video.example.com/u/a/hls/master.m3u8"
    }
    assert playback_urls(record(), BUCKET, BASE_URL) == {}


def test_separate_packaging_gives_the_hls_and_dash_groups_manifests() -> None:
    item = record(
        group("HLS_GROUP", [f"s3://{BUCKET}/u/a/hls/master.m3u8"]),
        group("DASH_ISO_GROUP", [f"s3://{BUCKET}/u/a/dash/master.mpd"]),
        group(
            "FILE_GROUP",
            paths=[f"s3://{BUCKET}/u/a/mp4/b_720p.mp4", f"s3://{BUCKET}/u/a/mp4/a.mp4"],
        ),
        # Job events name only the last capture; the poster is the one the plan chose.
        thumbnails=[f"s3://{BUCKET}/u/a/thumbnails/x_thumb.0000009.jpg"],
        poster="thumbnails/x_thumb.0000003.jpg",
    )
    assert playback_urls(item, BUCKET, BASE_URL + "/") == {
        "hls": f"{BASE_URL}/u/a/hls/master.m3u8",
        "dash": f"{BASE_URL}/u/a/dash/master.mpd",
        "mp4": [f"{BASE_URL}/u/a/mp4/a.mp4", f"{BASE_URL}/u/a/mp4/b_720p.mp4"],
        "poster": f"{BASE_URL}/u/a/thumbnails/x_thumb.0000003.jpg",
    }


def test_keys_are_url_encoded_and_other_buckets_are_never_linked() -> None:
    item = record(
        group(
            "CMAF_GROUP", [f"s3://{BUCKET}/up loader/ä+1/cmaf/master.m3u8", "s3://elsewhere/x.mpd"]
        )
    )
    assert playback_urls(item, BUCKET, BASE_URL) == {
        "hls": f"{BASE_URL}/up%20loader/%C3%A4%2B1/cmaf/master.m3u8"
    }
