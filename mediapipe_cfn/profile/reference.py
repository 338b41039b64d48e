"""Generate docs/profile-reference.md from the profile model.

Run ``python -m mediapipe_cfn.profile.reference > docs/profile-reference.md``; a test fails when
the committed file and the model disagree, so the reference can never drift.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mediapipe_cfn.profile.docstrings import field_description
from mediapipe_cfn.profile.model import Profile

HEADER = """# Profile reference

<!-- Generated from mediapipe_cfn/profile/model.py by
     `python -m mediapipe_cfn.profile.reference > docs/profile-reference.md`. Do not edit. -->

A profile is a YAML file. Every key is optional: what you leave out takes the default below, so
`{}` is the built-in `default` profile; an empty file (or one of only comments) is an error, as
it is more often a failed write than a choice. Unknown keys are errors, and values are not
converted between types (`"10"` is not a number). YAML anchors, aliases and merge keys (`<<`)
work; a profile is limited to 1 MiB, 32 levels of nesting and 20,000 values (each alias use
counted in full), far above any real profile. `mediapipe-cfn schema` prints the same rules as
a JSON Schema for editor completion; `mediapipe-cfn profiles show NAME --resolved` prints a
built-in profile with every default filled in.
"""


def generate() -> str:
    sections = [HEADER]
    for path, model in _sections(Profile, ""):
        sections.append(_section(path, model))
    return "\n".join(sections).rstrip() + "\n"


def _sections(model: type[BaseModel], path: str) -> list[tuple[str, type[BaseModel]]]:
    """The model and every nested model, depth first, with their key paths."""
    found = [(path, model)]
    for name, info in model.model_fields.items():
        nested = _nested_model(info.annotation)
        if nested is not None:
            child = f"{path}.{name}" if path else name
            is_list = typing.get_origin(info.annotation) is list
            found += _sections(nested, f"{child}[]" if is_list else child)
    return found


def _section(path: str, model: type[BaseModel]) -> str:
    title = f"`{path}`" if path else "Top level"
    doc = (model.__doc__ or "").strip().splitlines()
    lines = [f"## {title}", ""]
    if doc:
        lines += [doc[0], ""]
    lines += ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for name, info in model.model_fields.items():
        lines.append(
            f"| `{name}` | {_type_name(info.annotation)} | {_default(info)} | "
            f"{_description(model, name, info)} |"
        )
    return "\n".join(lines) + "\n"


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{json.dumps(a)}`" for a in args)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in args)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


def _default(info: FieldInfo) -> str:
    if info.default is PydanticUndefined and info.default_factory is None:
        return "required"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return f"{len(value)} items, see `profiles show default --resolved`"
    return f"`{json.dumps(value)}`"


def _description(model: type[BaseModel], name: str, info: FieldInfo) -> str:
    text = field_description(model, name)
    limits = [
        f"{symbol} {getattr(meta, attr)}"
        for meta in info.metadata
        for attr, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
        if getattr(meta, attr, None) is not None
    ]
    if limits:
        text = f"{text} ({', '.join(limits)})" if text else ", ".join(limits)
    return text.replace("|", "\\|")


if __name__ == "__main__":
    print(generate(), end="")
