"""Repository-level promises: lint-clean code, and a README whose commands CI really runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ruff_check_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _readme_quick_start() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_readme_quick_start_is_two_commands() -> None:
    commands = _readme_quick_start()
    assert len(commands) == 2
    assert "mediapipe-cfn render" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_quick_start()[1] in ci.splitlines()


def test_the_quick_start_render_writes_the_template_and_the_zip(tmp_path: Path) -> None:
    """The first quick-start command, after its install: run as written in an empty folder."""
    install, _, render = _readme_quick_start()[0].partition(" && ")
    assert install.startswith("python -m pip install")
    result = subprocess.run(
        ["bash", "-c", render.replace("mediapipe-cfn", f"{sys.executable} -m mediapipe_cfn", 1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "template.yaml").read_text(encoding="utf-8").startswith("AWSTemplate")
    [zip_file] = (tmp_path / "artifacts").glob("mediapipe-handlers-*.zip")
    assert f"artifacts/{zip_file.name}" in (tmp_path / "template.yaml").read_text(encoding="utf-8")
