"""YAML profile -> :class:`Profile`, with errors that point at the file, key path and line."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mediapipe_cfn.errors import ProfileError
from mediapipe_cfn.profile.model import PATTERN_HELP, Profile, RuleViolation
from mediapipe_cfn.resources import data_dir

DEFAULT_PROFILE = "default"
Loc = tuple[str | int, ...]


def builtin_profiles() -> dict[str, Path]:
    """Built-in profile names and their files, sorted by name."""
    return {p.stem: p for p in sorted(data_dir("profiles").glob("*.yaml"))}


def resolve_profile_path(path_or_name: str | Path | None) -> Path:
    """A path to an existing file, or the file of a built-in profile name."""
    if path_or_name is None:
        path_or_name = DEFAULT_PROFILE
    builtins = builtin_profiles()
    if isinstance(path_or_name, str) and path_or_name in builtins:
        return builtins[path_or_name]
    path = Path(path_or_name)
    if path.is_file():
        return path
    if path.exists():
        raise ProfileError(str(path), "not a regular file; give the path of a YAML profile")
    raise ProfileError(
        str(path_or_name),
        "no such file, and not a built-in profile; built-ins: " + ", ".join(builtins),
    )


def load_profile(path_or_name: str | Path | None = None) -> Profile:
    """Load a profile from a YAML file or a built-in name (default: the built-in default)."""
    path = resolve_profile_path(path_or_name)
    try:
        with path.open("rb") as file:
            # Read one byte past the limit: enough to know it is too big, never the whole file.
            raw = file.read(MAX_PROFILE_BYTES + 1)
        _check_size(len(raw), str(path))
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(str(path), f"cannot read the file: {exc}") from None
    return parse_profile(text, source=str(path))


def parse_profile(text: str, source: str = "<profile>") -> Profile:
    """Parse and validate profile YAML; raises :class:`ProfileError` on any problem."""
    data, lines = _read_yaml(text, source)
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise _profile_error(exc, source, lines) from None


# --- YAML with line numbers, bounded --------------------------------------------------------
#
# A profile is a few hundred values nested a few levels deep. The limits below are far above
# that and far below what makes hostile YAML (a huge file, deep nesting, an alias "billion
# laughs") cost more than milliseconds: each is checked before the work it protects.

MAX_PROFILE_BYTES = 1024 * 1024
MAX_NESTING_DEPTH = 32
MAX_VALUES = 20_000  # scalars, mappings and lists, counting each alias use in full

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_MERGE_TAG = "tag:yaml.org,2002:merge"


class _UniqueKeyLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader that rejects duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue  # `<<`: construct_mapping merges the base's keys under this mapping's own
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
            raise yaml.constructor.ConstructorError(
                None, None, f"a {kind} cannot be a key; keys are names", key_node.start_mark
            )
        key = loader.construct_object(key_node)
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} is not text; keys are names", key_node.start_mark
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _TooBig(Exception):
    """Raised inside the YAML walk when a limit is crossed; turned into a ProfileError."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _read_yaml(text: str, source: str) -> tuple[dict[str, Any], dict[Loc, int]]:
    _check_size(len(text.encode("utf-8")), source)
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        raise ProfileError(
            source,
            "the file is empty; write the keys to change (see `mediapipe-cfn profiles show "
            "default`), or '{}' for every default",
        )
    try:
        _check_nesting(text)
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
        lines = _lines_of_keys(node)
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except _TooBig as exc:
        raise ProfileError(source, exc.message, line=exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # libyaml puts an error at the end of the stream on the line after the last one.
        line = min(mark.line + 1, len(text.splitlines()) or 1) if mark else None
        raise ProfileError(source, f"not valid YAML: {exc.problem}", line=line) from None
    except yaml.YAMLError as exc:
        raise ProfileError(source, f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(source, "the profile must be a mapping of keys to values", line=1)
    return data, lines


def _check_size(size: int, source: str) -> None:
    if size > MAX_PROFILE_BYTES:
        limit = MAX_PROFILE_BYTES // 1024
        raise ProfileError(source, f"larger than {limit} KiB; a profile is a few KiB of YAML")


def _lines_of_keys(node: yaml.Node | None) -> dict[Loc, int]:
    lines: dict[Loc, int] = {}
    for loc, line in _bounded_lines(node):
        lines.setdefault(loc, line)  # a key written here wins over one merged in with `<<`
    return lines


def _check_nesting(text: str) -> None:
    """Refuse deep nesting from the event stream, before the recursive composer sees it."""
    depth = 0
    for event in yaml.parse(text, Loader=_UniqueKeyLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_NESTING_DEPTH:
                raise _TooBig(
                    f"nested more than {MAX_NESTING_DEPTH} levels deep; a profile needs about 6",
                    event.start_mark.line + 1,
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _bounded_lines(node: yaml.Node | None) -> Iterator[tuple[Loc, int]]:
    """(key path, 1-based line) for every key and list item, as aliases expand.

    Counting every value an alias repeats bounds the work here and in validation, which sees
    the expanded profile: an alias bomb stops at MAX_VALUES instead of growing exponentially.
    """
    count = 0
    stack: list[tuple[yaml.Node, Loc]] = [(node, ())] if node is not None else []
    while stack:
        current, loc = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise _TooBig(
                f"more than {MAX_VALUES} values (each use of a YAML alias counts in full); "
                "a profile has a few hundred",
                current.start_mark.line + 1,
            )
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue  # a list or mapping as a key: construction refuses it
                if key_node.tag == _MERGE_TAG:
                    # `<<: *base` (or a list of bases) merges keys into this mapping: same path.
                    merged = value_node.value if isinstance(value_node, yaml.SequenceNode) else []
                    stack.extend((base, loc) for base in merged or [value_node])
                    continue
                child = (*loc, key_node.value)
                yield child, key_node.start_mark.line + 1
                stack.append((value_node, child))
        elif isinstance(current, yaml.SequenceNode):
            for index, item in enumerate(current.value):
                child = (*loc, index)
                yield child, item.start_mark.line + 1
                stack.append((item, child))


# --- Validation errors -> one readable message -------------------------------------------------


def _profile_error(exc: ValidationError, source: str, lines: dict[Loc, int]) -> ProfileError:
    problems = [_describe(error) for error in exc.errors()]
    loc, message = problems[0]
    if len(problems) > 1:
        others = "\n".join(
            f"  also {_where(source, lines, other_loc)} {other}"
            for other_loc, other in problems[1:]
        )
        message = f"{message}\n{others}"
    return ProfileError(source, message, key_path=format_loc(loc), line=_line_of(lines, loc))


def _describe(error: Any) -> tuple[Loc, str]:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, RuleViolation):
        return (*loc, *_split_path(cause.path)), str(cause)
    if kind == "extra_forbidden":
        return loc, _unknown_key_message(loc)
    if kind.endswith("_type") and kind != "model_type":
        got = type(error["input"]).__name__
        return loc, f"{error['msg'].replace('Input should be', 'expected')}, got {got} " + repr(
            error["input"]
        )
    if kind == "string_pattern_mismatch":
        pattern = error["ctx"]["pattern"]
        allowed = PATTERN_HELP.get(pattern, f"the pattern {pattern}")
        return loc, f"{error['input']!r} is not allowed: expected {allowed}"
    message = error["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    return loc, message


def _split_path(path: str) -> Loc:
    parts: list[str | int] = []
    for piece in path.replace("]", "").split("."):
        name, *indices = piece.split("[")
        parts.append(name)
        parts.extend(int(i) for i in indices)
    return tuple(parts)


def _unknown_key_message(loc: Loc) -> str:
    allowed = sorted(_model_at(loc[:-1]).model_fields)
    key = str(loc[-1])
    hint = difflib.get_close_matches(key, allowed, n=1)
    suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
    return f"unknown key '{key}'{suggestion}; allowed keys: {', '.join(allowed)}"


def _model_at(loc: Loc) -> type[BaseModel]:
    """The model class that validates the mapping at ``loc``."""
    model: type[BaseModel] = Profile
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        model = _find_model(annotation) or model
    return model


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for arg in typing.get_args(annotation):
            found = _find_model(arg)
            if found:
                return found
    return None


def format_loc(loc: Loc) -> str:
    """('video', 'ladder', 2, 'height') -> 'video.ladder[2].height'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    """Line of the key, or of its closest parent that is written in the file."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _where(source: str, lines: dict[Loc, int], loc: Loc) -> str:
    line = _line_of(lines, loc)
    place = f"line {line}" if line else source
    return f"{place}, {format_loc(loc) or '<top level>'}:"
