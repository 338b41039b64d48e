"""EventBridge rules: uploads into the processing queue, job state changes to the status
processor, and the reconciler's schedule.

* ``UploadCreatedRule`` matches S3 "Object Created" events of the uploads bucket under the ingest
  prefix and sends each to the processing queue. Extensions are not filtered here: the
  orchestrator rejects unsupported files itself, so they are counted and recorded, not silently
  ignored.
* ``JobStateChangeRule`` matches "MediaConvert Job State Change" events whose job carries this
  stack's pipeline ID in its user metadata (other pipelines in the account are left alone) and
  sends each to the job status processor. The job history kept for forensics is, by the
  profile's ``observability.job_event_log``, either the status processor's own log (it logs
  each raw event) or ``JobEventsLogGroup``, a second target of the rule.
* ``ReconcileScheduleRule`` invokes the reconciler every ``reliability.reconcile_every_minutes``.

The first two retry a failing delivery for as long as EventBridge allows (24 hours, 185
attempts) and then dead-letter the event to ``EventDeliveryDeadLetterQueue``: no event is
dropped. The schedule's invocations are not worth keeping past the next one: each is retried
until the next is due and then dropped.

Why the job events log defaults to the function: EventBridge can write into a log group only
under a CloudWatch Logs resource policy, an account-level resource of which a Region holds at
most 10. A per-stack policy makes the eleventh pipeline in an account fail to deploy.
"""

from __future__ import annotations

from typing import Any

from awacs import logs
from awacs.aws import ArnEquals, Principal
from troposphere import GetAtt, Ref, Sub
from troposphere import events as tevents
from troposphere import logs as tlogs

from mediapipe_cfn import contract, ids
from mediapipe_cfn.components import _refs
from mediapipe_cfn.iam import allow, document
from mediapipe_cfn.template import BuildContext

# EventBridge's upper limits for a target's retries.
MAX_RETRY_ATTEMPTS = 185
MAX_EVENT_AGE_SECONDS = 24 * 60 * 60
S3_OBJECT_CREATED = "Object Created"
MEDIACONVERT_JOB_STATE_CHANGE = "MediaConvert Job State Change"
# The profile's observability.job_event_log choices.
JOB_EVENTS_IN_FUNCTION_LOG = "function"
JOB_EVENTS_IN_LOG_GROUP_WITH_POLICY = "log_group"
# Services that write an EventBridge rule's events into a log group.
LOG_DELIVERY_SERVICES = ("delivery.logs.amazonaws.com", "events.amazonaws.com")


def build(ctx: BuildContext) -> None:
    ctx.add(upload_created_rule(ctx))
    mode = ctx.profile.observability.job_event_log
    if mode != JOB_EVENTS_IN_FUNCTION_LOG:
        ctx.add(job_events_log_group(ctx))
    if mode == JOB_EVENTS_IN_LOG_GROUP_WITH_POLICY:
        ctx.add(job_events_log_policy())
    ctx.add(job_state_change_rule(ctx))
    ctx.add(reconcile_schedule_rule(ctx))
    ctx.output(
        ids.O_UPLOAD_EVENTS_RULE_ARN,
        GetAtt(ids.UPLOAD_EVENTS_RULE, "Arn"),
        "EventBridge rule that queues each upload for processing.",
    )
    ctx.output(
        ids.O_JOB_STATE_RULE_ARN,
        GetAtt(ids.JOB_STATE_RULE, "Arn"),
        "EventBridge rule that routes this pipeline's MediaConvert job events.",
    )
    ctx.output(
        ids.O_JOB_EVENTS_LOG_GROUP_NAME,
        Ref(job_events_log_group_id(ctx)),
        "Log group holding every MediaConvert job event of this pipeline"
        + (
            " (the job-status processor's log; each event is logged under the key 'job_event')."
            if mode == JOB_EVENTS_IN_FUNCTION_LOG
            else "."
        ),
    )


def job_events_log_group_id(ctx: BuildContext) -> str:
    """The log group that holds the job events: the status processor's own or a dedicated one."""
    if ctx.profile.observability.job_event_log == JOB_EVENTS_IN_FUNCTION_LOG:
        return ids.STATUS_LOG_GROUP
    return ids.JOB_EVENTS_LOG_GROUP


def target(target_id: str, logical_id: str) -> tevents.Target:
    """A rule target (by its resource's logical ID) retried to the limit, then dead-lettered."""
    return tevents.Target(
        Id=target_id,
        Arn=GetAtt(logical_id, "Arn"),
        RetryPolicy=tevents.RetryPolicy(
            MaximumRetryAttempts=MAX_RETRY_ATTEMPTS,
            MaximumEventAgeInSeconds=MAX_EVENT_AGE_SECONDS,
        ),
        DeadLetterConfig=tevents.DeadLetterConfig(Arn=GetAtt(ids.EVENTS_DLQ, "Arn")),
    )


