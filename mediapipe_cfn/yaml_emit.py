"""The template as YAML, byte for byte what cfn-flip writes, in a fraction of the time.

`render` used to hand the template to cfn-flip's ``dump_yaml`` (PyYAML with cfn-flip's dumper,
block style, sequences indented under their key, keys sorted, width 200). Most of that time went
to PyYAML's general machinery: representing every value as a node, serialising nodes into
events, and an event-driven emitter that looks ahead in a queue. A template is plain JSON data
(mappings with string keys, lists, strings, numbers, booleans, null), so this module walks it
directly and makes the same calls on PyYAML's own emitter that its state machine would:
``write_indent``, ``write_indicator`` and, for every scalar, ``analyze_scalar``,
``choose_scalar_style`` and ``process_scalar``. Quoting, folding and line wrapping therefore stay
PyYAML's; only the walk is ours. libyaml (``CSafeDumper``) cannot be used: it always writes a
block sequence at its key's indentation, which changes the bytes.

Anything outside that subset (a complex key, a non-string key, a type JSON does not have) is
handed to cfn-flip, so the output is always exactly cfn-flip's.
"""

from __future__ import annotations

import io
import re
from typing import Any

from yaml.emitter import Emitter, ScalarAnalysis
from yaml.events import ScalarEvent
from yaml.nodes import ScalarNode
from yaml.representer import SafeRepresenter
from yaml.resolver import Resolver

# cfn-flip's settings (cfn_flip.dump_yaml, cfn_tools.yaml_dumper and cfn_flip.yaml_dumper).
WIDTH = 200
_LITERAL_MIN_LINE_BREAKS = 10
_ACCOUNT_ID = re.compile(r"^0[0-9]+$")
_STR_TAG = "tag:yaml.org,2002:str"
# Strings whose analysis is known without PyYAML's character-by-character scan: no spaces,
# breaks, quotes or indicators except ':' '{' '}' inside, which only rule out flow-plain style
# (tests/unit/test_yaml_emit.py compares the shortcut with analyze_scalar).
_PLAIN_WORD = re.compile(r"[A-Za-z0-9_/$][A-Za-z0-9_./=+*:${}-]*")
_FLOW_INDICATORS_INSIDE = frozenset(":{}")
_LINE_BREAKS = frozenset("\n\x85\u2028\u2029")


class _Unsupported(Exception):
    """Data outside the subset this writer reproduces; cfn-flip writes it instead."""


class _CfnEmitter(Emitter):
    """PyYAML's emitter with cfn-flip's one change to scalar analysis (the empty string)."""

    def analyze_scalar(self, scalar: str) -> ScalarAnalysis:
        if _PLAIN_WORD.fullmatch(scalar) and not scalar.endswith(":"):
            return ScalarAnalysis(
                scalar=scalar,
                empty=False,
                multiline=False,
                allow_flow_plain=_FLOW_INDICATORS_INSIDE.isdisjoint(scalar),
                allow_block_plain=True,
                allow_single_quoted=True,
                allow_double_quoted=True,
                allow_block=True,
            )
        if not scalar:
            return ScalarAnalysis(
                scalar=scalar,
                empty=True,
                multiline=False,
                allow_flow_plain=False,
                allow_block_plain=True,
                allow_single_quoted=True,
                allow_double_quoted=True,
                allow_block=True,
            )
        return super().analyze_scalar(scalar)


def dump_template_yaml(document: dict[str, Any]) -> str:
    """``document`` as cfn-flip's ``dump_yaml(document, clean_up=False)`` writes it."""
    try:
        return _Writer().document(document)
    except _Unsupported:
        from cfn_flip import dump_yaml

        return dump_yaml(document, clean_up=False)


def _representer_style(value: str) -> str | None:
    """The style cfn-flip's representers ask for (None: let the emitter choose)."""
    style = None
    if value.count("\n") + value.count("\r") >= _LITERAL_MIN_LINE_BREAKS:
        style = "|"
    elif len(value) >= WIDTH and "\n" not in value:
        style = ">"
    elif value.startswith("0"):
        style = "'"
    if _ACCOUNT_ID.match(value):  # account IDs stay strings, whatever was chosen above
        style = "'"
    if style is None and ("\n" in value or "\r" in value):
        style = '"'
    return style


