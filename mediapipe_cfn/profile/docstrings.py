"""Field descriptions from the profile model's attribute docstrings, read only when asked for.

The profile model documents a field with a docstring right under it. pydantic can read those
when each model class is created (``use_attribute_docstrings``), but it parses the source once per
class on every start-up, which cost `render` about a fifth of its time. Only the JSON Schema
(`mediapipe-cfn schema`) and the generated docs/profile-reference.md need them, so they are read
here, once, on demand, with the same rule: a string statement right after an annotated
attribute documents it, and an explicit ``Field(description=...)`` wins.
"""

from __future__ import annotations

import ast
import inspect
import sys
import typing
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel


@cache
def _module_docstrings(module_name: str) -> dict[str, dict[str, str]]:
    """``{class name: {attribute: docstring}}`` for the classes of a module's top level."""
    source = Path(inspect.getfile(sys.modules[module_name])).read_text(encoding="utf-8")
    found: dict[str, dict[str, str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            found[node.name] = _attribute_docstrings(node)
    return found


def _attribute_docstrings(node: ast.ClassDef) -> dict[str, str]:
    docs: dict[str, str] = {}
    for previous, statement in zip(node.body, node.body[1:], strict=False):
        if (
            isinstance(previous, ast.AnnAssign)
            and isinstance(previous.target, ast.Name)
            and isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
        ):
            docs[previous.target.id] = inspect.cleandoc(statement.value.value)
    return docs


def field_docstrings(model: type[BaseModel]) -> dict[str, str]:
    """The attribute docstrings of ``model`` and its bases (a subclass's own win)."""
    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if issubclass(cls, BaseModel) and cls.__module__ in sys.modules:
            docs.update(_module_docstrings(cls.__module__).get(cls.__name__, {}))
    return docs


def field_description(model: type[BaseModel], name: str) -> str:
    """What documents field ``name`` of ``model``: its description, else its docstring."""
    return model.model_fields[name].description or field_docstrings(model).get(name, "")


def models_within(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """``model`` and every model its fields nest, by class name."""
    found = {model.__name__: model}
    for info in model.model_fields.values():
        for nested in _models_in(info.annotation):
            if nested.__name__ not in found:
                found.update(models_within(nested))
    return found


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def with_descriptions(schema: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema with each property's description filled in from its docstring."""
    models = models_within(model)
    parts = [(model, schema)] + [
        (models[name], definition)
        for name, definition in schema.get("$defs", {}).items()
        if name in models
    ]
    for owner, part in parts:
        docs = field_docstrings(owner)
        for name, property_schema in part.get("properties", {}).items():
            if name in docs and "description" not in property_schema:
                property_schema["description"] = docs[name]
    return schema
