"""The security and compliance gate (see docs/security.md).

``run_security_checks(profile)`` runs checkov, the project's least-privilege rules and
parliament on a profile's rendered template and returns a :class:`Report`; the IAM policy
evaluator in :mod:`mediapipe_cfn.security.evaluator` lets tests prove what each policy allows.
"""

from mediapipe_cfn.security.gate import (
    Finding,
    Report,
    run_security_checks,
    run_security_checks_for,
    security_command_lines,
)
from mediapipe_cfn.security.tools import SecurityToolError, SecurityToolsMissing

__all__ = [
    "Finding",
    "Report",
    "SecurityToolError",
    "SecurityToolsMissing",
    "run_security_checks",
    "run_security_checks_for",
    "security_command_lines",
]