def upload_event_pattern(ctx: BuildContext) -> dict[str, Any]:
    return {
        "source": ["aws.s3"],
        "detail-type": [S3_OBJECT_CREATED],
        "detail": {
            "bucket": {"name": [Ref(ids.UPLOADS_BUCKET)]},
            "object": {"key": [{"prefix": ctx.profile.ingest.prefix}]},
        },
    }


def job_state_event_pattern(pipeline_id: Any = None) -> dict[str, Any]:
    """This pipeline's job state changes, by the pipeline id every job carries in its metadata.

    Neither region nor queue is matched: events the fallback region forwards to this bus keep
    their source, detail type and detail, so the same rule takes them.
    """
    return {
        "source": ["aws.mediaconvert"],
        "detail-type": [MEDIACONVERT_JOB_STATE_CHANGE],
        "detail": {
            "userMetadata": {
                contract.META_PIPELINE_ID: [pipeline_id if pipeline_id else _refs.pipeline_id()]
            }
        },
    }


def upload_created_rule(ctx: BuildContext) -> tevents.Rule:
    return tevents.Rule(
        ids.UPLOAD_EVENTS_RULE,
        Name=Sub(_refs.UPLOAD_RULE_NAME),
        Description="Queues every object created under the ingest prefix of the uploads bucket.",
        State="ENABLED",
        EventPattern=upload_event_pattern(ctx),
        Targets=[target("ProcessingQueue", ids.PROCESSING_QUEUE)],
        Tags=_refs.tags(ctx),
    )


def job_state_change_rule(ctx: BuildContext) -> tevents.Rule:
    return tevents.Rule(
        ids.JOB_STATE_RULE,
        Name=Sub(_refs.JOB_STATE_RULE_NAME),
        Description="Routes this pipeline's MediaConvert job state changes to the status "
        "processor and the job events log.",
        State="ENABLED",
        EventPattern=job_state_event_pattern(),
        Targets=[
            target("JobStatusProcessor", ids.STATUS_FUNCTION),
            *(
                []
                if ctx.profile.observability.job_event_log == JOB_EVENTS_IN_FUNCTION_LOG
                else [target("JobEventsLog", ids.JOB_EVENTS_LOG_GROUP)]
            ),
        ],
        Tags=_refs.tags(ctx),
    )


def reconcile_schedule_rule(ctx: BuildContext) -> tevents.Rule:
    """Starts the reconciler on a fixed rate; a run EventBridge cannot start is retried until
    the next one is due, then dropped (the next run does the same work)."""
    minutes = ctx.profile.reliability.reconcile_every_minutes
    return tevents.Rule(
        ids.RECONCILE_SCHEDULE_RULE,
        Name=Sub(_refs.RECONCILE_RULE_NAME),
        Description="Runs the reconciler, which finishes assets nothing else finished.",
        State="ENABLED",
        ScheduleExpression=f"rate({minutes} minute{'' if minutes == 1 else 's'})",
        Targets=[
            tevents.Target(
                Id="Reconciler",
                Arn=GetAtt(ids.RECONCILER_FUNCTION, "Arn"),
                RetryPolicy=tevents.RetryPolicy(
                    MaximumRetryAttempts=MAX_RETRY_ATTEMPTS,
                    MaximumEventAgeInSeconds=minutes * 60,
                ),
            )
        ],
        Tags=_refs.tags(ctx),
    )


def job_events_log_group(ctx: BuildContext) -> tlogs.LogGroup:
    return tlogs.LogGroup(
        ids.JOB_EVENTS_LOG_GROUP,
        # Kept after the stack in production, like the table it explains.
        **_refs.retained_in_production(ctx),
        LogGroupName=Sub(_refs.JOB_EVENTS_LOG_GROUP_NAME),
        RetentionInDays=ctx.profile.functions.log_retention_days,
        KmsKeyId=_refs.log_group_key_arn(),
        Tags=_refs.tags(ctx),
    )


def job_events_log_policy() -> tlogs.ResourcePolicy:
    """Let EventBridge write the job state rule's events into the job events log group.

    Log streams may be created by EventBridge for any rule (the request carries no rule ARN);
    log events may only be put on behalf of the job state rule. CloudFormation takes this
    document as a JSON string, so the ARNs in it are filled in by ``Fn::Sub``.
    """
    principal = Principal("Service", list(LOG_DELIVERY_SERVICES))
    log_group_arn = f"${{{ids.JOB_EVENTS_LOG_GROUP}.Arn}}"
    policy = document(
        allow(
            "EventBridgeCreatesJobEventStreams",
            [logs.CreateLogStream],
            [log_group_arn],
            principal=principal,
        ),
        allow(
            "JobStateRuleWritesJobEvents",
            [logs.PutLogEvents],
            [log_group_arn],
            ArnEquals("aws:SourceArn", f"${{{ids.JOB_STATE_RULE}.Arn}}"),
            principal=principal,
        ),
    )
    return tlogs.ResourcePolicy(
        ids.JOB_EVENTS_LOG_POLICY,
        PolicyName=Sub("${AWS::StackName}-mediaconvert-job-events"),
        PolicyDocument=Sub(policy.to_json(indent=None)),
    )
