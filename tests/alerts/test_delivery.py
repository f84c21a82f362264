"""The delivery loop against a real webhook receiver and a real SMTP server."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from storycheck.alerts import channels
from storycheck.alerts.delivery import AlertDeliverer, AlertOptions, backoff_delay, retry_now
from storycheck.alerts.models import AlertDelivery
from storycheck.alerts.sources import on_new_story_windows
from storycheck.app import Maintenance
from storycheck.batches.state import BatchStateManager
from storycheck.crypto import SecretBox
from storycheck.db import Database, utcnow
from tests.alerts.conftest import WEBHOOK_SECRET, Receiver
from tests.factories import make_niche, make_profiles, set_settings
from tests.helpers import wait_until

FAST = AlertOptions(poll_interval=0.05, backoff_base=0.02, backoff_cap=0.2)


def webhook(db: Database, secrets: SecretBox, receiver: Receiver, **changes: Any) -> str:
    """Create a webhook channel to `receiver`; return its id."""
    data: dict[str, Any] = {
        "name": f"hook-{receiver.port}",
        "kind": "webhook",
        "secret": WEBHOOK_SECRET,
        "rate_limit_per_minute": 0,
        "config": {"url": receiver.url, "timeout_seconds": 5},
    }
    config = changes.pop("config", {})
    data.update(changes)
    data["config"].update(config)
    with db.write() as session:
        return channels.create_channel(session, data, secrets).id


def email(db: Database, secrets: SecretBox, port: int, **config: Any) -> str:
    """Create an SMTP channel to the local server; return its id."""
    data = {
        "name": f"mail-{port}",
        "kind": "email",
        "rate_limit_per_minute": 0,
        "config": {"host": "127.0.0.1", "port": port, "security": "none",
                   "from_address": "alerts@storycheck.test", **config},
    }
    with db.write() as session:
        return channels.create_channel(session, data, secrets).id


def stories(db: Database, count: int, niche_id: str | None = None) -> list[str]:
    """Record `story.detected` for `count` new profiles; return the event ids."""
    niche_id = niche_id or make_niche(db, daily_story_target=0)
    profiles = make_profiles(db, niche_id, count)
    with db.write() as session:
        return on_new_story_windows(session, profiles, utcnow())


def deliveries(db: Database, channel_id: str | None = None) -> list[AlertDelivery]:
    with db.read() as session:
        query = select(AlertDelivery)
        if channel_id:
            query = query.where(AlertDelivery.channel_id == channel_id)
        return list(session.scalars(query))


def running(db: Database, secrets: SecretBox, options: AlertOptions = FAST,
            **kwargs: Any) -> AlertDeliverer:
    deliverer = AlertDeliverer(db, secrets, options, **kwargs)
    deliverer.start()
    return deliverer


def test_every_event_reaches_every_channel_once_signed(alert_db, secrets, receivers,
                                                       smtp_server):
    signed, plain = receivers(), receivers()
    smtp_port, mailbox = smtp_server
    signed_id = webhook(alert_db, secrets, signed)
    webhook(alert_db, secrets, plain, secret=None)
    email(alert_db, secrets, smtp_port, to=["ops@storycheck.test"])
    event_ids = stories(alert_db, 25)
    deliverer = running(alert_db, secrets)
    try:
        wait_until(lambda: len(signed.accepted()) == 25 and len(plain.accepted()) == 25
                   and len(mailbox.messages) == 25, timeout=60, what="75 deliveries")
        wait_until(lambda: [d.status for d in deliveries(alert_db)] == ["delivered"] * 75,
                   timeout=10, what="deliveries marked")
    finally:
        deliverer.stop()
    assert sorted(signed.event_ids()) == sorted(event_ids)
    assert sorted(plain.event_ids()) == sorted(event_ids)
    mailed = [m["X-Storycheck-Event-Id"] for m in mailbox.messages]
    assert sorted(mailed) == sorted(event_ids)
    assert all(env == ["ops@storycheck.test"] for env in mailbox.envelopes)
    for request in signed.accepted():
        expected = hmac.new(WEBHOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["x-storycheck-signature"] == f"sha256={expected}"
        assert request.headers["x-storycheck-event-id"] == request.json["id"]
        assert request.json["type"] == "story.detected"
    assert all("x-storycheck-signature" not in r.headers for r in plain.accepted())
    rows = deliveries(alert_db)
    assert len(rows) == 75 and {d.attempts for d in rows} == {1}
    assert len({(d.event_id, d.channel_id) for d in rows}) == 75
    assert len(deliveries(alert_db, signed_id)) == 25


def test_receiver_failing_three_times_gets_it_once_after_four_attempts(alert_db, secrets,
                                                                        receivers):
    receiver = receivers(statuses=[500, 500, 500])
    channel_id = webhook(alert_db, secrets, receiver)
    (event_id,) = stories(alert_db, 1)
    deliverer = running(alert_db, secrets)
    try:
        wait_until(lambda: [d.status for d in deliveries(alert_db)] == ["delivered"], timeout=30,
                   what="delivered after retries")
    finally:
        deliverer.stop()
    assert [r.status for r in receiver.received] == [500, 500, 500, 200]
    assert receiver.event_ids() == [event_id]
    assert {r.headers["x-storycheck-event-id"] for r in receiver.received} == {event_id}
    (row,) = deliveries(alert_db, channel_id)
    assert row.attempts == 4 and row.last_error is None


def test_gives_up_after_the_channels_attempts_and_retry_now_sends_again(alert_db, secrets,
                                                                       receivers):
    receiver = receivers(statuses=[503, 503])
    webhook(alert_db, secrets, receiver, config={"max_attempts": 2})
    stories(alert_db, 1)
    deliverer = running(alert_db, secrets)
    try:
        wait_until(lambda: [d.status for d in deliveries(alert_db)] == ["failed"], timeout=30,
                   what="failed after 2 attempts")
        (row,) = deliveries(alert_db)
        assert row.attempts == 2
        assert row.last_error == f"http://127.0.0.1:{receiver.port} answered HTTP 503"
        with alert_db.write() as session:
            retry_now(session, row.id, utcnow())
        wait_until(lambda: [d.status for d in deliveries(alert_db)] == ["delivered"], timeout=30,
                   what="delivered after retry now")
    finally:
        deliverer.stop()
    assert deliveries(alert_db)[0].attempts == 3
    assert len(receiver.accepted()) == 1


def test_rate_limit_sends_the_rest_as_one_digest(alert_db, secrets, receivers):
    receiver = receivers()
    webhook(alert_db, secrets, receiver, rate_limit_per_minute=3)
    event_ids = stories(alert_db, 12)
    deliverer = running(alert_db, secrets)
    try:
        wait_until(lambda: [d.status for d in deliveries(alert_db)] == ["delivered"] * 12,
                   timeout=30, what="all delivered")
    finally:
        deliverer.stop()
    bodies = [r.json for r in receiver.accepted()]
    assert [b["type"] for b in bodies] == ["story.detected", "story.detected", "digest"]
    assert bodies[2]["count"] == 10
    assert sorted(receiver.event_ids()) == sorted(event_ids)
    assert receiver.accepted()[2].headers["x-storycheck-event-type"] == "digest"
    assert len({d.message_id for d in deliveries(alert_db)}) == 3


def test_email_digest_every_n_minutes(alert_db, secrets, smtp_server):
    port, mailbox = smtp_server
    set_settings(alert_db, notification_email="owner@storycheck.test")
    channel_id = email(alert_db, secrets, port, digest_minutes=5)
    now = [utcnow()]
    deliverer = AlertDeliverer(alert_db, secrets, FAST, clock=lambda: now[0])
    stories(alert_db, 4)
    deliverer.tick_sync()
    assert len(mailbox.messages) == 1
    assert mailbox.envelopes == [["owner@storycheck.test"]]  # the notification_email setting
    assert mailbox.messages[0]["Subject"] == "[storycheck] 4 alerts"
    assert mailbox.messages[0].get_payload().count("story.detected") == 4
    stories(alert_db, 2)
    now[0] += timedelta(minutes=4)
    deliverer.tick_sync()
    assert len(mailbox.messages) == 1  # the next digest is not due yet
    now[0] += timedelta(minutes=1, seconds=1)
    deliverer.tick_sync()
    assert len(mailbox.messages) == 2
    assert {d.status for d in deliveries(alert_db, channel_id)} == {"delivered"}


def test_hanging_receiver_blocks_neither_other_channels_nor_maintenance(alert_db, secrets,
                                                                      receivers):
    hanging, healthy = receivers(hang=True), receivers()
    hanging_id = webhook(alert_db, secrets, hanging, config={"timeout_seconds": 30})
    healthy_id = webhook(alert_db, secrets, healthy)
    ticks: list[datetime] = []
    maintenance = Maintenance(BatchStateManager(alert_db), 0.05,
                              housekeeping=lambda: ticks.append(utcnow()),
                              housekeeping_interval=0.0)
    maintenance.start()
    deliverer = running(alert_db, secrets)
    try:
        event_ids = stories(alert_db, 5)
        wait_until(lambda: len(healthy.accepted()) == 5 and len(hanging.received) == 0
                   and any(d.status == "in_flight" for d in deliveries(alert_db, hanging_id)),
                   timeout=20, what="the healthy channel served while the other hangs")
        ticks_before = len(ticks)
        more = stories(alert_db, 3)
        wait_until(lambda: len(healthy.accepted()) == 8, timeout=20,
                   what="later events too")
        wait_until(lambda: len(ticks) > ticks_before + 3, timeout=10,
                   what="maintenance keeps ticking")
        assert sorted(healthy.event_ids()) == sorted(event_ids + more)
        waiting = {d.status for d in deliveries(alert_db, hanging_id)}
        assert waiting <= {"pending", "in_flight"} and hanging.accepted() == []
        wait_until(lambda: {d.status for d in deliveries(alert_db, healthy_id)} == {"delivered"},
                   timeout=10, what="healthy deliveries marked")
    finally:
        hanging.release.set()
        deliverer.stop()
        maintenance.stop()


def test_filters_by_event_type_and_niche(alert_db, secrets, receivers):
    wanted_niche = make_niche(alert_db, daily_story_target=0)
    other_niche = make_niche(alert_db, daily_story_target=0)
    by_niche, by_type = receivers(), receivers()
    webhook(alert_db, secrets, by_niche, niche_ids=[wanted_niche])
    webhook(alert_db, secrets, by_type, event_types=["batch.completed"])
    wanted = stories(alert_db, 2, wanted_niche)
    stories(alert_db, 3, other_niche)
    deliverer = AlertDeliverer(alert_db, secrets, FAST)
    deliverer.tick_sync()
    assert sorted(by_niche.event_ids()) == sorted(wanted)
    assert by_type.received == []


def test_notifications_disabled_records_events_and_sends_nothing(alert_db, secrets, receivers):
    receiver = receivers()
    webhook(alert_db, secrets, receiver)
    set_settings(alert_db, notifications_enabled=False)
    stories(alert_db, 3)
    AlertDeliverer(alert_db, secrets, FAST).tick_sync()
    assert receiver.received == [] and deliveries(alert_db) == []


def test_secrets_stay_out_of_logs_and_errors(alert_db, secrets, receivers, smtp_server, caplog):
    port, _ = smtp_server
    receiver = receivers(statuses=[500])
    webhook(alert_db, secrets, receiver, config={"max_attempts": 1})
    password = "smtp-password-never-shown"
    with alert_db.write() as session:
        channels.create_channel(session, {
            "name": "auth-mail", "kind": "email", "secret": password,
            "config": {"host": "127.0.0.1", "port": port, "security": "none",
                       "username": "bob", "from_address": "a@storycheck.test",
                       "to": ["b@storycheck.test"], "max_attempts": 1},
        }, secrets)
    stories(alert_db, 1)
    caplog.set_level(logging.DEBUG)
    AlertDeliverer(alert_db, secrets, FAST).tick_sync()
    rows = deliveries(alert_db)
    assert {d.status for d in rows} == {"failed"}
    errors = " ".join(d.last_error or "" for d in rows)
    assert "answered HTTP 500" in errors and "SMTP server 127.0.0.1" in errors
    for secret in (WEBHOOK_SECRET, password):
        assert secret not in caplog.text and secret not in errors


def test_full_jitter_backoff_stays_under_the_exponential_cap():
    import random

    rng = random.Random(3)
    delays = [backoff_delay(n, 2.0, 60.0, rng) for n in range(1, 9) for _ in range(50)]
    assert all(0 <= d <= 60 for d in delays)
    assert max(backoff_delay(1, 2.0, 60.0, rng) for _ in range(100)) <= 2.0
    assert Counter(d > 30 for d in delays)[True] > 0  # late attempts do wait long


def test_claims_are_leases_a_second_sender_cannot_take(alert_db, secrets, receivers):
    receiver = receivers()
    channel_id = webhook(alert_db, secrets, receiver)
    stories(alert_db, 1)
    first = AlertDeliverer(alert_db, secrets, FAST)
    second = AlertDeliverer(alert_db, secrets, FAST)
    first.fan_out_now()
    claim = first.claim(channel_id)
    assert claim is not None
    assert second.claim(channel_id) is None  # leased
    first.mark_delivered(claim)
    second.mark_failed(claim, "late")  # a stale token changes nothing
    (row,) = deliveries(alert_db)
    assert row.status == "delivered" and row.last_error is None
