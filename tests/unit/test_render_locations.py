"""`render` puts the handler zip where the template's `Code` path says, whatever the directory.

These run the installed command in a real process: only a real process has a standard output
that can be a file, a pipe or a terminal.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mediapipe_cfn.artifacts import handler_zip_name

if sys.platform != "linux":  # naming stdout's file needs /proc
    pytest.skip("stdout-to-file resolution is Linux-only", allow_module_level=True)

COMMAND = f"{shlex.quote(sys.executable)} -m mediapipe_cfn"


def _code_paths(template_file: Path) -> set[str]:
    template = json.loads(template_file.read_text(encoding="utf-8"))
    return {
        resource["Properties"]["Code"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    }


def _run_shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, shell=True, cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A project folder with build/ in it, and an unrelated folder to run the command from."""
    (tmp_path / "project" / "build").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    return tmp_path / "project", tmp_path / "elsewhere"


def test_stdout_redirected_to_a_file_puts_the_zip_next_to_that_file(
    layout: tuple[Path, Path],
) -> None:
    project, elsewhere = layout
    result = _run_shell(
        f"{COMMAND} render --profile lean --format json > ../project/build/template.json",
        cwd=elsewhere,
    )
    assert result.returncode == 0, result.stderr
    template = project / "build" / "template.json"
    assert _code_paths(template) == {f"artifacts/{handler_zip_name()}"}
    zip_path = project / "build" / "artifacts" / handler_zip_name()
    assert zip_path.is_file()
    assert not (elsewhere / "artifacts").exists()
    assert f"wrote {zip_path}" in result.stderr
    assert (
        f"Code path artifacts/{handler_zip_name()} is relative to the template's folder, "
        f"{project / 'build'}" in result.stderr
    )


def test_output_file_given_relative_to_another_directory(layout: tuple[Path, Path]) -> None:
    project, elsewhere = layout
    result = _run_shell(f"{COMMAND} render --format json -o ../project/build/t.json", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert _code_paths(project / "build" / "t.json") == {f"artifacts/{handler_zip_name()}"}
    assert (project / "build" / "artifacts" / handler_zip_name()).is_file()
    assert not (elsewhere / "artifacts").exists()


def test_a_pipe_falls_back_to_the_working_directory_and_says_so(
    layout: tuple[Path, Path],
) -> None:
    project, elsewhere = layout
    result = _run_shell(
        f"{COMMAND} render --format json | cat > ../project/build/piped.json", cwd=elsewhere
    )
    assert result.returncode == 0, result.stderr
    assert _code_paths(project / "build" / "piped.json") == {f"artifacts/{handler_zip_name()}"}
    assert (elsewhere / "artifacts" / handler_zip_name()).is_file()
    assert f"is relative to the working directory, {elsewhere}" in result.stderr
    assert "stdout is not a file" in result.stderr


def test_the_same_template_whether_redirected_or_written_with_dash_o(
    layout: tuple[Path, Path],
) -> None:
    project, elsewhere = layout
    redirected = _run_shell(
        f"{COMMAND} render --profile prod > ../project/build/a.yaml", cwd=elsewhere
    )
    written = _run_shell(f"{COMMAND} render --profile prod -o build/b.yaml", cwd=project)
    assert redirected.returncode == 0 and written.returncode == 0
    first = (project / "build" / "a.yaml").read_bytes()
    assert first == (project / "build" / "b.yaml").read_bytes()


def test_a_file_deleted_since_stdout_was_opened_is_not_trusted(
    layout: tuple[Path, Path],
) -> None:
    project, _ = layout
    result = _run_shell(
        f"(rm build/gone.json && {COMMAND} render --format json) > build/gone.json", cwd=project
    )
    assert result.returncode == 0, result.stderr
    assert not (project / "build" / "gone.json").exists()
    assert f"is relative to the working directory, {project}" in result.stderr
    assert (project / "artifacts" / handler_zip_name()).is_file()
