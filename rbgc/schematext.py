"""jsonschema's findings in rbgc's words.

jsonschema writes messages with Python reprs of the values (`{'apiVersion': ...} is not valid
under any of the given schemas`, `'http' is not of type 'integer'`); rbgc's diagnostics never
show a repr. Used by `rbgc validate` and `--strict`, which already import jsonschema.
"""

from __future__ import annotations

from typing import Any

from jsonschema.exceptions import ValidationError

from rbgc.schema import _TYPE_WORDS, _show

_BOUNDS = {
    "minimum": "at least",
    "maximum": "at most",
    "exclusiveMinimum": "more than",
    "exclusiveMaximum": "less than",
    "minLength": "a length of at least",
    "maxLength": "a length of at most",
    "minItems": "at least this many items:",
    "maxItems": "at most this many items:",
    "minProperties": "at least this many fields:",
    "maxProperties": "at most this many fields:",
    "multipleOf": "a multiple of",
}


def describe(err: ValidationError) -> str:
    """What is wrong, without the location: `expected an integer, got "http"`."""
    rule, value = err.validator, err.instance
    wanted: Any = err.validator_value
    got = _show(value)
    if rule == "type":
        types = [wanted] if isinstance(wanted, str) else list(wanted)
        return f"expected {' or '.join(_TYPE_WORDS.get(t, str(t)) for t in types)}, got {got}"
    if rule == "required" and isinstance(value, dict):
        missing = [str(k) for k in wanted if k not in value]
        return f"missing required field {', '.join(missing)}"
    if rule == "additionalProperties" and isinstance(value, dict):
        schema = err.schema if isinstance(err.schema, dict) else {}
        known = set(schema.get("properties", {}))
        return "unknown field " + ", ".join(sorted(str(k) for k in value if k not in known))
    if rule == "enum":
        return f"expected one of {', '.join(_show(v) for v in wanted)}, got {got}"
    if rule == "const":
        return f"expected {_show(wanted)}, got {got}"
    if rule == "pattern":
        return f"expected a match for {wanted}, got {got}"
    if rule in _BOUNDS:
        return f"expected {_BOUNDS[str(rule)]} {wanted}, got {got}"
    if rule in ("anyOf", "oneOf", "not"):
        schema = err.schema if isinstance(err.schema, dict) else {}
        return f"expected {schema.get('x-rbgc-expected', 'another value')}, got {got}"
    # Anything else: jsonschema's words with the repr of the value replaced.
    return err.message.replace(repr(value), got)
