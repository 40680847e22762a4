"""Read hx.yaml as YAML 1.2 into plain data, remembering where every key and value stands."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError

from .diagnostics import Diagnostic, SpecPath

# Positions are 1-based (line, column), as editors and compilers print them.
Position = tuple[int, int]


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
        return (1, 1)


class SpecLoadError(Exception):
    """The file cannot be read as YAML; carries the diagnostic and its position."""

    def __init__(self, diagnostic: Diagnostic, position: Position) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic
        self.position = position


def load(text: str, name: str = "hx.yaml") -> Source:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        document = yaml.load(text)
    except DuplicateKeyError as exc:
        raise _load_error(
            "duplicate-key",
            _first_line(exc.problem),
            exc,
            "each key may appear once per mapping; merge or rename one of them",
        ) from None
    except MarkedYAMLError as exc:
        raise _load_error(
            "yaml-syntax",
            f"{exc.problem or exc.context}",
            exc,
            "check indentation and quoting around this position",
        ) from None
    source = Source(name=name, data=None)
    source.data = _plain(document, (), source)
    return source


def _plain(node: Any, path: SpecPath, source: Source) -> Any:
    """Convert ruamel's round-trip nodes to dict/list/scalars, recording positions."""
    if isinstance(node, (CommentedMap, CommentedSeq)):
        source.collections.add(path)
    if isinstance(node, CommentedMap):
        result = {}
        for key, value in node.items():
            child = (*path, str(key))
            line, col = node.lc.key(key)
            source.key_positions[child] = (line + 1, col + 1)
            vline, vcol = node.lc.value(key)
            source.value_positions[child] = (vline + 1, vcol + 1)
            result[str(key)] = _plain(value, child, source)
        return result
    if isinstance(node, CommentedSeq):
        result_list = []
        for index, value in enumerate(node):
            child = (*path, index)
            line, col = node.lc.item(index)
            source.value_positions[child] = (line + 1, col + 1)
            result_list.append(_plain(value, child, source))
        return result_list
    return _scalar(node)


def _scalar(value: Any) -> Any:
    # ruamel keeps formatting in subclasses of int/float/str; models want the plain types.
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if type(value).__name__ == "ScalarBoolean":
            return bool(value)
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dt.datetime):
        return dt.datetime.fromisoformat(value.isoformat())
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, value.day)
    return value


def _load_error(code: str, message: str, exc: MarkedYAMLError, hint: str) -> SpecLoadError:
    mark = exc.problem_mark or exc.context_mark
    position = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return SpecLoadError(Diagnostic("error", code, message, hint=hint), position)


def _first_line(text: str | None) -> str:
    return (text or "duplicate key").strip().splitlines()[0]
