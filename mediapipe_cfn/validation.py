"""`mediapipe-cfn validate`: every offline check of a profile, gathered into one report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from mediapipe_cfn.profile.model import Profile

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
            f"profile {self.profile}: {subject}{verdict} ({'; '.join(self.checks)}){accepted}"
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
    from cfnlint.api import ManualArgs, lint

    from mediapipe_cfn.render import render
    from mediapipe_cfn.template import build_template

    # Lint the template as `aws cloudformation package` leaves it: Code points at S3.
    text = render(build_template(profile, handler_code=dict(PACKAGED_HANDLER_CODE)), "yaml")
    matches = lint(text, config=ManualArgs(regions=list(regions)))
    return [
        Finding("cfn-lint", f"line {m.linenumber}", f"{m.rule.id} {m.message}")
        for m in sorted(matches, key=lambda m: (m.linenumber, m.rule.id, m.message))
    ]
