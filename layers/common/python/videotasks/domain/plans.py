"""Plans: what one user may do, by the plan named in their token.

Every limit has a deployment-wide default in settings (``MAX_GENERATING_PER_USER``,
``CREATES_PER_MINUTE``, ``VIDEO_SECONDS_PER_DAY``); ``PLANS`` (JSON) overrides any of them per plan name,
e.g. ``{"pro": {"maxGenerating": 10, "videoSecondsPerDay": 36000}}``. A token without the plan claim, or
naming a plan the deployment does not define, gets ``DEFAULT_PLAN``: an unknown name must not unlock more
than the default, nor lock a paying user out.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from videotasks.settings import Settings


class Limits(BaseModel):
    """The limits of one plan. Wire names (camelCase) are what ``PLANS`` and ``GET /usage`` use."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    max_generating: int = Field(alias="maxGenerating", ge=1, le=1000)
    creates_per_minute: int = Field(alias="createsPerMinute", ge=1, le=100000)
    video_seconds_per_day: int = Field(alias="videoSecondsPerDay", ge=1, le=100_000_000)


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    limits: Limits


class PlanConfigError(ValueError):
    """``PLANS`` is not a JSON object of plan name → limits."""


def default_limits(settings: Settings) -> Limits:
    return Limits(
        max_generating=settings.max_generating_per_user,
        creates_per_minute=settings.creates_per_minute,
        video_seconds_per_day=settings.video_seconds_per_day,
    )


def plans(settings: Settings) -> dict[str, Plan]:
    """Every plan the deployment defines, the default plan always among them."""
    base = default_limits(settings).model_dump(by_alias=True)
    try:
        raw: Any = json.loads(settings.plans) if settings.plans.strip() else {}
    except json.JSONDecodeError as exc:
        raise PlanConfigError(f"PLANS is not JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(raw, dict) or not all(isinstance(value, dict) for value in raw.values()):
        raise PlanConfigError('PLANS must be a JSON object like {"pro": {"maxGenerating": 10}}')
    found: dict[str, Plan] = {}
    for name, overrides in {settings.default_plan: {}, **raw}.items():
        try:
            found[name] = Plan(name=name, limits=Limits.model_validate({**base, **overrides}))
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise PlanConfigError(f"PLANS[{name!r}].{where}: {problem['msg']}") from None
    return found


def plan_for(settings: Settings, name: str | None) -> Plan:
    """The plan a token names (its ``plan`` claim), else the default plan."""
    known = plans(settings)
    return known.get(name or "") or known[settings.default_plan]
