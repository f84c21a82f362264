"""One stream's text: every event already waiting goes to the client in one write."""

from __future__ import annotations

import threading
from itertools import count

from storycheck.web.events import Subscription, stream_events


class _Hub:
    def __init__(self) -> None:
        self.closed: list[Subscription] = []

    def unsubscribe(self, subscription: Subscription) -> None:
        self.closed.append(subscription)


def _stream(subscription: Subscription, hub: _Hub) -> list[str]:
    ticks = count()
    chunks = stream_events(
        hub,  # type: ignore[arg-type]  # only unsubscribe is used
        subscription,
        limit=1e9,
        ping_every=1e9,
        stopping=threading.Event(),
        clock=lambda: float(next(ticks)),
        now_iso=lambda: "2026-01-01T00:00:00+00:00",
    )
    return list(chunks)


def test_waiting_events_are_one_chunk_and_end_closes_the_stream():
    subscription = Subscription()
    for n in range(3):
        subscription.push(("batch", f'{{"n":{n}}}'))
    subscription.push(("end", "{}"))
    subscription.push(("batch", '{"n":9}'))
    hub = _Hub()

    chunks = _stream(subscription, hub)

    assert chunks == [
        "retry: 2000\n\n",
        'event: batch\ndata: {"n":0}\n\nevent: batch\ndata: {"n":1}\n\n'
        'event: batch\ndata: {"n":2}\n\n',
    ]
    assert hub.closed == [subscription]

