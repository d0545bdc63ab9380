"""Lambda event filtering as the local stream pump applies it (local/event_filter.py)."""

from __future__ import annotations

import json

import pytest

from local.event_filter import FilterPatternError, parse_filters, passes


def criteria(*patterns: dict[str, object]) -> dict[str, object]:
    return {"Filters": [{"Pattern": json.dumps(pattern)} for pattern in patterns]}


def record(event: str = "MODIFY", old: str | None = "QUEUED", new: str | None = "PROCESSING") -> dict[str, object]:
    images: dict[str, object] = {}
    if old is not None:
        images["OldImage"] = {"status": {"S": old}}
    if new is not None:
        images["NewImage"] = {"status": {"S": new}}
    return {"eventName": event, "dynamodb": images}


def test_no_filters_deliver_every_record() -> None:
    assert passes(parse_filters(None), record())
    assert passes(parse_filters({}), record())


def test_an_exact_value_matches_only_itself() -> None:
    filters = parse_filters(criteria({"eventName": ["INSERT", "REMOVE"]}))
    assert passes(filters, record("INSERT"))
    assert passes(filters, record("REMOVE"))
    assert not passes(filters, record("MODIFY"))


def test_every_key_of_a_pattern_must_match_and_any_pattern_may() -> None:
    both = {"dynamodb": {"OldImage": {"status": {"S": ["QUEUED"]}}, "NewImage": {"status": {"S": ["FAILED"]}}}}
    filters = parse_filters(criteria(both, {"eventName": ["INSERT"]}))
    assert passes(filters, record(old="QUEUED", new="FAILED"))
    assert passes(filters, record("INSERT", old=None, new="PROCESSING"))
    assert not passes(filters, record(old="QUEUED", new="PROCESSING"))
    assert not passes(filters, record(old="PROCESSING", new="FAILED"))


def test_anything_but_excludes_its_values_and_needs_the_key() -> None:
    filters = parse_filters(criteria({"dynamodb": {"NewImage": {"status": {"S": [{"anything-but": ["QUEUED"]}]}}}}))
    assert passes(filters, record(new="PROCESSING"))
    assert not passes(filters, record(new="QUEUED"))
    assert not passes(filters, record("REMOVE", new=None))


def test_prefix_and_exists() -> None:
    prefix = parse_filters(criteria({"dynamodb": {"NewImage": {"status": {"S": [{"prefix": "PRO"}]}}}}))
    assert passes(prefix, record(new="PROCESSING"))
    assert not passes(prefix, record(new="QUEUED"))
    absent = parse_filters(criteria({"dynamodb": {"NewImage": [{"exists": False}]}}))
    assert passes(absent, record("REMOVE", new=None))
    assert not passes(absent, record())
    present = parse_filters(criteria({"dynamodb": {"OldImage": [{"exists": True}]}}))
    assert passes(present, record())
    assert not passes(present, record("INSERT", old=None))


@pytest.mark.parametrize(
    "pattern",
    [
        '{"dynamodb": {"NewImage": {"progress": {"N": [{"numeric": [">", 0]}]}}}}',
        '{"eventName": []}',
        '{"eventName": "INSERT"}',
        "[]",
        "not json",
    ],
)
def test_a_pattern_the_local_stack_cannot_apply_is_refused_when_read(pattern: str) -> None:
    with pytest.raises(FilterPatternError):
        parse_filters({"Filters": [{"Pattern": pattern}]})
