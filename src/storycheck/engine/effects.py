"""What an answer does beyond its items and the pair's health: engine-wide changes and logs.

`outcomes.decide` handles the items and `PairHealthState.record` the pair's state; here are
the rest of the effects of each classification (DESIGN.md §4.4, issue 9):

* rate limited — the pair's learned budget halves (AIMD, `PairBook.rate_limited`);
* session invalid / challenge — the session's status is written (`invalid` / `challenge`)
  and the pair leaves the usable set;
* action blocked / address blocked — a batch log line: the pair rests, its session is fine;
* client refused — one loud `PAIR_ERROR` line per pair and batch ("update the user agent"),
  so one such answer never takes pairs out silently;
* too many ids — the group size halves; dense form refused — that pair alone uses v1.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from storycheck.engine.errors import Classification, IgError
from storycheck.engine.health import CLIENT_REFUSED_MESSAGE
from storycheck.engine.pairbook import PairBook
from storycheck.engine.pairs import Pair

log = logging.getLogger(__name__)

# log(batch_id, event_type, message, proxy_id)
LogFn = Callable[[str, str, str, str | None], None]


class PairEffects:
    """Applies the engine-wide effects of classified answers (event loop only)."""

    def __init__(self, book: PairBook, log_row: LogFn) -> None:
        self.book = book
        self.log_row = log_row
        self.refused_logged: set[tuple[str, str]] = set()  # (batch, pair) told "update UA"

    def apply(
        self,
        pair: Pair,
        batches: Sequence[str],
        sent: int,
        dense: bool,
        cls: Classification,
        error: IgError | None,
        now: float,
    ) -> None:
        """Apply the effects of one answer of class `cls` to a request of `sent` items."""
        message = error.message if error is not None else cls.value
        if cls is Classification.TOO_MANY_IDS:
            self.book.too_many_ids(dense, sent)
        elif cls is Classification.DENSE_UNAVAILABLE:
            self.book.dense_refused(pair, now)
            self._each(
                batches,
                "INFO",
                f"Dense story request refused on {pair.label} ({message}); "
                "this pair uses v1 reels_media for a while",
                pair,
            )
        elif cls is Classification.RATE_LIMITED:
            self._rate_limited(pair, batches, sent, now)
        elif cls in (Classification.SESSION_INVALID, Classification.CHALLENGE):
            self._taken_out(pair, cls, message, batches)
        elif cls in (Classification.ACTION_BLOCKED, Classification.ADDRESS_BLOCKED):
            what = "action blocked" if cls is Classification.ACTION_BLOCKED else "address blocked"
            rest = max(0.0, (pair.health.cooldown_until or now) - now)
            self._each(
                batches,
                "INFO",
                f"Pair {pair.label} {what} ({message}); resting for {rest:.0f}s, "
                "the session stays valid",
                pair,
            )
        elif cls is Classification.CLIENT_REFUSED:
            self._client_refused(pair, batches)

    def forget_batch(self, batch_id: str) -> None:
        """Drop what is remembered about a batch that stopped running."""
        self.refused_logged = {key for key in self.refused_logged if key[0] != batch_id}

    def _each(self, batches: Sequence[str], event: str, message: str, pair: Pair) -> None:
        for batch_id in batches:
            self.log_row(batch_id, event, message, pair.proxy_id)

    def _rate_limited(self, pair: Pair, batches: Sequence[str], sent: int, now: float) -> None:
        budget = self.book.rate_limited(pair, now)
        rest = max(0.0, (pair.health.cooldown_until or now) - now)
        self._each(
            batches,
            "RATE_LIMITED",
            f"Pair {pair.label} rate limited; cooling for {rest:.0f}s, budget now {budget} "
            f"requests per hour; {sent} profile(s) go to another pair",
            pair,
        )

    def _taken_out(
        self, pair: Pair, cls: Classification, message: str, batches: Sequence[str]
    ) -> None:
        status = "invalid" if cls is Classification.SESSION_INVALID else "challenge"
        self.book.take_out(pair, status)
        what = "logged out" if status == "invalid" else "challenged"
        self._each(
            batches, "INFO", f"Pair {pair.label} taken out: session {what} ({message})", pair
        )

    def _client_refused(self, pair: Pair, batches: Sequence[str]) -> None:
        for batch_id in batches:
            if (batch_id, pair.proxy_id) in self.refused_logged:
                continue
            self.refused_logged.add((batch_id, pair.proxy_id))
            log.warning("pair %s: %s", pair.label, CLIENT_REFUSED_MESSAGE)
            self.log_row(
                batch_id,
                "PAIR_ERROR",
                f"Pair {pair.label}: {CLIENT_REFUSED_MESSAGE}. It rests a quarter of an hour; "
                "if every pair says this, set a current user agent on the pairs.",
                pair.proxy_id,
            )


__all__ = ["PairEffects"]
