"""docs/WEBHOOKS.md's verification snippets, run against signatures our code makes: the Python one in
process, the Node one with ``node`` (skipped with a reason where there is none). A tampered body, a wrong
secret and a stale timestamp must be refused by both."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from videotasks.domain import signing

DOC = Path(__file__).resolve().parents[2] / "docs" / "WEBHOOKS.md"
NODE = shutil.which("node")


def snippet(marker: str) -> str:
    found = re.search(rf"<!-- {marker} -->\n```\w+\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.S)
    assert found, f"docs/WEBHOOKS.md has no code block after <!-- {marker} -->"
    return found.group(1)


def delivery(secret: str, *, at: int | None = None) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"type": "task.completed", "data": {"videoId": "video_x", "prompt": "雨の街角"}}).encode()
    return signing.headers([secret], "msg_doc", int(time.time()) if at is None else at, body), body


def cases(secret: str) -> dict[str, tuple[str, dict[str, str], bytes]]:
    """name -> (the secret the receiver holds, headers, body) and whether it must verify (name 'good*')."""
    headers, body = delivery(secret)
    old_headers, old_body = delivery(secret, at=int(time.time()) - 3600)
    other = signing.new_secret()
    rotated_headers = signing.headers([other, secret], "msg_rot", int(time.time()), body)
    return {
        "good": (secret, headers, body),
        "good during a rotation, holding the old secret": (secret, rotated_headers, body),
        "tampered body": (secret, headers, body.replace(b"video_x", b"video_y")),
        "wrong secret": (signing.new_secret(), headers, body),
        "stale timestamp": (secret, old_headers, old_body),
    }


def test_the_python_snippet_verifies_ours_and_refuses_the_rest() -> None:
    scope: dict[str, Any] = {}
    exec(snippet("verify-python"), scope)
    for name, (secret, headers, body) in cases(signing.new_secret()).items():
        if name.startswith("good"):
            assert scope["verified_event"](secret, headers, body)["type"] == "task.completed", name
        else:
            with pytest.raises(scope["WebhookVerificationError"]):
                scope["verified_event"](secret, headers, body)


@pytest.mark.skipif(NODE is None, reason="no node on PATH: the Node snippet is not run")
def test_the_node_snippet_verifies_ours_and_refuses_the_rest() -> None:
    driver = """
const cases = JSON.parse(process.env.CASES);
for (const [name, [secret, headers, body]] of Object.entries(cases)) {
  try {
    const event = verifiedEvent(secret, headers, Buffer.from(body, "base64"));
    console.log(`${name}: ${event.type}`);
  } catch (error) {
    console.log(`${name}: refused (${error.message})`);
  }
}
"""
    encoded = {
        name: [secret, headers, base64.b64encode(body).decode()]
        for name, (secret, headers, body) in cases(signing.new_secret()).items()
    }
    result = subprocess.run(
        [str(NODE), "--input-type=module", "-e", snippet("verify-node") + driver],
        env={"CASES": json.dumps(encoded), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    said = dict(line.split(": ", 1) for line in result.stdout.strip().splitlines())
    assert said["good"] == "task.completed"
    assert said["good during a rotation, holding the old secret"] == "task.completed"
    for name in ("tampered body", "wrong secret", "stale timestamp"):
        assert said[name].startswith("refused"), (name, said[name])
