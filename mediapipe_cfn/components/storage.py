"""The uploads, outputs and server-access-logs buckets, and their policies.

Uploads and outputs are encrypted with the pipeline key (SSE-KMS with an S3 Bucket Key, which
cuts KMS requests per object to about one per bucket key period), block every form of public
access, disable ACLs, and log every request to the access-logs bucket. Their policies refuse
what default encryption alone cannot: plain-HTTP requests, puts that ask for another encryption
or another key, and customer-provided keys (SSE-C), which S3 would otherwise accept.

The three buckets are retained when the stack is deleted or a change would replace them: they
hold the only copies of the media and of the access history.
"""

from __future__ import annotations

from typing import Any

from awacs import s3
from awacs.aws import (
    ArnEquals,
    ConditionElement,
    Statement,
    StringEquals,
    StringNotEquals,
    StringNotLike,
)
from awacs.aws import Null as NullCondition
from troposphere import AWSHelperFn, If, NoValue, Ref, Sub
from troposphere import s3 as ts3

from mediapipe_cfn import ids
from mediapipe_cfn.components import _refs
from mediapipe_cfn.iam import (
    allow,
    anyone,
    arn,
    deny,
    deny_insecure_transport,
    document,
    service_principal,
)
from mediapipe_cfn.profile.model import Transition
from mediapipe_cfn.template import BuildContext

SSE_HEADER = "s3:x-amz-server-side-encryption"
SSE_KEY_HEADER = "s3:x-amz-server-side-encryption-aws-kms-key-id"
SSE_CUSTOMER_HEADER = "s3:x-amz-server-side-encryption-customer-algorithm"
# MediaConvert writes large outputs as multipart uploads; a job that dies mid-upload leaves parts
# that are billed until removed. A week leaves time to look at a failure first.
OUTPUTS_ABORT_MULTIPART_DAYS = 7
ACCESS_LOGS_ABORT_MULTIPART_DAYS = 1
# Access logs are versioned so that a deleted log stays recoverable for this long.
ACCESS_LOGS_NONCURRENT_DAYS = 30
# Working copies are disposable: superseded versions and abandoned multipart copies go in a day.
WORKING_COPY_NONCURRENT_DAYS = 1
# Key prefixes of each bucket's server access logs in the access-logs bucket.
UPLOADS_LOG_PREFIX = "s3-access/uploads/"
OUTPUTS_LOG_PREFIX = "s3-access/outputs/"


def build(ctx: BuildContext) -> None:
    ctx.add(access_logs_bucket(ctx))
    ctx.add(access_logs_bucket_policy())
    ctx.add(uploads_bucket(ctx))
    ctx.add(data_bucket_policy(ids.UPLOADS_BUCKET_POLICY, ids.UPLOADS_BUCKET))
    ctx.add(outputs_bucket(ctx))
    ctx.add(data_bucket_policy(ids.OUTPUTS_BUCKET_POLICY, ids.OUTPUTS_BUCKET))
    ctx.output(ids.O_UPLOADS_BUCKET_NAME, Ref(ids.UPLOADS_BUCKET), "Bucket that receives uploads.")
    ctx.output(ids.O_OUTPUTS_BUCKET_NAME, Ref(ids.OUTPUTS_BUCKET), "Bucket of transcoded outputs.")
    ctx.output(
        ids.O_ACCESS_LOGS_BUCKET_NAME,
        Ref(ids.ACCESS_LOGS_BUCKET),
        "Bucket of the uploads and outputs buckets' server access logs.",
    )


# --- buckets ---------------------------------------------------------------------------------


def private_bucket(ctx: BuildContext, logical_id: str, **properties: Any) -> ts3.Bucket:
    """A bucket of this pipeline: kept after the stack, never public, ACLs disabled, tagged."""
    return ts3.Bucket(
        logical_id,
        **_refs.retained(),
        PublicAccessBlockConfiguration=block_all_public_access(),
        OwnershipControls=bucket_owner_enforced(),
        Tags=_refs.tags(ctx),
        **properties,
    )


