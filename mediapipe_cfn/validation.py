"""`mediapipe-cfn validate`: every offline check of a profile, gathered into one report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from mediapipe_cfn.profile.model import Profile

if TYPE_CHECKING:
    from troposphere import Template

# The regions `validate` lints in unless told otherwise.
DEFAULT_LINT_REGIONS: Final = ("us-east-1", "eu-west-1")

# Lambda code as `aws cloudformation package` leaves it: the form that is deployed, linted and
# scanned (the local zip path would only draw cfn-lint's "needs package" warning).
PACKAGED_HANDLER_CODE: Final[Mapping[str, str]] = {
    "S3Bucket": "mediapipe-artifacts-bucket",
    "S3Key": "mediapipe-handlers.zip",
}


@dataclass(frozen=True)
class Finding:
    """One line of a report: a failure, or a note that does not fail the check."""

    check: str  # "cfn-lint", "transcoding", "checkov", "parliament", ...
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.where}: {self.message}"


@dataclass
class Report:
    """The verdict of one group of checks (``subject``) on one profile."""

    profile: str
    subject: str = ""  # e.g. "security", printed before the verdict
    checks: list[str] = field(default_factory=list)
    failures: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    notes_hint: str = ""  # where the accepted notes are explained
    kind: str = "profile"  # what ``profile`` names: a profile, or a template

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self, *, with_notes: bool = False) -> list[str]:
        lines = [str(failure) for failure in self.failures]
        if with_notes:
            lines += [f"note: {note}" for note in self.notes]
        verdict = "OK" if self.ok else f"{len(self.failures)} problem(s)"
        subject = f"{self.subject} " if self.subject else ""
        accepted = ""
        if self.notes:
            accepted = f"; {len(self.notes)} accepted finding(s)"
            accepted += f", see {self.notes_hint}" if self.notes_hint else ""
        lines.append(
            f"{self.kind} {self.profile}: {subject}{verdict} ({'; '.join(self.checks)}){accepted}"
        )
        return lines


def validate_profile(profile: Profile, regions: Sequence[str]) -> Report:
    """Run the transcoding checks and cfn-lint (in each region) on ``profile``."""
    report = Report(profile=profile.name)
    report.failures += transcoding_problems(profile)
    report.checks.append("MediaConvert settings against the service model")
    report.failures += lint_problems(profile, regions)
    report.checks.append(f"cfn-lint in {', '.join(regions)}")
    return report


def transcoding_problems(profile: Profile) -> list[Finding]:
    from mediapipe_cfn.mediaconvert.semantic import check_profile_transcoding

    return [
        Finding("transcoding", finding.path, finding.message)
        for finding in check_profile_transcoding(profile)
    ]


def lint_problems(profile: Profile, regions: Sequence[str]) -> list[Finding]:
    """cfn-lint matches (errors, warnings and informational) for the rendered template."""
    from mediapipe_cfn.render import render
    from mediapipe_cfn.template import build_template

    # Lint the template as `aws cloudformation package` leaves it: Code points at S3.
    text = render(build_template(profile, handler_code=dict(PACKAGED_HANDLER_CODE)), "yaml")
    return _lint(text, regions)


def _lint(text: str, regions: Sequence[str]) -> list[Finding]:
    from cfnlint.api import ManualArgs, lint

    matches = lint(text, config=ManualArgs(regions=list(regions)))
    return [
        Finding("cfn-lint", f"line {m.linenumber}", f"{m.rule.id} {m.message}")
        for m in sorted(matches, key=lambda m: (m.linenumber, m.rule.id, m.message))
    ]


def validate_template(
    template: Template | Mapping[str, Any],
    *,
    regions: Sequence[str] = DEFAULT_LINT_REGIONS,
    name: str = "",
) -> Report:
    """Check a template, e.g. one a team customised, the way `validate` checks a profile's.

    ``template`` is a ``troposphere.Template`` or its ``to_dict()``. The checks: references to
    resources, parameters, conditions and mappings the template does not define; cfn-lint in
    each of ``regions`` (errors, warnings and informational all fail); and the project's
    least-privilege rules on every IAM document (docs/security.md). A problem is a failure in
    the report, never an exception.
    """
    from troposphere import Template

    from mediapipe_cfn.references import dangling_references
    from mediapipe_cfn.render import render

    if isinstance(template, Template):
        document, text = template.to_dict(), render(template, "yaml")
    elif isinstance(template, Mapping):
        document, text = dict(template), _json_text(template)
    else:
        raise TypeError(
            "validate_template() needs a troposphere.Template or its to_dict(), "
            f"got {type(template).__name__}"
        )
    report = Report(profile=name or _template_name(document), kind="template")
    report.failures += [
        Finding("references", r.where, f"refers to {r.kind} {r.target!r}, which is not defined")
        for r in dangling_references(document)
    ]
    report.checks.append("references")
    report.failures += _lint(text, regions)
    report.checks.append(f"cfn-lint in {', '.join(regions)}")
    report.failures += _policy_rule_problems(document)
    report.checks.append("least-privilege rules")
    return report


def _json_text(document: Mapping[str, Any]) -> str:
    """A template dict as the JSON text `render(..., "json")` writes."""
    import json

    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _template_name(document: Mapping[str, Any]) -> str:
    description = str(document.get("Description", ""))
    # Built templates describe themselves as "mediapipe-cfn media pipeline '<profile>' ...".
    quoted = description.split("'")
    return quoted[1] if description.startswith("mediapipe-cfn") and len(quoted) > 2 else "custom"


def _policy_rule_problems(document: Mapping[str, Any]) -> list[Finding]:
    from mediapipe_cfn.security.policies import all_policies, unextracted_documents
    from mediapipe_cfn.security.rules import policy_rule_violations

    try:
        policies = all_policies(document)
    except ValueError as exc:  # a document the resolver cannot evaluate
        return [Finding("policy-rules", "IAM documents", f"cannot be resolved: {exc}")]
    problems = [
        Finding("policy-coverage", where, "policy document the security checks do not extract")
        for where in unextracted_documents(document)
    ]
    return problems + [
        Finding("policy-rules", violation.where, violation.message)
        for violation in policy_rule_violations(policies)
    ]
