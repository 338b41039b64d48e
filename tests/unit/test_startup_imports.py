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


def test_render_reads_no_attribute_docstrings(tmp_path: Path) -> None:
    """Parsing the model's source for field docs is left to `schema` and the reference doc."""
    out = tmp_path / "t.yaml"
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from mediapipe_cfn.cli import main\n"
        f"result = CliRunner().invoke(main, ['render', '--profile', 'prod', '-o', {str(out)!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "print('mediapipe_cfn.profile.docstrings' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
    assert out.read_text(encoding="utf-8").startswith("AWSTemplateFormatVersion: '2010-09-09'\n")


def test_schema_still_carries_the_field_docstrings() -> None:
    from mediapipe_cfn.profile.model import Profile

    schema = Profile.model_json_schema()
    rendition = schema["$defs"]["Rendition"]["properties"]["width"]
    assert rendition["description"].startswith("Frame width in pixels (even).")
    naming = schema["$defs"]["Naming"]["properties"]["prefix"]  # a Field(description=...)
    assert naming["description"].startswith("Short name used in resource names")


def test_operations_commands_load_boto3_only_when_they_run() -> None:
    code = (
        "from click.testing import CliRunner\n"
        "from mediapipe_cfn.cli import main\n"
        "for group in (['assets'], ['assets', 'retry'], ['dlq', 'redrive'], ['status']):\n"
        "    result = CliRunner().invoke(main, [*group, '--help'])\n"
        "    assert result.exit_code == 0, result.output\n"
        "    assert '--aws-profile' in result.output or group in (['assets'],), group\n"
    )
    assert _loaded_heavy_modules(code) == []
