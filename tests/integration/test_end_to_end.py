"""The default profile, rendered and deployed into moto, driven end to end with the built zip.

S3 upload -> (bucket's EventBridge notifications) -> upload rule -> processing queue ->
ingest-orchestrator -> fake MediaConvert -> job-state events on the bus -> job-state rule ->
job-status-processor -> MediaAssets record, manifest.json, "MediaAsset ..." events.

Everything the functions touch is created from the rendered template's own properties, and each
function runs from its own extracted copy of the zip with the environment the template gives it.
Only two stand-ins: MediaConvert (not in moto; a fake that validates every CreateJob against the
service model) and the Lambda service itself (moto cannot run the functions, so the rules'
Lambda targets deliver to a queue this test reads and invokes the function from).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "handlers"))

from handler_fakes import FakeJob, FakeLambdaContext, FakeMediaConvert, client_error  # noqa: E402
from lambda_stack import (  # noqa: E402
    ACCOUNT,
    REGION,
    LambdaFunction,
    SimulatedClock,
    TemplateStack,
    extract,
)

from mediapipe_cfn import build_template, ids, load_profile  # noqa: E402
from mediapipe_cfn.artifacts import write_handler_zip  # noqa: E402

pytestmark = pytest.mark.integration

STACK = "media-e2e"
# Packages the Lambda Python runtime provides (boto3 and what it needs); nothing else may be
# imported from outside the zip.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
SIMULATED_TIME_LIMIT_SECONDS = 3 * 24 * 3600
BURST_VALID = int(os.environ.get("BURST_VALID", "480"))
JOBS_PER_STEP = 20


@dataclass
class Pipeline:
    """Drives the deployed pipeline like the AWS services around the functions would."""

    stack: TemplateStack
    orchestrator: LambdaFunction
    processor: LambdaFunction
    mediaconvert: FakeMediaConvert
    clock: SimulatedClock
    observer_url: str
    played: set[str] = field(default_factory=set)
    orchestrator_bodies: list[str] = field(default_factory=list)
    status_failures: int = 0
    # Whether jobs report PROGRESSING before their final state (off to keep bursts quick).
    report_progress: bool = True

    def __post_init__(self) -> None:
        session = self.stack.session
        self.sqs, self.s3, self.events = (session.client(s) for s in ("sqs", "s3", "events"))
        self.dynamodb = session.client("dynamodb")
        self.queue_url = self.stack.physical[ids.PROCESSING_QUEUE]["Ref"]
        self.dlq_url = self.stack.physical[ids.PROCESSING_DLQ]["Ref"]
        self.failure_queue_url = self.stack.physical[ids.STATUS_FAILURE_QUEUE]["Ref"]
        self.uploads = self.stack.physical[ids.UPLOADS_BUCKET]["Ref"]
        self.outputs = self.stack.physical[ids.OUTPUTS_BUCKET]["Ref"]
        self.table = self.stack.physical[ids.ASSETS_TABLE]["Ref"]
        mapping = self.stack.resources("AWS::Lambda::EventSourceMapping")
        self.batch_size = int(mapping[ids.ORCHESTRATOR_EVENT_SOURCE]["BatchSize"])
        invoke_config = self.stack.resources("AWS::Lambda::EventInvokeConfig")
        self.async_retries = int(invoke_config[ids.STATUS_INVOKE_CONFIG]["MaximumRetryAttempts"])
        status_function = self.stack.resolve(
            self.stack.function(ids.STATUS_FUNCTION)["FunctionName"]
        )
        self.status_inbox = self.stack.lambda_inboxes[status_function]

    # ------------------------------------------------------------------ inputs

    def upload(self, key: str, body: bytes = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 512) -> str:
        return self.s3.put_object(Bucket=self.uploads, Key=key, Body=body)["VersionId"]

    # ------------------------------------------------------------------ the services

    def run_until_quiet(self, max_steps: int = 50_000) -> None:
        for _ in range(max_steps):
            if self._deliver_queue_batch() or self._deliver_job_events() or self._run_jobs():
                continue
            if not self._let_time_pass():
                return
        raise AssertionError("the pipeline did not settle")

    def _deliver_queue_batch(self) -> bool:
        """The SQS event source mapping: a batch to the orchestrator, then delete the successes."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.batch_size, 10),
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return False
        event = {"Records": [_lambda_record(m, self.queue_url) for m in messages]}
        self.orchestrator_bodies.extend(m["Body"] for m in messages)
        response = self.orchestrator.invoke(event, FakeLambdaContext("ingest-orchestrator"))
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return True

    def _deliver_job_events(self) -> bool:
        """Asynchronous invocation: retried on error, then sent to the on-failure destination."""
        messages = self.sqs.receive_message(
            QueueUrl=self.status_inbox, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        for message in messages:
            event = json.loads(message["Body"])
            for attempt in range(1 + self.async_retries):
                try:
                    self.processor.invoke(event, FakeLambdaContext("job-status-processor"))
                    break
                except Exception:
                    if attempt == self.async_retries:
                        self.status_failures += 1
                        self.sqs.send_message(
                            QueueUrl=self.failure_queue_url, MessageBody=message["Body"]
                        )
            self.sqs.delete_message(
                QueueUrl=self.status_inbox, ReceiptHandle=message["ReceiptHandle"]
            )
        return bool(messages)

    def _run_jobs(self) -> bool:
        """MediaConvert runs the new jobs: their state changes go to the default bus."""
        entries = []
        waiting = [job for job in self.mediaconvert.jobs if job.id not in self.played]
        # Jobs finish over time, a few at a time, not all in the same instant.
        for job in waiting[:JOBS_PER_STEP]:
            self.played.add(job.id)
            for status, detail in script(job, self.report_progress):
                event = self.mediaconvert.job_event(job, status, **detail)
                entries.append(
                    {
                        "Source": event["source"],
                        "DetailType": event["detail-type"],
                        "Detail": json.dumps(event["detail"]),
                        "Resources": event["resources"],
                    }
                )
        for start in range(0, len(entries), 10):
            answer = self.events.put_events(Entries=entries[start : start + 10])
            assert answer["FailedEntryCount"] == 0
        return bool(entries)

    def _let_time_pass(self) -> bool:
        """Nothing to do now: let a minute pass if messages wait for visibility or a delay."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        waiting = sum(int(v) for v in attributes.values())
        if not waiting or self.clock.offset_seconds > SIMULATED_TIME_LIMIT_SECONDS:
            return False
        self.clock.advance(60)
        return True

    # ------------------------------------------------------------------ outputs

    def assets(self) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        items: list[dict[str, Any]] = []
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=self.table):
            items += [{k: deserializer.deserialize(v) for k, v in i.items()} for i in page["Items"]]
        return items

    def asset(self, key: str) -> dict[str, Any]:
        [item] = [i for i in self.assets() if i["s3Key"] == key]
        return item

    def drain(self, queue_url: str) -> list[str]:
        bodies = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(message["Body"])
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _lambda_record(message: dict[str, Any], queue_url: str) -> dict[str, Any]:
    name = queue_url.rsplit("/", 1)[-1]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
        "awsRegion": REGION,
    }


def script(job: FakeJob, report_progress: bool) -> list[tuple[str, dict[str, Any]]]:
    """What MediaConvert does with a job, decided by the upload's file name."""
    source = job.request["Settings"]["Inputs"][0]["FileInput"]
    job_format = job.metadata["mediapipeFormat"]
    attempt = int(job.metadata["mediapipeAttempt"])
    name = source.rsplit("/", 1)[-1]
    progress: list[tuple[str, dict[str, Any]]] = [("PROGRESSING", {})] if report_progress else []
    if name.startswith("broken-") and job_format == "mp4":
        return [*progress, ("ERROR", {"errorCode": 1010, "errorMessage": "No parser"})]
    if name.startswith("flaky-") and job_format == "cmaf" and attempt == 1:
        return [*progress, ("ERROR", {"errorCode": 1999, "errorMessage": "Unknown"})]
    return [*progress, ("COMPLETE", {})]


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    template = build_template(load_profile("default")).to_dict()
    zip_path = write_handler_zip(tmp_path / "artifacts")
    with mock_aws():
        stack = TemplateStack(template, name=STACK)
        stack.create()
        functions = {}
        for logical_id, folder in ((ids.ORCHESTRATOR_FUNCTION, "orchestrator"),
                                   (ids.STATUS_FUNCTION, "processor")):  # fmt: skip
            properties = stack.function(logical_id)
            assert properties["Code"] == f"artifacts/{zip_path.name}", "the template ships this zip"
            functions[logical_id] = LambdaFunction(
                extract(zip_path, tmp_path / folder),
                properties["Handler"],
                stack.environment(logical_id),
            )
        mediaconvert = FakeMediaConvert(queue_arn=stack.physical[ids.MEDIACONVERT_QUEUE]["Arn"])
        functions[ids.ORCHESTRATOR_FUNCTION].runtime().clients.mediaconvert = mediaconvert
        observer_url = _observe_asset_events(stack)
        yield Pipeline(
            stack=stack,
            orchestrator=functions[ids.ORCHESTRATOR_FUNCTION],
            processor=functions[ids.STATUS_FUNCTION],
            mediaconvert=mediaconvert,
            clock=SimulatedClock(monkeypatch),
            observer_url=observer_url,
        )


def _observe_asset_events(stack: TemplateStack) -> str:
    """A downstream consumer of the pipeline's final-state events."""
    sqs, events = stack.session.client("sqs"), stack.session.client("events")
    url = sqs.create_queue(QueueName="downstream-consumer")["QueueUrl"]
    events.put_rule(Name="downstream", EventPattern=json.dumps({"source": ["mediapipe.assets"]}))
    events.put_targets(
        Rule="downstream",
        Targets=[{"Id": "consumer", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:downstream-consumer"}],
    )
    return url


def test_uploads_end_to_end_with_a_failing_job_a_retry_a_duplicate_and_a_poison_message(
    pipeline: Pipeline,
) -> None:
    keys = {
        "plain": "uploads/alice/holiday.mp4",
        "spaces": "uploads/bob/my summer video (final).mp4",
        "unicode": "uploads/dora/café déjà vu \u2013 東京.mkv",
        "plus": "uploads/gus/c++ talk 100%.mov",
        "broken": "uploads/erin/broken-clip.mp4",
        "flaky": "uploads/frank/flaky-clip.mov",
        "invalid": "uploads/erin/notes.txt",
    }
    for key in keys.values():
        pipeline.upload(key)
    pipeline.upload("elsewhere/ignored.mp4")  # outside the ingest prefix: the rule drops it
    pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody="{not json")
    pipeline.run_until_quiet()
    # A late duplicate delivery of the first upload's event.
    first = next(b for b in pipeline.orchestrator_bodies if keys["plain"] in b)
    pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=first)
    pipeline.run_until_quiet()

    records = pipeline.assets()
    assert sorted(r["s3Key"] for r in records) == sorted(keys.values())
    for name in ("plain", "spaces", "unicode", "plus", "flaky"):
        item = pipeline.asset(keys[name])
        assert item["status"] == "SUCCEEDED", (name, item.get("errors"))
        assert set(item["outputs"]) == {"cmaf", "mp4"}
        manifest = pipeline.s3.get_object(
            Bucket=pipeline.outputs, Key=f"{item['outputPrefix']}manifest.json"
        )
        assert json.loads(manifest["Body"].read())["assetId"] == item["assetId"]
    assert len(pipeline.asset(keys["flaky"])["jobIds"]) == 3  # cmaf twice, mp4 once

    broken = pipeline.asset(keys["broken"])
    assert broken["status"] == "FAILED" and broken["failureKind"] == "JOB_FAILED"
    assert any(e.get("code") == 1010 for e in broken["errors"])
    invalid = pipeline.asset(keys["invalid"])
    assert (
        invalid["status"] == "FAILED"
        and "'.txt' is not accepted" in invalid["errors"][0]["message"]
    )

    dead = pipeline.drain(pipeline.dlq_url)
    assert "{not json" in dead, "the poison message ends in the dead-letter queue"
    failures = [json.loads(b) for b in dead if "job-failed" in b]
    assert [(f["assetId"], f["format"]) for f in failures] == [(broken["assetId"], "mp4")]

    announced = [json.loads(b) for b in pipeline.drain(pipeline.observer_url)]
    kinds = sorted((e["detail-type"], e["detail"]["assetId"]) for e in announced)
    assert len(kinds) == len(keys), "one announcement per asset, duplicates included"
    assert sum(k == "MediaAsset Processed" for k, _ in kinds) == 5
    jobs_per_asset = {}
    for job in pipeline.mediaconvert.jobs:
        jobs_per_asset.setdefault(job.metadata["mediapipeAssetId"], []).append(job)
    assert len(jobs_per_asset) == 6 and sum(map(len, jobs_per_asset.values())) == 13
    assert not pipeline.mediaconvert.create_job_findings
    assert pipeline.status_failures == 0


def test_a_burst_of_500_uploads_loses_nothing(pipeline: Pipeline) -> None:
    original = pipeline.mediaconvert.create_job
    calls = {"n": 0}

    def sometimes_throttled(**request: Any) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] % 40 == 0:
            raise client_error("TooManyRequestsException", "CreateJob")
        return original(**request)

    pipeline.mediaconvert.create_job = sometimes_throttled  # type: ignore[method-assign]
    pipeline.report_progress = False
    keys = [f"uploads/user{i % 37:02d}/clip-{i:04d}.mp4" for i in range(BURST_VALID)]
    keys += [f"uploads/user{i:02d}/broken-{i:04d}.mp4" for i in range(10)]
    keys += [f"uploads/user{i:02d}/notes-{i:04d}.txt" for i in range(10)]
    started = time.monotonic()
    for key in keys:
        pipeline.upload(key, body=b"\x00" * 64)
    pipeline.run_until_quiet()
    elapsed = time.monotonic() - started

    records = {r["s3Key"]: r for r in pipeline.assets()}
    dead = pipeline.drain(pipeline.dlq_url)
    lost = [k for k in keys if k not in records and not any(k in body for body in dead)]
    assert lost == []
    statuses = {}
    for record in records.values():
        statuses[record["status"]] = statuses.get(record["status"], 0) + 1
        if record["status"] == "FAILED":
            assert record["errors"], record["s3Key"]
    assert statuses == {"SUCCEEDED": BURST_VALID, "FAILED": 20}
    per_format = {}
    for job in pipeline.mediaconvert.jobs:
        key = (job.metadata["mediapipeAssetId"], job.metadata["mediapipeFormat"])
        per_format[key] = per_format.get(key, 0) + 1
    assert len(per_format) == (BURST_VALID + 10) * 2, "every format of every asset has a job"
    assert set(per_format.values()) == {1}, "never submitted twice"
    assert calls["n"] > len(per_format), "some submissions were throttled and retried"
    assert pipeline.status_failures == 0
    print(f"burst of {len(keys)} uploads settled in {elapsed:.1f} s")


def test_the_zip_imports_nothing_lambda_does_not_provide(tmp_path: Path) -> None:
    code_dir = extract(write_handler_zip(tmp_path / "artifacts"), tmp_path / "code")
    runtime_dir = tmp_path / "runtime"
    runtime_dir.mkdir()
    import importlib.util

    for package in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.origin is not None
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime_dir / source.name).symlink_to(source)
    code = (
        "import sys\n"
        f"sys.path[:0] = [{str(code_dir)!r}, {str(runtime_dir)!r}]\n"
        "import mediapipe_handlers.ingest_orchestrator, mediapipe_handlers.job_status_processor\n"
        "for name in ('pydantic', 'troposphere', 'yaml', 'awacs', 'cfnlint'):\n"
        "    assert name not in sys.modules, name\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-I", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ.get("PATH", "")},
    )
    assert result.returncode == 0, result.stderr
