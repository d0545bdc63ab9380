"""The repository stands on its own: nothing in it sends a reader to a file a clone does not contain.

The old backend's contract, which code and docs used to cite from design notes kept outside the repository,
is written down in docs/LEGACY_CONTRACT.md; code, docs, the template, the console and the Makefile point there.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("bench", "console", "docs", "events", "functions", "layers", "local", "statemachine", "tests")
TOP_LEVEL = ("Makefile", "README.md", "template.yaml", "samconfig.toml", "pyproject.toml")
TEXT_SUFFIXES = {".py", ".md", ".js", ".html", ".css", ".yaml", ".yml", ".json", ".toml", ".txt", ".sh", ".cfg"}

# What a reader cannot open. RNG seeds (FAKE_PROVIDER_SEED, a test's ``seed`` parameter) are not citations.
CITATIONS = {
    "the design notes": re.compile(r"\b(?:DESIGN|NOTES)\.md\b"),
    "the shared folder outside the repository": re.compile(r"(?<![\w.-])shared/"),
    "a seed document": re.compile(
        r"\bseed\s*[`'\"]?\d{3}\b"  # seed 003, seed `003`
        r"|\bthe\s+seed'?s\b"  # the seed's relay
        r"|_seeds?_"  # test names: the_seeds_lowercase_words
        r"|\bseeds/"  # seeds/000_….txt
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
    return [path for path in files if path != Path(__file__).resolve()]


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
