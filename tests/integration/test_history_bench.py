"""The history bench's measurement at small sizes (bench/history.py; `make bench` runs it at 100 and 10,000):
what one list or stats request reads stays bounded by its page, not by the user's history."""

from __future__ import annotations

import pytest

from bench import history


@pytest.fixture(scope="module")
def measured() -> tuple[dict[str, int], dict[str, int]]:
    return history.measure(100), history.measure(220)


def bound(operation: history.Operation) -> int:
    """What a request may read: the tasks up to its page and one beyond, the totals item, and for a filter
    merging partitions a few items each and one overshooting read."""
    if operation.query is None:
        return 1 + 24  # the totals item and the last day's hour buckets (the history spans two days)
    query = operation.query
    returned = query["page"] * query["pageSize"] if "page" in query else query.get("limit", 20)
    partitions = (
        (1 if "status" in query else 5) * (1 if "type" in query else 2) if query.keys() & {"status", "type"} else 0
    )
    return returned + 1 + 1 + 2 * partitions + (returned if partitions > 1 else 0)


@pytest.mark.parametrize("operation", history.operations(), ids=lambda operation: operation.name)
def test_a_request_reads_a_bounded_number_of_items_whatever_the_history(measured, operation):
    small, large = measured

    assert 0 < large[operation.name] <= bound(operation)
    assert large[operation.name] <= 1.2 * small[operation.name]


def test_the_counter_sees_what_the_old_unbounded_listing_would_have_read():
    """The count is of items read, not of items returned: a Query that filters reads what it skips."""
    assert history.items_read("Query", {"Count": 2, "ScannedCount": 793}) == 793
    assert history.items_read("GetItem", {"Item": {"userId": "u"}}) == 1
    assert history.items_read("GetItem", {}) == 0
    assert history.items_read("BatchGetItem", {"Responses": {"a": [{}, {}], "b": [{}]}}) == 3


def test_report_lines_have_the_issues_shape(monkeypatch):
    counts = {operation.name: 10 for operation in history.operations()}
    monkeypatch.setattr(history, "measure", lambda size: counts)

    lines = history.report()

    assert lines[0] == "history first_page items_read@100=10 items_read@10000=10 ratio=1.00"
    assert all(
        line.endswith("(extrapolated, linear through the two measured sizes)") for line in lines if "1000000" in line
    )