def data_bucket(
    ctx: BuildContext,
    logical_id: str,
    name_condition: str,
    name_parameter: str,
    log_prefix: str,
    **properties: Any,
) -> ts3.Bucket:
    """A bucket of media: named by its parameter (or generated), under the pipeline key, logged."""
    return private_bucket(
        ctx,
        logical_id,
        BucketName=If(name_condition, NoValue, Ref(name_parameter)),
        BucketEncryption=kms_bucket_encryption(),
        LoggingConfiguration=access_logging(log_prefix),
        **properties,
    )


def access_logs_bucket(ctx: BuildContext) -> ts3.Bucket:
    return private_bucket(
        ctx,
        ids.ACCESS_LOGS_BUCKET,
        # S3 server access logging cannot deliver to SSE-KMS buckets: S3-managed keys it is.
        BucketEncryption=ts3.BucketEncryption(
            ServerSideEncryptionConfiguration=[
                ts3.ServerSideEncryptionRule(
                    ServerSideEncryptionByDefault=ts3.ServerSideEncryptionByDefault(
                        SSEAlgorithm="AES256"
                    )
                )
            ]
        ),
        VersioningConfiguration=ts3.VersioningConfiguration(Status="Enabled"),
        LifecycleConfiguration=ts3.LifecycleConfiguration(
            Rules=[
                ts3.LifecycleRule(
                    Id="expire-access-logs",
                    Status="Enabled",
                    ExpirationInDays=ctx.profile.retention.access_logs_expiration_days,
                    NoncurrentVersionExpiration=ts3.NoncurrentVersionExpiration(
                        NoncurrentDays=ACCESS_LOGS_NONCURRENT_DAYS
                    ),
                    AbortIncompleteMultipartUpload=ts3.AbortIncompleteMultipartUpload(
                        DaysAfterInitiation=ACCESS_LOGS_ABORT_MULTIPART_DAYS
                    ),
                ),
            ]
        ),
        Metadata=_refs.scanner_skip_metadata(
            (
                "CKV_AWS_18",
                "This is the access-logs bucket; logging it to itself would log forever.",
            ),
        ),
    )


def uploads_bucket(ctx: BuildContext) -> ts3.Bucket:
    retention = ctx.profile.retention.uploads
    rule: dict[str, Any] = {
        "Id": "uploads-lifecycle",
        "Status": "Enabled",
        # Originals only: the working copies beside them follow their own, shorter rule.
        "Prefix": ctx.profile.ingest.prefix,
        "NoncurrentVersionExpiration": ts3.NoncurrentVersionExpiration(
            NoncurrentDays=retention.noncurrent_version_expiration_days
        ),
        "AbortIncompleteMultipartUpload": ts3.AbortIncompleteMultipartUpload(
            DaysAfterInitiation=retention.abort_incomplete_multipart_days
        ),
    }
    if retention.transitions:
        rule["Transitions"] = lifecycle_transitions(retention.transitions)
    if retention.expiration_days is not None:
        rule["ExpirationInDays"] = retention.expiration_days
    return data_bucket(
        ctx,
        ids.UPLOADS_BUCKET,
        ids.C_GENERATE_UPLOADS_BUCKET_NAME,
        ids.P_UPLOADS_BUCKET_NAME,
        UPLOADS_LOG_PREFIX,
        # Versioning keeps an overwritten or deleted original recoverable, and every version has
        # its own versionId, from which the asset ID is derived.
        VersioningConfiguration=ts3.VersioningConfiguration(Status="Enabled"),
        # "Object Created" events go to EventBridge, whose rule feeds the processing queue.
        NotificationConfiguration=ts3.NotificationConfiguration(
            EventBridgeConfiguration=ts3.EventBridgeConfiguration(EventBridgeEnabled=True)
        ),
        LifecycleConfiguration=ts3.LifecycleConfiguration(
            Rules=[
                ts3.LifecycleRule(**rule),
                working_copies_lifecycle(ctx),
                # Delete markers left once every noncurrent version has expired (a rule that
                # expires current versions removes them itself, and may not ask for it too).
                *([] if retention.expiration_days else [remove_expired_delete_markers()]),
            ]
        ),
    )


