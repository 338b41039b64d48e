"""The rendered template: cfn-lint clean, deterministic, golden, and extensible."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cfn_flip import load_yaml
from cfnlint.api import ManualArgs, lint
from troposphere import Template

from mediapipe_cfn import ids
from mediapipe_cfn.profile import builtin_profiles, load_profile
from mediapipe_cfn.render import render
from mediapipe_cfn.template import (
    Component,
    build_template,
    default_components,
    replace_component,
    without_component,
)

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
LINT_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
# Fixed code locations keep the golden files independent of handler edits.
LOCAL_CODE = "artifacts/mediapipe-handlers.zip"
PACKAGED_CODE = {"S3Bucket": "artifact-bucket", "S3Key": "0123456789abcdef"}
PROFILES = sorted(builtin_profiles())


def rendered(name: str, code: object = LOCAL_CODE, output_format: str = "yaml") -> str:
    return render(build_template(load_profile(name), handler_code=code), output_format)  # type: ignore[arg-type]


def lint_findings(text: str) -> list[str]:
    matches = lint(text, config=ManualArgs(regions=LINT_REGIONS))
    return [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches]


@pytest.mark.parametrize("name", PROFILES)
def test_template_is_cfn_lint_clean_as_rendered(name: str) -> None:
    assert lint_findings(rendered(name)) == []


@pytest.mark.parametrize("name", PROFILES)
def test_template_is_cfn_lint_clean_once_packaged(name: str) -> None:
    # After `aws cloudformation package` the Code is an S3 location and no lint rule is waived.
    text = rendered(name, PACKAGED_CODE)
    assert "ignore_checks" not in text
    assert lint_findings(text) == []


@pytest.mark.parametrize("name", PROFILES)
def test_template_matches_its_golden_file(name: str) -> None:
    golden = GOLDEN_DIR / f"{name}.yaml"
    text = rendered(name)
    if os.environ.get("MEDIAPIPE_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"no golden file; create it with MEDIAPIPE_UPDATE_GOLDEN=1 ({golden})"
    assert text == golden.read_text(encoding="utf-8"), (
        f"{name} template changed; if on purpose, regenerate with "
        "MEDIAPIPE_UPDATE_GOLDEN=1 python -m pytest tests/unit/test_template.py"
    )


def test_render_is_byte_identical_across_processes() -> None:
    code = (
        "from mediapipe_cfn import build_template, load_profile, render\n"
        f"print(render(build_template(load_profile('prod'), handler_code={LOCAL_CODE!r})), end='')"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert outputs == {rendered("prod")}


def test_json_and_yaml_describe_the_same_template() -> None:
    as_json = json.loads(rendered("default", output_format="json"))
    as_yaml = json.loads(json.dumps(load_yaml(rendered("default"))))
    assert as_json == as_yaml


def test_template_has_the_problem_statements_parameters_and_outputs() -> None:
    template = build_template(load_profile("default"), handler_code=LOCAL_CODE).to_dict()
    assert {
        ids.P_ENVIRONMENT,
        ids.P_UPLOADS_BUCKET_NAME,
        ids.P_OUTPUTS_BUCKET_NAME,
        ids.P_MEDIACONVERT_ROLE_ARN,
        ids.P_KMS_KEY_ALIAS,
        ids.P_PROCESSING_CONCURRENCY,
    } <= set(template["Parameters"])
    outputs = template["Outputs"]
    for resource in (ids.UPLOADS_BUCKET, ids.OUTPUTS_BUCKET, ids.ASSETS_TABLE):
        assert any(resource in json.dumps(o["Value"]) for o in outputs.values()), resource
    assert all("Export" in output for output in outputs.values())


def test_logical_ids_of_stateful_resources_never_change() -> None:
    resources = build_template(load_profile("prod"), handler_code=LOCAL_CODE).resources
    stateful = {
        "UploadsBucket": "AWS::S3::Bucket",
        "OutputsBucket": "AWS::S3::Bucket",
        "AccessLogsBucket": "AWS::S3::Bucket",
        "MediaAssetsTable": "AWS::DynamoDB::Table",
        "PipelineKey": "AWS::KMS::Key",
        "ProcessingQueue": "AWS::SQS::Queue",
        "ProcessingDeadLetterQueue": "AWS::SQS::Queue",
    }
    assert {name: resources[name].resource_type for name in stateful} == stateful


# --- Extending the template from another team's code -------------------------------------------


def test_a_component_can_be_added_replaced_and_removed() -> None:
    from troposphere.sqs import Queue

    def indexing_queue(ctx) -> None:  # type: ignore[no-untyped-def]
        ctx.add(Queue("IndexingQueue", SqsManagedSseEnabled=True))

    profile = load_profile("default")
    components = (*default_components(), Component("indexing", indexing_queue))
    assert "IndexingQueue" in build_template(profile, components=components).resources

    replaced = replace_component(components, "indexing", lambda ctx: None)
    assert "IndexingQueue" not in build_template(profile, components=replaced).resources

    trimmed = without_component(default_components(), "observability")
    assert ids.DASHBOARD not in build_template(profile, components=trimmed).resources
    with pytest.raises(KeyError, match="no component named 'nope'"):
        replace_component(default_components(), "nope", lambda ctx: None)


def test_post_processors_edit_the_finished_template() -> None:
    def retain_everything(template: Template, profile) -> None:  # type: ignore[no-untyped-def]
        for resource in template.resources.values():
            resource.DeletionPolicy = "Retain"

    template = build_template(load_profile("default"), post_processors=[retain_everything])
    assert {r.DeletionPolicy for r in template.resources.values()} == {"Retain"}


def test_docs_extending_example_runs() -> None:
    """The example in docs/extending.md is real code: run it."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "extending.md").read_text("utf-8")
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {"__name__": "extending_example"}
    exec(compile(code, "docs/extending.md", "exec"), namespace)
    template = namespace["template"]
    assert isinstance(template, Template)
    assert lint_findings(render(template)) == []
    report = namespace["report"]
    assert report.ok, report.lines()  # type: ignore[attr-defined]
    assert report.lines() == [  # type: ignore[attr-defined]
        "template prod: OK (references; cfn-lint in us-east-1, eu-west-1; least-privilege rules)"
    ]
