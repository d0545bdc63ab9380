"""Lambda event filtering (an event source mapping's ``FilterCriteria``), for the local stream pump.

In the cloud a record that matches none of a mapping's filter patterns never reaches the function; it is
dropped (and checkpointed) by the event source mapping. The local stack must do the same, or a function
could rely on records the cloud never sends it. A record passes when ANY pattern matches it; a pattern
matches when every key it names matches. This implements the pattern syntax the template uses (exact
values, ``anything-but``, ``prefix``, ``exists``) and refuses any other operator when the template is read,
so an unsupported filter is a startup error instead of a silent difference.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

Pattern = dict[str, Any]
_OPERATORS = frozenset({"anything-but", "prefix", "exists"})
_ABSENT = object()


class FilterPatternError(ValueError):
    pass


def parse_filters(criteria: Mapping[str, Any] | None) -> tuple[Pattern, ...]:
    """The patterns of a ``FilterCriteria`` block (each ``Pattern`` is a JSON string), checked."""
    patterns = []
    for entry in (criteria or {}).get("Filters") or ():
        try:
            pattern = json.loads(entry["Pattern"])
        except (KeyError, TypeError, ValueError) as error:
            raise FilterPatternError(f"a filter pattern is not a JSON object: {entry!r} ({error})") from None
        _check(pattern, path="")
        patterns.append(pattern)
    return tuple(patterns)


def _check(pattern: Any, path: str) -> None:
    if not isinstance(pattern, dict) or not pattern:
        raise FilterPatternError(f"filter pattern at {path or '<root>'!r} must be a non-empty object")
    for key, value in pattern.items():
        where = f"{path}.{key}" if path else key
        if isinstance(value, dict):
            _check(value, where)
        elif isinstance(value, list) and value:
            for matcher in value:
                if isinstance(matcher, dict) and (len(matcher) != 1 or not set(matcher) <= _OPERATORS):
                    known = ", ".join(sorted(_OPERATORS))
                    raise FilterPatternError(f"filter pattern at {where!r} uses {sorted(matcher)}; known: {known}")
        else:
            raise FilterPatternError(f"filter pattern at {where!r} must be an object or a non-empty list")


def passes(patterns: Sequence[Pattern], record: Mapping[str, Any]) -> bool:
    """Whether Lambda would deliver ``record``: no patterns, or at least one that matches."""
    return not patterns or any(_matches(pattern, record) for pattern in patterns)


def _matches(pattern: Pattern, value: Any) -> bool:
    for key, expected in pattern.items():
        actual = value.get(key, _ABSENT) if isinstance(value, Mapping) else _ABSENT
        if isinstance(expected, dict):
            if actual is _ABSENT or not _matches(expected, actual):
                return False
        elif not any(_leaf(matcher, actual) for matcher in expected):
            return False
    return True


def _leaf(matcher: Any, actual: Any) -> bool:
    if isinstance(matcher, dict):
        (operator, operand), *_ = matcher.items()
        if operator == "exists":
            return (actual is not _ABSENT) is bool(operand)
        if actual is _ABSENT:
            return False
        values = actual if isinstance(actual, list) else [actual]
        if operator == "prefix":
            return any(isinstance(item, str) and item.startswith(operand) for item in values)
        excluded = operand if isinstance(operand, list) else [operand]  # anything-but
        return all(item not in excluded for item in values)
    if actual is _ABSENT:
        return False
    values = actual if isinstance(actual, list) else [actual]
    return matcher in values
