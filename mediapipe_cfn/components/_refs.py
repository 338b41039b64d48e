"""Template expressions that several components need, written once.

Components never import each other; they meet only through the logical IDs in
:mod:`mediapipe_cfn.ids`. The few expressions that depend on a parameter's condition (which KMS
key, which MediaConvert role) or that every resource repeats (tags) live here so that each
component renders them identically.

The KMS key is either created by the stack (``KmsKeyAlias`` left empty) or an existing key named
by its alias. Three expressions cover the two cases:

* :func:`key_arn` where a service takes a key for encryption at rest (S3, SQS, SNS, DynamoDB):
  those accept the alias ARN of an existing key.
* :func:`key_use_statement` in IAM policies: KMS authorises against the key ARN, never the alias
  ARN, so an existing key is matched by ``key/*`` narrowed with the ``kms:ResourceAliases``
  condition to the key that carries the alias. :func:`key_use_through_services` is the usual
  case of it: data-key use only through the AWS services named.
* :func:`log_group_key_arn` for CloudWatch Logs, which accepts only a key ARN: log groups use the
  created key and fall back to the service's own encryption for an existing key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from awacs import kms
from awacs.aws import (
    Action,
    Allow,
    Condition,
    ConditionElement,
    ForAnyValueStringEquals,
    Statement,
    StringEquals,
)
from troposphere import Equals, GetAtt, If, Join, NoValue, Ref, Sub, Tags

from mediapipe_cfn import ids
from mediapipe_cfn.iam import arn, condition
from mediapipe_cfn.profile.model import Fallback, Profile
from mediapipe_cfn.template import BuildContext

# Names (``Sub`` patterns) of the EventBridge rules. They are fixed rather than generated so that
# the key policy can name each rule's ARN exactly: a ``GetAtt`` there would be a dependency cycle
# (key -> rule -> encrypted queue -> key).
UPLOAD_RULE_NAME = "${AWS::StackName}-upload-created"
JOB_STATE_RULE_NAME = "${AWS::StackName}-job-state-change"
RECONCILE_RULE_NAME = "${AWS::StackName}-reconcile"

# Log groups the created key may encrypt (``Sub`` patterns): the key policy lets CloudWatch Logs
# use the key only for log groups whose names match one of these.
LOG_GROUP_NAME_PATTERNS = ("/aws/lambda/${AWS::StackName}-*", "/aws/events/${AWS::StackName}/*")
JOB_EVENTS_LOG_GROUP_NAME = "/aws/events/${AWS::StackName}/mediaconvert-jobs"

# Tag keys every resource carries besides the profile's own tags.
TAG_PIPELINE = "mediapipe:pipeline"
TAG_ENVIRONMENT = "mediapipe:environment"

# Short name of each function: the suffix of its name after the stack name, and its label on the
# dashboard and in alarm descriptions.
FUNCTION_SHORT_NAMES: Final[Mapping[str, str]] = {
    ids.ORCHESTRATOR_FUNCTION: "ingest-orchestrator",
    ids.STATUS_FUNCTION: "job-status-processor",
    ids.RECONCILER_FUNCTION: "reconciler",
}


def pipeline_id() -> Ref:
    """The pipeline's identity at run time: the stack name (unique per account and region)."""
    return Ref("AWS::StackName")


def metrics_namespace(profile: Profile) -> str:
    """CloudWatch namespace of the handlers' EMF metrics (the dashboard and alarms read it too).

    Pipelines that share a prefix share the namespace; the ``Pipeline`` dimension (the stack
    name) tells them apart.
    """
    return profile.naming.prefix


def retained() -> dict[str, str]:
    """``DeletionPolicy`` and ``UpdateReplacePolicy`` of a resource that outlives the stack."""
    return {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}


def retained_in_production(ctx: BuildContext) -> dict[str, str]:
    """Both policies for data kept after the stack in production and deleted with it elsewhere."""
    lifetime = "Retain" if ctx.profile.environment == "prod" else "Delete"
    return {"DeletionPolicy": lifetime, "UpdateReplacePolicy": lifetime}


