"""One settings object for the process, read from the environment (and a `.env` file).

`Config` holds the values and their defaults (tests build their own instead of touching the
environment). `EnvironmentVariables` is the one list of the `STORYCHECK_*` variable names
(DESIGN.md §5) with how each is parsed; `storycheck doctor` derives its table from it. A value
that does not parse stops the process with a `ConfigError` naming the variable.

The engine, alert and ownership options (`STORYCHECK_ENGINE_*`, `STORYCHECK_ALERTS*`,
`STORYCHECK_PAIR_*`) are read the same way: each module declares a settings model with its
`env_prefix` and reads it with `read_settings`; `variable_names` lists any model's variables.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

from dotenv import load_dotenv
from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

DEFAULT_CORS_ORIGINS = ("http://localhost:3000", "http://127.0.0.1:3000")


class ConfigError(ValueError):
    """An environment variable holds a value that cannot be used (the message names it)."""


@dataclass(frozen=True)
class Config:
    """Process-wide configuration; tests build their own instead of touching the environment."""

    database_url: str = "sqlite:///storycheck.db"
    instagram_url: str = "https://www.instagram.com"
    host: str = "127.0.0.1"
    port: int = 5000
    api_token: str | None = None
    secret_key: str | None = None
    # The key file when STORYCHECK_SECRET_KEY is unset (default: see storycheck/keys.py).
    key_file: str | None = None
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    # Host names served besides localhost/127.0.0.1/[::1] (DNS-rebinding guard).
    allowed_hosts: tuple[str, ...] = ()
    broker_url: str | None = None
    # The in-process engine runs in-progress batches; tests of the API alone switch it off.
    engine_enabled: bool = True
    reconcile_interval: float = 3.0
    # Largest accepted request body (imports are the big ones): 32 MiB.
    max_content_length: int = 32 * 1024 * 1024
    static_folder: str | None = None
    # The well-known account a pair test looks up (POST /api/proxies/{id}/test).
    pair_test_username: str = "instagram"
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env_file: str | os.PathLike[str] | None = None) -> Config:
        """Build the configuration from `STORYCHECK_*` variables, loading `.env` first.

        `.env` goes into the process environment (without overriding it) because the engine,
        alert and ownership options read their `STORYCHECK_*_…` variables from there too.
        Raises `ConfigError` when a variable's value does not parse.
        """
        load_dotenv(env_file or Path.cwd() / ".env", override=False)
        try:
            variables = EnvironmentVariables()
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None
        return cls(**variables.model_dump(exclude_none=True))

    @property
    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")


def _env(name: str, *fallbacks: str) -> Any:
    """The variable(s) a field is read from, first name first."""
    return Field(default=None, validation_alias=AliasChoices(name, *fallbacks))


CommaList = Annotated[tuple[str, ...], NoDecode]


class EnvironmentVariables(BaseSettings):
    """The `STORYCHECK_*` variables: name, type and parsing of each `Config` field they set.

    Every field defaults to "unset", so `Config`'s defaults stay the only ones; an empty
    variable counts as unset.
    """

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore", frozen=True)

    database_url: str | None = _env("STORYCHECK_DATABASE_URL", "DATABASE_URL")
    instagram_url: str | None = _env("STORYCHECK_INSTAGRAM_URL")
    host: str | None = _env("STORYCHECK_HOST")
    port: Annotated[int, Field(ge=0, le=65535)] | None = _env("STORYCHECK_PORT")
    api_token: str | None = _env("STORYCHECK_API_TOKEN")
    secret_key: str | None = _env("STORYCHECK_SECRET_KEY")
    key_file: str | None = _env("STORYCHECK_KEY_FILE")
    cors_origins: CommaList | None = _env("STORYCHECK_CORS_ORIGINS")
    allowed_hosts: CommaList | None = _env("STORYCHECK_ALLOWED_HOSTS")
    broker_url: str | None = _env("STORYCHECK_BROKER_URL")
    engine_enabled: bool | None = _env("STORYCHECK_ENGINE")
    reconcile_interval: Annotated[float, Field(gt=0)] | None = _env(
        "STORYCHECK_RECONCILE_INTERVAL"
    )
    max_content_length: Annotated[int, Field(ge=1)] | None = _env("STORYCHECK_MAX_BODY_BYTES")
    static_folder: str | None = _env("STORYCHECK_STATIC_DIR")
    pair_test_username: str | None = _env("STORYCHECK_PAIR_TEST_USERNAME")

    @field_validator("cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("cors_origins", mode="after")
    @classmethod
    def _origins_or_default(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return value or None  # only commas: the default origins, as before


def env_names() -> dict[str, tuple[str, ...]]:
    """`Config` field → the environment variables that set it (first one preferred)."""
    return variable_names(EnvironmentVariables)


def variable_names(model: type[BaseSettings]) -> dict[str, tuple[str, ...]]:
    """A settings model's field → its environment variables: its aliases, else prefix + name."""
    prefix = str(model.model_config.get("env_prefix") or "")
    names: dict[str, tuple[str, ...]] = {}
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names[name] = tuple(str(choice) for choice in alias.choices)
        elif isinstance(alias, str):
            names[name] = (alias,)
        else:
            names[name] = ((prefix + name).upper(),)
    return names


Settings = TypeVar("Settings", bound=BaseSettings)


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (tests pass their own)."""

    def __init__(self, model: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._mapping = env
        super().__init__(model)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._mapping, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def read_settings(
    model: type[Settings],
    env: Mapping[str, str] | None = None,
    fallback: Mapping[str, Any] | None = None,
) -> Settings:
    """Read `model`'s variables from `env` (default: the process environment).

    `fallback` values (by field name) apply to fields no variable sets. Raises `ConfigError`
    naming the variable when a value does not parse.
    """
    env = os.environ if env is None else env
    try:
        return model.model_validate({**(fallback or {}), **_MappingEnvSource(model, env)()})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, model, env)) from None


def _describe(
    exc: ValidationError,
    model: type[BaseSettings] = EnvironmentVariables,
    env: Mapping[str, str] | None = None,
) -> str:
    env = os.environ if env is None else env
    names: dict[str, tuple[str, ...]] = {}
    for field_name, choices in variable_names(model).items():
        names.update({field_name: choices, **{choice: choices for choice in choices}})
    problems = []
    for error in exc.errors():
        field_name = str(error["loc"][0]) if error["loc"] else "?"
        choices = names.get(field_name, (field_name,))
        variable = next((name for name in choices if env.get(name)), choices[0])
        # URLs may carry passwords, tokens and keys are secrets: only plain values are echoed.
        secret = any(word in field_name.lower() for word in ("url", "token", "key"))
        shown = "(hidden)" if secret else repr(error["input"])
        problems.append(f"{variable}={shown}: {error['msg']}")
    return "Bad environment configuration: " + "; ".join(problems)


def is_loopback(host: str) -> bool:
    """Tell whether `host` only accepts connections from this machine."""
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
