"""The repository stands on its own: nothing in it sends a reader to a file a clone does not contain.

The old backend's contract, which code and docs used to cite from design notes kept outside the repository,
is written down in docs/LEGACY_CONTRACT.md; code, docs, the template, the console and the Makefile point there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("bench", "console", "docs", "events", "functions", "layers", "local", "statemachine", "tests")
TOP_LEVEL = ("Makefile", "README.md", "template.yaml", "samconfig.toml", "pyproject.toml")
TEXT_SUFFIXES = {".py", ".md", ".js", ".html", ".css", ".yaml", ".yml", ".json", ".toml", ".txt", ".sh", ".cfg"}

# What a reader cannot open. RNG seeds (FAKE_PROVIDER_SEED, a test's ``seed`` parameter) are not citations.
# The patterns are written so that this file, which is scanned too, never matches them itself.
CITATIONS = {
    "the design notes": re.compile(r"\b(?:DESIGN|NOTES)\.md\b"),
    "the shared folder outside the repository": re.compile(r"(?<![\w.-])shared[/]"),
    "a seed document": re.compile(
        r"\bseed\s*[`'\"]?\d{3}\b"  # a seed document by its number
        r"|\bthe\s+seed'?s\b"  # a seed document's relay, rules, words
        r"|_seeds?_"  # test names that quoted one
        r"|\bseeds[/]"  # the seed folder
        r"|\b\d{3}_[0-9a-f]{16}\.txt\b",  # a seed document's file name
        re.IGNORECASE,
    ),
}


def _project_files() -> list[Path]:
    files = [ROOT / name for name in TOP_LEVEL if (ROOT / name).is_file()]
    for folder in FOLDERS:
        files += [
            path
            for path in (ROOT / folder).rglob("*")
            if path.is_file() and path.suffix in TEXT_SUFFIXES and "__pycache__" not in path.parts
        ]
    return files


def test_nothing_cites_a_file_outside_the_repository() -> None:
    citations = []
    for path in _project_files():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            for what, pattern in CITATIONS.items():
                if pattern.search(line):
                    citations.append(f"{path.relative_to(ROOT)}:{number} cites {what}: {line.strip()[:120]}")

    found = "\n".join(citations)
    assert not citations, f"cite docs/ instead (the old backend's contract is docs/LEGACY_CONTRACT.md):\n{found}"


def test_the_old_contract_is_linked_from_the_readme_and_the_frontend_guide() -> None:
    for document in ("README.md", "docs/FRONTEND_INTEGRATION.md"):
        assert "LEGACY_CONTRACT.md" in (ROOT / document).read_text(encoding="utf-8"), document


@pytest.mark.parametrize(
    "line",
    [
        # Built from pieces, so that this file does not cite what it forbids.
        "see " + "DESIGN" + ".md for the routes",
        "as " + "NOTES" + ".md says",
        "../" + "shared" + "/seeds",
        "the dual ids of seed " + "003",
        "the " + "seed's relay",
        "def test_the_" + "seeds_words():",
        "003_" + "1f9397985524c0dc" + ".txt",
    ],
)
def test_each_kind_of_citation_is_caught(line: str) -> None:
    assert any(pattern.search(line) for pattern in CITATIONS.values()), line


@pytest.mark.parametrize("line", ["FAKE_PROVIDER_SEED=7", "rng = random.Random(seed)", "a seeded generator"])
def test_random_number_settings_are_not_citations(line: str) -> None:
    assert not any(pattern.search(line) for pattern in CITATIONS.values()), line
