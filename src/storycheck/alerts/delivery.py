"""The delivery loop: fan events out to channels, then send each delivery under a lease.

Like the engine's work items: a message is claimed in one transaction (status `in_flight`, a
fresh lease token, attempts + 1), sent outside any transaction, and marked delivered in a
third one only if the row still carries that token. A process killed after sending and before
marking leaves a lease that expires; the delivery is sent again, once per crash, and none is
lost. Each channel is served by one task at a time on a few daemon sender threads, with its
timeout, so a receiver that hangs delays only its own deliveries — never the engine (which
never waits for alerts) nor the maintenance thread (which does not send).
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import and_, distinct, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storycheck.alerts.channels import ChannelSpec, load_spec
from storycheck.alerts.events import event_to_dict, summary
from storycheck.alerts.models import AlertChannel, AlertDelivery, AlertEvent, DeliveryStatus
from storycheck.alerts.senders import SendError, send
from storycheck.config import read_settings
from storycheck.crypto import SecretBox
from storycheck.db import Database, new_id, utcnow
from storycheck.errors import Conflict
from storycheck.periodic import Periodic
from storycheck.settings.models import SystemSettings

log = logging.getLogger(__name__)

PENDING = DeliveryStatus.PENDING.value
IN_FLIGHT = DeliveryStatus.IN_FLIGHT.value
DELIVERED = DeliveryStatus.DELIVERED.value
FAILED = DeliveryStatus.FAILED.value


class AlertVariables(BaseSettings):
    """`STORYCHECK_ALERTS` (0 switches delivery off) and the `STORYCHECK_ALERTS_*` tunables;
    unset ones keep `AlertOptions`' defaults."""

    model_config = SettingsConfigDict(
        env_prefix="STORYCHECK_ALERTS_", env_ignore_empty=True, extra="ignore", frozen=True
    )

    enabled: bool | None = Field(default=None, validation_alias="STORYCHECK_ALERTS")
    poll_interval: float | None = None
    lease_seconds: float | None = None
    backoff_base: float | None = None
    backoff_cap: float | None = None
    stall_minutes: float | None = None


@dataclass(frozen=True)
class AlertOptions:
    """Tunables of the delivery loop (environment variables `STORYCHECK_ALERTS_*`)."""

    enabled: bool = True
    poll_interval: float = 1.0
    lease_seconds: float = 60.0
    backoff_base: float = 5.0
    backoff_cap: float = 3600.0
    fanout_batch: int = 500
    digest_max: int = 500
    messages_per_pass: int = 100
    sender_threads: int = 4
    stall_minutes: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlertOptions:
        """Defaults overridden by the variables of `AlertVariables` (`ConfigError` naming the
        variable when one does not parse)."""
        variables = read_settings(AlertVariables, env)
        return cls(**variables.model_dump(exclude_none=True))


def backoff_delay(attempts: int, base: float, cap: float, rng: random.Random) -> float:
    """Full jitter: a uniform wait between 0 and min(cap, base · 2^(attempts − 1))."""
    return rng.uniform(0.0, min(cap, base * 2 ** max(0, attempts - 1)))


def _due(now: datetime) -> Any:
    return or_(
        and_(AlertDelivery.status == PENDING, AlertDelivery.next_attempt_at <= now),
        and_(AlertDelivery.status == IN_FLIGHT, AlertDelivery.lease_expires_at < now),
    )


def fan_out(db: Database, now: datetime, *, limit: int = 500) -> int:
    """Create the deliveries of events not fanned out yet (one per event and matching
    channel, in one transaction with marking the events); return how many events."""
    with db.read() as session:
        if session.scalar(select(AlertEvent.id).where(AlertEvent.fanned_out_at.is_(None))
                          .limit(1)) is None:
            return 0
    with db.write() as session:
        query = (select(AlertEvent).where(AlertEvent.fanned_out_at.is_(None))
                 .order_by(AlertEvent.created_at).limit(limit))
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        events = session.scalars(query).all()
        if not events:
            return 0
        settings = session.get(SystemSettings, 1)
        enabled = settings is None or settings.notifications_enabled
        channels = session.scalars(select(AlertChannel).where(AlertChannel.enabled.is_(True))).all()
        rows = []
        for event in events if enabled else ():
            for channel in channels:
                types, niches = json.loads(channel.event_types), json.loads(channel.niche_ids)
                if types and event.type not in types:
                    continue
                if niches and event.niche_id not in niches:
                    continue
                rows.append({"id": new_id(), "event_id": event.id, "channel_id": channel.id,
                             "status": PENDING, "attempts": 0, "next_attempt_at": now,
                             "created_at": now, "updated_at": now})
        if rows:
            insert = sqlite_insert if db.is_sqlite else pg_insert
            session.execute(
                insert(AlertDelivery).on_conflict_do_nothing(
                    index_elements=["event_id", "channel_id"]
                ),
                rows,
            )
        session.execute(
            update(AlertEvent)
            .where(AlertEvent.id.in_([e.id for e in events]))
            .values(fanned_out_at=now)
            .execution_options(synchronize_session=False)
        )
        return len(events)


