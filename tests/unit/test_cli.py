"""The `mediapipe-cfn` command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfn_flip import load_yaml
from click.testing import CliRunner

from mediapipe_cfn import __version__
from mediapipe_cfn.artifacts import handler_zip_name
from mediapipe_cfn.cli import main
from mediapipe_cfn.profile import Profile, builtin_profiles, parse_profile


def load_template(text: str) -> dict:
    """Parse template YAML, short-form intrinsics (!Ref, !Sub...) included."""
    return json.loads(json.dumps(load_yaml(text)))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_python_dash_m_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mediapipe_cfn", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_profiles_lists_every_builtin_with_its_description(runner: CliRunner) -> None:
    result = runner.invoke(main, ["profiles"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == sorted(builtin_profiles())
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)


def test_profiles_show_prints_the_file_and_the_resolved_profile(runner: CliRunner) -> None:
    raw = runner.invoke(main, ["profiles", "show", "prod"])
    assert raw.exit_code == 0
    assert raw.output == builtin_profiles()["prod"].read_text(encoding="utf-8")
    resolved = runner.invoke(main, ["profiles", "show", "prod", "--resolved"])
    assert resolved.exit_code == 0
    reparsed = parse_profile(resolved.output, "resolved.yaml")
    assert reparsed == parse_profile(raw.output, "prod.yaml")


def test_profiles_show_unknown_name_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(main, ["profiles", "show", "nope"])
    assert result.exit_code == 2
    assert "not a built-in profile" in result.output


def test_schema_is_the_models_json_schema(runner: CliRunner) -> None:
    result = runner.invoke(main, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == json.loads(json.dumps(Profile.model_json_schema()))


def test_render_to_stdout_writes_the_zip_in_the_working_directory(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["render"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "artifacts" / handler_zip_name()).is_file()


def test_render_to_file_points_the_functions_at_the_zip(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "build" / "template.yaml"
    out.parent.mkdir()
    result = runner.invoke(main, ["render", "--profile", "prod", "-o", str(out)])
    assert result.exit_code == 0, result.output
    template = load_template(out.read_text(encoding="utf-8"))
    codes = {
        resource["Properties"]["Code"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    assert codes == {f"artifacts/{handler_zip_name()}"}
    assert (out.parent / "artifacts" / handler_zip_name()).is_file()


def test_render_with_an_artifacts_dir_uses_a_relative_path(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "t.json"
    result = runner.invoke(
        main,
        ["render", "-o", str(out), "--format", "json", "--artifacts-dir", str(tmp_path / "zips")],
    )
    assert result.exit_code == 0, result.output
    template = json.loads(out.read_text(encoding="utf-8"))
    function = template["Resources"]["IngestOrchestratorFunction"]
    assert function["Properties"]["Code"] == f"zips/{handler_zip_name()}"


def test_bad_profile_is_one_message_and_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("queue:\n  batch_sise: 10\n", encoding="utf-8")
    for command in (["render"], ["validate"]):
        result = runner.invoke(main, [*command, "--profile", str(bad)])
        assert result.exit_code == 2
        assert result.output.startswith(
            f"error: {bad}:2: queue.batch_sise: unknown key 'batch_sise' (did you mean "
            "'batch_size'?)"
        )
        assert "Traceback" not in result.output


def test_missing_profile_file_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(main, ["render", "--profile", "does/not/exist.yaml"])
    assert result.exit_code == 2
    assert "no such file, and not a built-in profile" in result.output


def test_validate_passes_for_the_default_profile(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("profile default: OK")


def test_estimate_prints_a_labelled_table(runner: CliRunner) -> None:
    result = runner.invoke(main, ["estimate", "--profile", "prod", "--uploads-per-day", "5000"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ESTIMATE (not a quote)")
    assert "Normalized output minutes per source minute" in result.output


def test_estimate_json_scales_with_the_workload(runner: CliRunner) -> None:
    def mediaconvert_total(uploads: int) -> float:
        result = runner.invoke(
            main, ["estimate", "--format", "json", "--uploads-per-day", str(uploads)]
        )
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        return sum(line["cost"] for line in data["mediaconvert"]["lines"])

    assert mediaconvert_total(2000) == pytest.approx(2 * mediaconvert_total(1000))


def test_estimate_sources_are_the_cost_models_presets() -> None:
    from mediapipe_cfn.cli import ESTIMATE_SOURCES
    from mediapipe_cfn.mediaconvert.cost import SOURCE_PRESETS

    assert set(ESTIMATE_SOURCES) == set(SOURCE_PRESETS)


def test_estimate_with_a_price_override(runner: CliRunner, tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text('{"mediaconvert": {"per_normalized_minute": {"Basic": 0.015}}}')
    base = json.loads(runner.invoke(main, ["estimate", "--format", "json"]).output)
    doubled = json.loads(
        runner.invoke(main, ["estimate", "--format", "json", "--prices", str(prices)]).output
    )

    def normalized_cost(result: dict[str, Any]) -> float:
        # Add-ons (loudness normalisation) are priced per output minute, not at the Basic rate.
        lines = result["mediaconvert"]["lines"]
        return sum(line["cost"] for line in lines if line["tier"] != "Add-on")

    assert normalized_cost(doubled) == pytest.approx(2 * normalized_cost(base))


def test_estimate_with_a_broken_price_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text("[1, 2]")
    result = runner.invoke(main, ["estimate", "--prices", str(prices)])
    assert result.exit_code == 2
    assert "must hold a JSON object" in result.output
    assert "Traceback" not in result.output
