"""The runtime half of the template: MediaConvert, Lambda, SNS, dashboard and alarms.

Assertions are on the rendered template's properties (``Template.to_dict()``), so they check
what CloudFormation receives, not how the components build it.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mediapipe_cfn import contract, ids
from mediapipe_cfn.components import _refs, compute, notifications, observability
from mediapipe_cfn.contract import Env
from mediapipe_cfn.profile import Profile, load_profile, parse_profile
from mediapipe_cfn.template import build_template

REPO = Path(__file__).resolve().parents[2]
LOCAL_CODE = "artifacts/mediapipe-handlers.zip"
PACKAGED_CODE = {"S3Bucket": "artifact-bucket", "S3Key": "0123456789abcdef"}
FUNCTION_IDS = (ids.ORCHESTRATOR_FUNCTION, ids.STATUS_FUNCTION, ids.RECONCILER_FUNCTION)
ROLE_OF = {
    ids.ORCHESTRATOR_FUNCTION: ids.ORCHESTRATOR_ROLE,
    ids.STATUS_FUNCTION: ids.STATUS_ROLE,
    ids.RECONCILER_FUNCTION: ids.RECONCILER_ROLE,
}
# Actions that support no resource-level permissions, so "*" is their only possible resource.
ACTIONS_WITHOUT_RESOURCE_TYPES = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "mediaconvert:Probe",
}
# Env names the template may leave unset: the handlers fall back to a default.
# Not set by the default profile: an endpoint override, playback (delivery off) and the
# capacity table (no capacity section).
OPTIONAL_ENV = {Env.MEDIACONVERT_ENDPOINT, Env.PLAYBACK_BASE_URL, Env.CAPACITY_TABLE}


@cache
def _rendered(profile_json: str, code_json: str) -> dict[str, Any]:
    profile = Profile.model_validate_json(profile_json)
    template = build_template(profile, handler_code=json.loads(code_json))
    return template.to_dict()


def template_for(profile: Profile | str = "default", code: Any = LOCAL_CODE) -> dict[str, Any]:
    loaded = load_profile(profile) if isinstance(profile, str) else profile
    return _rendered(loaded.model_dump_json(), json.dumps(code))


def profile_with(**sections: Any) -> Profile:
    return Profile.model_validate(sections)


def resource(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]


def props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return resource(template, logical_id)["Properties"]


def statements_of_role(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in props(template, role_id)["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def statement(template: dict[str, Any], role_id: str, sid: str) -> dict[str, Any]:
    matches = [s for s in statements_of_role(template, role_id) if s["Sid"] == sid]
    assert len(matches) == 1, f"{role_id} has {len(matches)} statements {sid!r}"
    return matches[0]


def actions(statement_: dict[str, Any]) -> set[str]:
    value = statement_["Action"]
    return {value} if isinstance(value, str) else set(value)


def all_policy_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every statement of every IAM role and SNS topic policy, with its resource's ID."""
    for logical_id, body in template["Resources"].items():
        properties = body.get("Properties", {})
        documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
        if body["Type"] == "AWS::SNS::TopicPolicy":
            documents.append(properties["PolicyDocument"])
        for document in documents:
            for item in document["Statement"]:
                yield logical_id, item


# --- Resolving expressions to sample values -------------------------------------------------

SAMPLE_PSEUDO = {
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "111122223333",
    "AWS::Partition": "aws",
    "AWS::StackName": "media-prod",
    "AWS::URLSuffix": "amazonaws.com",
}


def sample_value(name: str) -> str:
    """A plausible value for a Ref or GetAtt target (``X`` or ``X.Attribute``)."""
    if name in SAMPLE_PSEUDO:
        return SAMPLE_PSEUDO[name]
    if name.endswith(".Arn"):
        return f"arn:aws:service:eu-west-1:111122223333:{name[:-4].lower()}"
    return f"sample-{name.replace('.', '-').lower()}"


def substitute(text: str) -> str:
    return re.sub(r"\$\{([^}!]+)\}", lambda m: sample_value(m.group(1)), text)


def resolve(value: Any) -> Any:
    """Turn a template expression into a sample string, taking the first branch of every If."""
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return sample_value(argument)
        if function == "Fn::GetAtt":
            return sample_value(".".join(argument))
        if function == "Fn::Sub":
            return substitute(argument if isinstance(argument, str) else argument[0])
        if function == "Fn::If":
            return resolve(argument[1])
    if isinstance(value, dict):
        return {k: resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v) for v in value]
    return value


