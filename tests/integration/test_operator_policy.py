"""The operator policies in docs/operations.md cover exactly the calls the commands make.

Every command runs against the pipeline in moto through each of its paths while botocore's
history (and the stand-ins for MediaConvert and Lambda) record every API call; each command's
calls must be those :data:`COMMAND_CALLS` lists, all of them. The policies generated from that
list are the ones the docs print, and parliament finds nothing wrong with them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from iam_calls import InvocationWatch
from operations_harness import KEYS, Operator, populate

from mediapipe_cfn.operations.policy import (
    CALL_GRANTS,
    COMMAND_CALLS,
    docs_section,
    operator_policies,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SECURITY_TESTS = str(REPO / "tests" / "security")
# moto has no message-move API: tests/unit/test_operations_move_task.py drives this call.
EXERCISED_BY_THE_STUBBER = {"dlq redrive": {"sqs.ListMessageMoveTasks"}}
SAMPLE_VALUES = {
    "REGION": "us-east-1",
    "ACCOUNT": "123456789012",
    "KMS_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "UPLOADS_BUCKET": "media-uploadsbucket-1a2b3c4d",
    "STACK": "media",
}


@contextmanager
def _recording(operator: Operator, watch: InvocationWatch, command: str) -> Iterator[None]:
    """The calls made while ``command`` runs, the stand-ins' included."""
    mediaconvert, lambdas = operator.pipeline.mediaconvert, operator.lambda_service
    before = (len(mediaconvert.calls), len(lambdas.calls))
    with watch.invoking(command):
        yield
    stand_ins = [("mediaconvert", op) for op, _ in mediaconvert.calls[before[0] :]]
    stand_ins += [("lambda", op) for op, _ in lambdas.calls[before[1] :]]
    for service, operation in stand_ins:
        watch.calls.append((command, f"{service}.{operation}"))


def _run_every_path(operator: Operator, watch: InvocationWatch) -> None:
    pipeline = operator.pipeline
    ids = {name: operator.asset_id(name) for name in KEYS}
    uploads = pipeline.uploads
    with _recording(operator, watch, "assets show"):
        operator.run("assets", "show", ids["job_failed"])
        operator.run("assets", "show", f"s3://{uploads}/{KEYS['succeeded']}")
    with _recording(operator, watch, "assets list"):
        operator.run("assets", "list", "--status", "FAILED", "--since", "7d")
        operator.run("assets", "list", "--uploader", "erin")
        operator.run("assets", "list")
    with _recording(operator, watch, "dlq show"):
        operator.run("dlq", "show", expect=1)
    with _recording(operator, watch, "status"):
        operator.run("status", expect=1)
    with _recording(operator, watch, "assets retry"):
        operator.run("assets", "retry", ids["throttled"], f"s3://{uploads}/{KEYS['processing']}",
                     "--stuck-after", "1h")  # fmt: skip
    # Something for each of the other two queues to replay.
    events_dlq = operator.outputs["EventDeliveryDeadLetterQueueUrl"]
    status_dlq = operator.outputs["StatusProcessorFailureQueueUrl"]
    [job] = [j for j in pipeline.mediaconvert.jobs if j.metadata["mediapipeFormat"] == "mp4"][:1]
    event = pipeline.mediaconvert.job_event(job, "COMPLETE")
    pipeline.sqs.send_message(QueueUrl=events_dlq, MessageBody=json.dumps(event))
    pipeline.sqs.send_message(
        QueueUrl=status_dlq, MessageBody=json.dumps({"requestPayload": event})
    )
    # An event no pipeline function takes stays in its queue (made visible again).
    stray = {"source": "aws.other", "detail-type": "Something", "detail": {}}
    pipeline.sqs.send_message(QueueUrl=events_dlq, MessageBody=json.dumps(stray))
    with _recording(operator, watch, "dlq redrive"):
        operator.run("dlq", "redrive", "--queue", "processing")
        operator.run("dlq", "redrive", "--queue", "events", expect=1)
        operator.run("dlq", "redrive", "--queue", "status")


def test_each_command_makes_exactly_the_calls_its_policy_covers(operator: Operator) -> None:
    populate(operator)
    watch = InvocationWatch()
    with watch.watching():
        _run_every_path(operator, watch)
    seen: dict[str, set[str]] = {}
    for command, call in watch.calls:
        seen.setdefault(command, set()).add(call)
    assert set(seen) == set(COMMAND_CALLS)
    for command, calls in COMMAND_CALLS.items():
        assert seen[command] <= calls, f"{command} made unlisted calls {seen[command] - calls}"
        missing = calls - seen[command] - EXERCISED_BY_THE_STUBBER.get(command, set())
        assert not missing, f"{command}: listed calls never made: {missing}"


def test_every_listed_call_has_its_grants() -> None:
    listed = {call for calls in COMMAND_CALLS.values() for call in calls}
    assert set(CALL_GRANTS) == listed
    assert all(CALL_GRANTS[call] for call in listed)


def test_the_docs_print_the_generated_policies() -> None:
    docs = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    assert docs_section(operator_policies()) in docs, (
        "docs/operations.md is out of date: python -m mediapipe_cfn.operations.policy "
        "docs/operations.md"
    )


def test_parliament_finds_nothing_wrong_with_the_policies() -> None:
    if SECURITY_TESTS not in sys.path:
        sys.path.insert(0, SECURITY_TESTS)
    from sample_deployment import require_security_tools

    from mediapipe_cfn.security.parliament import FAILING_SEVERITY, run_parliament, severity_rank
    from mediapipe_cfn.security.policies import IamPolicy, PolicyKind
    from mediapipe_cfn.security.tools import parliament_python

    require_security_tools()
    python = parliament_python()
    assert python is not None
    named = []
    for name, document in operator_policies().items():
        text = json.dumps(document)
        for placeholder, value in SAMPLE_VALUES.items():
            text = text.replace(placeholder, value)
        policy = IamPolicy(
            name=name,
            kind=PolicyKind.IDENTITY,
            logical_id="OperatorRole",
            resource_type="AWS::IAM::ManagedPolicy",
            path="PolicyDocument",
            document=json.loads(text),
            attached_to=("arn:aws:iam::123456789012:role/media-operator",),
        )
        named.append((name, policy))
    findings = run_parliament(python, named)
    failing = [f for f in findings if severity_rank(f.severity) >= severity_rank(FAILING_SEVERITY)]
    assert not failing, [f"{f.policy}: {f.issue} {f.detail}" for f in failing]
