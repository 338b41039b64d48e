"""The three Lambda functions: their code, configuration, roles, log groups and triggers.

* ``ingest-orchestrator`` drains the processing queue (SQS event source with partial batch
  failures), copies each uploaded version to its working copy, probes it with MediaConvert and
  submits its jobs.
* ``job-status-processor`` receives MediaConvert job state changes from EventBridge
  (asynchronous invocation with an on-failure destination) and moves the asset's record forward.
* ``reconciler`` runs on a schedule (an EventBridge rule, see ``events``): it finishes assets
  that are not final past their deadline, delivers owed announcements and records every
  dead-lettered upload as FAILED.

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
        return {
            ids.ORCHESTRATOR_FUNCTION: functions.orchestrator,
            ids.STATUS_FUNCTION: functions.status_processor,
            ids.RECONCILER_FUNCTION: functions.reconciler,
        }[self.function_id]


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
RECONCILER = FunctionSpec(
    function_id=ids.RECONCILER_FUNCTION,
    role_id=ids.RECONCILER_ROLE,
    log_group_id=ids.RECONCILER_LOG_GROUP,
    name_suffix=_refs.FUNCTION_SHORT_NAMES[ids.RECONCILER_FUNCTION],
    handler=f"{HANDLER_MODULE}.reconciler.handler",
    description="Finishes assets left unfinished past their deadline and delivers owed "
    "announcements; runs on a schedule.",
)
FUNCTIONS: tuple[FunctionSpec, ...] = (ORCHESTRATOR, STATUS_PROCESSOR, RECONCILER)
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
NEXT_RUN_IS_THE_RETRY = (
    "CKV_AWS_116",
    "Invoked by its schedule: a run that fails is redone by the next scheduled run, which "
    "reads the same state afresh; a queued copy of a stale invocation would only repeat it.",
)
ONE_RUN_PER_PERIOD = (
    "CKV_AWS_115",
    "The profile leaves reserved concurrency off: the schedule starts one run per period, and "
    "runs are safe to overlap (every change is a conditional write).",
)


# Per function: (its reason for having no DLQ, its reason for having no reserved concurrency).
_SKIPS_BY_FUNCTION: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    ids.ORCHESTRATOR_FUNCTION: (QUEUE_REDRIVE_IS_THE_DLQ, CONCURRENCY_CAPPED_BY_EVENT_SOURCE),
    ids.STATUS_FUNCTION: (ON_FAILURE_DESTINATION_IS_THE_DLQ, CONCURRENCY_FROM_SHARED_POOL),
    ids.RECONCILER_FUNCTION: (NEXT_RUN_IS_THE_RETRY, ONE_RUN_PER_PERIOD),
}


def skipped_checks(spec: FunctionSpec, settings: FunctionSettings) -> list[tuple[str, str]]:
    no_dead_letter_queue, no_reservation = _SKIPS_BY_FUNCTION[spec.function_id]
    skips = [NO_VPC, no_dead_letter_queue]
    if settings.reserved_concurrency is None:
        skips.append(no_reservation)
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
        **({Env.CAPACITY_TABLE: Ref(ids.CAPACITY_TABLE)} if profile.capacity else {}),
        Env.METRICS_NAMESPACE: _refs.metrics_namespace(profile),
        Env.SERVICE_NAME: spec.name_suffix,
        Env.LOG_LEVEL: profile.functions.log_level,
    }
    if profile.delivery.enabled:
        variables[Env.PLAYBACK_BASE_URL] = _refs.playback_base_url(profile)
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


def working_copy_objects_arn(profile: Profile) -> Sub:
    return _refs.objects_arn(ids.UPLOADS_BUCKET, f"{profile.ingest.working_copy_prefix}*")


def table_arn() -> GetAtt:
    return GetAtt(ids.ASSETS_TABLE, "Arn")


def index_arn(index_name: str) -> Sub:
    return Sub(f"${{{ids.ASSETS_TABLE}.Arn}}/index/{index_name}")


def jobs_arn() -> Sub:
    """Every MediaConvert job of this account and Region: job ARNs carry no queue or stack."""
    return arn("mediaconvert", "jobs/*")


def find_orphaned_jobs(profile: Profile) -> Statement:
    """SearchJobs on the pipeline's queues: how an interrupted submission's job is found.

    SearchJobs (filtered by the working copy's URI) supports the queue as its resource, so the
    grant reaches the pipeline's queues only (the stack's, and a capacity section's others).
    """
    return allow(
        "FindOrphanedJobs", [mediaconvert.SearchJobs], _refs.mediaconvert_queue_arns(profile)
    )


def capacity_table_arn() -> GetAtt:
    return GetAtt(ids.CAPACITY_TABLE, "Arn")


def capacity_statements(spec: FunctionSpec, profile: Profile) -> list[Statement]:
    """The in-flight budgets (a capacity section only): the orchestrator takes budget and puts
    off jobs whose queues are all full; the status processor gives budget back when a job
    finishes; the reconciler does both for jobs whose release was lost."""
    if profile.capacity is None:
        return []
    if spec is ORCHESTRATOR:
        # With a fallback region, the breaker's item is read before each job is placed.
        reads = [dynamodb.GetItem] if profile.capacity.fallback else []
        return [
            allow(
                "CountJobsAgainstQueueBudgets",
                [*reads, dynamodb.UpdateItem],
                [capacity_table_arn()],
            ),
            # A job whose queues are all at their budget comes back later as a delayed
            # message, not as a failed receive that would use up the message's retries.
            allow(
                "PutOffJobsWhileQueuesAreFull",
                [sqs.SendMessage],
                [_refs.queue_arn(ids.PROCESSING_QUEUE)],
            ),
        ]
    if spec is STATUS_PROCESSOR:
        return [allow("ReleaseQueueBudget", [dynamodb.UpdateItem], [capacity_table_arn()])]
    return [
        allow(
            "RepairQueueBudgets",
            [dynamodb.GetItem, dynamodb.UpdateItem],
            [capacity_table_arn()],
        )
    ]


def pipeline_jobs_arns(profile: Profile) -> list[Any]:
    """Jobs of this account in the stack's region, and in the fallback region if any."""
    fallback = profile.capacity.fallback if profile.capacity else None
    return [jobs_arn(), *([_refs.fallback_jobs_arn(fallback)] if fallback else [])]


def cancel_jobs(sid: str, profile: Profile) -> Statement:
    # CancelJob's only resource type is the job, whose ARN names neither queue nor stack;
    # the handlers cancel only jobs whose IDs the asset's record holds (in the job's region).
    return allow(sid, [mediaconvert.CancelJob], pipeline_jobs_arns(profile))


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
            [table_arn()],
        ),
        # CreateJob authorises against the queue the job goes to (and any job template or
        # preset it names; the orchestrator sends complete settings and names neither): jobs can
        # go to this stack's queue only, never the account's Default queue.
        allow(
            "SubmitJobsToPipelineQueue",
            [mediaconvert.CreateJob],
            _refs.mediaconvert_queue_arns(profile),
        ),
        find_orphaned_jobs(profile),
        *capacity_statements(ORCHESTRATOR, profile),
        # An asset that fails for good (a rejected job, or settling a redriven asset) has its
        # other running jobs canceled by whoever fails it.
        cancel_jobs("CancelJobsOfFailedAssets", ctx.profile),
        # Probe supports no resource-level permissions: "*" is the only resource it accepts.
        allow("ProbeSources", [mediaconvert.Probe], ["*"]),
        # The exact uploaded version is the source of the asset's working copy: reading it by
        # version (and its metadata, HeadObject) is the copy's source side; the version id
        # also tells "a+b.mp4" from "a b.mp4".
        allow(
            "ReadUploadedVersions",
            [s3.GetObject, s3.GetObjectVersion],
            [upload_objects_arn(profile)],
        ),
        # The copy's destination: CopyObject and the managed multipart copy of large sources
        # (CreateMultipartUpload, UploadPartCopy, CompleteMultipartUpload are all PutObject);
        # an interrupted multipart copy is aborted rather than left to the lifecycle rule.
        allow(
            "WriteWorkingCopies",
            [s3.PutObject, s3.AbortMultipartUpload],
            [working_copy_objects_arn(profile)],
        ),
        # Probe takes no role: MediaConvert reads the file with the caller's credentials, so
        # the orchestrator itself reads the working copies it probes.
        allow("ReadWorkingCopiesForProbe", [s3.GetObject], [working_copy_objects_arn(profile)]),
        # A message that keeps ending the process is parked on the dead-letter queue, where an
        # operator can redrive it once the cause is fixed.
        allow("ParkCrashingMessages", [sqs.SendMessage], [_refs.queue_arn(ids.PROCESSING_DLQ)]),
        # A redriven asset whose jobs had all completed is finished, and announced, here.
        allow("WriteAssetManifests", [s3.PutObject], [manifest_objects_arn(profile)]),
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
            [table_arn()],
        ),
        *capacity_statements(STATUS_PROCESSOR, profile),
        # An asset that fails for good has its other still-running jobs canceled.
        cancel_jobs("CancelJobsOfFailedAssets", ctx.profile),
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


