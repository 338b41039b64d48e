"""References between the parts of a template, and the ones that point at nothing.

A component refers to another component's resources by logical ID (``Ref``, ``Fn::GetAtt``,
``Fn::Sub``, ``DependsOn``), to conditions (``Condition``, ``Fn::If``) and to mappings
(``Fn::FindInMap``). Dropping or replacing a component can leave such a reference behind, which
CloudFormation would only reject at deploy time; :func:`dangling_references` finds them in the
template's dict, with the place each one sits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# ``${Name}`` or ``${Name.Attribute}`` in a Fn::Sub string; ``${!Literal}`` is escaped text.
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")
_PSEUDO_PREFIX = "AWS::"


@dataclass(frozen=True, order=True)
class Reference:
    """A reference from ``owner`` (``"Resources.X"``, ``"Outputs.Y"``...) to ``target``."""

    owner: str
    where: str  # the key path inside the template, e.g. Resources.X.Properties.Role
    kind: str  # "resource or parameter", "condition" or "mapping"
    target: str


def references(template: Mapping[str, Any]) -> Iterator[Reference]:
    """Every reference the template makes, from each of its sections."""
    for section in ("Resources", "Outputs", "Conditions"):
        for name, body in (template.get(section) or {}).items():
            owner = f"{section}.{name}"
            yield from _references_in(body, owner, owner)
            if section == "Resources":
                yield from _depends_on(body, owner)
            if section != "Conditions" and isinstance(body, Mapping) and "Condition" in body:
                yield Reference(owner, f"{owner}.Condition", "condition", str(body["Condition"]))


def _depends_on(body: Any, owner: str) -> Iterator[Reference]:
    if not isinstance(body, Mapping) or "DependsOn" not in body:
        return
    depends = body["DependsOn"]
    for target in [depends] if isinstance(depends, str) else depends:
        yield Reference(owner, f"{owner}.DependsOn", "resource", str(target))


def _references_in(value: Any, owner: str, where: str) -> Iterator[Reference]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _references_in(item, owner, f"{where}[{index}]")
        return
    if not isinstance(value, Mapping):
        return
    if len(value) == 1:
        ((key, argument),) = value.items()
        function = _FUNCTIONS.get(key)
        if function is not None and function.applies(argument):
            at = f"{where}.{key}"
            yield from function.targets(argument, owner, at)
            for index, operand in function.operands(argument):
                yield from _references_in(operand, owner, f"{at}{index}")
            return
    for key, item in value.items():
        if where == owner and key in ("DependsOn", "Condition"):
            continue  # resource attributes, read by references()
        yield from _references_in(item, owner, f"{where}.{key}")


@dataclass(frozen=True)
class _Function:
    """How one intrinsic function refers to things, and which of its operands may hold more."""

    applies: Callable[[Any], bool]
    targets: Callable[[Any, str, str], Iterator[Reference]]
    operands: Callable[[Any], list[tuple[str, Any]]]


def _is_text(argument: Any) -> bool:
    return isinstance(argument, str)


def _is_list(argument: Any) -> bool:
    return isinstance(argument, list) and bool(argument)


def _no_operands(_: Any) -> list[tuple[str, Any]]:
    return []


def _operands_after_first(argument: Any) -> list[tuple[str, Any]]:
    return [(f"[{index}]", item) for index, item in enumerate(argument) if index > 0]


def _ref_targets(argument: Any, owner: str, at: str) -> Iterator[Reference]:
    if not argument.startswith(_PSEUDO_PREFIX):
        yield Reference(owner, at, "resource or parameter", argument)


def _get_att_targets(argument: Any, owner: str, at: str) -> Iterator[Reference]:
    target = argument.split(".", 1)[0] if isinstance(argument, str) else argument[0]
    yield Reference(owner, at, "resource", str(target))


def _first_is(kind: str) -> Callable[[Any, str, str], Iterator[Reference]]:
    def targets(argument: Any, owner: str, at: str) -> Iterator[Reference]:
        name = argument if isinstance(argument, str) else argument[0]
        if isinstance(name, str):
            yield Reference(owner, at, kind, name)

    return targets


def _sub_targets(argument: Any, owner: str, at: str) -> Iterator[Reference]:
    text, variables = (argument[0], argument[1]) if isinstance(argument, list) else (argument, {})
    for match in _SUB_VARIABLE.finditer(text if isinstance(text, str) else ""):
        variable = match.group(1).strip()
        name = variable.split(".", 1)[0]
        if name.startswith(_PSEUDO_PREFIX) or name in variables:
            continue
        kind = "resource" if "." in variable else "resource or parameter"
        yield Reference(owner, at, kind, name)


def _sub_operands(argument: Any) -> list[tuple[str, Any]]:
    return [("[1]", argument[1])] if isinstance(argument, list) and len(argument) > 1 else []


_FUNCTIONS: dict[str, _Function] = {
    "Ref": _Function(_is_text, _ref_targets, _no_operands),
    "Fn::GetAtt": _Function(lambda a: _is_text(a) or _is_list(a), _get_att_targets, _no_operands),
    "Fn::Sub": _Function(lambda a: _is_text(a) or _is_list(a), _sub_targets, _sub_operands),
    "Condition": _Function(_is_text, _first_is("condition"), _no_operands),
    "Fn::If": _Function(_is_list, _first_is("condition"), _operands_after_first),
    "Fn::FindInMap": _Function(_is_list, _first_is("mapping"), _operands_after_first),
}


def dangling_references(template: Mapping[str, Any]) -> list[Reference]:
    """The references whose target the template does not define, sorted."""
    resources = set(template.get("Resources") or {})
    defined = {
        "resource": resources,
        "resource or parameter": resources | set(template.get("Parameters") or {}),
        "condition": set(template.get("Conditions") or {}),
        "mapping": set(template.get("Mappings") or {}),
    }
    return sorted({r for r in references(template) if r.target not in defined[r.kind]})
