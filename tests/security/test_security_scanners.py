"""checkov and parliament: reading their output, and the gate on every built-in profile.

The parsing tests need neither tool. The gate tests run checkov and parliament once per test run
over all built-in profiles; without the tools they skip locally and fail in CI (``CI=true``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sample_deployment import require_security_tools

from mediapipe_cfn.profile.loader import builtin_profiles, load_profile
from mediapipe_cfn.security import Report, run_security_checks_for
from mediapipe_cfn.security.checkov import parse_report, run_checkov
from mediapipe_cfn.security.parliament import (
    LOW_FINDING_REASONS,
    ParliamentFinding,
    parse_output,
    run_parliament,
)
from mediapipe_cfn.security.policies import IamPolicy, PolicyKind
from mediapipe_cfn.security.tools import (
    SecurityToolError,
    checkov_executable,
    parliament_python,
)

# The built-in profiles, and one with every capacity option on (its queues widen the roles).
CAPACITY_PROFILE = Path(__file__).resolve().parents[1] / "profiles" / "capacity-all.yaml"
PROFILES = [*builtin_profiles(), load_profile(CAPACITY_PROFILE).name]


def check(
    check_id: str, resource: str, file_path: str, result: str, comment: str = ""
) -> dict[str, Any]:
    outcome: dict[str, Any] = {"result": result}
    if comment:
        outcome["suppress_comment"] = comment
    return {
        "check_id": check_id,
        "check_name": f"name of {check_id}",
        "check_result": outcome,
        "file_path": f"/{Path(file_path).name}",
        "file_abs_path": file_path,
        "resource": resource,
    }


def report(**results: list[Any]) -> dict[str, Any]:
    return {
        "check_type": "cloudformation",
        "results": {
            "passed_checks": results.get("passed", []),
            "failed_checks": results.get("failed", []),
            "skipped_checks": results.get("skipped", []),
            "parsing_errors": results.get("parsing_errors", []),
        },
        "summary": {"checkov_version": "3.3.30"},
    }


# --- reading checkov's report ------------------------------------------------------------------


def test_checkov_report_is_split_per_file() -> None:
    a, b = Path("/work/a.json"), Path("/work/b.json")
    text = json.dumps(
        report(
            passed=[check("CKV_AWS_53", "AWS::S3::Bucket.X", str(a), "PASSED")],
            failed=[check("CKV_AWS_18", "AWS::S3::Bucket.Y", str(b), "FAILED")],
            skipped=[check("CKV_AWS_21", "AWS::S3::Bucket.X", str(a), "SKIPPED", "reason")],
        )
    )
    results = parse_report(text, [a, b])
    assert results[a].passed == 1 and results[a].failed == [] and results[a].problems() == []
    (skip,) = results[a].skipped
    assert (skip.check_id, skip.comment) == ("CKV_AWS_21", "reason")
    assert results[b].problems() == ["CKV_AWS_18 AWS::S3::Bucket.Y: name of CKV_AWS_18"]
    assert results[a].version == "3.3.30"


def test_a_file_checkov_could_not_parse_fails() -> None:
    path = Path("/work/broken.json")
    results = parse_report(json.dumps(report(parsing_errors=[str(path)])), [path])
    assert results[path].problems() == ["checkov could not parse broken.json"]


def test_a_file_without_any_result_fails() -> None:
    path = Path("/work/empty.json")
    summary_only = {"check_type": "cloudformation", "results": {"failed_checks": []}, "summary": {}}
    results = parse_report(json.dumps(summary_only), [path])
    assert results[path].problems() == ["checkov evaluated no resources in empty.json"]


def test_several_frameworks_come_as_a_list() -> None:
    path = Path("/work/t.json")
    other = {
        "check_type": "secrets",
        "results": {"failed_checks": [check("CKV_SECRET_2", "x", "/elsewhere", "FAILED")]},
    }
    text = json.dumps([report(passed=[check("CKV_AWS_53", "r", str(path), "PASSED")]), other])
    assert parse_report(text, [path])[path].passed == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        (
            json.dumps(report(failed=[check("CKV_AWS_18", "r", "/work/other.json", "FAILED")])),
            "not given",
        ),
    ],
)
def test_unreadable_checkov_output_is_an_error(text: str, message: str) -> None:
    with pytest.raises(SecurityToolError, match=message):
        parse_report(text, [Path("/work/t.json")])


# --- reading parliament's output ---------------------------------------------------------------


def finding(issue: str, severity: str, **extra: Any) -> dict[str, Any]:
    return {
        "issue": issue,
        "severity": severity,
        "title": issue.title(),
        "detail": "d",
        "location": {},
        **extra,
    }


def test_parliament_severity_decides_failure() -> None:
    text = json.dumps(
        {
            "parliament_version": "1.6.4",
            "results": [
                {
                    "name": "p",
                    "findings": [
                        finding("RESOURCE_STAR", "LOW"),
                        finding("RESOURCE_MISMATCH", "MEDIUM"),
                        finding("MALFORMED", "HIGH"),
                        finding("EXCEPTION", "CRITICAL"),
                    ],
                }
            ],
        }
    )
    assert [f.fails for f in parse_output(text)] == [False, True, True, True]


def test_unknown_condition_is_accepted_only_with_evidence_from_parliaments_data() -> None:
    documented = ParliamentFinding(
        "p", "UNKNOWN_CONDITION_FOR_ACTION", "MEDIUM", "t", "d", ("key",)
    )
    undocumented = ParliamentFinding("p", "UNKNOWN_CONDITION_FOR_ACTION", "MEDIUM", "t", "d")
    assert not documented.fails and "key" in (documented.accepted_reason or "")
    assert undocumented.fails and undocumented.accepted_reason is None


# --- the tools, on the real templates ----------------------------------------------------------


@pytest.fixture(scope="session")
def tools() -> tuple[Path, Path]:
    require_security_tools()
    checkov, python = checkov_executable(), parliament_python()
    assert checkov is not None and python is not None
    return checkov, python


@pytest.fixture(scope="session")
def reports(tools: tuple[Path, Path]) -> dict[str, Report]:
    checkov, python = tools
    return run_security_checks_for(
        [*(load_profile(name) for name in builtin_profiles()), load_profile(CAPACITY_PROFILE)],
        checkov=checkov,
        parliament_python=python,
    )


@pytest.mark.parametrize("profile", PROFILES)
def test_builtin_profile_passes_the_security_gate(reports: dict[str, Report], profile: str) -> None:
    result = reports[profile]
    assert result.failures == [], "\n".join(result.lines())
    assert any(c.startswith("checkov") and " passed" in c for c in result.checks)
    assert "parliament" in result.checks


@pytest.mark.parametrize("profile", PROFILES)
def test_every_checkov_skip_comes_from_the_template_with_a_reason(
    reports: dict[str, Report], profile: str
) -> None:
    skips = [n for n in reports[profile].notes if n.check == "checkov"]
    assert skips and all(n.message.split(" skipped: ", 1)[1].strip() for n in skips)


def test_every_low_parliament_finding_has_a_documented_reason(reports: dict[str, Report]) -> None:
    seen = {
        note.message.split(":", 1)[0].split(" ", 1)[1]
        for result in reports.values()
        for note in result.notes
        if note.check == "parliament" and note.message.startswith("LOW ")
    }
    assert seen and seen <= set(LOW_FINDING_REASONS), seen - set(LOW_FINDING_REASONS)


def policy(kind: PolicyKind, *statements: dict[str, Any]) -> IamPolicy:
    return IamPolicy(
        name="probe",
        kind=kind,
        logical_id="Probe",
        resource_type="AWS::IAM::Role",
        path="Properties.Policies[0].PolicyDocument",
        document={"Version": "2012-10-17", "Statement": list(statements)},
        attached_to=(),
    )


def test_parliament_catches_a_bad_policy(tools: tuple[Path, Path]) -> None:
    """The wiring works: a policy parliament must object to produces failing findings."""
    _, python = tools
    bad = policy(
        PolicyKind.IDENTITY,
        # s3:GetObject on a bucket ARN matches no resource of the action (RESOURCE_MISMATCH).
        {
            "Sid": "Mismatch",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::bucket",
        },
        # iam:CreateAccessKey on any user: credential exposure (community auditor).
        {"Sid": "Keys", "Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": "*"},
    )
    trust = policy(
        PolicyKind.TRUST,
        {"Effect": "Allow", "Principal": {"Service": "x"}, "Action": "sts:AssumeRole"},
    )
    findings = run_parliament(python, [("bad", bad), ("trust", trust)])
    failing = {f.issue for f in findings if f.fails}
    assert {"RESOURCE_MISMATCH", "CREDENTIALS_EXPOSURE"} <= failing
    assert {f.policy for f in findings} == {"bad"}  # trust policies are not linted


def test_checkov_catches_an_unprotected_bucket(tools: tuple[Path, Path], tmp_path: Path) -> None:
    """The wiring works: checkov fails a bucket without logging or a public access block."""
    checkov, _ = tools
    path = tmp_path / "plain.json"
    path.write_text(
        json.dumps(
            {
                "AWSTemplateFormatVersion": "2010-09-09",
                "Resources": {"Plain": {"Type": "AWS::S3::Bucket", "Properties": {}}},
            }
        ),
        encoding="utf-8",
    )
    (result,) = run_checkov(checkov, [path]).values()
    failed = {c.check_id for c in result.failed}
    assert {"CKV_AWS_18", "CKV_AWS_53"} <= failed
