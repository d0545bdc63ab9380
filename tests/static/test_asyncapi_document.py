"""docs/asyncapi.yaml: generated from the message models (no drift), and valid for the official AsyncAPI parser.

The parser is npm's ``@asyncapi/parser`` in ``.judges-npm`` (``make judges-install``); without npm the
parser checks are skipped, as the asl-validator check is.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from local.asyncapi_export import DOCUMENT_PATH, current_document, render
from local.template import ROOT

NODE_MODULES = ROOT / ".judges-npm" / "node_modules"
PARSE_SCRIPT = Path(__file__).with_name("asyncapi_parse.cjs")
ERROR = 0  # @asyncapi/parser's DiagnosticSeverity.Error (Warning is 1, Information 2, Hint 3)

needs_parser = pytest.mark.skipif(
    not (NODE_MODULES / "@asyncapi" / "parser").exists(),
    reason="no @asyncapi/parser: run `make judges-install` (needs npm)",
)


def parse(path: Path) -> list[dict[str, Any]]:
    """The parser's diagnostics for the document at ``path``."""
    reply = subprocess.run(
        ["node", str(PARSE_SCRIPT), str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
        timeout=120,
    )
    assert reply.returncode == 0, f"the AsyncAPI parser failed: {reply.stderr[-2000:]}"
    diagnostics: list[dict[str, Any]] = json.loads(reply.stdout)
    return diagnostics


def errors(diagnostics: list[dict[str, Any]]) -> list[str]:
    found = (d for d in diagnostics if d["severity"] == ERROR)
    return [f"{d['code']} at {'.'.join(map(str, d['path']))}: {d['message']}" for d in found]


def test_the_committed_asyncapi_document_matches_the_models() -> None:
    committed = DOCUMENT_PATH.read_text(encoding="utf-8")

    assert committed == render(current_document()), "docs/asyncapi.yaml is stale: run `make asyncapi` and commit it"


@needs_parser
def test_the_official_asyncapi_parser_finds_no_error_in_the_document() -> None:
    assert errors(parse(DOCUMENT_PATH)) == []


@needs_parser
def test_the_parser_refuses_a_document_whose_operation_names_a_message_it_does_not_have(tmp_path: Path) -> None:
    document = yaml.safe_load(DOCUMENT_PATH.read_text(encoding="utf-8"))
    document["operations"]["sendPing"]["messages"] = [{"$ref": "#/channels/live/messages/noSuchMessage"}]
    broken = tmp_path / "asyncapi.yaml"
    broken.write_text(yaml.safe_dump(document), encoding="utf-8")

    assert errors(parse(broken))
