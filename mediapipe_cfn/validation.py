"""`mediapipe-cfn validate`: every offline check of a profile, gathered into one report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mediapipe_cfn.profile.model import Profile

# The local zip path stands in for the artifact while linting; its name does not matter.
_LINT_HANDLER_CODE = {"S3Bucket": "mediapipe-artifacts-bucket", "S3Key": "mediapipe-handlers.zip"}


@dataclass(frozen=True)
class Problem:
    check: str  # "cfn-lint" or "transcoding"
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.where}: {self.message}"


@dataclass
class Report:
    profile: str
    checks: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        lines = [str(problem) for problem in self.problems]
        verdict = "OK" if self.ok else f"{len(self.problems)} problem(s)"
        lines.append(f"profile {self.profile}: {verdict} ({'; '.join(self.checks)})")
        return lines


def validate_profile(profile: Profile, regions: Sequence[str]) -> Report:
    """Run the transcoding checks and cfn-lint (in each region) on ``profile``."""
    report = Report(profile=profile.name)
    report.problems += transcoding_problems(profile)
    report.checks.append("MediaConvert settings against the service model")
    report.problems += lint_problems(profile, regions)
    report.checks.append(f"cfn-lint in {', '.join(regions)}")
    return report


def transcoding_problems(profile: Profile) -> list[Problem]:
    from mediapipe_cfn.mediaconvert.semantic import check_profile_transcoding

    return [
        Problem("transcoding", finding.path, finding.message)
        for finding in check_profile_transcoding(profile)
    ]


def lint_problems(profile: Profile, regions: Sequence[str]) -> list[Problem]:
    """cfn-lint matches (errors, warnings and informational) for the rendered template."""
    from cfnlint.api import ManualArgs, lint

    from mediapipe_cfn.render import render
    from mediapipe_cfn.template import build_template

    # Lint the template as `aws cloudformation package` leaves it: Code points at S3.
    text = render(build_template(profile, handler_code=_LINT_HANDLER_CODE), "yaml")
    matches = lint(text, config=ManualArgs(regions=list(regions)))
    return [
        Problem("cfn-lint", f"line {m.linenumber}", f"{m.rule.id} {m.message}")
        for m in sorted(matches, key=lambda m: (m.linenumber, m.rule.id, m.message))
    ]
