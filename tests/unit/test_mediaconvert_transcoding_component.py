"""The transcoding component: runtime-config parameter and MediaConvert job templates."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint
from troposphere import Template, mediaconvert

from mediapipe_cfn import ids
from mediapipe_cfn.components import transcoding
from mediapipe_cfn.mediaconvert.semantic import check_settings
from mediapipe_cfn.mediaconvert.settings import job_formats, job_template_settings
from mediapipe_cfn.mediaconvert.spec import transcode_spec
from mediapipe_cfn.mediaconvert.validator import validate_job_template_settings
from mediapipe_cfn.profile import builtin_profiles, load_profile
from mediapipe_cfn.profile.model import Profile
from mediapipe_cfn.render import render
from mediapipe_cfn.runtime_config import runtime_config
from mediapipe_cfn.template import BuildContext, Component, build_template

PROFILES = sorted(builtin_profiles())


def with_queue(ctx: BuildContext) -> None:
    """The queue the media component owns, so the templates' GetAtt resolves."""
    ctx.add(mediaconvert.Queue(ids.MEDIACONVERT_QUEUE, PricingPlan="ON_DEMAND", Status="ACTIVE"))


def component_template(profile: Profile) -> dict[str, Any]:
    template = build_template(
        profile,
        handler_code="artifacts/handlers.zip",
        components=[Component("queue", with_queue), Component("transcoding", transcoding.build)],
    )
    return json.loads(render(template, "json"))


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_parameter_holds_the_runtime_config_as_compact_sorted_json() -> None:
    profile = load_profile("default")
    parameter = component_template(profile)["Resources"][ids.TRANSCODE_PARAMETER]
    assert parameter["Type"] == "AWS::SSM::Parameter"
    properties = parameter["Properties"]
    assert properties["Type"] == "String" and properties["Tier"] == "Standard"
    assert properties["Name"] == {"Fn::Sub": "/mediapipe/${AWS::StackName}/runtime-config"}
    assert json.loads(properties["Value"]) == runtime_config(profile)
    assert properties["Value"] == json.dumps(
        runtime_config(profile), sort_keys=True, separators=(",", ":")
    )


def test_parameter_name_is_an_output() -> None:
    output = component_template(load_profile("default"))["Outputs"]["TranscodeConfigParameterName"]
    assert output["Value"] == {"Ref": ids.TRANSCODE_PARAMETER}


def test_oversized_configuration_moves_to_the_advanced_tier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transcoding, "runtime_config_json", lambda profile: "x" * 4097)
    properties = component_template(load_profile("default"))["Resources"][ids.TRANSCODE_PARAMETER][
        "Properties"
    ]
    assert properties["Tier"] == "Advanced"


@pytest.mark.parametrize("name", PROFILES)
def test_one_job_template_per_job_with_the_builders_settings(name: str) -> None:
    profile = load_profile(name)
    spec = transcode_spec(profile)
    templates = resources_of_type(component_template(profile), "AWS::MediaConvert::JobTemplate")
    expected_ids = {ids.JOB_TEMPLATE_PREFIX + job.title(): job for job in job_formats(spec)}
    assert set(templates) == set(expected_ids)
    for logical_id, job in expected_ids.items():
        properties = templates[logical_id]["Properties"]
        assert properties["SettingsJson"] == job_template_settings(spec, job)
        assert properties["Name"] == {"Fn::Sub": f"${{AWS::StackName}}-{job}"}
        assert properties["Queue"] == {"Fn::GetAtt": [ids.MEDIACONVERT_QUEUE, "Arn"]}
        assert properties["StatusUpdateInterval"] == (
            f"SECONDS_{profile.transcoding.status_update_interval_seconds}"
        )
        assert properties["Priority"] == profile.transcoding.priority
        assert validate_job_template_settings(properties["SettingsJson"]) == []


def test_job_template_ids_for_the_default_profile() -> None:
    templates = resources_of_type(
        component_template(load_profile("default")), "AWS::MediaConvert::JobTemplate"
    )
    assert sorted(templates) == ["JobTemplateCmaf", "JobTemplateMp4"]


def test_job_templates_pass_the_semantic_checks_for_default_profile() -> None:
    spec = transcode_spec(load_profile("default"))
    for job in job_formats(spec):
        assert check_settings(job_template_settings(spec, job)) == []


def test_component_output_is_deterministic() -> None:
    profile = load_profile("prod")
    assert component_template(profile) == component_template(profile)


@pytest.mark.parametrize("name", PROFILES)
def test_component_is_cfn_lint_clean(name: str) -> None:
    template = build_template(
        load_profile(name),
        handler_code="artifacts/handlers.zip",
        components=[Component("queue", with_queue), Component("transcoding", transcoding.build)],
    )
    matches = lint(render(template, "yaml"), config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


def test_component_works_on_a_bare_context() -> None:
    template = Template()
    ctx = BuildContext(profile=load_profile("lean"), template=template, handler_code="x.zip")
    with_queue(ctx)
    transcoding.build(ctx)
    assert ctx.has(ids.TRANSCODE_PARAMETER) and ctx.has("JobTemplateAll")
