"""The in-flight budget table, rendered only for a profile with a ``capacity`` section.

One item per MediaConvert queue (key ``queue``, the name routes use) holds a map of the jobs
currently counted against that queue's budget: job key (asset#format#attempt) -> when it was
taken. The orchestrator adds a job with one conditional write (the map's size must be under the
budget) before CreateJob; the status processor removes it when the job finishes; the
reconciler removes entries whose job no longer runs (a crash between the two), so a lost
release costs budget only until its next run. The map's size *is* the count: nothing can drift.
"""

from __future__ import annotations

from typing import Any

from troposphere import Ref, Sub
from troposphere import dynamodb as ddb

from mediapipe_cfn import ids
from mediapipe_cfn.components import _refs
from mediapipe_cfn.profile.model import Profile
from mediapipe_cfn.template import BuildContext

TABLE_NAME = "${AWS::StackName}-Capacity"
QUEUE_KEY = "queue"


# CloudFormation Rules: the stack's region and account are known only at deploy.
FALLBACK_REGION_RULE = "FallbackRegionDiffersFromStackRegion"
QUEUES_PLACE_RULE = "CapacityQueuesInStackRegionAndAccount"


def build(ctx: BuildContext) -> None:
    if ctx.profile.capacity is None:
        return
    ctx.add(capacity_table(ctx))
    if ctx.profile.capacity.queues:
        ctx.template.add_rule(QUEUES_PLACE_RULE, queues_place_rule(ctx.profile))
    if ctx.profile.capacity.fallback is not None:
        ctx.template.add_rule(FALLBACK_REGION_RULE, fallback_region_rule(ctx.profile))
    ctx.output(
        ids.O_CAPACITY_TABLE_NAME,
        Ref(ids.CAPACITY_TABLE),
        "Table of the MediaConvert queues' in-flight jobs, counted against their budgets.",
    )


def queues_place_rule(profile: Profile) -> dict[str, Any]:
    """Refuses a deploy in another region or account than the existing queues' (the profile
    already requires them all to share one)."""
    assert profile.capacity is not None
    arn = next(iter(profile.capacity.queues.values())).arn
    region, account = arn.split(":")[3:5]
    return {
        "Assertions": [
            {
                "Assert": {"Fn::Equals": [Ref("AWS::Region"), region]},
                "AssertDescription": f"capacity.queues are in {region}: deploy the stack there",
            },
            {
                "Assert": {"Fn::Equals": [Ref("AWS::AccountId"), account]},
                "AssertDescription": (
                    f"capacity.queues belong to account {account}: deploy the stack there"
                ),
            },
        ]
    }


def fallback_region_rule(profile: Profile) -> dict[str, Any]:
    """Refuses a deploy into the fallback region itself: a fallback must be another region."""
    assert profile.capacity is not None and profile.capacity.fallback is not None
    region = profile.capacity.fallback.region
    return {
        "Assertions": [
            {
                "Assert": {"Fn::Not": [{"Fn::Equals": [Ref("AWS::Region"), region]}]},
                "AssertDescription": (
                    f"capacity.fallback.region is {region}: deploy the stack in another region "
                    "or choose another fallback region"
                ),
            }
        ]
    }


def capacity_table(ctx: BuildContext) -> ddb.Table:
    return ddb.Table(
        ids.CAPACITY_TABLE,
        TableName=Sub(TABLE_NAME),
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[ddb.AttributeDefinition(AttributeName=QUEUE_KEY, AttributeType="S")],
        KeySchema=[ddb.KeySchema(AttributeName=QUEUE_KEY, KeyType="HASH")],
        PointInTimeRecoverySpecification=ddb.PointInTimeRecoverySpecification(
            PointInTimeRecoveryEnabled=ctx.profile.database.point_in_time_recovery
        ),
        SSESpecification=ddb.SSESpecification(
            SSEEnabled=True, SSEType="KMS", KMSMasterKeyId=_refs.key_arn()
        ),
        Tags=_refs.tags(ctx),
    )
