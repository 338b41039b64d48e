"""Parameters, encryption, storage, queueing, state and events components, property by property.

Most tests render only these components, so a failure points at them; the last few render the
whole default template to check that the components agree with the rest of it.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest

from mediapipe_cfn import contract, ids
from mediapipe_cfn.components import (
    _refs,
    encryption,
    events,
    parameters,
    queueing,
    state,
    storage,
)
from mediapipe_cfn.profile.model import BUCKET_NAME_PATTERN, Profile
from mediapipe_cfn.template import Component, build_template

FOUNDATION = (
    Component("parameters", parameters.build),
    Component("encryption", encryption.build),
    Component("storage", storage.build),
    Component("queueing", queueing.build),
    Component("state", state.build),
    Component("events", events.build),
)
HANDLER_CODE = "artifacts/mediapipe-handlers.zip"
PIPELINE_TAGS = {_refs.TAG_PIPELINE, _refs.TAG_ENVIRONMENT}

# A profile that differs from the defaults wherever these components read it.
CUSTOM = {
    "environment": "prod",
    "naming": {"prefix": "vid", "uploads_bucket": "acme-uploads", "outputs_bucket": ""},
    "encryption": {"kms_key_alias": "", "key_rotation_days": 180},
    "ingest": {
        "prefix": "incoming/media/",
        "working_copy_prefix": "copies/",
        "working_copy_expiration_days": 3,
    },
    "queue": {
        "max_concurrency": 50,
        "visibility_timeout_seconds": 900,
        "max_receive_count": 8,
        "message_retention_days": 5,
        "dead_letter_retention_days": 12,
    },
    "retention": {
        "outputs": {
            "transitions": [
                {"days": 30, "storage_class": "STANDARD_IA"},
                {"days": 90, "storage_class": "GLACIER_IR"},
            ],
            "expiration_days": 400,
            "min_transition_size_kb": 256,
        },
        "uploads": {
            "transitions": [{"days": 45, "storage_class": "GLACIER_IR"}],
            "noncurrent_version_expiration_days": 11,
            "abort_incomplete_multipart_days": 3,
        },
        "access_logs_expiration_days": 200,
    },
    "functions": {"log_retention_days": 60},
    "database": {"point_in_time_recovery": False, "deletion_protection": True},
    "reliability": {"reconcile_every_minutes": 10},
    "observability": {"job_event_log": "log_group"},
    "tags": {"team": "video", "cost-center": "42"},
}


def profile(**overrides: Any) -> Profile:
    return Profile.model_validate(overrides)


def render(source: Profile) -> dict[str, Any]:
    # Only some components: the events rule's target (the status function) is not added.
    template = build_template(
        source, handler_code=HANDLER_CODE, components=FOUNDATION, check_references=False
    )
    return template.to_dict()


@pytest.fixture(scope="module")
def custom() -> dict[str, Any]:
    return render(profile(**CUSTOM))


@pytest.fixture(scope="module")
def default() -> dict[str, Any]:
    return render(profile())


def resource(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]


def props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return resource(template, logical_id)["Properties"]


def statements(policy_document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy_document["Statement"]}


def resolve(value: Any, conditions: dict[str, bool]) -> Any:
    """``value`` with every ``Fn::If`` decided by ``conditions``."""
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            name, when_true, when_false = value["Fn::If"]
            return resolve(when_true if conditions[name] else when_false, conditions)
        return {k: resolve(v, conditions) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, conditions) for v in value]
    return value


# --- parameters ------------------------------------------------------------------------------


def test_parameter_defaults_come_from_the_profile(custom: dict[str, Any]) -> None:
    parameters_ = custom["Parameters"]
    assert parameters_[ids.P_ENVIRONMENT]["Default"] == "prod"
    assert parameters_[ids.P_ENVIRONMENT]["AllowedValues"] == ["dev", "test", "prod"]
    assert parameters_[ids.P_UPLOADS_BUCKET_NAME]["Default"] == "acme-uploads"
    assert parameters_[ids.P_OUTPUTS_BUCKET_NAME]["Default"] == ""
    assert parameters_[ids.P_MEDIACONVERT_ROLE_ARN]["Default"] == ""
    assert parameters_[ids.P_KMS_KEY_ALIAS]["Default"] == ""
    concurrency = parameters_[ids.P_PROCESSING_CONCURRENCY]
    assert (concurrency["Type"], concurrency["Default"]) == ("Number", 50)
    assert (concurrency["MinValue"], concurrency["MaxValue"]) == (2, 1000)


def test_existing_key_alias_from_the_profile_is_the_default() -> None:
    template = render(profile(encryption={"kms_key_alias": "alias/media/shared"}))
    assert template["Parameters"][ids.P_KMS_KEY_ALIAS]["Default"] == "alias/media/shared"


@pytest.mark.parametrize(
    ("parameter", "good", "bad"),
    [
        (ids.P_UPLOADS_BUCKET_NAME, ["", "acme-uploads", "a.b-c"], ["Acme", "ab", "-abc", "a_b"]),
        (
            ids.P_MEDIACONVERT_ROLE_ARN,
            [
                "",
                "arn:aws:iam::123456789012:role/MediaConvert",
                "arn:aws-us-gov:iam::123456789012:role/path/to/Role_1",
            ],
            [
                "MediaConvert",
                "arn:aws:iam::123456789012:user/someone",
                "arn:aws:iam::12345:role/Short",
            ],
        ),
        (
            ids.P_KMS_KEY_ALIAS,
            ["", "alias/media", "alias/team/media_key-1"],
            ["media", "arn:aws:kms:us-east-1:123456789012:alias/media", "alias/"],
        ),
    ],
)
def test_allowed_patterns_accept_and_reject(
    default: dict[str, Any], parameter: str, good: list[str], bad: list[str]
) -> None:
    pattern = default["Parameters"][parameter]["AllowedPattern"]
    assert [v for v in good if not re.fullmatch(pattern, v)] == []
    assert [v for v in bad if re.fullmatch(pattern, v)] == []


def test_parameter_patterns_agree_with_the_profile_model(default: dict[str, Any]) -> None:
    schema = Profile.model_json_schema()["$defs"]
    alias_pattern = schema["Encryption"]["properties"]["kms_key_alias"]["pattern"]
    assert default["Parameters"][ids.P_KMS_KEY_ALIAS]["AllowedPattern"] == alias_pattern
    for name in (ids.P_UPLOADS_BUCKET_NAME, ids.P_OUTPUTS_BUCKET_NAME):
        assert default["Parameters"][name]["AllowedPattern"] == BUCKET_NAME_PATTERN


def test_conditions_test_the_optional_parameters(default: dict[str, Any]) -> None:
    conditions = default["Conditions"]
    for condition, parameter in (
        (ids.C_GENERATE_UPLOADS_BUCKET_NAME, ids.P_UPLOADS_BUCKET_NAME),
        (ids.C_GENERATE_OUTPUTS_BUCKET_NAME, ids.P_OUTPUTS_BUCKET_NAME),
        (ids.C_CREATE_MEDIACONVERT_ROLE, ids.P_MEDIACONVERT_ROLE_ARN),
        (ids.C_CREATE_KMS_KEY, ids.P_KMS_KEY_ALIAS),
    ):
        assert conditions[condition] == {"Fn::Equals": [{"Ref": parameter}, ""]}
    assert conditions[ids.C_IS_PROD] == {"Fn::Equals": [{"Ref": ids.P_ENVIRONMENT}, "prod"]}


def test_production_condition_exists_only_when_something_uses_it(custom: dict[str, Any]) -> None:
    # The custom profile decides deletion protection itself: nothing depends on Environment.
    assert ids.C_IS_PROD not in custom["Conditions"]
    assert ids.C_IS_PROD not in json.dumps(custom["Resources"])


def test_console_groups_and_labels_every_parameter_once(default: dict[str, Any]) -> None:
    interface = default["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for group in interface["ParameterGroups"] for p in group["Parameters"]]
    assert sorted(grouped) == sorted(default["Parameters"])
    assert len(grouped) == len(set(grouped))
    assert sorted(interface["ParameterLabels"]) == sorted(default["Parameters"])


# --- encryption ------------------------------------------------------------------------------


def test_key_is_conditional_rotated_and_outlives_the_stack(custom: dict[str, Any]) -> None:
    key = resource(custom, ids.KMS_KEY)
    assert key["Condition"] == ids.C_CREATE_KMS_KEY
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["Properties"]["RotationPeriodInDays"] == 180
    alias = resource(custom, ids.KMS_KEY_ALIAS)
    assert alias["Condition"] == ids.C_CREATE_KMS_KEY
    assert alias["Properties"]["AliasName"] == {"Fn::Sub": "alias/vid-${AWS::StackName}"}


def test_key_policy_has_no_wildcard_principal_or_action(default: dict[str, Any]) -> None:
    for statement in props(default, ids.KMS_KEY)["KeyPolicy"]["Statement"]:
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] != "*"
        for principals in statement["Principal"].values():
            assert "*" not in principals
        assert all(not action.endswith("*") for action in statement["Action"]), statement["Sid"]


def test_key_policy_service_statements_are_pinned(default: dict[str, Any]) -> None:
    policy = statements(props(default, ids.KMS_KEY)["KeyPolicy"])
    account = policy["AccountAdministersAndGrantsThroughIam"]
    assert account["Principal"] == {
        "AWS": [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}]
    }
    service_statements = [s for s in policy.values() if s is not account]
    services = [s["Principal"]["Service"] for s in service_statements]
    assert services == [
        ["events.amazonaws.com"],
        ["cloudwatch.amazonaws.com"],
        [{"Fn::Sub": "logs.${AWS::Region}.${AWS::URLSuffix}"}],
    ]
    assert all(s.get("Condition") for s in service_statements)
    logs = policy["CloudWatchLogsEncryptsPipelineLogGroups"]
    assert "kms:EncryptionContext:aws:logs:arn" in logs["Condition"]["StringLike"]


def test_key_policy_names_exactly_the_rules_that_deliver_to_encrypted_queues(
    default: dict[str, Any],
) -> None:
    policy = statements(props(default, ids.KMS_KEY)["KeyPolicy"])
    source_arns = policy["EventBridgeRulesDeliverToEncryptedQueues"]["Condition"]["ArnEquals"]
    named = sorted(a["Fn::Sub"].rsplit("rule/", 1)[1] for a in source_arns["aws:SourceArn"])
    rules = sorted(
        props(default, rule_id)["Name"]["Fn::Sub"]
        for rule_id in (ids.UPLOAD_EVENTS_RULE, ids.JOB_STATE_RULE)
    )
    assert named == rules


def test_key_arn_output_covers_both_key_cases(default: dict[str, Any]) -> None:
    output = default["Outputs"]["KmsKeyArn"]
    assert output["Value"] == _refs.key_arn().to_dict()
    assert output["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-KmsKeyArn"}


# --- storage ---------------------------------------------------------------------------------

DATA_BUCKETS = (ids.UPLOADS_BUCKET, ids.OUTPUTS_BUCKET)
ALL_BUCKETS = (ids.ACCESS_LOGS_BUCKET, *DATA_BUCKETS)


@pytest.mark.parametrize("bucket", ALL_BUCKETS)
def test_buckets_block_public_access_disable_acls_and_are_retained(
    default: dict[str, Any], bucket: str
) -> None:
    assert props(default, bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    ownership = props(default, bucket)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert resource(default, bucket)["DeletionPolicy"] == "Retain"
    assert resource(default, bucket)["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize("bucket", DATA_BUCKETS)
def test_data_buckets_use_the_pipeline_key_with_a_bucket_key(
    default: dict[str, Any], bucket: str
) -> None:
    (rule,) = props(default, bucket)["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": _refs.key_arn().to_dict(),
    }


def test_access_logs_bucket_uses_s3_managed_keys_and_expires_logs(custom: dict[str, Any]) -> None:
    bucket = props(custom, ids.ACCESS_LOGS_BUCKET)
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    (lifecycle,) = bucket["LifecycleConfiguration"]["Rules"]
    assert lifecycle["ExpirationInDays"] == 200


def test_uploads_bucket_is_versioned_and_notifies_eventbridge(custom: dict[str, Any]) -> None:
    bucket = props(custom, ids.UPLOADS_BUCKET)
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    assert bucket["BucketName"] == {
        "Fn::If": [
            ids.C_GENERATE_UPLOADS_BUCKET_NAME,
            {"Ref": "AWS::NoValue"},
            {"Ref": ids.P_UPLOADS_BUCKET_NAME},
        ]
    }


def test_uploads_lifecycle_follows_the_profile(custom: dict[str, Any]) -> None:
    rules = {
        r["Id"]: r for r in props(custom, ids.UPLOADS_BUCKET)["LifecycleConfiguration"]["Rules"]
    }
    main = rules["uploads-lifecycle"]
    assert main["Prefix"] == "incoming/media/", "originals only; working copies have their own"
    assert main["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": 45}]
    assert main["NoncurrentVersionExpiration"] == {"NoncurrentDays": 11}
    assert main["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 3}
    assert "ExpirationInDays" not in main
    assert rules["remove-expired-delete-markers"]["ExpiredObjectDeleteMarker"] is True


def test_uploads_expiry_replaces_the_delete_marker_rule() -> None:
    template = render(profile(retention={"uploads": {"expiration_days": 365}}))
    rules = props(template, ids.UPLOADS_BUCKET)["LifecycleConfiguration"]["Rules"]
    assert [r["Id"] for r in rules] == ["uploads-lifecycle", "working-copies-expiry"]
    assert rules[0]["ExpirationInDays"] == 365


def test_working_copies_expire_on_their_own_schedule(
    default: dict[str, Any], custom: dict[str, Any]
) -> None:
    for template, prefix, days in ((default, "sources/", 7), (custom, "copies/", 3)):
        rules = props(template, ids.UPLOADS_BUCKET)["LifecycleConfiguration"]["Rules"]
        (copies,) = [r for r in rules if r["Id"] == "working-copies-expiry"]
        assert copies == {
            "Id": "working-copies-expiry",
            "Status": "Enabled",
            "Prefix": prefix,
            "ExpirationInDays": days,
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
        # No other rule of the bucket applies to the working copies' keys.
        others = [r for r in rules if r is not copies and "Prefix" in r]
        assert all(not prefix.startswith(r["Prefix"]) for r in others)


def test_outputs_lifecycle_moves_only_large_objects_and_expires_all(
    custom: dict[str, Any],
) -> None:
    bucket = props(custom, ids.OUTPUTS_BUCKET)
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    transitions = rules["outputs-transitions"]
    assert transitions["ObjectSizeGreaterThan"] == str(256 * 1024)
    assert transitions["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": 30},
        {"StorageClass": "GLACIER_IR", "TransitionInDays": 90},
    ]
    assert "ExpirationInDays" not in transitions
    housekeeping = rules["outputs-housekeeping"]
    assert housekeeping["ExpirationInDays"] == 400
    assert "ObjectSizeGreaterThan" not in housekeeping
    assert "AbortIncompleteMultipartUpload" in housekeeping
    assert "VersioningConfiguration" not in bucket


def test_outputs_without_transitions_or_size_floor() -> None:
    template = render(
        profile(retention={"outputs": {"transitions": [], "min_transition_size_kb": 0}})
    )
    rules = props(template, ids.OUTPUTS_BUCKET)["LifecycleConfiguration"]["Rules"]
    assert [r["Id"] for r in rules] == ["outputs-housekeeping"]
    sized = render(
        profile(
            retention={
                "outputs": {
                    "transitions": [{"days": 0, "storage_class": "INTELLIGENT_TIERING"}],
                    "min_transition_size_kb": 0,
                }
            }
        )
    )
    rules = props(sized, ids.OUTPUTS_BUCKET)["LifecycleConfiguration"]["Rules"]
    assert "ObjectSizeGreaterThan" not in rules[0]


@pytest.mark.parametrize(
    ("bucket", "prefix"),
    [
        (ids.UPLOADS_BUCKET, storage.UPLOADS_LOG_PREFIX),
        (ids.OUTPUTS_BUCKET, storage.OUTPUTS_LOG_PREFIX),
    ],
)
def test_data_buckets_log_to_the_access_logs_bucket(
    default: dict[str, Any], bucket: str, prefix: str
) -> None:
    logging = props(default, bucket)["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": ids.ACCESS_LOGS_BUCKET}
    assert logging["LogFilePrefix"] == prefix
    # The logging service may write exactly there, for this account's two buckets only.
    policy = statements(props(default, ids.ACCESS_LOGS_BUCKET_POLICY)["PolicyDocument"])
    delivery = policy["S3ServerAccessLogsDelivery"]
    assert delivery["Principal"] == {"Service": ["logging.s3.amazonaws.com"]}
    assert {"Fn::Sub": f"${{{ids.ACCESS_LOGS_BUCKET}.Arn}}/{prefix}*"} in delivery["Resource"]
    assert {"Fn::GetAtt": [bucket, "Arn"]} in delivery["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert "aws:SourceAccount" in delivery["Condition"]["StringEquals"]


@pytest.mark.parametrize(
    "policy_id",
    [ids.UPLOADS_BUCKET_POLICY, ids.OUTPUTS_BUCKET_POLICY, ids.ACCESS_LOGS_BUCKET_POLICY],
)
def test_bucket_policies_deny_requests_without_tls(default: dict[str, Any], policy_id: str) -> None:
    policy = props(default, policy_id)
    bucket = policy["Bucket"]["Ref"]
    deny = statements(policy["PolicyDocument"])["DenyInsecureTransport"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", ["s3:*"])
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [
        {"Fn::GetAtt": [bucket, "Arn"]},
        {"Fn::Sub": f"${{{bucket}.Arn}}/*"},
    ]


def put_is_denied(document: dict[str, Any], headers: dict[str, str]) -> bool:
    """Evaluate the Deny statements of a bucket policy for a PutObject with ``headers``.

    Implements the condition operators the policies use (Null, StringNotEquals, StringNotLike),
    as IAM does: every operator in a statement must match for it to apply.
    """
    for statement in document["Statement"]:
        if statement["Effect"] != "Deny" or "s3:PutObject" not in statement["Action"]:
            continue
        if all(
            condition_matches(operator, key, expected, headers)
            for operator, keys in statement["Condition"].items()
            for key, expected in keys.items()
        ):
            return True
    return False


def condition_matches(operator: str, key: str, expected: Any, headers: dict[str, str]) -> bool:
    values = expected if isinstance(expected, list) else [expected]
    present = key in headers
    if operator == "Null":
        return present is (str(expected).lower() == "false")
    if not present:
        # IAM: a negated operator matches a key the request does not carry.
        return operator in {"StringNotEquals", "StringNotLike"}
    if operator == "StringNotEquals":
        return headers[key] not in values
    if operator == "StringNotLike":
        return not any(fnmatch.fnmatchcase(headers[key], v) for v in values)
    raise AssertionError(f"unexpected operator {operator}")


KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALIAS_ARN = "arn:aws:kms:eu-west-1:111122223333:alias/media"
SSE = storage.SSE_HEADER
SSE_KEY = storage.SSE_KEY_HEADER


def concrete_policy(template: dict[str, Any], policy_id: str, *, create_key: bool) -> Any:
    """The bucket policy as deployed in account 111122223333, eu-west-1."""
    document = resolve(
        props(template, policy_id)["PolicyDocument"], {ids.C_CREATE_KMS_KEY: create_key}
    )
    text = json.dumps(document)
    text = text.replace('{"Fn::GetAtt": ["PipelineKey", "Arn"]}', json.dumps(KEY_ARN))
    for placeholder, value in (
        ("${AWS::Partition}", "aws"),
        ("${AWS::Region}", "eu-west-1"),
        ("${AWS::AccountId}", "111122223333"),
        ("${KmsKeyAlias}", "alias/media"),
    ):
        text = text.replace(placeholder, value)
    text = re.sub(r'\{"Fn::Sub": ("[^"]*")\}', r"\1", text)
    return json.loads(text)


@pytest.mark.parametrize("policy_id", [ids.UPLOADS_BUCKET_POLICY, ids.OUTPUTS_BUCKET_POLICY])
@pytest.mark.parametrize(
    ("headers", "denied"),
    [
        ({}, False),  # default encryption applies the pipeline key
        ({SSE: "aws:kms"}, False),
        ({SSE: "aws:kms", SSE_KEY: KEY_ARN}, False),
        ({SSE: "AES256"}, True),
        ({SSE: "aws:kms:dsse"}, True),
        ({SSE: "aws:kms", SSE_KEY: KEY_ARN.replace("1234abcd", "ffffffff")}, True),
        ({SSE: "aws:kms", SSE_KEY: KEY_ARN.replace("111122223333", "999999999999")}, True),
        ({storage.SSE_CUSTOMER_HEADER: "AES256"}, True),
    ],
)
def test_data_bucket_policies_refuse_wrong_encryption_with_a_created_key(
    default: dict[str, Any], policy_id: str, headers: dict[str, str], denied: bool
) -> None:
    document = concrete_policy(default, policy_id, create_key=True)
    assert put_is_denied(document, headers) is denied


@pytest.mark.parametrize(
    ("headers", "denied"),
    [
        ({}, False),
        ({SSE: "aws:kms", SSE_KEY: ALIAS_ARN}, False),  # how the template names an existing key
        ({SSE: "aws:kms", SSE_KEY: KEY_ARN}, False),
        ({SSE: "aws:kms", SSE_KEY: KEY_ARN.replace("111122223333", "999999999999")}, True),
        ({SSE: "aws:kms", SSE_KEY: "alias/other"}, True),
        ({SSE: "AES256"}, True),
    ],
)
def test_data_bucket_policies_refuse_wrong_encryption_with_an_existing_key(
    default: dict[str, Any], headers: dict[str, str], denied: bool
) -> None:
    document = concrete_policy(default, ids.UPLOADS_BUCKET_POLICY, create_key=False)
    assert put_is_denied(document, headers) is denied


def test_bucket_policies_only_deny_or_name_a_service(default: dict[str, Any]) -> None:
    for policy_id in (ids.UPLOADS_BUCKET_POLICY, ids.OUTPUTS_BUCKET_POLICY):
        for statement in props(default, policy_id)["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Deny"
    for statement in props(default, ids.ACCESS_LOGS_BUCKET_POLICY)["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Deny" or statement["Principal"] != "*"


# --- queueing --------------------------------------------------------------------------------

QUEUES = (ids.PROCESSING_QUEUE, ids.PROCESSING_DLQ, ids.EVENTS_DLQ, ids.STATUS_FAILURE_QUEUE)


@pytest.mark.parametrize("queue", QUEUES)
def test_every_queue_is_encrypted_with_the_pipeline_key(
    default: dict[str, Any], queue: str
) -> None:
    assert props(default, queue)["KmsMasterKeyId"] == _refs.key_arn().to_dict()
    assert "SqsManagedSseEnabled" not in props(default, queue)


def test_processing_queue_settings_follow_the_profile(custom: dict[str, Any]) -> None:
    queue = props(custom, ids.PROCESSING_QUEUE)
    assert queue["VisibilityTimeout"] == 900
    assert queue["MessageRetentionPeriod"] == 5 * 86400
    assert queue["ReceiveMessageWaitTimeSeconds"] == 20
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [ids.PROCESSING_DLQ, "Arn"]},
        "maxReceiveCount": 8,
    }
    assert props(custom, ids.PROCESSING_DLQ)["MessageRetentionPeriod"] == 12 * 86400


def test_dead_letter_queue_accepts_redrive_only_from_the_processing_queue(
    default: dict[str, Any],
) -> None:
    allow_policy = props(default, ids.PROCESSING_DLQ)["RedriveAllowPolicy"]
    assert allow_policy["redrivePermission"] == "byQueue"
    (source,) = allow_policy["sourceQueueArnList"]
    processing_name = props(default, ids.PROCESSING_QUEUE)["QueueName"]["Fn::Sub"]
    assert source["Fn::Sub"].endswith(f":{processing_name}")
    assert source["Fn::Sub"].startswith("arn:${AWS::Partition}:sqs:${AWS::Region}:")
    for terminal in (ids.EVENTS_DLQ, ids.STATUS_FAILURE_QUEUE):
        assert props(default, terminal)["RedriveAllowPolicy"] == {"redrivePermission": "denyAll"}
        assert props(default, terminal)["MessageRetentionPeriod"] == 14 * 86400


def test_queue_names_are_unique_per_stack(default: dict[str, Any]) -> None:
    names = [props(default, q)["QueueName"]["Fn::Sub"] for q in QUEUES]
    assert len(set(names)) == len(names)
    assert all(name.startswith("${AWS::StackName}-") for name in names)


def test_processing_queue_accepts_events_only_from_the_upload_rule(
    default: dict[str, Any],
) -> None:
    policy = props(default, ids.PROCESSING_QUEUE_POLICY)
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert len(allows) == 1
    (sender,) = allows
    assert sender["Principal"] == {"Service": ["events.amazonaws.com"]}
    assert sender["Action"] == ["sqs:SendMessage"]
    assert sender["Resource"] == [{"Fn::GetAtt": [ids.PROCESSING_QUEUE, "Arn"]}]
    assert sender["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [ids.UPLOAD_EVENTS_RULE, "Arn"]}}
    }


def test_queue_policies_deny_requests_without_tls_on_every_queue(
    default: dict[str, Any],
) -> None:
    covered = set()
    for policy_id in (ids.PROCESSING_QUEUE_POLICY, ids.EVENTS_DLQ_POLICY):
        policy = props(default, policy_id)
        deny = statements(policy["PolicyDocument"])["DenyInsecureTransport"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny["Principal"] == "*"
        queues = {ref["Ref"] for ref in policy["Queues"]}
        assert {r["Fn::GetAtt"][0] for r in deny["Resource"]} == queues
        covered |= queues
    assert covered == set(QUEUES)


def test_event_delivery_dlq_accepts_only_this_stacks_rules(default: dict[str, Any]) -> None:
    policy = statements(props(default, ids.EVENTS_DLQ_POLICY)["PolicyDocument"])
    sender = policy["PipelineRulesDeadLetterEvents"]
    assert sender["Action"] == ["sqs:SendMessage"]
    assert sender["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        {"Fn::GetAtt": [ids.UPLOAD_EVENTS_RULE, "Arn"]},
        {"Fn::GetAtt": [ids.JOB_STATE_RULE, "Arn"]},
    ]


def test_queue_outputs_are_exported(default: dict[str, Any]) -> None:
    for queue in QUEUES:
        assert default["Outputs"][f"{queue}Url"]["Value"] == {"Ref": queue}
        assert default["Outputs"][f"{queue}Arn"]["Value"] == {"Fn::GetAtt": [queue, "Arn"]}
        assert "Export" in default["Outputs"][f"{queue}Url"]


# --- state -----------------------------------------------------------------------------------


def test_table_keys_and_indexes(default: dict[str, Any]) -> None:
    table = props(default, ids.ASSETS_TABLE)
    assert table["TableName"] == {"Fn::Sub": "${AWS::StackName}-MediaAssets"}
    assert table["KeySchema"] == [{"AttributeName": "assetId", "KeyType": "HASH"}]
    indexes = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {
        contract.INDEX_BY_STATUS,
        contract.INDEX_BY_UPLOADER,
        contract.INDEX_BY_OUTBOX,
    }
    for name, partition, projection in (
        (contract.INDEX_BY_STATUS, "status", "ALL"),
        (contract.INDEX_BY_UPLOADER, "uploaderId", "ALL"),
        # Sparse, keys only: the reconciler re-reads each owed item consistently.
        (contract.INDEX_BY_OUTBOX, "outbox", "KEYS_ONLY"),
    ):
        assert indexes[name]["KeySchema"] == [
            {"AttributeName": partition, "KeyType": "HASH"},
            {"AttributeName": contract.INDEX_SORT_KEY, "KeyType": "RANGE"},
        ]
        assert indexes[name]["Projection"] == {"ProjectionType": projection}
    # DynamoDB rejects attribute definitions that no key uses, and keys without one.
    key_attributes = {k["AttributeName"] for k in table["KeySchema"]} | {
        k["AttributeName"] for i in indexes.values() for k in i["KeySchema"]
    }
    defined = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    assert set(defined) == key_attributes
    assert set(defined.values()) == {"S"}


def test_table_billing_encryption_and_recovery(
    default: dict[str, Any], custom: dict[str, Any]
) -> None:
    table = props(default, ids.ASSETS_TABLE)
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": _refs.key_arn().to_dict(),
    }
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props(custom, ids.ASSETS_TABLE)["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": False
    }


def test_table_protection_follows_environment_unless_the_profile_decides(
    default: dict[str, Any], custom: dict[str, Any]
) -> None:
    unset = resource(default, ids.ASSETS_TABLE)
    assert unset["Properties"]["DeletionProtectionEnabled"] == {
        "Fn::If": [ids.C_IS_PROD, True, False]
    }
    assert (unset["DeletionPolicy"], unset["UpdateReplacePolicy"]) == ("Delete", "Delete")
    production = resource(custom, ids.ASSETS_TABLE)
    assert production["Properties"]["DeletionProtectionEnabled"] is True
    assert (production["DeletionPolicy"], production["UpdateReplacePolicy"]) == (
        "Retain",
        "Retain",
    )
    unprotected = render(profile(database={"deletion_protection": False}))
    assert props(unprotected, ids.ASSETS_TABLE)["DeletionProtectionEnabled"] is False


# --- events ----------------------------------------------------------------------------------


def test_upload_rule_matches_created_objects_under_the_ingest_prefix(
    custom: dict[str, Any],
) -> None:
    rule = props(custom, ids.UPLOAD_EVENTS_RULE)
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": ids.UPLOADS_BUCKET}]},
            "object": {"key": [{"prefix": "incoming/media/"}]},
        },
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [ids.PROCESSING_QUEUE, "Arn"]}


def test_job_state_rule_matches_only_this_pipelines_jobs(
    default: dict[str, Any], custom: dict[str, Any]
) -> None:
    for template in (default, custom):
        assert props(template, ids.JOB_STATE_RULE)["EventPattern"] == {
            "source": ["aws.mediaconvert"],
            "detail-type": ["MediaConvert Job State Change"],
            "detail": {"userMetadata": {contract.META_PIPELINE_ID: [{"Ref": "AWS::StackName"}]}},
        }
    # By default the status processor logs each raw event itself; no second target.
    assert [t["Arn"] for t in props(default, ids.JOB_STATE_RULE)["Targets"]] == [
        {"Fn::GetAtt": [ids.STATUS_FUNCTION, "Arn"]},
    ]
    assert [t["Arn"] for t in props(custom, ids.JOB_STATE_RULE)["Targets"]] == [
        {"Fn::GetAtt": [ids.STATUS_FUNCTION, "Arn"]},
        {"Fn::GetAtt": [ids.JOB_EVENTS_LOG_GROUP, "Arn"]},
    ]


@pytest.mark.parametrize(
    ("mode", "log_group", "policy", "output_group"),
    [
        ("function", False, False, ids.STATUS_LOG_GROUP),
        ("log_group", True, True, ids.JOB_EVENTS_LOG_GROUP),
        ("log_group_shared_policy", True, False, ids.JOB_EVENTS_LOG_GROUP),
    ],
)
def test_job_event_log_choice_decides_log_group_policy_target_and_output(
    mode: str, log_group: bool, policy: bool, output_group: str
) -> None:
    template = render(profile(observability={"job_event_log": mode}))
    resources = template["Resources"]
    assert (ids.JOB_EVENTS_LOG_GROUP in resources) is log_group
    # The per-stack policy is an account-level resource (10 per account and Region): only the
    # profile that asks for it gets one.
    assert (ids.JOB_EVENTS_LOG_POLICY in resources) is policy
    assert [b for b in resources.values() if b["Type"] == "AWS::Logs::ResourcePolicy"] == (
        [resources[ids.JOB_EVENTS_LOG_POLICY]] if policy else []
    )
    targets = [t["Id"] for t in props(template, ids.JOB_STATE_RULE)["Targets"]]
    assert targets == (
        ["JobStatusProcessor", "JobEventsLog"] if log_group else ["JobStatusProcessor"]
    )
    # The output names the log group that actually holds the events, never a missing one.
    output = template["Outputs"][ids.O_JOB_EVENTS_LOG_GROUP_NAME]
    assert output["Value"] == {"Ref": output_group}


@pytest.mark.parametrize(("minutes", "expression"), [(1, "rate(1 minute)"), (5, "rate(5 minutes)")])
def test_reconciler_runs_on_the_profiles_schedule(minutes: int, expression: str) -> None:
    template = render(profile(reliability={"reconcile_every_minutes": minutes}))
    rule = props(template, ids.RECONCILE_SCHEDULE_RULE)
    assert rule["Name"] == {"Fn::Sub": "${AWS::StackName}-reconcile"}
    assert rule["ScheduleExpression"] == expression
    assert "EventPattern" not in rule
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [ids.RECONCILER_FUNCTION, "Arn"]}
    # A run that cannot start is retried only until the next one is due.
    assert target["RetryPolicy"] == {
        "MaximumRetryAttempts": 185,
        "MaximumEventAgeInSeconds": minutes * 60,
    }


@pytest.mark.parametrize("rule", [ids.UPLOAD_EVENTS_RULE, ids.JOB_STATE_RULE])
def test_every_rule_target_retries_then_dead_letters(default: dict[str, Any], rule: str) -> None:
    for target in props(default, rule)["Targets"]:
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": 185,
            "MaximumEventAgeInSeconds": 86400,
        }
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [ids.EVENTS_DLQ, "Arn"]}}


def test_job_events_log_group(custom: dict[str, Any]) -> None:
    group = props(custom, ids.JOB_EVENTS_LOG_GROUP)
    assert group["LogGroupName"] == {"Fn::Sub": "/aws/events/${AWS::StackName}/mediaconvert-jobs"}
    assert group["RetentionInDays"] == 60
    assert group["KmsKeyId"] == _refs.log_group_key_arn().to_dict()


def test_only_the_job_state_rule_may_write_job_events(custom: dict[str, Any]) -> None:
    policy = props(custom, ids.JOB_EVENTS_LOG_POLICY)
    document = json.loads(policy["PolicyDocument"]["Fn::Sub"])
    by_sid = statements(document)
    log_group = f"${{{ids.JOB_EVENTS_LOG_GROUP}.Arn}}"
    for statement in by_sid.values():
        assert statement["Resource"] == [log_group]
        assert "events.amazonaws.com" in statement["Principal"]["Service"]
    put = by_sid["JobStateRuleWritesJobEvents"]
    assert put["Action"] == ["logs:PutLogEvents"]
    assert put["Condition"] == {"ArnEquals": {"aws:SourceArn": f"${{{ids.JOB_STATE_RULE}.Arn}}"}}
    assert by_sid["EventBridgeCreatesJobEventStreams"]["Action"] == ["logs:CreateLogStream"]


def test_rule_outputs_are_exported(default: dict[str, Any]) -> None:
    for rule in (ids.UPLOAD_EVENTS_RULE, ids.JOB_STATE_RULE):
        output = default["Outputs"][f"{rule}Arn"]
        assert output["Value"] == {"Fn::GetAtt": [rule, "Arn"]}
        assert output["Export"] == {"Name": {"Fn::Sub": f"${{AWS::StackName}}-{rule}Arn"}}


# --- tags ------------------------------------------------------------------------------------

TAGGED = (
    ids.KMS_KEY,
    *ALL_BUCKETS,
    *QUEUES,
    ids.ASSETS_TABLE,
    ids.UPLOAD_EVENTS_RULE,
    ids.JOB_STATE_RULE,
    ids.RECONCILE_SCHEDULE_RULE,
    ids.JOB_EVENTS_LOG_GROUP,
)


@pytest.mark.parametrize("logical_id", TAGGED)
def test_taggable_resources_carry_profile_and_pipeline_tags(
    custom: dict[str, Any], logical_id: str
) -> None:
    tags = {t["Key"]: t["Value"] for t in props(custom, logical_id)["Tags"]}
    assert tags == {
        "team": "video",
        "cost-center": "42",
        _refs.TAG_PIPELINE: {"Ref": "AWS::StackName"},
        _refs.TAG_ENVIRONMENT: {"Ref": ids.P_ENVIRONMENT},
    }


def test_every_taggable_resource_of_these_components_is_tagged(custom: dict[str, Any]) -> None:
    untaggable = {"AWS::KMS::Alias", "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy",
                  "AWS::Logs::ResourcePolicy"}  # fmt: skip
    missing = [
        logical_id
        for logical_id, body in custom["Resources"].items()
        if body["Type"] not in untaggable and "Tags" not in body["Properties"]
    ]
    assert missing == []


# --- the whole template ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def full() -> dict[str, Any]:
    return build_template(profile(), handler_code=HANDLER_CODE).to_dict()


def test_key_policy_lets_logs_encrypt_every_log_group_that_uses_the_key(
    full: dict[str, Any],
) -> None:
    policy = statements(props(full, ids.KMS_KEY)["KeyPolicy"])
    patterns = [
        p["Fn::Sub"].split(":log-group:", 1)[1]
        for p in policy["CloudWatchLogsEncryptsPipelineLogGroups"]["Condition"]["StringLike"][
            "kms:EncryptionContext:aws:logs:arn"
        ]
    ]
    encrypted = [
        body["Properties"]["LogGroupName"]["Fn::Sub"]
        for body in full["Resources"].values()
        if body["Type"] == "AWS::Logs::LogGroup" and "KmsKeyId" in body["Properties"]
    ]
    assert encrypted, "expected encrypted log groups"
    for name in encrypted:
        concrete = name.replace("${AWS::StackName}", "media-prod")
        assert any(
            fnmatch.fnmatchcase(concrete, p.replace("${AWS::StackName}", "media-prod"))
            for p in patterns
        ), name


def test_lambda_permission_and_rule_target_agree(full: dict[str, Any]) -> None:
    # EventBridge can only invoke the status processor if a permission names this rule.
    permission = props(full, ids.STATUS_INVOKE_PERMISSION)
    assert permission["SourceArn"] == {"Fn::GetAtt": [ids.JOB_STATE_RULE, "Arn"]}
    assert permission["Principal"] == "events.amazonaws.com"