def key_case(value: Any, create_key: bool) -> Any:
    """``value`` for a created (True) or an existing key: CreateKmsKey decided, NoValue dropped."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        name, when_true, when_false = value["Fn::If"]
        if name == ids.C_CREATE_KMS_KEY:
            return key_case(when_true if create_key else when_false, create_key)
    if isinstance(value, dict):
        decided = {k: key_case(v, create_key) for k, v in value.items()}
        return {k: v for k, v in decided.items() if v != {"Ref": "AWS::NoValue"}}
    return value


# --- Lambda functions -----------------------------------------------------------------------


@pytest.mark.parametrize("function_id", FUNCTION_IDS)
def test_environment_names_all_come_from_the_contract(function_id: str) -> None:
    variables = props(template_for(), function_id)["Environment"]["Variables"]
    contract_names = {str(name) for name in Env}
    assert set(variables) <= contract_names
    assert contract_names - set(variables) == {str(name) for name in OPTIONAL_ENV}


@pytest.mark.parametrize("function_id", FUNCTION_IDS)
def test_environment_is_what_the_handlers_read(function_id: str) -> None:
    sys.path.insert(0, str(REPO / "handlers"))
    try:
        from mediapipe_handlers.environment import HandlerEnvironment
    finally:
        sys.path.remove(str(REPO / "handlers"))
    variables = resolve(props(template_for(), function_id)["Environment"]["Variables"])
    environment = HandlerEnvironment.from_environ({**variables, "AWS_REGION": "eu-west-1"})
    assert environment.pipeline_id == SAMPLE_PSEUDO["AWS::StackName"]
    assert environment.processing_queue_url == sample_value(ids.PROCESSING_QUEUE)
    assert environment.transcode_parameter == sample_value(ids.TRANSCODE_PARAMETER)
    assert environment.notification_topic_arn is None  # the default profile publishes no SNS


def test_environment_points_at_the_stacks_resources() -> None:
    variables = props(template_for(), ids.ORCHESTRATOR_FUNCTION)["Environment"]["Variables"]
    assert variables[Env.TABLE_NAME] == {"Ref": ids.ASSETS_TABLE}
    assert variables[Env.PROCESSING_QUEUE_URL] == {"Ref": ids.PROCESSING_QUEUE}
    assert variables[Env.DEAD_LETTER_QUEUE_URL] == {"Ref": ids.PROCESSING_DLQ}
    assert variables[Env.TRANSCODE_PARAMETER] == {"Ref": ids.TRANSCODE_PARAMETER}
    assert variables[Env.MEDIACONVERT_QUEUE_ARN] == {"Fn::GetAtt": [ids.MEDIACONVERT_QUEUE, "Arn"]}
    assert variables[Env.PIPELINE_ID] == {"Ref": "AWS::StackName"}
    assert variables[Env.MEDIACONVERT_ROLE_ARN]["Fn::If"][0] == ids.C_CREATE_MEDIACONVERT_ROLE


def test_notification_topic_is_set_only_when_the_profile_publishes_final_states() -> None:
    quiet = props(template_for(), ids.STATUS_FUNCTION)["Environment"]["Variables"]
    assert quiet[Env.NOTIFICATION_TOPIC_ARN] == ""
    loud_profile = profile_with(notifications={"sns_on_final_state": True})
    loud = props(template_for(loud_profile), ids.STATUS_FUNCTION)["Environment"]["Variables"]
    assert loud[Env.NOTIFICATION_TOPIC_ARN] == {"Ref": ids.ASSET_EVENTS_TOPIC}


def test_metrics_namespace_and_service_names() -> None:
    template = template_for()
    namespaces = {
        props(template, f)["Environment"]["Variables"][Env.METRICS_NAMESPACE] for f in FUNCTION_IDS
    }
    assert namespaces == {_refs.metrics_namespace(load_profile("default"))}
    services = [
        props(template, f)["Environment"]["Variables"][Env.SERVICE_NAME] for f in FUNCTION_IDS
    ]
    assert services == ["ingest-orchestrator", "job-status-processor", "reconciler"]


def test_function_settings_come_from_the_profile() -> None:
    profile = load_profile("prod")
    template = template_for(profile)
    for function_id, settings in (
        (ids.ORCHESTRATOR_FUNCTION, profile.functions.orchestrator),
        (ids.STATUS_FUNCTION, profile.functions.status_processor),
    ):
        function = props(template, function_id)
        assert function["MemorySize"] == settings.memory_mb
        assert function["Timeout"] == settings.timeout_seconds
        assert function.get("ReservedConcurrentExecutions") == settings.reserved_concurrency
        assert function["Runtime"] == profile.functions.runtime
        assert function["Architectures"] == [profile.functions.architecture]
        assert function["TracingConfig"] == {"Mode": profile.functions.tracing}
    assert props(template, ids.ORCHESTRATOR_FUNCTION)["Handler"] == (
        "mediapipe_handlers.ingest_orchestrator.handler"
    )
    assert props(template, ids.STATUS_FUNCTION)["Handler"] == (
        "mediapipe_handlers.job_status_processor.handler"
    )


@pytest.mark.parametrize(
    ("function_id", "log_group_id"),
    [
        (ids.ORCHESTRATOR_FUNCTION, ids.ORCHESTRATOR_LOG_GROUP),
        (ids.STATUS_FUNCTION, ids.STATUS_LOG_GROUP),
    ],
)
def test_each_function_logs_json_to_its_own_log_group(function_id: str, log_group_id: str) -> None:
    template = template_for("prod")
    function = props(template, function_id)
    log_group = props(template, log_group_id)
    assert (
        log_group["LogGroupName"]["Fn::Sub"] == "/aws/lambda/" + function["FunctionName"]["Fn::Sub"]
    )
    assert log_group["RetentionInDays"] == load_profile("prod").functions.log_retention_days
    assert log_group["KmsKeyId"]["Fn::If"][0] == ids.C_CREATE_KMS_KEY
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": log_group_id}
    assert function["LoggingConfig"]["LogFormat"] == "JSON"
    logs = statement(template, ROLE_OF[function_id], "WriteOwnLogs")
    assert logs["Resource"] == [{"Fn::GetAtt": [log_group_id, "Arn"]}]


def test_warning_log_level_uses_lambdas_name_for_it() -> None:
    template = template_for(profile_with(functions={"log_level": "WARNING"}))
    function = props(template, ids.ORCHESTRATOR_FUNCTION)
    assert function["LoggingConfig"]["ApplicationLogLevel"] == "WARN"
    assert function["Environment"]["Variables"][Env.LOG_LEVEL] == "WARNING"


def test_function_names_fit_lambdas_limit_for_the_longest_allowed_stack_name() -> None:
    longest = "s" * compute.MAX_STACK_NAME_LENGTH
    template = template_for()
    for function_id in FUNCTION_IDS:
        name = props(template, function_id)["FunctionName"]["Fn::Sub"]
        assert len(name.replace("${AWS::StackName}", longest)) <= 64
    assert len("job-status-processor") + 1 + compute.MAX_STACK_NAME_LENGTH == 64


def test_local_code_path_waives_only_the_package_warning() -> None:
    template = template_for(code=LOCAL_CODE)
    for function_id in FUNCTION_IDS:
        assert props(template, function_id)["Code"] == LOCAL_CODE
        metadata = resource(template, function_id)["Metadata"]
        assert metadata["cfn-lint"] == {"config": {"ignore_checks": ["W3002"]}}


def test_packaged_code_is_an_s3_location_without_waivers() -> None:
    template = template_for(code=PACKAGED_CODE)
    for function_id in FUNCTION_IDS:
        assert props(template, function_id)["Code"] == PACKAGED_CODE
        assert "cfn-lint" not in resource(template, function_id)["Metadata"]


def checkov_skips(template: dict[str, Any], function_id: str) -> dict[str, str]:
    skips = resource(template, function_id)["Metadata"]["checkov"]["skip"]
    return {skip["id"]: skip["comment"] for skip in skips}


def test_scanner_skips_are_explained_and_only_where_they_apply() -> None:
    default = template_for()
    orchestrator = checkov_skips(default, ids.ORCHESTRATOR_FUNCTION)
    assert set(orchestrator) == {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"}
    assert "redrive" in orchestrator["CKV_AWS_116"]
    assert "on-failure destination" in checkov_skips(default, ids.STATUS_FUNCTION)["CKV_AWS_116"]
    assert all(len(reason) > 40 for reason in orchestrator.values())
    # prod reserves concurrency for the status processor: that check passes and is not skipped.
    prod = template_for("prod")
    assert props(prod, ids.STATUS_FUNCTION)["ReservedConcurrentExecutions"] == 50
    assert set(checkov_skips(prod, ids.STATUS_FUNCTION)) == {"CKV_AWS_116", "CKV_AWS_117"}


def test_code_in_another_form_is_refused() -> None:
    with pytest.raises(TypeError, match="S3Bucket and S3Key"):
        compute.function_code({"S3Bucket": "only-a-bucket"})


def test_queue_drives_the_orchestrator_with_partial_batch_failures() -> None:
    profile = load_profile("prod")
    mapping = props(template_for(profile), ids.ORCHESTRATOR_EVENT_SOURCE)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": ids.P_PROCESSING_CONCURRENCY}}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [ids.PROCESSING_QUEUE, "Arn"]}
    assert mapping["FunctionName"] == {"Ref": ids.ORCHESTRATOR_FUNCTION}
    assert mapping["BatchSize"] == profile.queue.batch_size
    assert mapping["MaximumBatchingWindowInSeconds"] == profile.queue.max_batching_window_seconds


def test_status_processor_failures_go_to_the_failure_queue() -> None:
    template = template_for()
    config = props(template, ids.STATUS_INVOKE_CONFIG)
    assert config["FunctionName"] == {"Ref": ids.STATUS_FUNCTION}
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [ids.STATUS_FAILURE_QUEUE, "Arn"]
    }
    assert 0 <= config["MaximumRetryAttempts"] <= 2
    assert 60 <= config["MaximumEventAgeInSeconds"] <= 21600
    # Lambda sends to the destination with the function's role.
    send = statement(template, ids.STATUS_ROLE, "ResubmitAndDeadLetter")
    assert {"Fn::GetAtt": [ids.STATUS_FAILURE_QUEUE, "Arn"]} in send["Resource"]


def test_only_the_job_state_rule_may_invoke_the_status_processor() -> None:
    permission = props(template_for(), ids.STATUS_INVOKE_PERMISSION)
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["SourceArn"] == {"Fn::GetAtt": [ids.JOB_STATE_RULE, "Arn"]}
    assert permission["FunctionName"] == {"Fn::GetAtt": [ids.STATUS_FUNCTION, "Arn"]}


# --- IAM --------------------------------------------------------------------------------------


def test_pass_role_is_limited_to_the_mediaconvert_role_and_service() -> None:
    template = template_for()
    passing = [
        (owner, s)
        for owner, s in all_policy_statements(template)
        if any(a.startswith("iam:") for a in actions(s))
    ]
    assert [owner for owner, _ in passing] == [ids.ORCHESTRATOR_ROLE]
    ((_, pass_role),) = passing
    assert actions(pass_role) == {"iam:PassRole"}
    assert pass_role["Resource"] == [
        {
            "Fn::If": [
                ids.C_CREATE_MEDIACONVERT_ROLE,
                {"Fn::GetAtt": [ids.MEDIACONVERT_ROLE, "Arn"]},
                {"Ref": ids.P_MEDIACONVERT_ROLE_ARN},
            ]
        }
    ]
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "mediaconvert.amazonaws.com"}
    }


@pytest.mark.parametrize("name", ["default", "prod", "lean", "premium"])
def test_no_allow_has_wildcard_actions_or_unexplained_star_resources(name: str) -> None:
    for owner, item in all_policy_statements(template_for(name)):
        if item["Effect"] == "Deny":
            continue
        assert not any(a.endswith("*") for a in actions(item)), (owner, item["Sid"])
        if "*" in item.get("Resource", []):
            assert item["Resource"] == ["*"], (owner, item["Sid"])
            assert actions(item) <= ACTIONS_WITHOUT_RESOURCE_TYPES, (owner, item["Sid"])


def test_the_only_denials_refuse_plain_http() -> None:
    template = template_for(profile_with(notifications={"sns_on_final_state": True}))
    denials = [(owner, s) for owner, s in all_policy_statements(template) if s["Effect"] == "Deny"]
    assert {owner for owner, _ in denials} == {
        ids.ALARM_TOPIC_POLICY,
        ids.ASSET_EVENTS_TOPIC_POLICY,
    }
    for _, denial in denials:
        assert denial["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert denial["Principal"] == "*"


def test_every_arn_these_components_build_goes_through_the_partition() -> None:
    template = template_for("prod")
    for logical_id in (ids.MEDIACONVERT_ROLE, *ROLE_OF.values(), ids.ALARM_TOPIC_POLICY):
        assert "arn:aws:" not in json.dumps(resource(template, logical_id)), logical_id
    assert "arn:${AWS::Partition}:" in json.dumps(props(template, ids.ORCHESTRATOR_ROLE))


def test_orchestrator_permissions_are_exactly_its_work() -> None:
    template = template_for()
    granted = {a for s in statements_of_role(template, ids.ORCHESTRATOR_ROLE) for a in actions(s)}
    assert granted == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "ssm:GetParameter",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "mediaconvert:CreateJob",
        "mediaconvert:SearchJobs",
        "mediaconvert:CancelJob",
        "mediaconvert:Probe",
        "sqs:SendMessage",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "iam:PassRole",
        "events:PutEvents",
        "kms:DescribeKey",
    }
    parked = statement(template, ids.ORCHESTRATOR_ROLE, "ParkCrashingMessages")
    assert actions(parked) == {"sqs:SendMessage"}
    assert parked["Resource"] == [{"Fn::GetAtt": [ids.PROCESSING_DLQ, "Arn"]}]
    for sid in ("SubmitJobsToPipelineQueue", "FindOrphanedJobs"):
        queue_only = statement(template, ids.ORCHESTRATOR_ROLE, sid)
        assert queue_only["Resource"] == [{"Fn::GetAtt": [ids.MEDIACONVERT_QUEUE, "Arn"]}]
    assert actions(statement(template, ids.ORCHESTRATOR_ROLE, "FindOrphanedJobs")) == {
        "mediaconvert:SearchJobs"
    }
    # The uploaded version is only read (the copy's source); copies are written and probed
    # under their own prefix, and nothing is written under the ingest prefix.
    source = statement(template, ids.ORCHESTRATOR_ROLE, "ReadUploadedVersions")
    assert actions(source) == {"s3:GetObject", "s3:GetObjectVersion"}
    assert source["Resource"] == [{"Fn::Sub": "${UploadsBucket.Arn}/uploads/*"}]
    copies = statement(template, ids.ORCHESTRATOR_ROLE, "WriteWorkingCopies")
    assert actions(copies) == {"s3:PutObject", "s3:AbortMultipartUpload"}
    assert copies["Resource"] == [{"Fn::Sub": "${UploadsBucket.Arn}/sources/*"}]
    probe_read = statement(template, ids.ORCHESTRATOR_ROLE, "ReadWorkingCopiesForProbe")
    assert actions(probe_read) == {"s3:GetObject"}
    assert probe_read["Resource"] == [{"Fn::Sub": "${UploadsBucket.Arn}/sources/*"}]
    s3_resources = [
        json.dumps(s["Resource"])
        for s in statements_of_role(template, ids.ORCHESTRATOR_ROLE)
        if any(a.startswith("s3:Put") for a in actions(s))
    ]
    assert s3_resources and all("/uploads/" not in r for r in s3_resources)
    parameter = statement(template, ids.ORCHESTRATOR_ROLE, "ReadRuntimeConfig")
    assert parameter["Resource"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"
            + ids.runtime_config_parameter_name("mediapipe")
        }
    ]


def test_status_processor_permissions_are_exactly_its_work() -> None:
    template = template_for()
    granted = {a for s in statements_of_role(template, ids.STATUS_ROLE) for a in actions(s)}
    assert granted == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "ssm:GetParameter",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:DescribeKey",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "sqs:SendMessage",
        "s3:PutObject",
        "events:PutEvents",
        "mediaconvert:CancelJob",
    }
    cancel = statement(template, ids.STATUS_ROLE, "CancelJobsOfFailedAssets")
    assert actions(cancel) == {"mediaconvert:CancelJob"}
    assert cancel["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:mediaconvert:${AWS::Region}:${AWS::AccountId}:jobs/*"}
    ]
    manifest = statement(template, ids.STATUS_ROLE, "WriteAssetManifests")
    assert manifest["Resource"] == [{"Fn::Sub": "${OutputsBucket.Arn}/*/*/manifest.json"}]
    put_events = statement(template, ids.STATUS_ROLE, "AnnounceFinalStates")
    (bus,) = put_events["Resource"]
    assert resolve(bus) == "arn:aws:events:eu-west-1:111122223333:event-bus/default"
    assert put_events["Condition"]["StringEquals"]["events:source"] == contract.EVENT_SOURCE


def test_status_processor_may_publish_only_to_its_topic_and_only_when_enabled() -> None:
    quiet = template_for()
    assert ids.ASSET_EVENTS_TOPIC not in quiet["Resources"]
    assert not any("sns:Publish" in actions(s) for s in statements_of_role(quiet, ids.STATUS_ROLE))
    loud = template_for(profile_with(notifications={"sns_on_final_state": True}))
    publish = statement(loud, ids.STATUS_ROLE, "PublishFinalStates")
    assert publish["Resource"] == [{"Ref": ids.ASSET_EVENTS_TOPIC}]


def test_reconciler_permissions_are_exactly_its_work() -> None:
    template = template_for()
    by_sid = {s["Sid"]: s for s in statements_of_role(template, ids.RECONCILER_ROLE)}
    granted = {a for s in by_sid.values() for a in actions(s)}
    assert granted == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "ssm:GetParameter",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:DescribeKey",
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "mediaconvert:GetJob",
        "mediaconvert:CancelJob",
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "events:PutEvents",
    }
    # Query on the two indexes it reads, never the table itself (so never a Scan either).
    query = by_sid["FindStuckAssetsAndOwedAnnouncements"]
    assert actions(query) == {"dynamodb:Query"}
    assert query["Resource"] == [
        {"Fn::Sub": "${MediaAssetsTable.Arn}/index/ByStatus"},
        {"Fn::Sub": "${MediaAssetsTable.Arn}/index/ByOutbox"},
    ]
    assert not any("dynamodb:Scan" in actions(s) for s in by_sid.values())
    assert by_sid["FinishAssets"]["Resource"] == [{"Fn::GetAtt": [ids.ASSETS_TABLE, "Arn"]}]
    jobs = {"Fn::Sub": "arn:${AWS::Partition}:mediaconvert:${AWS::Region}:${AWS::AccountId}:jobs/*"}
    assert by_sid["AskMediaConvertAboutJobs"]["Resource"] == [jobs]
    assert by_sid["CancelJobsOfFailedAssets"]["Resource"] == [jobs]
    assert "FindOrphanedJobs" not in by_sid  # the orchestrator resubmits, not the reconciler
    assert by_sid["ResubmitUploads"]["Resource"] == [{"Fn::GetAtt": [ids.PROCESSING_QUEUE, "Arn"]}]
    assert by_sid["ReadDeadLetters"]["Resource"] == [{"Fn::GetAtt": [ids.PROCESSING_DLQ, "Arn"]}]
    assert "sqs:SendMessage" not in actions(by_sid["ReadDeadLetters"])
    assert by_sid["ReadDeadLetteredUploads"]["Resource"] == [
        {"Fn::Sub": "${UploadsBucket.Arn}/uploads/*"}
    ]
    assert by_sid["WriteAssetManifests"]["Resource"] == [
        {"Fn::Sub": "${OutputsBucket.Arn}/*/*/manifest.json"}
    ]
    assert "PublishFinalStates" not in by_sid
    loud = template_for(profile_with(notifications={"sns_on_final_state": True}))
    publish = statement(loud, ids.RECONCILER_ROLE, "PublishFinalStates")
    assert publish["Resource"] == [{"Ref": ids.ASSET_EVENTS_TOPIC}]


def test_reconciler_runs_alone_on_its_schedule_and_is_not_retried() -> None:
    template = template_for()
    function = props(template, ids.RECONCILER_FUNCTION)
    assert function["Handler"] == "mediapipe_handlers.reconciler.handler"
    assert function["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-reconciler"}
    orchestrator = props(template, ids.ORCHESTRATOR_FUNCTION)
    for shared in ("Code", "Runtime", "Architectures"):
        assert function[shared] == orchestrator[shared]
    assert function["ReservedConcurrentExecutions"] == 1
    assert (function["MemorySize"], function["Timeout"]) == (256, 120)
    permission = props(template, ids.RECONCILER_INVOKE_PERMISSION)
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": [ids.RECONCILE_SCHEDULE_RULE, "Arn"]}
    assert permission["FunctionName"] == {"Fn::GetAtt": [ids.RECONCILER_FUNCTION, "Arn"]}
    config = props(template, ids.RECONCILER_INVOKE_CONFIG)
    assert config["MaximumRetryAttempts"] == 0
    assert config["MaximumEventAgeInSeconds"] == 300
    shared_pool = template_for(
        profile_with(
            functions={"reconciler": {"memory_mb": 512, "timeout_seconds": 60}},
            reliability={"reconcile_every_minutes": 2},
        )
    )
    function = props(shared_pool, ids.RECONCILER_FUNCTION)
    assert "ReservedConcurrentExecutions" not in function
    assert (function["MemorySize"], function["Timeout"]) == (512, 60)
    assert props(shared_pool, ids.RECONCILER_INVOKE_CONFIG)["MaximumEventAgeInSeconds"] == 120


def test_the_reconciler_gets_every_variable_the_status_processor_gets() -> None:
    template = template_for()
    status = props(template, ids.STATUS_FUNCTION)["Environment"]["Variables"]
    reconciler = props(template, ids.RECONCILER_FUNCTION)["Environment"]["Variables"]
    assert set(reconciler) >= set(status)
    for name in status:
        if name != Env.SERVICE_NAME:
            assert reconciler[name] == status[name]
    assert reconciler[Env.SERVICE_NAME] == "reconciler"


@pytest.mark.parametrize("role_id", [ids.ORCHESTRATOR_ROLE, ids.STATUS_ROLE, ids.RECONCILER_ROLE])
def test_key_use_is_scoped_to_services_and_the_functions_own_environment(role_id: str) -> None:
    template = template_for()
    data_keys = [
        s for s in statements_of_role(template, role_id) if "kms:GenerateDataKey" in actions(s)
    ]
    (data_key,) = data_keys
    created, existing = (key_case(data_key["Condition"], case) for case in (True, False))
    services = created["StringEquals"]["kms:ViaService"]
    assert {resolve(s) for s in services} >= {"sqs.eu-west-1.amazonaws.com"}
    assert existing["StringEquals"]["kms:ViaService"] == services
    assert existing["ForAnyValue:StringEquals"] == {
        "kms:ResourceAliases": {"Ref": ids.P_KMS_KEY_ALIAS}
    }
    decrypt_env = statement(template, role_id, "DecryptOwnEnvironment")
    function_id = {v: k for k, v in ROLE_OF.items()}[role_id]
    name = props(template, function_id)["FunctionName"]
    context = key_case(decrypt_env["Condition"], True)["StringEquals"]
    assert context == {"kms:EncryptionContext:LambdaFunctionName": name}


# --- MediaConvert -----------------------------------------------------------------------------


def test_mediaconvert_role_trusts_only_mediaconvert_for_this_queue() -> None:
    template = template_for()
    role = resource(template, ids.MEDIACONVERT_ROLE)
    assert role["Condition"] == ids.C_CREATE_MEDIACONVERT_ROLE
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": ["mediaconvert.amazonaws.com"]}
    assert actions(trust) == {"sts:AssumeRole"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [ids.MEDIACONVERT_QUEUE, "Arn"]}},
    }


def test_mediaconvert_role_reads_working_copies_writes_outputs_and_nothing_else() -> None:
    profile = profile_with(ingest={"prefix": "incoming/", "working_copy_prefix": "copies/"})
    template = template_for(profile)
    by_sid = {s["Sid"]: s for s in statements_of_role(template, ids.MEDIACONVERT_ROLE)}
    assert set(by_sid) == {"ReadWorkingCopies", "WriteOutputs", "UseKeyThroughS3"}
    # Jobs read only the immutable copies, never the ingest prefix a re-upload overwrites.
    read = by_sid["ReadWorkingCopies"]
    assert actions(read) == {"s3:GetObject", "s3:GetObjectVersion"}
    assert read["Resource"] == [{"Fn::Sub": "${UploadsBucket.Arn}/copies/*"}]
    assert actions(by_sid["WriteOutputs"]) == {"s3:PutObject"}
    assert by_sid["WriteOutputs"]["Resource"] == [{"Fn::Sub": "${OutputsBucket.Arn}/*"}]
    assert actions(by_sid["UseKeyThroughS3"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    condition = key_case(by_sid["UseKeyThroughS3"]["Condition"], True)
    assert resolve(condition["StringEquals"]["kms:ViaService"]) == "s3.eu-west-1.amazonaws.com"


def test_mediaconvert_queue_is_on_demand_and_named_after_the_stack() -> None:
    queue = props(template_for(), ids.MEDIACONVERT_QUEUE)
    assert queue["PricingPlan"] == "ON_DEMAND"
    assert queue["Status"] == "ACTIVE"
    assert queue["Name"] == {"Fn::Sub": "${AWS::StackName}-jobs"}


def test_mediaconvert_outputs() -> None:
    outputs = template_for()["Outputs"]
    assert outputs["MediaConvertJobRoleArn"]["Value"]["Fn::If"][0] == ids.C_CREATE_MEDIACONVERT_ROLE
    assert outputs["MediaConvertQueueArn"]["Value"] == {
        "Fn::GetAtt": [ids.MEDIACONVERT_QUEUE, "Arn"]
    }
    for name in ("IngestOrchestratorFunctionArn", "JobStatusProcessorFunctionArn"):
        assert name in outputs


# --- Notifications ----------------------------------------------------------------------------


ALARM_ARN_PATTERN = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"


def test_alarm_topic_is_encrypted_and_only_cloudwatch_alarms_of_this_account_publish() -> None:
    template = template_for()
    assert props(template, ids.ALARM_TOPIC)["KmsMasterKeyId"]["Fn::If"][0] == ids.C_CREATE_KMS_KEY
    policy = props(template, ids.ALARM_TOPIC_POLICY)
    assert policy["Topics"] == [{"Ref": ids.ALARM_TOPIC}]
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    (publish,) = allows
    assert publish["Principal"] == {"Service": ["cloudwatch.amazonaws.com"]}
    assert actions(publish) == {"sns:Publish"}
    assert publish["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnLike": {"aws:SourceArn": {"Fn::Sub": ALARM_ARN_PATTERN}},
    }


def test_one_email_subscription_per_address_with_ids_that_survive_list_edits() -> None:
    emails = ["oncall@example.com", "video-team@example.com", "lead@example.org"]
    full = template_for(profile_with(alarms={"emails": emails}))
    subscriptions = {
        logical_id: body["Properties"]
        for logical_id, body in full["Resources"].items()
        if body["Type"] == "AWS::SNS::Subscription"
    }
    assert sorted(s["Endpoint"] for s in subscriptions.values()) == sorted(emails)
    assert all(s["Protocol"] == "email" for s in subscriptions.values())
    assert all(s["TopicArn"] == {"Ref": ids.ALARM_TOPIC} for s in subscriptions.values())
    trimmed = template_for(profile_with(alarms={"emails": emails[1:]}))
    kept = {
        logical_id
        for logical_id, body in trimmed["Resources"].items()
        if body["Type"] == "AWS::SNS::Subscription"
    }
    assert kept == set(subscriptions) - {notifications.subscription_id(emails[0])}


def test_asset_events_topic_exists_only_when_asked_for() -> None:
    assert "AssetEventsTopicArn" not in template_for()["Outputs"]
    loud = template_for(profile_with(notifications={"sns_on_final_state": True}))
    topic = props(loud, ids.ASSET_EVENTS_TOPIC)
    assert topic["KmsMasterKeyId"]["Fn::If"][0] == ids.C_CREATE_KMS_KEY
    assert loud["Outputs"]["AssetEventsTopicArn"]["Value"] == {"Ref": ids.ASSET_EVENTS_TOPIC}


# --- Dashboard and alarms ---------------------------------------------------------------------


def dashboard_json(template: dict[str, Any]) -> dict[str, Any]:
    body = props(template, ids.DASHBOARD)["DashboardBody"]["Fn::Sub"]
    return json.loads(substitute(body))


def dashboard_metric_lines(template: dict[str, Any]) -> list[list[Any]]:
    return [
        line
        for widget in dashboard_json(template)["widgets"]
        for line in widget["properties"].get("metrics", [])
        if isinstance(line[0], str)
    ]


def dimensions_of(line: list[Any]) -> dict[str, str]:
    parts = [p for p in line[2:] if not isinstance(p, dict)]
    return dict(zip(parts[::2], parts[1::2], strict=True))


def test_dashboard_body_is_json_once_its_placeholders_are_filled() -> None:
    template = template_for()
    body = props(template, ids.DASHBOARD)["DashboardBody"]["Fn::Sub"]
    names = set(re.findall(r"\$\{([^}]+)\}", body))
    assert names, "the body refers to the stack's resources and region"
    for name in names:
        target = name.split(".")[0]
        assert target in SAMPLE_PSEUDO or target in template["Resources"], name
    widgets = dashboard_json(template)["widgets"]
    assert {w["properties"].get("region") for w in widgets if w["type"] == "metric"} == {
        "eu-west-1"
    }


@pytest.mark.parametrize(
    "name", ["default", "lean", "premium", str(REPO / "tests" / "profiles" / "capacity-all.yaml")]
)
def test_dashboard_reads_every_handler_metric_by_its_contract_name(name: str) -> None:
    profile = load_profile(name)
    template = template_for(profile)
    namespace = props(template, ids.ORCHESTRATOR_FUNCTION)["Environment"]["Variables"][
        Env.METRICS_NAMESPACE
    ]
    ours = [line for line in dashboard_metric_lines(template) if line[0] == namespace]
    capacity_only = set() if profile.capacity else contract.CAPACITY_METRICS
    if profile.capacity is None or profile.capacity.fallback is None:
        capacity_only = capacity_only | contract.FALLBACK_METRICS
    assert {line[1] for line in ours} == {str(m) for m in contract.Metric} - capacity_only
    for line in ours:
        dimensions = dimensions_of(line)
        assert dimensions[contract.DIMENSION_PIPELINE] == SAMPLE_PSEUDO["AWS::StackName"]
        if line[1] in contract.PER_FORMAT_METRICS:
            assert set(dimensions) == {contract.DIMENSION_PIPELINE, contract.DIMENSION_FORMAT}
        elif line[1] in contract.PER_QUEUE_METRICS:
            assert set(dimensions) == {contract.DIMENSION_PIPELINE, contract.DIMENSION_QUEUE}
        else:
            assert set(dimensions) == {contract.DIMENSION_PIPELINE}
    formats = {
        dimensions_of(line)[contract.DIMENSION_FORMAT]
        for line in ours
        if line[1] == contract.Metric.JOBS_SUBMITTED
    }
    assert formats == {str(f) for f in observability.job_formats(profile)}
    assert formats <= {str(f) for f in contract.Format}


def test_formats_follow_the_profile() -> None:
    # Thumbnails ride in another job (MediaConvert rejects a frame-capture-only job).
    assert observability.job_formats(load_profile("default")) == [
        contract.Format.CMAF,
        contract.Format.MP4,
    ]
    assert observability.job_formats(load_profile("lean")) == [contract.Format.ALL]
    separate = parse_profile("formats: {packaging: {mode: separate}}", "separate.yaml")
    assert observability.job_formats(separate) == [
        contract.Format.HLS,
        contract.Format.DASH,
        contract.Format.MP4,
    ]


def test_dashboard_covers_queues_dead_letters_and_both_functions() -> None:
    lines = dashboard_metric_lines(template_for())
    sqs = {(line[1], line[3]) for line in lines if line[0] == "AWS/SQS"}
    processing = sample_value(f"{ids.PROCESSING_QUEUE}.QueueName")
    assert ("ApproximateNumberOfMessagesVisible", processing) in sqs
    assert ("ApproximateAgeOfOldestMessage", processing) in sqs
    for queue_id in (ids.PROCESSING_DLQ, ids.EVENTS_DLQ, ids.STATUS_FAILURE_QUEUE):
        assert ("ApproximateNumberOfMessagesVisible", sample_value(f"{queue_id}.QueueName")) in sqs
    lambda_lines = {(line[1], line[3]) for line in lines if line[0] == "AWS/Lambda"}
    for function_id in FUNCTION_IDS:
        for metric in ("Errors", "Throttles", "Duration"):
            assert (metric, sample_value(function_id)) in lambda_lines


def test_dashboard_body_is_deterministic() -> None:
    profile = load_profile("prod")
    assert observability.dashboard_body(profile) == observability.dashboard_body(profile)
    assert json.loads(substitute(observability.dashboard_body(profile)))


def alarms_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: body["Properties"]
        for logical_id, body in template["Resources"].items()
        if body["Type"] == "AWS::CloudWatch::Alarm"
    }


def test_every_alarm_notifies_the_alarm_topic_on_alarm_and_recovery() -> None:
    alarms = alarms_of(template_for())
    assert len(alarms) == 10
    for logical_id, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": ids.ALARM_TOPIC}], logical_id
        assert alarm["OKActions"] == [{"Ref": ids.ALARM_TOPIC}], logical_id


def test_alarm_thresholds_come_from_the_profile() -> None:
    profile = profile_with(
        alarms={
            "queue_depth": 42,
            "oldest_message_age_seconds": 600,
            "lambda_errors": 3,
            "job_failure_rate_percent": 12.5,
            "evaluation_minutes": 10,
        }
    )
    alarms = alarms_of(template_for(profile))
    depth = alarms[ids.QUEUE_DEPTH_ALARM]
    assert (depth["MetricName"], depth["Threshold"]) == ("ApproximateNumberOfMessagesVisible", 42)
    assert depth["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [ids.PROCESSING_QUEUE, "QueueName"]}}
    ]
    assert depth["EvaluationPeriods"] == depth["DatapointsToAlarm"] == 10
    age = alarms[ids.QUEUE_AGE_ALARM]
    assert (age["MetricName"], age["Threshold"]) == ("ApproximateAgeOfOldestMessage", 600)
    for function_id, alarm_id in observability.FUNCTION_ERROR_ALARMS.items():
        errors = alarms[alarm_id]
        assert (errors["MetricName"], errors["Threshold"], errors["Period"]) == ("Errors", 3, 600)
        assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
    rate = alarms[ids.JOB_FAILURE_RATE_ALARM]
    assert rate["Threshold"] == 12.5
    assert rate["ComparisonOperator"] == "GreaterThanThreshold"
    assert rate["TreatMissingData"] == "notBreaching"


def test_every_dead_letter_queue_alarms_when_not_empty() -> None:
    alarms = alarms_of(template_for())
    watched = {}
    for queue_id, alarm_id in observability.DEAD_LETTER_ALARMS.items():
        alarm = alarms[alarm_id]
        watched[queue_id] = alarm["Dimensions"][0]["Value"]
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (
            1,
            "GreaterThanOrEqualToThreshold",
        )
    assert watched == {
        q: {"Fn::GetAtt": [q, "QueueName"]}
        for q in (ids.PROCESSING_DLQ, ids.EVENTS_DLQ, ids.STATUS_FAILURE_QUEUE)
    }


def test_failure_rate_alarm_is_failures_over_finished_assets() -> None:
    template = template_for()
    namespace = _refs.metrics_namespace(load_profile("default"))
    queries = alarms_of(template)[ids.JOB_FAILURE_RATE_ALARM]["Metrics"]
    (rate,) = [q for q in queries if q.get("ReturnData")]
    inputs = {q["Id"]: q["MetricStat"]["Metric"] for q in queries if "MetricStat" in q}
    assert {m["MetricName"] for m in inputs.values()} == {
        contract.Metric.MEDIACONVERT_JOB_FAILURES,
        contract.Metric.DAILY_PROCESSED_COUNT,
        contract.Metric.ASSETS_FAILED,
    }
    for metric in inputs.values():
        assert metric["Namespace"] == namespace
        assert metric["Dimensions"] == [
            {"Name": contract.DIMENSION_PIPELINE, "Value": {"Ref": "AWS::StackName"}}
        ]
    assert set(re.findall(r"\b[a-z]\w*\b", rate["Expression"])) - {"if"} >= set(inputs)
    assert "/" in rate["Expression"] and "100" in rate["Expression"]


def test_alarms_on_handler_metrics_use_contract_names() -> None:
    template = template_for("prod")
    namespace = _refs.metrics_namespace(load_profile("prod"))
    metric_names = {str(m) for m in contract.Metric}
    for alarm in alarms_of(template).values():
        singles = [alarm] if "MetricName" in alarm else []
        stats = [q["MetricStat"]["Metric"] for q in alarm.get("Metrics", []) if "MetricStat" in q]
        for metric in singles + stats:
            if metric["Namespace"] == namespace:
                assert metric["MetricName"] in metric_names
            else:
                assert metric["Namespace"] in {"AWS/SQS", "AWS/Lambda"}


def test_dashboard_name_and_url() -> None:
    template = template_for()
    assert props(template, ids.DASHBOARD)["DashboardName"] == {
        "Fn::Sub": "${AWS::StackName}-${AWS::Region}"
    }
    url = resolve(template["Outputs"]["DashboardUrl"]["Value"])
    assert url == (
        "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        f"#dashboards:name={sample_value(ids.DASHBOARD)}"
    )


# --- Tags -------------------------------------------------------------------------------------

TAGGABLE_HERE = (
    ids.MEDIACONVERT_ROLE,
    ids.ORCHESTRATOR_ROLE,
    ids.STATUS_ROLE,
    ids.ORCHESTRATOR_LOG_GROUP,
    ids.STATUS_LOG_GROUP,
    ids.ORCHESTRATOR_FUNCTION,
    ids.STATUS_FUNCTION,
    ids.ORCHESTRATOR_EVENT_SOURCE,
    ids.ALARM_TOPIC,
    ids.ASSET_EVENTS_TOPIC,
    ids.DASHBOARD,
    ids.QUEUE_DEPTH_ALARM,
    ids.JOB_FAILURE_RATE_ALARM,
)


def test_every_taggable_resource_carries_the_profile_and_pipeline_tags() -> None:
    profile = profile_with(
        tags={"team": "video", "cost-center": "1234"}, notifications={"sns_on_final_state": True}
    )
    template = template_for(profile)
    expected = {
        "team": "video",
        "cost-center": "1234",
        "mediapipe:pipeline": {"Ref": "AWS::StackName"},
        "mediapipe:environment": {"Ref": ids.P_ENVIRONMENT},
    }
    for logical_id in TAGGABLE_HERE:
        tags = props(template, logical_id)["Tags"]
        assert {t["Key"]: t["Value"] for t in tags} == expected, logical_id
    assert props(template, ids.MEDIACONVERT_QUEUE)["Tags"] == expected


def test_stuck_assets_alarm_reads_the_reconcilers_metric_per_run() -> None:
    profile = profile_with(
        reliability={
            "stuck_alarm_threshold": 3,
            "reconcile_every_minutes": 10,
            "stuck_after_minutes": 90,
        }
    )
    template = template_for(profile)
    alarm = alarms_of(template)[ids.STUCK_ASSETS_ALARM]
    namespace = props(template, ids.RECONCILER_FUNCTION)["Environment"]["Variables"][
        Env.METRICS_NAMESPACE
    ]
    assert (alarm["Namespace"], alarm["MetricName"]) == (namespace, "StuckAssets")
    assert alarm["Dimensions"] == [
        {"Name": contract.DIMENSION_PIPELINE, "Value": {"Ref": "AWS::StackName"}}
    ]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (
        3,
        "GreaterThanOrEqualToThreshold",
    )
    # One reconciler run per period; no run means no data, which is not a breach.
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (600, 1)
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": ids.ALARM_TOPIC}]
    assert "90 min" in alarm["AlarmDescription"]
    default = alarms_of(template_for())[ids.STUCK_ASSETS_ALARM]
    assert (default["Threshold"], default["Period"]) == (1, 300)
    assert "45 min" in default["AlarmDescription"]


def test_reconciler_errors_alarm_fires_when_consecutive_runs_fail() -> None:
    profile = profile_with(reliability={"reconcile_every_minutes": 10}, alarms={"lambda_errors": 5})
    errors = alarms_of(template_for(profile))[ids.RECONCILER_ERRORS_ALARM]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    assert errors["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": ids.RECONCILER_FUNCTION}}
    ]
    # One run per period: two periods in a row with a failed run, whatever lambda_errors says
    # (a count of 5 per window would never be reached by one run every 10 minutes).
    assert (errors["Statistic"], errors["Period"], errors["Threshold"]) == ("Sum", 600, 1)
    assert errors["EvaluationPeriods"] == errors["DatapointsToAlarm"] == 2
    assert errors["TreatMissingData"] == "notBreaching"
