"""Indented JSON, byte for byte as `json.dumps(data, indent=2)` writes it, several times faster.

json's C encoder serves only compact output; with `indent` every value goes through its
pure-Python generators, which were the dashboards' share of a render. Strings are still quoted
by json's C function. Anything this does not know (a key that is not a string, a type other than
the JSON ones) goes to json.dumps itself.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii as _quote
from typing import Any


def json_text(data: Any, sort_keys: bool = False) -> str:
    """data as JSON with two-space indentation and a final newline; NaN and infinities refused."""
    out: list[str] = []
    try:
        _write(data, "\n", out, sort_keys)
    except _Unusual:
        return json.dumps(data, indent=2, sort_keys=sort_keys, allow_nan=False) + "\n"
    out.append("\n")
    return "".join(out)


class _Unusual(Exception):
    pass


def _write(value: Any, newline: str, out: list[str], sort_keys: bool) -> None:
    kind = type(value)
    if kind is str:
        out.append(_quote(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key in sorted(value) if sort_keys else value:
            if type(key) is not str:
                raise _Unusual
            out.append(separator + _quote(key) + ": ")
            separator = "," + inner
            _write(value[key], inner, out, sort_keys)
        out.append(newline + "}")
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            out.append(separator)
            separator = "," + inner
            _write(item, inner, out, sort_keys)
        out.append(newline + "]")
    elif value is None:
        out.append("null")
    elif kind is bool:
        out.append("true" if value else "false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float and value == value and value not in (float("inf"), float("-inf")):
        out.append(float.__repr__(value))
    else:
        raise _Unusual  # json.dumps writes it, or says why it cannot
