"""The security gate: every check on the rendered template of one or more profiles.

For each profile the template is rendered as `aws cloudformation package` leaves it, then:

1. checkov scans it (offline); any failed check, or a template checkov could not read, fails;
2. every IAM document is extracted and resolved, for the parameter defaults and for the other
   value of every optional parameter (existing key, existing MediaConvert role...); a
   policy-shaped document the extractor does not know fails;
3. the project's own least-privilege rules run on every document (``Resource: "*"`` only for the
   allow-listed actions, no wildcard actions, no NotAction/NotResource, no public Allow);
4. parliament lints the identity and resource policies; MEDIUM and above fails.

Several profiles are checked with one checkov run and one parliament run, which is what makes
checking every built-in profile cheap enough for CI.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mediapipe_cfn.profile.model import Profile
from mediapipe_cfn.security.checkov import CheckovResult, checkov_skips, run_checkov
from mediapipe_cfn.security.intrinsics import SampleEnvironment
from mediapipe_cfn.security.parliament import ParliamentFinding, run_parliament
from mediapipe_cfn.security.policies import IamPolicy, all_policies, unextracted_documents
from mediapipe_cfn.security.rules import policy_rule_violations
from mediapipe_cfn.security.tools import require_tools
from mediapipe_cfn.validation import PACKAGED_HANDLER_CODE, Finding, Report

DOCS_HINT = "docs/security.md"


def rendered_template(profile: Profile) -> dict[str, Any]:
    """The profile's template as a dict, with the Lambda code in its packaged (S3) form."""
    from mediapipe_cfn.template import build_template

    return build_template(profile, handler_code=dict(PACKAGED_HANDLER_CODE)).to_dict()


def _checkov_findings(report: Report, result: CheckovResult, template: dict[str, Any]) -> None:
    version = f" {result.version}" if result.version else ""
    report.checks.append(f"checkov{version}: {result.passed} passed, {len(result.skipped)} skipped")
    report.failures += [Finding("checkov", result.path.name, p) for p in result.problems()]
    documented = {(s.check_id, s.resource) for s in checkov_skips(template)}
    for check in result.skipped:
        note = Finding("checkov", check.resource, f"{check.check_id} skipped: {check.comment}")
        if (check.check_id, check.resource) in documented and check.comment:
            report.notes.append(note)
        else:
            # A skip without a reason, or from outside the template's metadata (a CLI flag or
            # config file of the caller's), is not one a reviewer has accepted.
            report.failures.append(note)


def _policy_findings(report: Report, template: dict[str, Any], policies: list[IamPolicy]) -> None:
    report.checks.append(f"{len(policies)} IAM documents resolved")
    report.failures += [
        Finding("policy-coverage", where, "policy document the security checks do not extract")
        for where in unextracted_documents(template)
    ]
    report.failures += [
        Finding("policy-rules", violation.where, violation.message)
        for violation in policy_rule_violations(policies)
    ]


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _parliament_findings(report: Report, findings: list[ParliamentFinding]) -> None:
    for finding in findings:
        message = f"{finding.severity} {finding.issue}: {_short(finding.detail or finding.title)}"
        if finding.fails:
            report.failures.append(Finding("parliament", finding.policy, message))
            continue
        if finding.accepted_reason:
            message += f" (accepted: {finding.accepted_reason})"
        note = Finding("parliament", finding.policy, message)
        if note not in report.notes:
            report.notes.append(note)


def run_security_checks_for(
    profiles: Sequence[Profile],
    *,
    checkov: Path | None = None,
    parliament_python: Path | None = None,
    env: SampleEnvironment | None = None,
) -> dict[str, Report]:
    """Reports for several profiles (by name), with one checkov and one parliament run.

    The tools are found as :func:`mediapipe_cfn.security.tools.require_tools` finds them unless
    given; :class:`~mediapipe_cfn.security.tools.SecurityToolsMissing` says how to install them.
    """
    names = [p.name for p in profiles]
    if len(set(names)) != len(names):
        raise ValueError(f"profile names must be unique: {', '.join(names)}")
    if checkov is None or parliament_python is None:
        found_checkov, found_python = require_tools()
        checkov = checkov or found_checkov
        parliament_python = parliament_python or found_python
    templates = {p.name: rendered_template(p) for p in profiles}
    policies = {name: all_policies(t, env) for name, t in templates.items()}
    reports = {
        name: Report(profile=name, subject="security", notes_hint=DOCS_HINT) for name in templates
    }
    checkov_results = _scan_templates(checkov, templates)
    for name, template in templates.items():
        _checkov_findings(reports[name], checkov_results[name], template)
        _policy_findings(reports[name], template, policies[name])
    # One parliament run for every profile; each policy goes in under a unique key.
    owners = {
        f"{name}/{index}": (name, policy)
        for name, profile_policies in policies.items()
        for index, policy in enumerate(profile_policies)
    }
    findings = run_parliament(parliament_python, [(key, p) for key, (_, p) in owners.items()])
    for report in reports.values():
        report.checks.append("parliament")
    for finding in findings:
        name, policy = owners[finding.policy]
        _parliament_findings(reports[name], [replace(finding, policy=policy.label)])
    return reports


def _scan_templates(
    checkov: Path, templates: dict[str, dict[str, Any]]
) -> dict[str, CheckovResult]:
    """checkov's result per profile name: the templates are written as JSON and scanned at once."""
    with tempfile.TemporaryDirectory(prefix="mediapipe-security-") as workdir:
        paths = {}
        for index, (name, template) in enumerate(templates.items()):
            path = (Path(workdir) / f"{index:02d}-{name}.json").resolve()
            path.write_text(json.dumps(template, indent=2, sort_keys=True) + "\n", "utf-8")
            paths[name] = path
        results = run_checkov(checkov, list(paths.values()))
    return {name: results[path] for name, path in paths.items()}


def run_security_checks(
    profile: Profile,
    *,
    checkov: Path | None = None,
    parliament_python: Path | None = None,
) -> Report:
    """checkov, the policy rules and parliament on ``profile``'s template."""
    return run_security_checks_for([profile], checkov=checkov, parliament_python=parliament_python)[
        profile.name
    ]


def security_command_lines(profile_ref: str | None) -> tuple[list[str], bool]:
    """What `mediapipe-cfn validate --security` prints for a profile, and whether it passed.

    Raises :class:`~mediapipe_cfn.security.tools.SecurityToolsMissing` (a
    :class:`~mediapipe_cfn.errors.MediapipeError`: the CLI prints it and exits 2) when checkov
    or parliament cannot be found.
    """
    from mediapipe_cfn.profile.loader import load_profile

    report = run_security_checks(load_profile(profile_ref))
    return report.lines(), report.ok
