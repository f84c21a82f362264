"""The engine, alert and ownership options read through pydantic-settings models."""

from __future__ import annotations

import re
from dataclasses import fields

import pytest

from storycheck.alerts.delivery import AlertOptions, AlertVariables
from storycheck.config import ConfigError, variable_names
from storycheck.distributed.ownership import OwnershipOptions, PairVariables
from storycheck.engine.options import EngineOptions, EngineVariables


def _variables(model: type) -> set[str]:
    return {name for names in variable_names(model).values() for name in names}


def test_the_variable_names_are_the_documented_ones() -> None:
    assert _variables(EngineVariables) == {
        f"STORYCHECK_ENGINE_{spec.name.upper()}" for spec in fields(EngineOptions)
    }
    assert _variables(AlertVariables) == {
        "STORYCHECK_ALERTS", "STORYCHECK_ALERTS_POLL_INTERVAL", "STORYCHECK_ALERTS_LEASE_SECONDS",
        "STORYCHECK_ALERTS_BACKOFF_BASE", "STORYCHECK_ALERTS_BACKOFF_CAP",
        "STORYCHECK_ALERTS_STALL_MINUTES",
    }
    assert _variables(PairVariables) == {
        "STORYCHECK_PAIR_LEASE_SECONDS", "STORYCHECK_PAIR_RENEW_INTERVAL",
        "STORYCHECK_PAIR_TAKEOVER_GRACE",
    }


def test_unset_or_empty_variables_give_the_dataclass_defaults() -> None:
    empty = {"STORYCHECK_ENGINE_WINDOW_SECONDS": "", "STORYCHECK_ALERTS": "",
             "STORYCHECK_PAIR_LEASE_SECONDS": ""}
    assert EngineOptions.from_env(empty) == EngineOptions()
    assert AlertOptions.from_env(empty) == AlertOptions()
    assert OwnershipOptions.from_env(empty) == OwnershipOptions()


def test_engine_variables_override_config_extra_which_overrides_defaults() -> None:
    options = EngineOptions.from_env(
        {"STORYCHECK_ENGINE_WINDOW_SECONDS": "20", "STORYCHECK_ENGINE_DENSE": "0"},
        extra={"engine_window_seconds": "5", "engine_max_claim": "7"},
    )
    assert (options.window_seconds, options.dense, options.max_claim) == (20.0, False, 7)
    assert options.lease_seconds == EngineOptions.lease_seconds


def test_alert_variables_switch_delivery_off_and_tune_it() -> None:
    options = AlertOptions.from_env(
        {"STORYCHECK_ALERTS": "0", "STORYCHECK_ALERTS_POLL_INTERVAL": "0.1",
         "STORYCHECK_ALERTS_STALL_MINUTES": "2"}
    )
    assert (options.enabled, options.poll_interval, options.stall_minutes) == (False, 0.1, 2.0)
    assert AlertOptions.from_env({"STORYCHECK_ALERTS": "off"}).enabled is False
    assert AlertOptions.from_env({"STORYCHECK_ALERTS": "1"}).enabled is True


@pytest.mark.parametrize(
    ("read", "variable", "value"),
    [
        (EngineOptions.from_env, "STORYCHECK_ENGINE_WINDOW_SECONDS", "an hour"),
        (EngineOptions.from_env, "STORYCHECK_ENGINE_MAX_CLAIM", "1.5"),
        (EngineOptions.from_env, "STORYCHECK_ENGINE_DENSE", "maybe"),
        (AlertOptions.from_env, "STORYCHECK_ALERTS_POLL_INTERVAL", "often"),
        (AlertOptions.from_env, "STORYCHECK_ALERTS", "sometimes"),
        (OwnershipOptions.from_env, "STORYCHECK_PAIR_LEASE_SECONDS", "six"),
        (OwnershipOptions.from_env, "STORYCHECK_PAIR_TAKEOVER_GRACE", "-1"),
    ],
)
def test_a_bad_value_names_its_variable(read, variable: str, value: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=re.escape(f"{variable}={value!r}")):
        read({variable: value})


def test_a_bad_config_extra_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="STORYCHECK_ENGINE_PARTIAL_WAIT='soon'"):
        EngineOptions.from_env({}, extra={"engine_partial_wait": "soon"})


def test_a_pair_renew_interval_over_half_the_lease_names_both_variables() -> None:
    with pytest.raises(ConfigError, match="STORYCHECK_PAIR_RENEW_INTERVAL=2 .*STORYCHECK_PAIR_LEASE_SECONDS=4"):
        OwnershipOptions.from_env({"STORYCHECK_PAIR_LEASE_SECONDS": "4"})
