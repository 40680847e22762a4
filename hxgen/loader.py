"""Read hx.yaml as YAML 1.2 into plain data, remembering where every key and value stands."""

from __future__ import annotations

import datetime as dt
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import yaml as libyaml
from ruamel.yaml import YAML
from ruamel.yaml.constructor import ConstructorError, DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import implicit_resolvers

from .diagnostics import Diagnostic, SpecPath

# Positions are 1-based (line, column), as editors and compilers print them.
Position = tuple[int, int]

# The parser's words for common mistakes, and what they mean to someone editing a spec.
PARSER_WORDS = [
    ("found character '\\t'", "a tab is used for indentation", "YAML indents with spaces only; replace the tabs"),
    (
        "expected <block end>",
        "the indentation here does not match the lines above",
        "keys of one mapping start in the same column; list items line up under their '-'",
    ),
    (
        "mapping values are not allowed here",
        "a ':' where a value was expected",
        "quote values that contain ': ', or put the key on its own line",
    ),
]


@dataclass
class Source:
    """A parsed spec: its data plus the position of every key and value."""

    name: str
    data: Any
    key_positions: dict[SpecPath, Position] = field(default_factory=dict)
    value_positions: dict[SpecPath, Position] = field(default_factory=dict)
    collections: set[SpecPath] = field(default_factory=set)

    def locate(self, path: SpecPath, at: str = "value") -> Position:
        """The position of `path`, or of its nearest ancestor the file spells out.

        Scalars are pointed at by their value; mappings and lists by their key (a block
        mapping's "value" would be its first child, which misleads), list items by their dash.
        A path the file does not spell out at all points at the document's first key.
        """
        if at == "key" and path in self.key_positions:
            return self.key_positions[path]
        while path:
            if path in self.value_positions and path not in self.collections:
                return self.value_positions[path]
            if path in self.key_positions:
                return self.key_positions[path]
            if path in self.value_positions:
                return self.value_positions[path]
            path = path[:-1]
        return min(self.key_positions.values(), default=(1, 1))


class SpecLoadError(Exception):
    """The file cannot be read as YAML; carries the diagnostic and its position."""

    def __init__(self, diagnostic: Diagnostic, position: Position) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic
        self.position = position


class _Constructor(RoundTripConstructor):
    """Turns value errors (a 30th of February, `!!int x`) into errors that carry a position."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except MarkedYAMLError:
            raise
        except (ValueError, TypeError, IndexError, KeyError, OverflowError) as exc:
            raise ConstructorError(None, None, f"cannot read this value: {exc}", node.start_mark) from None


def load(text: str, name: str = "hx.yaml") -> Source:
    fast = _fast_load(text, name)
    return fast if fast is not None else _ruamel_load(text, name)


def _ruamel_load(text: str, name: str) -> Source:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = False
    try:
        with warnings.catch_warnings():
            # A reused anchor is legal YAML 1.2 (the later one wins); no need to shout.
            warnings.simplefilter("ignore", ReusedAnchorWarning)
            document = yaml.load(text)
    except DuplicateKeyError as exc:
        raise _marked_error(
            "duplicate-key", exc, _first_line(exc.problem), "each key may appear once per mapping; merge the two"
        ) from None
    except MarkedYAMLError as exc:
        raise _syntax_error(exc) from None
    except ReaderError as exc:
        raise SpecLoadError(
            Diagnostic(
                "error",
                "yaml-syntax",
                f"the file contains a control character ({exc.character!r})",
                hint="remove it; YAML text may only hold printable characters, tabs and newlines",
            ),
            _position_of_index(text, exc.position),
        ) from None
    except (ValueError, TypeError, IndexError, KeyError, OverflowError) as exc:
        # Raised while ruamel fills collections after the fact, where no position is kept;
        # in practice a mapping or list used as a key (`? [a]: b`).
        raise SpecLoadError(
            Diagnostic("error", "yaml-syntax", f"cannot read the document: {exc}", hint="keys must be plain text"),
            (1, 1),
        ) from None
    except RecursionError:
        raise SpecLoadError(
            Diagnostic("error", "yaml-syntax", "the document nests too deeply to read"), (1, 1)
        ) from None
    except AssertionError:
        # ruamel's comment handling asserts on some top-level scalars (`| #`); no valid spec is one.
        raise SpecLoadError(
            Diagnostic(
                "error",
                "yaml-syntax",
                "cannot read the document",
                hint="hx.yaml is a mapping of sections that starts with 'version: hx/v1'",
            ),
            (1, 1),
        ) from None
    source = Source(name=name, data=None)
    source.data = _plain(document, (), source, set())
    return source


def _plain(node: Any, path: SpecPath, source: Source, open_nodes: set[int]) -> Any:
    """Convert ruamel's round-trip nodes to dict/list/scalars, recording positions."""
    if not isinstance(node, (dict, list)):
        return _scalar(node)
    if id(node) in open_nodes:  # an alias that contains itself: `&a [*a]`
        raise SpecLoadError(
            Diagnostic(
                "error",
                "yaml-syntax",
                "an alias refers to a collection that contains it",
                hint="anchors (&name) may be reused (*name) only outside the collection they mark",
            ),
            source.locate(path),
        )
    open_nodes.add(id(node))
    source.collections.add(path)
    if isinstance(node, dict):
        result: Any = {}
        for key, value in node.items():
            child = (*path, str(key))
            # Keys brought in by a merge (`<<: *base`) have no position of their own.
            _record(source.key_positions, child, node, "key", key)
            _record(source.value_positions, child, node, "value", key)
            result[str(key)] = _plain(value, child, source, open_nodes)
    else:
        result = []
        for index, value in enumerate(node):
            child = (*path, index)
            _record(source.value_positions, child, node, "item", index)
            result.append(_plain(value, child, source, open_nodes))
    open_nodes.discard(id(node))
    return result


