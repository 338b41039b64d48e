"""The operator's IAM policies, generated from the AWS calls the operations commands make.

:data:`COMMAND_CALLS` lists every API call of every command; a test runs each command against
the pipeline in moto and checks that it makes no other call and that every call listed is made.
:data:`CALL_GRANTS` says what each call needs in IAM. From both come two policies:
``read-only`` (`assets show|list`, `dlq show`, `status`) and ``retry-and-redrive`` (added to the
first for `assets retry` and `dlq redrive`). docs/operations.md prints them; regenerate with
``python -m mediapipe_cfn.operations.policy docs/operations.md`` (a test checks they agree).

Resource names come from the rendered template (``${AWS::StackName}``-based names), written with
the placeholders STACK, REGION and ACCOUNT, plus two values only the deployed stack knows: its
``UploadsBucketName`` and ``KmsKeyArn`` outputs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediapipe_cfn import contract, ids

READ_ONLY_COMMANDS = ("assets show", "assets list", "dlq show", "status")
OPERATE_COMMANDS = ("assets retry", "dlq redrive")

_FIND_STACK = ("cloudformation.DescribeStacks",)
_READ_ASSET = ("dynamodb.GetItem", "s3.HeadObject")
_READ_QUEUES = ("sqs.GetQueueAttributes", "sqs.ReceiveMessage", "sqs.ChangeMessageVisibilityBatch")

# Every call each command makes, as botocore names them (service.Operation).
COMMAND_CALLS: dict[str, frozenset[str]] = {
    "assets show": frozenset({*_FIND_STACK, *_READ_ASSET}),
    "assets list": frozenset({*_FIND_STACK, "dynamodb.Query"}),
    "assets retry": frozenset({*_FIND_STACK, *_READ_ASSET, "sqs.SendMessage"}),
    # Classifying an upload looks its asset up.
    "dlq show": frozenset({*_FIND_STACK, *_READ_QUEUES, "dynamodb.GetItem"}),
    "dlq redrive": frozenset(
        {
            *_FIND_STACK,
            *_READ_QUEUES,
            "sqs.StartMessageMoveTask",
            "sqs.ListMessageMoveTasks",
            "sqs.SendMessage",
            "sqs.DeleteMessage",
            "lambda.Invoke",
        }
    ),
    "status": frozenset(
        {
            *_FIND_STACK,
            "sqs.GetQueueAttributes",
            "cloudwatch.GetMetricData",
            "cloudwatch.DescribeAlarms",
            "mediaconvert.GetQueue",
            "dynamodb.Query",
        }
    ),
}

# Resources, by the names the grants use.
STACK = "stack"
TABLE = "table"
INDEXES = "indexes"
UPLOADS = "uploads objects"
QUEUE = "processing queue"
DLQS = "dead-letter queues"
PROCESSING_DLQ = "processing dead-letter queue"
STATUS_FUNCTION = "status processor"
MEDIACONVERT_QUEUE = "MediaConvert queue"
ALARMS = "alarms"
ANY = "*"
KEY = "key"


@dataclass(frozen=True)
class Grant:
    """IAM actions on resources; ``via`` names the service that uses the KMS key for the caller."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    via: str | None = None


_DECRYPT_TABLE = Grant(("kms:Decrypt",), (KEY,), via="dynamodb")
_DECRYPT_QUEUE = Grant(("kms:Decrypt",), (KEY,), via="sqs")

# What each call needs. The data in the table and queues is under the pipeline's KMS key: the
# service decrypts (and, for a send, asks for a data key) with the caller's permissions.
CALL_GRANTS: dict[str, tuple[Grant, ...]] = {
    "cloudformation.DescribeStacks": (Grant(("cloudformation:DescribeStacks",), (STACK,)),),
    "dynamodb.GetItem": (Grant(("dynamodb:GetItem",), (TABLE,)), _DECRYPT_TABLE),
    "dynamodb.Query": (Grant(("dynamodb:Query",), (INDEXES,)), _DECRYPT_TABLE),
    # HeadObject of the latest version (an s3:// URI); it returns no data, so no decryption.
    "s3.HeadObject": (Grant(("s3:GetObject",), (UPLOADS,)),),
    "sqs.GetQueueAttributes": (Grant(("sqs:GetQueueAttributes",), (QUEUE, DLQS)),),
    "sqs.ReceiveMessage": (Grant(("sqs:ReceiveMessage",), (DLQS,)), _DECRYPT_QUEUE),
    "sqs.ChangeMessageVisibilityBatch": (Grant(("sqs:ChangeMessageVisibility",), (DLQS,)),),
    "sqs.SendMessage": (
        Grant(("sqs:SendMessage",), (QUEUE,)),
        Grant(("kms:GenerateDataKey",), (KEY,), via="sqs"),
        _DECRYPT_QUEUE,
    ),
    "sqs.DeleteMessage": (Grant(("sqs:DeleteMessage",), (DLQS,)),),
    # The move task itself receives from the DLQ, sends to the queue and deletes with the
    # caller's permissions: the grants of those calls above, which the same command holds.
    "sqs.StartMessageMoveTask": (Grant(("sqs:StartMessageMoveTask",), (PROCESSING_DLQ,)),),
    "sqs.ListMessageMoveTasks": (Grant(("sqs:ListMessageMoveTasks",), (PROCESSING_DLQ,)),),
    "lambda.Invoke": (Grant(("lambda:InvokeFunction",), (STATUS_FUNCTION,)),),
    # GetMetricData has no resource-level permissions.
    "cloudwatch.GetMetricData": (Grant(("cloudwatch:GetMetricData",), (ANY,)),),
    "cloudwatch.DescribeAlarms": (Grant(("cloudwatch:DescribeAlarms",), (ALARMS,)),),
    "mediaconvert.GetQueue": (Grant(("mediaconvert:GetQueue",), (MEDIACONVERT_QUEUE,)),),
}

