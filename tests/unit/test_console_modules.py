"""The console's ES modules fit together: every name one imports from another is exported there (a
missing export stops the whole console at load, before any of its own error handling runs)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "console" / "js"
IMPORT = re.compile(r'import\s*\{([^}]*)\}\s*from\s*"\./([\w.]+)"')
EXPORT = re.compile(r"^export\s+(?:async\s+)?(?:function|class|const|let)\s+(\w+)", re.MULTILINE)


def _exports(module: str) -> set[str]:
    return set(EXPORT.findall((SCRIPTS / module).read_text(encoding="utf-8")))


@pytest.mark.parametrize("script", sorted(path.name for path in SCRIPTS.glob("*.js")))
def test_every_imported_name_is_exported(script: str) -> None:
    source = (SCRIPTS / script).read_text(encoding="utf-8")
    for names, module in IMPORT.findall(source):
        wanted = {name.strip().split(" as ")[0] for name in names.split(",") if name.strip()}
        missing = wanted - _exports(module)
        assert missing == set(), f"{script} imports {sorted(missing)} that {module} does not export"
