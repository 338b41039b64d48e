"""`import mediapipe_cfn` and `mediapipe-cfn render` stay light: no cfn-lint, no boto3.

These are properties of the import graph, checked in fresh interpreters; the start-up time itself
is measured by benchmarks/render_startup.py, not asserted here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("cfnlint", "boto3", "botocore")


def _loaded_heavy_modules(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    last_line = result.stdout.rstrip("\n").rsplit("\n", 1)[-1]
    return [m for m in last_line.split(",") if m]


def test_import_mediapipe_cfn_is_light() -> None:
    assert _loaded_heavy_modules("import mediapipe_cfn") == []


def test_render_command_does_not_load_cfn_lint_or_boto3(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from mediapipe_cfn.cli import main\n"
        f"result = CliRunner().invoke(main, ['render', '-o', {str(tmp_path / 't.yaml')!r}])\n"
        "assert result.exit_code == 0, result.output\n"
    )
    assert _loaded_heavy_modules(code) == []
    assert (tmp_path / "t.yaml").is_file()


def test_public_api_names_resolve() -> None:
    import mediapipe_cfn

    for name in mediapipe_cfn.__all__:
        assert getattr(mediapipe_cfn, name) is not None
