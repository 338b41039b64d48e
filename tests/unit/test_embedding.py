"""Using the library from another team's code: clear errors for misuse and broken compositions."""

from __future__ import annotations

from pathlib import Path

import pytest
from troposphere import Output, Ref, Sub, Template
from troposphere.sqs import Queue

from mediapipe_cfn import (
    Component,
    TemplateError,
    build_template,
    default_components,
    load_profile,
    render,
    replace_component,
    validate_template,
    without_component,
)
from mediapipe_cfn.references import dangling_references
from mediapipe_cfn.template import BuildContext

COMPONENT_NAMES = [c.name for c in default_components()]


@pytest.fixture(scope="module")
def profile():  # type: ignore[no-untyped-def]
    return load_profile("prod")


@pytest.fixture(scope="module")
def full_template(profile) -> Template:  # type: ignore[no-untyped-def]
    return build_template(profile)


def _ids_added_by(profile, name: str) -> set[str]:  # type: ignore[no-untyped-def]
    template = Template()
    context = BuildContext(profile=profile, template=template, handler_code="code.zip")
    for component in default_components():
        before = set(template.resources) | set(template.parameters) | set(template.conditions)
        component.build(context)
        after = set(template.resources) | set(template.parameters) | set(template.conditions)
        if component.name == name:
            return after - before
    raise AssertionError(name)


@pytest.mark.parametrize("name", COMPONENT_NAMES)
def test_dropping_a_component_builds_cleanly_or_names_what_is_missing(profile, name: str) -> None:  # type: ignore[no-untyped-def]
    try:
        template = build_template(profile, components=without_component(default_components(), name))
    except TemplateError as exc:
        message = str(exc)
        missing = _ids_added_by(profile, name)
        assert any(f"'{logical_id}' needed by component '" in message for logical_id in missing)
        others = [n for n in COMPONENT_NAMES if n != name]
        assert any(f"component '{other}'" in message for other in others)
        assert f"component '{name}'" not in message
    else:
        assert dangling_references(template.to_dict()) == []


def test_a_replacement_that_adds_nothing_is_refused(profile) -> None:  # type: ignore[no-untyped-def]
    components = replace_component(default_components(), "state", lambda ctx: None)
    with pytest.raises(TemplateError) as raised:
        build_template(profile, components=components)
    message = str(raised.value)
    assert "resource 'MediaAssetsTable' needed by component 'compute'" in message
    assert "(at Resources.IngestOrchestratorFunction.Properties.Environment" in message


def test_a_post_processor_that_removes_a_needed_resource_is_refused(profile) -> None:  # type: ignore[no-untyped-def]
    def drop_the_queue(template: Template, _) -> None:  # type: ignore[no-untyped-def]
        del template.resources["ProcessingQueue"]

    with pytest.raises(TemplateError, match="'ProcessingQueue' needed by component 'compute'"):
        build_template(profile, post_processors=[drop_the_queue])


def test_a_dangling_reference_added_by_a_post_processor_names_it(profile) -> None:  # type: ignore[no-untyped-def]
    def export_a_ghost(template: Template, _) -> None:  # type: ignore[no-untyped-def]
        template.add_output(Output("Ghost", Value=Sub("${GhostQueue.Arn}")))

    with pytest.raises(TemplateError) as raised:
        build_template(profile, post_processors=[export_a_ghost])
    assert "resource 'GhostQueue' needed by post-processor 'export_a_ghost'" in str(raised.value)
    assert "Outputs.Ghost.Value.Fn::Sub" in str(raised.value)


def test_context_resource_names_the_component_that_needs_it(profile) -> None:  # type: ignore[no-untyped-def]
    def needs_the_table(ctx: BuildContext) -> None:
        ctx.resource("MediaAssetsTable")

    components = [Component("reporting", needs_the_table)]
    with pytest.raises(KeyError, match="component 'reporting' needs resource 'MediaAssetsTable'"):
        build_template(profile, components=components)


