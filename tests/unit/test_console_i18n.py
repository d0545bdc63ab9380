"""The console's catalogue (console/js/i18n.js): every text in English and Chinese, every key the
console uses present."""

from __future__ import annotations

import re
from pathlib import Path

CONSOLE = Path(__file__).resolve().parents[2] / "console"
KEY = re.compile(r'^\s+"([\w.]+)":', re.MULTILINE)


def _catalogue() -> dict[str, set[str]]:
    source = (CONSOLE / "js" / "i18n.js").read_text(encoding="utf-8")
    english = source.index("  en: {")
    chinese = source.index('  "zh-CN": {')
    end = source.index("\n};", chinese)
    return {"en": set(KEY.findall(source[english:chinese])), "zh-CN": set(KEY.findall(source[chinese:end]))}


def _used_keys() -> set[str]:
    used: set[str] = set()
    for script in (CONSOLE / "js").glob("*.js"):
        used |= set(re.findall(r'\bt\(\s*"([\w.]+)"', script.read_text(encoding="utf-8")))
    page = (CONSOLE / "index.html").read_text(encoding="utf-8")
    used |= set(re.findall(r'data-i18n="([\w.]+)"', page))
    for pairs in re.findall(r'data-i18n-attr="([^"]+)"', page):
        used |= {pair.split(":", 1)[1].strip() for pair in pairs.split(",")}
    return used


def test_both_languages_have_the_same_texts() -> None:
    catalogue = _catalogue()
    assert len(catalogue["en"]) > 100
    assert catalogue["en"] - catalogue["zh-CN"] == set(), "texts without a Chinese version"
    assert catalogue["zh-CN"] - catalogue["en"] == set(), "Chinese texts without an English one"


def test_every_key_the_console_uses_is_in_the_catalogue() -> None:
    missing = _used_keys() - _catalogue()["en"]
    assert missing == set()
