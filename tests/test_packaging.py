"""What an embedding team gets from the wheel: licence, typing marker, and no forced pins."""

from __future__ import annotations

import email
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mediapipe_cfn.artifacts import locked_distributions

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel, built offline with the project's own build backend."""
    out = tmp_path_factory.mktemp("wheel")
    code = "import sys\nfrom hatchling.build import build_wheel\nprint(build_wheel(sys.argv[1]))"
    result = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return zipfile.ZipFile(out / result.stdout.strip().splitlines()[-1])


def _metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    return email.message_from_bytes(wheel.read(name))


def test_licence_is_apache_2_in_the_repository_and_the_wheel(wheel: zipfile.ZipFile) -> None:
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("Copyright 2026 mediapipe-cfn maintainers\n")
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    metadata = _metadata(wheel)
    assert metadata["License-Expression"] == "Apache-2.0"
    licence = next(n for n in wheel.namelist() if n.endswith(".dist-info/licenses/LICENSE"))
    assert wheel.read(licence).decode() == text


def test_wheel_is_typed_and_carries_the_handler_lock(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "mediapipe_cfn/py.typed" in names
    assert "mediapipe_cfn/_bundled/handlers/requirements.lock" in names


def test_library_requirements_pin_nothing_exactly(wheel: zipfile.ZipFile) -> None:
    requirements = _metadata(wheel).get_all("Requires-Dist") or []
    unconditional = [r for r in requirements if "extra ==" not in r]
    assert unconditional, "the wheel lists its requirements"
    assert not [r for r in unconditional if "==" in r]
    assert not [r for r in unconditional if r.startswith(("aws-lambda-powertools", "typing"))]


def test_handlers_extra_pins_exactly_the_lock(wheel: zipfile.ZipFile) -> None:
    requirements = _metadata(wheel).get_all("Requires-Dist") or []
    extra = sorted(r.split(";", 1)[0].strip() for r in requirements if "extra == 'handlers'" in r)
    locked = sorted(f"{name}=={version}" for name, version in locked_distributions().items())
    assert extra == locked


def test_changelog_keeps_an_unreleased_section() -> None:
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    assert re.search(r"^## \[Unreleased\]$", text, re.MULTILINE)
    assert re.search(r"^### (Added|Changed|Fixed|Removed)$", text, re.MULTILINE)
