"""The handler zip: deterministic, complete, and importable with what Lambda provides."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mediapipe_cfn import artifacts
from mediapipe_cfn.artifacts import (
    ArtifactFile,
    BundleError,
    build_handler_zip,
    content_digest,
    handler_files,
    handler_zip_name,
    is_intact_zip,
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


def test_zip_holds_handlers_library_modules_and_locked_powertools(zip_bytes: bytes) -> None:
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


def test_lock_pins_the_bundled_distributions_exactly() -> None:
    pins = artifacts.locked_distributions()
    assert set(pins) == {"aws-lambda-powertools", "typing-extensions"}
    assert all(re.fullmatch(r"\d+(\.\d+)+", version) for version in pins.values())


def test_zip_carries_the_locked_versions(zip_bytes: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        names = set(archive.namelist())
    for name, version in artifacts.locked_distributions().items():
        dist_info = f"{name.replace('-', '_')}-{version}.dist-info/"
        assert [n for n in names if n.startswith(dist_info)], f"no licence of {name}=={version}"


@pytest.mark.parametrize(
    ("pins", "expected"),
    [
        ({"typing-extensions": "0.0.1"}, "typing-extensions is installed at"),
        ({"no-such-distribution-here": "1.0"}, "no-such-distribution-here is not installed"),
    ],
)
def test_an_environment_unlike_the_lock_is_refused(
    monkeypatch: pytest.MonkeyPatch, pins: dict[str, str], expected: str
) -> None:
    monkeypatch.setattr(artifacts, "locked_distributions", lambda: pins)
    with pytest.raises(BundleError) as raised:
        handler_files()
    message = str(raised.value)
    assert expected in message
    assert "requirements.lock" in message
    assert 'pip install "mediapipe-cfn[handlers]"' in message


def test_render_with_an_unlocked_environment_is_one_message_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from mediapipe_cfn.cli import main

    monkeypatch.setattr(artifacts, "locked_distributions", lambda: {"typing-extensions": "0.0.1"})
    result = CliRunner().invoke(main, ["render", "-o", str(tmp_path / "t.yaml")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.startswith("error: the handler zip bundles typing-extensions==0.0.1")
    assert not (tmp_path / "t.yaml").exists()


def test_a_bundled_file_unlike_its_record_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("VALUE = 1\n")
    recorded = ArtifactFile("module.py", source, sha256="0" * 64, size=10)
    with pytest.raises(BundleError, match="differs from what its distribution's RECORD lists"):
        build_handler_zip([recorded])


def test_the_zip_does_not_depend_on_other_installed_versions(tmp_path: Path) -> None:
    """A newer typing_extensions first on sys.path is refused, never bundled."""
    site = tmp_path / "site"
    dist_info = site / "typing_extensions-99.0.dist-info"
    dist_info.mkdir(parents=True)
    (site / "typing_extensions.py").write_text("# a different version\n")
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: typing_extensions\nVersion: 99.0\n"
    )
    (dist_info / "RECORD").write_text("typing_extensions.py,,\n")
    code = (
        f"import sys; sys.path.insert(0, {str(site)!r})\n"
        "from mediapipe_cfn.artifacts import BundleError, handler_files\n"
        "try:\n    handler_files()\nexcept BundleError as exc:\n    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "typing-extensions is installed at 99.0" in result.stdout


def test_zip_comment_seals_the_archive(zip_bytes: bytes) -> None:
    assert is_intact_zip(zip_bytes)
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        assert archive.testzip() is None
        assert archive.comment.startswith(b"mediapipe-cfn sha256=")
    flipped = bytearray(zip_bytes)
    flipped[len(flipped) // 2] ^= 0xFF
    assert not is_intact_zip(bytes(flipped))
    assert not is_intact_zip(zip_bytes[:-1])
    assert not is_intact_zip(zip_bytes[: len(zip_bytes) // 2])
    assert not is_intact_zip(b"")


@pytest.mark.parametrize("damage", ["flip", "truncate", "foreign"])
def test_a_damaged_zip_is_rebuilt(tmp_path: Path, damage: str) -> None:
    target = write_handler_zip(tmp_path)
    good = target.read_bytes()
    if damage == "flip":
        broken = bytearray(good)
        broken[100] ^= 0xFF
        target.write_bytes(bytes(broken))
    elif damage == "truncate":
        target.write_bytes(good[: len(good) // 2])
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("other.py", "X = 1\n")
        target.write_bytes(buffer.getvalue())
    assert write_handler_zip(tmp_path) == target
    assert target.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == [target.name], "no temporary file left behind"


def test_an_intact_zip_is_reused_without_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = write_handler_zip(tmp_path)

    def must_not_build(*_: object) -> bytes:
        raise AssertionError("the intact zip was rebuilt")

    monkeypatch.setattr(artifacts, "build_handler_zip", must_not_build)
    assert write_handler_zip(tmp_path) == target


def test_zip_is_under_the_size_architecture_md_states(zip_bytes: bytes) -> None:
    assert len(zip_bytes) < 1_200_000


def test_a_distribution_without_a_record_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist_info = site / "typing_extensions-4.16.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: typing_extensions\nVersion: 4.16.0\n"
    )
    code = (
        f"import sys; sys.path.insert(0, {str(site)!r})\n"
        "from mediapipe_cfn.artifacts import BundleError, handler_files\n"
        "try:\n    handler_files()\nexcept BundleError as exc:\n    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "was installed without a RECORD of its files" in result.stdout


def test_a_missing_bundled_file_is_one_clear_error(tmp_path: Path) -> None:
    gone = ArtifactFile("module.py", tmp_path / "gone.py", sha256="0" * 64, size=1)
    with pytest.raises(BundleError, match=r"cannot read .*gone\.py for the handler zip"):
        build_handler_zip([gone])
