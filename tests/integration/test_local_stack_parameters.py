"""What the local stack hands the template (every provider entry on the fake, unless SORA_BASE_URL moves the
relay; CORS for the console and CORS_ORIGINS), and the one-line refusals of settings it cannot run with."""

from __future__ import annotations

import socket

import pytest

from local.config import FAKE_ENTRY_PREFIXES, HOST, StackConfig, StackConfigError
from local.launcher import free_ports
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


def test_cors_origins_join_the_consoles_own_which_stay_allowed() -> None:
    config = StackConfig.from_env({"HTTP_PORT": "4100", "CORS_ORIGINS": "http://localhost:5173, https://app.example/"})

    assert _parameters(config)["CorsAllowedOrigins"].split(",") == [
        "http://127.0.0.1:4100",
        "http://localhost:4100",
        "http://localhost:5173",
        "https://app.example",
    ]


def test_the_limits_reach_the_template_and_unset_ones_keep_its_defaults() -> None:
    plans = '{"pro": {"createsPerMinute": 60}}'
    values = _parameters(
        StackConfig.from_env({"CREATES_PER_MINUTE": "5", "MAX_GENERATING_PER_USER": "2", "PLANS": plans})
    )

    assert (values["CreatesPerMinute"], values["MaxGeneratingPerUser"], values["Plans"]) == ("5", "2", plans)
    defaults = _parameters(StackConfig.from_env({}))
    assert "VideoSecondsPerDay" not in defaults and "MaxGeneratingPerUser" not in defaults


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("CORS_ORIGINS", "localhost:5173", "'localhost:5173' is not an origin"),
        ("CORS_ORIGINS", "http://localhost:5173/app", "'http://localhost:5173/app' is not an origin"),
        ("HTTP_PORT", "three thousand", "expected int"),
        ("FAKE_FAILURE_RATE", "often", "expected float"),
        ("PLANS", '{"pro": {"createsPerMinut": 60}}', "PLANS['pro'].createsPerMinut"),
        ("PLANS", "pro=60", "PLANS is not JSON"),
    ],
)
def test_a_value_the_stack_cannot_read_is_one_line_naming_its_variable(variable: str, value: str, named: str) -> None:
    with pytest.raises(StackConfigError) as refused:
        StackConfig.from_env({variable: value})

    message = str(refused.value)
    assert message.startswith(f"{variable}={value!r}: ")
    assert named in message
    assert "\n" not in message


def test_a_port_something_listens_on_is_refused_naming_the_variable_that_moves_it() -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = StackConfig.from_env({"WS_PORT": str(port), **_free_other_ports()})

        with pytest.raises(StackConfigError) as refused:
            config.check_ports_free()

    assert str(refused.value) == (
        f"port {port} is already in use: stop what listens on it, or set WS_PORT to a free port"
    )


def test_free_ports_pass_the_check() -> None:
    StackConfig.from_env(_free_other_ports()).check_ports_free()
    StackConfig.from_env({"WS_PORT": str(free_ports(1)[0]), **_free_other_ports()}).check_ports_free()


def _free_other_ports() -> dict[str, str]:
    names = ("HTTP_PORT", "PROVIDER_PORT", "MOTO_PORT")
    return dict(zip(names, map(str, free_ports(len(names))), strict=True))
