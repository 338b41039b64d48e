"""The handler artifact: one deterministic zip that both Lambda functions deploy.

Both functions share most of their code (configuration, the asset repository, the MediaConvert
settings builder), so they ship as one zip with two entry points. The zip holds:

* ``handlers/mediapipe_handlers/`` — the handler package;
* the standard-library-only modules of this library the handlers import (:data:`LIBRARY_MODULES`);
* the exact installed versions of the pure-Python dependencies in :data:`VENDORED_DISTRIBUTIONS`
  (what is tested is what is deployed). boto3 comes from the Lambda runtime.

Entries are sorted, timestamps and modes fixed, so the same sources give the same bytes; the file
name carries a hash of the content, so CloudFormation updates the functions only when it changed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath

from mediapipe_cfn.resources import data_dir, library_file

HANDLER_PACKAGE = "mediapipe_handlers"
ARTIFACT_STEM = "mediapipe-handlers"
DEFAULT_ARTIFACTS_DIR = "artifacts"
LIBRARY_MODULES = (
    "__init__.py",
    "_version.py",
    "contract.py",
    "mediaconvert/__init__.py",
    "mediaconvert/ladder.py",
    "mediaconvert/settings.py",
)
VENDORED_DISTRIBUTIONS = ("aws-lambda-powertools", "typing-extensions")
# 1980-01-01, the earliest time a zip entry can carry.
_FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16  # regular file, rw-r--r--
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class ArtifactFile:
    """A file to put in the zip: where it goes and where it comes from."""

    arcname: str
    source: Path


def handler_files() -> list[ArtifactFile]:
    """Every file of the handler zip, sorted by archive name."""
    files = list(_handler_package_files()) + list(_library_files()) + list(_vendored_files())
    names = [f.arcname for f in files]
    clashes = sorted({n for n in names if names.count(n) > 1})
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
    files = []
    for name in VENDORED_DISTRIBUTIONS:
        distribution = importlib.metadata.distribution(name)
        for entry in distribution.files or ():
            path = Path(str(distribution.locate_file(entry)))
            # Keep the licence files of the dist-info: they must travel with the code.
            metadata = ".dist-info/" in entry.as_posix()
            if metadata and not PurePosixPath(entry).name.upper().startswith(("LICENSE", "NOTICE")):
                continue
            if _is_source_file(path):
                files.append(ArtifactFile(entry.as_posix(), path))
    return files


def _is_source_file(path: Path) -> bool:
    return (
        path.is_file()
        and "__pycache__" not in path.parts
        and not path.name.endswith(_SKIPPED_SUFFIXES)
    )


def build_handler_zip(files: list[ArtifactFile] | None = None) -> bytes:
    """The zip's bytes: deterministic for the same files and contents."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for item in files if files is not None else handler_files():
            info = zipfile.ZipInfo(item.arcname, date_time=_FIXED_DATE_TIME)
            info.external_attr = _FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode above is honoured everywhere
            zf.writestr(info, item.source.read_bytes())
    return buffer.getvalue()


def content_digest(files: list[ArtifactFile]) -> str:
    """SHA-256 over archive names and contents; cheaper than zipping, same identity."""
    digest = hashlib.sha256()
    for item in files:
        data = item.source.read_bytes()
        digest.update(f"{item.arcname}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


@cache
def handler_zip_name() -> str:
    """``mediapipe-handlers-<12 hex digits of the content hash>.zip``."""
    return f"{ARTIFACT_STEM}-{content_digest(handler_files())[:12]}.zip"


def default_handler_code(artifacts_dir: str = DEFAULT_ARTIFACTS_DIR) -> str:
    """Local path of the zip, relative to the template, as `aws cloudformation package` wants."""
    return f"{artifacts_dir.rstrip('/')}/{handler_zip_name()}"


def write_handler_zip(directory: Path) -> Path:
    """Write the zip into ``directory`` (created if needed) unless an identical one is there."""
    files = handler_files()
    target = directory / f"{ARTIFACT_STEM}-{content_digest(files)[:12]}.zip"
    data = build_handler_zip(files)
    if not (target.is_file() and target.read_bytes() == data):
        directory.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return target
