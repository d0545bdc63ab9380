"""The contention figure of ``make bench`` (bench/contention.py), small: a user's tasks moving together
write no item in common, so they cannot meet on one (the per-user counters used to be that item)."""

from __future__ import annotations

from bench import contention


def test_tasks_of_one_user_moving_at_once_share_no_item() -> None:
    measured = contention.measure(20)

    assert measured.transitions == 40
    assert measured.shared_items == 0
    assert measured.lost == 0
    assert measured.conflicts == 0  # with nothing shared, the seam has nothing to cancel
