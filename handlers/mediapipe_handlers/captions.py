"""Sidecar caption files: found beside an upload, copied next to its working copy.

A caption file travels with its video as ``<same key without extension>.<vtt|srt|scc>`` under
the ingest prefix (``uploads/alice/talk.mp4`` + ``uploads/alice/talk.vtt``). When the
orchestrator plans an asset it looks for those keys in the profile's order (HeadObject: the
first one found wins) and copies the file, like the video, to the asset's own immutable prefix
(``<workingCopy.prefix><assetId>/captions.<ext>``), which MediaConvert already reads: a later
re-upload of the caption file cannot change an asset that is already planned, and no new read
permission is needed. The caption file must be in place when the video is planned, so upload it
first (or together with the video).

A caption file's own upload event is not an asset: :func:`is_sidecar_upload` lets the
orchestrator acknowledge it without a record.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from mediapipe_cfn.mediaconvert.settings import CAPTION_SOURCE_TYPES, CaptionFile
from mediapipe_handlers.failures import TransientFailure, describe, error_code
from mediapipe_handlers.uploads import file_extension

# HeadObject answers meaning "no caption file under this key".
_ABSENT = frozenset({"404", "NoSuchKey", "NotFound"})


def sidecar_keys(video_key: str, extensions: Sequence[str]) -> list[str]:
    """The keys a caption file of ``video_key`` may have, in the order they are tried."""
    folder, name = posixpath.split(video_key)
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return [posixpath.join(folder, f"{stem}.{ext}") for ext in extensions]


def is_sidecar_upload(
    key: str, video_extensions: frozenset[str], extensions: Sequence[str]
) -> bool:
    """Whether an uploaded key is a caption file (an extension the profile treats as one)."""
    extension = file_extension(key)
    return extension in extensions and extension not in video_extensions


def find_sidecar(s3: Any, bucket: str, video_key: str, extensions: Sequence[str]) -> str | None:
    """The key of the upload's caption file, or None when it has none."""
    for key in sidecar_keys(video_key, extensions):
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if error_code(error) in _ABSENT or status in _ABSENT:
                continue
            raise TransientFailure(
                f"could not look for a caption file: {describe(error)}"
            ) from error
        return key
    return None


def copy_sidecar(
    s3: Any, *, bucket: str, key: str, target_prefix: str, language: str, kms_key_arn: str
) -> CaptionFile:
    """Copy the caption file beside the working copy; the :class:`CaptionFile` jobs read."""
    extension = file_extension(key)
    if extension not in CAPTION_SOURCE_TYPES:
        raise ValueError(f"not a caption file extension: {extension!r}")
    target = f"{target_prefix}captions.{extension}"
    try:
        s3.copy_object(
            CopySource={"Bucket": bucket, "Key": key},
            Bucket=bucket,
            Key=target,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=kms_key_arn,
        )
    except ClientError as error:
        raise TransientFailure(f"could not copy the caption file: {describe(error)}") from error
    return CaptionFile(uri=f"s3://{bucket}/{target}", extension=extension, language=language)


def caption_to_record(caption: CaptionFile | None) -> dict[str, str] | None:
    if caption is None:
        return None
    return {"uri": caption.uri, "extension": caption.extension, "language": caption.language}


def caption_from_record(document: Any) -> CaptionFile | None:
    if not isinstance(document, dict) or not document.get("uri"):
        return None
    return CaptionFile(
        uri=str(document["uri"]),
        extension=str(document["extension"]),
        language=str(document["language"]),
    )