def test_references_of_every_intrinsic_form_are_found() -> None:
    template = {
        "Parameters": {"Stage": {"Type": "String"}},
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}},
        "Resources": {
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Condition": "NoSuchCondition",
                "DependsOn": ["Missing1"],
                "Properties": {
                    "QueueName": {"Fn::Sub": "${AWS::StackName}-${!Literal}-${Stage}-${Missing2}"},
                    "Tags": [{"Key": "a", "Value": {"Fn::GetAtt": "Missing3.Arn"}}],
                    "Other": {"Fn::Sub": ["${Local}-${Missing4.Arn}", {"Local": {"Ref": "Queue"}}]},
                    "Choice": {"Fn::If": ["IsProd", {"Ref": "Missing5"}, {"Ref": "AWS::NoValue"}]},
                    "Mapped": {"Fn::FindInMap": ["NoSuchMap", "a", "b"]},
                    # An IAM condition block is data, not the Condition function.
                    "Statement": {"Condition": {"StringEquals": {"Ref": "Missing6"}}},
                },
            }
        },
    }
    found = {(r.kind, r.target) for r in dangling_references(template)}
    assert found == {
        ("condition", "NoSuchCondition"),
        ("resource", "Missing1"),
        ("resource or parameter", "Missing2"),
        ("resource", "Missing3"),
        ("resource", "Missing4"),
        ("resource or parameter", "Missing5"),
        ("mapping", "NoSuchMap"),
        ("resource or parameter", "Missing6"),
    }


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("prod", "got str: load it with load_profile"),
        ({"name": "prod"}, "got dict: validate it with Profile.model_validate"),
        (Path("profiles/prod.yaml"), "Path: load it with load_profile(path_or_name) first"),
        (None, "got NoneType"),
    ],
)
def test_build_template_refuses_what_is_not_a_profile(given: object, expected: str) -> None:
    with pytest.raises(
        TypeError, match=r"build_template\(\) needs a mediapipe_cfn.Profile"
    ) as raised:
        build_template(given)  # type: ignore[arg-type]
    assert expected in str(raised.value)


def test_render_refuses_an_unknown_format_and_a_non_template(full_template: Template) -> None:
    with pytest.raises(ValueError, match="must be one of 'yaml', 'json', got 'yml'"):
        render(full_template, "yml")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"needs a troposphere\.Template .* got dict"):
        render(full_template.to_dict(), "yaml")  # type: ignore[arg-type]


def test_render_writes_what_its_docstring_says(profile) -> None:  # type: ignore[no-untyped-def]
    def describe_in_french(template: Template, _) -> None:  # type: ignore[no-untyped-def]
        template.set_description("Chaîne vidéo")

    template = build_template(profile, post_processors=[describe_in_french])
    yaml_text = render(template, "yaml")
    assert "Fn::GetAtt:" in yaml_text and "\n      Ref: " in yaml_text
    assert "!Ref" not in yaml_text and "!GetAtt" not in yaml_text and "!Sub" not in yaml_text
    assert "Description: Chaîne vidéo\n" in yaml_text
    json_text = render(template, "json")
    assert json_text.startswith('{\n  "AWSTemplateFormatVersion"')
    assert '"Description": "Chaîne vidéo"' in json_text
    assert yaml_text.endswith("\n") and json_text.endswith("\n")


def test_validate_template_passes_a_built_template_and_reports_a_broken_one(
    full_template: Template,
) -> None:
    assert validate_template(full_template).ok

    broken = full_template.to_dict()
    broken["Outputs"]["Ghost"] = {"Value": {"Fn::GetAtt": ["GhostQueue", "Arn"]}}
    broken["Resources"]["WideRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                    }
                ],
            },
            "Policies": [
                {
                    "PolicyName": "everything",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "s3:*",
                                "Resource": {"Fn::GetAtt": ["UploadsBucket", "Arn"]},
                            }
                        ],
                    },
                }
            ],
        },
    }
    report = validate_template(broken, name="broken")
    checks = {f.check for f in report.failures}
    assert not report.ok
    assert {"references", "cfn-lint", "policy-rules"} <= checks
    assert report.lines()[-1].startswith("template broken: ")
    assert any("'GhostQueue'" in f.message for f in report.failures if f.check == "references")
    assert any("s3:*" in f.message for f in report.failures if f.check == "policy-rules")


def test_validate_template_refuses_text() -> None:
    with pytest.raises(TypeError, match=r"needs a troposphere\.Template or its to_dict"):
        validate_template("Resources: {}")  # type: ignore[arg-type]


def test_an_added_queue_needs_no_declaration(profile) -> None:  # type: ignore[no-untyped-def]
    """Components of other teams may add and refer to their own resources freely."""

    def own_queue(ctx: BuildContext) -> None:
        queue = ctx.add(Queue("TeamQueue", SqsManagedSseEnabled=True))
        ctx.output("TeamQueueUrl", Ref(queue), "The team's queue")

    template = build_template(
        profile, components=[*default_components(), Component("t", own_queue)]
    )
    assert "TeamQueue" in template.resources


def test_a_deliberately_partial_template_can_skip_the_reference_check(profile) -> None:  # type: ignore[no-untyped-def]
    components = without_component(default_components(), "compute")
    with pytest.raises(TemplateError):
        build_template(profile, components=components)
    partial = build_template(profile, components=components, check_references=False)
    assert "IngestOrchestratorFunction" not in partial.resources
