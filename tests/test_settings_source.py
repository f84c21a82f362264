"""The settings model is the one source of defaults and ranges: the served OpenAPI document,
the client's form (client/src/lib/settingsSchema.js), docs/API.md and the engine agree with it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from storycheck.engine.health import HealthPolicy
from storycheck.engine.pacing import PacingLimits
from storycheck.fields import Digits, Email, Flag, Number
from storycheck.settings.models import SystemSettings
from storycheck.settings.schemas import DEFAULT_SETTINGS, SETTING_NAMES, SettingsValues
from storycheck.web.openapi import build_spec

ROOT = Path(__file__).resolve().parents[1]
CLIENT_SCHEMA = ROOT / "client" / "src" / "lib" / "settingsSchema.js"

# The form's field types for each value type of the model.
FORM_TYPES = {Flag: "bool", Email: "email", Digits: "digits"}


def _kind(name: str) -> str:
    (marker,) = SettingsValues.model_fields[name].metadata
    if isinstance(marker, Number):
        return "int" if marker.whole else "float"
    return FORM_TYPES[type(marker)]


def _client_fields() -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (make client installs it)")
    script = (
        f"import {{ SETTINGS_FIELDS }} from {json.dumps(CLIENT_SCHEMA.as_uri())};"
        "console.log(JSON.stringify(SETTINGS_FIELDS))"
    )
    out = subprocess.run(
        [node, "--input-type=module", "-e", script],
        capture_output=True, text=True, check=True, timeout=60,
    )
    fields: list[dict[str, Any]] = json.loads(out.stdout)
    return fields


def test_the_served_document_carries_every_default_and_range(client) -> None:  # type: ignore[no-untyped-def]
    values = client.get("/api/openapi.json").get_json()["components"]["schemas"]["SettingsValues"]
    assert list(values["properties"]) == list(SETTING_NAMES)
    for name, schema in values["properties"].items():
        assert schema["default"] == getattr(DEFAULT_SETTINGS, name), name
        (marker,) = SettingsValues.model_fields[name].metadata
        if isinstance(marker, Number):
            assert (schema["minimum"], schema["maximum"]) == (marker.minimum, marker.maximum)


def test_the_client_form_has_the_models_fields_ranges_and_defaults() -> None:
    spec = build_spec()["components"]["schemas"]["SettingsValues"]["properties"]
    form = {field["name"]: field for field in _client_fields()}
    assert set(form) == set(SETTING_NAMES)
    for name, schema in spec.items():
        field = form[name]
        assert field["type"] == _kind(name), name
        assert field["default"] == schema["default"], name
        assert field.get("min") == schema.get("minimum"), name
        assert field.get("max") == schema.get("maximum"), name


def _docs_table() -> dict[str, tuple[str, str]]:
    text = (ROOT / "docs" / "API.md").read_text()
    section = text[text.index("## Settings"):text.index("## Proxies")]
    rows = re.findall(r"^\| `([a-z_]+)` \| ([^|]*) \| ([^|]*) \|", section, re.M)
    return {name: (default.strip(), valid.strip()) for name, default, valid in rows}


def _shown(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == "":
        return '""'
    return str(value)


def test_the_api_docs_table_matches_the_model() -> None:
    table = _docs_table()
    assert list(table) == list(SETTING_NAMES)
    for name, (default, valid) in table.items():
        expected = getattr(DEFAULT_SETTINGS, name)
        assert default == _shown(expected) or float(default) == expected, name
        (marker,) = SettingsValues.model_fields[name].metadata
        if isinstance(marker, Number):
            low, high = re.match(r"([-\d.]+)–([-\d.]+)", valid).groups()  # type: ignore[union-attr]
            assert (float(low), float(high)) == (marker.minimum, marker.maximum), name


def test_the_table_and_the_engine_take_their_defaults_from_the_model() -> None:
    columns = SystemSettings.__table__.columns
    for name in SETTING_NAMES:
        default = columns[name].default
        expected = getattr(DEFAULT_SETTINGS, name)
        assert (default.arg if default is not None else None) == expected, name
    limits = PacingLimits()
    assert (limits.stories_limit, limits.lookup_limit, limits.min_interval) == (
        DEFAULT_SETTINGS.proxy_hourly_limit,
        DEFAULT_SETTINGS.lookup_hourly_limit,
        DEFAULT_SETTINGS.min_request_interval,
    )
    policy = HealthPolicy()
    assert policy.max_failures == DEFAULT_SETTINGS.proxy_max_failures
    assert policy.action_block_cooldown == DEFAULT_SETTINGS.action_block_cooldown_hours * 3600