def reconciler_statements(ctx: BuildContext) -> list[Statement]:
    profile = ctx.profile
    return [
        *common_statements(RECONCILER, profile),
        # Stuck assets are found by status, owed announcements by the sparse outbox index:
        # Query on those two indexes only, never a Scan.
        allow(
            "FindStuckAssetsAndOwedAnnouncements",
            [dynamodb.Query],
            [index_arn(contract.INDEX_BY_STATUS), index_arn(contract.INDEX_BY_OUTBOX)],
        ),
        # PutItem records a dead-lettered upload that never got a record.
        allow(
            "FinishAssets",
            [dynamodb.GetItem, dynamodb.PutItem, dynamodb.UpdateItem],
            [table_arn()],
        ),
        allow("AskMediaConvertAboutJobs", [mediaconvert.GetJob], pipeline_jobs_arns(profile)),
        *capacity_statements(RECONCILER, profile),
        cancel_jobs("CancelJobsOfFailedAssets", ctx.profile),
        # A stuck asset is handed back to the orchestrator, which resubmits what needs it.
        allow("ResubmitUploads", [sqs.SendMessage], [_refs.queue_arn(ids.PROCESSING_QUEUE)]),
        # Every dead-lettered message is read and matched to a FAILED record that names it;
        # one whose asset has succeeded since is deleted.
        allow(
            "ReadDeadLetters",
            [sqs.ReceiveMessage, sqs.DeleteMessage],
            [_refs.queue_arn(ids.PROCESSING_DLQ)],
        ),
        # A dead-lettered upload's key is resolved by asking for its version (HeadObject with
        # the version id: the uploads bucket is always versioned).
        allow("ReadDeadLetteredUploads", [s3.GetObjectVersion], [upload_objects_arn(profile)]),
        allow("WriteAssetManifests", [s3.PutObject], [manifest_objects_arn(profile)]),
        *final_state_statements(profile),
        _refs.key_use_through_services(
            "UseKeyForQueuesTableTopicAndObjects", key_services(profile)
        ),
    ]


