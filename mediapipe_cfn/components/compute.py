"""The two Lambda functions: their code, configuration, roles, log groups and triggers.

* ``ingest-orchestrator`` drains the processing queue (SQS event source with partial batch
  failures), probes each upload with MediaConvert and submits its jobs.
* ``job-status-processor`` receives MediaConvert job state changes from EventBridge
  (asynchronous invocation with an on-failure destination) and moves the asset's record forward.

Each function has its own role with exactly the actions its handler performs, on the resources
it performs them on, and an explicit log group so retention and encryption are ours to set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from awacs import dynamodb, events, kms, logs, mediaconvert, s3, sns, sqs, ssm, xray
from awacs import iam as iam_actions
from awacs.aws import PolicyDocument, Statement, StringEquals
from troposphere import GetAtt, Ref, Sub, awslambda
from troposphere import iam as iam_resources
from troposphere.logs import LogGroup
from troposphere.validators import integer

from mediapipe_cfn import contract, ids
from mediapipe_cfn.components import _refs
from mediapipe_cfn.contract import Env
from mediapipe_cfn.iam import allow, arn, document, trust_statement
from mediapipe_cfn.profile.model import FunctionSettings, Profile
from mediapipe_cfn.template import BuildContext

HANDLER_MODULE = "mediapipe_handlers"
# Lambda function names are limited to 64 characters. The functions are named
# "<stack name>-<suffix>" so operators find them (and their /aws/lambda/ log groups) by stack;
# the longest suffix below leaves room for stack names of up to this many characters.
MAX_FUNCTION_NAME_LENGTH = 64

# The status processor is invoked asynchronously by EventBridge. Lambda retries a failed event
# twice (the most it allows) and keeps trying for up to six hours (the longest it allows) before
# the event goes to the on-failure destination, where operators see it next to the other DLQs.
STATUS_MAX_RETRY_ATTEMPTS = 2
STATUS_MAX_EVENT_AGE_SECONDS = 6 * 60 * 60

# Lambda's log level names differ from Python's for one level.
_LAMBDA_LOG_LEVELS = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARN", "ERROR": "ERROR"}


@dataclass(frozen=True)
class FunctionSpec:
    """The fixed facts of one of the pipeline's functions."""

    function_id: str
    role_id: str
    log_group_id: str
    name_suffix: str
    handler: str
    description: str

    def settings(self, profile: Profile) -> FunctionSettings:
        functions = profile.functions
        return (
            functions.orchestrator
            if self.function_id == ids.ORCHESTRATOR_FUNCTION
            else functions.status_processor
        )


ORCHESTRATOR = FunctionSpec(
    function_id=ids.ORCHESTRATOR_FUNCTION,
    role_id=ids.ORCHESTRATOR_ROLE,
    log_group_id=ids.ORCHESTRATOR_LOG_GROUP,
    name_suffix=_refs.FUNCTION_SHORT_NAMES[ids.ORCHESTRATOR_FUNCTION],
    handler=f"{HANDLER_MODULE}.ingest_orchestrator.handler",
    description="Validates uploads from the processing queue and submits MediaConvert jobs.",
)
STATUS_PROCESSOR = FunctionSpec(
    function_id=ids.STATUS_FUNCTION,
    role_id=ids.STATUS_ROLE,
    log_group_id=ids.STATUS_LOG_GROUP,
    name_suffix=_refs.FUNCTION_SHORT_NAMES[ids.STATUS_FUNCTION],
    handler=f"{HANDLER_MODULE}.job_status_processor.handler",
    description="Records MediaConvert job state changes on the asset and announces final states.",
)
FUNCTIONS: tuple[FunctionSpec, ...] = (ORCHESTRATOR, STATUS_PROCESSOR)
MAX_STACK_NAME_LENGTH = MAX_FUNCTION_NAME_LENGTH - 1 - max(len(f.name_suffix) for f in FUNCTIONS)


def function_name(spec: FunctionSpec) -> Sub:
    return Sub(f"${{AWS::StackName}}-{spec.name_suffix}")


def log_group_name(spec: FunctionSpec) -> Sub:
    return Sub(f"/aws/lambda/${{AWS::StackName}}-{spec.name_suffix}")


def runtime_config_parameter_arn(profile: Profile) -> Sub:
    # The parameter name starts with "/", which the ARN keeps after "parameter".
    return arn("ssm", f"parameter{ids.runtime_config_parameter_name(profile.naming.prefix)}")


