"""The provider API shapes the fake provider speaks besides OpenAI's, one module each, under a path
prefix of its own (``/gemini``, ``/fal``, ``/replicate``).

Each module has ``PREFIX`` and ``routes(core) -> list[web.RouteDef]``; its handlers make and find jobs
through the core (``FakeProvider.start_job``, ``snapshot_of``, ``jobs``), so fault modes, the failure
rate, Idempotency-Key replays and ``GET /_fake/stats`` work alike for every shape.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from aiohttp import web

from local.fake_shapes import fal, gemini, replicate

if TYPE_CHECKING:
    from local.fake_provider import FakeProvider

SHAPES: list[ModuleType] = [fal, gemini, replicate]


def shape_routes(core: FakeProvider) -> list[web.RouteDef]:
    return [route for shape in SHAPES for route in shape.routes(core)]