def scanner_skip_metadata(*checks: tuple[str, str]) -> dict[str, Any]:
    """Resource metadata telling checkov which checks do not apply here, each with its reason."""
    return {"checkov": {"skip": [{"id": check, "comment": reason} for check, reason in checks]}}


def is_production(ctx: BuildContext) -> str:
    """The ``IsProduction`` condition's name, adding the condition on first use.

    It is added by the first component that uses it rather than with the other conditions: a
    template whose profile decides everything itself would otherwise carry an unused condition,
    which cfn-lint reports.
    """
    if ids.C_IS_PROD not in ctx.template.conditions:
        ctx.template.add_condition(ids.C_IS_PROD, Equals(Ref(ids.P_ENVIRONMENT), "prod"))
    return ids.C_IS_PROD


def key_arn() -> If:
    """The pipeline key for encryption settings: the created key's ARN or the alias ARN."""
    return If(ids.C_CREATE_KMS_KEY, created_key_arn(), existing_key_alias_arn())


def created_key_arn() -> GetAtt:
    """ARN of the key the stack creates (only valid where ``CreateKmsKey`` holds)."""
    return GetAtt(ids.KMS_KEY, "Arn")


def existing_key_alias_arn() -> Sub:
    """Alias ARN of the existing key named by ``KmsKeyAlias``."""
    return arn("kms", f"${{{ids.P_KMS_KEY_ALIAS}}}")


def log_group_key_arn() -> If:
    """``KmsKeyId`` of a log group: the created key, or none (CloudWatch Logs takes no alias)."""
    return If(ids.C_CREATE_KMS_KEY, created_key_arn(), NoValue)


def created_key_alias(prefix: str) -> Sub:
    """Alias name the stack gives the key it creates."""
    return Sub(f"alias/{prefix}-${{AWS::StackName}}")


def key_use_statement(
    sid: str, actions: Sequence[Action], *conditions: ConditionElement
) -> Statement:
    """IAM Allow of ``actions`` on the pipeline key, exact in both key cases.

    Created key: the resource is its ARN. Existing key: any key of this account and region whose
    aliases include ``KmsKeyAlias`` -- which is that one key. ``conditions`` (ANDed) narrow the
    grant further in both cases.
    """
    alias_match = ForAnyValueStringEquals("kms:ResourceAliases", Ref(ids.P_KMS_KEY_ALIAS))
    return Statement(
        Sid=sid,
        Effect=Allow,
        Action=list(actions),
        Resource=[If(ids.C_CREATE_KMS_KEY, created_key_arn(), arn("kms", "key/*"))],
        Condition=(
            _ConditionForExistingKeyToo(conditions, alias_match)
            if conditions
            else If(ids.C_CREATE_KMS_KEY, NoValue, condition(alias_match))
        ),
    )


class _ConditionForExistingKeyToo(Condition):
    """``conditions`` in both key cases, plus ``extra``'s operator for an existing key only.

    One block whose extra operator is an ``Fn::If`` (``AWS::NoValue`` for a created key), rather
    than an ``Fn::If`` between two whole blocks: the shared conditions are written once.
    """

    def __init__(self, conditions: Sequence[ConditionElement], extra: ConditionElement) -> None:
        condition(*conditions, extra)  # refuses an operator used twice
        super().__init__(list(conditions))
        self.extra = extra

    def JSONrepr(self) -> dict[str, Any]:
        block = super().JSONrepr()
        block[self.extra.condition] = If(ids.C_CREATE_KMS_KEY, NoValue, self.extra.get_dict())
        return block


def via_service_endpoint(service: str) -> Sub:
    """``<service>.<region>.<URL suffix>``: the value of ``kms:ViaService`` for that service."""
    return Sub(f"{service}.${{AWS::Region}}.${{AWS::URLSuffix}}")


