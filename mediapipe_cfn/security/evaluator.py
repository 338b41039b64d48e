"""A small IAM policy evaluator for resolved policy documents.

It answers "would AWS allow this request?" for the documents this project writes, so tests can
prove what a bucket, queue, key or role policy *does* rather than what it *says*. It implements:

* ``Effect`` Allow/Deny, with an explicit Deny winning over any Allow;
* ``Action``/``NotAction`` with ``*`` and ``?`` wildcards (case-insensitive, as IAM matches them);
* ``Resource``/``NotResource`` ARN matching per segment, wildcards in each, with the resource
  part after the fifth colon matched as a whole (``log-group:name:*`` covers its streams);
* ``Principal``/``NotPrincipal`` for ``"*"``, AWS account and role ARNs, and service principals;
* condition operators ``String(Not)Equals``, ``String(Not)EqualsIgnoreCase``,
  ``String(Not)Like``, ``Arn(Not)Equals``, ``Arn(Not)Like``, ``Bool``, ``Null`` and
  ``Numeric*``, each with ``IfExists`` and the ``ForAnyValue:``/``ForAllValues:`` qualifiers;
  condition keys are case-insensitive, several values of a key are ORed, several keys and
  several operators are ANDed, and a key missing from the request makes a positive operator
  false and a negated one true.

:func:`evaluate_access` combines identity and resource policies the way AWS does within one
account: an explicit Deny anywhere denies; otherwise either kind may allow. A resource policy
that names an account (its root or ID) only *delegates* to that account's IAM policies. A KMS key
policy is different: nothing is allowed unless the key policy allows it, directly or by
delegating to the account's IAM policies.

Not implemented (the templates use none of it): policy variables, permission boundaries, SCPs,
session policies, ``Date*``/``IpAddress``/``Binary`` operators. An operator the evaluator does
not know raises :class:`UnsupportedPolicyError` instead of being silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any, Final

from mediapipe_cfn.security.intrinsics import sequence_of


class UnsupportedPolicyError(ValueError):
    """A policy element or condition operator the evaluator does not implement."""


class Decision(Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"

    @property
    def allowed(self) -> bool:
        return self is Decision.ALLOW


class Grant(Enum):
    """How a policy treats a request."""

    DENY = "deny"  # an explicit Deny statement applies
    ALLOW = "allow"  # an Allow statement applies to the principal itself
    DELEGATE = "delegate"  # an Allow applies only through the principal's account
    NONE = "none"  # no statement applies


@dataclass(frozen=True)
class Principal:
    """Who makes a request: an IAM principal (``AWS``) or an AWS service (``Service``)."""

    kind: str
    identifier: str

    @classmethod
    def role(cls, arn: str) -> Principal:
        return cls("AWS", arn)

    @classmethod
    def service(cls, host: str) -> Principal:
        return cls("Service", host)

    @property
    def account(self) -> str | None:
        """The account of an IAM principal ARN (``arn:aws:iam::<account>:...``)."""
        if self.kind != "AWS":
            return None
        parts = self.identifier.split(":")
        return parts[4] if len(parts) > 5 and parts[0] == "arn" else None


ANONYMOUS: Final = Principal("AWS", "anonymous")


@dataclass(frozen=True)
class Request:
    """One API request: who, which action, on which resource, with which context keys."""

    principal: Principal
    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)

    def value(self, key: str) -> tuple[bool, list[str]]:
        """``(present, values)`` of a condition key (keys are case-insensitive)."""
        wanted = key.lower()
        for name, raw in self.context.items():
            if name.lower() == wanted:
                return True, [_text(v) for v in sequence_of(raw)]
        return False, []

    def with_context(self, **changes: Any) -> Request:
        """A copy with context keys added or replaced (``None`` removes a key)."""
        context = {k: v for k, v in self.context.items() if k not in changes}
        context.update({k: v for k, v in changes.items() if v is not None})
        return Request(self.principal, self.action, self.resource, context)


# --- wildcards -------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's glob: ``*`` any run of characters (including none), ``?`` exactly one."""
    return _wildcard_regex(pattern, ignore_case).fullmatch(value) is not None


def arn_match(pattern: str, arn: str) -> bool:
    """ARN matching as IAM does it for ``Resource`` and the ``Arn*`` operators.

    The first five colon-separated segments are matched one by one (a wildcard cannot cross
    a colon there); the rest, the resource part, is matched as a whole.
    """
    if pattern == "*":
        return True
    pattern_parts = pattern.split(":", 5)
    arn_parts = arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return wildcard_match(pattern, arn)
    return all(wildcard_match(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True))


def action_match(pattern: str, action: str) -> bool:
    return wildcard_match(pattern, action, ignore_case=True)


# --- conditions ------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _string_equals(policy: str, request: str) -> bool:
    return policy == request


def _string_equals_ignore_case(policy: str, request: str) -> bool:
    return policy.lower() == request.lower()


