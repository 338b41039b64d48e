"""docs/operations.md: each alarm's runbook names the command that diagnoses it, and every
operations command the runbook shows runs, as written, against the pipeline in moto."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from operations_harness import KEYS, REGION, STACK, Operator, populate

from mediapipe_cfn import build_template, builtin_profiles, load_profile
from mediapipe_cfn.cli import main
from mediapipe_cfn.operations.health import ALARM_COMMANDS

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "operations.md"
COMMAND = re.compile(r"mediapipe-cfn (?:status|assets|dlq)\b[^`\n]*")
# Commands that change something run after the ones that only look.
CHANGES = ("assets retry", "dlq redrive")


def _sections(text: str) -> dict[str, str]:
    """Each `###` heading with the text under it (up to the next heading)."""
    parts = re.split(r"^(###? .+)$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _documented(command: str) -> str:
    return command.replace("--stack STACK", '--stack "$STACK"')


def test_every_alarm_has_a_runbook_entry_naming_its_diagnosing_command() -> None:
    sections = _sections(DOCS.read_text(encoding="utf-8"))
    alarms = {
        logical_id
        for name in builtin_profiles()
        for logical_id, resource in build_template(load_profile(name))
        .to_dict()["Resources"]
        .items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert set(ALARM_COMMANDS) == alarms, "every alarm, and only alarms, have a command"
    for alarm in sorted(alarms):
        [entry] = [
            body
            for heading, body in sections.items()
            if heading.startswith("### ") and alarm in heading
        ]
        assert _documented(ALARM_COMMANDS[alarm]) in entry, f"{alarm}: {ALARM_COMMANDS[alarm]}"
        assert "Diagnose:" in entry


def documented_commands() -> list[str]:
    """The operations commands of the runbook's code blocks and Diagnose lines."""
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.+?)```", text, flags=re.DOTALL)
    diagnose = re.findall(r"^Diagnose: (.+)$", text, flags=re.MULTILINE)
    found = [m.split("  #")[0].strip() for part in blocks + diagnose for m in COMMAND.findall(part)]
    return sorted(set(found), key=lambda c: (any(k in c for k in CHANGES), "--dry-run" not in c, c))


def test_the_runbook_shows_every_command() -> None:
    shown = " ".join(documented_commands())
    for command in (
        "status",
        "assets show",
        "assets list",
        "assets retry",
        "dlq show",
        "dlq redrive",
    ):
        assert f"mediapipe-cfn {command}" in shown, command


def test_every_documented_command_runs(operator: Operator) -> None:
    populate(operator)
    values = {
        "$STACK": STACK,
        "$ASSET_ID": operator.asset_id("throttled"),
        "$UPLOADS_BUCKET": operator.pipeline.uploads,
    }
    assert KEYS["succeeded"] == "uploads/alice/holiday.mp4"  # the runbook's example upload
    for command in documented_commands():
        line = command
        for name, value in values.items():
            line = line.replace(f'"{name}"', value).replace(name, value)
        args = shlex.split(line)[1:]
        result = operator.runner.invoke(main, [*args, "--region", REGION])
        assert result.exit_code in (0, 1), (command, result.output)
        assert result.stdout.strip(), command
