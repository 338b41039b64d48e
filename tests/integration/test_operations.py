"""The operations commands against the pipeline's resources in moto (operations_harness.py).

Assets in every status and a processing DLQ holding an upload, a job-failure notice and poison;
each command's output is checked against the records and queues, and so is the state each
command leaves: a retried asset reaches SUCCEEDED through the handlers, a redrive moves every
message and loses none.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from operations_harness import KEYS, Operator, populate

from mediapipe_cfn.cli import main
from mediapipe_cfn.operations.assets import console_link
from mediapipe_cfn.operations.aws import Aws

pytestmark = pytest.mark.integration


def test_assets_list_and_show_every_status(operator: Operator) -> None:
    populate(operator)
    ids = {name: operator.asset_id(name) for name in KEYS}
    expected = {
        "SUCCEEDED": {ids["succeeded"]},
        "FAILED": {ids["job_failed"], ids["invalid"], ids["throttled"]},
        "PROCESSING": {ids["processing"]},
        "PENDING": {ids["pending"]},
    }
    for status, assets in expected.items():
        listed = operator.json("assets", "list", "--status", status)
        assert {row["asset"] for row in listed} == assets, status
        assert all(row["status"] == status for row in listed)
    everything = operator.json("assets", "list")
    assert {row["asset"] for row in everything} == set(ids.values())
    updated = [row["updated"] for row in everything]
    assert updated == sorted(updated, reverse=True), "newest first"
    assert len(operator.json("assets", "list", "--limit", "2")) == 2
    erin = operator.json("assets", "list", "--uploader", "erin", "--status", "FAILED")
    assert {row["asset"] for row in erin} == {ids["job_failed"], ids["invalid"]}
    assert {row["kind"] for row in erin} == {"JOB_FAILED", "INVALID_UPLOAD"}
    table = operator.run("assets", "list", "--status", "FAILED").stdout
    assert table.splitlines()[0].split() == [
        "ASSET", "STATUS", "KIND", "UPDATED", "AGE", "UPLOADER", "KEY"
    ]  # fmt: skip
    assert ids["throttled"] in table and "TRANSIENT_EXHAUSTED" in table

    broken = operator.json("assets", "show", ids["job_failed"])
    assert broken["record"]["status"] == "FAILED"
    assert broken["record"]["failureKind"] == "JOB_FAILED"
    mp4 = next(row for row in broken["formats"] if row["format"] == "mp4")
    assert mp4["state"] == "ERROR" and mp4["error"] == 1010
    assert mp4["console"] == console_link("us-east-1", mp4["job"])
    assert broken["messages"] == [
        f"processing DLQ: message {m}" for m in broken["record"]["deadLetters"]
    ]
    text = operator.run("assets", "show", ids["job_failed"]).stdout
    for expected_text in ("JOB_FAILED", "1010", mp4["job"], "MediaConvert console", "Errors"):
        assert expected_text in text

    # By S3 URI: the object's latest version is the asset.
    bucket = operator.pipeline.uploads
    done = operator.json("assets", "show", f"s3://{bucket}/{KEYS['succeeded']}")
    assert done["record"]["assetId"] == ids["succeeded"]
    assert done["latency"] is not None and all(r["state"] == "COMPLETE" for r in done["formats"])
    assert done["playback"] is None
    text = operator.run("assets", "show", ids["succeeded"]).stdout
    assert "Outputs" in text and "thumbnails" in text

    pending = operator.json("assets", "show", ids["pending"])
    assert pending["record"]["status"] == "PENDING"
    assert pending["messages"] and pending["messages"][0].startswith("processing queue: message")


def test_assets_show_prints_playback_urls_when_the_record_has_them(operator: Operator) -> None:
    pipeline = operator.pipeline
    pipeline.upload(KEYS["succeeded"])
    pipeline.run_until_quiet()
    asset_id = operator.asset_id("succeeded")
    playback = {
        "hls": "https://d1.example.net/a/index.m3u8",
        "mp4": ["https://d1.example.net/a.mp4"],
    }
    pipeline.dynamodb.update_item(
        TableName=pipeline.table,
        Key={"assetId": {"S": asset_id}},
        UpdateExpression="SET playback = :p",
        ExpressionAttributeValues={
            ":p": {"M": {"hls": {"S": playback["hls"]}, "mp4": {"L": [{"S": playback["mp4"][0]}]}}}
        },
    )
    assert operator.json("assets", "show", asset_id)["playback"] == playback
    text = operator.run("assets", "show", asset_id).stdout
    assert "Playback" in text and playback["hls"] in text and playback["mp4"][0] in text


def test_assets_show_of_an_unknown_asset_exits_1(operator: Operator) -> None:
    result = operator.run("assets", "show", "0" * 32, expect=1)
    assert f"no asset {'0' * 32}" in result.stderr
    result = operator.run("assets", "show", f"s3://{operator.pipeline.uploads}/nope.mp4", expect=1)
    assert "does not exist" in result.stderr
    result = operator.run("assets", "show", "not-an-id", expect=2)
    assert "not an asset id" in result.stderr


def test_dlq_show_groups_poison_uploads_and_job_failures_and_leaves_them(
    operator: Operator,
) -> None:
    populate(operator)
    pipeline = operator.pipeline
    before = operator.queue_bodies(pipeline.dlq_url)
    assert len(before) == 3
    [report] = operator.json("dlq", "show", "--queue", "processing", expect=1)
    groups = {group["kind"]: group for group in report["groups"]}
    assert set(groups) == {"poison", "upload", "job-failed"}
    assert groups["poison"]["count"] == 1 and groups["poison"]["assets"] == []
    assert groups["poison"]["reason"].startswith("body is not JSON")
    assert groups["upload"]["assets"] == [operator.asset_id("throttled")]
    assert groups["upload"]["reason"] == "TRANSIENT_EXHAUSTED"
    assert groups["job-failed"]["assets"] == [operator.asset_id("job_failed")]
    assert groups["job-failed"]["reason"].startswith("mp4: error 1010")
    # Read, then visible again at once: nothing moved, nothing lost.
    assert operator.queue_bodies(pipeline.dlq_url) == before
    table = operator.run("dlq", "show", expect=1).stdout
    assert "processing DLQ: 3 message(s)" in table and "events DLQ: 0 message(s)" in table
    assert operator.asset_id("job_failed") in table


def test_dlq_show_of_empty_queues_exits_0(operator: Operator) -> None:
    reports = operator.json("dlq", "show")
    assert [(r["queue"], r["read"]) for r in reports] == [
        ("processing", 0), ("events", 0), ("status", 0)
    ]  # fmt: skip


def test_status_reports_queues_alarms_jobs_and_the_last_day(operator: Operator) -> None:
    populate(operator)
    pipeline = operator.pipeline
    cloudwatch = pipeline.stack.session.client("cloudwatch")
    dlq_alarm = pipeline.stack.physical["ProcessingDeadLetterQueueNotEmptyAlarm"]["Ref"]
    cloudwatch.set_alarm_state(
        AlarmName=dlq_alarm, StateValue="ALARM", StateReason="Threshold Crossed: 1 datapoint"
    )
    # SQS publishes the age of each queue's oldest message every minute.
    queue_name = operator.outputs["ProcessingQueueUrl"].rsplit("/", 1)[-1]
    simulated_now = datetime.now(UTC) + timedelta(seconds=pipeline.clock.offset_seconds)
    cloudwatch.put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
                "Timestamp": simulated_now - timedelta(minutes=2),
                "Value": 754.0,
            }
        ],
    )
    report = operator.json("status", expect=1)
    queues = {row["queue"]: row for row in report["queues"]}
    assert queues["processing queue"]["oldest"] == 754.0
    assert queues["processing DLQ"]["visible"] == 3
    assert queues["processing queue"]["visible"] == 1  # the PENDING asset's upload
    assert queues["events DLQ"]["visible"] == queues["status DLQ"]["visible"] == 0
    [alarm] = report["alarms"]
    assert alarm["alarm"] == dlq_alarm
    assert alarm["diagnose"] == "mediapipe-cfn dlq show --stack media-e2e --queue processing"
    # The stalled asset's two jobs run on the pipeline's MediaConvert queue.
    assert report["mediaconvert"]["progressing"] == 2
    assert report["mediaconvert"]["submitted"] == 0
    assert report["last24h"] == {"PENDING": 1, "PROCESSING": 1, "SUCCEEDED": 1, "FAILED": 3}
    assert report["dashboard"] == operator.outputs["DashboardUrl"]
    text = operator.run("status", expect=1).stdout
    assert "NEEDS ATTENTION" in text and dlq_alarm in text and "2 progressing" in text
    assert "12m34s" in text  # the oldest message's age


def test_status_of_a_quiet_pipeline_exits_0(operator: Operator) -> None:
    report = operator.json("status")
    assert report["healthy"] and report["alarms"] == []
    assert "healthy" in operator.run("status").stdout


def test_a_wrong_stack_and_a_stack_that_is_no_pipeline_exit_2(operator: Operator) -> None:
    result = operator.runner.invoke(main, ["status", "--stack", "nope", "--region", "us-east-1"])
    assert result.exit_code == 2
    assert "no stack named 'nope' in us-east-1" in result.stderr
    cloudformation = operator.pipeline.stack.session.client("cloudformation")
    holder = {"Type": "AWS::SSM::Parameter",
              "Properties": {"Name": "/other", "Type": "String", "Value": "-"}}  # fmt: skip
    cloudformation.create_stack(
        StackName="other", TemplateBody=json.dumps({"Resources": {"Holder": holder}})
    )
    result = operator.runner.invoke(
        main, ["dlq", "show", "--stack", "other", "--region", "us-east-1"]
    )
    assert result.exit_code == 2
    assert "stack other in us-east-1 is not a mediapipe-cfn pipeline" in result.stderr
    assert "Traceback" not in result.output


def test_missing_credentials_and_an_unknown_aws_profile_exit_2(
    operator: Operator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = operator.run("status", expect=2)
    assert "no AWS credentials found" in result.stderr and "Traceback" not in result.output
    result = operator.run("assets", "list", "--aws-profile", "ops-team", expect=2)
    assert "AWS profile 'ops-team' is not in your AWS configuration" in result.stderr


def test_access_denied_names_the_operator_policy(
    operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def deny(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not authorized to perform: "
                       "dynamodb:Query"}}, "Query"
        )  # fmt: skip

    def dynamodb(region: str) -> Any:
        client = operator.pipeline.stack.session.client("dynamodb", region_name=region)
        client.meta.events.register("provide-client-params.dynamodb.Query", deny)
        return client

    monkeypatch.setattr(Aws, "overrides", {**Aws.overrides, "dynamodb": dynamodb})
    result = operator.run("assets", "list", expect=2)
    assert "access denied while querying ByStatus (Query)" in result.stderr
    assert "operator policy in docs/operations.md" in result.stderr


def test_bad_option_values_exit_2(operator: Operator) -> None:
    result = operator.run("assets", "list", "--since", "yesterday", expect=2)
    assert "use a number and s, m, h or d" in result.output
    operator.run("dlq", "redrive", "--queue", "graveyard", expect=2)
    result = operator.run("dlq", "redrive", "--queue", "events", "--method", "move-task", expect=2)
    assert "applies to --queue processing only" in result.output


def test_assets_list_pages_with_before(operator: Operator) -> None:
    populate(operator)
    everything = operator.json("assets", "list")
    first = operator.run("assets", "list", "--limit", "3", "--json")
    rows = json.loads(first.stdout)
    assert rows == everything[:3]
    assert f"more may follow: add --before {rows[-1]['updated']}" in first.stderr
    rest = operator.json("assets", "list", "--before", rows[-1]["updated"])
    # The boundary row is shown again, never lost.
    assert rest[0] == rows[-1] and rows + rest[1:] == everything
