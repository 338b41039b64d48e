"""Run checkov on rendered template files and read its JSON report.

checkov runs offline: ``--skip-download`` keeps it from fetching policies and guidelines from
the vendor's platform, and ``CKV_SKIP_PACKAGE_UPDATE_CHECK`` from asking PyPI for a newer version.
One run can scan several templates; the results are split per file.

A template checkov could not parse, or in which it found no resources, counts as a failure: a
scanner that saw nothing has passed nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from mediapipe_cfn.security.intrinsics import sequence_of
from mediapipe_cfn.security.tools import SecurityToolError

# A scan of one template takes a few seconds; this bounds a hung scanner, not a slow one.
TIMEOUT_SECONDS: Final = 600
OFFLINE_ENVIRONMENT: Final[Mapping[str, str]] = {
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
    "BC_SKIP_MAPPING": "TRUE",
    "LOG_LEVEL": "WARNING",
}


@dataclass(frozen=True)
class CheckovCheck:
    """One check result on one resource."""

    check_id: str
    check_name: str
    resource: str  # e.g. "AWS::S3::Bucket.AccessLogsBucket"
    result: str  # "FAILED" or "SKIPPED" (passed checks are only counted)
    comment: str = ""  # the skip reason written in the template

    def __str__(self) -> str:
        return f"{self.check_id} {self.resource}: {self.check_name}"


@dataclass
class CheckovResult:
    """checkov's verdict on one template file."""

    path: Path
    version: str = ""
    passed: int = 0
    failed: list[CheckovCheck] = field(default_factory=list)
    skipped: list[CheckovCheck] = field(default_factory=list)
    parsing_error: bool = False

    def problems(self) -> list[str]:
        """Why this result is not a pass (empty for a clean scan)."""
        if self.parsing_error:
            return [f"checkov could not parse {self.path.name}"]
        if not (self.passed or self.failed or self.skipped):
            return [f"checkov evaluated no resources in {self.path.name}"]
        return [str(check) for check in self.failed]


def command(executable: Path, paths: Sequence[Path]) -> list[str]:
    arguments = [
        str(executable),
        "--framework",
        "cloudformation",
        "--skip-download",
        "--output",
        "json",
    ]
    for path in paths:
        arguments += ["--file", str(path)]
    return arguments


def run_checkov(executable: Path, paths: Sequence[Path]) -> dict[Path, CheckovResult]:
    """Scan ``paths`` (CloudFormation JSON or YAML files) in one checkov run."""
    if not paths:
        return {}
    resolved = [Path(p).resolve() for p in paths]
    environment = {**os.environ, **OFFLINE_ENVIRONMENT}
    try:
        completed = subprocess.run(
            command(executable, resolved),
            capture_output=True,
            text=True,
            cwd=resolved[0].parent,
            env=environment,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SecurityToolError(f"checkov could not run: {error}") from error
    # checkov exits 1 when a check fails; anything else non-zero is the tool failing.
    if completed.returncode not in (0, 1):
        raise SecurityToolError(
            f"checkov exited with {completed.returncode}: {_tail(completed.stderr)}"
        )
    return parse_report(completed.stdout, resolved)


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"


def parse_report(text: str, paths: Sequence[Path]) -> dict[Path, CheckovResult]:
    """Split checkov's JSON report (one framework: an object; several: a list) per file."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise SecurityToolError(f"checkov's output is not JSON: {error}: {text[:200]!r}") from error
    reports = document if isinstance(document, list) else [document]
    results = {Path(p): CheckovResult(path=Path(p)) for p in paths}
    by_name = _index_by_name(results)
    for report in reports:
        _merge_report(report, results, by_name)
    return results


def _index_by_name(results: Mapping[Path, CheckovResult]) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for path in results:
        index[str(path)] = path
        index[path.name] = path
    return index


def _result_for(
    check: Mapping[str, Any], results: Mapping[Path, CheckovResult], by_name: Mapping[str, Path]
) -> CheckovResult:
    for key in ("file_abs_path", "file_path"):
        reported = str(check.get(key) or "")
        for candidate in (reported, Path(reported).name):
            if candidate in by_name:
                return results[by_name[candidate]]
    raise SecurityToolError(f"checkov reported a file it was not given: {check.get('file_path')}")


def _merge_report(
    report: Mapping[str, Any],
    results: Mapping[Path, CheckovResult],
    by_name: Mapping[str, Path],
) -> None:
    if report.get("check_type", "cloudformation") != "cloudformation":
        return
    version = str(report.get("summary", {}).get("checkov_version", ""))
    for result in results.values():
        result.version = result.version or version
    checks = report.get("results", {})
    for check in checks.get("passed_checks", []):
        _result_for(check, results, by_name).passed += 1
    for check in checks.get("failed_checks", []):
        _result_for(check, results, by_name).failed.append(_check(check, "FAILED"))
    for check in checks.get("skipped_checks", []):
        _result_for(check, results, by_name).skipped.append(_check(check, "SKIPPED"))
    for reported in checks.get("parsing_errors", []):
        name = str(reported)
        for candidate in (name, Path(name).name):
            if candidate in by_name:
                results[by_name[candidate]].parsing_error = True
                break
        else:
            raise SecurityToolError(f"checkov could not parse a file it was not given: {name}")


def _check(check: Mapping[str, Any], result: str) -> CheckovCheck:
    outcome = check.get("check_result", {})
    return CheckovCheck(
        check_id=str(check.get("check_id")),
        check_name=str(check.get("check_name")),
        resource=str(check.get("resource")),
        result=result,
        comment=str(outcome.get("suppress_comment") or ""),
    )


# --- skips written in the template ------------------------------------------------------------


@dataclass(frozen=True)
class Skip:
    """A checkov check skipped in resource metadata, with the reason written there."""

    check_id: str
    reason: str
    resource: str  # "AWS::Lambda::Function.IngestOrchestratorFunction"


def checkov_skips(template: Mapping[str, Any]) -> list[Skip]:
    """Every ``Metadata.checkov.skip`` entry of the template, sorted."""
    skips = []
    for logical_id, body in template.get("Resources", {}).items():
        entries = body.get("Metadata", {}).get("checkov", {}).get("skip", [])
        for entry in sequence_of(entries):
            skips.append(
                Skip(
                    check_id=str(entry.get("id", "")),
                    reason=str(entry.get("comment", "")),
                    resource=f"{body.get('Type')}.{logical_id}",
                )
            )
    return sorted(skips, key=lambda s: (s.check_id, s.resource, s.reason))
