"""Rules about one upload: is it acceptable, who uploaded it, what is its asset id and where do
its outputs go. Pure functions, no AWS calls."""

from __future__ import annotations

import hashlib
import posixpath
import re

from mediapipe_handlers.config import IngestRules

UNKNOWN_UPLOADER = "unknown"
_GIB = 1024**3
# S3's "safe" key characters; anything else in an uploader id is replaced in output paths so
# that MediaConvert destinations and player URLs never need escaping.
_UNSAFE_PATH_CHARACTERS = re.compile(r"[^A-Za-z0-9!_.*'()-]")


def derive_asset_id(bucket: str, key: str, version_id: str | None, sequencer: str | None) -> str:
    """A stable id for one version of one object: duplicate events map to the same record.

    Each part is length-prefixed so no two (bucket, key, version) triples can collide by
    concatenation. Without a version id (an unversioned bucket) the event's sequencer, which S3
    increases with each write to a key, stands in for it.
    """
    version = f"v:{version_id}" if version_id and version_id != "null" else f"s:{sequencer or ''}"
    parts = (bucket, key, version)
    identity = "".join(f"{len(part)}:{part}" for part in parts)
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


def rejection_reason(key: str, size: int | None, rules: IngestRules) -> str | None:
    """Why this upload is not accepted, or None when it is."""
    if not key.startswith(rules.prefix):
        return f"key is outside the ingest prefix {rules.prefix!r}"
    if key.endswith("/"):
        return "the object is a folder marker, not a file"
    if size == 0:
        return "the object is empty (0 bytes)"
    extension = file_extension(key)
    accepted = ", ".join(sorted(rules.extensions))
    if not extension:
        return f"the file name has no extension; accepted: {accepted}"
    if extension not in rules.extensions:
        return f"extension '.{extension}' is not accepted; accepted: {accepted}"
    if size is not None and size > rules.max_size_bytes:
        return (
            f"the object is {size / _GIB:.2f} GiB, above the limit of "
            f"{rules.max_size_bytes / _GIB:.2f} GiB"
        )
    return None


def file_extension(key: str) -> str:
    """The lower-case extension of the key's file name, without the dot ('' if none)."""
    name = posixpath.basename(key)
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


def uploader_id(key: str, rules: IngestRules) -> str:
    """The uploader id: a folder segment of the key after the prefix, or 'unknown'."""
    if rules.uploader_id_source != "key_segment" or not key.startswith(rules.prefix):
        return UNKNOWN_UPLOADER
    folders = key[len(rules.prefix) :].split("/")[:-1]
    index = rules.uploader_id_segment
    if index < len(folders) and folders[index]:
        return folders[index]
    return UNKNOWN_UPLOADER


def path_safe(segment: str) -> str:
    """``segment`` with characters outside S3's safe set replaced by '_'."""
    safe = _UNSAFE_PATH_CHARACTERS.sub("_", segment)
    return UNKNOWN_UPLOADER if safe in ("", ".", "..") else safe


def output_prefix(template: str, uploader: str, asset_id: str) -> str:
    """The asset's output prefix from the profile's layout, e.g. ``alice/<assetId>/``."""
    return template.replace("{uploaderId}", path_safe(uploader)).replace("{assetId}", asset_id)
