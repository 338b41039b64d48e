"""Serialise a template deterministically."""

from __future__ import annotations

import json
from typing import Any, Literal, get_args

from troposphere import Template

OutputFormat = Literal["yaml", "json"]
OUTPUT_FORMATS: tuple[str, ...] = get_args(OutputFormat)


def render(template: Template, output_format: OutputFormat = "yaml") -> str:
    """The template as text, keys sorted at every level, ending in a newline.

    ``"yaml"``: block style with long-form intrinsic functions (``Ref:``, ``Fn::GetAtt:``,
    ``Fn::Sub:``), the form `aws cloudformation package` and cfn-lint read back unchanged.
    ``"json"``: indented by two spaces, non-ASCII characters written as they are.

    Raises :class:`TypeError` if ``template`` is not a ``troposphere.Template`` and
    :class:`ValueError` for any other format.
    """
    if not isinstance(template, Template):
        raise TypeError(
            f"render() needs a troposphere.Template (from build_template), "
            f"got {type(template).__name__}"
        )
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(
            f"render() output_format must be one of {', '.join(map(repr, OUTPUT_FORMATS))}, "
            f"got {output_format!r}"
        )
    return render_document(template.to_dict(), output_format)


def render_document(document: dict[str, Any], output_format: OutputFormat = "yaml") -> str:
    """:func:`render` for a template already turned into a dict (``Template.to_dict()``)."""
    if output_format == "json":
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    # The bytes of cfn-flip's dump_yaml (troposphere's own YAML route), written faster.
    from mediapipe_cfn.yaml_emit import dump_template_yaml

    text = dump_template_yaml(json.loads(json.dumps(document, sort_keys=True)))
    return text if text.endswith("\n") else text + "\n"