def working_copies_lifecycle(ctx: BuildContext) -> ts3.LifecycleRule:
    """Each asset's copy of its uploaded version is only read while its jobs run.

    The copies expire after the profile's days; a version that expiry (or a re-copy) makes
    noncurrent goes a day later, and an interrupted multipart copy is cleaned up in a day.
    """
    ingest = ctx.profile.ingest
    return ts3.LifecycleRule(
        Id="working-copies-expiry",
        Status="Enabled",
        Prefix=ingest.working_copy_prefix,
        ExpirationInDays=ingest.working_copy_expiration_days,
        NoncurrentVersionExpiration=ts3.NoncurrentVersionExpiration(
            NoncurrentDays=WORKING_COPY_NONCURRENT_DAYS
        ),
        AbortIncompleteMultipartUpload=ts3.AbortIncompleteMultipartUpload(
            DaysAfterInitiation=WORKING_COPY_NONCURRENT_DAYS
        ),
    )


def outputs_bucket(ctx: BuildContext) -> ts3.Bucket:
    return data_bucket(
        ctx,
        ids.OUTPUTS_BUCKET,
        ids.C_GENERATE_OUTPUTS_BUCKET_NAME,
        ids.P_OUTPUTS_BUCKET_NAME,
        OUTPUTS_LOG_PREFIX,
        LifecycleConfiguration=ts3.LifecycleConfiguration(Rules=outputs_lifecycle_rules(ctx)),
        Metadata=_refs.scanner_skip_metadata(
            (
                "CKV_AWS_21",
                "Outputs are reproducible from the versioned uploads; versioning every "
                "segment of every rendition would multiply storage for no recovery gain.",
            ),
        ),
    )


def outputs_lifecycle_rules(ctx: BuildContext) -> list[ts3.LifecycleRule]:
    """Transitions for objects big enough to be worth moving; expiry and clean-up for all."""
    retention = ctx.profile.retention.outputs
    rules: list[ts3.LifecycleRule] = []
    if retention.transitions:
        transition_rule: dict[str, Any] = {
            "Id": "outputs-transitions",
            "Status": "Enabled",
            "Transitions": lifecycle_transitions(retention.transitions),
        }
        # Objects below the size are billed as if bigger in IA/Glacier classes and cost a
        # transition request each: HLS/DASH manifests and small segments stay in Standard.
        if retention.min_transition_size_kb:
            transition_rule["ObjectSizeGreaterThan"] = str(retention.min_transition_size_kb * 1024)
        rules.append(ts3.LifecycleRule(**transition_rule))
    housekeeping: dict[str, Any] = {
        "Id": "outputs-housekeeping",
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": ts3.AbortIncompleteMultipartUpload(
            DaysAfterInitiation=OUTPUTS_ABORT_MULTIPART_DAYS
        ),
    }
    if retention.expiration_days is not None:
        housekeeping["ExpirationInDays"] = retention.expiration_days
    rules.append(ts3.LifecycleRule(**housekeeping))
    return rules


def lifecycle_transitions(transitions: list[Transition]) -> list[ts3.LifecycleRuleTransition]:
    return [
        ts3.LifecycleRuleTransition(StorageClass=step.storage_class, TransitionInDays=step.days)
        for step in transitions
    ]


def remove_expired_delete_markers() -> ts3.LifecycleRule:
    return ts3.LifecycleRule(
        Id="remove-expired-delete-markers",
        Status="Enabled",
        ExpiredObjectDeleteMarker=True,
    )


def kms_bucket_encryption() -> ts3.BucketEncryption:
    return ts3.BucketEncryption(
        ServerSideEncryptionConfiguration=[
            ts3.ServerSideEncryptionRule(
                BucketKeyEnabled=True,
                ServerSideEncryptionByDefault=ts3.ServerSideEncryptionByDefault(
                    SSEAlgorithm="aws:kms", KMSMasterKeyID=_refs.key_arn()
                ),
            )
        ]
    )


def block_all_public_access() -> ts3.PublicAccessBlockConfiguration:
    return ts3.PublicAccessBlockConfiguration(
        BlockPublicAcls=True,
        BlockPublicPolicy=True,
        IgnorePublicAcls=True,
        RestrictPublicBuckets=True,
    )


