"""The ``MediaAssets`` table: one item per uploaded object version, keyed by ``assetId``.

Two global secondary indexes answer the operational questions without scans: "which assets are
in status X, most recently changed first" (``ByStatus``) and "what did uploader U send, newest
first" (``ByUploader``). Both sort by the asset's last update time.

A third, sparse index (``ByOutbox``) is the reconciler's to-do list: only final assets whose
announcements (manifest, events, SNS) are still owed carry its partition key, so it holds just
those. It projects keys only: the reconciler re-reads each item with a consistent read before
acting, and an index entry is eventually consistent anyway.

``ByStatus`` and ``ByUploader`` project ALL attributes: items are small (a few KB, well below
the 400 KB limit) and every reader of those indexes (dashboards, support tools, an uploader's
library view) wants the whole record; a KEYS_ONLY index would turn each result into a second
read of the table. The status partition
has few distinct values, which is fine at this pipeline's write rate (thousands of writes a day,
far below a partition's 1,000 writes per second).
"""

from __future__ import annotations

from troposphere import GetAtt, If, Ref, Sub
from troposphere import dynamodb as ddb

from mediapipe_cfn import contract, ids
from mediapipe_cfn.components import _refs
from mediapipe_cfn.contract import Attr
from mediapipe_cfn.template import BuildContext

TABLE_NAME = "${AWS::StackName}-MediaAssets"
# Index name -> (partition key, projection); every index sorts by contract.INDEX_SORT_KEY.
INDEXES: dict[str, tuple[str, str]] = {
    contract.INDEX_BY_STATUS: (Attr.STATUS, "ALL"),
    contract.INDEX_BY_UPLOADER: (Attr.UPLOADER_ID, "ALL"),
    contract.INDEX_BY_OUTBOX: (Attr.OUTBOX, "KEYS_ONLY"),
}


def build(ctx: BuildContext) -> None:
    ctx.add(assets_table(ctx))
    ctx.output(ids.O_ASSETS_TABLE_NAME, Ref(ids.ASSETS_TABLE), "Table of media assets' status.")
    ctx.output(ids.O_ASSETS_TABLE_ARN, GetAtt(ids.ASSETS_TABLE, "Arn"), "ARN of the assets table.")


def assets_table(ctx: BuildContext) -> ddb.Table:
    return ddb.Table(
        ids.ASSETS_TABLE,
        # The data outlives the stack in production; elsewhere a deleted stack takes its test data.
        **_refs.retained_in_production(ctx),
        TableName=Sub(TABLE_NAME),
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=attribute_definitions(),
        KeySchema=[ddb.KeySchema(AttributeName=Attr.ASSET_ID, KeyType="HASH")],
        GlobalSecondaryIndexes=[
            global_index(name, partition_key, projection)
            for name, (partition_key, projection) in INDEXES.items()
        ],
        PointInTimeRecoverySpecification=ddb.PointInTimeRecoverySpecification(
            PointInTimeRecoveryEnabled=ctx.profile.database.point_in_time_recovery
        ),
        SSESpecification=ddb.SSESpecification(
            SSEEnabled=True, SSEType="KMS", KMSMasterKeyId=_refs.key_arn()
        ),
        DeletionProtectionEnabled=deletion_protection(ctx),
        Tags=_refs.tags(ctx),
    )


def attribute_definitions() -> list[ddb.AttributeDefinition]:
    """Only key attributes are declared; timestamps are ISO 8601 strings, which sort by time."""
    partition_keys = {partition_key for partition_key, _ in INDEXES.values()}
    names = sorted({Attr.ASSET_ID, contract.INDEX_SORT_KEY, *partition_keys})
    return [ddb.AttributeDefinition(AttributeName=name, AttributeType="S") for name in names]


def global_index(name: str, partition_key: str, projection: str) -> ddb.GlobalSecondaryIndex:
    return ddb.GlobalSecondaryIndex(
        IndexName=name,
        KeySchema=[
            ddb.KeySchema(AttributeName=partition_key, KeyType="HASH"),
            ddb.KeySchema(AttributeName=contract.INDEX_SORT_KEY, KeyType="RANGE"),
        ],
        Projection=ddb.Projection(ProjectionType=projection),
    )


def deletion_protection(ctx: BuildContext) -> bool | If:
    """The profile's choice; unset, it follows the ``Environment`` parameter (on in prod)."""
    configured = ctx.profile.database.deletion_protection
    if configured is not None:
        return configured
    return If(_refs.is_production(ctx), True, False)
