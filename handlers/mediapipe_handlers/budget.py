"""Per-queue in-flight budgets, shared by every container through one DynamoDB item per queue.

An item holds ``holders``: a map of job key (``asset#format#attempt``) -> when it was taken.
Taking budget is one conditional write that adds the job only while the map is smaller than
the budget (or already holds the job: a retried submission takes nothing twice); giving it back
removes the key. The map's size is the count, so no counter can drift from the jobs it counts;
an entry whose release was lost (a crashed container, a lost event) is removed by the
reconciler once the asset's record shows the job no longer runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from mediapipe_handlers.failures import error_code

QUEUE_KEY = "queue"
HOLDERS = "holders"


def job_key(asset_id: str, job_format: str, attempt: int) -> str:
    """The budget entry of one job attempt."""
    return f"{asset_id}#{job_format}#{attempt}"


def parse_job_key(key: str) -> tuple[str, str, int] | None:
    """(asset id, format, attempt) of an entry; None for a key this module did not write."""
    asset_id, _, rest = key.partition("#")
    job_format, _, attempt = rest.partition("#")
    if not asset_id or not job_format or not attempt.isdigit():
        return None
    return asset_id, job_format, int(attempt)


@dataclass(frozen=True)
class Taken:
    """Budget taken (or already held) for a job; ``in_flight`` counts it."""

    queue: str
    in_flight: int


class InFlightLedger:
    """The budget table's items, one per queue name."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self.dynamodb = dynamodb
        self.table = table_name

    def take(self, queue: str, key: str, budget: int, now: str) -> Taken | None:
        """Count ``key`` against ``queue``; None when the queue is at its budget."""
        for _ in range(2):
            try:
                answer = self.dynamodb.update_item(
                    TableName=self.table,
                    Key={QUEUE_KEY: {"S": queue}},
                    UpdateExpression="SET #h.#k = if_not_exists(#h.#k, :now)",
                    ConditionExpression=(
                        "attribute_exists(#h.#k) OR (attribute_exists(#h) AND size(#h) < :budget)"
                    ),
                    ExpressionAttributeNames={"#h": HOLDERS, "#k": key},
                    ExpressionAttributeValues={":now": {"S": now}, ":budget": {"N": str(budget)}},
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
                if HOLDERS in (error.response.get("Item") or {}):
                    return None  # at its budget
                self._create_item(queue)  # the queue's first job ever: then try again
                continue
            return Taken(queue, len(answer["Attributes"][HOLDERS]["M"]))
        raise RuntimeError(f"the budget item of queue {queue!r} could not be created")

    def give_back(self, queue: str, key: str) -> None:
        """Stop counting ``key`` against ``queue`` (nothing happens if it was not counted)."""
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={QUEUE_KEY: {"S": queue}},
                UpdateExpression="REMOVE #h.#k",
                ConditionExpression="attribute_exists(#h.#k)",
                ExpressionAttributeNames={"#h": HOLDERS, "#k": key},
            )
        except ClientError as error:
            if error_code(error) not in ("ConditionalCheckFailedException", "ValidationException"):
                raise

    def holders(self, queue: str) -> Mapping[str, str]:
        """Every job counted against ``queue`` -> when it was taken."""
        answer = self.dynamodb.get_item(
            TableName=self.table, Key={QUEUE_KEY: {"S": queue}}, ConsistentRead=True
        )
        entries = ((answer.get("Item") or {}).get(HOLDERS) or {}).get("M") or {}
        return {key: str(value.get("S", "")) for key, value in entries.items()}

    def _create_item(self, queue: str) -> None:
        """The queue's item with an empty map (a no-op if another container made it first)."""
        self.dynamodb.update_item(
            TableName=self.table,
            Key={QUEUE_KEY: {"S": queue}},
            UpdateExpression="SET #h = if_not_exists(#h, :empty)",
            ExpressionAttributeNames={"#h": HOLDERS},
            ExpressionAttributeValues={":empty": {"M": {}}},
        )