_PREFIX = "arn:aws"
_PLACEHOLDER_STACK = "STACK"


def resource_arns(template: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Each resource name as ARN patterns, the names taken from the rendered ``template``."""
    region_account = "REGION:ACCOUNT"

    def named(logical_id: str, prop: str) -> str:
        value = template["Resources"][logical_id]["Properties"][prop]
        return str(value["Fn::Sub"]).replace("${AWS::StackName}", _PLACEHOLDER_STACK)

    def queue(logical_id: str) -> str:
        return f"{_PREFIX}:sqs:{region_account}:{named(logical_id, 'QueueName')}"

    table = f"{_PREFIX}:dynamodb:{region_account}:table/{named(ids.ASSETS_TABLE, 'TableName')}"
    return {
        STACK: (f"{_PREFIX}:cloudformation:{region_account}:stack/{_PLACEHOLDER_STACK}/*",),
        TABLE: (table,),
        INDEXES: tuple(
            f"{table}/index/{index}"
            for index in (contract.INDEX_BY_STATUS, contract.INDEX_BY_UPLOADER)
        ),
        UPLOADS: (f"{_PREFIX}:s3:::UPLOADS_BUCKET/*",),
        QUEUE: (queue(ids.PROCESSING_QUEUE),),
        DLQS: tuple(
            queue(q) for q in (ids.PROCESSING_DLQ, ids.EVENTS_DLQ, ids.STATUS_FAILURE_QUEUE)
        ),
        PROCESSING_DLQ: (queue(ids.PROCESSING_DLQ),),
        STATUS_FUNCTION: (
            f"{_PREFIX}:lambda:{region_account}:function:"
            f"{named(ids.STATUS_FUNCTION, 'FunctionName')}",
        ),
        MEDIACONVERT_QUEUE: (
            f"{_PREFIX}:mediaconvert:{region_account}:queues/"
            f"{named(ids.MEDIACONVERT_QUEUE, 'Name')}",
        ),
        ALARMS: (f"{_PREFIX}:cloudwatch:{region_account}:alarm:{_PLACEHOLDER_STACK}-*",),
        ANY: ("*",),
        KEY: ("KMS_KEY_ARN",),
    }


Permission = tuple[str, str, str | None]  # action, resource ARN, KMS via-service


def permissions_of(commands: Sequence[str], template: Mapping[str, Any]) -> set[Permission]:
    """Every (action, resource, via) the commands' calls need."""
    arns = resource_arns(template)
    calls = {call for command in commands for call in COMMAND_CALLS[command]}
    return {
        (action, arn, grant.via)
        for call in calls
        for grant in CALL_GRANTS[call]
        for action in grant.actions
        for name in grant.resources
        for arn in arns[name]
    }


def policy_document(permissions: set[Permission]) -> dict[str, Any]:
    """Actions with the same resources and KMS condition share one statement."""
    resources: dict[tuple[str, str | None], list[str]] = {}
    for action, arn, via in sorted(permissions, key=lambda p: (p[0], p[1], p[2] or "")):
        resources.setdefault((action, via), []).append(arn)
    merged: dict[tuple[tuple[str, ...], str | None], list[str]] = {}
    for (action, via), arns in resources.items():
        merged.setdefault((tuple(arns), via), []).append(action)
    statements = []
    for (arns, via), actions in sorted(merged.items(), key=lambda kv: (kv[1], kv[0][1] or "")):
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Action": actions,
            "Resource": list(arns) if len(arns) > 1 else arns[0],
        }
        if via is not None:
            condition = {"kms:ViaService": f"{via}.REGION.amazonaws.com"}
            statement["Condition"] = {"StringEquals": condition}
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def operator_policies(template: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """``read-only``, and ``retry-and-redrive``: what retry and redrive need beyond it."""
    if template is None:
        from mediapipe_cfn import build_template, load_profile

        template = build_template(load_profile("default")).to_dict()
    read_only = permissions_of(READ_ONLY_COMMANDS, template)
    operate = permissions_of(OPERATE_COMMANDS, template) - read_only
    return {
        "read-only": policy_document(read_only),
        "retry-and-redrive": policy_document(operate),
    }


START = "<!-- operator-policy:start (generated: python -m mediapipe_cfn.operations.policy) -->"
END = "<!-- operator-policy:end -->"


def docs_section(policies: Mapping[str, Mapping[str, Any]]) -> str:
    parts = [START]
    for name, document in policies.items():
        parts += [f"`{name}`:", "", "```json", json.dumps(document, indent=2), "```", ""]
    parts.append(END)
    return "\n".join(parts)


def replace_section(text: str, section: str) -> str:
    before, start, rest = text.partition(START)
    if not start:
        raise ValueError(f"no {START!r} marker")
    _, end, after = rest.partition(END)
    if not end:
        raise ValueError(f"no {END!r} marker")
    return before + section + after


def main(argv: Sequence[str]) -> int:
    path = Path(argv[0]) if argv else Path("docs/operations.md")
    text = path.read_text(encoding="utf-8")
    path.write_text(replace_section(text, docs_section(operator_policies())), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