class SqsScalingConfig(awslambda.ScalingConfig):
    """``ScalingConfig`` of an SQS event source mapping.

    troposphere's ``awslambda.ScalingConfig`` models another resource type's property of the
    same name (``MaxEnvironments``); event source mappings take ``MaximumConcurrency``.
    """

    props = {"MaximumConcurrency": (integer, False)}


class FunctionLoggingConfig(awslambda.LoggingConfig):
    """``LoggingConfig`` of a function, with the ``LogFormat`` troposphere's class lacks."""

    props = {**awslambda.LoggingConfig.props, "LogFormat": (str, False)}


class PipelineFunction(awslambda.Function):
    """``AWS::Lambda::Function`` whose ``Code`` may also be a local path.

    `aws cloudformation package` replaces a path string with the S3 location it uploads to;
    troposphere's ``Code`` class only models the S3/inline forms.
    """

    props = {**awslambda.Function.props, "Code": ((awslambda.Code, str), True)}


def function_code(handler_code: Any) -> awslambda.Code | str:
    """``Code`` from the build context: a zip path (to be packaged) or an S3 location."""
    if isinstance(handler_code, str):
        return handler_code
    if isinstance(handler_code, Mapping) and {"S3Bucket", "S3Key"} <= set(handler_code):
        return awslambda.Code(**dict(handler_code))
    raise TypeError(
        "handler code must be a local zip path or a mapping with S3Bucket and S3Key, "
        f"not {handler_code!r}"
    )


def code_metadata(code: awslambda.Code | str) -> dict[str, Any]:
    """Resource metadata for the function's code form.

    cfn-lint warns (W3002) that a local path only works with `aws cloudformation package`;
    that is exactly how a rendered template is deployed, so the warning is waived for that
    form only. Once packaged the Code is an S3 location and no check is waived.
    """
    if isinstance(code, str):
        return {"cfn-lint": {"config": {"ignore_checks": ["W3002"]}}}
    return {}


# Security scanner (checkov) checks that do not apply to a function, each with the reason a
# reviewer needs; docs/security.md lists them.
NO_VPC = (
    "CKV_AWS_117",
    "The functions reach only AWS service APIs, no private network; a VPC would add NAT or "
    "endpoint cost and cold-start time and protect nothing.",
)
QUEUE_REDRIVE_IS_THE_DLQ = (
    "CKV_AWS_116",
    "Invoked by an SQS event source mapping: the processing queue's redrive policy moves a "
    "message that keeps failing to its dead-letter queue; a function DLQ only applies to "
    "asynchronous invocations.",
)
ON_FAILURE_DESTINATION_IS_THE_DLQ = (
    "CKV_AWS_116",
    "Failed asynchronous events go to the on-failure destination (StatusProcessorFailureQueue, "
    "AWS::Lambda::EventInvokeConfig) with the error; a DLQ as well would deliver each twice.",
)
CONCURRENCY_CAPPED_BY_EVENT_SOURCE = (
    "CKV_AWS_115",
    "Concurrency is capped by the event source mapping's MaximumConcurrency (the "
    "ProcessingConcurrency parameter); reserved concurrency is the profile's choice.",
)
CONCURRENCY_FROM_SHARED_POOL = (
    "CKV_AWS_115",
    "The profile leaves reserved concurrency off: job events arrive at MediaConvert's pace, "
    "and a reservation fails to deploy in accounts at the minimum concurrency quota.",
)


def skipped_checks(spec: FunctionSpec, settings: FunctionSettings) -> list[tuple[str, str]]:
    skips = [NO_VPC]
    if spec.function_id == ids.ORCHESTRATOR_FUNCTION:
        skips.append(QUEUE_REDRIVE_IS_THE_DLQ)
        if settings.reserved_concurrency is None:
            skips.append(CONCURRENCY_CAPPED_BY_EVENT_SOURCE)
    else:
        skips.append(ON_FAILURE_DESTINATION_IS_THE_DLQ)
        if settings.reserved_concurrency is None:
            skips.append(CONCURRENCY_FROM_SHARED_POOL)
    return sorted(skips)


def function_metadata(
    spec: FunctionSpec, settings: FunctionSettings, code: awslambda.Code | str
) -> dict[str, Any]:
    return {
        **code_metadata(code),
        **_refs.scanner_skip_metadata(*skipped_checks(spec, settings)),
    }


