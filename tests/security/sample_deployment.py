"""A rendered template as deployed in the sample account, for policy-evaluation tests.

:class:`Deployment` resolves one template for one scenario (parameter defaults, or the other
value of every optional parameter) and answers "would AWS allow this request?" with the
security package's evaluator, combining the principal's identity policies, the resource's
policy and, for KMS requests, the key policy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from mediapipe_cfn import ids
from mediapipe_cfn.profile.loader import load_profile
from mediapipe_cfn.security.evaluator import (
    Decision,
    Principal,
    Request,
    evaluate_access,
)
from mediapipe_cfn.security.gate import rendered_template
from mediapipe_cfn.security.intrinsics import (
    ALTERNATIVES_NAME,
    DEFAULTS,
    Resolver,
    SampleEnvironment,
    Scenario,
    scenarios,
)
from mediapipe_cfn.security.policies import IamPolicy, PolicyKind, extract_policies
from mediapipe_cfn.security.tools import SecurityToolsMissing, missing_tools

ENV = SampleEnvironment()
ACCOUNT = ENV.account_id
OTHER_ACCOUNT = "210987654321"
# A key of the account that is not the pipeline's, and the existing key the alternative
# scenario names by alias (its key ARN is unknown to the template).
OTHER_KEY_ARN = ENV.arn("kms", "key/00000000-1111-2222-3333-444444444444")
EXISTING_KEY_ARN = ENV.arn("kms", "key/99999999-8888-7777-6666-555555555555")


def template_of(profile_name: str) -> dict[str, Any]:
    return rendered_template(load_profile(profile_name))


def job_events_log_group_template(profile_name: str) -> dict[str, Any]:
    """A built-in profile with its job events in their own log group under a per-stack policy.

    No built-in profile asks for that (the policy is an account-level resource; see
    ``observability.job_event_log``), but a profile may.
    """
    profile = load_profile(profile_name)
    observability = profile.observability.model_copy(update={"job_event_log": "log_group"})
    return rendered_template(profile.model_copy(update={"observability": observability}))


def scenario_named(template: Mapping[str, Any], name: str) -> Scenario:
    (scenario,) = [s for s in scenarios(template, ENV) if s.name == name]
    return scenario


@dataclass
class Deployment:
    template: Mapping[str, Any]
    scenario: Scenario = DEFAULTS
    resolver: Resolver = field(init=False)
    policies: list[IamPolicy] = field(init=False)

    def __post_init__(self) -> None:
        self.resolver = Resolver(self.template, self.scenario, ENV)
        self.policies = extract_policies(self.template, self.scenario, ENV)

    @classmethod
    def of(cls, profile_name: str, scenario_name: str = DEFAULTS.name) -> Deployment:
        template = template_of(profile_name)
        scenario = (
            DEFAULTS
            if scenario_name == DEFAULTS.name
            else scenario_named(template, ALTERNATIVES_NAME)
        )
        return cls(template, scenario)

    # names

    @property
    def creates_key(self) -> bool:
        return self.resolver.condition(ids.C_CREATE_KMS_KEY)

    def arn(self, logical_id: str) -> str:
        return self.resolver.arn(logical_id)

    def name(self, logical_id: str) -> str:
        return self.resolver.physical_name(logical_id)

    def object_arn(self, bucket_id: str, key: str) -> str:
        return f"{self.arn(bucket_id)}/{key}"

    def role(self, role_id: str) -> Principal:
        return Principal.role(self.arn(role_id))

    @property
    def mediaconvert_role(self) -> Principal:
        """The role MediaConvert jobs run as: created, or the one the parameter names."""
        if self.resolver.condition(ids.C_CREATE_MEDIACONVERT_ROLE):
            return self.role(ids.MEDIACONVERT_ROLE)
        return Principal.role(self.resolver.parameters[ids.P_MEDIACONVERT_ROLE_ARN])

    @property
    def key_arn(self) -> str:
        """The ARN KMS authorises against: the created key, or the existing key."""
        return self.arn(ids.KMS_KEY) if self.creates_key else EXISTING_KEY_ARN

    @property
    def key_ids_for_puts(self) -> list[str]:
        """How puts may name the pipeline key: the created key's ARN; for an existing key, the
        key ARN the handlers resolve and MediaConvert uses, or the alias ARN the template has."""
        if self.creates_key:
            return [self.arn(ids.KMS_KEY)]
        return [EXISTING_KEY_ARN, ENV.arn("kms", self.resolver.parameters[ids.P_KMS_KEY_ALIAS])]

    # policies

    def policy(self, logical_id: str, kind: PolicyKind) -> Mapping[str, Any]:
        (found,) = [p for p in self.policies if p.logical_id == logical_id and p.kind is kind]
        return found.document

    def identity_policies(self, principal: Principal) -> list[Mapping[str, Any]]:
        return [
            p.document
            for p in self.policies
            if p.kind is PolicyKind.IDENTITY and principal.identifier in p.attached_to
        ]

    def resource_policies(self, resource: str) -> list[Mapping[str, Any]]:
        """Policies attached to the resource, or to the bucket of an object ARN."""
        s3_prefix = f"arn:{ENV.partition}:s3:::"
        bucket = resource.split("/", 1)[0] if resource.startswith(s3_prefix) else resource
        return [
            p.document
            for p in self.policies
            if p.kind is PolicyKind.RESOURCE and {resource, bucket} & set(p.attached_to)
        ]

    def trust_policy(self, role_id: str) -> Mapping[str, Any]:
        return self.policy(role_id, PolicyKind.TRUST)

    @property
    def key_policy(self) -> Mapping[str, Any]:
        return self.policy(ids.KMS_KEY, PolicyKind.RESOURCE)

    # decisions

    def decide(self, principal: Principal, action: str, resource: str, **context: Any) -> Decision:
        """Same-account decision for a non-KMS request (TLS unless the context says otherwise)."""
        request = Request(principal, action, resource, {"aws:SecureTransport": True, **context})
        return evaluate_access(
            request,
            identity_policies=self.identity_policies(principal),
            resource_policies=self.resource_policies(resource),
        )

    def kms_request(self, principal: Principal, action: str, **context: Any) -> Request:
        """A request to the pipeline key; an existing key carries its alias in the context."""
        if not self.creates_key:
            aliases = [self.resolver.parameters[ids.P_KMS_KEY_ALIAS]]
            context = {"kms:ResourceAliases": aliases, **context}
        return Request(principal, action, self.key_arn, {"aws:SecureTransport": True, **context})

    def decide_kms(self, principal: Principal, action: str, **context: Any) -> Decision:
        """A request to the pipeline key. With an existing key only IAM is known: its key
        policy belongs to the key's owner and is assumed to delegate to the account."""
        request = self.kms_request(principal, action, **context)
        if not self.creates_key:
            return evaluate_access(request, identity_policies=self.identity_policies(principal))
        return evaluate_access(
            request,
            identity_policies=self.identity_policies(principal),
            key_policy=self.key_policy,
        )


BOTH_SCENARIOS = pytest.mark.parametrize("scenario", [DEFAULTS.name, ALTERNATIVES_NAME])


def require_security_tools() -> None:
    """Skip (locally) or fail (in CI, where ``CI=true``) when checkov or parliament is missing."""
    missing = missing_tools()
    if not missing:
        return
    message = str(SecurityToolsMissing(missing))
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
