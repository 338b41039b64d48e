"""Serialise a template deterministically."""

from __future__ import annotations

import json
from typing import Literal

from troposphere import Template

OutputFormat = Literal["yaml", "json"]


def render(template: Template, output_format: OutputFormat = "yaml") -> str:
    """The template as YAML (short-form intrinsics) or JSON, keys sorted, ending in a newline."""
    document = template.to_dict()
    if output_format == "json":
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    from cfn_flip import dump_yaml  # troposphere's own YAML route; loaded only when needed

    text = dump_yaml(json.loads(json.dumps(document, sort_keys=True)), clean_up=False)
    return text if text.endswith("\n") else text + "\n"