def environment(ctx: BuildContext, spec: FunctionSpec) -> dict[str, Any]:
    """The handlers' configuration; every name comes from :class:`contract.Env`."""
    profile = ctx.profile
    topic_arn: Any = Ref(ids.ASSET_EVENTS_TOPIC) if profile.notifications.sns_on_final_state else ""
    variables: dict[Env, Any] = {
        Env.TABLE_NAME: Ref(ids.ASSETS_TABLE),
        Env.UPLOADS_BUCKET: _refs.bucket_name(ids.UPLOADS_BUCKET),
        Env.OUTPUTS_BUCKET: _refs.bucket_name(ids.OUTPUTS_BUCKET),
        Env.PROCESSING_QUEUE_URL: _refs.queue_url(ids.PROCESSING_QUEUE),
        Env.DEAD_LETTER_QUEUE_URL: _refs.queue_url(ids.PROCESSING_DLQ),
        Env.MEDIACONVERT_ROLE_ARN: _refs.mediaconvert_role_arn(),
        Env.MEDIACONVERT_QUEUE_ARN: GetAtt(ids.MEDIACONVERT_QUEUE, "Arn"),
        Env.TRANSCODE_PARAMETER: Ref(ids.TRANSCODE_PARAMETER),
        Env.KMS_KEY_ARN: _refs.key_arn(),
        Env.EVENT_BUS_NAME: profile.notifications.event_bus,
        Env.NOTIFICATION_TOPIC_ARN: topic_arn,
        Env.PIPELINE_ID: _refs.pipeline_id(),
        Env.METRICS_NAMESPACE: _refs.metrics_namespace(profile),
        Env.SERVICE_NAME: spec.name_suffix,
        Env.LOG_LEVEL: profile.functions.log_level,
    }
    return {str(name): value for name, value in sorted(variables.items())}


# --- IAM -------------------------------------------------------------------------------------


def assume_role_policy() -> PolicyDocument:
    return document(trust_statement("LambdaAssumesRole", "lambda"))


def common_statements(spec: FunctionSpec, profile: Profile) -> list[Statement]:
    """What both handlers do: log, trace, read the runtime configuration, decrypt their env."""
    return [
        allow(
            "WriteOwnLogs",
            [logs.CreateLogStream, logs.PutLogEvents],
            [GetAtt(spec.log_group_id, "Arn")],
        ),
        # X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level
        # permissions: "*" is the only resource they accept.
        allow("WriteTraces", [xray.PutTraceSegments, xray.PutTelemetryRecords], ["*"]),
        allow("ReadRuntimeConfig", [ssm.GetParameter], [runtime_config_parameter_arn(profile)]),
        # Environment variables are encrypted with the pipeline key under an encryption context
        # naming the function; this grant opens exactly this function's variables.
        _refs.key_use_statement(
            "DecryptOwnEnvironment",
            [kms.Decrypt],
            StringEquals(
                {"kms:EncryptionContext:LambdaFunctionName": function_name(spec)},
            ),
        ),
        # A stack on an existing key is given its alias, but MediaConvert destinations and the
        # outputs bucket policy need the key's ARN: each handler resolves it once.
        _refs.key_use_statement("ResolvePipelineKeyArn", [kms.DescribeKey]),
    ]


def upload_objects_arn(profile: Profile) -> Sub:
    return _refs.objects_arn(ids.UPLOADS_BUCKET, f"{profile.ingest.prefix}*")


def orchestrator_statements(ctx: BuildContext) -> list[Statement]:
    profile = ctx.profile
    return [
        *common_statements(ORCHESTRATOR, profile),
        allow(
            "ConsumeProcessingQueue",
            [
                sqs.ReceiveMessage,
                sqs.DeleteMessage,
                sqs.ChangeMessageVisibility,
                sqs.GetQueueAttributes,
            ],
            [_refs.queue_arn(ids.PROCESSING_QUEUE)],
        ),
        allow(
            "TrackAssets",
            [dynamodb.GetItem, dynamodb.PutItem, dynamodb.UpdateItem],
            [GetAtt(ids.ASSETS_TABLE, "Arn")],
        ),
        # CreateJob authorises against the queue the job goes to (and any job template or
        # preset it names; the orchestrator sends complete settings and names neither): jobs can
        # go to this stack's queue only, never the account's Default queue.
        allow(
            "SubmitJobsToPipelineQueue",
            [mediaconvert.CreateJob],
            [GetAtt(ids.MEDIACONVERT_QUEUE, "Arn")],
        ),
        # After a crash between CreateJob and recording its ID, the next delivery finds the
        # orphaned job by listing this stack's queue (ClientRequestToken dedups for a minute).
        allow("FindOrphanedJobs", [mediaconvert.ListJobs], [GetAtt(ids.MEDIACONVERT_QUEUE, "Arn")]),
        # Probe supports no resource-level permissions: "*" is the only resource it accepts.
        allow("ProbeSources", [mediaconvert.Probe], ["*"]),
        # Probe takes no role: MediaConvert reads the file with the caller's credentials, so the
        # orchestrator itself needs read access to the uploads (ingest prefix only); the
        # version-specific read lets it tell "a+b.mp4" from "a b.mp4" by the event's version id.
        allow(
            "ReadUploadsForProbe",
            [s3.GetObject, s3.GetObjectVersion],
            [upload_objects_arn(profile)],
        ),
        allow(
            "PassRoleToMediaConvertOnly",
            [iam_actions.PassRole],
            [_refs.mediaconvert_role_arn()],
            StringEquals("iam:PassedToService", "mediaconvert.amazonaws.com"),
        ),
        *final_state_statements(profile),
        _refs.key_use_through_services("UseKeyForQueueTableAndUploads", key_services(profile)),
    ]


