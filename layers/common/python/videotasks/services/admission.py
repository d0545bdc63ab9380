"""Admission: which plan a caller is on, what a create charges to its limits, and ``GET /usage``.

The charge itself is written by the repository in the create's transaction (``adapters/store/usage.py``);
here it is only sized and checked against what no window could hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from videotasks.adapters.store.tasks import TaskRepository
from videotasks.adapters.tracing import tracer
from videotasks.domain.admission import Charge, day_window, minute_window
from videotasks.domain.models import Task, iso, utc_now
from videotasks.domain.plans import Plan, plans
from videotasks.settings import Settings


class Admission:
    def __init__(self, settings: Settings, repository: TaskRepository) -> None:
        # Read once per container: a broken PLANS fails the first request with PlanConfigError's one line.
        self._plans = plans(settings)
        self._default = self._plans[settings.default_plan]
        self._repository = repository

    def plan(self, name: str | None) -> Plan:
        """The plan a token names, else the default plan (an unknown name unlocks nothing more)."""
        return self._plans.get(name or "") or self._default

    def charge(self, tasks: Sequence[Task], plan: Plan, at: datetime) -> Charge:
        """What creating ``tasks`` at ``at`` charges; refused at once when it is more than a whole window."""
        charge = Charge.of(tasks, plan.limits, at)
        charge.refuse_beyond_limits()
        return charge

    @tracer.capture_method
    def usage(self, user_id: str, plan_name: str | None) -> dict[str, Any]:
        plan = self.plan(plan_name)
        now = utc_now()
        counted = self._repository.usage(user_id, now)
        return {
            "plan": plan.name,
            "limits": plan.limits.model_dump(by_alias=True),
            "usage": {
                "createsThisMinute": counted.creates_this_minute,
                "videoSecondsToday": counted.video_seconds_today,
                "generating": counted.processing,
                "queued": counted.queued,
            },
            "resets": {
                "createsPerMinute": iso(minute_window(now)[1]),
                "videoSecondsPerDay": iso(day_window(now)[1]),
            },
        }
