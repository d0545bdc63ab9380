"""What a stack update can and cannot do to the DynamoDB tables a deployment already has.

CloudFormation updates an ``AWS::DynamoDB::Table`` in place only within what DynamoDB's UpdateTable can
do: it cannot change a table's key schema or local indexes (that replaces the table, and ours are
retained, so the update fails), cannot change an existing global index's keys or projection, and adds or
deletes one global index per update: adding one and deleting another in the same update (a rename, say)
fails. ``problems(released, current)`` says which of these a template change would run into, against the
shapes of the last release recorded in ``released_tables.json``.

After a release is deployed, record its shapes: ``python -m tests.static.table_shapes --write`` (or
``--write --template FILE`` for the template of a release, e.g. from ``git show <tag>:template.yaml``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from local.template import load_template, resources

RELEASED = Path(__file__).with_name("released_tables.json")


def shapes(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per table (logical id): what an in-place update must leave alone, and its global indexes."""
    found: dict[str, dict[str, Any]] = {}
    for name, resource in sorted(resources(template, "AWS::DynamoDB::Table").items()):
        properties = resource["Properties"]
        types = {item["AttributeName"]: item["AttributeType"] for item in properties["AttributeDefinitions"]}
        found[name] = {
            "KeySchema": properties["KeySchema"],
            "KeyTypes": {item["AttributeName"]: types[item["AttributeName"]] for item in properties["KeySchema"]},
            "LocalSecondaryIndexes": properties.get("LocalSecondaryIndexes", []),
            "GlobalSecondaryIndexes": {
                index["IndexName"]: {
                    "KeySchema": index["KeySchema"],
                    "KeyTypes": {item["AttributeName"]: types[item["AttributeName"]] for item in index["KeySchema"]},
                    "Projection": index["Projection"],
                }
                for index in properties.get("GlobalSecondaryIndexes", [])
            },
        }
    return found


def problems(released: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]]) -> list[str]:
    """Why updating a stack from ``released`` to ``current`` would fail or lose a table; empty when it can."""
    found: list[str] = []
    for table, before in released.items():
        after = current.get(table)
        if after is None:
            found.append(f"{table}: removed; its retained table would be orphaned with its data")
            continue
        for part in ("KeySchema", "KeyTypes", "LocalSecondaryIndexes"):
            if after[part] != before[part]:
                found.append(f"{table}: {part} changed; that needs a new table, which an update cannot make")
        old, new = before["GlobalSecondaryIndexes"], after["GlobalSecondaryIndexes"]
        for index in sorted(old.keys() & new.keys()):
            changed = [part for part in ("KeySchema", "KeyTypes", "Projection") if old[index][part] != new[index][part]]
            if changed:
                found.append(
                    f"{table}.{index}: {' and '.join(changed)} changed; DynamoDB cannot change an index in place:"
                    " keep it, or add an index under a new name in one release and drop this one in the next"
                )
        added, dropped = sorted(new.keys() - old.keys()), sorted(old.keys() - new.keys())
        if len(added) + len(dropped) > 1:
            found.append(
                f"{table}: adds {added or 'no index'} and drops {dropped or 'no index'} at once; one update can"
                " add or delete only one global index: spread them over releases"
            )
    return found


def released() -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = json.loads(RELEASED.read_text())
    return loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="record the template's tables as the released ones")
    parser.add_argument("--template", type=Path, help="the template to read (default: template.yaml)")
    arguments = parser.parse_args()
    current = shapes(load_template(arguments.template) if arguments.template else load_template())
    if arguments.write:
        RELEASED.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
        print(f"recorded {len(current)} tables in {RELEASED}")
        return
    for problem in problems(released(), current) or ["template.yaml's tables can be updated in place"]:
        print(problem)


if __name__ == "__main__":
    main()
