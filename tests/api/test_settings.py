"""Settings routes: defaults on first access, partial snake/camelCase updates, all-or-nothing."""

from __future__ import annotations

import pytest

from storycheck.fields import Digits, Email, Flag, Number
from storycheck.settings.models import SystemSettings
from storycheck.settings.schemas import SETTING_NAMES, SettingsValues, valid_range
from storycheck.settings.service import get_settings
from tests.helpers import assert_error

DEFAULTS = {
    "id": 1,
    "profiles_per_minute": 0,
    "max_threads": 8,
    "max_concurrent_batches": 1,
    "default_batch_size": 100,
    "story_retention_hours": 24,
    "auto_trigger_enabled": False,
    "min_trigger_interval": 60,
    "proxy_test_timeout": 10,
    "proxy_max_failures": 3,
    "proxy_hourly_limit": 150,
    "lookup_hourly_limit": 60,
    "min_request_interval": 2.0,
    "reel_ids_per_request": 20,
    "max_attempts": 3,
    "request_jitter": 0.4,
    "action_block_cooldown_hours": 6.0,
    "not_found_recheck_days": 1,
    "dense_doc_id": "",
    "notifications_enabled": True,
    "notification_email": None,
}


def _values(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("created_at", "updated_at")}


def test_first_get_creates_the_defaults(client, db):  # type: ignore[no-untyped-def]
    response = client.get("/api/settings")

    assert response.status_code == 200
    body = response.get_json()
    assert _values(body) == DEFAULTS
    assert body["created_at"] and body["updated_at"]
    with db.read() as session:
        assert session.get(SystemSettings, 1) is not None
    assert _values(client.get("/api/settings").get_json()) == DEFAULTS


def test_get_settings_service_works_on_a_read_session(db):  # type: ignore[no-untyped-def]
    with db.read() as session:
        row = get_settings(session)
        assert row.id == 1 and row.max_threads == 8 and row.story_retention_hours == 24


def test_put_snake_case_subset_returns_everything(client):  # type: ignore[no-untyped-def]
    response = client.put(
        "/api/settings",
        json={"max_threads": 16, "min_request_interval": 0.5, "auto_trigger_enabled": True},
    )

    assert response.status_code == 200
    body = response.get_json()
    assert _values(body) == {
        **DEFAULTS,
        "max_threads": 16,
        "min_request_interval": 0.5,
        "auto_trigger_enabled": True,
    }
    assert _values(client.get("/api/settings").get_json()) == _values(body)


def test_put_the_original_clients_camel_case(client):  # type: ignore[no-untyped-def]
    body = client.put(
        "/api/settings",
        json={
            "profilesPerMinute": 30,
            "threadCount": 5,
            "storiesPerDay": 10,
            "storyRetentionHours": 48,
            "defaultBatchSize": 250,
            "minTriggerInterval": 15,
            "autoTriggerEnabled": True,
            "proxyTestTimeout": 10000,
            "proxyMaxFailures": 4,
            "proxyHourlyLimit": 200,
            "maxConcurrentBatches": 2,
            "minRequestInterval": 1.5,
            "reelIdsPerRequest": 10,
            "maxAttempts": 5,
            "systemRateLimit": 1000,
            "activeHours": {"start": 0, "end": 24},
        },
    ).get_json()

    assert _values(body) == {
        **DEFAULTS,
        "profiles_per_minute": 30,
        "max_threads": 5,
        "story_retention_hours": 48,
        "default_batch_size": 250,
        "min_trigger_interval": 15,
        "auto_trigger_enabled": True,
        "proxy_test_timeout": 10,
        "proxy_max_failures": 4,
        "proxy_hourly_limit": 200,
        "max_concurrent_batches": 2,
        "min_request_interval": 1.5,
        "reel_ids_per_request": 10,
        "max_attempts": 5,
    }


def test_single_key_bodies_the_original_client_sends(client):  # type: ignore[no-untyped-def]
    for payload in ({"storiesPerDay": 7}, {"profilesPerMinute": 12}, {"threadCount": 3}):
        assert client.put("/api/settings", json=payload).status_code == 200
    body = client.get("/api/settings").get_json()
    assert (body["profiles_per_minute"], body["max_threads"]) == (12, 3)


def test_null_values_from_nan_are_ignored(client):  # type: ignore[no-untyped-def]
    client.put("/api/settings", json={"max_threads": 4})
    response = client.put("/api/settings", json={"threadCount": None, "profilesPerMinute": None})
    assert response.status_code == 200
    assert response.get_json()["max_threads"] == 4


def test_snake_case_wins_over_camel_case(client):  # type: ignore[no-untyped-def]
    body = client.put("/api/settings", json={"max_threads": 6, "threadCount": 9}).get_json()
    assert body["max_threads"] == 6


