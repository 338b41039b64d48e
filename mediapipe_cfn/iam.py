"""Small builders for IAM documents, shared by the components.

Documents are typed awacs objects; every ARN goes through ``${AWS::Partition}`` so the template
works in aws-cn and aws-us-gov too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from awacs import sts
from awacs.aws import (
    Action,
    Allow,
    Bool,
    Condition,
    ConditionElement,
    Deny,
    PolicyDocument,
    Principal,
    Statement,
)
from troposphere import Sub

POLICY_VERSION = "2012-10-17"


def document(*statements: Statement) -> PolicyDocument:
    return PolicyDocument(Version=POLICY_VERSION, Statement=list(statements))


def allow(
    sid: str,
    actions: Sequence[Action],
    resources: Sequence[Any],
    *conditions: Any,
    principal: Principal | None = None,
) -> Statement:
    """An Allow statement; ``conditions`` are awacs condition objects (ANDed)."""
    return _statement(Allow, sid, actions, resources, conditions, principal)


def deny(
    sid: str,
    actions: Sequence[Action],
    resources: Sequence[Any],
    *conditions: Any,
    principal: Principal | None = None,
) -> Statement:
    return _statement(Deny, sid, actions, resources, conditions, principal)


def _statement(
    effect: str,
    sid: str,
    actions: Sequence[Action],
    resources: Sequence[Any],
    conditions: Sequence[Any],
    principal: Principal | None,
) -> Statement:
    fields: dict[str, Any] = {
        "Sid": sid,
        "Effect": effect,
        "Action": list(actions),
        "Resource": list(resources),
    }
    if conditions:
        fields["Condition"] = condition(*conditions)
    if principal is not None:
        fields["Principal"] = principal
    return Statement(**fields)


def condition(*elements: ConditionElement) -> Condition:
    """A ``Condition`` block of ``elements`` (ANDed), one per operator.

    The block is a map keyed by operator, so a second element with the same operator would
    silently replace the first; that is refused instead. Put several keys of one operator in
    one element (``StringEquals({...})``).
    """
    operators = [element.condition for element in elements]
    repeated = sorted({op for op in operators if operators.count(op) > 1})
    if repeated:
        raise ValueError(f"condition operators used more than once: {', '.join(repeated)}")
    return Condition(list(elements))


def trust_statement(sid: str, service: str, *conditions: ConditionElement) -> Statement:
    """Allow ``service`` to assume the role this trust policy belongs to.

    A trust policy names no Resource: the resource is the role itself.
    """
    fields: dict[str, Any] = {
        "Sid": sid,
        "Effect": Allow,
        "Action": [sts.AssumeRole],
        "Principal": service_principal(service),
    }
    if conditions:
        fields["Condition"] = condition(*conditions)
    return Statement(**fields)


def anyone() -> Principal:
    """``Principal: "*"``, for resource-policy denials that must hold for every caller."""
    return Principal("*")


def deny_insecure_transport(service: str, resources: Sequence[Any]) -> Statement:
    """Deny every ``service`` action on ``resources`` to requests not made over TLS."""
    return deny(
        "DenyInsecureTransport",
        [Action(service, "*")],
        resources,
        Bool("aws:SecureTransport", "false"),
        principal=anyone(),
    )


def service_principal(service: str) -> Principal:
    """``Service: <service>.amazonaws.com``."""
    return Principal("Service", [f"{service}.amazonaws.com"])


def arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> Sub:
    """``arn:${AWS::Partition}:<service>:<region>:<account>:<resource>`` as a Sub."""
    region_part = "${AWS::Region}" if region else ""
    account_part = "${AWS::AccountId}" if account else ""
    return Sub(f"arn:${{AWS::Partition}}:{service}:{region_part}:{account_part}:{resource}")
