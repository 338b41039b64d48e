"""Playback URLs of a finished asset, for players that stream through the stack's CloudFront.

Every output of a SUCCEEDED asset is an S3 URI in the outputs bucket (the record's ``outputs``);
the distribution serves the bucket's keys at the same paths, so a URL is the playback base URL
(``https://<distribution or custom domain>``) followed by the object key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from mediapipe_cfn.contract import (
    PLAYBACK_DASH,
    PLAYBACK_HLS,
    PLAYBACK_MP4,
    PLAYBACK_POSTER,
    Attr,
)
from mediapipe_handlers.outputs import poster_uri

_STREAMING_GROUPS = ("CMAF_GROUP", "HLS_GROUP", "DASH_ISO_GROUP")


def playback_urls(item: Mapping[str, Any], outputs_bucket: str, base_url: str) -> dict[str, Any]:
    """``{hls, dash, mp4, poster}`` URLs of ``item``'s outputs; keys without an output left out."""
    bucket_uri = f"s3://{outputs_bucket}/"
    base = base_url.rstrip("/")

    def url(uri: str) -> str | None:
        if not uri.startswith(bucket_uri):
            return None
        return f"{base}/{quote(uri[len(bucket_uri) :], safe='/')}"

    playlists = sorted(_playlists(item))
    found: dict[str, Any] = {}
    hls = [u for p in playlists if p.endswith(".m3u8") and (u := url(p))]
    dash = [u for p in playlists if p.endswith(".mpd") and (u := url(p))]
    mp4 = sorted(u for p in _file_outputs(item) if p.lower().endswith(".mp4") and (u := url(p)))
    poster = poster_uri(item, outputs_bucket)
    if hls:
        found[PLAYBACK_HLS] = hls[0]
    if dash:
        found[PLAYBACK_DASH] = dash[0]
    if mp4:
        found[PLAYBACK_MP4] = mp4
    if poster and (poster_url := url(poster)):
        found[PLAYBACK_POSTER] = poster_url
    return found


def _groups(item: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for summary in (item.get(Attr.OUTPUTS) or {}).values():
        yield from summary.get("groups") or []


def _playlists(item: Mapping[str, Any]) -> Iterator[str]:
    """The top-level manifest of each streaming group (the group's own playlist files)."""
    for group in _groups(item):
        if group.get("type") in _STREAMING_GROUPS:
            yield from (str(p) for p in group.get("playlists") or [])


def _file_outputs(item: Mapping[str, Any]) -> Iterator[str]:
    for group in _groups(item):
        if group.get("type") == "FILE_GROUP":
            for output in group.get("outputs") or []:
                yield from (str(p) for p in output.get("paths") or [])
