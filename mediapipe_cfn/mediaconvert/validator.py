"""Strict offline validation of MediaConvert documents against botocore's model.

botocore's own ``ParamValidator`` checks types, required members and minimum
values, but ignores enums, maximum values and patterns, so a bad codec name or
an 8K+ width only fails once the job reaches the service. This module walks a
document against the ``mediaconvert`` service model bundled with botocore and
reports every problem it finds, each with the exact path of the offending
value, e.g. ``Settings.OutputGroups[0].Outputs[1].VideoDescription.Width``.

Notes on the model (as shipped with botocore 1.44):

* All of its regex patterns compile with Python's ``re``; any that ever stop
  compiling are skipped rather than treated as failures.
* The ``__double*`` shapes carry no ``min``/``max`` even though their names
  spell out a range (``__doubleMin0Max1``), so doubles are only type-checked.
* No list shape has a ``min``/``max`` and no member uses the ``boolean`` type
  (on/off settings are ``ENABLED``/``DISABLED`` enums); the checks exist for
  completeness and for future model versions.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import functools
import gzip
import importlib.util
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Finding",
    "MediaConvertValidationError",
    "assert_valid",
    "validate_create_job_request",
    "validate_job_settings",
    "validate_job_template_settings",
    "validate_probe_request",
    "validate_shape",
]

Shape = Mapping[str, Any]
# (value, shape name, shape, path, findings) -> None; appends to findings.
_Checker = Callable[[Any, str, Shape, str, list["Finding"]], None]

_REPR_LIMIT = 60


@dataclass(frozen=True)
class Finding:
    """One problem in a document: where it is and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        # A root-level finding (validated with root="") has no path to show.
        return f"{self.path}: {self.message}" if self.path else self.message


class MediaConvertValidationError(ValueError):
    """Raised by :func:`assert_valid`; ``findings`` holds every problem."""

    def __init__(self, findings: Iterable[Finding], what: str = "document") -> None:
        self.findings: list[Finding] = list(findings)
        lines = [f"{what} is not valid for MediaConvert ({len(self.findings)} problem(s)):"]
        lines += [f"  {finding}" for finding in self.findings]
        super().__init__("\n".join(lines))


def assert_valid(findings: Iterable[Finding], what: str) -> None:
    """Raise :class:`MediaConvertValidationError` if there is any finding."""
    findings = list(findings)
    if findings:
        raise MediaConvertValidationError(findings, what)


# --------------------------------------------------------------------------
# Model access (loaded once; botocore is imported only when first needed)
# --------------------------------------------------------------------------


@functools.cache
def _service_model() -> Mapping[str, Any]:
    """Return the raw ``mediaconvert`` service-2 model bundled with botocore."""
    # Read botocore's data file directly: importing botocore costs ten times the read, and
    # `render` runs these checks on every call.
    spec = importlib.util.find_spec("botocore")
    for location in (spec.submodule_search_locations or []) if spec else []:
        versions = sorted((Path(location) / "data" / "mediaconvert").glob("*/service-2.json*"))
        if versions:
            raw = versions[-1].read_bytes()
            return json.loads(gzip.decompress(raw) if versions[-1].suffix == ".gz" else raw)
    from botocore.loaders import Loader  # a layout this reader does not know: ask botocore

    return Loader().load_service_model("mediaconvert", "service-2")


def _shapes() -> Mapping[str, Shape]:
    return _service_model()["shapes"]


def _shape(name: str) -> Shape:
    try:
        return _shapes()[name]
    except KeyError:
        raise ValueError(f"unknown MediaConvert shape {name!r}") from None


def _operation_input(operation: str) -> str:
    try:
        return _service_model()["operations"][operation]["input"]["shape"]
    except KeyError:
        raise ValueError(f"MediaConvert operation {operation!r} has no input shape") from None


@functools.cache
def _compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """Compile a model (Java-style) regex; ``None`` if Python can't compile it."""
    try:
        return re.compile(pattern)
    except re.error:
        return None


