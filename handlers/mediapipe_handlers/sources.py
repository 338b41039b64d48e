"""The working copy: the uploaded version, copied once to a key that belongs to its asset.

MediaConvert's ``Probe`` and ``CreateJob`` name an input by ``s3://bucket/key`` and always read
the key's *current* version, so a re-upload of the same key between the event and the job would
be transcoded for the older asset. Each asset therefore reads its own immutable copy,
``<workingCopy.prefix><assetId>/source.<ext>`` in the uploads bucket (outside the ingest prefix,
so the copy is never ingested itself), made from the exact version id of its event. The copy is
server-side; sources above :data:`SINGLE_COPY_LIMIT` are copied in parts. A lifecycle rule
expires the copies; the upload itself stays where it was.

The copy's key is unique to the asset, which also lets ``SearchJobs`` find an interrupted
submission's job by its input (:func:`mediapipe_handlers.transcoding.find_submitted_job`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from mediapipe_handlers.failures import PermanentFailure, TransientFailure, describe, error_code
from mediapipe_handlers.failures import is_transient as is_transient_error
from mediapipe_handlers.lifecycle import FailureKind
from mediapipe_handlers.messages import UploadEvent
from mediapipe_handlers.uploads import file_extension

GIB = 1024**3
SINGLE_COPY_LIMIT = 5 * GIB  # CopyObject's own limit
# Parts of a large copy: 10,000 parts at most, so 512 MiB parts reach 5 TiB.
_TRANSFER = TransferConfig(
    multipart_threshold=SINGLE_COPY_LIMIT,
    multipart_chunksize=512 * 1024**2,
    max_concurrency=8,
)
# Answers meaning "this version is gone": deleted, replaced, or a delete marker.
_GONE = frozenset(
    {
        "404",
        "NoSuchKey",
        "NoSuchVersion",
        "NotFound",
        "405",
        "MethodNotAllowed",
        "412",
        "PreconditionFailed",
    }
)


def working_copy_key(prefix: str, asset_id: str, source_key: str) -> str:
    extension = file_extension(source_key)
    return f"{prefix}{asset_id}/source" + (f".{extension}" if extension else "")


def make_working_copy(
    s3: Any,
    *,
    bucket: str,
    key: str,
    version_id: str | None,
    etag: str | None,
    target_key: str,
    kms_key_arn: str,
) -> dict[str, Any]:
    """Copy the uploaded version to ``target_key``; what to store on the record.

    Raises PermanentFailure(SOURCE_MISSING) when the upload was deleted (its key now answers
    404, e.g. a delete marker) or this version is gone or was replaced (ETag mismatch without a
    version id), TransientFailure for throttling and 5xx answers.
    """
    source: dict[str, Any] = {"Bucket": bucket, "Key": key}
    extra: dict[str, Any] = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn}
    if version_id and version_id != "null":
        source["VersionId"] = version_id
    elif etag:
        # No version to name: the object must still be the uploaded one.
        extra["CopySourceIfMatch"] = f'"{etag}"'
    try:
        # The key itself first: deleted since the upload (a delete marker) means "not wanted".
        s3.head_object(Bucket=bucket, Key=key)
        s3.copy(source, bucket, target_key, ExtraArgs=extra, Config=_TRANSFER)
    except ClientError as error:
        status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        if error_code(error) in _GONE or status in _GONE:
            raise PermanentFailure(
                f"the uploaded object was deleted or replaced before it was processed "
                f"({describe(error)})",
                FailureKind.SOURCE_MISSING,
            ) from error
        if is_transient_error(error):
            raise TransientFailure(describe(error)) from error
        raise
    return {"bucket": bucket, "key": target_key, "uri": f"s3://{bucket}/{target_key}"}


# HeadObject answers meaning "not this key".
_ABSENT_CODES = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NotFound", "400", "403"})


def resolve_key(s3: Any, upload: UploadEvent) -> str:
    """The object's real key (see :mod:`mediapipe_handlers.messages` on key encoding)."""
    candidates = upload.key_candidates()
    if len(candidates) == 1:
        return candidates[0]
    denied = 0
    for candidate in candidates:
        request: dict[str, Any] = {"Bucket": upload.bucket, "Key": candidate}
        if upload.version_id:
            request["VersionId"] = upload.version_id
        try:
            head = s3.head_object(**request)
        except ClientError as error:
            code = error_code(error)
            status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
            if code in _ABSENT_CODES or status in _ABSENT_CODES:
                denied += status == "403" or code == "403"
                continue
            raise
        if upload.version_id or _same_object(head, upload):
            return candidate
    if denied == len(candidates):
        raise TransientFailure("access denied reading the uploaded object")
    raise PermanentFailure("the uploaded object no longer exists", FailureKind.SOURCE_MISSING)


def _same_object(head: Mapping[str, Any], upload: UploadEvent) -> bool:
    """Without a version id, ETag and size tell whether HeadObject found the uploaded object."""
    etag = str(head.get("ETag", "")).strip('"')
    size = head.get("ContentLength")
    return (upload.etag is None or etag == upload.etag) and (
        upload.size is None or size == upload.size
    )