def key_use_through_services(sid: str, services: Sequence[str]) -> Statement:
    """Data-key use of the pipeline key (Decrypt, GenerateDataKey) only through ``services``.

    That is what reading and writing data encrypted with the key in S3, SQS, DynamoDB or SNS
    takes; the ``kms:ViaService`` condition keeps the grant from being used with KMS directly.
    """
    endpoints = [via_service_endpoint(service) for service in sorted(services)]
    return key_use_statement(
        sid,
        [kms.Decrypt, kms.GenerateDataKey],
        StringEquals("kms:ViaService", endpoints[0] if len(endpoints) == 1 else endpoints),
    )


def rule_arn(rule_name: str) -> Sub:
    """ARN of a rule of this stack on the default event bus, from its name pattern."""
    return arn("events", f"rule/{rule_name}")


def bucket_name(logical_id: str) -> Ref:
    """Name of a bucket of this stack (``ids.UPLOADS_BUCKET``, ``ids.OUTPUTS_BUCKET``, ...)."""
    return Ref(logical_id)


def bucket_arn(logical_id: str) -> GetAtt:
    """ARN of a bucket of this stack (for bucket-level actions such as ``s3:ListBucket``)."""
    return GetAtt(logical_id, "Arn")


def objects_arn(logical_id: str, key_pattern: str = "*") -> Sub:
    """ARN of objects in a bucket of this stack, e.g. ``objects_arn(ids.UPLOADS_BUCKET)``."""
    return Sub(f"${{{logical_id}.Arn}}/{key_pattern}")


def queue_arn(logical_id: str) -> GetAtt:
    return GetAtt(logical_id, "Arn")


def queue_url(logical_id: str) -> Ref:
    return Ref(logical_id)


def mediaconvert_role_arn() -> If:
    """The role MediaConvert jobs run as: the created one or the ``MediaConvertRoleArn`` given."""
    return If(
        ids.C_CREATE_MEDIACONVERT_ROLE,
        GetAtt(ids.MEDIACONVERT_ROLE, "Arn"),
        Ref(ids.P_MEDIACONVERT_ROLE_ARN),
    )


def playback_base_url(profile: Profile) -> Any:
    """``https://<first custom host or the distribution's domain>``: the base of playback URLs
    (only with ``delivery.enabled``)."""
    custom_domain = profile.delivery.custom_domain
    if custom_domain is not None:
        return f"https://{custom_domain.aliases[0]}"
    return Join("", ["https://", GetAtt(ids.DISTRIBUTION, "DomainName")])


def tag_values(ctx: BuildContext) -> dict[str, Any]:
    """The profile's tags plus the pipeline and environment tags (ours win on a clash)."""
    values: dict[str, Any] = dict(ctx.profile.tags)
    values[TAG_PIPELINE] = pipeline_id()
    values[TAG_ENVIRONMENT] = Ref(ids.P_ENVIRONMENT)
    return dict(sorted(values.items()))


def tags(ctx: BuildContext) -> Tags:
    """``Tags`` (a Key/Value list) for every taggable resource, sorted by key."""
    return Tags(tag_values(ctx))


def mediaconvert_queue_arns(profile: Profile) -> list[Any]:
    """Every MediaConvert queue the pipeline's jobs may run in: the stack's own queue first,
    then the existing queues of the profile's capacity section."""
    stack_queue: Any = GetAtt(ids.MEDIACONVERT_QUEUE, "Arn")
    capacity = profile.capacity
    if capacity is None:
        return [stack_queue]
    existing = [capacity.queues[name].arn for name in sorted(capacity.queues)]
    fallback = [fallback_queue_arn(capacity.fallback)] if capacity.fallback else []
    return [stack_queue, *existing, *fallback]


def fallback_queue_arn(fallback: Fallback) -> Any:
    """The regional fallback's queue: the profile's, or the secondary region's Default queue."""
    if fallback.queue_arn is not None:
        return fallback.queue_arn
    return Sub(
        f"arn:${{AWS::Partition}}:mediaconvert:{fallback.region}:${{AWS::AccountId}}:queues/Default"
    )


def fallback_jobs_arn(fallback: Fallback) -> Sub:
    """Every MediaConvert job of this account in the fallback region."""
    return Sub(f"arn:${{AWS::Partition}}:mediaconvert:{fallback.region}:${{AWS::AccountId}}:jobs/*")
