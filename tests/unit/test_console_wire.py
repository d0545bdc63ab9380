"""console/js/wire.js holds the console's copy of the status words: it must be what the API uses."""

from __future__ import annotations

from local.console_wire import WIRE_JS_PATH, render


def test_the_consoles_status_words_are_the_apis():
    committed = WIRE_JS_PATH.read_text(encoding="utf-8")
    assert committed == render(), "console/js/wire.js is stale: run `python -m local.console_wire` and commit it"
