"""What the local stack hands the template: every provider entry on the fake, unless SORA_BASE_URL moves the relay."""

from __future__ import annotations

import pytest

from local.config import FAKE_ENTRY_PREFIXES, StackConfig
from local.stack import _parameters


def test_by_default_every_provider_entry_points_at_the_fake_and_the_catalogs_default_stands() -> None:
    config = StackConfig.from_env({})
    values = _parameters(config)

    assert values["ProviderBaseUrl"] == config.fake_provider_url
    for parameter, prefix in FAKE_ENTRY_PREFIXES.items():
        assert values[parameter] == config.fake_provider_url + prefix
    assert "DefaultModel" not in values


def test_a_real_relay_takes_the_relay_entry_and_new_tasks_default_to_its_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_AUTH_SCHEME", "raw")
    config = StackConfig.from_env({"SORA_BASE_URL": "https://relay.example", "SORA_API_KEY": "k"})
    values = _parameters(config)

    assert values["ProviderBaseUrl"] == "https://relay.example"
    assert values["DefaultModel"] == "sora_video2"
    assert values["ProviderAuthScheme"] == "raw"
    assert values["GeminiBaseUrl"] == config.fake_provider_url + FAKE_ENTRY_PREFIXES["GeminiBaseUrl"]
