"""Lending a pair to a pair test: the engine's own pacer decides, and counts the loan."""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import dataclass

from storycheck.crypto import SecretBox
from storycheck.engine.lending import give_back, lend, try_lend
from storycheck.engine.options import EngineOptions
from storycheck.engine.pairbook import PairBook
from storycheck.engine.types import EngineSettings, PairRow

BOX = SecretBox("lending-test")
WINDOW = 60.0


@dataclass
class Lender:
    book: PairBook
    wake: asyncio.Event | None = None
    loaded: bool = True


def _lender(min_interval: float = 1.0) -> Lender:
    book = PairBook(
        secrets=BOX,
        options=EngineOptions(window_seconds=WINDOW, pacing_margin=0.0),
        rng=random.Random(1),
    )
    book.apply_settings(
        EngineSettings(
            proxy_hourly_limit=3,
            lookup_hourly_limit=2,
            min_request_interval=min_interval,
            request_jitter=0.0,
        )
    )
    row = PairRow(
        proxy_id="p",
        scheme="http",
        ip="127.0.0.1",
        port=9,
        username=None,
        password_encrypted=None,
        is_active=True,
        status="active",
        health="ready",
        cooldown_until=None,
        error_score=0.0,
        consecutive_failures=0,
        backoff_level=0,
        avg_response_time=0,
        session_id="s",
        session_encrypted=BOX.encrypt("51234567890%3Alending%3A1%3Atest"),
        csrftoken_encrypted=None,
        ds_user_id_encrypted=None,
        session_status="active",
    )
    book.apply_pairs([row], now=0.0)
    return Lender(book)


def test_a_loan_is_one_request_of_the_pair_in_the_engines_own_window() -> None:
    lender = _lender()
    book, pair = lender.book, lender.book.pairs["p"]
    loan = try_lend(lender, "p", "lookup", 100.0)
    assert loan.granted and (loan.used, loan.limit, loan.session_limit) == (1, 2, 3)
    # While lent the pair is busy: the planner (`PairBook.free_pairs`) skips busy pairs.
    assert book.usable == [pair] and pair.busy
    assert not try_lend(lender, "p", "lookup", 100.5).granted
    give_back(lender, "p", "lookup", 100.2, sent=True)
    assert not pair.busy and book.pacer.used("p", "lookup", 100.3) == 1
    # The gap after it holds for the engine's next request too.
    assert book.pacer.next_free("p", "stories", 100.3) == 101.0
    assert try_lend(lender, "p", "lookup", 100.5).reason == "budget"


def test_a_spent_lookup_budget_refuses_with_the_time_it_frees() -> None:
    lender = _lender()
    for start in (10.0, 20.0):
        assert try_lend(lender, "p", "lookup", start).granted
        give_back(lender, "p", "lookup", start + 0.5, sent=True)
    refused = try_lend(lender, "p", "lookup", 30.0)
    assert (refused.granted, refused.reason, refused.retry_at) == (False, "budget", 10.5 + WINDOW)
    # A loan that was never sent gives its slot back.
    assert try_lend(lender, "p", "stories", 31.0).granted
    give_back(lender, "p", "stories", 31.0, sent=False)
    assert lender.book.sent_in_window("p", 31.5) == 2


def test_a_waiting_loan_holds_the_idle_pair_until_its_gap_ends() -> None:
    lender = _lender(min_interval=0.3)
    clock = time.monotonic

    async def run() -> tuple[bool, bool]:
        assert try_lend(lender, "p", "lookup", clock()).granted
        give_back(lender, "p", "lookup", clock(), sent=True)
        task = asyncio.create_task(lend(lender, "p", "lookup", wait=5.0, clock=clock))
        await asyncio.sleep(0)  # the loan looked once and now waits for the gap
        held = lender.book.pairs["p"].busy
        answer = await task
        return held, answer.granted

    held, granted = asyncio.run(run())
    assert held and granted


def test_no_loan_before_the_engine_read_its_pairs_or_beyond_the_wait() -> None:
    lender = _lender()
    lender.loaded = False
    assert try_lend(lender, "p", "lookup", 0.0).reason == "starting"
    lender.loaded = True
    assert try_lend(lender, "p", "lookup", 100.0).granted
    answer = asyncio.run(lend(lender, "p", "lookup", wait=0.0, clock=lambda: 100.1))
    assert (answer.granted, answer.reason, answer.retry_at) == (False, "busy", math.inf)
