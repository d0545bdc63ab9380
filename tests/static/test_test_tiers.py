"""The unit tier stands without moto (tests/README.md): no module of tests/unit imports it, directly or through
the project's own modules, and none asks for a fixture that starts it. A test that needs AWS belongs in
tests/integration."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "tests" / "unit"
# Where the project's own top-level packages live; anything else is a third-party import.
FIRST_PARTY = {
    "tests": ROOT / "tests",
    "local": ROOT / "local",
    "bench": ROOT / "bench",
    "videotasks": ROOT / "layers" / "common" / "python" / "videotasks",
}
# Where the fixtures a test may ask for by name are defined, besides its own module.
FIXTURE_MODULES = (
    *(str(path.relative_to(ROOT)) for path in sorted((ROOT / "tests" / "fixtures").glob("*.py"))),
    "tests/integration/api_fixtures.py",
    "tests/e2e/conftest.py",
)
# moto in process, and the local stack (whose AWS is a moto server).
MOTO_STARTERS = ("start_aws", "local_stack_factory")


def _unit_modules() -> list[Path]:
    return sorted(UNIT.rglob("*.py"))


def _module_file(dotted: str) -> Path | None:
    top, *rest = dotted.split(".")
    base = FIRST_PARTY.get(top)
    if base is None:
        return None
    path = base.joinpath(*rest)
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported(path: Path, *, in_functions: bool) -> Iterator[str]:
    """The modules ``path`` imports, in its functions too or only on import; for ``from a import b``, ``a.b``
    too (b may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree) if in_functions else _outside_functions(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _outside_functions(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield child
            yield from _outside_functions(child)


def _moto_import_chain(path: Path) -> list[str] | None:
    """The chain of imports from ``path`` to moto, anywhere in ``path`` and then through what importing the
    project's own modules loads (an import inside one of their functions waits for a call); None without one."""
    seen: set[Path] = set()
    stack: list[tuple[Path, list[str]]] = [(path, [str(path.relative_to(ROOT))])]
    while stack:
        current, chain = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        for name in _imported(current, in_functions=current == path):
            if name.split(".")[0] == "moto":
                return [*chain, name]
            found = _module_file(name)
            if found is not None and found not in seen:
                stack.append((found, [*chain, name]))
    return None


def _moto_fixtures() -> set[str]:
    """The fixtures that start moto (``MOTO_STARTERS``) or ask for one that does, however indirectly."""
    asks: dict[str, set[str]] = {}
    for module in FIXTURE_MODULES:
        for node in ast.walk(ast.parse((ROOT / module).read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and any("fixture" in ast.unparse(d) for d in node.decorator_list):
                asks[node.name] = {arg.arg for arg in node.args.args}
    on_moto = set(MOTO_STARTERS)
    while grown := {name for name, wanted in asks.items() if wanted & on_moto} - on_moto:
        on_moto |= grown
    return on_moto


def _requested(path: Path) -> set[str]:
    """The parameter names of every function of ``path``: what its tests and fixtures may ask pytest for."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.update(arg.arg for arg in node.args.args + node.args.kwonlyargs)
    return names


def test_the_moto_fixture_modules_do_start_moto() -> None:
    """Guards the two checks below: were the fixtures to move, they would pass over nothing."""
    assert {"aws_stack", "make_workflow", "strict_moto", "local_stack"} <= _moto_fixtures()
    assert not {"settings", "api_event", "fake_videos", "workflow_clock"} & _moto_fixtures()
    assert _moto_import_chain(ROOT / "tests" / "fixtures" / "aws.py") is not None


@pytest.mark.parametrize("path", _unit_modules(), ids=lambda path: str(path.relative_to(UNIT)))
def test_a_unit_test_module_imports_no_moto(path: Path) -> None:
    chain = _moto_import_chain(path)

    assert chain is None, f"imports moto through {' -> '.join(chain)}: it is an integration test"


@pytest.mark.parametrize("path", _unit_modules(), ids=lambda path: str(path.relative_to(UNIT)))
def test_a_unit_test_module_asks_for_no_fixture_on_moto(path: Path) -> None:
    asked = _requested(path) & _moto_fixtures()

    assert not asked, f"asks for {sorted(asked)}, which run on moto: it is an integration test"
