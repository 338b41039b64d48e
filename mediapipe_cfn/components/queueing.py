"""The processing queue between uploads and the orchestrator, and the pipeline's dead-letter queues.

* ``ProcessingQueue``: one message per upload event, consumed by the orchestrator; a message that
  fails ``max_receive_count`` times moves to ``ProcessingDeadLetterQueue`` for inspection and
  redrive.
* ``EventDeliveryDeadLetterQueue``: events EventBridge could not deliver to a rule target (the
  processing queue, the status processor) after all its retries.
* ``StatusProcessorFailureQueue``: the status processor's on-failure destination, for job events
  it failed to record after Lambda's asynchronous retries.

All four are encrypted with the pipeline key (EventBridge cannot deliver to queues encrypted with
the AWS managed SQS key) and refuse requests that are not over TLS. Queue names are fixed from the
stack name so that a queue's ARN is known without referring to the queue itself, which the
dead-letter queue's redrive-allow policy needs.
"""

from __future__ import annotations

from typing import Any

from awacs import sqs
from awacs.aws import ArnEquals, Statement
from troposphere import GetAtt, Ref, Sub
from troposphere import sqs as tsqs

from mediapipe_cfn import ids
from mediapipe_cfn.components import _refs
from mediapipe_cfn.iam import allow, arn, deny_insecure_transport, document, service_principal
from mediapipe_cfn.template import BuildContext

DAY_SECONDS = 24 * 60 * 60
# SQS keeps a message at most 14 days: what failed stays available for redrive that long.
MAX_RETENTION_SECONDS = 14 * DAY_SECONDS
# Long polling: fewer empty receives for the event source mapping.
RECEIVE_WAIT_SECONDS = 20
# How long SQS reuses a data key before asking KMS again: one hour keeps KMS requests (and their
# cost) negligible while bounding how much traffic one data key protects.
DATA_KEY_REUSE_SECONDS = 3600

# Queue name suffixes (after the stack name).
QUEUE_NAMES: dict[str, str] = {
    ids.PROCESSING_QUEUE: "processing",
    ids.PROCESSING_DLQ: "processing-dlq",
    ids.EVENTS_DLQ: "event-delivery-dlq",
    ids.STATUS_FAILURE_QUEUE: "status-processor-failures",
}

# Each queue's URL and ARN outputs, and what the queue is.
QUEUE_OUTPUTS: tuple[tuple[str, str, str, str], ...] = (
    (
        ids.PROCESSING_QUEUE,
        ids.O_PROCESSING_QUEUE_URL,
        ids.O_PROCESSING_QUEUE_ARN,
        "processing queue (one message per upload)",
    ),
    (
        ids.PROCESSING_DLQ,
        ids.O_PROCESSING_DLQ_URL,
        ids.O_PROCESSING_DLQ_ARN,
        "dead-letter queue of uploads that failed processing",
    ),
    (
        ids.EVENTS_DLQ,
        ids.O_EVENTS_DLQ_URL,
        ids.O_EVENTS_DLQ_ARN,
        "dead-letter queue of events EventBridge could not deliver",
    ),
    (
        ids.STATUS_FAILURE_QUEUE,
        ids.O_STATUS_FAILURE_QUEUE_URL,
        ids.O_STATUS_FAILURE_QUEUE_ARN,
        "on-failure destination of the job status processor",
    ),
)


def build(ctx: BuildContext) -> None:
    ctx.add(processing_dead_letter_queue(ctx))
    ctx.add(processing_queue(ctx))
    ctx.add(terminal_queue(ctx, ids.EVENTS_DLQ))
    ctx.add(terminal_queue(ctx, ids.STATUS_FAILURE_QUEUE))
    ctx.add(processing_queue_policy())
    ctx.add(event_delivery_dlq_policy())
    for logical_id, url_output, arn_output, what in QUEUE_OUTPUTS:
        ctx.output(url_output, Ref(logical_id), f"URL of the {what}.")
        ctx.output(arn_output, GetAtt(logical_id, "Arn"), f"ARN of the {what}.")


def queue_name(logical_id: str) -> Sub:
    return Sub(f"${{AWS::StackName}}-{QUEUE_NAMES[logical_id]}")


def queue_arn_by_name(logical_id: str) -> Sub:
    return arn("sqs", f"${{AWS::StackName}}-{QUEUE_NAMES[logical_id]}")


