"""Every provider adapter speaks the one protocol the workflow uses."""

from __future__ import annotations

import pytest

from videotasks.adapters.providers.fal_queue import FalQueueProvider
from videotasks.adapters.providers.gemini_veo import GeminiVeoProvider
from videotasks.adapters.providers.openai_videos import VideosProvider
from videotasks.adapters.providers.protocol import Capabilities, VideoAdapter
from videotasks.adapters.providers.replicate import ReplicateProvider

MEMBERS = ("SHAPE", "CAPABILITIES", "create_job", "get_job", "open_content", "cancel_job", "list_recent_jobs", "close")


def missing_members(adapter: type) -> list[str]:
    return [name for name in MEMBERS if not hasattr(adapter, name)]


ADAPTERS: list[type] = [VideosProvider, FalQueueProvider, GeminiVeoProvider, ReplicateProvider]


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda adapter: adapter.__name__)
def test_every_adapter_has_every_member_of_the_protocol(adapter: type) -> None:
    assert list(missing_members(adapter)) == []
    assert isinstance(adapter.CAPABILITIES, Capabilities)


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda adapter: adapter.__name__)
def test_an_adapter_instance_is_a_video_adapter(adapter: type) -> None:
    with adapter(base_url="http://provider.invalid", api_key="k") as client:
        assert isinstance(client, VideoAdapter)


def test_shape_names_are_unique() -> None:
    shapes = [adapter.SHAPE for adapter in ADAPTERS]
    assert len(shapes) == len(set(shapes))


def test_a_class_without_the_members_is_reported() -> None:
    class Half:
        SHAPE = "half"

        def create_job(self) -> None: ...

    assert set(missing_members(Half)) == {
        "CAPABILITIES",
        "get_job",
        "open_content",
        "cancel_job",
        "list_recent_jobs",
        "close",
    }
