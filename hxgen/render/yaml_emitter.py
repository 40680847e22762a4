"""YAML output at libyaml's speed, in the layout hx's files have always had.

libyaml (C, through PyYAML) writes hx's rule files about ten times faster than ruamel's pure-Python
emitter, which was most of a render's time; ruamel still reads hx.yaml, with positions. The
output is byte for byte what ruamel wrote (YAML 1.2 scalars, `mapping=2, sequence=4, offset=2`,
width 4096, no aliases): the few shapes libyaml lays out differently are written by ruamel, and
tests/unit/test_emitters.py compares the two on any data.
"""

from __future__ import annotations

import io
import re
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import yaml
from ruamel.yaml.resolver import implicit_resolvers


def emit(data: Any) -> str:
    """data (dicts in the order given, lists, scalars, Literal blocks) as one YAML document."""
    try:
        node = _node(data)
    except _Unusual:
        return _ruamel_text(data)
    stream = io.StringIO()
    dumper = _Dumper(stream, allow_unicode=True, width=4096, indent=2)
    dumper.open()
    dumper.serialize(node)
    dumper.close()
    try:
        return _indent_sequences(stream.getvalue())
    except _Unusual:
        return _ruamel_text(data)


class Literal(str):
    """A string written as a YAML literal block scalar (`|`), one line per line."""


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """libyaml's emitter, resolving plain scalars as YAML 1.2 does (as ruamel does): `on`,
    `yes` and `1:20` are strings and need no quotes."""

    yaml_implicit_resolvers: dict = {}  # noqa: RUF012  (PyYAML's class-level registry)

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            return _resolve_scalar(value, implicit)  # the same few keys and values, over and over
        return super().resolve(kind, value, implicit)


for _versions, _tag, _regexp, _first in implicit_resolvers:
    if (1, 2) in _versions:
        _Dumper.add_implicit_resolver(_tag, _regexp, _first)

_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_INT, _FLOAT, _BOOL, _NULL = (f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "null"))
_RESOLVER = yaml.resolver.BaseResolver()
_RESOLVER.yaml_implicit_resolvers = _Dumper.yaml_implicit_resolvers


@lru_cache(maxsize=65536)
def _resolve_scalar(value: str, implicit: tuple[bool, bool]) -> str:
    return _RESOLVER.resolve(yaml.ScalarNode, value, implicit)


def _node(value: Any) -> yaml.Node:
    """The node tree PyYAML's representer would build, built directly (the representer was
    most of the remaining time). A fresh node per value: nothing is written as an alias."""
    kind = type(value)
    if kind is str:
        return yaml.ScalarNode(_STR, value, style=_str_style(value))
    if kind is dict:
        return yaml.MappingNode(_MAP, [(_node(k), _node(v)) for k, v in value.items()], flow_style=False)
    if kind is list:
        return yaml.SequenceNode(_SEQ, [_node(v) for v in value], flow_style=False)
    if kind is Literal:
        return yaml.ScalarNode(_STR, str(value), style=_literal_style(value))
    if kind is bool:
        return yaml.ScalarNode(_BOOL, "true" if value else "false")
    if kind is int:
        return yaml.ScalarNode(_INT, str(value))
    if kind is float:
        return yaml.ScalarNode(_FLOAT, _float_text(value))
    if value is None:
        return yaml.ScalarNode(_NULL, "null")
    raise _Unusual  # another type: ruamel decides how to write it, as it always did


@lru_cache(maxsize=65536)
def _str_style(text: str) -> str | None:
    if _UNUSUAL.search(text):
        # libyaml escapes characters beyond the BMP and writes a key with a line break in long
        # form; ruamel writes them as they are.
        raise _Unusual
    # ruamel double-quotes a string that cannot be plain when it holds a quote.
    return '"' if "'" in text and not _plain(text) else None


_UNICODE = SimpleNamespace(allow_unicode=True)  # what analyze_scalar reads of its emitter


def _plain(text: str) -> bool:
    analysis = yaml.emitter.Emitter.analyze_scalar(_UNICODE, text)
    resolved = _resolve_scalar(text, (True, False))
    return analysis.allow_block_plain and not analysis.empty and resolved == _STR


