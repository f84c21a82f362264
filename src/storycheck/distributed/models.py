"""Tables of the distributed mode: which worker holds which pair, and which workers are alive."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storycheck.db import Base, utcnow


class PairLease(Base):
    """One pair's current holder among the `storycheck worker` processes.

    A pair is used by the worker in `owner` while `expires_at` lies in the future; the owner
    renews it every few seconds. `owner` NULL means the pair was handed back cleanly (its last
    holder stopped using it first); an expired lease with an owner means that holder vanished.
    """

    __tablename__ = "pair_leases"

    proxy_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("proxies.id", ondelete="CASCADE"), primary_key=True
    )
    owner: Mapped[str | None] = mapped_column(String(200), index=True)
    acquired_at: Mapped[datetime | None]
    expires_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkerHeartbeat(Base):
    """A live `storycheck worker`: its fair share of pairs depends on how many there are."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    pairs_owned: Mapped[int] = mapped_column(Integer, default=0)
