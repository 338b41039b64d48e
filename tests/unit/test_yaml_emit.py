"""The fast YAML writer gives exactly cfn-flip's bytes, for templates and for awkward data."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from cfn_flip import dump_yaml
from yaml.emitter import Emitter

from mediapipe_cfn import build_template, builtin_profiles, load_profile
from mediapipe_cfn.yaml_emit import _CfnEmitter, _Unsupported, _Writer, dump_template_yaml

AWKWARD_STRINGS = [
    "",
    " ",
    "plain",
    "two words",
    "0123",
    "0",
    "0x1F",
    "123",
    "-1",
    "1.5",
    "1e3",
    ".inf",
    "true",
    "False",
    "yes",
    "No",
    "on",
    "null",
    "~",
    "2010-09-09",
    "12:30",
    "-",
    "- item",
    "?",
    "? key",
    ":",
    "a: b",
    "a:b",
    "#comment",
    "text #not comment",
    "trailing ",
    " leading",
    "'single'",
    '"double"',
    "it's",
    "!Ref X",
    "*alias",
    "&anchor",
    "{a: 1}",
    "[1, 2]",
    "a, b",
    "@at",
    "`tick`",
    "%percent",
    "|pipe",
    ">fold",
    "tab\there",
    "bell\x07",
    "line\nbreak",
    "crlf\r\nline",
    "ends with newline\n",
    "ends with two\n\n",
    "\n".join(f"line {i}" for i in range(12)),
    "\n".join(f"line {i}" for i in range(12)) + "\n\n",
    "nel\x85next",
    "ls\u2028next",
    "caf\u00e9 \u2014 \U0001f600",
    "\ufeffbom",
    "x" * 199,
    "y" * 200,
    " ".join(["word"] * 60),
    " ".join(["word"] * 38),
    "${AWS::StackName}-upload-created",
    "arn:aws:s3:::bucket/*",
    '{"Statement": [{"Effect": "Allow"}]}',
]
# Keys PyYAML writes as simple keys (the fast path's domain; others fall back, tested below).
SIMPLE_KEYS = [
    s for s in AWKWARD_STRINGS if s and len(s) < 128 and not set(s) & set("\n\r\x85\u2028\u2029")
]
SCALARS: list[Any] = [*AWKWARD_STRINGS, 0, 1, -7, 10**20, 1.5, -0.25, 1e17, True, False, None]


def _random_data(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth > 4 or roll < 0.45:
        return rng.choice(SCALARS)
    if roll < 0.75:
        keys = rng.sample([*SIMPLE_KEYS, "Key", "Ref", "Fn::GetAtt"], rng.randint(0, 5))
        return {key: _random_data(rng, depth + 1) for key in keys}
    return [_random_data(rng, depth + 1) for _ in range(rng.randint(0, 4))]


@pytest.mark.parametrize("name", sorted(builtin_profiles()))
def test_templates_take_the_fast_path_with_identical_bytes(name: str) -> None:
    document = build_template(load_profile(name), handler_code="artifacts/h.zip").to_dict()
    data = json.loads(json.dumps(document, sort_keys=True))
    assert _Writer().document(data) == dump_yaml(data, clean_up=False)


@pytest.mark.parametrize("value", SCALARS, ids=repr)
def test_each_awkward_scalar_is_written_as_cfn_flip_writes_it(value: Any) -> None:
    data = {"Key": value, "List": [value, {"Nested": value}], "Deep": {"a": {"b": {"c": [value]}}}}
    assert _Writer().document(data) == dump_yaml(data, clean_up=False)


@pytest.mark.parametrize("seed", range(40))
def test_random_documents_are_written_as_cfn_flip_writes_them(seed: int) -> None:
    rng = random.Random(seed)
    data = {f"Section{i}": _random_data(rng, 0) for i in range(4)}
    assert _Writer().document(data) == dump_yaml(data, clean_up=False)


def test_what_the_fast_path_does_not_cover_falls_back_to_cfn_flip() -> None:
    long_key = {"k" * 130: "value"}
    with pytest.raises(_Unsupported):
        _Writer().document(long_key)
    assert dump_template_yaml(long_key) == dump_yaml(long_key, clean_up=False)
    multiline_key = {"a\nb": 1}
    assert dump_template_yaml(multiline_key) == dump_yaml(multiline_key, clean_up=False)


def _scalars_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(s for v in value.values() for s in _scalars_in(v))]
    if isinstance(value, list):
        return [s for v in value for s in _scalars_in(v)]
    return [value] if isinstance(value, str) else []


def test_the_analysis_shortcut_agrees_with_pyyaml() -> None:
    """_CfnEmitter skips PyYAML's scan for plain words; its answer must be PyYAML's."""
    rng = random.Random(7)
    alphabet = "aZ09_/$.=+*:{}-# ,?[]!&|>'\"%@`\n\t"
    strings = {*AWKWARD_STRINGS, "a:", "a:b", "${AWS::Region}", "x{y}", "-a", "--", "..."}
    strings |= {
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(3000)
    }
    for name in builtin_profiles():
        strings |= set(_scalars_in(build_template(load_profile(name)).to_dict()))
    ours, theirs = _CfnEmitter(None), Emitter(None)
    for text in sorted(strings - {""}):
        assert vars(ours.analyze_scalar(text)) == vars(theirs.analyze_scalar(text)), repr(text)


@pytest.mark.parametrize("root", ["plain", "two words", "", [], {}, ["a", {"b": 1}], 0, None])
def test_documents_of_any_root_are_written_as_cfn_flip_writes_them(root: Any) -> None:
    assert _Writer().document(root) == dump_yaml(root, clean_up=False)
