"""Stack parameters, the conditions derived from them, and how the console groups them.

Every parameter's default comes from the profile, so a stack deployed without overrides is the
profile's pipeline; the parameters exist for what differs per deployment (names, an existing key
or MediaConvert role, the concurrency knob) without rendering a new template.
"""

from __future__ import annotations

from troposphere import Equals, Parameter, Ref

from mediapipe_cfn import ids
from mediapipe_cfn.profile.model import BUCKET_NAME_PATTERN
from mediapipe_cfn.template import BuildContext

ENVIRONMENTS = ("dev", "test", "prod")
# The profile model accepts the same aliases, so a profile's default always satisfies it.
KMS_KEY_ALIAS_PATTERN = r"^$|^alias/[A-Za-z0-9/_-]{1,250}$"
# An IAM role ARN in any partition (aws, aws-cn, aws-us-gov), paths allowed, or empty.
ROLE_ARN_PATTERN = r"^$|^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"
# Lambda's ScalingConfig.MaximumConcurrency range for SQS event sources.
MIN_CONCURRENCY = 2
MAX_CONCURRENCY = 1000

INTERFACE_METADATA_KEY = "AWS::CloudFormation::Interface"


def build(ctx: BuildContext) -> None:
    add_parameters(ctx)
    add_conditions(ctx)
    add_interface_metadata(ctx)


def add_parameters(ctx: BuildContext) -> None:
    profile = ctx.profile
    template = ctx.template
    template.add_parameter(
        Parameter(
            ids.P_ENVIRONMENT,
            Type="String",
            AllowedValues=list(ENVIRONMENTS),
            Default=profile.environment,
            Description="Deployment environment; in prod the assets table gets deletion "
            "protection unless the profile sets it.",
        )
    )
    for logical_id, default, which in (
        (ids.P_UPLOADS_BUCKET_NAME, profile.naming.uploads_bucket, "uploads"),
        (ids.P_OUTPUTS_BUCKET_NAME, profile.naming.outputs_bucket, "outputs"),
    ):
        template.add_parameter(
            Parameter(
                logical_id,
                Type="String",
                Default=default,
                AllowedPattern=BUCKET_NAME_PATTERN,
                ConstraintDescription=(
                    "empty, or a valid S3 bucket name: 3-63 lower-case letters, digits, '.' or '-'"
                ),
                Description=f"Name of the {which} bucket; leave empty to let CloudFormation "
                "generate a unique one.",
            )
        )
    template.add_parameter(
        Parameter(
            ids.P_MEDIACONVERT_ROLE_ARN,
            Type="String",
            Default="",
            AllowedPattern=ROLE_ARN_PATTERN,
            ConstraintDescription="empty, or the ARN of an IAM role",
            Description="Existing role MediaConvert jobs run as; leave empty to create a "
            "least-privilege role with the stack.",
        )
    )
    template.add_parameter(
        Parameter(
            ids.P_KMS_KEY_ALIAS,
            Type="String",
            Default=profile.encryption.kms_key_alias,
            AllowedPattern=KMS_KEY_ALIAS_PATTERN,
            ConstraintDescription="empty, or 'alias/NAME' of a customer managed key",
            Description="Alias ('alias/NAME') of an existing customer managed key whose policy "
            "lets this stack's roles and services use it; leave empty to create a key with "
            "rotation.",
        )
    )
    template.add_parameter(
        Parameter(
            ids.P_PROCESSING_CONCURRENCY,
            Type="Number",
            Default=profile.queue.max_concurrency,
            MinValue=MIN_CONCURRENCY,
            MaxValue=MAX_CONCURRENCY,
            Description="Most concurrent orchestrator instances the processing queue drives; "
            "caps the rate of MediaConvert job submissions.",
        )
    )


def add_conditions(ctx: BuildContext) -> None:
    template = ctx.template
    template.add_condition(
        ids.C_GENERATE_UPLOADS_BUCKET_NAME, Equals(Ref(ids.P_UPLOADS_BUCKET_NAME), "")
    )
    template.add_condition(
        ids.C_GENERATE_OUTPUTS_BUCKET_NAME, Equals(Ref(ids.P_OUTPUTS_BUCKET_NAME), "")
    )
    template.add_condition(
        ids.C_CREATE_MEDIACONVERT_ROLE, Equals(Ref(ids.P_MEDIACONVERT_ROLE_ARN), "")
    )
    template.add_condition(ids.C_CREATE_KMS_KEY, Equals(Ref(ids.P_KMS_KEY_ALIAS), ""))
    # IsProduction is added by its first user (components._refs.is_production), so a template
    # that never needs it does not carry it unused.


def add_interface_metadata(ctx: BuildContext) -> None:
    """Group and label the parameters in the CloudFormation console."""
    groups = [
        ("Deployment", [ids.P_ENVIRONMENT, ids.P_PROCESSING_CONCURRENCY]),
        ("Storage", [ids.P_UPLOADS_BUCKET_NAME, ids.P_OUTPUTS_BUCKET_NAME]),
        ("Security (leave empty to create)", [ids.P_KMS_KEY_ALIAS, ids.P_MEDIACONVERT_ROLE_ARN]),
    ]
    labels = {
        ids.P_ENVIRONMENT: "Environment",
        ids.P_PROCESSING_CONCURRENCY: "Maximum concurrent orchestrators",
        ids.P_UPLOADS_BUCKET_NAME: "Uploads bucket name",
        ids.P_OUTPUTS_BUCKET_NAME: "Outputs bucket name",
        ids.P_KMS_KEY_ALIAS: "Existing KMS key alias",
        ids.P_MEDIACONVERT_ROLE_ARN: "Existing MediaConvert role ARN",
    }
    ctx.template.metadata[INTERFACE_METADATA_KEY] = {
        "ParameterGroups": [
            {"Label": {"default": label}, "Parameters": parameters} for label, parameters in groups
        ],
        "ParameterLabels": {
            logical_id: {"default": labels[logical_id]} for logical_id in sorted(labels)
        },
    }
