"""The regional fallback's second template, deployed in the fallback region.

MediaConvert publishes a job's state changes to the default event bus of the region the job
runs in. For jobs the orchestrator submitted to the fallback region, this template's rule sends
them, unchanged, to the default bus of the pipeline's own region, where the pipeline's
job-state rule (which matches on the pipeline id in the job metadata, not on a region) hands
them to the status processor like any other.

One small stack in one known region rather than a StackSet: the only resources are a rule and
the role it delivers with, in exactly one region of the same account; a StackSet would need the
StackSet administration and execution roles (or Organizations) and an instance per region for
no gain. ``render`` writes it next to the main template as ``<name>-fallback-<region>.yaml``.
"""

from __future__ import annotations

from typing import Any

from awacs import events as awacs_events
from awacs.aws import StringEquals
from troposphere import GetAtt, Output, Parameter, Ref, Sub, Template
from troposphere import events as tevents
from troposphere import iam as iam_resources

from mediapipe_cfn.components.events import job_state_event_pattern
from mediapipe_cfn.iam import allow, document, trust_statement
from mediapipe_cfn.profile.model import Fallback, Profile

PRIMARY_REGION = "PrimaryRegion"
PIPELINE_STACK = "PipelineStackName"
FORWARD_RULE = "ForwardJobEventsToPrimaryRegion"
FORWARD_ROLE = "ForwardJobEventsRole"
RULE_IN_FALLBACK_REGION = "DeployedInTheFallbackRegion"
PRIMARY_BUS_ARN = (
    "arn:${AWS::Partition}:events:${PrimaryRegion}:${AWS::AccountId}:event-bus/default"
)


def fallback_file_name(template_name: str, fallback: Fallback) -> str:
    """``pipeline.yaml`` -> ``pipeline-fallback-us-west-2.yaml`` (same extension)."""
    stem, dot, extension = template_name.rpartition(".")
    if not dot:
        stem, extension = template_name, "yaml"
    return f"{stem}-fallback-{fallback.region}.{extension}"


def fallback_template(profile: Profile) -> Template:
    """The forwarding rule and its role; the profile must have ``capacity.fallback``."""
    if profile.capacity is None or profile.capacity.fallback is None:
        raise ValueError(f"profile {profile.name!r} has no capacity.fallback")
    fallback = profile.capacity.fallback
    template = Template(
        Description=(
            f"mediapipe-cfn {profile.name}: forwards the pipeline's MediaConvert job state "
            f"changes from the fallback region {fallback.region} to its own region's bus."
        )
    )
    template.set_version("2010-09-09")
    template.add_parameter(
        Parameter(
            PRIMARY_REGION,
            Type="String",
            Description="The region of the pipeline's stack (whose bus receives the events).",
            AllowedPattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$",
        )
    )
    template.add_parameter(
        Parameter(
            PIPELINE_STACK,
            Type="String",
            Description="The pipeline stack's name: its jobs carry it as their pipeline id.",
            AllowedPattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$",
        )
    )
    template.add_rule(RULE_IN_FALLBACK_REGION, _region_rule(fallback))
    template.add_resource(_role())
    template.add_resource(_rule(profile))
    template.add_output(
        Output(
            "ForwardRuleArn",
            Description="The rule forwarding job state changes to the pipeline's region.",
            Value=GetAtt(FORWARD_RULE, "Arn"),
        )
    )
    return template


def _region_rule(fallback: Fallback) -> dict[str, Any]:
    """Deployed in the profile's fallback region, forwarding to another region."""
    return {
        "Assertions": [
            {
                "Assert": {"Fn::Equals": [Ref("AWS::Region"), fallback.region]},
                "AssertDescription": f"deploy this stack in the fallback region {fallback.region}",
            },
            {
                "Assert": {"Fn::Not": [{"Fn::Equals": [Ref(PRIMARY_REGION), fallback.region]}]},
                "AssertDescription": "PrimaryRegion must be the pipeline stack's region",
            },
        ]
    }


def _role() -> iam_resources.Role:
    """EventBridge puts the matching events on the primary region's default bus, nothing else."""
    return iam_resources.Role(
        FORWARD_ROLE,
        Description="EventBridge forwards pipeline job events to the pipeline's region.",
        AssumeRolePolicyDocument=document(
            trust_statement(
                "EventBridgeForwardsJobEvents",
                "events",
                StringEquals("aws:SourceAccount", Ref("AWS::AccountId")),
            )
        ),
        Policies=[
            iam_resources.Policy(
                PolicyName="PutEventsOnPrimaryBus",
                PolicyDocument=document(
                    allow("PutEventsOnPrimaryBus", [awacs_events.PutEvents], [Sub(PRIMARY_BUS_ARN)])
                ),
            )
        ],
    )


def _rule(profile: Profile) -> tevents.Rule:
    return tevents.Rule(
        FORWARD_RULE,
        Description="Sends the pipeline's MediaConvert job state changes to its region's bus.",
        State="ENABLED",
        EventPattern=job_state_event_pattern(Ref(PIPELINE_STACK)),
        Targets=[
            tevents.Target(
                Id="PipelineRegionDefaultBus",
                Arn=Sub(PRIMARY_BUS_ARN),
                RoleArn=GetAtt(FORWARD_ROLE, "Arn"),
            )
        ],
    )
