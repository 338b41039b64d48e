"""The README's "Deploying" commands, run as written with the real awscli against moto's server.

The commands are read from README.md itself, so the documented path cannot drift from what
works. Between `render` and `package` the test rewrites the rendered template for what moto's
CloudFormation cannot model (emulator_gaps.py); the product's template is never changed for it.
The artifact bucket is the one thing the reader fills in: the test creates one and uses its name.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfn_flip import load_yaml
from emulator_gaps import emulator_compatible
from moto.cloudformation.parsing import get_model_map
from moto.server import ThreadedMotoServer

from mediapipe_cfn import build_template, builtin_profiles, load_profile, render
from mediapipe_cfn.artifacts import handler_zip_name

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
BUCKET_PLACEHOLDER = "YOUR-ARTIFACT-BUCKET"
ARTIFACT_BUCKET = "team-artifacts"
INLINE_TEMPLATE_LIMIT = 51_200  # bytes CloudFormation takes as TemplateBody
S3_TEMPLATE_LIMIT = 1_000_000  # bytes of a template read from S3 (1 MB)
LOCAL_HOSTS = "localhost,127.0.0.1"
# ingest-orchestrator, job-status-processor and reconciler, all from the one zip.
FUNCTIONS = 3


def readme_deploy_commands() -> list[str]:
    """The shell commands of README.md's "Deploying" block: continuations joined, comments cut."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Deploying\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.+?)\n```", section, re.DOTALL)
    assert block is not None, "README's Deploying section has no bash block"
    joined = block.group(1).replace("\\\n", " ")
    commands = [line.split("  #", 1)[0].strip() for line in joined.splitlines()]
    return [" ".join(command.split()) for command in commands if command]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NO_PROXY", LOCAL_HOSTS)  # a CI proxy must not see the local endpoint
        # moto's CloudFormation fetches a TemplateURL only when its host is "localhost".
        yield f"http://localhost:{port}"
    server.stop()


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _fake_aws_environment(endpoint: str, home: Path) -> dict[str, str]:
    """This interpreter's scripts first on PATH, fake credentials, no user configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL=endpoint,
        AWS_CONFIG_FILE=str(home / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
        AWS_PAGER="",
        NO_PROXY=LOCAL_HOSTS,
        no_proxy=LOCAL_HOSTS,
    )
    return env


def _run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def _make_emulator_compatible(template_file: Path) -> None:
    template = json.loads(json.dumps(load_yaml(template_file.read_text(encoding="utf-8"))))
    compatible = emulator_compatible(template, set(get_model_map()))
    # JSON is YAML: `package` reads the file under its .yaml name unchanged.
    template_file.write_text(json.dumps(compatible, indent=1), encoding="utf-8")


def readme_template_sizes() -> dict[str, int]:
    """The "Template size" table of README's Deploying section: profile -> size in KB."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Deploying\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([\w-]+)` \| (\d+) KB \|$", section, re.MULTILINE)
    return {name: int(kb) for name, kb in rows}


def test_readme_states_each_builtin_template_size() -> None:
    stated = readme_template_sizes()
    assert set(stated) == set(builtin_profiles())
    for name, kb in stated.items():
        size = len(render(build_template(load_profile(name)), "yaml").encode())
        # Over the inline limit (why `deploy` needs --s3-bucket), far under the S3 one.
        assert INLINE_TEMPLATE_LIMIT < size < S3_TEMPLATE_LIMIT, (name, size)
        # Stated to the KB; a drift over 10% means the README needs the new figure.
        assert abs(size - kb * 1000) <= size / 10, f"README: `{name}` is {round(size / 1000)} KB"


def test_readme_has_render_package_and_deploy() -> None:
    commands = readme_deploy_commands()
    assert [c.split()[:3] for c in commands] == [
        ["mkdir", "-p", "build"],  # render writes into an existing folder only
        ["mediapipe-cfn", "render", "--profile"],
        ["aws", "cloudformation", "package"],
        ["aws", "cloudformation", "deploy"],
    ]
    # A template over 51,200 bytes reaches CloudFormation only through S3.
    assert f"--s3-bucket {BUCKET_PLACEHOLDER}" in commands[3]


def test_readme_deploy_commands_create_the_stack(endpoint: str, tmp_path: Path) -> None:
    mkdir, render, package, deploy = (
        c.replace(BUCKET_PLACEHOLDER, ARTIFACT_BUCKET) for c in readme_deploy_commands()
    )
    stack_name = re.search(r"--stack-name (\S+)", deploy)
    assert stack_name is not None
    env = _fake_aws_environment(endpoint, tmp_path)
    s3 = _client("s3", endpoint)
    s3.create_bucket(Bucket=ARTIFACT_BUCKET)

    _run(mkdir, tmp_path, env)
    _run(render, tmp_path, env)
    template_file = tmp_path / "build" / "template.yaml"
    zip_bytes = (tmp_path / "build" / "artifacts" / handler_zip_name()).read_bytes()
    assert len(template_file.read_bytes()) > INLINE_TEMPLATE_LIMIT  # why deploy needs S3
    _make_emulator_compatible(template_file)

    _run(package, tmp_path, env)
    packaged = load_yaml((tmp_path / "build" / "packaged.yaml").read_text(encoding="utf-8"))
    codes = [
        r["Properties"]["Code"]
        for r in packaged["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    ]
    assert len(codes) == FUNCTIONS and all(code["S3Bucket"] == ARTIFACT_BUCKET for code in codes)
    uploaded = s3.get_object(Bucket=ARTIFACT_BUCKET, Key=codes[0]["S3Key"])["Body"].read()
    assert uploaded == zip_bytes, "package did not upload the zip render wrote"

    _run(deploy, tmp_path, env)
    cloudformation = _client("cloudformation", endpoint)
    stack = cloudformation.describe_stacks(StackName=stack_name.group(1))["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    functions = [
        r["PhysicalResourceId"]
        for r in cloudformation.list_stack_resources(StackName=stack["StackName"])[
            "StackResourceSummaries"
        ]
        if r["ResourceType"] == "AWS::Lambda::Function"
    ]
    assert len(functions) == FUNCTIONS
    lambda_client = _client("lambda", endpoint)
    expected_sha = base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    for name in functions:
        configuration = lambda_client.get_function(FunctionName=name)["Configuration"]
        assert configuration["CodeSha256"] == expected_sha, name


def test_package_finds_the_zip_of_a_template_rendered_to_stdout(
    endpoint: str, tmp_path: Path
) -> None:
    """`render > build/template.yaml` run from another folder: `package` still finds the zip."""
    (tmp_path / "project" / "build").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    env = _fake_aws_environment(endpoint, tmp_path)
    bucket = "stdout-artifacts"
    _client("s3", endpoint).create_bucket(Bucket=bucket)
    _run(
        "mediapipe-cfn render --profile lean > ../project/build/template.yaml",
        tmp_path / "elsewhere",
        env,
    )
    result = _run(
        "aws cloudformation package --template-file build/template.yaml "
        f"--s3-bucket {bucket} --output-template-file build/packaged.yaml",
        tmp_path / "project",
        env,
    )
    assert "Successfully packaged artifacts" in result.stdout
    packaged = load_yaml((tmp_path / "project" / "build" / "packaged.yaml").read_text("utf-8"))
    code = packaged["Resources"]["IngestOrchestratorFunction"]["Properties"]["Code"]
    zip_path = tmp_path / "project" / "build" / "artifacts" / handler_zip_name()
    uploaded = _client("s3", endpoint).get_object(Bucket=bucket, Key=code["S3Key"])
    assert uploaded["Body"].read() == zip_path.read_bytes()
