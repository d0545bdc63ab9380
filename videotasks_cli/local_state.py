"""Where a running `make dev` stack says how to reach it, so `videotasks --local …` needs no set-up.

The stack writes one JSON file (owner-only: it holds a dev token) once it is ready and removes it when it
stops. `VIDEOTASKS_LOCAL_STATE` moves the file (the tests give every stack its own).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_VARIABLE = "VIDEOTASKS_LOCAL_STATE"


@dataclass(frozen=True)
class LocalStackState:
    api_url: str  # …/api/video
    ws_url: str
    token: str  # a dev token for dev-user
    aws_endpoint_url: str  # the stack's moto server
    region: str
    pid: int
    # The functions' environment as the stack resolved it from template.yaml: table and bucket names
    # (TASKS_TABLE, STATS_TABLE, MEDIA_BUCKET, …).
    environment: dict[str, str] = field(default_factory=dict)


class LocalStateError(RuntimeError):
    pass


def state_path(environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(STATE_VARIABLE):
        return Path(env[STATE_VARIABLE])
    base = Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "videotasks" / "local-stack.json"


def write_state(state: LocalStackState, path: Path | None = None) -> Path:
    target = path or state_path()
    write_private_json(target, asdict(state))
    return target


def write_private_json(path: Path, value: object) -> None:
    """Write ``value`` as JSON, owner-only from the first byte (the file holds a token), replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2)
    temporary.replace(path)


def remove_state(path: Path | None = None) -> None:
    with contextlib.suppress(FileNotFoundError):
        (path or state_path()).unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def read_state(path: Path | None = None) -> LocalStackState:
    """The running stack's state; `LocalStateError` (one line, saying what to do) when there is none."""
    source = path or state_path()
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
        state = LocalStackState(**raw)
    except FileNotFoundError:
        raise LocalStateError(f"no running local stack ({source} is missing): start one with `make dev`") from None
    except (ValueError, TypeError) as error:
        raise LocalStateError(f"{source} is not a local stack's state file ({error})") from None
    if not _alive(state.pid):
        raise LocalStateError(f"the local stack that wrote {source} is no longer running: start one with `make dev`")
    return state
