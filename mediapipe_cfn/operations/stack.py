"""The deployed pipeline, found by its stack name: all the commands need is in its outputs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mediapipe_cfn import ids
from mediapipe_cfn.operations.aws import Aws, OperationsError, aws_errors, error_code

# The outputs every operations command relies on; a stack without them is not a pipeline stack.
REQUIRED_OUTPUTS = (
    ids.O_ASSETS_TABLE_NAME,
    ids.O_UPLOADS_BUCKET_NAME,
    ids.O_PROCESSING_QUEUE_URL,
    ids.O_PROCESSING_QUEUE_ARN,
    ids.O_PROCESSING_DLQ_URL,
    ids.O_PROCESSING_DLQ_ARN,
    ids.O_EVENTS_DLQ_URL,
    ids.O_STATUS_FAILURE_QUEUE_URL,
    ids.O_STATUS_FUNCTION_ARN,
    ids.O_MEDIACONVERT_QUEUE_ARN,
    ids.O_ALARM_TOPIC_ARN,
    ids.O_DASHBOARD_URL,
)

# The dead-letter queues an operator drains, by the name `dlq --queue` takes.
DLQ_PROCESSING = "processing"
DLQ_EVENTS = "events"
DLQ_STATUS = "status"
DLQ_NAMES = (DLQ_PROCESSING, DLQ_EVENTS, DLQ_STATUS)


@dataclass(frozen=True)
class PipelineStack:
    """A pipeline stack's outputs, under the names the commands use."""

    name: str
    region: str
    outputs: Mapping[str, str]

    @property
    def table(self) -> str:
        return self.outputs[ids.O_ASSETS_TABLE_NAME]

    @property
    def uploads_bucket(self) -> str:
        return self.outputs[ids.O_UPLOADS_BUCKET_NAME]

    @property
    def processing_queue_url(self) -> str:
        return self.outputs[ids.O_PROCESSING_QUEUE_URL]

    @property
    def processing_queue_arn(self) -> str:
        return self.outputs[ids.O_PROCESSING_QUEUE_ARN]

    @property
    def status_function_arn(self) -> str:
        return self.outputs[ids.O_STATUS_FUNCTION_ARN]

    @property
    def mediaconvert_queue_arn(self) -> str:
        return self.outputs[ids.O_MEDIACONVERT_QUEUE_ARN]

    @property
    def alarm_topic_arn(self) -> str:
        return self.outputs[ids.O_ALARM_TOPIC_ARN]

    @property
    def dashboard_url(self) -> str:
        return self.outputs[ids.O_DASHBOARD_URL]

    def dlq_url(self, name: str) -> str:
        return self.outputs[
            {
                DLQ_PROCESSING: ids.O_PROCESSING_DLQ_URL,
                DLQ_EVENTS: ids.O_EVENTS_DLQ_URL,
                DLQ_STATUS: ids.O_STATUS_FAILURE_QUEUE_URL,
            }[name]
        ]

    @property
    def processing_dlq_arn(self) -> str:
        return self.outputs[ids.O_PROCESSING_DLQ_ARN]


def find_stack(aws: Aws, name: str) -> PipelineStack:
    """Read stack ``name``'s outputs once; refuse a stack that is not a pipeline."""
    import botocore.exceptions

    client = aws.client("cloudformation")
    with aws_errors(f"reading stack {name}"):
        try:
            stacks = client.describe_stacks(StackName=name)["Stacks"]
        except botocore.exceptions.ClientError as error:
            if error_code(error) == "ValidationError" and "does not exist" in str(error):
                raise _no_such_stack(name, aws.region) from None
            raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs") or []}
    missing = [key for key in REQUIRED_OUTPUTS if key not in outputs]
    if missing:
        raise OperationsError(
            f"stack {name} in {aws.region} is not a mediapipe-cfn pipeline (or not fully "
            f"deployed): it has no output {', '.join(missing)}"
        )
    return PipelineStack(name=name, region=aws.region, outputs=outputs)


def _no_such_stack(name: str, region: str) -> OperationsError:
    return OperationsError(
        f"no stack named {name!r} in {region}; check --stack and --region "
        "(`aws cloudformation list-stacks` lists them)"
    )
