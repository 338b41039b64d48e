"""Every IAM policy document of a rendered template, resolved to concrete sample values.

A template carries IAM documents in many places: role trust policies and inline policies,
managed policies, bucket, queue, topic, key and log-group resource policies, and Lambda
permissions (which become statements of the function's resource policy). :func:`extract_policies`
finds them all for one :class:`~mediapipe_cfn.security.intrinsics.Scenario`, resolves them with
:class:`~mediapipe_cfn.security.intrinsics.Resolver`, and names each one readably, e.g.
``IngestOrchestratorRole policy ingest-orchestrator-least-privilege``.

:func:`unextracted_documents` is the safety net: it lists any policy-shaped document in the
template that the extractor does not know about, so a new kind of policy cannot slip past the
security checks unnoticed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from mediapipe_cfn.security.intrinsics import (
    DEFAULTS,
    Resolver,
    SampleEnvironment,
    Scenario,
    UnresolvableError,
    canonical_json,
    scenarios,
    sequence_of,
)


class PolicyKind(Enum):
    IDENTITY = "identity"  # attached to a role, user or group: what it may do
    RESOURCE = "resource"  # attached to a resource: who may use it
    TRUST = "trust"  # a role's assume-role policy: who may become the role


@dataclass(frozen=True)
class IamPolicy:
    """One resolved IAM document and where it comes from."""

    name: str
    kind: PolicyKind
    logical_id: str
    resource_type: str
    path: str  # where in the resource, e.g. "Properties.Policies[0].PolicyDocument"
    document: Mapping[str, Any]
    # For identity and trust policies: ARNs of the roles it belongs to; for resource policies:
    # ARNs of the resources it governs.
    attached_to: tuple[str, ...]
    scenario: str = DEFAULTS.name

    @property
    def label(self) -> str:
        """The name, plus the scenario when it is not the parameter defaults."""
        return self.name if self.scenario == DEFAULTS.name else f"{self.name} [{self.scenario}]"

    def statements(self) -> list[Mapping[str, Any]]:
        return list(sequence_of(self.document.get("Statement")))


@dataclass(frozen=True)
class _Found:
    """A document located in the raw template, before resolution."""

    name: str
    kind: PolicyKind
    path: str
    raw: Any
    attached_to: Any  # raw expressions


Extractor = Callable[[str, Mapping[str, Any]], Iterator[_Found]]


def _role_documents(logical_id: str, props: Mapping[str, Any]) -> Iterator[_Found]:
    role = [{"Fn::GetAtt": [logical_id, "Arn"]}]
    if "AssumeRolePolicyDocument" in props:
        yield _Found(
            f"{logical_id} trust policy",
            PolicyKind.TRUST,
            "Properties.AssumeRolePolicyDocument",
            props["AssumeRolePolicyDocument"],
            role,
        )
    yield from _inline_policies(logical_id, props, role)


def _inline_policies(logical_id: str, props: Mapping[str, Any], owners: Any) -> Iterator[_Found]:
    for index, policy in enumerate(sequence_of(props.get("Policies"))):
        yield _Found(
            f"{logical_id} policy {policy.get('PolicyName', index)}",
            PolicyKind.IDENTITY,
            f"Properties.Policies[{index}].PolicyDocument",
            policy["PolicyDocument"],
            owners,
        )


def _principal_documents(logical_id: str, props: Mapping[str, Any]) -> Iterator[_Found]:
    """Users and groups: inline policies only (they have no trust policy)."""
    yield from _inline_policies(logical_id, props, [{"Fn::GetAtt": [logical_id, "Arn"]}])


def _standalone_identity_policy(logical_id: str, props: Mapping[str, Any]) -> Iterator[_Found]:
    roles = sequence_of(props.get("Roles")) + sequence_of(props.get("RoleName"))
    owners = [_role_name_to_arn(role) for role in roles]
    name = props.get("PolicyName") or props.get("ManagedPolicyName") or logical_id
    label = name if isinstance(name, str) else logical_id
    yield _Found(
        f"{logical_id} policy {label}",
        PolicyKind.IDENTITY,
        "Properties.PolicyDocument",
        props["PolicyDocument"],
        owners,
    )


def _role_name_to_arn(role_name: Any) -> Any:
    return {
        "Fn::Sub": [
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${Name}",
            {"Name": role_name},
        ]
    }


def _resource_policy(
    property_name: str, targets: Callable[[str, Mapping[str, Any]], Any], what: str
) -> Extractor:
    def extract(logical_id: str, props: Mapping[str, Any]) -> Iterator[_Found]:
        if property_name in props:
            yield _Found(
                f"{logical_id} {what}",
                PolicyKind.RESOURCE,
                f"Properties.{property_name}",
                props[property_name],
                targets(logical_id, props),
            )

    return extract


def _bucket_targets(_: str, props: Mapping[str, Any]) -> Any:
    bucket = props["Bucket"]
    arn = {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Name}", {"Name": bucket}]}
    return [arn]


def _queue_targets(_: str, props: Mapping[str, Any]) -> Any:
    # Queues are listed by URL: the ARN's last segment is the URL's last path segment.
    return [
        {
            "Fn::Sub": [
                "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${Name}",
                {"Name": {"Fn::Select": [4, {"Fn::Split": ["/", url]}]}},
            ]
        }
        for url in sequence_of(props["Queues"])
    ]


def _topic_targets(_: str, props: Mapping[str, Any]) -> Any:
    return list(sequence_of(props["Topics"]))


def _key_targets(logical_id: str, _: Mapping[str, Any]) -> Any:
    return [{"Fn::GetAtt": [logical_id, "Arn"]}]


def _no_targets(_: str, __: Mapping[str, Any]) -> Any:
    return []


def _lambda_permission(logical_id: str, props: Mapping[str, Any]) -> Iterator[_Found]:
    """A Lambda permission, as the statement it adds to the function's resource policy."""
    principal = props["Principal"]
    statement: dict[str, Any] = {
        "Sid": logical_id,
        "Effect": "Allow",
        "Principal": {"Service": principal}
        if isinstance(principal, str) and principal.endswith(".amazonaws.com")
        else {"AWS": principal},
        "Action": props["Action"],
        "Resource": props["FunctionName"],
    }
    condition: dict[str, Any] = {}
    if "SourceArn" in props:
        condition["ArnLike"] = {"AWS:SourceArn": props["SourceArn"]}
    if "SourceAccount" in props:
        condition["StringEquals"] = {"AWS:SourceAccount": props["SourceAccount"]}
    if condition:
        statement["Condition"] = condition
    yield _Found(
        f"{logical_id} Lambda permission",
        PolicyKind.RESOURCE,
        "Properties",
        {"Version": "2012-10-17", "Statement": [statement]},
        [props["FunctionName"]],
    )