def test_read_only_and_unknown_keys_are_ignored(client):  # type: ignore[no-untyped-def]
    created = client.get("/api/settings").get_json()["created_at"]
    body = client.put(
        "/api/settings",
        json={"id": 99, "created_at": "2000-01-01T00:00:00+00:00", "whatever": 1},
    ).get_json()
    assert body["id"] == 1 and body["created_at"] == created
    assert client.put("/api/settings", json={}).status_code == 200


def test_numeric_strings_and_whole_floats_are_accepted(client):  # type: ignore[no-untyped-def]
    body = client.put("/api/settings", json={"max_threads": "12", "max_attempts": 4.0}).get_json()
    assert (body["max_threads"], body["max_attempts"]) == (12, 4)


def test_email(client):  # type: ignore[no-untyped-def]
    body = client.put("/api/settings", json={"notification_email": "ops@example.com"}).get_json()
    assert body["notification_email"] == "ops@example.com"
    body = client.put("/api/settings", json={"notificationEmail": None}).get_json()
    assert body["notification_email"] is None
    response = client.put("/api/settings", json={"notification_email": "not-an-email"})
    assert "Invalid email format" in assert_error(response, 400)["errors"]


def test_invalid_values_change_nothing(client):  # type: ignore[no-untyped-def]
    before = client.get("/api/settings").get_json()

    response = client.put(
        "/api/settings", json={"max_threads": 32, "story_retention_hours": 0, "maxAttempts": "x"}
    )

    body = assert_error(response, 400)
    assert body["error"] == "validation_error"
    assert len(body["errors"]) == 2
    assert body["details"] == {"field": "story_retention_hours", "valid_range": "1-720"}
    assert "story_retention_hours" in body["message"]
    assert client.get("/api/settings").get_json() == before


def _kind(name: str) -> object:
    """The value type (`Number`, `Flag`, `Email`, `Digits`) of a setting."""
    (marker,) = SettingsValues.model_fields[name].metadata
    return marker


def _bad_values(name: str) -> list[object]:
    kind = _kind(name)
    if isinstance(kind, Flag):
        return ["perhaps", 2, [True]]
    if isinstance(kind, Email):
        return ["nobody", "a@b", 5]
    if isinstance(kind, Digits):
        return ["12ab", "1" * 65, "１２", True, -1, 1.5, {"n": 1}]
    assert isinstance(kind, Number) and kind.minimum is not None and kind.maximum is not None
    return [kind.minimum - 1, kind.maximum + 1, True, "many", 10**400, {"n": 1}]


@pytest.mark.parametrize("name", SETTING_NAMES)
def test_every_range_is_enforced(client, name):  # type: ignore[no-untyped-def]
    before = client.get("/api/settings").get_json()
    for value in _bad_values(name):
        body = assert_error(client.put("/api/settings", json={name: value}), 400)
        assert body["details"]["field"] == name
        assert body["details"]["valid_range"] == valid_range(name)
    assert client.get("/api/settings").get_json() == before


@pytest.mark.parametrize("name", [n for n in SETTING_NAMES if isinstance(_kind(n), Number)])
def test_range_edges_are_accepted(client, name):  # type: ignore[no-untyped-def]
    field = _kind(name)
    assert isinstance(field, Number)
    for value in (field.minimum, field.maximum):
        response = client.put("/api/settings", json={name: value})
        assert response.status_code == 200, response.get_json()
        assert response.get_json()[name] == value


@pytest.mark.parametrize("raw", ["[1, 2]", '"text"', "null", "{broken", "", "42"])
def test_non_object_bodies_are_400(client, raw):  # type: ignore[no-untyped-def]
    assert_error(client.put("/api/settings", data=raw, content_type="application/json"), 400)


def test_nul_characters_never_cause_a_500(client):  # type: ignore[no-untyped-def]
    response = client.put("/api/settings", json={"notification_email": "a\x00@example.com"})
    assert response.status_code < 500


def test_engine_answer_settings_validate_their_ranges(client):  # type: ignore[no-untyped-def]
    ok = client.put(
        "/api/settings",
        json={
            "request_jitter": 0.25,
            "actionBlockCooldownHours": 12,
            "not_found_recheck_days": 30,
            "dense_doc_id": " 8845758582119845 ",
        },
    )
    assert ok.status_code == 200, ok.get_data(as_text=True)
    body = ok.get_json()
    assert (body["request_jitter"], body["action_block_cooldown_hours"]) == (0.25, 12.0)
    assert (body["not_found_recheck_days"], body["dense_doc_id"]) == (30, "8845758582119845")
    for field, value in (
        ("request_jitter", 0.95),
        ("action_block_cooldown_hours", 0.1),
        ("not_found_recheck_days", 0),
        ("dense_doc_id", "12ab"),
    ):
        error = assert_error(client.put("/api/settings", json={field: value}), 400)
        assert error["details"]["field"] == field
    off = client.put("/api/settings", json={"dense_doc_id": ""})
    assert off.status_code == 200 and off.get_json()["dense_doc_id"] == ""
