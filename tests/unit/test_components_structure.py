"""How the components are put together: what they may import, where their IDs come from, and the
shared builders in ``components._refs`` and ``mediapipe_cfn.iam``.

Components meet only through the logical IDs in :mod:`mediapipe_cfn.ids` and the expressions in
``components._refs``, so one can be replaced or dropped without the others noticing.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from awacs import kms
from awacs.aws import ArnEquals, ForAnyValueStringEquals, StringEquals, StringLike
from troposphere import encode_to_dict

from mediapipe_cfn import iam, ids
from mediapipe_cfn.components import _refs
from mediapipe_cfn.profile import load_profile
from mediapipe_cfn.profile.loader import builtin_profiles
from mediapipe_cfn.template import build_template

COMPONENTS_PACKAGE = "mediapipe_cfn.components"
COMPONENTS_DIR = Path(_refs.__file__).resolve().parent
SHARED_MODULE = "_refs"
COMPONENT_MODULES = sorted(
    path for path in COMPONENTS_DIR.glob("*.py") if path.name != "__init__.py"
)


def imported_component_modules(source: str) -> set[str]:
    """Names of the modules of the components package that ``source`` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(f"{COMPONENTS_PACKAGE}."):
                    found.add(alias.name.split(".")[2])
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative to the components package itself
                package_relative = module.split(".")[0] if module else ""
            elif module == COMPONENTS_PACKAGE or module.startswith(f"{COMPONENTS_PACKAGE}."):
                package_relative = module.removeprefix(COMPONENTS_PACKAGE).lstrip(".")
                package_relative = package_relative.split(".")[0]
            else:
                continue
            if package_relative:
                found.add(package_relative)
            else:  # "from <package> import a, b": the names are the modules
                found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from mediapipe_cfn.components import _refs", {"_refs"}),
        ("from mediapipe_cfn.components import _refs, compute", {"_refs", "compute"}),
        ("from mediapipe_cfn.components.compute import key", {"compute"}),
        ("import mediapipe_cfn.components.storage as s", {"storage"}),
        ("from . import media", {"media"}),
        ("from .events import build", {"events"}),
        ("def f():\n    from mediapipe_cfn.components import state\n", {"state"}),
        ("from mediapipe_cfn import ids\nfrom mediapipe_cfn.iam import allow", set()),
    ],
)
def test_component_imports_are_recognised_in_every_form(source: str, expected: set[str]) -> None:
    assert imported_component_modules(source) == expected


def test_the_component_modules_are_found() -> None:
    names = {path.stem for path in COMPONENT_MODULES}
    assert {SHARED_MODULE, "compute", "media", "observability", "storage"} <= names


@pytest.mark.parametrize("path", COMPONENT_MODULES, ids=lambda path: path.stem)
def test_components_import_no_other_component(path: Path) -> None:
    imported = imported_component_modules(path.read_text(encoding="utf-8"))
    allowed = set() if path.stem == SHARED_MODULE else {SHARED_MODULE}
    assert imported <= allowed, f"{path.name} imports {sorted(imported - allowed)}"


# --- Logical IDs --------------------------------------------------------------------------------


def id_constants() -> tuple[set[str], set[str]]:
    """The string constants of :mod:`ids`: exact IDs, and prefixes (names ending in _PREFIX)."""
    exact: set[str] = set()
    prefixes: set[str] = set()
    for name, value in vars(ids).items():
        if name.isupper() and isinstance(value, str):
            (prefixes if name.endswith("_PREFIX") else exact).add(value)
    return exact, prefixes


@cache
def rendered(profile_name: str) -> dict[str, Any]:
    template = build_template(load_profile(profile_name), handler_code="artifacts/handlers.zip")
    return template.to_dict()


def logical_ids(document: dict[str, Any]) -> set[str]:
    sections = ("Parameters", "Conditions", "Resources", "Outputs")
    return {logical_id for section in sections for logical_id in document.get(section, {})}


def is_declared(logical_id: str, exact: set[str], prefixes: set[str]) -> bool:
    return logical_id in exact or any(
        logical_id.startswith(prefix) and re.fullmatch(r"[A-Za-z0-9]+", logical_id[len(prefix) :])
        for prefix in prefixes
    )


def test_id_constants_are_unique_per_kind() -> None:
    # A parameter and an output may share a name (separate namespaces); two resources may not.
    resource_ids = [
        value
        for name, value in vars(ids).items()
        if name.isupper() and isinstance(value, str) and not name.startswith(("P_", "C_", "O_"))
    ]
    assert len(resource_ids) == len(set(resource_ids))
    outputs = [value for name, value in vars(ids).items() if name.startswith("O_")]
    assert len(outputs) == len(set(outputs))


@pytest.mark.parametrize("profile_name", sorted(builtin_profiles()))
def test_every_logical_id_of_the_template_is_declared_in_ids(profile_name: str) -> None:
    exact, prefixes = id_constants()
    undeclared = {
        logical_id
        for logical_id in logical_ids(rendered(profile_name))
        if not is_declared(logical_id, exact, prefixes)
    }
    assert not undeclared, f"logical IDs not in mediapipe_cfn.ids: {sorted(undeclared)}"


def test_the_id_check_catches_an_undeclared_id() -> None:
    exact, prefixes = id_constants()
    assert is_declared(ids.QUEUE_DEPTH_ALARM, exact, prefixes)
    assert is_declared(f"{ids.ALARM_EMAIL_SUBSCRIPTION_PREFIX}0a1b2c3d4e", exact, prefixes)
    assert not is_declared("SomeAdHocAlarm", exact, prefixes)
    assert not is_declared(f"{ids.JOB_TEMPLATE_PREFIX}-odd", exact, prefixes)


