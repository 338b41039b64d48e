"""Lint the template's resolved IAM policies with parliament.

parliament lives in the security tools' own virtualenv, so it runs in a subprocess with that
environment's Python (see :mod:`mediapipe_cfn.security.tools`): the policies go in as JSON on
stdin, every finding comes back as JSON on stdout (``_parliament_driver.py``).

What is linted, and how:

* identity policies (the roles' inline policies, managed policies), with parliament's community
  auditors as well (privilege escalation, permissions management, credential exposure...);
* resource policies (bucket, queue, topic, key and log-group policies, Lambda permissions) with
  parliament's own checks. The community auditors judge what a *principal* may do; on a key
  policy they flag the account-root statement that every manageable KMS key needs;
* not trust policies: parliament requires a ``Resource`` element, which trust policies do not
  have, and reports them as malformed. The document-level tests cover them instead.

Findings of severity MEDIUM or above fail the gate, with one exception, decided from
parliament's own data rather than from a list: ``UNKNOWN_CONDITION_FOR_ACTION`` for a condition
key that parliament's IAM definition documents on a resource type of the action (for example
``kms:ResourceAliases`` on KMS keys). parliament only consults action-level keys for that
finding, so it is reported as accepted, with the resource type, instead of failing. LOW findings
never fail; :data:`LOW_FINDING_REASONS` explains each kind the templates produce.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from mediapipe_cfn.security.policies import IamPolicy, PolicyKind
from mediapipe_cfn.security.tools import SecurityToolError

DRIVER: Final = Path(__file__).with_name("_parliament_driver.py")
SEVERITY_ORDER: Final = ("INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")
FAILING_SEVERITY: Final = "MEDIUM"
TIMEOUT_SECONDS: Final = 300

# Why each kind of LOW finding the built-in templates produce is acceptable (docs/security.md
# repeats these, and a test checks every LOW finding seen has a reason here).
LOW_FINDING_REASONS: Final[Mapping[str, str]] = {
    "UNKNOWN_ACTION": (
        "parliament's bundled IAM data predates the action (mediaconvert:Probe, the "
        "MediaConvert API that reads a source file's properties); the action is spelled as AWS "
        "documents it, and a misspelt action would grant nothing rather than too much."
    ),
    "MISMATCHED_TYPE_BUT_USABLE": (
        "s3:x-amz-server-side-encryption-aws-kms-key-id is a String condition key whose value "
        "is a key ARN; S3 documents string operators for it, and StringNotLike is what lets "
        "the policy accept any key ARN of the account when an existing key is used."
    ),
    "RESOURCE_STAR": (
        'in a KMS key policy, "Resource": "*" means the key the policy is attached to; it '
        "cannot name any other key."
    ),
    "RESOURCE_EFFECTIVELY_STAR": (
        "a pattern such as key/* stands for the one existing key narrowed by a condition "
        "(kms:ResourceAliases), not for every key."
    ),
}


@dataclass(frozen=True)
class ParliamentFinding:
    policy: str
    issue: str
    severity: str
    title: str
    detail: str
    resource_condition_of: tuple[str, ...] = ()

    @property
    def accepted_reason(self) -> str | None:
        """Why a MEDIUM+ finding does not fail the gate, or ``None`` when it does."""
        if self.issue == "UNKNOWN_CONDITION_FOR_ACTION" and self.resource_condition_of:
            return (
                "parliament's own IAM data lists the key as a condition key of the action's "
                f"resource type ({', '.join(self.resource_condition_of)}); parliament only "
                "looks at action-level keys for this finding"
            )
        return None

    @property
    def fails(self) -> bool:
        return severity_rank(self.severity) >= severity_rank(FAILING_SEVERITY) and (
            self.accepted_reason is None
        )

    def __str__(self) -> str:
        return f"{self.policy}: {self.severity} {self.issue}: {self.title} {self.detail}".rstrip()


def severity_rank(severity: str) -> int:
    upper = severity.upper()
    return SEVERITY_ORDER.index(upper) if upper in SEVERITY_ORDER else len(SEVERITY_ORDER)


def driver_input(named: Sequence[tuple[str, IamPolicy]]) -> dict[str, Any]:
    return {
        "policies": [
            {
                "name": name,
                "document": policy.document,
                "community_auditors": policy.kind is PolicyKind.IDENTITY,
            }
            for name, policy in named
        ]
    }


def run_parliament(python: Path, named: Sequence[tuple[str, IamPolicy]]) -> list[ParliamentFinding]:
    """Every parliament finding on the named policies (trust policies are left out; see above).

    Each policy comes with the name its findings are reported under.
    """
    selected = [(name, policy) for name, policy in named if policy.kind is not PolicyKind.TRUST]
    if not selected:
        return []
    request = json.dumps(driver_input(selected), sort_keys=True)
    try:
        completed = subprocess.run(
            # -I: isolated mode keeps the driver's own folder off sys.path, where this module
            # (also called parliament) would shadow the real package.
            [str(python), "-I", str(DRIVER)],
            input=request,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SecurityToolError(f"parliament could not run: {error}") from error
    if completed.returncode != 0:
        last = " | ".join(completed.stderr.strip().splitlines()[-3:])
        raise SecurityToolError(f"parliament failed (exit {completed.returncode}): {last}")
    return parse_output(completed.stdout)


def parse_output(text: str) -> list[ParliamentFinding]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise SecurityToolError(f"parliament's output is not JSON: {text[:200]!r}") from error
    return [
        ParliamentFinding(
            policy=result["name"],
            issue=str(finding["issue"]),
            severity=str(finding["severity"]).upper(),
            title=str(finding.get("title") or ""),
            detail=_detail_text(finding.get("detail")),
            resource_condition_of=tuple(finding.get("resource_condition_of") or ()),
        )
        for result in document["results"]
        for finding in result["findings"]
    ]


def _detail_text(detail: Any) -> str:
    if detail is None or detail == "":
        return ""
    return detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True)
