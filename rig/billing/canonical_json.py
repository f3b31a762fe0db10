"""The audit chain's canonical JSON: sorted keys, no spaces, ASCII only; Decimals as exact
strings, datetimes ISO 8601, enums their value, dataclasses (nested ones too) objects of their
fields — never a float made of money.

Every sale writes one such event, the sale's whole result (a dataclass of 22 fields), so a
dataclass is written here field by field with the very functions ``json``'s C encoder uses for
strings and integers, instead of being handed to the encoder as a dict made for it (the
encoder then called back into Python for each Decimal, datetime and nested dataclass). Each
dataclass gets its own writer, generated once from its fields as :mod:`dataclasses` generates
``__init__``: a field holding the type it declares is written inline, anything else by the
general writer. Anything else goes through the encoder as before; all give the same text,
character for character (``tests/billing/test_audit_hash.py``).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any


def canonical_json(value: Any) -> str:
    """``value`` as the chain hashes and stores it (see the module's doc)."""
    return _one(value)


def json_safe(value: Any) -> Any:
    """What the encoder cannot write itself, as something it can."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {name: getattr(value, name) for name, _ in _keys(type(value))}
    raise TypeError(f"an audit event cannot hold {type(value).__name__} {value!r}")


def _dataclass(value: Any) -> str:
    write = _WRITERS.get(type(value))
    if write is None:  # a dataclass first seen: its writer joins the table
        write = _WRITERS[type(value)] = _writer_of(type(value))
    return write(value)


# How a value of each type is written inline (``{x}``: the value), in a generated writer.
_INLINE = {
    str: "_quoted({x})", int: "_int({x})", Decimal: "'\"' + str({x}) + '\"'",
    datetime: "'\"' + {x}.isoformat() + '\"'", date: "'\"' + {x}.isoformat() + '\"'",
}


def _writer_of(kind: type) -> Callable[[Any], str]:
    """The writer of dataclass ``kind``: its fields in sorted order, each value written inline
    when its type is exactly the field's declared one (or a str enum declared), else by
    :func:`_one`."""
    try:
        hints = typing.get_type_hints(kind)
    except (NameError, TypeError):  # a hint that cannot be resolved: every field by _one
        hints = {}
    namespace: dict[str, Any] = {"_quoted": _quoted, "_int": int.__repr__, "_one": _one}
    lines, parts = ["def write(v):"], []
    for i, (name, key) in enumerate(_keys(kind)):
        x, hint = f"x{i}", hints.get(name)
        inline = _INLINE.get(hint) if isinstance(hint, type) else None
        if inline is None and isinstance(hint, type) and issubclass(hint, str):
            inline = _INLINE[str]  # a str enum: its value, as the encoder writes a str
        lines.append(f"    {x} = v.{name}")
        separator = "{" if i == 0 else ","
        if inline is None:
            parts.append(f"{separator + key!r} + _one({x})")
        else:
            namespace[f"_t{i}"] = hint
            parts.append(f"{separator + key!r} + ({inline.format(x=x)} if type({x}) is _t{i} "
                         f"else _one({x}))")
    lines.append("    return ''.join((" + ", ".join(parts) + ", '}'))" if parts
                 else "    return '{}'")
    exec("\n".join(lines), namespace)  # names are a dataclass's fields: identifiers
    return typing.cast(Callable[[Any], str], namespace["write"])


def _any(item: Any) -> str:
    """A value whose type has no writer in the table yet (or never will: dicts, floats)."""
    if isinstance(item, str):  # a StrEnum: its value, as the encoder writes a str subclass
        _WRITERS[type(item)] = _quoted
        return _quoted(item)
    if is_dataclass(item) and not isinstance(item, type):
        return _dataclass(item)
    return ENCODER.encode(item)


def _array(items: tuple[Any, ...] | list[Any]) -> str:
    return "[" + ",".join(map(_one, items)) + "]"


def _one(item: Any) -> str:
    write = _WRITERS.get(type(item))
    return write(item) if write is not None else _any(item)


def _keys(kind: type) -> tuple[tuple[str, str], ...]:
    """A dataclass's fields in the encoder's order (sorted), each with its written key."""
    keys = _KEYS.get(kind)
    if keys is None:
        keys = _KEYS[kind] = tuple((name, f"{encode_basestring_ascii(name)}:")
                                   for name in sorted(f.name for f in fields(kind)))
    return keys


_KEYS: dict[type, tuple[tuple[str, str], ...]] = {}


_quoted: Callable[[str], str] = encode_basestring_ascii  # a str as a JSON string, ASCII only


_WRITERS: dict[type, Callable[[Any], str]] = {
    str: _quoted, int: int.__repr__, bool: lambda b: "true" if b else "false",
    type(None): lambda _: "null", Decimal: lambda d: _quoted(str(d)),
    datetime: lambda t: _quoted(t.isoformat()), date: lambda d: _quoted(d.isoformat()),
    tuple: _array, list: _array,
}  # and each dataclass's generated writer, once written
ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                          default=json_safe)