@dataclass
class Claim:
    """One message to send: its deliveries (several for a digest) under one lease token."""

    token: str
    spec: ChannelSpec
    events: list[dict[str, Any]]
    attempts: int
    default_recipient: str | None


class AlertDeliverer:
    """Runs the delivery loop in its own thread (plus a small pool of sender threads)."""

    def __init__(
        self,
        db: Database,
        secrets: SecretBox,
        options: AlertOptions | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.secrets = secrets
        self.options = options or AlertOptions()
        self.clock = clock
        self.rng = rng or random.Random()
        self._stop = threading.Event()  # senders finish their pass early once set
        self._ticker: Periodic | None = None
        self._senders: list[threading.Thread] = []
        # Channel ids to serve; None tells a sender thread to finish.
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def start(self, *, release_all_leases: bool = False) -> None:
        """Start the loop; in the single-process mode every lease left in the database
        belongs to a process that is gone, so those deliveries are due at once."""
        if release_all_leases:
            with self.db.write() as session:
                session.execute(
                    update(AlertDelivery)
                    .where(AlertDelivery.status == IN_FLIGHT)
                    .values(status=PENDING, lease_token=None, lease_expires_at=None)
                    .execution_options(synchronize_session=False)
                )
        # Daemon threads: a send hanging until its timeout must not hold up the process's exit
        # (a delivery cut off that way is sent again after its lease, like after a crash).
        self._senders = [
            threading.Thread(target=self._send_loop, name=f"alert-send-{n}", daemon=True)
            for n in range(self.options.sender_threads)
        ]
        for sender in self._senders:
            sender.start()
        self._ticker = (
            Periodic("alerts")
            .every(self.options.poll_interval, self.tick, what="alert delivery tick")
            .start()
        )

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming; a send in progress finishes (or times out) on its own thread."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.stop(timeout=timeout)
            self._ticker = None
        for _ in self._senders:
            self._queue.put(None)

    def tick(self) -> None:
        """Fan out new events, then hand every channel with due deliveries to a sender."""
        fan_out(self.db, self.clock(), limit=self.options.fanout_batch)
        for channel_id in self.due_channels():
            with self._lock:
                if channel_id in self._busy or not self._senders:
                    continue
                self._busy.add(channel_id)
            self._queue.put(channel_id)

    def fan_out_now(self) -> int:
        """Create the deliveries of new events now (tests and one-shot runs)."""
        return fan_out(self.db, self.clock(), limit=self.options.fanout_batch)

    def tick_sync(self) -> None:
        """One tick in the calling thread: fan out, then serve every due channel in turn."""
        self.fan_out_now()
        for channel_id in self.due_channels():
            self.run_channel(channel_id)

    def due_channels(self) -> list[str]:
        """Channels that have a delivery due now."""
        with self.db.read() as session:
            return list(session.scalars(
                select(AlertDelivery.channel_id).distinct().where(_due(self.clock()))
            ))

    def _send_loop(self) -> None:
        while True:
            channel_id = self._queue.get()
            if channel_id is None:
                return
            self._serve(channel_id)

    def _serve(self, channel_id: str) -> None:
        try:
            self.run_channel(channel_id)
        except Exception:
            log.exception("Alert delivery for channel %s failed", channel_id)
        finally:
            with self._lock:
                self._busy.discard(channel_id)

    def run_channel(self, channel_id: str) -> int:
        """Send the channel's due messages one by one (within its rate limit); return how
        many messages were attempted."""
        sent = 0
        while sent < self.options.messages_per_pass and not self._stop.is_set():
            claim = self.claim(channel_id)
            if claim is None:
                break
            sent += 1
            try:
                send(claim.spec, claim.events, claim.token,
                     default_recipient=claim.default_recipient)
            except SendError as exc:
                self.mark_failed(claim, str(exc))
            except Exception as exc:  # a sender bug must not strand the lease
                log.exception("Unexpected error sending alert on channel %s", channel_id)
                self.mark_failed(claim, f"internal error: {type(exc).__name__}")
            else:
                self.mark_delivered(claim)
        return sent

    def claim(self, channel_id: str) -> Claim | None:
        """Lease the channel's next message: one delivery, or a digest of the due ones when
        the rate limit allows only one more message this minute (or the email digest is due)."""
        now = self.clock()
        with self.db.write() as session:
            channel = session.get(AlertChannel, channel_id)
            if channel is None or not channel.enabled:
                return None
            spec = load_spec(channel, self.secrets)
            size = self._message_size(session, spec, now)
            if size == 0:
                return None
            query = (select(AlertDelivery)
                     .where(AlertDelivery.channel_id == channel_id, _due(now))
                     .order_by(AlertDelivery.next_attempt_at, AlertDelivery.created_at)
                     .limit(size))
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = session.scalars(query).all()
            if not rows:
                return None
            token = new_id()
            lease = max(self.options.lease_seconds, spec.timeout * 2 + 5)
            ids = [r.id for r in rows]
            session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.id.in_(ids))
                .values(status=IN_FLIGHT, lease_token=token,
                        lease_expires_at=now + timedelta(seconds=lease),
                        attempts=AlertDelivery.attempts + 1, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            events = session.scalars(
                select(AlertEvent).where(AlertEvent.id.in_([r.event_id for r in rows]))
                .order_by(AlertEvent.created_at, AlertEvent.id)
            ).all()
            settings = session.get(SystemSettings, 1)
            return Claim(
                token=token,
                spec=spec,
                events=[event_to_dict(e) for e in events],
                attempts=max(r.attempts for r in rows) + 1,
                default_recipient=settings.notification_email if settings else None,
            )

    def _message_size(self, session: Session, spec: ChannelSpec, now: datetime) -> int:
        """How many deliveries the next message may carry (0: none may be sent now)."""
        if spec.digest_minutes:
            last = session.scalar(select(func.max(AlertDelivery.delivered_at))
                                  .where(AlertDelivery.channel_id == spec.id))
            if last is not None and now - last < timedelta(minutes=spec.digest_minutes):
                return 0
            return self.options.digest_max
        if not spec.rate_limit_per_minute:
            return 1
        recent = session.scalar(
            select(func.count(distinct(AlertDelivery.message_id))).where(
                AlertDelivery.channel_id == spec.id,
                AlertDelivery.delivered_at >= now - timedelta(minutes=1),
            )
        ) or 0
        budget = spec.rate_limit_per_minute - recent
        if budget <= 0:
            return 0
        # The last message this minute carries everything that is due: a digest.
        return 1 if budget > 1 else self.options.digest_max

    def mark_delivered(self, claim: Claim) -> None:
        """Record the message as delivered, if our lease still holds it."""
        now = self.clock()
        with self.db.write() as session:
            session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.lease_token == claim.token,
                       AlertDelivery.status == IN_FLIGHT)
                .values(status=DELIVERED, delivered_at=now, message_id=claim.token,
                        lease_token=None, lease_expires_at=None, last_error=None,
                        updated_at=now)
                .execution_options(synchronize_session=False)
            )

    def mark_failed(self, claim: Claim, error: str) -> None:
        """Schedule the next attempt with backoff, or give up after the channel's attempts."""
        now = self.clock()
        delay = backoff_delay(claim.attempts, self.options.backoff_base,
                              self.options.backoff_cap, self.rng)
        held = and_(AlertDelivery.lease_token == claim.token, AlertDelivery.status == IN_FLIGHT)
        common = {"lease_token": None, "lease_expires_at": None, "last_error": error[:500],
                  "updated_at": now}
        with self.db.write() as session:
            session.execute(
                update(AlertDelivery)
                .where(held, AlertDelivery.attempts >= claim.spec.max_attempts)
                .values(status=FAILED, **common)
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(AlertDelivery)
                .where(held)
                .values(status=PENDING, next_attempt_at=now + timedelta(seconds=delay), **common)
                .execution_options(synchronize_session=False)
            )


