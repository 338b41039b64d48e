"""render's CloudFormation quotas: the same figures as cfn-lint's, and they find what it finds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cfnlint
import pytest
from cfnlint.api import ManualArgs, lint
from cfnlint.helpers import LIMITS

from mediapipe_cfn import limits
from mediapipe_cfn.profile import builtin_profiles, load_profile
from mediapipe_cfn.render import render
from mediapipe_cfn.template import build_template

SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas" / "other"


def _schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def test_the_quotas_are_cfn_lints() -> None:
    assert LIMITS["template"]["body"] == limits.TEMPLATE_BODY_MAX_BYTES
    assert _schema("template/description.json")["maxLength"] == limits.DESCRIPTION_MAX_LENGTH
    for section, most in limits.SECTION_MAX_ENTRIES.items():
        assert most == LIMITS[section]["number"], section
        assert LIMITS[section]["name"] == limits.LOGICAL_ID_MAX_LENGTH, section
    outputs = _schema("outputs/configuration.json")["patternProperties"]["^[a-zA-Z0-9]+$"]
    assert outputs["properties"]["Description"]["maxLength"] == limits.OUTPUT_DESCRIPTION_MAX_LENGTH
    parameters = _schema("parameters/configuration.json")["patternProperties"]["^[a-zA-Z0-9]+$"]
    described = parameters["properties"]["Description"]["maxLength"]
    assert described == limits.PARAMETER_DESCRIPTION_MAX_LENGTH


@pytest.mark.parametrize("name", sorted(builtin_profiles()))
def test_builtin_templates_are_within_the_quotas(name: str) -> None:
    template = build_template(load_profile(name))
    text = render(template, "json")
    assert limits.template_limit_problems(template.to_dict(), text) == []


def _over_the_quotas() -> dict[str, Any]:
    topic = {"Type": "AWS::SNS::Topic"}
    resources = {f"Topic{i}": topic for i in range(limits.SECTION_MAX_ENTRIES["Resources"])}
    resources["T" * 256] = topic
    resources["Bad_Id"] = topic
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "d" * 1025,
        "Resources": resources,
        "Outputs": {"Out": {"Value": "x", "Description": "o" * 1025}},
    }


def test_each_quota_is_found_and_cfn_lint_agrees() -> None:
    document = _over_the_quotas()
    text = json.dumps(document)
    found = {f"{p.where}: {p.message}" for p in limits.template_limit_problems(document, text)}
    assert found == {
        "Description: 1,025 characters; at most 1,024",
        "Resources: 502 entries; at most 500",
        f"Resources.{'T' * 40}: name of 256 characters; at most 255",
        "Resources.Bad_Id: names may hold only the letters A-Z, a-z and digits",
        "Outputs.Out.Description: 1,025 characters; at most 1,024",
    }
    rules = {match.rule.id for match in lint(text, config=ManualArgs(regions=["us-east-1"]))}
    # E1003 description, E3010 resource count, E3001 logical IDs, E6011 output description
    assert rules == {"E1003", "E3010", "E3001", "E6011"}


def test_template_body_over_a_megabyte_is_found() -> None:
    document = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    text = json.dumps(document) + " " * limits.TEMPLATE_BODY_MAX_BYTES
    [problem] = limits.template_limit_problems(document, text)
    assert problem.where == "template" and problem.message.endswith("at most 1,000,000")
