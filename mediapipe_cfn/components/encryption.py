"""The pipeline's KMS key (created when ``KmsKeyAlias`` is empty) and its alias.

The key policy follows AWS's standard split: the account (through IAM policies) administers and
uses the key, which is how the pipeline's own roles get exactly the key actions they need; the
only other principals are AWS services that call KMS on the pipeline's behalf and cannot carry an
IAM policy, each pinned by condition keys to this stack's resources:

* EventBridge, when its two rules deliver to encrypted queues (the processing queue and the
  event-delivery dead-letter queue), pinned by ``aws:SourceArn`` to those rules;
* CloudWatch, when alarms publish to the encrypted alarm topic, pinned to this account's alarms;
* CloudWatch Logs, for the log groups encrypted with the key, pinned by the
  ``aws:logs:arn`` encryption context to this stack's log group names.

Every statement names its principal; there is no wildcard principal.
"""

from __future__ import annotations

from awacs import kms
from awacs.aws import (
    Action,
    ArnEquals,
    ArnLike,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
    StringLike,
)
from troposphere import GetAtt, Sub
from troposphere import kms as tkms

from mediapipe_cfn import ids
from mediapipe_cfn.components import _refs
from mediapipe_cfn.iam import allow, arn, document, service_principal
from mediapipe_cfn.template import BuildContext

# A deleted key would make every retained bucket, table backup and log unreadable, so the key
# outlives the stack like the data it protects, with the longest deletion window when deleted.
PENDING_WINDOW_DAYS = 30

# What the account's IAM policies may grant on the key: administration of a symmetric key
# created by this stack, plus its use. Deliberately absent: key material import, custom key
# stores, multi-Region replication, asymmetric and HMAC operations, which do not apply.
ACCOUNT_KEY_ACTIONS: tuple[Action, ...] = (
    kms.CancelKeyDeletion,
    kms.CreateAlias,
    kms.CreateGrant,
    kms.Decrypt,
    kms.DeleteAlias,
    kms.DescribeKey,
    kms.DisableKey,
    kms.DisableKeyRotation,
    kms.EnableKey,
    kms.EnableKeyRotation,
    kms.Encrypt,
    kms.GenerateDataKey,
    kms.GenerateDataKeyPair,
    kms.GenerateDataKeyPairWithoutPlaintext,
    kms.GenerateDataKeyWithoutPlaintext,
    kms.GetKeyPolicy,
    kms.GetKeyRotationStatus,
    kms.ListGrants,
    kms.ListKeyPolicies,
    kms.ListKeyRotations,
    kms.ListResourceTags,
    kms.PutKeyPolicy,
    kms.ReEncryptFrom,
    kms.ReEncryptTo,
    kms.RetireGrant,
    kms.RevokeGrant,
    kms.RotateKeyOnDemand,
    kms.ScheduleKeyDeletion,
    kms.TagResource,
    kms.UntagResource,
    kms.UpdateAlias,
    kms.UpdateKeyDescription,
)
# What SQS and SNS ask KMS for when a service principal sends to an encrypted queue or topic.
ENVELOPE_ACTIONS: tuple[Action, ...] = (kms.Decrypt, kms.GenerateDataKey)
# What CloudWatch Logs needs to encrypt and read back a log group. (kms:DescribeKey carries no
# encryption context, so under the log-group condition below it could never be granted.)
LOGS_ACTIONS: tuple[Action, ...] = (
    kms.Decrypt,
    kms.Encrypt,
    kms.GenerateDataKey,
    kms.GenerateDataKeyWithoutPlaintext,
    kms.ReEncryptFrom,
    kms.ReEncryptTo,
)
LOGS_CONTEXT_KEY = "kms:EncryptionContext:aws:logs:arn"
# A key policy's Resource: "*" there means the key the policy is attached to, nothing else.
KEY_ITSELF = ("*",)


def build(ctx: BuildContext) -> None:
    ctx.add(pipeline_key(ctx))
    ctx.add(
        tkms.Alias(
            ids.KMS_KEY_ALIAS,
            Condition=ids.C_CREATE_KMS_KEY,
            AliasName=_refs.created_key_alias(ctx.profile.naming.prefix),
            TargetKeyId=GetAtt(ids.KMS_KEY, "Arn"),
        )
    )
    ctx.output(
        ids.O_KMS_KEY_ARN,
        _refs.key_arn(),
        "KMS key that encrypts the pipeline's data: the created key's ARN, or the alias ARN "
        "of the existing key.",
    )


def pipeline_key(ctx: BuildContext) -> tkms.Key:
    return tkms.Key(
        ids.KMS_KEY,
        Condition=ids.C_CREATE_KMS_KEY,
        **_refs.retained(),
        Description=Sub(
            f"{ctx.profile.naming.prefix} media pipeline ${{AWS::StackName}}: uploads, outputs, "
            "queues, topics, table and logs"
        ),
        KeySpec="SYMMETRIC_DEFAULT",
        KeyUsage="ENCRYPT_DECRYPT",
        EnableKeyRotation=True,
        RotationPeriodInDays=ctx.profile.encryption.key_rotation_days,
        PendingWindowInDays=PENDING_WINDOW_DAYS,
        KeyPolicy=key_policy(),
        Tags=_refs.tags(ctx),
    )


def key_policy() -> PolicyDocument:
    return document(
        account_statement(),
        eventbridge_statement(),
        cloudwatch_alarms_statement(),
        cloudwatch_logs_statement(),
    )


def account_statement() -> Statement:
    """The account root: IAM policies in this account may grant the key; it stays manageable."""
    return allow(
        "AccountAdministersAndGrantsThroughIam",
        ACCOUNT_KEY_ACTIONS,
        KEY_ITSELF,
        principal=Principal("AWS", [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")]),
    )


def eventbridge_statement() -> Statement:
    # SQS documents aws:SourceArn (the rule) for EventBridge deliveries to encrypted queues. It
    # is the only condition used: keys SQS does not pass would silently drop events.
    return allow(
        "EventBridgeRulesDeliverToEncryptedQueues",
        ENVELOPE_ACTIONS,
        KEY_ITSELF,
        ArnEquals(
            "aws:SourceArn",
            [
                _refs.rule_arn(_refs.UPLOAD_RULE_NAME),
                _refs.rule_arn(_refs.JOB_STATE_RULE_NAME),
            ],
        ),
        principal=service_principal("events"),
    )


def cloudwatch_alarms_statement() -> Statement:
    return allow(
        "CloudWatchAlarmsPublishToEncryptedTopic",
        ENVELOPE_ACTIONS,
        KEY_ITSELF,
        StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}")),
        ArnLike("aws:SourceArn", arn("cloudwatch", "alarm:*")),
        principal=service_principal("cloudwatch"),
    )


def cloudwatch_logs_statement() -> Statement:
    return allow(
        "CloudWatchLogsEncryptsPipelineLogGroups",
        LOGS_ACTIONS,
        KEY_ITSELF,
        # The encryption context is a string condition key (it holds the log group's ARN).
        StringLike(
            LOGS_CONTEXT_KEY,
            [arn("logs", f"log-group:{name}") for name in _refs.LOG_GROUP_NAME_PATTERNS],
        ),
        # The Logs service principal is regional: logs.<region>.amazonaws.com.
        principal=Principal("Service", [Sub("logs.${AWS::Region}.${AWS::URLSuffix}")]),
    )
