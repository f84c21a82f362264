"""The option objects read from the environment besides `Config`, with their settings models.

`storycheck doctor` lists their variables; `serve` and `worker` read them all at start, so a
bad value stops the command before it touches the database.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings

from storycheck.alerts.delivery import AlertOptions, AlertVariables
from storycheck.config import Config
from storycheck.distributed.ownership import OwnershipOptions, PairVariables
from storycheck.engine.options import EngineOptions, EngineVariables


def option_families(config: Config) -> list[tuple[type[BaseSettings], object]]:
    """The engine, alert and ownership options (raises `ConfigError` for a bad value), each
    with the settings model that names its variables."""
    return [
        (EngineVariables, EngineOptions.from_env(extra=config.extra)),
        (AlertVariables, AlertOptions.from_env()),
        (PairVariables, OwnershipOptions.from_env()),
    ]
