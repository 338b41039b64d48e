"""Finding the scanners, saying how to install them, and `validate --security`."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sample_deployment import require_security_tools

from mediapipe_cfn.errors import MediapipeError
from mediapipe_cfn.security import SecurityToolsMissing, security_command_lines
from mediapipe_cfn.security.tools import (
    CHECKOV_ENV,
    PARLIAMENT_PYTHON_ENV,
    checkov_executable,
    missing_tools,
    parliament_python,
    require_tools,
)

REPO = Path(__file__).resolve().parents[2]
NO_TOOLS = {"PATH": "", CHECKOV_ENV: "", PARLIAMENT_PYTHON_ENV: ""}


def executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_tools_come_from_the_environment_variables(tmp_path: Path) -> None:
    checkov = executable(tmp_path / "checkov")
    python = executable(tmp_path / "python")
    environ = {CHECKOV_ENV: str(checkov), PARLIAMENT_PYTHON_ENV: str(python), "PATH": ""}
    assert checkov_executable(environ) == checkov
    assert parliament_python(environ) == python
    assert require_tools(environ) == (checkov, python)


def test_tools_come_from_path_and_the_parliament_scripts_interpreter(tmp_path: Path) -> None:
    interpreter = executable(tmp_path / "venv-python")
    checkov = executable(tmp_path / "checkov")
    executable(tmp_path / "parliament", f"#!{interpreter}\nimport parliament.cli\n")
    environ = {"PATH": str(tmp_path)}
    assert checkov_executable(environ) == checkov
    assert parliament_python(environ) == interpreter


def test_a_variable_pointing_nowhere_is_reported(tmp_path: Path) -> None:
    environ = {CHECKOV_ENV: str(tmp_path / "missing"), PARLIAMENT_PYTHON_ENV: str(tmp_path)}
    problems = missing_tools(environ)
    assert problems == [
        f"{CHECKOV_ENV}={tmp_path / 'missing'} is not an executable file",
        f"{PARLIAMENT_PYTHON_ENV}={tmp_path} is not an executable file",
    ]


def test_missing_tools_say_how_to_install_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(SecurityToolsMissing) as raised:
        require_tools(NO_TOOLS)
    message = str(raised.value)
    assert isinstance(raised.value, MediapipeError)  # the CLI turns it into exit code 2
    assert "bash .ci/security-tools" in message
    assert "pip install checkov==" in message and "parliament==" in message
    assert "checkov is not on PATH" in message and "parliament is not installed" in message


@pytest.mark.parametrize(
    ("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_missing_tools_fail_in_ci_and_skip_locally(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv(CHECKOV_ENV, "/nonexistent/checkov")
    with pytest.raises(outcome, match=re.escape("bash .ci/security-tools")):
        require_security_tools()


def test_security_command_refuses_without_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CHECKOV_ENV, "/nonexistent/checkov")
    with pytest.raises(SecurityToolsMissing):
        security_command_lines("default")


def _validate_has_security_flag() -> bool:
    from mediapipe_cfn.cli import validate

    return any("--security" in getattr(p, "opts", []) for p in validate.params)


@pytest.fixture
def cli_with_security_flag() -> None:
    if _validate_has_security_flag():
        return
    message = "`mediapipe-cfn validate --security` is not wired into mediapipe_cfn/cli.py yet"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def test_cli_without_tools_explains_and_exits_2(
    cli_with_security_flag: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediapipe_cfn.cli import main

    monkeypatch.setenv(CHECKOV_ENV, "/nonexistent/checkov")
    result = CliRunner().invoke(main, ["validate", "--security", "--profile", "default"])
    assert result.exit_code == 2, result.output
    assert "bash .ci/security-tools" in result.output


def test_cli_runs_the_gate(cli_with_security_flag: None) -> None:
    require_security_tools()
    from mediapipe_cfn.cli import main

    result = CliRunner().invoke(
        main, ["validate", "--security", "--profile", "lean", "--region", "us-east-1"]
    )
    assert result.exit_code == 0, result.output
    assert "profile lean: security OK" in result.output


def test_security_command_lines_report_the_gate() -> None:
    require_security_tools()
    lines, ok = security_command_lines("lean")
    assert ok, "\n".join(lines)
    assert lines[-1].startswith("profile lean: security OK (checkov ")


def test_security_tools_script_reuses_a_virtualenv_with_the_pinned_versions(tmp_path: Path) -> None:
    """The script's reuse path, against the virtualenv the tools already come from."""
    require_security_tools()
    python = parliament_python()
    assert python is not None
    venv = Path(python).parent.parent
    if not (venv / "bin" / "checkov").is_file():
        pytest.skip("checkov and parliament are not in one virtualenv here")
    result = subprocess.run(
        ["bash", str(REPO / ".ci" / "security-tools")],
        capture_output=True,
        text=True,
        env={**os.environ, "MEDIAPIPE_SECURITY_VENV": str(venv), "PYTHON": sys.executable},
        check=True,
        timeout=120,
    )
    assert "reusing" in result.stderr
    assert result.stdout.splitlines() == [
        f"export {CHECKOV_ENV}={venv / 'bin' / 'checkov'}",
        f"export {PARLIAMENT_PYTHON_ENV}={venv / 'bin' / 'python'}",
    ]