def retry_now(session: Session, delivery_id: str, now: datetime) -> AlertDelivery | None:
    """Make a failed or waiting delivery due now (one more attempt); None if unknown, 409 if
    it was delivered or is being sent."""
    delivery = session.get(AlertDelivery, delivery_id)
    if delivery is None:
        return None
    if delivery.status not in (PENDING, FAILED):
        raise Conflict(f"Delivery {delivery_id} is {delivery.status}", code="illegal_transition")
    delivery.status = PENDING
    delivery.next_attempt_at = now
    delivery.updated_at = now
    session.flush()
    return delivery


def send_test(spec: ChannelSpec, default_recipient: str | None, now: datetime) -> dict[str, Any]:
    """Send a test message over a channel now; raise SendError with the reason."""
    event_id = new_id()
    event: dict[str, Any] = {
        "id": event_id,
        "type": "alert.test",
        "created_at": now.isoformat(),
        "niche_id": None,
        "summary": f"Test alert from storycheck (channel {spec.name})",
        "payload": {"channel": spec.name},
    }
    send(spec, [event], event_id, default_recipient=default_recipient)
    return event


def delivery_rows(rows: Sequence[tuple[AlertDelivery, AlertEvent, AlertChannel]]
                  ) -> list[dict[str, Any]]:
    """Delivery log rows of the API."""
    result = []
    for delivery, event, channel in rows:
        result.append({
            "id": delivery.id,
            "event_id": event.id,
            "event_type": event.type,
            "event_summary": summary(event.type, json.loads(event.payload)),
            "channel_id": channel.id,
            "channel_name": channel.name,
            "status": delivery.status,
            "attempts": delivery.attempts,
            "last_error": delivery.last_error,
            "next_attempt_at": delivery.next_attempt_at.isoformat()
            if delivery.status in (PENDING, IN_FLIGHT) else None,
            "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
            "created_at": delivery.created_at.isoformat(),
        })
    return result
