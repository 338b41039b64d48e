"""A rendered template brought to life in moto, and the handler zip run as Lambda would run it.

* :class:`TemplateStack` creates the template's queues, table, buckets, key, parameter and rules
  in moto **from the template's own properties** (intrinsic functions resolved for one stack),
  and works out each function's environment from its ``Environment`` property.
* :class:`LambdaFunction` imports a handler from an extracted copy of the built zip, isolated
  from the source tree, and invokes it with exactly that environment: each function is its own
  "container" with its own module state.
* :class:`SimulatedClock` moves moto's SQS clock forward, so visibility timeouts and message
  delays elapse without waiting.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
# Top-level packages the zip provides; they must come from the zip, never the source tree.
ZIP_PACKAGES = ("mediapipe_handlers", "mediapipe_cfn", "aws_lambda_powertools")


class Unresolvable(Exception):
    """A reference to a resource that is not created yet."""


@dataclass
class TemplateStack:
    """One stack of a rendered template, created in moto."""

    template: dict[str, Any]
    name: str
    parameters: dict[str, str] = field(default_factory=dict)
    physical: dict[str, dict[str, str]] = field(default_factory=dict)
    # Targets that moto cannot run (Lambda functions) go to a queue the test reads instead.
    lambda_inboxes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        declared = self.template.get("Parameters", {})
        defaults = {k: str(v.get("Default", "")) for k, v in declared.items()}
        self.parameters = {**defaults, **self.parameters}
        self.session = boto3.session.Session(region_name=REGION)

    # ------------------------------------------------------------------ intrinsics

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::GetAtt":
                return self._get_att(*argument)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::If":
                condition, then, otherwise = argument
                return self.resolve(then if self.condition(condition) else otherwise)
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(str(i) for i in self.resolve(items))
            if key == "Fn::Equals":
                left, right = self.resolve(argument)
                return left == right
        return {
            k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not _NO_VALUE
        }

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::StackName": self.name,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        try:
            return self.physical[name]["Ref"]
        except KeyError:
            raise Unresolvable(name) from None

    def _get_att(self, name: str, attribute: str) -> Any:
        try:
            return self.physical[name][attribute]
        except KeyError:
            raise Unresolvable(f"{name}.{attribute}") from None

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        resolved = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token in resolved:
                return str(resolved[token])
            if "." in token:
                return str(self._get_att(*token.split(".", 1)))
            return str(self._ref(token))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    # ------------------------------------------------------------------ resources

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {
            name: resource.get("Properties", {})
            for name, resource in sorted(self.template["Resources"].items())
            if resource["Type"] == kind and self._wanted(resource)
        }

    def _wanted(self, resource: Mapping[str, Any]) -> bool:
        condition = resource.get("Condition")
        return condition is None or self.condition(condition)

    def create(self) -> None:
        """Create what the pipeline's functions touch, in dependency order."""
        self._create_keys()
        self._create_queues()
        self._create_table()
        self._create_buckets()
        self._create_parameters()
        self._name_mediaconvert_resources()
        self._create_topics()
        self._create_rules()

    def _create_keys(self) -> None:
        kms = self.session.client("kms")
        for name in self.resources("AWS::KMS::Key"):
            metadata = kms.create_key(Description=f"{self.name} {name}")["KeyMetadata"]
            self.physical[name] = {"Ref": metadata["KeyId"], "Arn": metadata["Arn"]}

    def _create_queues(self) -> None:
        sqs = self.session.client("sqs")
        pending = self.resources("AWS::SQS::Queue")
        while pending:
            progressed = False
            for name, properties in list(pending.items()):
                try:
                    resolved = self.resolve(properties)
                except Unresolvable:
                    continue
                attributes = {
                    key: json.dumps(value) if isinstance(value, dict) else str(value)
                    for key, value in resolved.items()
                    if key not in ("QueueName", "Tags")
                }
                url = sqs.create_queue(QueueName=resolved["QueueName"], Attributes=attributes)[
                    "QueueUrl"
                ]
                arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                    "Attributes"
                ]["QueueArn"]
                self.physical[name] = {"Ref": url, "Arn": arn, "QueueName": resolved["QueueName"]}
                del pending[name]
                progressed = True
            if not progressed:
                raise Unresolvable(f"queues with unresolvable properties: {sorted(pending)}")

    def _create_table(self) -> None:
        dynamodb = self.session.client("dynamodb")
        keep = ("TableName", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes",
                "BillingMode", "SSESpecification")  # fmt: skip
        for name, properties in self.resources("AWS::DynamoDB::Table").items():
            resolved = self.resolve(properties)
            arguments = {k: v for k, v in resolved.items() if k in keep}
            if "SSESpecification" in arguments:
                sse = arguments["SSESpecification"]
                arguments["SSESpecification"] = {
                    "Enabled": sse.get("SSEEnabled", False),
                    "SSEType": sse.get("SSEType", "KMS"),
                    "KMSMasterKeyId": sse.get("KMSMasterKeyId"),
                }
            table = dynamodb.create_table(**arguments)["TableDescription"]
            self.physical[name] = {"Ref": table["TableName"], "Arn": table["TableArn"]}

    def _create_buckets(self) -> None:
        s3 = self.session.client("s3")
        for name, properties in self.resources("AWS::S3::Bucket").items():
            resolved = self.resolve(properties)
            bucket = resolved.get("BucketName") or f"{self.name}-{name.lower()}-0a1b2c3d"
            s3.create_bucket(Bucket=bucket)
            self.physical[name] = {"Ref": bucket, "Arn": f"arn:{PARTITION}:s3:::{bucket}"}
            if "VersioningConfiguration" in resolved:
                s3.put_bucket_versioning(
                    Bucket=bucket, VersioningConfiguration=resolved["VersioningConfiguration"]
                )
            if "BucketEncryption" in resolved:
                s3.put_bucket_encryption(
                    Bucket=bucket,
                    ServerSideEncryptionConfiguration={
                        "Rules": [
                            _encryption_rule(rule)
                            for rule in resolved["BucketEncryption"][
                                "ServerSideEncryptionConfiguration"
                            ]
                        ]
                    },
                )
            notifications = resolved.get("NotificationConfiguration", {})
            if notifications.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
                s3.put_bucket_notification_configuration(
                    Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
                )

    def _create_parameters(self) -> None:
        ssm = self.session.client("ssm")
        for name, properties in self.resources("AWS::SSM::Parameter").items():
            resolved = self.resolve(properties)
            ssm.put_parameter(Name=resolved["Name"], Value=resolved["Value"], Type=resolved["Type"])
            self.physical[name] = {"Ref": resolved["Name"]}

    def _name_mediaconvert_resources(self) -> None:
        # MediaConvert is not in moto: its resources only need their names and ARNs.
        for name, properties in self.resources("AWS::MediaConvert::Queue").items():
            queue = self.resolve(properties)["Name"]
            arn = f"arn:{PARTITION}:mediaconvert:{REGION}:{ACCOUNT}:queues/{queue}"
            self.physical[name] = {"Ref": queue, "Arn": arn}
        for name in self.resources("AWS::IAM::Role"):
            arn = f"arn:{PARTITION}:iam::{ACCOUNT}:role/{self.name}-{name}"
            self.physical[name] = {"Ref": f"{self.name}-{name}", "Arn": arn}
        for name, properties in self.resources("AWS::Lambda::Function").items():
            function = self.resolve(properties["FunctionName"])
            arn = f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{function}"
            self.physical[name] = {"Ref": function, "Arn": arn}
        for name in self.resources("AWS::Logs::LogGroup"):
            arn = f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{self.name}-{name}:*"
            self.physical[name] = {"Ref": f"{self.name}-{name}", "Arn": arn}

    def _create_topics(self) -> None:
        sns = self.session.client("sns")
        for name, properties in self.resources("AWS::SNS::Topic").items():
            topic = self.resolve(properties).get("TopicName") or f"{self.name}-{name}"
            arn = sns.create_topic(Name=topic)["TopicArn"]
            self.physical[name] = {"Ref": arn, "TopicArn": arn, "TopicName": topic}

    def _create_rules(self) -> None:
        events = self.session.client("events")
        sqs = self.session.client("sqs")
        for name, properties in self.resources("AWS::Events::Rule").items():
            resolved = self.resolve(properties)
            # A schedule (the reconciler's) is created as such; moto never fires it.
            pattern = resolved.get("EventPattern")
            trigger = (
                {"EventPattern": json.dumps(pattern)}
                if pattern is not None
                else {"ScheduleExpression": resolved["ScheduleExpression"]}
            )
            events.put_rule(Name=resolved["Name"], **trigger)
            targets = []
            for target in resolved["Targets"]:
                arn = target["Arn"]
                if ":lambda:" in arn:
                    inbox = sqs.create_queue(QueueName=f"{target['Id']}-invocations")["QueueUrl"]
                    self.lambda_inboxes[arn.rsplit(":", 1)[1]] = inbox
                    arn = f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{target['Id']}-invocations"
                elif ":sqs:" not in arn:
                    continue  # log groups: not needed to drive the functions
                targets.append({"Id": target["Id"], "Arn": arn})
            events.put_targets(Rule=resolved["Name"], Targets=targets)
            self.physical[name] = {"Ref": resolved["Name"]}

    def create_observability(self) -> None:
        """The dashboard and the alarms, named as CloudFormation names resources it names."""
        cloudwatch = self.session.client("cloudwatch")
        for name, properties in self.resources("AWS::CloudWatch::Dashboard").items():
            resolved = self.resolve(properties)
            cloudwatch.put_dashboard(
                DashboardName=resolved["DashboardName"], DashboardBody=resolved["DashboardBody"]
            )
            self.physical[name] = {"Ref": resolved["DashboardName"]}
        for name, properties in self.resources("AWS::CloudWatch::Alarm").items():
            resolved = self.resolve(properties)
            alarm = resolved.pop("AlarmName", None) or f"{self.name}-{name}-1A2B3C4D5E6F"
            cloudwatch.put_metric_alarm(AlarmName=alarm, **resolved)
            self.physical[name] = {"Ref": alarm}

    def publish_outputs(self) -> dict[str, str]:
        """A CloudFormation stack named like this one whose outputs are the template's, resolved.

        Tools that find the pipeline by its stack name (`describe-stacks`) see what a deployed
        stack shows; its one resource is a placeholder, the real resources are created above.
        """
        outputs = {}
        for key, output in self.template.get("Outputs", {}).items():
            if output.get("Condition") and not self.condition(output["Condition"]):
                continue
            try:
                outputs[key] = str(self.resolve(output["Value"]))
            except Unresolvable:
                continue  # a resource moto does not create: the tools must not need it
        holder = {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": f"/{self.name}/outputs", "Type": "String", "Value": "-"},
        }
        document = {
            "Resources": {"OutputsHolder": holder},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
        self.session.client("cloudformation").create_stack(
            StackName=self.name, TemplateBody=json.dumps(document)
        )
        return outputs

    # ------------------------------------------------------------------ functions

    def function(self, logical_id: str) -> dict[str, Any]:
        return self.template["Resources"][logical_id]["Properties"]

    def environment(self, logical_id: str) -> dict[str, str]:
        variables = self.resolve(self.function(logical_id)["Environment"]["Variables"])
        return {k: str(v) for k, v in variables.items()}


def _encryption_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation bucket encryption rule in the S3 API's spelling."""
    api: dict[str, Any] = {
        "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]
    }
    if "BucketKeyEnabled" in rule:
        api["BucketKeyEnabled"] = rule["BucketKeyEnabled"]
    return api


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValue()


def extract(zip_path: Path, target: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(target)
    return target


@contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class LambdaFunction:
    """One function: its handler imported from its own copy of the zip, and its environment."""

    def __init__(self, code_dir: Path, handler: str, environment: Mapping[str, str]) -> None:
        self.code_dir = code_dir
        self.environment = dict(environment, AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION)
        module_name, function_name = handler.rsplit(".", 1)
        self.module = import_from(code_dir, module_name)
        self.entry: Callable[[Any, Any], Any] = getattr(self.module, function_name)

    def invoke(self, event: Any, context: Any) -> Any:
        with _environment(self.environment):
            return self.entry(event, context)

    def loaded_module(self, name: str) -> ModuleType:
        """A module of this function's own copy (e.g. its ``mediapipe_handlers.runtime``)."""
        return self.module.__dict__["_modules"][name]

    def runtime(self) -> Any:
        """This container's runtime state, created (as on a first invocation) if needed."""
        with _environment(self.environment):
            return self.loaded_module("mediapipe_handlers.runtime").get_runtime()


def import_from(code_dir: Path, module_name: str) -> ModuleType:
    """Import ``module_name`` from ``code_dir`` alone, leaving ``sys.modules`` as it was.

    Every module of the zip's packages that the import loads must come from ``code_dir``: a
    module found in the source tree instead would mean the zip is incomplete.
    """
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k.split(".")[0] in ZIP_PACKAGES}
    sys.path.insert(0, str(code_dir))
    loaded: dict[str, ModuleType] = {}
    try:
        module = importlib.import_module(module_name)
        loaded = {k: m for k, m in sys.modules.items() if k.split(".")[0] in ZIP_PACKAGES}
        outside = sorted(
            k
            for k, m in loaded.items()
            if getattr(m, "__file__", None) and not Path(m.__file__).is_relative_to(code_dir)
        )
        if outside:
            raise ImportError(f"loaded from outside the zip: {outside}")
        module.__dict__["_modules"] = loaded
        return module
    finally:
        for name in loaded:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
        sys.path.remove(str(code_dir))


class SimulatedClock:
    """Moves moto's SQS clock: visibility timeouts and delays elapse at the test's command."""

    def __init__(self, monkeypatch: Any) -> None:
        import moto.sqs.models as sqs_models

        self.offset_seconds = 0.0
        real_seconds, real_millis = sqs_models.unix_time, sqs_models.unix_time_millis
        # Only "now" moves; conversions of a given time stay exact.
        monkeypatch.setattr(
            sqs_models,
            "unix_time",
            lambda *a: real_seconds(*a) + (0 if a else self.offset_seconds),
        )
        monkeypatch.setattr(
            sqs_models,
            "unix_time_millis",
            lambda *a: real_millis(*a) + (0 if a else self.offset_seconds * 1000),
        )

    def advance(self, seconds: float) -> None:
        self.offset_seconds += seconds
