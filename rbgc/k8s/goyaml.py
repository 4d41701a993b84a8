"""YAML text exactly as upstream's Go code writes it (sigs.k8s.io/yaml over yaml.v2).

The discovery file `/etc/rbg/config.yaml` must be byte-identical to the operator's. yaml.v2
differs from Python's defaults in two ways that matter (rbg-semantics.md §4.7, §16.4):

- mapping keys are sorted in yaml.v2's *natural* order (`worker-2` before `worker-10`,
  `port80` before `port443`), not lexicographically;
- a string that would read back as another type (`"true"`, `"1"`, `"null"`) is written in
  double quotes; other strings are plain when libyaml's emitter allows it, else single-quoted.

libyaml's emitter decides the rest (indentless sequences, 2-space indent); PyYAML's pure
emitter is a port of it, so we drive PyYAML with yaml.v2's choices.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml


def natural_less(a: str, b: str) -> bool:
    """yaml.v2 `keyList.Less` for two string keys (a line-by-line port of sorter.go).

    >>> sorted(["worker-10", "worker-2", "port443", "port80"], key=natural_key)
    ['port80', 'port443', 'worker-2', 'worker-10']
    """
    for i in range(min(len(a), len(b))):
        if a[i] == b[i]:
            continue
        al, bl = a[i].isalpha(), b[i].isalpha()
        if al and bl:
            return a[i] < b[i]
        if al or bl:
            return bl  # exactly one letter: the non-letter sorts first
        an = bn = 0
        if a[i] == "0" or b[i] == "0":
            j = i - 1
            while j >= 0 and a[j].isdigit():
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and a[ai].isdigit():
            an = an * 10 + int(a[ai])
            ai += 1
        bi = i
        while bi < len(b) and b[bi].isdigit():
            bn = bn * 10 + int(b[bi])
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return a[i] < b[i]
    return len(a) < len(b)


def _compare(a: str, b: str) -> int:
    return -1 if natural_less(a, b) else (1 if natural_less(b, a) else 0)


natural_key = functools.cmp_to_key(_compare)

# yaml.v2's resolve() (resolve.go), for plain scalars. Its map of special values:
_V2_SPECIAL = frozenset(
    "y Y yes Yes YES n N no No NO true True TRUE false False FALSE on On ON off Off OFF "
    "null Null NULL ~ .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF .nan .NaN .NAN <<".split()
)
# Go's strconv.ParseInt/ParseUint with base 0 (after yaml.v2 drops every "_").
_GO_INT = re.compile(r"^[-+]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[0-9]+)$")
# yaml.v2's yamlStyleFloat, and Go's ParseFloat for scalars that start with ".".
_V2_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_DOT_FLOAT = re.compile(r"^\.[0-9]+([eE][-+]?[0-9]+)?$")
# yaml.v2's parseTimestamp layouts: 2006-1-2, 2006-1-2 15:4:5.9, 2006-1-2T15:4:5.9Z07:00.
_V2_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"([Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]*)?(Z|[-+][0-9]{2}:[0-9]{2})?)?$"
)
# isBase60Float: encoded quoted although resolve() calls it a string.
_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")


def resolves_to_non_string(s: str) -> bool:
    """True when yaml.v2 would not write `s` as a plain scalar (it would read it back as
    something else: null, bool, int, float, timestamp), so it double-quotes it.

    >>> [resolves_to_non_string(v) for v in ("", "on", "0o17", "1e3", "2024-01-02", "1:30", "a1")]
    [True, True, True, True, True, True, False]
    """
    if s == "" or s in _V2_SPECIAL:
        return True
    first = s[0]
    if first == ".":
        return bool(_DOT_FLOAT.match(s))
    if first.isdigit() or first in "+-":
        plain = s.replace("_", "")
        return bool(
            _V2_TIMESTAMP.match(s)
            or _GO_INT.match(plain)
            or _V2_FLOAT.match(plain)
            or _BASE60.match(s)
        )
    return False


class _GoDumper(yaml.SafeDumper):
    """PyYAML's emitter (a port of libyaml's) with yaml.v2's key order and quoting."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # yaml.v2 never writes anchors: a shared value is written out each time


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    if resolves_to_non_string(data):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.MappingNode:
    items = sorted(data.items(), key=lambda kv: natural_key(str(kv[0])))
    return dumper.represent_mapping("tag:yaml.org,2002:map", items)


_GoDumper.add_representer(str, _represent_str)
_GoDumper.add_representer(dict, _represent_dict)


def marshal(value: Any) -> str:
    """`sigs.k8s.io/yaml.Marshal` of a JSON-shaped value."""
    return yaml.dump(
        value,
        Dumper=_GoDumper,
        default_flow_style=False,
        allow_unicode=True,
        width=80,
        sort_keys=False,
    )
