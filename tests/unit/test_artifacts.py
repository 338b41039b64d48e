"""The handler zip: deterministic, complete, and importable with what Lambda provides."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mediapipe_cfn import artifacts
from mediapipe_cfn.artifacts import (
    ArtifactFile,
    build_handler_zip,
    content_digest,
    handler_files,
    handler_zip_name,
    write_handler_zip,
)


@pytest.fixture(scope="module")
def zip_bytes() -> bytes:
    return build_handler_zip()


def test_same_sources_give_the_same_bytes(zip_bytes: bytes) -> None:
    assert build_handler_zip() == zip_bytes


def test_entries_are_sorted_with_fixed_time_and_mode(zip_bytes: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]


def test_zip_holds_handlers_library_modules_and_pinned_powertools(zip_bytes: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        names = set(archive.namelist())
    assert "mediapipe_handlers/ingest_orchestrator.py" in names
    assert "mediapipe_handlers/job_status_processor.py" in names
    for module in artifacts.LIBRARY_MODULES:
        assert f"mediapipe_cfn/{module}" in names
    assert "aws_lambda_powertools/__init__.py" in names
    assert "typing_extensions.py" in names
    # Nothing of the generator itself: the functions must not carry troposphere-based code.
    assert "mediapipe_cfn/template.py" not in names
    assert not [n for n in names if n.startswith(("troposphere", "pydantic/", "boto3/"))]


def test_name_carries_the_content_hash(tmp_path: Path) -> None:
    files = handler_files()
    assert handler_zip_name() == f"mediapipe-handlers-{content_digest(files)[:12]}.zip"
    changed = tmp_path / "extra.py"
    changed.write_text("VALUE = 1\n")
    extra = [*files, ArtifactFile("mediapipe_handlers/extra.py", changed)]
    first = content_digest(extra)
    changed.write_text("VALUE = 2\n")
    assert content_digest(extra) != first


def test_write_handler_zip_is_idempotent(tmp_path: Path) -> None:
    first = write_handler_zip(tmp_path)
    mtime = first.stat().st_mtime_ns
    second = write_handler_zip(tmp_path)
    assert first == second
    assert second.name == handler_zip_name()
    assert second.stat().st_mtime_ns == mtime, "an identical zip is not rewritten"


def test_bundled_library_modules_need_only_the_standard_library(
    tmp_path: Path, zip_bytes: bytes
) -> None:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        for module in artifacts.LIBRARY_MODULES:
            archive.extract(f"mediapipe_cfn/{module}", tmp_path)
    modules = [
        "mediapipe_cfn." + m.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        for m in artifacts.LIBRARY_MODULES
    ]
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + "\n".join(
        f"import {module}" for module in modules if module != "mediapipe_cfn.__init__"
    )
    # -S: no site-packages, so any third-party import fails here as it would in the zip.
    result = subprocess.run(
        [sys.executable, "-S", "-I", "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
