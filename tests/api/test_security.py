"""Access control, body limits and secret handling at the HTTP edge."""

from __future__ import annotations

import logging

import click
import pytest

from storycheck.app import create_app, shutdown
from storycheck.cli import run_server
from storycheck.config import Config, is_loopback
from tests.conftest import TEST_SECRET_KEY

TOKEN = "s3cret-token-for-tests"
COOKIE = "IGSESSIONCOOKIE1234567890abcdef"
PASSWORD = "proxy-pass-9876543210"


@pytest.fixture
def token_client(sqlite_url):
    app = create_app(
        Config(database_url=sqlite_url, engine_enabled=False, secret_key=TEST_SECRET_KEY,
               api_token=TOKEN),
        start_background=False,
    )
    yield app.test_client()
    shutdown(app)


def test_no_token_is_401(token_client):
    response = token_client.get("/api/batches")
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized" and response.json["message"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_wrong_token_is_401(token_client):
    response = token_client.get("/api/batches", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_right_token_passes(token_client):
    response = token_client.get("/api/batches", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200


def test_preflight_and_health_need_no_token(token_client):
    preflight = token_client.options(
        "/api/batches",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    assert token_client.get("/api/health").status_code == 200


def test_loopback_default_needs_no_token(client):
    assert client.get("/api/batches").status_code == 200


def test_non_loopback_bind_without_token_is_refused(sqlite_url):
    config = Config(database_url=sqlite_url, engine_enabled=False, secret_key=TEST_SECRET_KEY)
    with pytest.raises(click.ClickException, match="STORYCHECK_API_TOKEN"):
        run_server(config, host="0.0.0.0", port=0)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")


def test_body_over_the_limit_is_413(sqlite_url):
    app = create_app(
        Config(database_url=sqlite_url, engine_enabled=False, secret_key=TEST_SECRET_KEY,
               max_content_length=1024),
        start_background=False,
    )
    response = app.test_client().post("/api/niches", data="x" * 5000,
                                      content_type="application/json")
    assert response.status_code == 413 and response.json["error"] == "payload_too_large"
    shutdown(app)


def test_secrets_never_leave_the_server(client, caplog):
    caplog.set_level(logging.DEBUG)
    created = client.post(
        "/api/proxies",
        json={"ip": "127.0.0.1", "port": 9001, "username": "u", "password": PASSWORD,
              "session": COOKIE},
    )
    assert created.status_code == 201
    duplicate = client.post(
        "/api/proxies", json={"ip": "127.0.0.2", "port": 9002, "session": COOKIE}
    )
    assert duplicate.status_code == 409
    bodies = [
        created.get_data(as_text=True),
        duplicate.get_data(as_text=True),
        client.get("/api/proxies").get_data(as_text=True),
        client.get(f"/api/proxies/{created.json['id']}/error-logs").get_data(as_text=True),
    ]
    for text in [*bodies, caplog.text]:
        assert COOKIE not in text and PASSWORD not in text
    assert created.json["sessions"][0]["session"].startswith(COOKIE[:4])


def test_secrets_are_encrypted_at_rest(client, db):
    client.post(
        "/api/proxies",
        json={"ip": "127.0.0.1", "port": 9003, "password": PASSWORD, "username": "u",
              "session": COOKIE},
    )
    with db.engine.connect() as conn:
        dump = " ".join(
            str(row)
            for table in ("proxies", "sessions")
            for row in conn.exec_driver_sql(f"SELECT * FROM {table}")
        )
    assert COOKIE not in dump and PASSWORD not in dump
