"""Work around what moto's CloudFormation cannot model, in a rendered template, for a test only.

The README deploy test runs the real awscli against moto's server. moto's CloudFormation creates
the resources it has a model for and cannot create the rest, so the test rewrites a copy of the
rendered template before `aws cloudformation package` reads it. Each rewrite below names the gap
it covers; the product's template never changes for the emulator.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# Types with no moto model whose attributes another resource uses: a queue stands in, since an
# SQS queue answers Fn::GetAtt Arn (the only attribute the template asks of them).
STAND_INS: dict[str, dict[str, Any]] = {
    "AWS::MediaConvert::Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
    # The CloudFront distribution: a bucket answers Ref and Fn::GetAtt DomainName, all the
    # template asks of it. Its cache, CORS and key resources then have no referrer and go.
    "AWS::CloudFront::Distribution": {"Type": "AWS::S3::Bucket", "Properties": {}},
}
_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z.]+)?\}")


def emulator_compatible(template: dict[str, Any], modelled: set[str]) -> dict[str, Any]:
    """A copy of ``template`` that moto can create; ``modelled`` is the types moto models."""
    resources = dict(template["Resources"])
    for name, resource in template["Resources"].items():
        kind = resource["Type"]
        if kind in modelled:
            resources[name] = _without_tags_moto_misreads(resource)
        elif kind in STAND_INS:
            resources[name] = {**STAND_INS[kind], **_condition_of(resource)}
    # Referrers are looked for after the stand-ins replaced what they stand for.
    standing = {**template, "Resources": resources}
    for name, resource in template["Resources"].items():
        kind = resource["Type"]
        if kind in modelled or kind in STAND_INS:
            continue
        if _referenced(name, standing):
            raise AssertionError(f"{name} ({kind}) has no moto model and no stand-in")
        del resources[name]  # nothing depends on it: the stack stands without it
    return {**template, "Resources": resources}


def _without_tags_moto_misreads(resource: dict[str, Any]) -> dict[str, Any]:
    # moto's KMS key reads CloudFormation's Key/Value tags as the API's TagKey/TagValue and fails.
    if resource["Type"] != "AWS::KMS::Key":
        return resource
    properties = {k: v for k, v in resource["Properties"].items() if k != "Tags"}
    return {**resource, "Properties": properties}


def _condition_of(resource: dict[str, Any]) -> dict[str, Any]:
    return {"Condition": resource["Condition"]} if "Condition" in resource else {}


def _referenced(name: str, template: dict[str, Any]) -> bool:
    others = {k: v for k, v in template["Resources"].items() if k != name}
    return name in set(_names_used(others)) | set(_names_used(template.get("Outputs", {})))


def _names_used(node: Any) -> Iterator[str]:
    """Every logical id a Ref, Fn::GetAtt, Fn::Sub or DependsOn in ``node`` points at."""
    if isinstance(node, list):
        for item in node:
            yield from _names_used(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else value.split(".", 1)[0]
            elif key == "Fn::Sub":
                yield from _SUB_NAME.findall(value if isinstance(value, str) else value[0])
            elif key == "DependsOn":
                yield from [value] if isinstance(value, str) else value
            yield from _names_used(value)
