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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "handlers"))

from handler_fakes import (  # noqa: E402
    FakeJob,
    FakeLambdaContext,
    FakeMediaConvert,
    SimulatedCrash,
    client_error,
)
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
# Simulated time after which the reconciler looks at a quiet pipeline (past its stuck deadline).
RECONCILE_AFTER_SECONDS = 3600
BURST_VALID = int(os.environ.get("BURST_VALID", "480"))
JOBS_PER_STEP = 20
# Inside the burst: the CreateJob call at which a throttle storm starts, and after which the
# orchestrator dies.
STORM_START = 200
CRASH_AT = 121


@dataclass
class Pipeline:
    """Drives the deployed pipeline like the AWS services around the functions would."""

    stack: TemplateStack
    orchestrator: LambdaFunction
    processor: LambdaFunction
    reconciler: LambdaFunction
    mediaconvert: FakeMediaConvert
    clock: SimulatedClock
    observer_url: str
    played: set[str] = field(default_factory=set)
    canceled: set[str] = field(default_factory=set)
    orchestrator_bodies: list[str] = field(default_factory=list)
    status_failures: int = 0
    # Whether jobs report PROGRESSING before their final state (off to keep bursts quick).
    report_progress: bool = True
    crashes: int = 0  # invocations that died (SimulatedCrash) and were retried by their source
    reconciler_runs: int = 0
    last_reconcile: float = 0.0

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

    def upload(self, key: str, body: bytes | None = None) -> str:
        # The bytes name the file: what a job does is decided by what it reads (see script()).
        content = body if body is not None else SOURCE_HEADER + key.encode()
        return self.s3.put_object(Bucket=self.uploads, Key=key, Body=content)["VersionId"]

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
        try:
            response = self.orchestrator.invoke(event, FakeLambdaContext("ingest-orchestrator"))
        except SimulatedCrash:
            # The invocation died: nothing is deleted, the batch returns after its visibility
            # timeout (and the messages the handler deleted early stay deleted).
            self.crashes += 1
            return True
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
                except (Exception, SimulatedCrash) as error:
                    self.crashes += isinstance(error, SimulatedCrash)
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
        # A canceled job says so once (whether it had started or not).
        for job in self.mediaconvert.jobs:
            if job.status == "CANCELED" and job.id not in self.canceled:
                self.canceled.add(job.id)
                self.played.add(job.id)
                entries.append(self._entry(job, "CANCELED", {}))
        waiting = [job for job in waiting if job.id not in self.played]
        # Jobs finish over time, a few at a time, not all in the same instant.
        for job in waiting[:JOBS_PER_STEP]:
            self.played.add(job.id)
            for status, detail in script(job, self.report_progress, self.s3):
                if status == LOST_COMPLETE:
                    self.mediaconvert.finish(job, "COMPLETE")
                    continue
                self.mediaconvert.finish(
                    job, status, detail.get("errorCode") if status == "ERROR" else None
                )
                entries.append(self._entry(job, status, detail))
        for start in range(0, len(entries), 10):
            answer = self.events.put_events(Entries=entries[start : start + 10])
            assert answer["FailedEntryCount"] == 0
        return bool(entries)

    def _entry(self, job: FakeJob, status: str, detail: dict[str, Any]) -> dict[str, Any]:
        event = self.mediaconvert.job_event(job, status, **detail)
        return {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]),
            "Resources": event["resources"],
        }

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
        if self.clock.offset_seconds > SIMULATED_TIME_LIMIT_SECONDS:
            return False
        if not waiting:
            # Quiet: the scheduled reconciler is the last to speak, once past its deadline.
            if self.clock.offset_seconds - self.last_reconcile < RECONCILE_AFTER_SECONDS:
                self.clock.advance(RECONCILE_AFTER_SECONDS)
            return self.reconcile()
        self.clock.advance(60)
        return True

    def reconcile(self) -> bool:
        """One scheduled run of the reconciler; whether it found anything to do."""
        self.last_reconcile = self.clock.offset_seconds
        self.reconciler_runs += 1
        summary = self.reconciler.invoke(
            {"source": "aws.events", "detail-type": "Scheduled Event"},
            FakeLambdaContext("reconciler", remaining_ms=300_000),
        )
        return any(
            summary[k] for k in ("announced", "jobsApplied", "nudged", "deadLettersRecorded")
        )

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

    def dead_letters(self) -> list[str]:
        """The processing DLQ's messages (drained), including those the reconciler holds."""
        self.clock.advance(3600)  # past the time a reconciler run hides what it read
        return self.drain(self.dlq_url)

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


