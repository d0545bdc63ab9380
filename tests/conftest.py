"""Loads the fixtures every tier shares, once: each module of ``tests/fixtures`` holds one subject
(tests/README.md lists them). Only the root conftest may name ``pytest_plugins``."""

import os

# Lambda sets its environment before any code is imported, and so must the tests: Powertools names
# the package's child loggers (videotasks.services.tasks, videotasks.services.workflow) after the service when they
# are imported, and a child named after "service_undefined" finds no parent handler.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "videotasks")

pytest_plugins = [
    "tests.fixtures.environment",
    "tests.fixtures.settings",
    "tests.fixtures.events",
    "tests.fixtures.tokens",
    "tests.fixtures.tasks",
    "tests.fixtures.providers",
    "tests.fixtures.handlers",
    "tests.fixtures.aws",
    "tests.fixtures.workflow",
]
