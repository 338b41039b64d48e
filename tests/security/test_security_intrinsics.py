"""Resolving intrinsic functions to sample values, and the scenarios that cover both If branches."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sample_deployment import template_of

from mediapipe_cfn import ids
from mediapipe_cfn.profile.loader import builtin_profiles
from mediapipe_cfn.security.intrinsics import (
    ALTERNATIVES_NAME,
    DEFAULTS,
    NO_VALUE,
    Resolver,
    SampleEnvironment,
    Scenario,
    UnresolvableError,
    alternative_value,
    compared_values,
    resolve_template,
    scenarios,
)

ENV = SampleEnvironment()
TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Name": {"Type": "String", "Default": ""},
        "Stage": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
        "Count": {"Type": "Number", "Default": 3},
        "Zones": {"Type": "CommaDelimitedList", "Default": "a, b"},
    },
    "Mappings": {"Sizes": {"dev": {"Memory": 128}}},
    "Conditions": {
        "NoName": {"Fn::Equals": [{"Ref": "Name"}, ""]},
        "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
        "NamedProd": {"Fn::And": [{"Fn::Not": [{"Condition": "NoName"}]}, {"Condition": "IsProd"}]},
        "Either": {"Fn::Or": [{"Condition": "NoName"}, {"Condition": "IsProd"}]},
    },
    "Resources": {
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketName": {"Fn::If": ["NoName", {"Ref": "AWS::NoValue"}, {"Ref": "Name"}]}
            },
        },
        "Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": {"Fn::Sub": "${AWS::StackName}-work"}},
        },
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "worker", "Path": "/svc/"}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/aws/lambda/x"}},
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {"Name": "r"}},
        "OnlyInProd": {"Type": "AWS::SQS::Queue", "Condition": "IsProd", "Properties": {}},
        "Widget": {"Type": "AWS::Example::Widget", "Properties": {}},
    },
}


def resolve(value: Any, **parameters: Any) -> Any:
    return Resolver(TEMPLATE, Scenario("test", parameters), ENV).resolve(value)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Ref": "AWS::AccountId"}, "123456789012"),
        ({"Ref": "AWS::Region"}, "us-east-1"),
        ({"Ref": "AWS::Partition"}, "aws"),
        ({"Ref": "AWS::StackName"}, "mediapipe-test"),
        ({"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
        ({"Ref": "Stage"}, "dev"),
        ({"Ref": "Count"}, "3"),  # parameters are strings
        ({"Ref": "Zones"}, ["a", "b"]),
        ({"Ref": "Queue"}, "https://sqs.us-east-1.amazonaws.com/123456789012/mediapipe-test-work"),
        (
            {"Fn::GetAtt": ["Queue", "Arn"]},
            "arn:aws:sqs:us-east-1:123456789012:mediapipe-test-work",
        ),
        ({"Fn::GetAtt": "Queue.QueueName"}, "mediapipe-test-work"),
        ({"Ref": "Bucket"}, "mediapipe-test-bucket-sample1a2b3c"),  # generated, lower case
        ({"Fn::GetAtt": ["Role", "Arn"]}, "arn:aws:iam::123456789012:role/svc/worker"),
        (
            {"Fn::GetAtt": ["Logs", "Arn"]},
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/x:*",
        ),
        ({"Fn::GetAtt": ["Rule", "Arn"]}, "arn:aws:events:us-east-1:123456789012:rule/r"),
        ({"Ref": "Topic"}, "arn:aws:sns:us-east-1:123456789012:mediapipe-test-Topic-SAMPLE1A2B3C"),
        (
            {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/*"},
            "arn:aws:s3:::mediapipe-test-bucket-sample1a2b3c/*",
        ),
        (
            {"Fn::Sub": "${Queue.Arn}|${!Literal}"},
            "arn:aws:sqs:us-east-1:123456789012:mediapipe-test-work|${Literal}",
        ),
        ({"Fn::Sub": ["${A}-${B}", {"A": {"Ref": "Stage"}, "B": "x"}]}, "dev-x"),
        ({"Fn::Join": [":", ["a", {"Ref": "Stage"}]]}, "a:dev"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}, "y"),
        ({"Fn::If": ["IsProd", "p", "d"]}, "d"),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}, 128),
        ({"Fn::ImportValue": "shared-vpc"}, "imported-shared-vpc"),
        ({"Fn::Base64": "hi"}, "aGk="),
        ({"Fn::GetAZs": ""}, ["us-east-1a", "us-east-1b", "us-east-1c"]),
        (
            {"Fn::GetAtt": ["Widget", "Arn"]},
            "arn:aws:example:us-east-1:123456789012:widget/mediapipe-test-Widget-SAMPLE1A2B3C",
        ),
    ],
)
def test_expressions_resolve_to_sample_values(expression: Any, expected: Any) -> None:
    assert resolve(expression) == expected


def test_key_ids_are_stable_uuids() -> None:
    first = resolve({"Fn::GetAtt": ["Key", "Arn"]})
    assert first == resolve({"Fn::GetAtt": ["Key", "Arn"]})
    assert re.fullmatch(r"arn:aws:kms:us-east-1:123456789012:key/[0-9a-f-]{36}", first)
    assert resolve({"Ref": "Key"}) == first.rsplit("/", 1)[1]


def test_no_value_drops_keys_and_list_elements() -> None:
    value = {"Keep": 1, "Drop": {"Ref": "AWS::NoValue"}, "List": ["a", {"Ref": "AWS::NoValue"}]}
    assert resolve(value) == {"Keep": 1, "List": ["a"]}
    assert resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_scenario_parameters_drive_conditions_and_names() -> None:
    named = Resolver(TEMPLATE, Scenario("named", {"Name": "my-bucket", "Stage": "prod"}), ENV)
    assert named.conditions() == {
        "Either": True,
        "IsProd": True,
        "NamedProd": True,
        "NoName": False,
    }
    assert named.resolve({"Ref": "Bucket"}) == "my-bucket"
    assert named.resource_exists("OnlyInProd")
    default = Resolver(TEMPLATE, DEFAULTS, ENV)
    assert default.conditions() == {
        "Either": True,
        "IsProd": False,
        "NamedProd": False,
        "NoName": True,
    }
    assert not default.resource_exists("OnlyInProd")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"Ref": "Nothing"}, "unknown resource or parameter"),
        ({"Fn::GetAtt": ["Queue", "Colour"]}, "unsupported attribute"),
        ({"Fn::GetAtt": ["OnlyInProd", "Arn"]}, "not created"),
        ({"Fn::If": ["NoSuchCondition", 1, 2]}, "unknown condition"),
        ({"Fn::Select": [5, ["a"]]}, "out of range"),
        ({"Fn::Cidr": ["10.0.0.0/16", 2, 8]}, "not supported"),
        ({"Fn::Join": ["", {"Ref": "Stage"}]}, "needs a list"),
        ({"Fn::Sub": "${Zones}"}, "not text"),
        ({"Fn::FindInMap": ["Sizes", "prod", "Memory"]}, "no value"),
    ],
)
def test_unresolvable_expressions_are_errors(expression: Any, message: str) -> None:
    with pytest.raises(UnresolvableError, match=message):
        resolve(expression)


def test_scenario_for_an_unknown_parameter_is_an_error() -> None:
    with pytest.raises(UnresolvableError, match="unknown parameter"):
        Resolver(TEMPLATE, Scenario("bad", {"Nope": "x"}), ENV)


def test_alternative_values() -> None:
    samples = {"Name": "sample"}
    assert alternative_value("Name", {"Type": "String", "Default": ""}, samples) == (True, "sample")
    assert alternative_value("Other", {"Type": "String", "Default": ""}, samples) == (False, None)
    assert alternative_value("Name", {"Type": "String", "Default": "x"}, samples) == (True, "")
    pattern = {"Type": "String", "Default": "x", "AllowedPattern": "^[a-z]+$"}
    assert alternative_value("Name", pattern, samples) == (False, None)
    assert alternative_value("N", {"Type": "Number", "Default": 3}, samples) == (False, None)
    stage = {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "test", "prod"]}
    # The alternative flips the conditions that compare the parameter.
    assert alternative_value("Stage", stage, samples, ["prod"]) == (True, "prod")
    assert alternative_value("Stage", {**stage, "Default": "prod"}, samples, ["prod"]) == (
        True,
        "dev",
    )
    assert alternative_value("Stage", stage, samples) == (True, "test")


def test_compared_values_finds_equals_operands() -> None:
    assert compared_values(TEMPLATE["Conditions"], "Stage") == ["prod"]
    assert compared_values(TEMPLATE["Conditions"], "Name") == [""]


@pytest.fixture(scope="module", params=list(builtin_profiles()))
def builtin_template(request: pytest.FixtureRequest) -> dict[str, Any]:
    return template_of(request.param)


def test_scenarios_take_every_condition_both_ways(builtin_template: dict[str, Any]) -> None:
    values: dict[str, set[bool]] = {}
    for scenario in scenarios(builtin_template, ENV):
        for name, value in Resolver(builtin_template, scenario, ENV).conditions().items():
            values.setdefault(name, set()).add(value)
    assert values and all(seen == {True, False} for seen in values.values()), values


def test_alternative_values_satisfy_the_parameter_constraints(
    builtin_template: dict[str, Any],
) -> None:
    (alternative,) = [s for s in scenarios(builtin_template, ENV) if s.name == ALTERNATIVES_NAME]
    specs = builtin_template["Parameters"]
    assert {ids.P_KMS_KEY_ALIAS, ids.P_MEDIACONVERT_ROLE_ARN} <= set(alternative.parameters)
    for name, value in alternative.parameters.items():
        spec = specs[name]
        assert value != spec.get("Default")
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), (name, value)
        if "AllowedValues" in spec:
            assert value in spec["AllowedValues"]


def test_every_resource_of_every_scenario_resolves(builtin_template: dict[str, Any]) -> None:
    for scenario in scenarios(builtin_template, ENV):
        text = json.dumps(resolve_template(builtin_template, scenario, ENV))
        assert '"Ref"' not in text and '"Fn::' not in text
        assert "${AWS::" not in text


def test_resolution_is_deterministic(builtin_template: dict[str, Any]) -> None:
    first = json.dumps(resolve_template(builtin_template, DEFAULTS, ENV), sort_keys=True)
    assert first == json.dumps(resolve_template(builtin_template, DEFAULTS, ENV), sort_keys=True)
