"""Engine knobs that are not user settings: time scales, lease lengths, backoff shape.

Production uses the defaults. Tests and benchmarks compress time (a 20-second "hour"), either
by passing `EngineOptions(...)` to the pool or through the environment / `Config.extra`:
`STORYCHECK_ENGINE_WINDOW_SECONDS=20` or `extra={"engine_window_seconds": "20"}`.
The variables come from `EngineVariables`, a pydantic-settings model derived from the fields of
`EngineOptions` (whose defaults stay the only ones).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

from storycheck.config import read_settings


@dataclass(frozen=True)
class EngineOptions:
    """Time scales and tuning of the check engine."""

    window_seconds: float = 3600.0  # the "hour" of proxy_hourly_limit / lookup_hourly_limit
    pacing_margin: float = 0.05  # seconds of slack on every window entry
    # How long a claimed item stays ours without renewal (renewed every `renew_interval`, also
    # while its request is in flight). A backstop: a dead worker's items come back sooner, when
    # its heartbeat stops (distributed/liveness.py); one process returns all of them at start.
    lease_seconds: float = 30.0
    renew_interval: float = 10.0
    flush_interval: float = 0.5  # usage reservations, pair counters, error and batch logs
    refresh_interval: float = 2.0  # re-read pairs and settings (user changes)
    partial_wait: float = 60.0  # how long looked-up ids wait to fill a story group
    cooldown_base: float = 60.0  # rate-limit backoff ceiling at level 0, doubled per level
    cooldown_cap: float = 3600.0
    min_cooldown: float = 5.0
    open_cooldown: float = 60.0  # circuit open → first half-open probe
    dense: bool = True  # allow the dense doc_id form when the `dense_doc_id` setting is set
    dense_retry_after: float = 600.0  # a pair tries the dense form again this long after
    learn_decrease: float = 0.5  # AIMD: a rate limit multiplies the pair's budget by this
    learn_quiet_share: float = 1 / 6  # AIMD: budget grows after this share of a quiet window
    learn_forget_windows: float = 24.0  # AIMD: back to the setting after this many quiet windows
    # An absent reel proves "no story" only for an account known to be public; privacy older
    # than this is looked up again first (an account may have turned private since).
    privacy_max_age: float = 86400.0
    recheck_interval: float = 1.0  # re-claim delay when a batch looked finished but was not
    max_claim: int = 2000  # items per claim transaction
    record_group: int = 64  # requests whose outcomes share one commit at most

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None
    ) -> EngineOptions:
        """Defaults overridden by `engine_<field>` in `extra`, then `STORYCHECK_ENGINE_<FIELD>`.

        Raises `ConfigError` naming the variable when a value does not parse.
        """
        fallback = {
            spec.name: (extra or {}).get(f"engine_{spec.name}") for spec in dataclasses.fields(cls)
        }
        fallback = {name: raw for name, raw in fallback.items() if raw not in (None, "")}
        variables = read_settings(EngineVariables, env, fallback)
        return cls(**variables.model_dump(exclude_none=True))


class _EngineVariablesBase(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STORYCHECK_ENGINE_", env_ignore_empty=True, extra="ignore", frozen=True
    )


def _optional_fields() -> dict[str, Any]:
    hints = typing.get_type_hints(EngineOptions)
    return {spec.name: (hints[spec.name] | None, None) for spec in dataclasses.fields(EngineOptions)}


# `STORYCHECK_ENGINE_<FIELD>` for each field of `EngineOptions`; unset fields keep its defaults.
EngineVariables: type[BaseSettings] = create_model(
    "EngineVariables", __base__=_EngineVariablesBase, **_optional_fields()
)
