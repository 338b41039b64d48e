"""The handler artifact: one deterministic zip that both Lambda functions deploy.

Both functions share most of their code (configuration, the asset repository, the MediaConvert
settings builder), so they ship as one zip with two entry points. The zip holds:

* ``handlers/mediapipe_handlers/`` — the handler package;
* the standard-library-only modules of this library the handlers import (:data:`LIBRARY_MODULES`);
* the third-party distributions pinned in ``handlers/requirements.lock``, at exactly the locked
  versions (what is tested is what is deployed). boto3 comes from the Lambda runtime.

Entries are sorted, timestamps and modes fixed, so the same sources give the same bytes; the file
name carries a hash of the inputs, so CloudFormation updates the functions only when they changed.
The zip's comment records the SHA-256 of the archive, so an existing zip is checked and reused
without compressing anything again (docs/architecture.md).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from mediapipe_cfn.errors import MediapipeError
from mediapipe_cfn.resources import data_dir, library_file

if TYPE_CHECKING:
    import importlib.metadata

HANDLER_PACKAGE = "mediapipe_handlers"
ARTIFACT_STEM = "mediapipe-handlers"
DEFAULT_ARTIFACTS_DIR = "artifacts"
LOCK_FILE = "requirements.lock"
LIBRARY_MODULES = (
    "__init__.py",
    "_version.py",
    "contract.py",
    "mediaconvert/__init__.py",
    "mediaconvert/ladder.py",
    "mediaconvert/settings.py",
)
# Part of every name hash: bump it when the way the zip is written changes, so a zip written the
# old way is never taken for the new one.
_ZIP_FORMAT = "2"
# zlib's default level, which the zip has always had: zipfile applies a ZipFile's compresslevel
# only to entries it names itself, not to a ZipInfo like ours. Level 9 takes 40 % longer for a
# zip 0.5 % smaller.
_COMPRESS_LEVEL = 6
# 1980-01-01, the earliest time a zip entry can carry.
_FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16  # regular file, rw-r--r--
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
_COMMENT_PREFIX = b"mediapipe-cfn sha256="
_COMMENT_LENGTH = len(_COMMENT_PREFIX) + 64
_END_OF_CENTRAL_DIRECTORY = b"PK\x05\x06"
_END_RECORD_SIZE = 22  # the end-of-central-directory record, without its comment


class BundleError(MediapipeError):
    """The installed third-party code is not what ``handlers/requirements.lock`` pins."""


@dataclass(frozen=True)
class ArtifactFile:
    """A file to put in the zip: where it goes, where it comes from and, if known, its hash.

    ``sha256`` (hex) and ``size`` come from an installed distribution's RECORD; they name the
    file's content without reading it, and the zip build checks them when it does read it.
    """

    arcname: str
    source: Path
    sha256: str | None = None
    size: int | None = None


def locked_distributions() -> dict[str, str]:
    """The ``name: version`` pairs of ``handlers/requirements.lock``, in file order."""
    lock = data_dir("handlers") / LOCK_FILE
    pins: dict[str, str] = {}
    for number, raw in enumerate(lock.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, separator, version = (part.strip() for part in line.partition("=="))
        if not separator or not name or not version:
            raise RuntimeError(f"{lock}:{number}: expected 'name==version', got {raw!r}")
        pins[name] = version
    return pins


def handler_files() -> list[ArtifactFile]:
    """Every file of the handler zip, sorted by archive name."""
    files = list(_handler_package_files()) + list(_library_files()) + list(_vendored_files())
    clashes = sorted(n for n, count in Counter(f.arcname for f in files).items() if count > 1)
    if clashes:
        raise RuntimeError(f"handler zip would contain these paths twice: {clashes}")
    return sorted(files, key=lambda f: f.arcname)


def _handler_package_files() -> list[ArtifactFile]:
    root = data_dir("handlers")
    package = root / HANDLER_PACKAGE
    return [
        ArtifactFile(path.relative_to(root).as_posix(), path)
        for path in package.rglob("*")
        if _is_source_file(path)
    ]


def _library_files() -> list[ArtifactFile]:
    return [
        ArtifactFile(f"mediapipe_cfn/{relative}", library_file(relative))
        for relative in LIBRARY_MODULES
    ]


def _vendored_files() -> list[ArtifactFile]:
    import importlib.metadata

    files = []
    for name, version in locked_distributions().items():
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise BundleError(_lock_message(name, version, "is not installed")) from None
        if distribution.version != version:
            found = f"is installed at {distribution.version}"
            raise BundleError(_lock_message(name, version, found))
        files += _recorded_files(distribution)
    return files


def _lock_message(name: str, version: str, problem: str) -> str:
    lock = data_dir("handlers") / LOCK_FILE
    return (
        f"the handler zip bundles {name}=={version} ({lock}), but {name} {problem}; install the "
        f'locked versions with: python -m pip install "mediapipe-cfn[handlers]" (or -r {lock}), '
        "or build the template with your own handler_code"
    )


def _recorded_files(distribution: importlib.metadata.Distribution) -> list[ArtifactFile]:
    """The distribution's files as RECORD lists them, minus bytecode and non-licence metadata."""
    record = distribution.read_text("RECORD")
    if not record:
        name = distribution.metadata["Name"]
        raise BundleError(
            f"{name} {distribution.version} was installed without a RECORD of its files, so "
            "what it would put in the handler zip is unknown; reinstall it with pip"
        )
    root = str(distribution.locate_file(""))
    files = []
    for row in csv.reader(record.splitlines()):
        if not row:
            continue
        entry, recorded_hash, size = [*row, "", ""][:3]
        if not _is_bundled_entry(entry):
            continue
        source = Path(os.path.join(root, entry))
        files.append(ArtifactFile(entry, source, *_record_digest(recorded_hash, size)))
    return files


