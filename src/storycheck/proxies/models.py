"""Proxy + Instagram session pairs, their health, usage and error log.

Secrets (proxy password, session cookies, the session's account id) are stored encrypted;
see `storycheck.crypto`.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storycheck.db import Base, new_id, utcnow


class PairHealth(enum.StrEnum):
    """How usable a proxy+session pair is right now (shown in the UI)."""

    READY = "ready"  # may take requests
    COOLING = "cooling"  # rate limited; usable again at `cooldown_until`
    OPEN = "open"  # circuit open after transport errors; one probe after `cooldown_until`
    INVALID = "invalid"  # session logged out: needs a new cookie
    CHALLENGE = "challenge"  # checkpoint/challenge/feedback: needs a human
    DISABLED = "disabled"  # switched off by the user


PAIR_HEALTH_VALUES = tuple(h.value for h in PairHealth)
PROXY_STATUSES = ("active", "disabled", "rate_limited")
PROXY_SCHEMES = ("http", "https", "socks5")


class Proxy(Base):
    """A proxy; with its session it forms one sticky identity toward Instagram."""

    __tablename__ = "proxies"
    __table_args__ = (
        UniqueConstraint("ip", "port", name="uix_proxy_ip_port"),
        CheckConstraint("status IN ('active', 'disabled', 'rate_limited')", name="status_valid"),
        CheckConstraint(
            "health IN ('ready', 'cooling', 'open', 'invalid', 'challenge', 'disabled')",
            name="health_valid",
        ),
        CheckConstraint("scheme IN ('http', 'https', 'socks5')", name="scheme_valid"),
        CheckConstraint("port >= 1 AND port <= 65535", name="port_range"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    scheme: Mapped[str] = mapped_column(String(10), default="http")
    ip: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(255))
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default="active")
    health: Mapped[str] = mapped_column(String(20), default=PairHealth.READY.value)
    cooldown_until: Mapped[datetime | None]
    error_score: Mapped[float] = mapped_column(Float, default=0.0)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # How many rate limits in a row: the exponent of the full-jitter backoff.
    backoff_level: Mapped[int] = mapped_column(Integer, default=0)
    total_requests: Mapped[int] = mapped_column(Integer, default=0)
    failed_requests: Mapped[int] = mapped_column(Integer, default=0)
    requests_this_hour: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    rate_limited: Mapped[bool] = mapped_column(Boolean, default=False)
    avg_response_time: Mapped[int] = mapped_column(Integer, default=0)
    # The hourly budget the engine learned after rate limits (AIMD); NULL = the setting's.
    learned_hourly_limit: Mapped[int | None] = mapped_column(Integer)
    last_used: Mapped[datetime | None]
    last_success: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    # The browser the pair claims to be; NULL = engine.client.DEFAULT_USER_AGENT.
    user_agent: Mapped[str | None] = mapped_column(String(500))
    # The pair's last test (proxies/pairtest.py); NULL = untested. Editing the proxy or its
    # session empties them. `last_test_steps` is the JSON list of the report's steps.
    last_tested_at: Mapped[datetime | None]
    last_test_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_test_summary: Mapped[str | None] = mapped_column(String(300))
    last_test_steps: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Proxy {self.id} {self.scheme}://{self.ip}:{self.port} {self.health}>"


class IgSession(Base):
    """An Instagram web session (the `sessionid` cookie) bound to exactly one proxy."""

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint(
            "status IN ('active', 'disabled', 'invalid', 'challenge')", name="status_valid"
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    session_encrypted: Mapped[str] = mapped_column(Text)
    # A keyed hash of the cookie: finds duplicates without decrypting every row.
    session_digest: Mapped[str] = mapped_column(String(64), unique=True)
    csrftoken_encrypted: Mapped[str | None] = mapped_column(Text)
    # The session's account id (a cookie of its own, and the head of the sessionid), encrypted.
    ds_user_id_encrypted: Mapped[str | None] = mapped_column(Text)
    # Before migration 0007 the account id was stored here in clear. The first start after it
    # encrypts each value into `ds_user_id_encrypted` and empties this column
    # (`keys.seal_clear_values`); nothing writes it any more.
    ds_user_id_clear: Mapped[str | None] = mapped_column("ds_user_id", String(64))
    # The other cookies of the browser (mid, ig_did, rur) as encrypted JSON, and the
    # X-IG-WWW-Claim Instagram last set: both rotate, the engine writes them back.
    cookies_encrypted: Mapped[str | None] = mapped_column(Text)
    www_claim_encrypted: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="active")
    proxy_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("proxies.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<IgSession {self.id} proxy={self.proxy_id} {self.status}>"


class ProxyErrorLog(Base):
    """One failure (or health change) of a pair. Never contains a secret."""

    __tablename__ = "proxy_error_logs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    proxy_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("proxies.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("sessions.id", ondelete="SET NULL")
    )
    timestamp: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    error_message: Mapped[str] = mapped_column(Text)
    state_change: Mapped[bool] = mapped_column(Boolean, default=False)
    transition_reason: Mapped[str | None] = mapped_column(Text)
    recovery_time: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProxyUsage(Base):
    """Requests a pair sent per minute and kind, so the sliding-hour budget survives restarts."""

    __tablename__ = "proxy_usage"

    proxy_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("proxies.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # "lookup" | "stories"
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)  # unix time // 60
    requests: Mapped[int] = mapped_column(Integer, default=0)