@functools.cache
def _enum_values(shape_name: str) -> frozenset[str]:
    return frozenset(_shape(shape_name)["enum"])


# --------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def _got(value: Any) -> str:
    if value is None:
        return "got None"
    return f"got {type(value).__name__} {_short_repr(value)}"


def _member_path(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _map_key_path(parent: str, key: Any) -> str:
    # json.dumps gives double quotes and escapes any quote inside the key.
    shown = json.dumps(key) if isinstance(key, str) else repr(key)
    return f"{parent}[{shown}]"


# --------------------------------------------------------------------------
# The walker
# --------------------------------------------------------------------------


def validate_shape(document: Any, shape_name: str, root: str = "") -> list[Finding]:
    """Validate ``document`` against the model shape ``shape_name``.

    ``root`` is the path prefix used in findings (``"Settings"`` gives paths
    like ``Settings.OutputGroups[0]``). Returns findings in document order;
    an empty list means the document is valid. Raises ``ValueError`` if the
    shape does not exist in the model.
    """
    _shape(shape_name)  # fail fast on a typo in the shape name
    findings: list[Finding] = []
    _walk(document, shape_name, root, findings)
    return findings


def _walk(value: Any, shape_name: str, path: str, out: list[Finding]) -> None:
    shape = _shape(shape_name)
    checker = _CHECKERS.get(shape["type"])
    if checker is not None:
        checker(value, shape_name, shape, path, out)


def _check_structure(
    value: Any, shape_name: str, shape: Shape, path: str, out: list[Finding]
) -> None:
    if not isinstance(value, dict):
        out.append(Finding(path, f"expected an object (dict), {_got(value)}"))
        return
    members: Mapping[str, Any] = shape.get("members", {})
    for name in sorted(set(shape.get("required", ())) - value.keys()):
        out.append(Finding(_member_path(path, name), f"required key {name!r} is missing"))
    for key, item in value.items():
        member = members.get(key) if isinstance(key, str) else None
        if member is None:
            out.append(_unknown_key(key, members, path))
        else:
            _walk(item, member["shape"], _member_path(path, key), out)


def _unknown_key(key: Any, members: Mapping[str, Any], path: str) -> Finding:
    where = _member_path(path, key if isinstance(key, str) else repr(key))
    message = f"unknown key {key!r}"
    close = difflib.get_close_matches(key, members, n=1) if isinstance(key, str) else []
    if close:
        message += f" (did you mean {close[0]!r}?)"
    elif members:
        message += f" (allowed: {', '.join(sorted(members))})"
    return Finding(where, message)


def _check_list(value: Any, shape_name: str, shape: Shape, path: str, out: list[Finding]) -> None:
    if not isinstance(value, list):
        out.append(Finding(path, f"expected a list, {_got(value)}"))
        return
    _check_length(len(value), "list", shape, path, out)
    member_shape = shape["member"]["shape"]
    for index, item in enumerate(value):
        _walk(item, member_shape, f"{path}[{index}]", out)


def _check_map(value: Any, shape_name: str, shape: Shape, path: str, out: list[Finding]) -> None:
    if not isinstance(value, dict):
        out.append(Finding(path, f"expected an object (dict), {_got(value)}"))
        return
    _check_length(len(value), "map", shape, path, out)
    key_shape, value_shape = shape["key"]["shape"], shape["value"]["shape"]
    for key, item in value.items():
        item_path = _map_key_path(path, key)
        key_findings: list[Finding] = []
        _walk(key, key_shape, item_path, key_findings)
        # Say that it is the key, not the value, that is wrong.
        out.extend(Finding(f.path, f"map key: {f.message}") for f in key_findings)
        _walk(item, value_shape, item_path, out)


def _check_string(value: Any, shape_name: str, shape: Shape, path: str, out: list[Finding]) -> None:
    if not isinstance(value, str):
        out.append(Finding(path, f"expected a string, {_got(value)}"))
        return
    if "enum" in shape and value not in _enum_values(shape_name):
        allowed = ", ".join(sorted(shape["enum"]))
        out.append(Finding(path, f"{value!r} is not one of: {allowed}"))
    _check_length(len(value), "string", shape, path, out)
    pattern = shape.get("pattern")
    compiled = _compile_pattern(pattern) if pattern else None
    if compiled is not None and not compiled.search(value):
        out.append(Finding(path, f"{_short_repr(value)} does not match the pattern {pattern}"))


def _check_integer(
    value: Any, shape_name: str, shape: Shape, path: str, out: list[Finding]
) -> None:
    # bool is a subclass of int, but True is never a sensible width.
    if isinstance(value, bool) or not isinstance(value, int):
        out.append(Finding(path, f"expected an integer, {_got(value)}"))
        return
    _check_range(value, shape, path, out)


def _check_number(value: Any, shape_name: str, shape: Shape, path: str, out: list[Finding]) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        out.append(Finding(path, f"expected a number, {_got(value)}"))
        return
    _check_range(value, shape, path, out)


def _check_boolean(
    value: Any, shape_name: str, shape: Shape, path: str, out: list[Finding]
) -> None:
    if not isinstance(value, bool):
        out.append(Finding(path, f"expected a boolean, {_got(value)}"))


def _check_timestamp(
    value: Any, shape_name: str, shape: Shape, path: str, out: list[Finding]
) -> None:
    if isinstance(value, bool) or not isinstance(value, str | int | float | _dt.datetime):
        out.append(
            Finding(path, f"expected a timestamp (str, int, float or datetime), {_got(value)}")
        )


def _check_blob(value: Any, shape_name: str, shape: Shape, path: str, out: list[Finding]) -> None:
    if not isinstance(value, bytes | bytearray | str):
        out.append(Finding(path, f"expected bytes or str, {_got(value)}"))


def _check_range(value: int | float, shape: Shape, path: str, out: list[Finding]) -> None:
    if "min" in shape and value < shape["min"]:
        out.append(Finding(path, f"{value!r} is below the minimum {shape['min']}"))
    if "max" in shape and value > shape["max"]:
        out.append(Finding(path, f"{value!r} is above the maximum {shape['max']}"))


def _check_length(length: int, kind: str, shape: Shape, path: str, out: list[Finding]) -> None:
    low, high = shape.get("min"), shape.get("max")
    if low is not None and length < low:
        message = f"{kind} of length {length} is shorter than the minimum length {low}"
        out.append(Finding(path, message))
    if high is not None and length > high:
        message = f"{kind} of length {length} is longer than the maximum length {high}"
        out.append(Finding(path, message))


_CHECKERS: dict[str, _Checker] = {
    "structure": _check_structure,
    "list": _check_list,
    "map": _check_map,
    "string": _check_string,
    "integer": _check_integer,
    "long": _check_integer,
    "double": _check_number,
    "float": _check_number,
    "boolean": _check_boolean,
    "timestamp": _check_timestamp,
    "blob": _check_blob,
}


# --------------------------------------------------------------------------
# Entry points for the documents this project renders
# --------------------------------------------------------------------------


def validate_job_settings(settings: dict[str, Any], root: str = "Settings") -> list[Finding]:
    """Validate the ``Settings`` of a job (shape ``JobSettings``)."""
    return validate_shape(settings, "JobSettings", root)


def validate_job_template_settings(
    settings: dict[str, Any], root: str = "Settings"
) -> list[Finding]:
    """Validate the ``Settings`` of a job template (shape ``JobTemplateSettings``)."""
    return validate_shape(settings, "JobTemplateSettings", root)


def validate_create_job_request(params: dict[str, Any]) -> list[Finding]:
    """Validate the keyword arguments of a ``CreateJob`` call."""
    return validate_shape(params, _operation_input("CreateJob"))


def validate_probe_request(params: dict[str, Any]) -> list[Finding]:
    """Validate the keyword arguments of a ``Probe`` call."""
    return validate_shape(params, _operation_input("Probe"))