def manifest_objects_arn(profile: Profile) -> Sub:
    """Object ARN pattern of the per-asset manifests: the output path with wildcards."""
    prefix = profile.output_path.replace("{uploaderId}", "*").replace("{assetId}", "*")
    return _refs.objects_arn(ids.OUTPUTS_BUCKET, f"{prefix}{contract.MANIFEST_FILE_NAME}")


def event_bus_arn(profile: Profile) -> Sub:
    return arn("events", f"event-bus/{profile.notifications.event_bus}")


def status_processor_statements(ctx: BuildContext) -> list[Statement]:
    profile = ctx.profile
    return [
        *common_statements(STATUS_PROCESSOR, profile),
        allow(
            "TrackAssets",
            [dynamodb.GetItem, dynamodb.UpdateItem],
            [GetAtt(ids.ASSETS_TABLE, "Arn")],
        ),
        # Retryable job errors go back through the processing queue with a delay; failures
        # that are final go to its dead-letter queue; events Lambda could not process go to
        # the on-failure destination (sent with this role).
        allow(
            "ResubmitAndDeadLetter",
            [sqs.SendMessage],
            [
                _refs.queue_arn(ids.PROCESSING_QUEUE),
                _refs.queue_arn(ids.PROCESSING_DLQ),
                _refs.queue_arn(ids.STATUS_FAILURE_QUEUE),
            ],
        ),
        allow("WriteAssetManifests", [s3.PutObject], [manifest_objects_arn(profile)]),
        *final_state_statements(profile),
        _refs.key_use_through_services(
            "UseKeyForQueuesTableTopicAndOutputs", key_services(profile)
        ),
    ]


def final_state_statements(profile: Profile) -> list[Statement]:
    """Publishing `MediaAsset Processed/Failed` (and the SNS copy when the profile asks).

    Both functions announce final states: the orchestrator for uploads it fails itself
    (invalid, unusable source, retries used up), the status processor for finished jobs.
    """
    statements = [
        allow(
            "AnnounceFinalStates",
            [events.PutEvents],
            [event_bus_arn(profile)],
            StringEquals(
                {
                    "events:source": contract.EVENT_SOURCE,
                    "events:detail-type": sorted(
                        [contract.EVENT_ASSET_PROCESSED, contract.EVENT_ASSET_FAILED]
                    ),
                }
            ),
        )
    ]
    if profile.notifications.sns_on_final_state:
        statements.append(allow("PublishFinalStates", [sns.Publish], [Ref(ids.ASSET_EVENTS_TOPIC)]))
    return statements


def key_services(profile: Profile) -> list[str]:
    """Services through which the functions use the pipeline key for data."""
    services = ["dynamodb", "s3", "sqs"]
    return [*services, "sns"] if profile.notifications.sns_on_final_state else services


def role(ctx: BuildContext, spec: FunctionSpec, statements: list[Statement]) -> iam_resources.Role:
    return iam_resources.Role(
        spec.role_id,
        AssumeRolePolicyDocument=assume_role_policy(),
        Description=f"Runs the {spec.name_suffix} function of this pipeline.",
        Policies=[
            iam_resources.Policy(
                PolicyName=f"{spec.name_suffix}-least-privilege",
                PolicyDocument=document(*statements),
            )
        ],
        Tags=_refs.tags(ctx),
    )


# --- Functions -----------------------------------------------------------------------------


def log_group(ctx: BuildContext, spec: FunctionSpec) -> LogGroup:
    return LogGroup(
        spec.log_group_id,
        LogGroupName=log_group_name(spec),
        RetentionInDays=ctx.profile.functions.log_retention_days,
        KmsKeyId=_refs.log_group_key_arn(),
        Tags=_refs.tags(ctx),
    )


