"""The in-flight budget table, rendered only for a profile with a ``capacity`` section.

One item per MediaConvert queue (key ``queue``, the name routes use) holds a map of the jobs
currently counted against that queue's budget: job key (asset#format#attempt) -> when it was
taken. The orchestrator adds a job with one conditional write (the map's size must be under the
budget) before CreateJob; the status processor removes it when the job finishes; the
reconciler removes entries whose job no longer runs (a crash between the two), so a lost
release costs budget only until its next run. The map's size *is* the count: nothing can drift.
"""

from __future__ import annotations

from troposphere import Ref, Sub
from troposphere import dynamodb as ddb

from mediapipe_cfn import ids
from mediapipe_cfn.components import _refs
from mediapipe_cfn.template import BuildContext

TABLE_NAME = "${AWS::StackName}-Capacity"
QUEUE_KEY = "queue"


def build(ctx: BuildContext) -> None:
    if ctx.profile.capacity is None:
        return
    ctx.add(capacity_table(ctx))
    ctx.output(
        ids.O_CAPACITY_TABLE_NAME,
        Ref(ids.CAPACITY_TABLE),
        "Table of the MediaConvert queues' in-flight jobs, counted against their budgets.",
    )


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