SOURCE_HEADER = b"\x00\x00\x00\x18ftypmp42"


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


def script(job: FakeJob, report_progress: bool, s3: Any) -> list[tuple[str, dict[str, Any]]]:
    """What MediaConvert does with a job, decided by the bytes it reads: the uploads carry the
    name they were uploaded under (see Pipeline.upload)."""
    bucket, _, key = job.request["Settings"]["Inputs"][0]["FileInput"][5:].partition("/")
    content = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    job_format = job.metadata["mediapipeFormat"]
    attempt = int(job.metadata["mediapipeAttempt"])
    name = content[len(SOURCE_HEADER) :].decode().rsplit("/", 1)[-1]
    progress: list[tuple[str, dict[str, Any]]] = [("PROGRESSING", {})] if report_progress else []
    if name.startswith("broken-") and job_format == "mp4":
        return [*progress, ("ERROR", {"errorCode": 1010, "errorMessage": "No parser"})]
    if name.startswith("flaky-") and job_format == "cmaf" and attempt == 1:
        return [*progress, ("ERROR", {"errorCode": 1999, "errorMessage": "Unknown"})]
    if name.startswith("stalled-"):  # runs and runs: only the reconciler's deadline ends it
        return [("PROGRESSING", {})]
    if name.startswith("halting-"):  # mp4 fails for good while cmaf is still running
        if job_format == "mp4":
            return [("ERROR", {"errorCode": 1010, "errorMessage": "No parser"})]
        return [("PROGRESSING", {})]
    if name.startswith("lost-"):  # completes, but its events never reach the bus
        return [(LOST_COMPLETE, {})]
    return [*progress, ("COMPLETE", {})]


