"""The settings object: every tunable with its default and range, written here and nowhere else.

`SettingsValues` is the one source: the API validates `PUT /api/settings` with it
(`SettingsUpdate`), serialises `GET` by its field list, the OpenAPI document and the client's
form ranges are generated from / tested against it, the table model takes its column defaults
from it, and the engine reads its settings object as a `SettingsValues` (`settings_from_row`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from pydantic.alias_generators import to_camel

from storycheck.fields import Answer, Body, Digits, Email, Flag, Number


def _real(minimum: float, maximum: float) -> Number:
    """A fractional setting's range."""
    return Number(minimum, maximum, whole=False)


class SettingsValues(BaseModel):
    """The editable settings with their defaults and allowed ranges."""

    model_config = ConfigDict(frozen=True, title="SettingsValues")

    profiles_per_minute: Annotated[int, Number(0, 100_000)] = Field(
        default=0, description="Global cap on checks per minute; 0 = unlimited"
    )
    max_threads: Annotated[int, Number(1, 256)] = Field(
        default=8, description="Requests in flight at once"
    )
    max_concurrent_batches: Annotated[int, Number(1, 20)] = Field(
        default=1, description="Batches running at once"
    )
    default_batch_size: Annotated[int, Number(1, 100_000)] = 100
    story_retention_hours: Annotated[int, Number(1, 720)] = Field(
        default=24, description="Detections expire after this many hours"
    )
    auto_trigger_enabled: Annotated[bool, Flag()] = Field(
        default=False, description="Create batches for niches under their daily target"
    )
    min_trigger_interval: Annotated[int, Number(1, 1440)] = Field(
        default=60, description="Minutes between automatic batches"
    )
    proxy_test_timeout: Annotated[int, Number(1, 120)] = Field(
        default=10, description="Per-request timeout in seconds"
    )
    proxy_max_failures: Annotated[int, Number(1, 100)] = Field(
        default=3, description="Transport errors before a pair's circuit opens"
    )
    proxy_hourly_limit: Annotated[int, Number(1, 100_000)] = Field(
        default=150, description="Requests per pair per sliding hour"
    )
    lookup_hourly_limit: Annotated[int, Number(1, 100_000)] = Field(
        default=60, description="Username lookups per pair per sliding hour"
    )
    min_request_interval: Annotated[float, _real(0, 3600)] = Field(
        default=2.0, description="Seconds between two requests of one pair"
    )
    reel_ids_per_request: Annotated[int, Number(1, 50)] = Field(
        default=20, description="Account ids per story request"
    )
    max_attempts: Annotated[int, Number(1, 10)] = Field(
        default=3, description="Transient failures before an item fails"
    )
    request_jitter: Annotated[float, _real(0, 0.9)] = Field(
        default=0.4, description="Each gap is min_request_interval × (1 ± this), drawn at random"
    )
    action_block_cooldown_hours: Annotated[float, _real(0.5, 72)] = Field(
        default=6.0, description='How long a pair rests after "Action Blocked"'
    )
    # A day, like every other answer's horizon: a name can come back (a deactivated account
    # returns, a renamed account's old name is taken), and a cached "not found" is not checked.
    not_found_recheck_days: Annotated[int, Number(1, 365)] = Field(
        default=1, description='Accounts confirmed "not found" are skipped this long'
    )
    dense_doc_id: Annotated[str, Digits(64)] = Field(
        default="", description="GraphQL doc_id of the dense story request; empty = off"
    )
    notifications_enabled: Annotated[bool, Flag()] = True
    notification_email: Annotated[str | None, Email()] = None


DEFAULT_SETTINGS = SettingsValues()
SETTING_NAMES: tuple[str, ...] = tuple(SettingsValues.model_fields)


def valid_range(name: str) -> str:
    """The allowed values of one setting as text (`1-256`, `true or false`, …)."""
    for marker in SettingsValues.model_fields[name].metadata:
        text = getattr(marker, "valid_range", None)
        if isinstance(text, str):
            return text
    raise KeyError(name)


class Settings(SettingsValues, Answer):
    """The settings object of the API: every setting plus `id` and the timestamps."""

    model_config = ConfigDict(title="Settings", json_schema_serialization_defaults_required=True)

    id: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None


# The original client's names are the camelCase forms, plus `threadCount` for max_threads.
# `storiesPerDay` is a per-niche target (Niche `daily_story_target`), so it is accepted and
# ignored here like every unknown key.
CAMEL_CASE = {to_camel(name): name for name in SETTING_NAMES} | {"threadCount": "max_threads"}
# The original client keeps `proxyTestTimeout` in milliseconds (default 10000).
_MILLISECOND_KEYS = {"proxyTestTimeout"}
# `null` means "unchanged" (the client sends NaN as null) except where it clears a value.
_NULL_CLEARS = {"notification_email"}


def _wanted_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The body's keys as snake_case settings: unknown and read-only keys and ignored nulls
    dropped, snake_case winning over its camelCase twin, milliseconds turned into seconds."""
    wanted: dict[str, Any] = {}
    from_snake: set[str] = set()
    for key, value in changes.items():
        name = CAMEL_CASE.get(key, key)
        if name not in SettingsValues.model_fields or (name in from_snake and key != name):
            continue
        if value is None and name not in _NULL_CLEARS:
            continue
        if key in _MILLISECOND_KEYS and _is_number(value) and float(value) >= 1000:
            value = float(value) / 1000
        if key == name:
            from_snake.add(name)
        wanted[name] = value
    return wanted


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _SettingsUpdateBody(Body):
    model_config = ConfigDict(
        extra="ignore",
        title="SettingsUpdate",
        json_schema_extra={
            "description": "Any subset of the settings, snake_case or the original client's "
            "camelCase (`threadCount`, `profilesPerMinute`, …; `proxyTestTimeout` ≥ 1000 is "
            "milliseconds). Unknown keys are ignored; null leaves a setting unchanged, except "
            "`notification_email`, which it clears. All or nothing.",
        },
    )

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        return _wanted_changes(data) if isinstance(data, Mapping) else data


def _optional(name: str) -> Any:
    info = SettingsValues.model_fields[name]
    return (info.rebuild_annotation() | None, Field(default=None, description=info.description))


# Every setting optional: `model_dump(exclude_unset=True)` is the change to apply.
SettingsUpdate: type[BaseModel] = create_model(
    "SettingsUpdate",
    __base__=_SettingsUpdateBody,
    **{name: _optional(name) for name in SETTING_NAMES},
)


def parse_update(body: Mapping[str, Any]) -> dict[str, Any]:
    """The validated changes of a `PUT /api/settings` body (raises pydantic's ValidationError)."""
    return SettingsUpdate.model_validate(body).model_dump(exclude_unset=True)


def settings_from_row(row: Any) -> SettingsValues:
    """The settings of a stored row (an object with the setting attributes), or the defaults.

    The API validated every value on its way in; what tests and benchmarks write around it is
    taken as it is (e.g. an hourly limit above the form's range). A NULL means the default.
    """
    if row is None:
        return DEFAULT_SETTINGS
    values = {name: getattr(row, name, None) for name in SETTING_NAMES}
    if isinstance(values["dense_doc_id"], str):
        values["dense_doc_id"] = values["dense_doc_id"].strip()
    return SettingsValues.model_construct(
        **{name: value for name, value in values.items() if value is not None}
    )
