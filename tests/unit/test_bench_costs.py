"""The cost model's bookkeeping (bench/costs.py), on cases small enough to check by hand."""

from __future__ import annotations

import pytest

from bench.costs import PRICES, STORAGE, Design, per_task, verdicts


def test_a_task_that_never_polls_counts_create_submit_and_archive_only() -> None:
    count = per_task(0, webhook=False, learned=False)

    assert {name: n for name, n in count.invocations.items() if n} == {
        "api": 1,
        "submit": 1,
        "archive": 1,
        "poster": 1,
        "broadcaster": 5,
        "admit": 2,  # PlanAdmission, Admit
        "keeper": 2,  # the queue moved at the task's creation and at its end
    }
    # Submit, AfterSubmit, Archive, Done, the two admission states, and MakePoster
    assert count.units["state transition"] == 4 + 2 + 1
    # two status-change transactions of two items each count twice, plus the submit mark and the execution ARN,
    # plus the creating transaction; the queue: its entry, the rate and quota windows in that transaction, the
    # parked token, the slot's transaction of three items, freeing the slot and the entry, the task's position
    # plus the poster's key
    assert count.units["DynamoDB write unit"] == 4 + 1 + 1 + 4 + 4 + 6 + 1 + 6 + 2 + 1 + 1
    assert count.units["WebSocket message"] == 5  # QUEUED, its queue position, PROCESSING, COMPLETED, taskPoster
    assert (count.units["S3 PUT"], count.units["S3 GET"]) == (2, 3)  # the video and its poster; the video read


def test_each_poll_adds_a_loop_of_three_states_a_lambda_a_read_a_write_and_a_push() -> None:
    none, two = per_task(0, webhook=False, learned=False), per_task(2, webhook=False, learned=False)

    assert two.units["state transition"] - none.units["state transition"] == 6
    assert two.invocations["poll"] == 2
    assert two.units["DynamoDB read unit"] - none.units["DynamoDB read unit"] == 2 + 2  # the task, the connections
    assert two.units["WebSocket message"] - none.units["WebSocket message"] == 2


def test_the_webhook_design_parks_once_per_wait_and_takes_one_call() -> None:
    count = per_task(1, webhook=True, learned=True)

    assert count.invocations["await"] == 1 and count.invocations["webhook"] == 1
    assert count.units["HTTP API request"] == 2  # the create and the provider's call


def test_storage_is_reported_apart_from_the_running_cost() -> None:
    count = per_task(1, webhook=False, learned=False)

    assert count.dollars(storage=True) - count.dollars() == pytest.approx(count.units[STORAGE] * PRICES[STORAGE])


def test_a_design_passes_at_half_the_cost_or_less() -> None:
    fixed = Design("fixed", per_task(6, webhook=False, learned=False))
    cheap = Design("cheap", per_task(0, webhook=False, learned=False))
    dear = Design("dear", per_task(6, webhook=True, learned=True))

    outcomes = list(verdicts([fixed, cheap, dear]))

    assert outcomes[0].startswith("PASS cheap") and outcomes[1].startswith("MISS dear")