# The status of a job that finishes without sending its event (see script()).
LOST_COMPLETE = "COMPLETE (event lost)"


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
                                   (ids.STATUS_FUNCTION, "processor"),
                                   (ids.RECONCILER_FUNCTION, "reconciler")):  # fmt: skip
            properties = stack.function(logical_id)
            assert properties["Code"] == f"artifacts/{zip_path.name}", "the template ships this zip"
            functions[logical_id] = LambdaFunction(
                extract(zip_path, tmp_path / folder),
                properties["Handler"],
                stack.environment(logical_id),
            )
        mediaconvert = FakeMediaConvert(queue_arn=stack.physical[ids.MEDIACONVERT_QUEUE]["Arn"])
        clock = SimulatedClock(monkeypatch)
        for function in functions.values():
            function.runtime().clients.mediaconvert = mediaconvert
            # The handlers' clock moves with the simulated one (leases, deadlines).
            handler_clock = function.loaded_module("mediapipe_handlers.clock")
            real_now = handler_clock.utc_now
            monkeypatch.setattr(
                handler_clock,
                "utc_now",
                lambda real_now=real_now: real_now() + timedelta(seconds=clock.offset_seconds),
            )
        mediaconvert.now = lambda: datetime.now(UTC) + timedelta(seconds=clock.offset_seconds)
        observer_url = _observe_asset_events(stack)
        yield Pipeline(
            stack=stack,
            orchestrator=functions[ids.ORCHESTRATOR_FUNCTION],
            processor=functions[ids.STATUS_FUNCTION],
            reconciler=functions[ids.RECONCILER_FUNCTION],
            mediaconvert=mediaconvert,
            clock=clock,
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

    dead = pipeline.dead_letters()
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


def test_a_burst_of_uploads_with_a_crash_and_a_throttle_storm_loses_nothing(
    pipeline: Pipeline,
) -> None:
    """BURST_VALID (480 here; benchmarks/burst.py runs 1,980) good uploads, 10 broken, 10 not
    video. Inside the burst: a throttle storm (CreateJob refused 60 times in a row, plus one
    call in 40 throughout), an orchestrator that dies right after one CreateJob, and a status
    processor that dies between a final write and its announcements."""
    original = pipeline.mediaconvert.create_job
    calls = {"n": 0}

    def throttled(**request: Any) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] % 40 == 0 or STORM_START <= calls["n"] < STORM_START + 60:
            raise client_error("TooManyRequestsException", "CreateJob")
        if calls["n"] == CRASH_AT:
            pipeline.mediaconvert.crash_after_create = SimulatedCrash("orchestrator dies")
        return original(**request)

    pipeline.mediaconvert.create_job = throttled  # type: ignore[method-assign]
    _crash_once_before_a_manifest(pipeline)
    api_calls = _count_api_calls(pipeline)
    pipeline.report_progress = False
    keys = [f"uploads/user{i % 37:02d}/clip-{i:04d}.mp4" for i in range(BURST_VALID)]
    keys += [f"uploads/user{i:02d}/broken-{i:04d}.mp4" for i in range(10)]
    keys += [f"uploads/user{i:02d}/notes-{i:04d}.txt" for i in range(10)]
    started = time.monotonic()
    for key in keys:
        pipeline.upload(key)
    pipeline.run_until_quiet()
    elapsed = time.monotonic() - started

    records = {r["s3Key"]: r for r in pipeline.assets()}
    assert sorted(records) == sorted(keys), "one record per upload"
    statuses: dict[str, int] = {}
    for record in records.values():
        statuses[record["status"]] = statuses.get(record["status"], 0) + 1
        if record["status"] == "FAILED":
            assert record["errors"] and record["failureKind"], record["s3Key"]
        assert record.get("finalNotifiedAt") and "outbox" not in record, record["s3Key"]
    assert statuses == {"SUCCEEDED": BURST_VALID, "FAILED": 20}
    per_attempt: dict[tuple[str, str, str], int] = {}
    for job in pipeline.mediaconvert.jobs:
        metadata = job.metadata
        key = (
            metadata["mediapipeAssetId"],
            metadata["mediapipeFormat"],
            metadata["mediapipeAttempt"],
        )
        per_attempt[key] = per_attempt.get(key, 0) + 1
    assert len({k[:2] for k in per_attempt}) == (BURST_VALID + 10) * 2, "every format has a job"
    assert set(per_attempt.values()) == {1}, "never two jobs for one attempt"
    assert pipeline.crashes >= 2, "the crashes happened"
    assert calls["n"] > len(per_attempt) + 60, "the storm and the throttles were retried"
    # The dead-letter queue holds one job-failed notice per broken upload, each named by the
    # FAILED record of its asset.
    dead = [json.loads(body) for body in pipeline.dead_letters()]
    assert sorted(d["mediapipeCommand"] for d in dead) == ["job-failed"] * 10
    by_id = {r["assetId"]: r for r in records.values()}
    assert all(by_id[d["assetId"]]["status"] == "FAILED" for d in dead)
    assert all(by_id[d["assetId"]].get("deadLetters") for d in dead)
    per_asset = {service: n / len(keys) for service, n in sorted(api_calls.items())}
    print(
        f"burst of {len(keys)} uploads settled in {elapsed:.1f} s; {pipeline.crashes} crashes, "
        f"{calls['n']} CreateJob calls for {len(per_attempt)} jobs, "
        f"{pipeline.reconciler_runs} reconciler runs; AWS calls per asset: "
        + ", ".join(f"{service} {n:.2f}" for service, n in per_asset.items())
    )


def _crash_once_before_a_manifest(pipeline: Pipeline) -> None:
    """The status processor dies once between a SUCCEEDED write and the manifest."""
    left = [1]

    def hook(params: dict[str, Any], **_: Any) -> None:
        if left[0] and str(params.get("Key", "")).endswith("manifest.json"):
            left[0] = 0
            raise SimulatedCrash("status processor dies")

    client = pipeline.processor.runtime().clients.s3
    client.meta.events.register("provide-client-params.s3.PutObject", hook)


def _count_api_calls(pipeline: Pipeline) -> dict[str, int]:
    """Every AWS call the three functions make, by service (MediaConvert's from the fake)."""
    counts: dict[str, int] = {}

    def count(model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        counts[service] = counts.get(service, 0) + 1

    for function in (pipeline.orchestrator, pipeline.processor, pipeline.reconciler):
        clients = function.runtime().clients
        for name in ("dynamodb", "sqs", "s3", "s3_copy", "events", "sns", "ssm", "kms"):
            getattr(clients, name).meta.events.register("provide-client-params.*.*", count)

    class Counting(list):  # type: ignore[type-arg]
        def append(self, call: Any) -> None:
            counts["mediaconvert"] = counts.get("mediaconvert", 0) + 1
            super().append(call)

    pipeline.mediaconvert.calls = Counting(pipeline.mediaconvert.calls)
    return counts


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