def _is_bundled_entry(entry: str) -> bool:
    if entry.startswith(("/", "../")) or entry.endswith(_SKIPPED_SUFFIXES):
        return False  # scripts and data outside the package, bytecode
    if "__pycache__/" in entry:
        return False
    if ".dist-info/" in entry:
        # Keep the licence files of the dist-info: they must travel with the code.
        return entry.rsplit("/", 1)[-1].upper().startswith(("LICENSE", "NOTICE"))
    return True


def _record_digest(recorded_hash: str, size: str) -> tuple[str | None, int | None]:
    algorithm, _, encoded = recorded_hash.partition("=")
    if algorithm != "sha256" or not encoded or not size.isdigit():
        return None, None
    raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    return raw.hex(), int(size)


def _is_source_file(path: Path) -> bool:
    return (
        path.is_file()
        and "__pycache__" not in path.parts
        and not path.name.endswith(_SKIPPED_SUFFIXES)
    )


def _read_checked(item: ArtifactFile) -> bytes:
    """The file's bytes; for a recorded file, only if they are what its RECORD says."""
    try:
        data = item.source.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read {item.source} for the handler zip: {exc}") from None
    if item.sha256 is not None and hashlib.sha256(data).hexdigest() != item.sha256:
        raise BundleError(
            f"{item.source} differs from what its distribution's RECORD lists; reinstall the "
            "locked versions (handlers/requirements.lock)"
        )
    return data


def build_handler_zip(files: list[ArtifactFile] | None = None) -> bytes:
    """The zip's bytes: deterministic for the same files and contents.

    The archive comment is the SHA-256 of everything before the end-of-central-directory
    record, so :func:`is_intact_zip` can check a zip on disk without decompressing it.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for item in files if files is not None else handler_files():
            info = zipfile.ZipInfo(item.arcname, date_time=_FIXED_DATE_TIME)
            info.external_attr = _FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode above is honoured everywhere
            zf.writestr(info, _read_checked(item), compresslevel=_COMPRESS_LEVEL)
    unsigned = buffer.getvalue()
    body = unsigned[:-_END_RECORD_SIZE]  # no comment yet: the record is the last 22 bytes
    comment = _COMMENT_PREFIX + hashlib.sha256(body).hexdigest().encode()
    end_record = unsigned[-_END_RECORD_SIZE:-2] + len(comment).to_bytes(2, "little")
    return body + end_record + comment


def is_intact_zip(data: bytes) -> bool:
    """True if ``data`` is a zip written by :func:`build_handler_zip`, unchanged since."""
    end = len(data) - _COMMENT_LENGTH - _END_RECORD_SIZE
    if end < 0 or data[end : end + 4] != _END_OF_CENTRAL_DIRECTORY:
        return False
    comment = data[-_COMMENT_LENGTH:]
    if data[end + 20 : end + 22] != _COMMENT_LENGTH.to_bytes(2, "little"):
        return False
    if not comment.startswith(_COMMENT_PREFIX):
        return False
    return hashlib.sha256(data[:end]).hexdigest().encode() == comment[len(_COMMENT_PREFIX) :]


def content_digest(files: list[ArtifactFile]) -> str:
    """SHA-256 over archive names and contents; cheaper than zipping, same identity.

    A recorded file contributes its RECORD hash instead of its bytes: the zip build refuses a
    file whose bytes do not match it, so the identity holds without reading it here.
    """
    digest = hashlib.sha256(f"format {_ZIP_FORMAT}\0".encode())
    for item in files:
        if item.sha256 is not None:
            digest.update(f"{item.arcname}\0{item.size}\0sha256:{item.sha256}\0".encode())
            continue
        data = item.source.read_bytes()
        digest.update(f"{item.arcname}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _zip_name(files: list[ArtifactFile]) -> str:
    return f"{ARTIFACT_STEM}-{content_digest(files)[:12]}.zip"


@cache
def handler_zip_name() -> str:
    """``mediapipe-handlers-<12 hex digits of the inputs' hash>.zip``."""
    return _zip_name(handler_files())


def default_handler_code(artifacts_dir: str = DEFAULT_ARTIFACTS_DIR) -> str:
    """Local path of the zip, relative to the template, as `aws cloudformation package` wants."""
    return f"{artifacts_dir.rstrip('/')}/{handler_zip_name()}"


def write_handler_zip(directory: Path) -> Path:
    """Write the zip into ``directory`` (created if needed) unless an intact one is there.

    The name is the inputs' hash, so a file of that name that passes :func:`is_intact_zip` holds
    exactly these inputs and is reused as it is. A new zip is written to a temporary file and
    renamed into place, so a reader never sees half a zip.
    """
    files = handler_files()
    target = directory / _zip_name(files)
    if target.is_file() and is_intact_zip(target.read_bytes()):
        return target
    data = build_handler_zip(files)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.")
    except OSError as exc:
        raise OSError(
            exc.errno, f"cannot write the handler zip: {exc.strerror}", str(target)
        ) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise OSError(
            exc.errno, f"cannot write the handler zip: {exc.strerror}", str(target)
        ) from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
