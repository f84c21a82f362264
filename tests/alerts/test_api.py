"""The alerts API: channels with masked secrets, clear refusals, "Send test", the log, retry."""

from __future__ import annotations

import hashlib
import hmac
import logging

import pytest

from storycheck.alerts.delivery import AlertDeliverer, AlertOptions
from storycheck.alerts.sources import on_new_story_windows
from storycheck.db import utcnow
from tests.alerts.conftest import WEBHOOK_SECRET
from tests.factories import make_niche, make_profiles
from tests.helpers import free_port


def _webhook(client, url: str, **extra):
    body = {"name": extra.pop("name", "hook"), "kind": "webhook", "secret": WEBHOOK_SECRET,
            "config": {"url": url, "timeout_seconds": 3}, **extra}
    return client.post("/api/alerts/channels", json=body)


def test_channel_crud_never_shows_the_secret(client, receivers, caplog):
    caplog.set_level(logging.DEBUG)
    receiver = receivers()
    created = _webhook(client, receiver.url, event_types=["story.detected"])
    assert created.status_code == 201, created.json
    channel = created.json
    assert channel["secret"] == "…" and channel["config"]["url"] == receiver.url
    assert channel["event_types"] == ["story.detected"] and channel["enabled"] is True
    listed = client.get("/api/alerts/channels")
    changed = client.put(f"/api/alerts/channels/{channel['id']}",
                         json={"enabled": False, "config": {"timeout_seconds": 7}})
    assert changed.status_code == 200
    assert changed.json["enabled"] is False and changed.json["config"]["timeout_seconds"] == 7
    assert changed.json["config"]["url"] == receiver.url and changed.json["secret"] == "…"
    for response in (created, listed, changed):
        assert WEBHOOK_SECRET not in response.get_data(as_text=True)
    assert WEBHOOK_SECRET not in caplog.text
    cleared = client.put(f"/api/alerts/channels/{channel['id']}", json={"secret": None})
    assert cleared.json["secret"] is None
    assert client.delete(f"/api/alerts/channels/{channel['id']}").status_code == 204
    assert client.get("/api/alerts/channels").json == []
    assert client.delete(f"/api/alerts/channels/{channel['id']}").status_code == 404


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://127.0.0.1/hook", "http:// or https://"),
        ("127.0.0.1:8080/hook", "http:// or https://"),
        ("http://", "host name"),
        ("http://127.0.0.1:99999/hook", "port"),
        ("http://127.0.0.1/ho ok", "spaces"),
        ("http://user:pw@127.0.0.1/hook", "credentials"),
        ("", "url is required"),
    ],
)
def test_invalid_urls_are_refused_clearly(client, url, says):
    response = _webhook(client, url)
    assert response.status_code == 400
    assert response.json["details"]["field"] == "url"
    assert says in response.json["message"]


def test_other_bad_input_is_refused(client):
    assert client.post("/api/alerts/channels", json={"name": "x", "kind": "sms"}).status_code == 400
    bad_type = _webhook(client, "http://127.0.0.1:9/h", event_types=["story.maybe"])
    assert bad_type.status_code == 400 and "story.maybe" in bad_type.json["message"]
    bad_niche = _webhook(client, "http://127.0.0.1:9/h", niche_ids=["nope"])
    assert bad_niche.status_code == 400
    mail = client.post("/api/alerts/channels", json={
        "name": "m", "kind": "email", "config": {"host": "127.0.0.1", "from_address": "nope"}})
    assert mail.status_code == 400 and mail.json["details"]["field"] == "from_address"
    assert _webhook(client, "http://127.0.0.1:9/h").status_code == 201
    assert _webhook(client, "http://127.0.0.1:9/h").status_code == 409  # same name