def bucket_owner_enforced() -> ts3.OwnershipControls:
    """ACLs disabled: the bucket policy and IAM alone decide access."""
    return ts3.OwnershipControls(
        Rules=[ts3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
    )


def access_logging(prefix: str) -> ts3.LoggingConfiguration:
    return ts3.LoggingConfiguration(
        DestinationBucketName=Ref(ids.ACCESS_LOGS_BUCKET),
        LogFilePrefix=prefix,
        # Date-partitioned keys (by event time) make the logs cheap to query with Athena.
        TargetObjectKeyFormat=ts3.TargetObjectKeyFormat(
            PartitionedPrefix=ts3.PartitionedPrefix(PartitionDateSource="EventTime")
        ),
    )


# --- policies --------------------------------------------------------------------------------


def bucket_and_objects(bucket_id: str) -> list[AWSHelperFn]:
    return [_refs.bucket_arn(bucket_id), _refs.objects_arn(bucket_id)]


def deny_plain_http(bucket_id: str) -> Statement:
    # Plain HTTP only: every S3 endpoint already refuses TLS versions below 1.2.
    return deny_insecure_transport("s3", bucket_and_objects(bucket_id))


def deny_put_unless(
    sid: str, bucket_id: str, header: str, mismatch: type[ConditionElement], allowed: Any
) -> Statement:
    """Deny puts that send ``header`` with a value the ``mismatch`` operator rejects.

    A put without the header is left alone: the bucket's default encryption (the pipeline key)
    applies to it, so clients and services may simply omit the encryption headers.
    """
    return deny(
        sid,
        [s3.PutObject],
        [_refs.objects_arn(bucket_id)],
        NullCondition(header, "false"),
        mismatch(header, allowed),
        principal=anyone(),
    )


def allowed_key_ids() -> If:
    """Key identifiers a put may name: the pipeline key as the rest of the template names it.

    With the created key that is its ARN. With an existing key the template only knows its alias
    ARN, so a put may name that alias ARN or any key ARN of this account and Region; puts naming
    another account's key, or a bare key ID or alias, are refused.
    """
    return If(
        ids.C_CREATE_KMS_KEY,
        [_refs.created_key_arn()],
        [_refs.existing_key_alias_arn(), arn("kms", "key/*")],
    )


def data_bucket_policy(policy_id: str, bucket_id: str) -> ts3.BucketPolicy:
    statements = [
        deny_plain_http(bucket_id),
        deny_put_unless(
            "DenyEncryptionOtherThanKms", bucket_id, SSE_HEADER, StringNotEquals, "aws:kms"
        ),
        deny_put_unless(
            "DenyKeyOtherThanPipelineKey",
            bucket_id,
            SSE_KEY_HEADER,
            StringNotLike,
            allowed_key_ids(),
        ),
        deny(
            "DenyCustomerProvidedKeys",
            [s3.PutObject],
            [_refs.objects_arn(bucket_id)],
            NullCondition(SSE_CUSTOMER_HEADER, "false"),
            principal=anyone(),
        ),
    ]
    return ts3.BucketPolicy(policy_id, Bucket=Ref(bucket_id), PolicyDocument=document(*statements))


def access_logs_bucket_policy() -> ts3.BucketPolicy:
    logs_prefixes = [UPLOADS_LOG_PREFIX, OUTPUTS_LOG_PREFIX]
    return ts3.BucketPolicy(
        ids.ACCESS_LOGS_BUCKET_POLICY,
        Bucket=Ref(ids.ACCESS_LOGS_BUCKET),
        PolicyDocument=document(
            deny_plain_http(ids.ACCESS_LOGS_BUCKET),
            # With ACLs disabled, the logging service writes under this policy instead of a
            # log-delivery ACL grant; only for the two source buckets of this account.
            allow(
                "S3ServerAccessLogsDelivery",
                [s3.PutObject],
                [_refs.objects_arn(ids.ACCESS_LOGS_BUCKET, f"{p}*") for p in logs_prefixes],
                ArnEquals(
                    "aws:SourceArn",
                    [
                        _refs.bucket_arn(ids.UPLOADS_BUCKET),
                        _refs.bucket_arn(ids.OUTPUTS_BUCKET),
                    ],
                ),
                StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}")),
                principal=service_principal("logging.s3"),
            ),
        ),
    )
