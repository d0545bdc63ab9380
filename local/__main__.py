"""`python -m local` (what `make dev` runs): the whole stack in the foreground until Ctrl-C."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import warnings

from jwt.warnings import InsecureKeyLengthWarning

from local.config import StackConfig
from local.stack import LocalStack


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto server's access log
    # DESIGN.md's default local secret is shorter than RFC 7518 recommends; it never leaves this machine.
    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
    stack = LocalStack(StackConfig.from_env())
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stack.start()
    print(stack.banner(), flush=True)
    stopped.wait()
    print("stopping…", file=sys.stderr, flush=True)
    stack.stop()


if __name__ == "__main__":
    main()
