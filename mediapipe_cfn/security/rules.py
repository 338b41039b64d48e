"""Least-privilege rules the project checks itself, on every resolved policy.

* No ``Resource: "*"`` in an Allow statement unless every action in it supports no resource-level
  permissions; :data:`RESOURCE_STAR_ALLOWED` lists those actions, each with the reason. KMS key
  policies are exempt: there ``"*"`` means the key the policy is attached to.
* No wildcard in an allowed action (``s3:*``, ``s3:Get*``, ``*``), no ``NotAction`` or
  ``NotResource`` in an Allow statement: each grants more than it names.
* No Allow to every principal (``"*"``) in a resource policy: the pipeline publishes nothing.
* No Allow to an AWS service in a bucket or key policy (the read paths to the media) without a
  condition that pins the request to this pipeline's resources or account (``aws:SourceArn``,
  ``aws:SourceAccount``, ``aws:SourceOwner`` or a KMS encryption context): otherwise any
  customer's use of the service could read the data (the confused deputy). The CloudFront read
  and decrypt grants are such statements.

Deny statements are not restricted: a broad Deny (``s3:*`` to everyone over plain HTTP) can only
take access away.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from mediapipe_cfn.security.intrinsics import sequence_of
from mediapipe_cfn.security.policies import IamPolicy, PolicyKind

# Actions that accept only "*" as their resource (AWS Service Authorization Reference: no
# resource type in the action's row), with why the pipeline needs them.
RESOURCE_STAR_ALLOWED: Final[Mapping[str, str]] = {
    "xray:PutTraceSegments": (
        "X-Ray has no resource-level permissions for sending trace segments; every function "
        "sends traces when tracing is on."
    ),
    "xray:PutTelemetryRecords": (
        "X-Ray has no resource-level permissions for telemetry records, sent with the traces."
    ),
    "mediaconvert:Probe": (
        "MediaConvert's Probe supports no resource-level permissions; the orchestrator probes "
        "each upload's working copy before creating jobs. What it can probe is limited by its "
        "S3 read access (the ingest and working-copy prefixes of the uploads bucket only)."
    ),
}
KEY_POLICY_TYPE: Final = "AWS::KMS::Key"


@dataclass(frozen=True)
class RuleViolation:
    where: str  # "<policy label> statement <Sid>"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def _is_key_policy(policy: IamPolicy) -> bool:
    return policy.resource_type == KEY_POLICY_TYPE


def _statement_label(policy: IamPolicy, statement: Mapping[str, object], index: int) -> str:
    sid = statement.get("Sid")
    return f"{policy.label} statement {sid if sid else index}"


def _allow_statements(policy: IamPolicy) -> Iterator[tuple[str, Mapping[str, object]]]:
    for index, statement in enumerate(policy.statements()):
        if statement.get("Effect") == "Allow":
            yield _statement_label(policy, statement, index), statement


def resource_star_violations(policy: IamPolicy) -> list[RuleViolation]:
    """Allow statements with ``Resource: "*"`` for an action not in the allow-list."""
    if _is_key_policy(policy):
        return []
    allowed = {action.lower() for action in RESOURCE_STAR_ALLOWED}
    problems = []
    for where, statement in _allow_statements(policy):
        if "*" not in sequence_of(statement.get("Resource")):
            continue
        others = sorted(
            str(action)
            for action in sequence_of(statement.get("Action"))
            if str(action).lower() not in allowed
        )
        if others or "NotAction" in statement:
            problems.append(
                RuleViolation(
                    where,
                    f'Resource "*" for {", ".join(others) or "NotAction"}, which support '
                    "resource-level permissions",
                )
            )
    return problems


def broad_grant_violations(policy: IamPolicy) -> list[RuleViolation]:
    """Wildcard actions, NotAction/NotResource and everyone-principals in Allow statements."""
    problems = []
    for where, statement in _allow_statements(policy):
        wildcards = sorted(
            str(action) for action in sequence_of(statement.get("Action")) if "*" in str(action)
        )
        if wildcards:
            problems.append(RuleViolation(where, f"wildcard action(s) {', '.join(wildcards)}"))
        for element in ("NotAction", "NotResource", "NotPrincipal"):
            if element in statement:
                problems.append(
                    RuleViolation(where, f"{element} in an Allow grants what it does not name")
                )
        if policy.kind is PolicyKind.RESOURCE and _everyone(statement.get("Principal")):
            problems.append(RuleViolation(where, "allows every principal"))
    return problems


def _everyone(principal: object) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in sequence_of(principal.get("AWS"))


# Condition keys that tie a service's request to the resource or account it acts for.
PINNING_KEYS: Final = frozenset({"aws:sourcearn", "aws:sourceaccount", "aws:sourceowner"})
ENCRYPTION_CONTEXT_PREFIX: Final = "kms:encryptioncontext:"
PINNED_POLICY_TYPES: Final = frozenset({"AWS::S3::BucketPolicy", KEY_POLICY_TYPE})


def unpinned_service_violations(policy: IamPolicy) -> list[RuleViolation]:
    """Allow statements of a bucket or key policy that name a service but pin it to nothing."""
    if policy.kind is not PolicyKind.RESOURCE or policy.resource_type not in PINNED_POLICY_TYPES:
        return []
    problems = []
    for where, statement in _allow_statements(policy):
        principal = statement.get("Principal")
        if not (isinstance(principal, Mapping) and "Service" in principal):
            continue
        condition = statement.get("Condition")
        keys = {
            str(key).lower()
            for block in (condition.values() if isinstance(condition, Mapping) else [])
            if isinstance(block, Mapping)
            for key in block
        }
        if not keys & PINNING_KEYS and not any(
            key.startswith(ENCRYPTION_CONTEXT_PREFIX) for key in keys
        ):
            services = ", ".join(str(s) for s in sequence_of(principal["Service"]))
            problems.append(
                RuleViolation(
                    where,
                    f"allows {services} without aws:SourceArn, aws:SourceAccount or an "
                    "encryption context condition (confused deputy)",
                )
            )
    return problems


def policy_rule_violations(policies: Sequence[IamPolicy]) -> list[RuleViolation]:
    """Every violation of the rules above, in policy order."""
    problems: list[RuleViolation] = []
    for policy in policies:
        problems += resource_star_violations(policy)
        problems += broad_grant_violations(policy)
        problems += unpinned_service_violations(policy)
    return problems
