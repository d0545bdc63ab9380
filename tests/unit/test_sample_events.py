"""The sample events that are not covered elsewhere still drive their handlers."""

from __future__ import annotations

import json
from pathlib import Path

from videotasks.domain.ids import is_video_id

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_every_sample_event_is_valid_json():
    for path in EVENTS.glob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))


def test_execution_status_event_names_the_task_in_its_input():
    event = json.loads((EVENTS / "eventbridge_execution_timed_out.json").read_text(encoding="utf-8"))
    assert event["detail-type"] == "Step Functions Execution Status Change"
    assert is_video_id(json.loads(event["detail"]["input"])["videoId"])


def test_a_video_id_with_a_trailing_newline_is_not_a_video_id():
    assert is_video_id("video_e7a620c7-2829-40d8-bbfb-77891f4621cc")
    assert not is_video_id("video_e7a620c7-2829-40d8-bbfb-77891f4621cc\n")
