"""Paths into plain JSON-shaped values, and the two ways to follow one.

`value_at` is strict: the path must exist (a pass reading what the schema already checked).
`find` is lenient: a missing step, or a step into a value of the wrong type, gives `default`
(a back end reading a body someone else wrote, an overlay probing for an optional field).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

JsonPath = tuple[str | int, ...]


def path_text(jpath: Sequence[str | int]) -> str:
    """A JSON path as people write it: `spec.roles[0].name` ("" for the root).

    >>> path_text(("spec", "roles", 0, "name"))
    'spec.roles[0].name'
    """
    out = ""
    for part in jpath:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def value_at(body: Any, jpath: Iterable[str | int]) -> Any:
    """The value at `jpath`; KeyError, IndexError or TypeError where it does not exist."""
    for part in jpath:
        body = body[part]
    return body


def find(body: Any, jpath: Iterable[str | int], default: Any = None) -> Any:
    """The value at `jpath`, or `default` where a step is missing or leads into a value of
    another type (a key into a list, an index into a mapping, anything into a scalar).

    >>> find({"spec": {"roles": [{"name": "a"}]}}, ("spec", "roles", 0, "name"))
    'a'
    >>> find({"spec": None}, ("spec", "roles", 0), default={})
    {}
    """
    for part in jpath:
        if isinstance(part, str):
            if not isinstance(body, Mapping) or part not in body:
                return default
        elif not isinstance(body, list) or not 0 <= part < len(body):
            return default
        body = body[part]
    return body