def _literal_style(text: str) -> str:
    if not text.endswith("\n") or text.endswith("\n\n") or text.startswith((" ", "\n")) or _NOT_BLOCK.search(text):
        # Chomping and indentation indicators, and a block that YAML cannot keep as it is
        # (a space before a line break, tabs, control characters): ruamel and libyaml differ.
        raise _Unusual
    return "|"


def _float_text(value: float) -> str:
    # YAML 1.2 reads 1e-05 as a float, so (as ruamel) no '.0' is added before the exponent.
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    return repr(value).lower()


def _indent_sequences(text: str) -> str:
    """Indent block sequences under their mapping key, as hx's files always were.

    libyaml writes a sequence that is a mapping's value at the key's own column (`key:` then
    `- item` below it) and has no option to do otherwise; this moves each such sequence, with
    everything inside it, two columns right. At this width the only scalars that span lines in
    libyaml's output are literal blocks, and their lines move with the line that opens them.
    """
    out = []
    sequences: list[int] = []  # columns (in libyaml's text) of the open indentless sequences
    pad = ""  # two spaces per open sequence
    key_column = -1  # column of the previous line's key, when it waits for a block value
    header_column = -1  # column of the line that opened a literal block, until its first line
    block_prefix = None  # the indentation of the open literal block's lines
    for line in text.split("\n"):
        if block_prefix is not None:
            if not line:
                out.append(line)
                continue
            if line.startswith(block_prefix):
                out.append(pad + line)
                continue
            block_prefix = None
        body = line.lstrip(" ")
        column = len(line) - len(body)
        if header_column >= 0:
            if not body:
                out.append(line)
                continue
            if column > header_column:
                block_prefix, header_column = line[:column], -1
                out.append(pad + line)
                continue
            header_column = -1
        if not body:
            out.append(line)  # the end of the text
            continue
        item = body[0] == "-" and (body == "-" or body[1] == " ")
        if sequences and sequences[-1] >= column:
            while sequences and sequences[-1] > column:
                sequences.pop()
            if sequences and sequences[-1] == column and not item:
                sequences.pop()
            pad = "  " * len(sequences)
        if item:
            if body.startswith("- -"):
                raise _Unusual  # a sequence in a sequence: ruamel lays it out its own way
            if column == key_column and (not sequences or sequences[-1] != column):
                sequences.append(column)
                pad = "  " * len(sequences)
        out.append(pad + line)
        last = body[-1]
        if last == ":":
            key_column = column + len(_DASHES.match(body).group())
        else:
            key_column = -1
            if last in "|-+123456789" and _BLOCK_HEADER.search(body):
                header_column = column
    return "\n".join(out)


class _Unusual(Exception):
    """Data whose layout only ruamel reproduces; hx renders none today."""


def _ruamel_text(data: Any) -> str:
    from ruamel.yaml import YAML
    from ruamel.yaml.scalarstring import LiteralScalarString

    def literal_blocks(value: Any) -> Any:
        if isinstance(value, Literal):
            return LiteralScalarString(str(value))
        if isinstance(value, dict):
            return {k: literal_blocks(v) for k, v in value.items()}
        if isinstance(value, list):
            return [literal_blocks(v) for v in value]
        return value

    dumper = YAML(typ="rt", pure=True)
    dumper.width = 4096
    dumper.indent(mapping=2, sequence=4, offset=2)
    dumper.representer.ignore_aliases = lambda _data: True
    buffer = io.StringIO()
    dumper.dump(literal_blocks(data), buffer)
    return buffer.getvalue()


_UNUSUAL = re.compile("[\n\r\x85\u2028\u2029\U00010000-\U0010ffff]")
_NOT_BLOCK = re.compile("[^\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd]| \n|[\r\x85\u2028\u2029]")
_DASHES = re.compile(r"(?:- )*")
_BLOCK_HEADER = re.compile(r"(?:^(?:- )*|: )\|[1-9]?[-+]?$")
