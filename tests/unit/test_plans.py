"""Plans: deployment defaults, per-plan overrides from PLANS, and the default for unknown names."""

from __future__ import annotations

import pytest

from videotasks.domain.plans import PlanConfigError, plan_for, plans
from videotasks.settings import Settings

BASE = {"TASKS_TABLE": "t", "STATS_TABLE": "s", "MEDIA_BUCKET": "b"}


def settings(**values: str) -> Settings:
    return Settings.model_validate({**BASE, **values})


def test_without_plans_every_user_gets_the_deployment_defaults() -> None:
    plan = plan_for(settings(MAX_GENERATING_PER_USER="4", CREATES_PER_MINUTE="7"), None)
    assert plan.name == "free"
    assert (plan.limits.max_generating, plan.limits.creates_per_minute) == (4, 7)
    assert plan.limits.video_seconds_per_day == 3600


def test_a_plan_overrides_only_what_it_names() -> None:
    config = settings(PLANS='{"pro": {"maxGenerating": 10}}', VIDEO_SECONDS_PER_DAY="100")
    pro = plan_for(config, "pro")
    assert (pro.name, pro.limits.max_generating, pro.limits.video_seconds_per_day) == ("pro", 10, 100)
    assert plan_for(config, "free").limits.max_generating == 3


def test_an_unknown_plan_name_gets_the_default_plan() -> None:
    config = settings(PLANS='{"pro": {"maxGenerating": 10}}', DEFAULT_PLAN="basic")
    assert plan_for(config, "enterprise").name == "basic"
    assert set(plans(config)) == {"basic", "pro"}


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("{", "not JSON"),
        ("[1]", "JSON object"),
        ('{"pro": {"maxGenerating": 0}}', "PLANS['pro'].maxGenerating"),
        ('{"pro": {"burst": 3}}', "PLANS['pro'].burst"),
    ],
)
def test_a_broken_plans_setting_names_what_is_wrong(value: str, named: str) -> None:
    with pytest.raises(PlanConfigError, match=named.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        plans(settings(PLANS=value))
