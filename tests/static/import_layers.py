"""Who may import whom: the layering docs/ARCHITECTURE.md draws, as data and one pure check.

Layers, lowest first. A module may import its own layer and any lower one, never a higher one:

    settings  <  domain  <  adapters  <  services  <  edge  <  wiring  <  functions

``settings`` is the typed configuration every layer may read; ``domain`` is pure (stdlib and pydantic
only: no AWS, no HTTP, no Powertools); only ``wiring`` (the composition root) sees every layer at once,
and the Lambda handlers in ``functions/`` sit on top. Imports inside functions and under
``TYPE_CHECKING`` count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers/common/python/videotasks"
FUNCTIONS = ROOT / "functions"

LAYERS = ("settings", "domain", "adapters", "services", "edge", "wiring", "functions")
RANK = {name: rank for rank, name in enumerate(LAYERS)}

# What the pure core may use besides the standard library: pydantic, and pydantic_core, pydantic's own
# half, for the errors a validator raises with a stable key and a location (PydanticCustomError).
DOMAIN_THIRD_PARTY = frozenset({"pydantic", "pydantic_core"})
# Standard-library modules that do I/O over the network: not in the domain either.
NETWORK_STDLIB = frozenset({"socket", "ssl", "http", "urllib.request", "smtplib", "ftplib"})
# Handlers are thin: AWS calls go through the adapters.
HANDLER_FORBIDDEN = frozenset({"boto3", "botocore"})


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted (``videotasks.services.tasks``, ``functions.api.app``)
    target: str  # what it imports, dotted and absolute
    line: int


@dataclass(frozen=True)
class Violation:
    where: Import
    reason: str

    def __str__(self) -> str:
        return f"{self.where.module}:{self.where.line} imports {self.where.target}: {self.reason}"


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to; None for code outside ours."""
    parts = module.split(".")
    if parts[0] == "functions":
        return "functions"
    if parts[0] != "videotasks" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in RANK else None


def imports_in(source: str, module: str) -> Iterator[Import]:
    """Every import in ``source`` (relative ones resolved against ``module``), lazy ones included."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # ``from videotasks.edge import envelope`` imports a module of that package; a name
                # imported from a module belongs to that module's layer all the same.
                yield Import(module, f"{base}.{alias.name}" if base == "videotasks" else base, node.lineno)


def check(imp: Import) -> Violation | None:
    """Why this import breaks the layering, or None when it is allowed."""
    source_layer = layer_of(imp.module)
    if source_layer is None:
        return None
    target_layer = layer_of(imp.target)
    top = imp.target.split(".")[0]
    if source_layer == "domain" and target_layer is None and top != "videotasks":
        if top in DOMAIN_THIRD_PARTY or not _is_third_party(top):
            if imp.target in NETWORK_STDLIB or top in NETWORK_STDLIB:
                return Violation(imp, "the domain does no I/O")
            return None
        return Violation(imp, f"the domain is pure: only the standard library and {sorted(DOMAIN_THIRD_PARTY)}")
    if source_layer == "functions" and top in HANDLER_FORBIDDEN:
        return Violation(imp, "handlers are thin: AWS calls belong in videotasks.adapters")
    if target_layer is None:
        return None
    if RANK[target_layer] > RANK[source_layer]:
        return Violation(imp, f"{source_layer} may not import the higher layer {target_layer}")
    if target_layer == "wiring" and source_layer != "functions" and source_layer != "wiring":
        return Violation(imp, "only handlers use the composition root")
    return None


def _is_third_party(top: str) -> bool:
    import sys

    return top not in sys.stdlib_module_names


def module_name(path: Path) -> str:
    if path.is_relative_to(FUNCTIONS):
        parts = path.relative_to(ROOT).with_suffix("").parts
    else:
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def all_imports() -> Iterator[Import]:
    for path in sorted([*PACKAGE.rglob("*.py"), *FUNCTIONS.glob("*/app.py")]):
        name = module_name(path)
        if path.name == "__init__.py":
            name += ".__init__"  # relative imports in a package's __init__ resolve against the package
        yield from imports_in(path.read_text(), name)


def violations() -> list[Violation]:
    return [found for imp in all_imports() if (found := check(imp)) is not None]