def _record(table: dict[SpecPath, Position], path: SpecPath, node: Any, kind: str, key: Any) -> None:
    lc = getattr(node, "lc", None)
    try:
        line, column = getattr(lc, kind)(key)
    except (AttributeError, KeyError, IndexError, TypeError):
        return
    if line is not None and column is not None:
        table[path] = (line + 1, column + 1)


def _scalar(value: Any) -> Any:
    # ruamel keeps formatting in subclasses of int/float/str; models want the plain types.
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return bool(value) if type(value).__name__ == "ScalarBoolean" else int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dt.datetime):
        return dt.datetime.fromisoformat(value.isoformat())
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, value.day)
    if isinstance(value, (bytes, set, tuple)):
        return str(value)  # !!binary, !!set, ...: no field takes them; validation says so
    return value


def _syntax_error(exc: MarkedYAMLError) -> SpecLoadError:
    problem = _first_line(exc.problem or exc.context)
    for fragment, message, hint in PARSER_WORDS:
        if fragment in problem:
            return _marked_error("yaml-syntax", exc, message, hint)
    hint = "check indentation, quotes and brackets around this position"
    mark, context = exc.context_mark, exc.context
    if mark is not None and context and exc.problem_mark is not None and mark.line != exc.problem_mark.line:
        hint = f"{context} that starts at {mark.line + 1}:{mark.column + 1}; check that it is closed"
    return _marked_error("yaml-syntax", exc, problem, hint)


def _marked_error(code: str, exc: MarkedYAMLError, message: str, hint: str) -> SpecLoadError:
    mark = exc.problem_mark or exc.context_mark
    position = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return SpecLoadError(Diagnostic("error", code, message, hint=hint), position)


def _position_of_index(text: str, index: int) -> Position:
    before = text[:index]
    return (before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)


def _first_line(text: str | None) -> str:
    return (text or "unreadable YAML").strip().splitlines()[0]


# --- the same reading, at libyaml's speed -------------------------------------------------
# ruamel's pure-Python parser was most of the time of validating a large spec. Where a file
# holds only what both read alike (mappings with string keys, lists, strings, decimal numbers,
# booleans, written nulls), libyaml composes it and positions come from its nodes; anything else
# (anchors used as aliases, tags, merge keys, empty values, duplicate keys, directives, errors)
# is read by ruamel, whose reading and messages are the reference. tests/unit/test_loader.py
# compares the two.


