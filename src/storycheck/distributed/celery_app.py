"""The Celery application of the distributed mode: one broadcast task, `storycheck.sync_batches`.

Celery carries no work items: the database holds them, and every worker claims items itself
(`SELECT … FOR UPDATE SKIP LOCKED`). What Celery carries is a nudge. After every change of the
set of running batches the server (its `Dispatcher`) publishes `storycheck.sync_batches` on a
fanout exchange; every connected worker receives its own copy and re-reads the running set
from the database at once. Workers also poll the database every second, so a lost message (a
worker reconnecting to Redis, Redis down) only costs latency, never correctness.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import Celery
from kombu.common import Broadcast
from kombu.entity import Exchange, Queue

log = logging.getLogger(__name__)

SYNC_TASK = "storycheck.sync_batches"
BROADCAST = "storycheck.broadcast"
DEFAULT_QUEUE = "storycheck"
# Celery never declares a Broadcast queue when sending (that would create a new queue), but
# Redis's virtual exchanges exist only where declared: the sender must declare the fanout
# exchange itself, or kombu delivers as if it were direct and no worker sees the message.
BROADCAST_EXCHANGE = Exchange(BROADCAST, type="fanout", auto_delete=True)

# Set by the worker process: what a received sync_batches does (wake the batch sync thread).
_sync_handler: Callable[[str], None] | None = None


def set_sync_handler(handler: Callable[[str], None] | None) -> None:
    """Install (or remove) what `storycheck.sync_batches` calls in this process."""
    global _sync_handler
    _sync_handler = handler


def sync_batches(reason: str = "") -> None:
    """The broadcast task: make this worker's running set equal the database's, now."""
    handler = _sync_handler
    if handler is None:
        log.debug("sync_batches (%s) received outside a storycheck worker", reason)
        return
    handler(reason)


def make_celery(broker_url: str) -> Celery:
    """A Celery app on `broker_url` (Redis) with the broadcast route configured."""
    app = Celery("storycheck", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=DEFAULT_QUEUE,
        task_queues=(
            Queue(DEFAULT_QUEUE, Exchange(DEFAULT_QUEUE), routing_key=DEFAULT_QUEUE),
            Broadcast(BROADCAST, exchange=BROADCAST_EXCHANGE, routing_key=BROADCAST),
        ),
        # Redis fanout is PUB/SUB on "<exchange>/<routing key>": both sides must name the key.
        task_routes={
            SYNC_TASK: {"queue": BROADCAST, "exchange": BROADCAST, "routing_key": BROADCAST}
        },
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5.0,
        # The worker process also hosts the engine: keep our logging and our stdout.
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_prefetch_multiplier=4,
        worker_send_task_events=False,
    )
    app.task(name=SYNC_TASK, ignore_result=True)(sync_batches)
    return app


def broadcast_sync(app: Celery, reason: str, *, expires: float = 30.0) -> None:
    """Publish one `storycheck.sync_batches` to every connected worker."""
    app.send_task(
        SYNC_TASK,
        kwargs={"reason": reason[:500]},
        expires=expires,
        declare=[BROADCAST_EXCHANGE],
        retry=True,
        retry_policy={
            "max_retries": 2,
            "interval_start": 0.0,
            "interval_step": 0.5,
            "interval_max": 1.0,
        },
    )


__all__ = [
    "BROADCAST",
    "SYNC_TASK",
    "broadcast_sync",
    "make_celery",
    "set_sync_handler",
    "sync_batches",
]