def _string_like(policy: str, request: str) -> bool:
    return wildcard_match(policy, request)


def _bool(policy: str, request: str) -> bool:
    return policy.lower() == request.lower()


def _numeric(compare: str) -> Any:
    def match(policy: str, request: str) -> bool:
        try:
            left, right = float(request), float(policy)
        except ValueError:
            return False
        return {
            "Equals": left == right,
            "LessThan": left < right,
            "LessThanEquals": left <= right,
            "GreaterThan": left > right,
            "GreaterThanEquals": left >= right,
        }[compare]

    return match


# Positive base operators; each also exists negated (``Not``) where IAM defines it.
_MATCHERS: Final[Mapping[str, Any]] = {
    "StringEquals": _string_equals,
    "StringEqualsIgnoreCase": _string_equals_ignore_case,
    "StringLike": _string_like,
    "ArnEquals": arn_match,
    "ArnLike": arn_match,
    "Bool": _bool,
    "NumericEquals": _numeric("Equals"),
    "NumericLessThan": _numeric("LessThan"),
    "NumericLessThanEquals": _numeric("LessThanEquals"),
    "NumericGreaterThan": _numeric("GreaterThan"),
    "NumericGreaterThanEquals": _numeric("GreaterThanEquals"),
}
_NEGATED: Final[Mapping[str, str]] = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


@dataclass(frozen=True)
class Operator:
    """A parsed condition operator, e.g. ``ForAnyValue:StringNotLikeIfExists``."""

    base: str  # the positive operator, e.g. "StringLike"
    negated: bool
    if_exists: bool
    qualifier: str | None  # "ForAnyValue", "ForAllValues" or None

    @classmethod
    def parse(cls, text: str) -> Operator:
        qualifier, _, name = text.rpartition(":")
        if qualifier not in ("", "ForAnyValue", "ForAllValues"):
            raise UnsupportedPolicyError(f"unknown condition qualifier {qualifier!r}")
        if_exists = name.endswith("IfExists") and name != "IfExists"
        if if_exists:
            name = name.removesuffix("IfExists")
        if name == "Null":
            if qualifier or if_exists:
                raise UnsupportedPolicyError(f"{text} is not a valid operator")
            return cls("Null", False, False, None)
        negated = name in _NEGATED
        base = _NEGATED.get(name, name)
        if base not in _MATCHERS:
            raise UnsupportedPolicyError(f"unsupported condition operator {text!r}")
        return cls(base, negated, if_exists, qualifier or None)


def _single_value_match(operator: Operator, policy_values: list[str], value: str) -> bool:
    """Whether one request value satisfies the operator (negation included)."""
    matcher = _MATCHERS[operator.base]
    hit = any(matcher(expected, value) for expected in policy_values)
    return not hit if operator.negated else hit


def condition_key_matches(operator_text: str, key: str, expected: Any, request: Request) -> bool:
    """Whether one ``operator: {key: expected}`` entry of a Condition block holds."""
    operator = Operator.parse(operator_text)
    present, values = request.value(key)
    policy_values = [_text(v) for v in sequence_of(expected)]
    if operator.base == "Null":
        # "true": the key must be absent; "false": it must be present.
        (wanted,) = policy_values
        return (not present) if wanted.lower() == "true" else present
    if not present:
        if operator.if_exists:
            return True
        if operator.qualifier == "ForAllValues":
            return True  # vacuously true for an empty set of values
        if operator.qualifier == "ForAnyValue":
            return False
        return operator.negated
    if operator.qualifier == "ForAllValues":
        return all(_single_value_match(operator, policy_values, v) for v in values)
    if operator.qualifier == "ForAnyValue":
        return any(_single_value_match(operator, policy_values, v) for v in values)
    if len(values) != 1:
        # A single-valued operator on a multivalued key: true if any value matches.
        return any(_single_value_match(operator, policy_values, v) for v in values)
    return _single_value_match(operator, policy_values, values[0])


def conditions_hold(condition: Mapping[str, Mapping[str, Any]] | None, request: Request) -> bool:
    if not condition:
        return True
    return all(
        condition_key_matches(operator, key, expected, request)
        for operator, keys in condition.items()
        for key, expected in keys.items()
    )


# --- statements ------------------------------------------------------------------------------


class PrincipalMatch(Enum):
    NONE = "none"
    DIRECT = "direct"  # "*", the principal's own ARN, or its service
    ACCOUNT = "account"  # the principal's account (root ARN or account ID): delegation


def _principal_entries(element: Any) -> list[tuple[str, str]]:
    if element == "*":
        return [("*", "*")]
    if not isinstance(element, Mapping):
        raise UnsupportedPolicyError(f"unsupported Principal element {element!r}")
    return [(kind, value) for kind, values in element.items() for value in sequence_of(values)]


