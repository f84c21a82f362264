"""Request models answer bad input with the one 400 shape: `error`, `message`, `errors`,
`details.field` (+ `valid_range`), worded as before the models existed."""

from __future__ import annotations

from typing import Annotated, Any

import pydantic
import pytest

from storycheck.fields import Number
from storycheck.web.errors import validation_error_body
from storycheck.web.openapi import build_spec
from tests.factories import make_niche, make_profiles

ERROR_SCHEMA = build_spec()["components"]["schemas"]["Error"]


def _bad(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    assert set(ERROR_SCHEMA["required"]) <= set(body) <= set(ERROR_SCHEMA["properties"])
    assert body["error"] == "validation_error"
    assert body["errors"] and body["message"]
    return body


@pytest.mark.parametrize(
    ("path", "payload", "message", "details"),
    [
        ("/api/niches", {"name": 5}, "Niche name must be a string", {"field": "name"}),
        ("/api/niches", {"order": 1}, "name is required", {"field": "name"}),
        ("/api/niches", {"name": "n", "order": "first"}, "order must be an integer",
         {"field": "order", "valid_range": "-1000000-1000000"}),
        ("/api/niches", {"name": "n", "daily_story_target": -1},
         "daily_story_target must be within 0-1000000",
         {"field": "daily_story_target", "valid_range": "0-1000000"}),
        ("/api/niches", {"name": "x" * 51}, "Niche name is longer than 50 characters",
         {"field": "name", "valid_range": "1-50 characters"}),
        ("/api/niches/reorder", {"niche_ids": ["a", "a"]}, "niche_ids lists a niche more than once",
         {"field": "niche_ids"}),
        ("/api/batches/stop", {"batch_ids": "x"}, "batch_ids must be a list of ids",
         {"field": "batch_ids"}),
        ("/api/batches/stop", {}, "batch_ids is required", {"field": "batch_ids"}),
        ("/api/batches", {"profile_ids": ["a"]}, "niche_id is required", {"field": "niche_id"}),
        ("/api/batches", {"niche_id": "n", "all_profiles": "yes"},
         "all_profiles must be true or false",
         {"field": "all_profiles", "valid_range": "true or false"}),
        ("/api/batches", {"niche_id": "n"}, "profile_ids is required", {"field": "profile_ids"}),
        ("/api/profiles", {"username": "a b"},
         "Invalid username format: use 1-30 letters, digits, '.' or '_'",
         {"field": "username", "valid_range": "^[A-Za-z0-9._]{1,30}$"}),
        ("/api/profiles/bulk", {"profile_ids": ["p"], "status": "gone"},
         "Invalid status. Must be one of: active, inactive, deleted, suspended",
         {"field": "status", "valid_range": ["active", "inactive", "deleted", "suspended"]}),
        ("/api/profiles/clear-not-found", {"profile_ids": [1]},
         "profile_ids must be a non-empty list of id strings", {"field": "profile_ids"}),
    ],
)
def test_one_problem(client, path, payload, message, details) -> None:  # type: ignore[no-untyped-def]
    body = _bad(client.post(path, json=payload))
    assert (body["message"], body["details"], body["errors"]) == (message, details, [message])


def test_several_problems_are_listed_and_the_first_is_detailed(client, db) -> None:  # type: ignore[no-untyped-def]
    niche = make_niche(db, name="n")
    body = _bad(client.put(f"/api/niches/{niche}", json={"name": "", "order": True}))
    assert body["errors"] == ["Niche name cannot be empty", "order must be an integer, not true/false"]
    assert body["message"] == "Validation errors: " + "; ".join(body["errors"])
    assert body["details"] == {"field": "name"}


def test_a_refused_body_changes_nothing(client, db) -> None:  # type: ignore[no-untyped-def]
    niche = make_niche(db, name="keep")
    (profile,) = make_profiles(db, niche, 1)
    _bad(client.put(f"/api/profiles/{profile}", json={"status": "active", "username": 7}))
    _bad(client.put(f"/api/niches/{niche}", json={"name": "other", "daily_story_target": -5}))
    assert client.get(f"/api/niches/{niche}").get_json()["name"] == "keep"
    assert client.get(f"/api/profiles/{profile}").get_json()["status"] == "active"


def test_null_niche_id_removes_the_niche_but_a_missing_one_keeps_it(client, db) -> None:  # type: ignore[no-untyped-def]
    niche = make_niche(db, name="home")
    (profile,) = make_profiles(db, niche, 1)
    assert client.put(f"/api/profiles/{profile}", json={"status": "inactive"}).get_json()[
        "niche_id"
    ] == niche
    assert client.put(f"/api/profiles/{profile}", json={"niche_id": None}).get_json()[
        "niche_id"
    ] is None


class _Sample(pydantic.BaseModel):
    ids: list[str]
    count: Annotated[int, Number(1, 5)]


def test_pydantics_own_checks_are_worded_like_the_api() -> None:
    with pytest.raises(pydantic.ValidationError) as missing:
        _Sample.model_validate({"count": 9})
    body = validation_error_body(missing.value)
    assert body["errors"] == ["ids is required", "count must be within 1-5"]
    assert body["details"] == {"field": "ids"}
    with pytest.raises(pydantic.ValidationError) as wrong:
        _Sample.model_validate({"ids": [3], "count": 2})
    assert validation_error_body(wrong.value)["errors"] == ["ids.0 must be a string"]
