"""YAML output at libyaml's speed, in the layout hx's files have always had.

libyaml (C, through PyYAML) emits YAML about twenty times faster than ruamel's pure-Python
emitter, which was most of a render's time; ruamel still reads hx.yaml, with positions. The
output is byte for byte what ruamel wrote (YAML 1.2 scalars, `mapping=2, sequence=4, offset=2`,
width 4096, no aliases): the few shapes libyaml lays out differently are written by ruamel, and
tests/unit/test_yaml_text.py compares the two on any data.
"""

from __future__ import annotations

import io
import re
from types import SimpleNamespace
from typing import Any

import yaml
from ruamel.yaml.resolver import implicit_resolvers


def emit(data: Any) -> str:
    """data (dicts in the order given, lists, scalars, Literal blocks) as one YAML document."""
    try:
        return _indent_sequences(yaml.dump(data, Dumper=_Dumper, **_DUMP_OPTIONS))
    except _Unusual:
        return _ruamel_text(data)


class Literal(str):
    """A string written as a YAML literal block scalar (`|`), one line per line."""


_Dumper = type("_Dumper", (getattr(yaml, "CSafeDumper", yaml.SafeDumper),), {})
_Dumper.ignore_aliases = lambda _self, _data: True  # a value used twice is written twice
_Dumper.yaml_implicit_resolvers = {}  # YAML 1.2's, as ruamel resolves them: `on` and `0755` are strings
for _versions, _tag, _regexp, _first in implicit_resolvers:
    if (1, 2) in _versions:
        _Dumper.add_implicit_resolver(_tag, _regexp, _first)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if _UNUSUAL.search(data):
        # libyaml escapes characters beyond the BMP and writes a key with a line break in long
        # form; ruamel writes them as they are
        raise _Unusual
    # ruamel double-quotes a string that cannot be plain when it holds a quote.
    quoted = "'" in data and not _plain(dumper, data)
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, '"' if quoted else None)


_UNICODE = SimpleNamespace(allow_unicode=True)  # what analyze_scalar reads of its emitter


def _plain(dumper: yaml.SafeDumper, data: str) -> bool:
    analysis = yaml.emitter.Emitter.analyze_scalar(_UNICODE, data)
    resolved = dumper.resolve(yaml.ScalarNode, data, (True, False))
    return analysis.allow_block_plain and not analysis.empty and resolved == "tag:yaml.org,2002:str"


def _represent_float(dumper: yaml.SafeDumper, data: float) -> yaml.ScalarNode:
    # YAML 1.2 reads 1e-05 as a float, so (as ruamel) no '.0' is added before the exponent.
    if data != data:
        value = ".nan"
    elif data in (float("inf"), float("-inf")):
        value = ".inf" if data > 0 else "-.inf"
    else:
        value = repr(data).lower()
    return dumper.represent_scalar("tag:yaml.org,2002:float", value)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(float, _represent_float)


def _represent_literal(dumper: yaml.SafeDumper, data: Literal) -> yaml.ScalarNode:
    if not data.endswith("\n") or data.endswith("\n\n") or data.startswith((" ", "\n")) or _NOT_BLOCK.search(data):
        # Chomping and indentation indicators, and a block that YAML cannot keep as it is
        # (a space before a line break, control characters): ruamel and libyaml differ.
        raise _Unusual
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), "|")


_Dumper.add_representer(Literal, _represent_literal)
_DUMP_OPTIONS = {"sort_keys": False, "allow_unicode": True, "width": 4096, "indent": 2, "default_flow_style": False}


def _indent_sequences(text: str) -> str:
    """Indent block sequences under their mapping key, as hx's files always were.

    libyaml writes a sequence that is a mapping's value at the key's own column (`key:` then
    `- item` below it) and has no option to do otherwise; this moves each such sequence, with
    everything inside it, two columns right. At this width the only scalars that span lines in
    libyaml's output are literal blocks, and their lines move with the line that opens them.
    """
    out = []
    sequences: list[int] = []  # columns (in libyaml's text) of the open indentless sequences
    key_column = -1  # column of the previous line's key, when it waits for a block value
    block = 0  # 1: the previous line opened a literal block; 2: inside one, at block_indent
    header_column = block_indent = 0
    for line in text.splitlines(keepends=True):
        body = line.strip(" \n")
        column = len(line) - len(line.lstrip(" "))
        if block and (not body or (block == 2 and column >= block_indent)):
            out.append(" " * (2 * len(sequences)) + line if body else line)
            continue
        if block == 1 and column > header_column:
            block, block_indent = 2, column
            out.append(" " * (2 * len(sequences)) + line)
            continue
        block = 0
        while sequences and sequences[-1] > column:
            sequences.pop()
        item = body == "-" or body.startswith("- ")
        if body.startswith("- -"):
            raise _Unusual  # a sequence in a sequence: ruamel lays it out its own way
        if sequences and sequences[-1] == column and not item:
            sequences.pop()
        elif item and column == key_column and (not sequences or sequences[-1] != column):
            sequences.append(column)
        out.append(" " * (2 * len(sequences)) + line)
        dashes = len(_DASHES.match(body).group())
        key_column = column + dashes if body.endswith(":") else -1
        if _BLOCK_HEADER.search(body):
            block, header_column = 1, column
    return "".join(out)


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
