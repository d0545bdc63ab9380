"""A deployed stack can be updated to this template: no table or index change DynamoDB cannot make in place.

The released shapes (tests/static/released_tables.json) are those of the first release (2026-11-25);
docs/DEPLOYMENT.md says when to record new ones.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from local.template import load_template
from tests.static.table_shapes import problems, released, shapes

CURRENT = shapes(load_template())


def test_this_template_updates_the_released_tables_in_place() -> None:
    assert problems(released(), CURRENT) == []


def changed(edit: Any) -> list[str]:
    after = copy.deepcopy(CURRENT)
    edit(after)
    return problems(CURRENT, after)


def test_a_projection_change_of_an_existing_index_is_refused() -> None:
    def project_lang(tables: dict[str, Any]) -> None:
        tables["ConnectionsTable"]["GlobalSecondaryIndexes"]["ByUser"]["Projection"]["NonKeyAttributes"].append("lang")

    [problem] = changed(project_lang)
    assert problem.startswith("ConnectionsTable.ByUser: Projection changed")


def test_renaming_an_index_is_two_index_changes_in_one_update() -> None:
    def rename(tables: dict[str, Any]) -> None:
        indexes = tables["TasksTable"]["GlobalSecondaryIndexes"]
        indexes["ByUserV2"] = indexes.pop("ByUser")

    [problem] = changed(rename)
    assert "adds ['ByUserV2'] and drops ['ByUser'] at once" in problem


def test_one_new_index_per_table_is_an_update_dynamodb_can_make() -> None:
    def add_index(tables: dict[str, Any]) -> None:
        tables["TasksTable"]["GlobalSecondaryIndexes"]["ByUserStatus"] = {
            "KeySchema": [{"AttributeName": "userStatus", "KeyType": "HASH"}],
            "KeyTypes": {"userStatus": "S"},
            "Projection": {"ProjectionType": "ALL"},
        }

    assert changed(add_index) == []


@pytest.mark.parametrize("part", ["KeySchema", "KeyTypes"])
def test_a_table_key_change_needs_a_new_table(part: str) -> None:
    def rekey(tables: dict[str, Any]) -> None:
        tables["TasksTable"][part] = {"other": "S"} if part == "KeyTypes" else [{"AttributeName": "x"}]

    assert any(problem.startswith(f"TasksTable: {part} changed") for problem in changed(rekey))


def test_dropping_a_released_table_is_refused() -> None:
    assert changed(lambda tables: tables.pop("StatsTable")) == [
        "StatsTable: removed; its retained table would be orphaned with its data"
    ]