def final_state_statements(profile: Profile) -> list[Statement]:
    """Publishing `MediaAsset Processed/Failed` (and the SNS copy when the profile asks).

    Every function announces final states: the orchestrator for uploads it fails itself
    (invalid, unusable source, retries used up), the status processor for finished jobs, the
    reconciler for assets it finishes and announcements still owed.
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
    # The status processor's log holds the job events history by default; kept after the
    # stack in production, like the table it explains.
    holds_job_events = (
        spec is STATUS_PROCESSOR and ctx.profile.observability.job_event_log == "function"
    )
    return LogGroup(
        spec.log_group_id,
        **(_refs.retained_in_production(ctx) if holds_job_events else {}),
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


def reconciler_invoke_config(profile: Profile) -> awslambda.EventInvokeConfig:
    """A failed or late run is not retried: the next scheduled run does the same work afresh."""
    return awslambda.EventInvokeConfig(
        ids.RECONCILER_INVOKE_CONFIG,
        FunctionName=Ref(ids.RECONCILER_FUNCTION),
        Qualifier="$LATEST",
        MaximumRetryAttempts=0,
        MaximumEventAgeInSeconds=reconcile_period_seconds(profile),
    )


def reconcile_period_seconds(profile: Profile) -> int:
    # Lambda keeps an asynchronous event for at least 60 s; that is also the shortest period.
    return profile.reliability.reconcile_every_minutes * 60


def reconciler_invoke_permission() -> awslambda.Permission:
    """EventBridge may invoke the reconciler, from its schedule rule only."""
    return rule_invoke_permission(
        ids.RECONCILER_INVOKE_PERMISSION, ids.RECONCILER_FUNCTION, ids.RECONCILE_SCHEDULE_RULE
    )


def status_invoke_permission() -> awslambda.Permission:
    """EventBridge may invoke the status processor, from the job-state rule only."""
    return rule_invoke_permission(
        ids.STATUS_INVOKE_PERMISSION, ids.STATUS_FUNCTION, ids.JOB_STATE_RULE
    )


def rule_invoke_permission(
    permission_id: str, function_id: str, rule_id: str
) -> awslambda.Permission:
    return awslambda.Permission(
        permission_id,
        Action="lambda:InvokeFunction",
        FunctionName=GetAtt(function_id, "Arn"),
        Principal="events.amazonaws.com",
        SourceArn=GetAtt(rule_id, "Arn"),
    )


def build(ctx: BuildContext) -> None:
    statements = {
        ORCHESTRATOR.function_id: orchestrator_statements(ctx),
        STATUS_PROCESSOR.function_id: status_processor_statements(ctx),
        RECONCILER.function_id: reconciler_statements(ctx),
    }
    for spec in FUNCTIONS:
        ctx.add(role(ctx, spec, statements[spec.function_id]))
        ctx.add(log_group(ctx, spec))
        ctx.add(function(ctx, spec))
    ctx.add(queue_event_source(ctx))
    ctx.add(status_invoke_config())
    ctx.add(status_invoke_permission())
    ctx.add(reconciler_invoke_config(ctx.profile))
    ctx.add(reconciler_invoke_permission())
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
    ctx.output(
        ids.O_RECONCILER_FUNCTION_ARN,
        GetAtt(ids.RECONCILER_FUNCTION, "Arn"),
        "ARN of the reconciler Lambda function.",
    )
