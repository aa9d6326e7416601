"""EventBridge event patterns, as EventBridge Pipes evaluates a `FilterCriteria` pattern.

A pattern is a JSON object whose leaves are lists of matchers. An event matches when, for every
key of the pattern, the event's value at that key matches (nested objects recurse; a list leaf
matches when any of its matchers matches the event value, or any element of an event list).
Matchers: exact values (string, number, null) and the content filters `prefix`, `suffix`,
`anything-but`, `exists`, `numeric` and `equals-ignore-case`.
"""

from __future__ import annotations

import json
from typing import Any

_MISSING = object()


class PatternError(ValueError):
    pass


def parse_pattern(pattern: str | dict[str, Any]) -> dict[str, Any]:
    """A pattern as found in `FilterCriteria.Filters[].Pattern` (a JSON string) or already parsed."""
    parsed = json.loads(pattern) if isinstance(pattern, str) else pattern
    if not isinstance(parsed, dict):
        raise PatternError(f"a pattern is a JSON object, not {type(parsed).__name__}")
    _validate(parsed)
    return parsed


def _validate(pattern: dict[str, Any]) -> None:
    for key, rule in pattern.items():
        if isinstance(rule, dict):
            _validate(rule)
        elif not isinstance(rule, list):
            raise PatternError(f"pattern value at {key!r} must be an object or a list, not {rule!r}")


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """True when `event` matches `pattern` (an empty pattern matches everything)."""
    if not isinstance(event, dict):
        return False
    for key, rule in pattern.items():
        value = event.get(key, _MISSING)
        if isinstance(rule, dict):
            if not isinstance(value, dict) or not matches(rule, value):
                return False
        elif not _leaf_matches(rule, value):
            return False
    return True


def matches_any(patterns: list[dict[str, Any]], event: Any) -> bool:
    """Pipes filters: a record passes when it matches any of the filters (none given: all pass)."""
    return not patterns or any(matches(pattern, event) for pattern in patterns)


def _leaf_matches(matchers: list[Any], value: Any) -> bool:
    for matcher in matchers:
        if isinstance(matcher, dict) and "exists" in matcher:
            if _exists_matches(matcher["exists"], value):
                return True
            continue
        if value is _MISSING:
            continue
        candidates = value if isinstance(value, list) else [value]
        if any(_matcher_matches(matcher, candidate) for candidate in candidates):
            return True
    return False


def _exists_matches(expected: Any, value: Any) -> bool:
    present = value is not _MISSING and not isinstance(value, dict)
    return present if expected else value is _MISSING


def _matcher_matches(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, dict):
        return _same_value(matcher, value)
    if len(matcher) != 1:
        raise PatternError(f"a content filter has exactly one key: {matcher!r}")
    ((kind, operand),) = matcher.items()
    if kind == "prefix":
        return isinstance(value, str) and value.startswith(_text_operand(kind, operand))
    if kind == "suffix":
        return isinstance(value, str) and value.endswith(_text_operand(kind, operand))
    if kind == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == _text_operand(kind, operand).casefold()
    if kind == "anything-but":
        return not _anything_but_excludes(operand, value)
    if kind == "numeric":
        return _numeric_matches(operand, value)
    raise PatternError(f"unsupported content filter {kind!r}")


def _same_value(expected: Any, value: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return expected is value
    if isinstance(expected, int | float) and isinstance(value, int | float):
        return float(expected) == float(value)
    return bool(expected == value and type(expected) is type(value))


def _text_operand(kind: str, operand: Any) -> str:
    if not isinstance(operand, str):
        raise PatternError(f"{kind} takes a string, not {operand!r}")
    return operand


def _anything_but_excludes(operand: Any, value: Any) -> bool:
    if isinstance(operand, dict):
        return _matcher_matches(operand, value)
    excluded = operand if isinstance(operand, list) else [operand]
    return any(_same_value(item, value) for item in excluded)


def _numeric_matches(operand: Any, value: Any) -> bool:
    if not isinstance(operand, list) or len(operand) % 2:
        raise PatternError(f"numeric takes operator/value pairs, not {operand!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    checks = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        "=": lambda a, b: a == b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    for operator, bound in zip(operand[::2], operand[1::2], strict=True):
        if operator not in checks:
            raise PatternError(f"unknown numeric operator {operator!r}")
        if not checks[operator](float(value), float(bound)):
            return False
    return True
