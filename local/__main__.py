"""`python -m local` (what `make dev` runs): the whole stack in the foreground until Ctrl-C."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

# The functions import the layer's package as Lambda does from /opt/python; `make dev` also sets this.
_LAYER = str(Path(__file__).resolve().parents[1] / "layers" / "common" / "python")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)

from jwt.warnings import InsecureKeyLengthWarning  # noqa: E402

from local.config import StackConfig, StackConfigError  # noqa: E402
from local.stack import LocalStack  # noqa: E402
from videotasks_cli import local_state  # noqa: E402


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto server's access log
    # The default local secret is shorter than RFC 7518 recommends; it never leaves this machine.
    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
    try:
        config = StackConfig.from_env()
        config.check_ports_free()
    except StackConfigError as error:
        sys.exit(f"make dev: {error}")
    stack = LocalStack(config)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    try:
        stack.start()
    except StackConfigError as error:  # a port taken between the check and the bind
        print(f"make dev: {error}", file=sys.stderr, flush=True)
        os._exit(1)  # moto's server thread is up; nothing else needs a clean teardown
    # Written before the banner: once the stack says it is ready, `videotasks --local` finds it.
    state_file = local_state.write_state(stack.state())
    print(stack.banner(), flush=True)
    stopped.wait()
    print("stopping…", file=sys.stderr, flush=True)
    local_state.remove_state(state_file)
    stack.stop()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is stopped; skip the interpreter's slow teardown of moto's large in-memory state
    # (coverage saves its data on _exit, see pyproject.toml).
    os._exit(0)


if __name__ == "__main__":
    main()