def principal_match(element: Any, principal: Principal) -> PrincipalMatch:
    """How a ``Principal`` element matches ``principal`` (the best of its entries)."""
    best = PrincipalMatch.NONE
    for kind, value in _principal_entries(element):
        if kind == "*" or (kind == "AWS" and value == "*"):
            return PrincipalMatch.DIRECT
        if kind != principal.kind:
            continue
        if kind == "Service":
            if value.lower() == principal.identifier.lower():
                return PrincipalMatch.DIRECT
            continue
        if kind == "AWS":
            if value == principal.identifier:
                return PrincipalMatch.DIRECT
            account = principal.account
            if account is not None and value in (account, _root_arn(principal, account)):
                best = PrincipalMatch.ACCOUNT
            continue
        raise UnsupportedPolicyError(f"unsupported principal type {kind!r}")
    return best


def _root_arn(principal: Principal, account: str) -> str:
    partition = principal.identifier.split(":")[1]
    return f"arn:{partition}:iam::{account}:root"


def _matches_any(patterns: Iterable[Any], value: str, match: Any) -> bool:
    return any(match(str(pattern), value) for pattern in patterns)


def statement_applies(
    statement: Mapping[str, Any], request: Request, *, resource_policy: bool
) -> PrincipalMatch:
    """How the statement applies to the request (``NONE`` when it does not)."""
    unknown = set(statement) - {
        "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
        "Principal", "NotPrincipal", "Condition",
    }  # fmt: skip
    if unknown:
        raise UnsupportedPolicyError(f"unknown statement element(s) {sorted(unknown)}")
    if "Action" in statement:
        if not _matches_any(sequence_of(statement["Action"]), request.action, action_match):
            return PrincipalMatch.NONE
    elif _matches_any(sequence_of(statement.get("NotAction")), request.action, action_match):
        return PrincipalMatch.NONE
    # Trust policies have no Resource element: the role itself is the resource.
    if "Resource" in statement:
        if not _matches_any(sequence_of(statement["Resource"]), request.resource, arn_match):
            return PrincipalMatch.NONE
    elif "NotResource" in statement and _matches_any(
        sequence_of(statement["NotResource"]), request.resource, arn_match
    ):
        return PrincipalMatch.NONE
    match = PrincipalMatch.DIRECT
    if resource_policy:
        match = _statement_principal_match(statement, request.principal)
        if match is PrincipalMatch.NONE:
            return match
    return match if conditions_hold(statement.get("Condition"), request) else PrincipalMatch.NONE


def _statement_principal_match(
    statement: Mapping[str, Any], principal: Principal
) -> PrincipalMatch:
    if "Principal" in statement:
        return principal_match(statement["Principal"], principal)
    if "NotPrincipal" in statement:
        excluded = principal_match(statement["NotPrincipal"], principal)
        return PrincipalMatch.DIRECT if excluded is PrincipalMatch.NONE else PrincipalMatch.NONE
    raise UnsupportedPolicyError("a resource policy statement needs Principal or NotPrincipal")


def evaluate_policy(
    document: Mapping[str, Any], request: Request, *, resource_policy: bool
) -> Grant:
    """What one policy document says about the request."""
    grant = Grant.NONE
    for statement in sequence_of(document.get("Statement")):
        match = statement_applies(statement, request, resource_policy=resource_policy)
        if match is PrincipalMatch.NONE:
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            return Grant.DENY
        if effect != "Allow":
            raise UnsupportedPolicyError(f"unknown Effect {effect!r}")
        if match is PrincipalMatch.DIRECT:
            grant = Grant.ALLOW
        elif grant is Grant.NONE:
            grant = Grant.DELEGATE
    return grant


def evaluate_access(
    request: Request,
    *,
    identity_policies: Sequence[Mapping[str, Any]] = (),
    resource_policies: Sequence[Mapping[str, Any]] = (),
    key_policy: Mapping[str, Any] | None = None,
) -> Decision:
    """The decision for a same-account request.

    ``identity_policies`` are the principal's own policies (a service principal has none);
    ``resource_policies`` are the policies of the resource (bucket, queue, topic, log group,
    role trust policy); ``key_policy`` is given for requests to a KMS key, whose policy must
    allow the request directly or delegate it to IAM (the account root).
    """
    identity = [evaluate_policy(d, request, resource_policy=False) for d in identity_policies]
    resource = [evaluate_policy(d, request, resource_policy=True) for d in resource_policies]
    key = [] if key_policy is None else [evaluate_policy(key_policy, request, resource_policy=True)]
    grants = [*identity, *resource, *key]
    if Grant.DENY in grants:
        return Decision.EXPLICIT_DENY
    identity_allows = Grant.ALLOW in identity and request.principal.kind == "AWS"
    if key_policy is not None:
        (key_grant,) = key
        allowed = key_grant is Grant.ALLOW or (key_grant is Grant.DELEGATE and identity_allows)
        return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
    if identity_allows or Grant.ALLOW in resource:
        return Decision.ALLOW
    return Decision.IMPLICIT_DENY
