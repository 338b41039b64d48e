"""MediaConvert: the on-demand queue the pipeline's jobs run in and the role they run as.

The role is created unless the ``MediaConvertRoleArn`` parameter names an existing one. It can
read the working copies of uploads (working-copy prefix only), write outputs and use the
pipeline key through S3 -- nothing else -- and only MediaConvert, working for this account on
jobs in this stack's queue, can assume it.
"""

from __future__ import annotations

from typing import Any

from awacs import s3
from awacs.aws import ArnEquals, PolicyDocument, Statement, StringEquals
from troposphere import GetAtt, Ref, Sub
from troposphere import iam as iam_resources
from troposphere.mediaconvert import Queue

from mediapipe_cfn import ids
from mediapipe_cfn.components import _refs
from mediapipe_cfn.iam import allow, document, trust_statement
from mediapipe_cfn.template import BuildContext


def queue_name() -> Sub:
    return Sub("${AWS::StackName}-jobs")


def queue(ctx: BuildContext) -> Queue:
    return Queue(
        ids.MEDIACONVERT_QUEUE,
        Name=queue_name(),
        Description="Transcoding jobs of this media pipeline.",
        # CloudFormation can only create on-demand queues; reserved ones are bought separately.
        PricingPlan="ON_DEMAND",
        Status="ACTIVE",
        # MediaConvert's resource schema takes tags as a plain map, not a Key/Value list.
        Tags=_refs.tag_values(ctx),
    )


def trust_policy(ctx: BuildContext) -> PolicyDocument:
    """MediaConvert may assume the role for jobs of this account in the pipeline's queues only.

    MediaConvert sets ``aws:SourceArn`` to the ARN of the queue the job runs in (its
    confused-deputy guidance), and the orchestrator may submit to this queue only.
    """
    return document(
        trust_statement(
            "MediaConvertAssumesRoleForPipelineJobs",
            "mediaconvert",
            StringEquals("aws:SourceAccount", Ref("AWS::AccountId")),
            ArnEquals("aws:SourceArn", source_queues(ctx)),
        )
    )


def source_queues(ctx: BuildContext) -> Any:
    """The queue ARN, or the list of them when a capacity section adds queues."""
    arns = _refs.mediaconvert_queue_arns(ctx.profile)
    return arns[0] if len(arns) == 1 else arns


def role_statements(ctx: BuildContext) -> list[Statement]:
    prefix = ctx.profile.ingest.working_copy_prefix
    return [
        # Jobs read the asset's immutable working copy of its uploaded version, never the
        # ingest prefix, where the key may already hold a newer upload.
        allow(
            "ReadWorkingCopies",
            [s3.GetObject, s3.GetObjectVersion],
            [_refs.objects_arn(ids.UPLOADS_BUCKET, f"{prefix}*")],
        ),
        allow("WriteOutputs", [s3.PutObject], [_refs.objects_arn(ids.OUTPUTS_BUCKET)]),
        # Reading SSE-KMS uploads needs Decrypt, writing SSE-KMS outputs GenerateDataKey; both
        # only as S3 works on the role's behalf.
        _refs.key_use_through_services("UseKeyThroughS3", ["s3"]),
    ]


def role(ctx: BuildContext) -> iam_resources.Role:
    return iam_resources.Role(
        ids.MEDIACONVERT_ROLE,
        Condition=ids.C_CREATE_MEDIACONVERT_ROLE,
        AssumeRolePolicyDocument=trust_policy(ctx),
        Description=(
            "Role MediaConvert jobs of this pipeline run as: read working copies, write outputs."
        ),
        Policies=[
            iam_resources.Policy(
                PolicyName="mediaconvert-jobs-least-privilege",
                PolicyDocument=document(*role_statements(ctx)),
            )
        ],
        Tags=_refs.tags(ctx),
    )


def build(ctx: BuildContext) -> None:
    ctx.add(queue(ctx))
    ctx.add(role(ctx))
    ctx.output(
        ids.O_MEDIACONVERT_ROLE_ARN,
        _refs.mediaconvert_role_arn(),
        "ARN of the role MediaConvert jobs run as (created, or the MediaConvertRoleArn given).",
    )
    ctx.output(
        ids.O_MEDIACONVERT_QUEUE_ARN,
        GetAtt(ids.MEDIACONVERT_QUEUE, "Arn"),
        "ARN of the on-demand MediaConvert queue the pipeline's jobs run in.",
    )