class _Loader(libyaml.CSafeLoader if hasattr(libyaml, "CSafeLoader") else libyaml.SafeLoader):
    yaml_implicit_resolvers: dict = {}  # noqa: RUF012  (PyYAML's class-level registry; YAML 1.2's below)


for _versions, _tag, _regexp, _first in implicit_resolvers:
    if (1, 2) in _versions:
        _Loader.add_implicit_resolver(_tag, _regexp, _first)


_RESOLVER = libyaml.resolver.BaseResolver()
_RESOLVER.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


class _Unsure(Exception):
    """Something only ruamel reads with certainty."""


_TAG = "tag:yaml.org,2002:"
_DECIMAL = re.compile(r"[-+]?[0-9]+\Z")
_POINT = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
# Text libyaml reads differently from ruamel: odd line breaks and tabs, directives, and a block
# scalar header with a comment glued to it (`|#`, which YAML 1.2 and ruamel reject).
_NOT_FAST = re.compile(r"[\t\r\x85\u2028\u2029\ufeff]|^%|[|>][-+0-9]*#", re.MULTILINE)
_INDICATORS = set(":?-[]{},#&*!|>'\"%@`")
_BOOLEANS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}


def _fast_load(text: str, name: str) -> Source | None:
    if _NOT_FAST.search(text):
        return None
    try:
        node = libyaml.compose(text, Loader=_Loader)
    except (libyaml.YAMLError, RecursionError):
        return None
    if type(node) is not libyaml.MappingNode:
        return None  # a spec is a mapping; anything else gets ruamel's diagnostics
    source = Source(name=name, data=None)
    try:
        source.data = _fast_node(node, (), source, set(), "!" in text)
    except (_Unsure, RecursionError):
        return None
    return source


def _fast_node(node: Any, path: SpecPath, source: Source, seen: set[int], tags: bool) -> Any:
    """`tags`: the text may hold explicit tags (`!!str 1`), which ruamel keeps as tagged values."""
    if id(node) in seen:
        raise _Unsure  # an alias: the same node twice
    seen.add(id(node))
    kind = type(node)
    if kind is libyaml.ScalarNode:
        return _fast_scalar(node, tags)
    source.collections.add(path)
    if kind is libyaml.MappingNode and node.tag == _TAG + "map":
        result: dict[str, Any] = {}
        for key, value in node.value:
            if (
                type(key) is not libyaml.ScalarNode
                or key.value in result
                or not isinstance(_fast_scalar(key, tags), str)
            ):
                raise _Unsure  # a merge key, a key that is not a string, a duplicate key
            child = (*path, key.value)
            source.key_positions[child] = (key.start_mark.line + 1, key.start_mark.column + 1)
            source.value_positions[child] = (value.start_mark.line + 1, value.start_mark.column + 1)
            result[key.value] = _fast_node(value, child, source, seen, tags)
        return result
    if kind is libyaml.SequenceNode and node.tag == _TAG + "seq":
        items = []
        for index, item in enumerate(node.value):
            child = (*path, index)
            source.value_positions[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
            items.append(_fast_node(item, child, source, seen, tags))
        return items
    raise _Unsure


def _fast_scalar(node: Any, tags: bool) -> Any:
    tag, value = node.tag, node.value
    if tags and tag != (_TAG + "str" if node.style else _RESOLVER.resolve(libyaml.ScalarNode, value, (True, False))):
        raise _Unsure  # an explicit tag: ruamel keeps the value tagged
    if not node.style and value[:1] in _INDICATORS:
        raise _Unsure  # YAML 1.1 and 1.2 scan a plain scalar that starts so differently
    if tag == _TAG + "str":
        return value
    if node.style:  # quoted or a block, yet tagged as something else
        raise _Unsure
    if tag == _TAG + "int" and _DECIMAL.match(value):
        return int(value)
    if tag == _TAG + "float" and _POINT.match(value):
        return float(value)
    if tag == _TAG + "bool" and value in _BOOLEANS:
        return _BOOLEANS[value]
    if tag == _TAG + "null" and value in ("~", "null", "Null", "NULL"):
        return None  # an empty value: ruamel places it elsewhere than libyaml does
    raise _Unsure