EXTRACTORS: Final[Mapping[str, Extractor]] = {
    "AWS::IAM::Role": _role_documents,
    "AWS::IAM::User": _principal_documents,
    "AWS::IAM::Group": _principal_documents,
    "AWS::IAM::Policy": _standalone_identity_policy,
    "AWS::IAM::ManagedPolicy": _standalone_identity_policy,
    "AWS::IAM::RolePolicy": _standalone_identity_policy,
    "AWS::S3::BucketPolicy": _resource_policy("PolicyDocument", _bucket_targets, "bucket policy"),
    "AWS::SQS::QueuePolicy": _resource_policy("PolicyDocument", _queue_targets, "queue policy"),
    "AWS::SNS::TopicPolicy": _resource_policy("PolicyDocument", _topic_targets, "topic policy"),
    "AWS::KMS::Key": _resource_policy("KeyPolicy", _key_targets, "key policy"),
    "AWS::Logs::ResourcePolicy": _resource_policy(
        "PolicyDocument", _no_targets, "log resource policy"
    ),
    "AWS::Lambda::Permission": _lambda_permission,
}


def _located(template: Mapping[str, Any]) -> Iterator[tuple[str, str, _Found]]:
    for logical_id, body in sorted(template.get("Resources", {}).items()):
        extractor = EXTRACTORS.get(body.get("Type", ""))
        if extractor is not None:
            for found in extractor(logical_id, body.get("Properties", {})):
                yield logical_id, body["Type"], found


def _resolved_document(resolver: Resolver, raw: Any, where: str) -> Mapping[str, Any]:
    document = resolver.resolve(raw)
    if isinstance(document, str):  # e.g. AWS::Logs::ResourcePolicy takes JSON text
        try:
            document = json.loads(document)
        except json.JSONDecodeError as error:
            raise UnresolvableError(f"{where}: policy text is not JSON: {error}") from error
    if not isinstance(document, Mapping):
        raise UnresolvableError(f"{where}: not a policy document: {document!r}")
    return document


def extract_policies(
    template: Mapping[str, Any],
    scenario: Scenario = DEFAULTS,
    env: SampleEnvironment | None = None,
) -> list[IamPolicy]:
    """The IAM documents of the resources created in ``scenario``, resolved, in template order."""
    resolver = Resolver(template, scenario, env)
    policies: list[IamPolicy] = []
    for logical_id, resource_type, found in _located(template):
        if not resolver.resource_exists(logical_id):
            continue
        attached = resolver.resolve(found.attached_to)
        policies.append(
            IamPolicy(
                name=found.name,
                kind=found.kind,
                logical_id=logical_id,
                resource_type=resource_type,
                path=found.path,
                document=_resolved_document(resolver, found.raw, found.name),
                attached_to=tuple(str(a) for a in sequence_of(attached)),
                scenario=scenario.name,
            )
        )
    return policies


def all_policies(
    template: Mapping[str, Any], env: SampleEnvironment | None = None
) -> list[IamPolicy]:
    """The policies of every scenario; a policy is repeated only where a scenario changes it."""
    seen: dict[str, set[str]] = {}
    result: list[IamPolicy] = []
    for scenario in scenarios(template, env):
        for policy in extract_policies(template, scenario, env):
            text = canonical_json(policy.document)
            if text in seen.setdefault(policy.name, set()):
                continue
            seen[policy.name].add(text)
            result.append(policy)
    return result


# --- the safety net --------------------------------------------------------------------------


def _policy_locations(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, Mapping):
        if "Statement" in value:
            yield path
            return
        if set(value) == {"Fn::Sub"}:
            pattern = value["Fn::Sub"]
            text = pattern if isinstance(pattern, str) else pattern[0]
            if isinstance(text, str) and '"Statement"' in text:
                yield path
            return
        for key, child in value.items():
            yield from _policy_locations(child, f"{path}.{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _policy_locations(child, f"{path}[{index}]")
    elif isinstance(value, str) and '"Statement"' in value:
        yield path


def unextracted_documents(template: Mapping[str, Any]) -> list[str]:
    """``LogicalId:path`` of every policy-shaped document :func:`extract_policies` misses."""
    covered = {(logical_id, found.path) for logical_id, _, found in _located(template)}
    missed: list[str] = []
    for logical_id, body in sorted(template.get("Resources", {}).items()):
        for path in _policy_locations(body.get("Properties", {}), "Properties"):
            if (logical_id, path) not in covered:
                missed.append(f"{logical_id}:{path}")
    return missed
