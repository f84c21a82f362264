"""`storycheck worker` delivers alerts too: claimed under leases, each event exactly once."""

from __future__ import annotations

from sqlalchemy import func, select
from tests.alerts.conftest import receivers  # noqa: F401 - the webhook receiver fixture
from tests.distributed.conftest import SECRET_KEY
from tests.helpers import wait_until

from storycheck.alerts import channels
from storycheck.alerts.events import record_event
from storycheck.alerts.models import AlertDelivery
from storycheck.crypto import SecretBox

EVENTS = 40


def test_two_workers_deliver_every_event_once(db, start_worker, receivers):  # noqa: F811
    receiver = receivers()
    with db.write() as session:
        channels.create_channel(session, {
            "name": "worker-hook", "kind": "webhook", "secret": "worker-secret",
            "rate_limit_per_minute": 0, "config": {"url": receiver.url},
        }, SecretBox(SECRET_KEY))
    with db.write() as session:
        ids = [record_event(session, "batch.stalled", {"n": n}, dedupe_key=f"worker:{n}")
               for n in range(EVENTS)]
    workers = [start_worker("alerts-a"), start_worker("alerts-b")]

    def delivered() -> int:
        with db.read() as session:
            return session.scalar(select(func.count()).where(
                AlertDelivery.status == "delivered")) or 0

    wait_until(lambda: delivered() == EVENTS, timeout=120, what="workers deliver every event")
    for worker in workers:
        assert worker.terminate() == 0, worker.output()[-3000:]
    assert sorted(receiver.event_ids()) == sorted(ids)  # none twice, none lost
    for worker in workers:
        assert "worker-secret" not in worker.output()
