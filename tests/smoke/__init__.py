"""Smoke test of a deployed stack: ``python -m tests.smoke`` (see ``__main__``)."""