def test_send_test_reaches_the_webhook_signed(client, receivers):
    receiver = receivers()
    channel_id = _webhook(client, receiver.url).json["id"]
    response = client.post(f"/api/alerts/channels/{channel_id}/test")
    assert response.status_code == 200 and response.json["ok"] is True
    (request,) = receiver.received
    assert request.json["type"] == "alert.test"
    expected = hmac.new(WEBHOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-storycheck-signature"] == f"sha256={expected}"


def test_send_test_explains_an_unreachable_url_and_smtp_host(client):
    port = free_port()
    channel_id = _webhook(client, f"http://127.0.0.1:{port}/hook").json["id"]
    response = client.post(f"/api/alerts/channels/{channel_id}/test")
    assert response.status_code == 502 and response.json["error"] == "delivery_failed"
    assert response.json["message"] == (
        f"Test message not delivered: Could not reach http://127.0.0.1:{port}: "
        "connection refused"
    )
    mail = client.post("/api/alerts/channels", json={
        "name": "mail", "kind": "email", "secret": "smtp-pass-hidden",
        "config": {"host": "127.0.0.1", "port": port, "security": "starttls",
                   "username": "u", "from_address": "a@storycheck.test",
                   "to": "b@storycheck.test, c@storycheck.test"}})
    assert mail.status_code == 201, mail.json
    assert mail.json["config"]["to"] == ["b@storycheck.test", "c@storycheck.test"]
    response = client.post(f"/api/alerts/channels/{mail.json['id']}/test")
    assert response.status_code == 502
    assert response.json["message"] == (
        f"Test message not delivered: Could not connect to SMTP server 127.0.0.1:{port}: "
        "connection refused"
    )
    assert "smtp-pass-hidden" not in response.get_data(as_text=True)
    assert client.post("/api/alerts/channels/nope/test").status_code == 404


def test_send_test_over_smtp(client, smtp_server):
    port, mailbox = smtp_server
    assert client.put("/api/settings", json={"notification_email": "me@storycheck.test"}
                      ).status_code == 200
    channel = client.post("/api/alerts/channels", json={
        "name": "mail", "kind": "email",
        "config": {"host": "127.0.0.1", "port": port, "security": "none",
                   "from_address": "alerts@storycheck.test"}}).json
    response = client.post(f"/api/alerts/channels/{channel['id']}/test")
    assert response.status_code == 200, response.json
    assert mailbox.envelopes == [["me@storycheck.test"]]
    assert mailbox.messages[0]["Subject"].startswith("[storycheck] Test alert")


def test_events_deliveries_and_retry(client, db, services, receivers):
    receiver = receivers(statuses=[500])
    channel_id = _webhook(client, receiver.url, config={"url": receiver.url,
                                                        "max_attempts": 1}).json["id"]
    niche_id = make_niche(db, name="beauty", daily_story_target=0)
    profiles = make_profiles(db, niche_id, 2)
    with db.write() as session:
        event_ids = on_new_story_windows(session, profiles, utcnow())
    events = client.get("/api/alerts/events?limit=5").json["events"]
    assert sorted(e["id"] for e in events) == sorted(event_ids)
    assert all(e["summary"].endswith("posted a story (beauty)") for e in events)
    deliverer = AlertDeliverer(db, services.secrets, AlertOptions(backoff_base=0.01))
    deliverer.tick_sync()
    log = client.get("/api/alerts/deliveries").json
    assert log["total"] == 2
    statuses = sorted(d["status"] for d in log["deliveries"])
    assert statuses == ["delivered", "failed"]
    failed = client.get("/api/alerts/deliveries?status=failed").json["deliveries"][0]
    assert failed["attempts"] == 1 and failed["channel_id"] == channel_id
    assert failed["last_error"].endswith("answered HTTP 500")
    assert failed["event_type"] == "story.detected" and failed["next_attempt_at"] is None
    retried = client.post(f"/api/alerts/deliveries/{failed['id']}/retry")
    assert retried.status_code == 200 and retried.json["status"] == "pending"
    deliverer.tick_sync()
    assert client.get("/api/alerts/deliveries?status=delivered").json["total"] == 2
    again = client.post(f"/api/alerts/deliveries/{failed['id']}/retry")
    assert again.status_code == 409
    assert client.post("/api/alerts/deliveries/nope/retry").status_code == 404
    assert client.get("/api/alerts/deliveries?status=weird").status_code == 400
    assert client.get("/api/alerts/events?type=weird").status_code == 400


def test_channel_body_is_checked_by_its_model(client):
    import pydantic

    from storycheck.alerts.schemas import AlertChannelInput

    url = "http://127.0.0.1:9/h"
    cases = [
        ({"enabled": "yes"}, "enabled", "enabled must be true or false"),
        ({"rate_limit_per_minute": 10_001}, "rate_limit_per_minute",
         "rate_limit_per_minute must be within 0-10000"),
        ({"event_types": "story.detected"}, "event_types",
         "event_types must be a list of event types"),
        ({"niche_ids": [1]}, "niche_ids", "niche_ids must be a list of niche ids"),
        ({"config": ["url"]}, "config", "config must be an object"),
        ({"name": "x" * 101}, "name", "name is longer than 100 characters"),
    ]
    for extra, field, message in cases:
        with pytest.raises(pydantic.ValidationError):
            AlertChannelInput.model_validate(extra)
        response = _webhook(client, url, **extra)
        assert response.status_code == 400, response.json
        assert response.json["error"] == "validation_error"
        assert (response.json["details"]["field"], response.json["message"]) == (field, message)
    # A secret that is refused is never repeated, whichever key carried it.
    for key in ("secret", "password"):
        secret = WEBHOOK_SECRET * 200
        response = _webhook(client, url, **{key: secret})
        assert response.status_code == 400 and response.json["details"]["field"] == "secret"
        assert WEBHOOK_SECRET not in response.get_data(as_text=True)
    created = _webhook(client, url)
    assert created.status_code == 201
    changed = client.put(f"/api/alerts/channels/{created.json['id']}", json={"enabled": 2})
    assert changed.status_code == 400 and changed.json["details"]["field"] == "enabled"