# --- Shared builders -------------------------------------------------------------------------


def as_dict(value: Any) -> Any:
    """An awacs or troposphere object as CloudFormation receives it, nested objects included."""
    return encode_to_dict(value)


def test_trust_statement_names_the_service_and_no_resource() -> None:
    statement = as_dict(
        iam.trust_statement("SvcAssumes", "lambda", StringEquals("aws:SourceAccount", "1"))
    )
    assert statement == {
        "Sid": "SvcAssumes",
        "Effect": "Allow",
        "Action": ["sts:AssumeRole"],
        "Principal": {"Service": ["lambda.amazonaws.com"]},
        "Condition": {"StringEquals": {"aws:SourceAccount": "1"}},
    }
    assert "Condition" not in as_dict(iam.trust_statement("SvcAssumes", "lambda"))


def test_a_condition_operator_may_appear_once() -> None:
    # The block is keyed by operator: a second StringEquals would silently replace the first.
    with pytest.raises(ValueError, match="StringEquals"):
        iam.allow("Twice", [kms.Decrypt], ["*"], StringEquals("a", "1"), StringEquals("b", "2"))
    combined = iam.condition(StringEquals("a", "1"), ArnEquals("b", "2"))
    assert as_dict(combined) == {"StringEquals": {"a": "1"}, "ArnEquals": {"b": "2"}}


def test_insecure_transport_denial_covers_every_action_of_the_service() -> None:
    statement = as_dict(iam.deny_insecure_transport("sqs", ["arn:q"]))
    assert statement == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["sqs:*"],
        "Resource": ["arn:q"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def key_condition_branches(statement: Any) -> tuple[Any, Any]:
    """The ``Condition`` of a key statement for the created key and for an existing key."""
    condition = as_dict(statement)["Condition"]
    return _key_case(condition, True), _key_case(condition, False)


def _key_case(value: Any, create_key: bool) -> Any:
    """``value`` with ``CreateKmsKey`` decided and members that became AWS::NoValue dropped."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        name, when_true, when_false = value["Fn::If"]
        assert name == ids.C_CREATE_KMS_KEY
        return _key_case(when_true if create_key else when_false, create_key)
    if isinstance(value, dict):
        decided = {k: _key_case(v, create_key) for k, v in value.items()}
        return {k: v for k, v in decided.items() if v != {"Ref": "AWS::NoValue"}}
    return value


ALIAS_MATCH = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": {"Ref": ids.P_KMS_KEY_ALIAS}}}


def test_key_use_statement_without_conditions_pins_only_the_existing_key() -> None:
    created, existing = key_condition_branches(_refs.key_use_statement("Use", [kms.Decrypt]))
    assert created == {"Ref": "AWS::NoValue"}
    assert existing == ALIAS_MATCH


def test_key_use_statement_conditions_apply_to_both_key_cases() -> None:
    extra = StringLike("kms:EncryptionContext:name", "fn-*")
    statement = _refs.key_use_statement("Use", [kms.Decrypt], extra)
    created, existing = key_condition_branches(statement)
    assert created == {"StringLike": {"kms:EncryptionContext:name": "fn-*"}}
    assert existing == {**created, **ALIAS_MATCH}
    # The shared conditions are written once; only the alias match depends on the key case.
    assert as_dict(statement)["Condition"]["StringLike"] == created["StringLike"]


def test_key_use_statement_refuses_an_operator_the_alias_match_uses() -> None:
    clash = ForAnyValueStringEquals("kms:RequestAlias", "alias/x")
    with pytest.raises(ValueError, match="ForAnyValue:StringEquals"):
        _refs.key_use_statement("Use", [kms.Decrypt], clash)


def test_key_use_through_services_lists_each_endpoint_once_sorted() -> None:
    def via(statement: Any) -> Any:
        created, _ = key_condition_branches(statement)
        return created["StringEquals"]["kms:ViaService"]

    endpoint = {"Fn::Sub": "s3.${AWS::Region}.${AWS::URLSuffix}"}
    assert via(_refs.key_use_through_services("S3", ["s3"])) == endpoint
    several = via(_refs.key_use_through_services("Many", ["sqs", "dynamodb", "s3"]))
    assert [item["Fn::Sub"].split(".")[0] for item in several] == ["dynamodb", "s3", "sqs"]
    actions = as_dict(_refs.key_use_through_services("S3", ["s3"]))["Action"]
    assert actions == ["kms:Decrypt", "kms:GenerateDataKey"]


@pytest.mark.parametrize(("profile_name", "policy"), [("prod", "Retain"), ("default", "Delete")])
def test_production_data_outlives_the_stack(profile_name: str, policy: str) -> None:
    profile = load_profile(profile_name)
    assert (profile.environment == "prod") == (policy == "Retain")
    resources = rendered(profile_name)["Resources"]
    # The job history is the status processor's log unless the profile asks for its own group.
    assert profile.observability.job_event_log == "function"
    for logical_id in (ids.ASSETS_TABLE, ids.STATUS_LOG_GROUP):
        assert resources[logical_id]["DeletionPolicy"] == policy
        assert resources[logical_id]["UpdateReplacePolicy"] == policy
    for logical_id in (ids.UPLOADS_BUCKET, ids.OUTPUTS_BUCKET, ids.ACCESS_LOGS_BUCKET):
        assert resources[logical_id]["DeletionPolicy"] == "Retain"


def test_scanner_skip_metadata_keeps_each_check_with_its_reason() -> None:
    assert _refs.scanner_skip_metadata(("CKV_1", "why one"), ("CKV_2", "why two")) == {
        "checkov": {
            "skip": [{"id": "CKV_1", "comment": "why one"}, {"id": "CKV_2", "comment": "why two"}]
        }
    }