def encrypted_queue(ctx: BuildContext, logical_id: str, **properties: Any) -> tsqs.Queue:
    return tsqs.Queue(
        logical_id,
        QueueName=queue_name(logical_id),
        KmsMasterKeyId=_refs.key_arn(),
        KmsDataKeyReusePeriodSeconds=DATA_KEY_REUSE_SECONDS,
        Tags=_refs.tags(ctx),
        **properties,
    )


def processing_queue(ctx: BuildContext) -> tsqs.Queue:
    queue = ctx.profile.queue
    return encrypted_queue(
        ctx,
        ids.PROCESSING_QUEUE,
        VisibilityTimeout=queue.visibility_timeout_seconds,
        MessageRetentionPeriod=queue.message_retention_days * DAY_SECONDS,
        ReceiveMessageWaitTimeSeconds=RECEIVE_WAIT_SECONDS,
        RedrivePolicy=tsqs.RedrivePolicy(
            deadLetterTargetArn=GetAtt(ids.PROCESSING_DLQ, "Arn"),
            maxReceiveCount=queue.max_receive_count,
        ),
    )


def processing_dead_letter_queue(ctx: BuildContext) -> tsqs.Queue:
    # A standard queue's message keeps its original enqueue time in the DLQ, so the DLQ must
    # keep messages longer than the source queue did (the profile enforces neither; 14 days is
    # the default and the maximum).
    return encrypted_queue(
        ctx,
        ids.PROCESSING_DLQ,
        MessageRetentionPeriod=ctx.profile.queue.dead_letter_retention_days * DAY_SECONDS,
        RedriveAllowPolicy={
            "redrivePermission": "byQueue",
            "sourceQueueArnList": [queue_arn_by_name(ids.PROCESSING_QUEUE)],
        },
    )


def terminal_queue(ctx: BuildContext, logical_id: str) -> tsqs.Queue:
    """A queue of last resort: kept 14 days, and no queue may use it as its dead-letter queue."""
    return encrypted_queue(
        ctx,
        logical_id,
        MessageRetentionPeriod=MAX_RETENTION_SECONDS,
        RedriveAllowPolicy={"redrivePermission": "denyAll"},
    )


def tls_only_queue_policy(
    policy_id: str, queue_ids: list[str], *grants: Statement
) -> tsqs.QueuePolicy:
    """The queues' policy: ``grants``, and every SQS action refused over plain HTTP."""
    return tsqs.QueuePolicy(
        policy_id,
        Queues=[Ref(queue_id) for queue_id in queue_ids],
        PolicyDocument=document(
            *grants,
            deny_insecure_transport("sqs", [GetAtt(queue_id, "Arn") for queue_id in queue_ids]),
        ),
    )


def processing_queue_policy() -> tsqs.QueuePolicy:
    """Only the upload rule may send through EventBridge; every queue here requires TLS.

    The pipeline's own roles (the orchestrator re-queues, operators redrive) are granted by their
    IAM policies, which a same-account resource policy does not need to repeat. The processing
    dead-letter and status-failure queues have no service senders, so this policy only adds the
    TLS requirement to them.
    """
    return tls_only_queue_policy(
        ids.PROCESSING_QUEUE_POLICY,
        [ids.PROCESSING_QUEUE, ids.PROCESSING_DLQ, ids.STATUS_FAILURE_QUEUE],
        allow(
            "UploadEventsRuleSends",
            [sqs.SendMessage],
            [GetAtt(ids.PROCESSING_QUEUE, "Arn")],
            ArnEquals("aws:SourceArn", GetAtt(ids.UPLOAD_EVENTS_RULE, "Arn")),
            principal=service_principal("events"),
        ),
    )


def event_delivery_dlq_policy() -> tsqs.QueuePolicy:
    """EventBridge may dead-letter events of this stack's two rules, and nothing else."""
    return tls_only_queue_policy(
        ids.EVENTS_DLQ_POLICY,
        [ids.EVENTS_DLQ],
        allow(
            "PipelineRulesDeadLetterEvents",
            [sqs.SendMessage],
            [GetAtt(ids.EVENTS_DLQ, "Arn")],
            ArnEquals(
                "aws:SourceArn",
                [GetAtt(ids.UPLOAD_EVENTS_RULE, "Arn"), GetAtt(ids.JOB_STATE_RULE, "Arn")],
            ),
            principal=service_principal("events"),
        ),
    )
