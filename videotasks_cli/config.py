"""Where the command line finds the API: the environment, else the config file, each value on its own.

`VIDEOTASKS_API_URL`, `VIDEOTASKS_WS_URL` and `VIDEOTASKS_TOKEN` win over the file
(`$XDG_CONFIG_HOME/videotasks/config.json`, moved by `VIDEOTASKS_CONFIG`), so a script or CI job can point
one run elsewhere without touching what a person saved. `--local` (global) uses a running `make dev` stack
instead of both.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from videotasks_cli import local_state
from videotasks_cli.exit_codes import CliError, ExitCode
from videotasks_cli.local_state import LocalStateError, read_state

CONFIG_VARIABLE = "VIDEOTASKS_CONFIG"
# setting → its environment variable; the file uses the setting's name as the key.
ENVIRONMENT = {"api_url": "VIDEOTASKS_API_URL", "ws_url": "VIDEOTASKS_WS_URL", "token": "VIDEOTASKS_TOKEN"}
SETTINGS = tuple(ENVIRONMENT)


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(CONFIG_VARIABLE):
        return Path(env[CONFIG_VARIABLE])
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "videotasks" / "config.json"


@dataclass(frozen=True)
class Setting:
    value: str | None
    source: str  # "environment (VIDEOTASKS_TOKEN)", "file (…/config.json)", "local stack (…)", "not set"


@dataclass(frozen=True)
class Config:
    api_url: Setting
    ws_url: Setting
    token: Setting

    def require(self) -> tuple[str, str]:
        """The API URL and token, or the one line saying how to set them (exit 6)."""
        missing = [name for name in ("api_url", "token") if not getattr(self, name).value]
        if missing:
            names = " and ".join(ENVIRONMENT[name] for name in missing)
            raise CliError(
                f"not configured: {names} not set. Run `videotasks config --api-url URL --ws-url URL --token TOKEN` "
                "(or `videotasks config --local` for a running `make dev` stack), or set the environment variables",
                ExitCode.NOT_CONFIGURED,
            )
        return str(self.api_url.value), str(self.token.value)


def read_file(path: Path) -> dict[str, str]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise CliError(f"cannot read {path}: {error}", ExitCode.NOT_CONFIGURED) from None
    if not isinstance(raw, dict):
        raise CliError(f"{path} is not a videotasks config file (not a JSON object)", ExitCode.NOT_CONFIGURED)
    return {name: str(raw[name]) for name in SETTINGS if raw.get(name)}


def write_file(path: Path, values: Mapping[str, str]) -> None:
    """Owner-only from the first byte: the file holds a token."""
    local_state.write_private_json(path, dict(values))


def local_values() -> dict[str, str]:
    """What a running `make dev` stack wrote in its state file."""
    try:
        state = read_state()
    except LocalStateError as error:
        raise CliError(str(error), ExitCode.NOT_CONFIGURED) from None
    return {"api_url": state.api_url, "ws_url": state.ws_url, "token": state.token}


def load(environ: Mapping[str, str] | None = None, *, local: bool = False) -> Config:
    """The effective settings: ``--local`` (the running stack) first, then the environment, then the file."""
    env = os.environ if environ is None else environ
    path = config_path(env)
    layers: list[tuple[str, Mapping[str, str]]] = []
    if local:
        layers.append(("local stack", local_values()))
    layers.append(("environment", {name: env[variable] for name, variable in ENVIRONMENT.items() if env.get(variable)}))
    layers.append((f"file ({path})", read_file(path)))
    settings: dict[str, Setting] = {}
    for name in SETTINGS:
        for source, values in layers:
            if values.get(name):
                label = f"environment ({ENVIRONMENT[name]})" if source == "environment" else source
                settings[name] = Setting(values[name].strip(), label)
                break
        else:
            settings[name] = Setting(None, "not set")
    return Config(**settings)


def mask(token: str | None) -> str:
    """Enough of a token to tell two apart, never enough to use: its length and last four characters."""
    if not token:
        return "-"
    return f"…{token[-4:]} ({len(token)} characters)" if len(token) > 12 else f"*** ({len(token)} characters)"