def function(ctx: BuildContext, spec: FunctionSpec) -> PipelineFunction:
    functions = ctx.profile.functions
    settings = spec.settings(ctx.profile)
    code = function_code(ctx.handler_code)
    resource = PipelineFunction(
        spec.function_id,
        FunctionName=function_name(spec),
        Description=spec.description,
        Code=code,
        Handler=spec.handler,
        Runtime=functions.runtime,
        Architectures=[functions.architecture],
        MemorySize=settings.memory_mb,
        Timeout=settings.timeout_seconds,
        Role=GetAtt(spec.role_id, "Arn"),
        Environment=awslambda.Environment(Variables=environment(ctx, spec)),
        # Lambda takes a key ARN, not an alias ARN: the created key encrypts the variables; with
        # an existing key they stay under Lambda's own key (they hold names, not secrets).
        KmsKeyArn=_refs.log_group_key_arn(),
        TracingConfig=awslambda.TracingConfig(Mode=functions.tracing),
        LoggingConfig=FunctionLoggingConfig(
            LogFormat="JSON",
            LogGroup=Ref(spec.log_group_id),
            ApplicationLogLevel=_LAMBDA_LOG_LEVELS[functions.log_level],
            # INFO keeps the platform's START/END/REPORT lines (duration, memory, init time).
            SystemLogLevel="INFO",
        ),
        Tags=_refs.tags(ctx),
    )
    if settings.reserved_concurrency is not None:
        resource.ReservedConcurrentExecutions = settings.reserved_concurrency
    resource.Metadata = function_metadata(spec, settings, code)
    return resource


def queue_event_source(ctx: BuildContext) -> awslambda.EventSourceMapping:
    """The processing queue drives the orchestrator.

    No ``DeadLetterConfig`` on the function: for an SQS event source the queue's own redrive
    policy is the dead-letter path, and a message that fails ``maxReceiveCount`` times lands in
    the processing DLQ.
    """
    queue = ctx.profile.queue
    return awslambda.EventSourceMapping(
        ids.ORCHESTRATOR_EVENT_SOURCE,
        EventSourceArn=_refs.queue_arn(ids.PROCESSING_QUEUE),
        FunctionName=Ref(ids.ORCHESTRATOR_FUNCTION),
        BatchSize=queue.batch_size,
        MaximumBatchingWindowInSeconds=queue.max_batching_window_seconds,
        # A failed record is retried alone; the rest of its batch is deleted as processed.
        FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig=SqsScalingConfig(MaximumConcurrency=Ref(ids.P_PROCESSING_CONCURRENCY)),
        Tags=_refs.tags(ctx),
    )


def status_invoke_config() -> awslambda.EventInvokeConfig:
    return awslambda.EventInvokeConfig(
        ids.STATUS_INVOKE_CONFIG,
        FunctionName=Ref(ids.STATUS_FUNCTION),
        Qualifier="$LATEST",
        MaximumRetryAttempts=STATUS_MAX_RETRY_ATTEMPTS,
        MaximumEventAgeInSeconds=STATUS_MAX_EVENT_AGE_SECONDS,
        DestinationConfig=awslambda.DestinationConfig(
            OnFailure=awslambda.OnFailure(Destination=_refs.queue_arn(ids.STATUS_FAILURE_QUEUE))
        ),
    )


def status_invoke_permission() -> awslambda.Permission:
    """EventBridge may invoke the status processor, from the job-state rule only."""
    return awslambda.Permission(
        ids.STATUS_INVOKE_PERMISSION,
        Action="lambda:InvokeFunction",
        FunctionName=GetAtt(ids.STATUS_FUNCTION, "Arn"),
        Principal="events.amazonaws.com",
        SourceArn=GetAtt(ids.JOB_STATE_RULE, "Arn"),
    )


def build(ctx: BuildContext) -> None:
    statements = {
        ORCHESTRATOR.function_id: orchestrator_statements(ctx),
        STATUS_PROCESSOR.function_id: status_processor_statements(ctx),
    }
    for spec in FUNCTIONS:
        ctx.add(role(ctx, spec, statements[spec.function_id]))
        ctx.add(log_group(ctx, spec))
        ctx.add(function(ctx, spec))
    ctx.add(queue_event_source(ctx))
    ctx.add(status_invoke_config())
    ctx.add(status_invoke_permission())
    ctx.output(
        ids.O_ORCHESTRATOR_FUNCTION_ARN,
        GetAtt(ids.ORCHESTRATOR_FUNCTION, "Arn"),
        "ARN of the ingest-orchestrator Lambda function.",
    )
    ctx.output(
        ids.O_STATUS_FUNCTION_ARN,
        GetAtt(ids.STATUS_FUNCTION, "Arn"),
        "ARN of the job-status-processor Lambda function.",
    )
