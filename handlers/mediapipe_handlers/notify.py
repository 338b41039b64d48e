"""Telling the world: final-state events, SNS, the manifest, and messages to the queues."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mediapipe_cfn.contract import (
    EVENT_ASSET_FAILED,
    EVENT_ASSET_PROCESSED,
    EVENT_SOURCE,
    AssetStatus,
)
from mediapipe_handlers.failures import TransientFailure
from mediapipe_handlers.outputs import build_manifest, manifest_bytes, manifest_key
from mediapipe_handlers.runtime import Runtime

# SQS DelaySeconds cannot exceed 15 minutes.
MAX_DELAY_SECONDS = 900


def final_event_detail(item: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    """The detail of ``MediaAsset Processed``/``Failed``: ids, source, outputs or errors."""
    succeeded = item.get("status") == AssetStatus.SUCCEEDED
    detail: dict[str, Any] = {
        "assetId": item.get("assetId"),
        "uploaderId": item.get("uploaderId"),
        "status": item.get("status"),
        "pipelineId": runtime.env.pipeline_id,
        "source": {
            "bucket": item.get("sourceBucket"),
            "key": item.get("s3Key"),
            "versionId": item.get("sourceVersionId"),
        },
        "createdAt": item.get("createdAt"),
        "completedAt": item.get("completedAt"),
        "formats": list(item.get("formats") or []),
    }
    if succeeded:
        prefix = item.get("outputPrefix") or ""
        detail["outputs"] = {
            "bucket": runtime.env.outputs_bucket,
            "prefix": prefix,
            "manifest": f"s3://{runtime.env.outputs_bucket}/{manifest_key(prefix)}",
            "playlists": sorted(
                path
                for summary in (item.get("outputs") or {}).values()
                for group in summary.get("groups", [])
                for path in group.get("playlists", [])
            ),
        }
        if item.get("playback"):
            detail["playback"] = item["playback"]
    else:
        detail["failureKind"] = item.get("failureKind")
        detail["errors"] = list(item.get("errors") or [])[-5:]
    return detail


def publish_final_state(item: Mapping[str, Any], runtime: Runtime) -> None:
    """EventBridge event (always) and SNS message (if the profile asks) for a final asset."""
    detail = final_event_detail(item, runtime)
    detail_type = (
        EVENT_ASSET_PROCESSED if item.get("status") == AssetStatus.SUCCEEDED else EVENT_ASSET_FAILED
    )
    body = json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str)
    answer = runtime.clients.events.put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": detail_type,
                "Detail": body,
                "EventBusName": runtime.env.event_bus_name,
                "Resources": [],
            }
        ]
    )
    if answer.get("FailedEntryCount"):
        entry = (answer.get("Entries") or [{}])[0]
        raise TransientFailure(
            f"PutEvents rejected the event: {entry.get('ErrorCode')}: {entry.get('ErrorMessage')}"
        )
    if runtime.config.sns_on_final_state and runtime.env.notification_topic_arn:
        runtime.clients.sns.publish(
            TopicArn=runtime.env.notification_topic_arn,
            Subject=f"{detail_type}: {str(item.get('assetId'))[:60]}"[:100],
            Message=body,
            MessageAttributes={
                "status": {"DataType": "String", "StringValue": str(item.get("status"))},
                "uploaderId": {"DataType": "String", "StringValue": str(item.get("uploaderId"))},
            },
        )


def write_manifest(item: Mapping[str, Any], runtime: Runtime) -> str:
    """Write manifest.json beside the outputs (SSE-KMS with the stack's key); its S3 URI."""
    bucket = runtime.env.outputs_bucket
    key = manifest_key(str(item.get("outputPrefix") or ""))
    runtime.clients.s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=manifest_bytes(build_manifest(item, bucket)),
        ContentType="application/json",
        CacheControl="no-cache",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=runtime.kms_key_arn,
    )
    return f"s3://{bucket}/{key}"


def send_to_processing_queue(body: str, delay_seconds: int, runtime: Runtime) -> None:
    runtime.clients.sqs.send_message(
        QueueUrl=runtime.env.processing_queue_url,
        MessageBody=body,
        DelaySeconds=max(0, min(MAX_DELAY_SECONDS, int(delay_seconds))),
    )


def send_to_dead_letter_queue(body: str, runtime: Runtime) -> str:
    """Park ``body`` on the processing dead-letter queue; the new message's id."""
    answer = runtime.clients.sqs.send_message(
        QueueUrl=runtime.env.dead_letter_queue_url, MessageBody=body
    )
    return str(answer["MessageId"])