class _Writer:
    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.emitter = _CfnEmitter(self.stream, width=WIDTH, allow_unicode=True)
        self.resolver = Resolver()
        self.representer = SafeRepresenter()
        # (value, is key) -> (analysis, style): templates repeat most of their strings.
        self.scalars: dict[tuple[Any, bool], tuple[ScalarAnalysis, str]] = {}

    def document(self, data: dict[str, Any]) -> str:
        emitter = self.emitter
        emitter.root_context = True
        self.node(data, simple_key=False)
        emitter.write_indent()  # the document's end
        if emitter.open_ended:  # after a block scalar that keeps its final line breaks
            emitter.write_indicator("...", True)
            emitter.write_indent()
        return self.stream.getvalue()

    def node(self, data: Any, *, simple_key: bool) -> None:
        emitter = self.emitter
        emitter.simple_key_context = simple_key
        if isinstance(data, dict):
            self.mapping(data) if data else self.empty("{", "}")
        elif isinstance(data, list):
            self.sequence(data) if data else self.empty("[", "]")
        else:
            self.scalar(data, simple_key=simple_key)

    def empty(self, start: str, end: str) -> None:
        emitter = self.emitter
        emitter.write_indicator(start, True, whitespace=True)
        emitter.increase_indent(flow=True)
        emitter.write_indicator(end, False)
        emitter.indent = emitter.indents.pop()

    def mapping(self, data: dict[Any, Any]) -> None:
        emitter = self.emitter
        emitter.increase_indent(flow=False)
        emitter.root_context = False
        for key, value in sorted(data.items()):
            if not isinstance(key, str):
                raise _Unsupported
            emitter.write_indent()
            analysis, _ = self.analysed(key, simple_key=True)
            if len(analysis.scalar) >= 128 or analysis.empty or analysis.multiline:
                raise _Unsupported  # PyYAML would write a complex key ("? ...")
            self.scalar(key, simple_key=True)
            emitter.write_indicator(":", False)
            self.node(value, simple_key=False)
        emitter.indent = emitter.indents.pop()

    def sequence(self, data: list[Any]) -> None:
        emitter = self.emitter
        # cfn-flip indents a sequence under its key (PyYAML alone would not).
        emitter.increase_indent(flow=False, indentless=False)
        emitter.root_context = False
        for item in data:
            emitter.write_indent()
            emitter.write_indicator("-", True, indention=True)
            self.node(item, simple_key=False)
        emitter.indent = emitter.indents.pop()

    def scalar(self, value: Any, *, simple_key: bool) -> None:
        emitter = self.emitter
        analysis, style = self.analysed(value, simple_key=simple_key)
        if style == "" and " " not in analysis.scalar and _LINE_BREAKS.isdisjoint(analysis.scalar):
            self.unbroken_plain(analysis.scalar)
            return
        emitter.simple_key_context = simple_key
        emitter.analysis, emitter.style = analysis, style
        emitter.increase_indent(flow=True)
        emitter.process_scalar()
        emitter.indent = emitter.indents.pop()

    def unbroken_plain(self, text: str) -> None:
        """What ``Emitter.write_plain`` does for text it cannot split: no spaces, no breaks."""
        emitter = self.emitter
        if emitter.root_context:
            emitter.open_ended = True
        if not text:
            return
        if not emitter.whitespace:
            self.stream.write(" ")
            emitter.column += 1
        emitter.whitespace = False
        emitter.indention = False
        self.stream.write(text)
        emitter.column += len(text)

    def analysed(self, value: Any, *, simple_key: bool) -> tuple[ScalarAnalysis, str]:
        cache_key = (type(value), value, simple_key)
        cached = self.scalars.get(cache_key)  # type: ignore[arg-type]
        if cached is None:
            cached = self.scalars[cache_key] = self._analyse(value, simple_key)  # type: ignore[index]
        return cached

    def _analyse(self, value: Any, simple_key: bool) -> tuple[ScalarAnalysis, str]:
        if isinstance(value, str):
            tag, text, style = _STR_TAG, value, _representer_style(value)
        elif value is None or isinstance(value, bool | int | float):
            node = self.representer.represent_data(value)
            tag, text = node.tag, node.value
            style = "'" if _ACCOUNT_ID.match(text) else None
        else:
            raise _Unsupported
        implicit = (
            self.resolver.resolve(ScalarNode, text, (True, False)) == tag,
            self.resolver.resolve(ScalarNode, text, (False, True)) == tag,
        )
        emitter = self.emitter
        emitter.event = ScalarEvent(None, tag, implicit, text, style=style)
        emitter.simple_key_context = simple_key
        emitter.analysis = emitter.analyze_scalar(text)
        chosen = emitter.choose_scalar_style()
        analysis, emitter.analysis, emitter.event = emitter.analysis, None, None
        # Written without a tag only when the chosen style lets the value resolve to its type.
        if not ((chosen == "" and implicit[0]) or (chosen != "" and implicit[1])):
            raise _Unsupported
        return analysis, chosen
