"""The scheduler with a fake checker: fairness, retries, attempts, fallbacks, restarts."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from storycheck.alerts.models import AlertEvent
from storycheck.batches.invariants import check_invariants
from storycheck.batches.models import Batch, BatchLog, BatchProfile
from storycheck.engine.checker import CheckOutcome, ItemAnswer, WorkItem
from storycheck.engine.client import PairIdentity
from storycheck.engine.errors import (
    ActionBlocked,
    AddressBlocked,
    Challenge,
    ClientRefused,
    ConnectionFailed,
    DenseUnavailable,
    IgError,
    LoginRequired,
    NotFoundUser,
    RateLimited,
    Transient,
)
from storycheck.engine.pacing import Kind
from storycheck.profiles.models import Profile
from storycheck.proxies.models import IgSession, Proxy, ProxyErrorLog
from storycheck.testing import ProxySpec
from tests.engine.conftest import Rig, fast_options
from tests.helpers import holds_for, wait_until


@dataclass
class Call:
    pair: str
    kind: Kind
    batches: list[str]
    size: int
    dense: bool
    usernames: list[str] = field(default_factory=list)


Behaviour = Callable[[Call, Sequence[WorkItem]], CheckOutcome | None]


@dataclass(frozen=True)
class Hold:
    """A behaviour's answer meaning: hold this request until `event` is set (then answer
    normally)."""

    event: threading.Event
    timeout: float


@dataclass
class FakeChecker:
    """Answers every lookup with an id and every story query with "no story", unless
    `behaviour` returns another outcome."""

    behaviour: Behaviour | None = None
    latency: float = 0.0
    doc_ids: set[str | None] | None = None
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def check(
        self,
        pair: PairIdentity,
        kind: Kind,
        items: Sequence[WorkItem],
        *,
        dense_doc_id: str | None = None,
        timeout: float,
    ) -> CheckOutcome:
        call = Call(
            pair.label,
            kind,
            [i.batch_id for i in items],
            len(items),
            dense_doc_id is not None,
            [i.username for i in items],
        )
        with self.lock:
            self.calls.append(call)
            if self.doc_ids is not None and kind == "stories":
                self.doc_ids.add(dense_doc_id)
        if self.latency:
            await asyncio.sleep(self.latency)
        custom = self.behaviour(call, items) if self.behaviour else None
        if isinstance(custom, Hold):
            # Wait without blocking the event loop (the engine's other tasks keep running).
            await asyncio.to_thread(custom.event.wait, custom.timeout)
            custom = None
        if custom is not None:
            custom.answered_at = time.time()
            return custom
        outcome = CheckOutcome(answered_at=time.time())
        for item in items:
            if kind == "lookup":
                # As Instagram's lookup answers: the id, and whether the account is private.
                outcome.answers[item.id] = ItemAnswer(
                    item.id,
                    ig_user_id=f"9{item.username[-4:]}",
                    is_private=False,
                    followed_by_viewer=False,
                )
            else:
                outcome.answers[item.id] = ItemAnswer(item.id, ig_user_id=item.ig_user_id)
        return outcome

    async def forget_pair(self, proxy_id: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


def pairs(count: int) -> dict[str, Any]:
    return {
        "pairs": [ProxySpec("http", f"10.0.0.{i + 1}", 8000) for i in range(count)],
        "sessions": [f"cookie-{i}-0123456789abcdef" for i in range(count)],
    }


def add(rig: Rig, count: int, prefix: str, resolved: bool = True) -> list[str]:
    names = [f"{prefix}{i:04d}" for i in range(count)]
    if not resolved:
        return rig.add_profiles(names)
    # As an earlier lookup left them: the id and "public".
    return rig.add_profiles(
        names,
        user_ids={n: f"1{i:06d}" for i, n in enumerate(names)},
        private=dict.fromkeys(names, False),
    )


def logs(rig: Rig, batch_id: str, event: str) -> list[str]:
    with rig.db.read() as session:
        return list(
            session.scalars(
                select(BatchLog.message).where(
                    BatchLog.batch_id == batch_id, BatchLog.event_type == event
                )
            )
        )


def test_concurrent_batches_share_the_pool_round_robin(rig: Any) -> None:
    checker = FakeChecker(latency=0.01)
    engine = rig(None, checker=checker, max_threads=1, max_concurrent_batches=2, **pairs(1))
    first = engine.create_batch(add(engine, 1000, "a"))
    second = engine.create_batch(add(engine, 1000, "b"))
    engine.wait_done(first)
    engine.wait_done(second)
    order = [call.batches[0] for call in checker.calls]
    assert all(len(set(call.batches)) == 1 for call in checker.calls[:-2])
    # From the moment both run until one runs out, they get the same number of requests.
    begin = order.index(second)
    last = min(len(order) - 1 - order[::-1].index(batch) for batch in (first, second))
    overlap = order[begin : last + 1]
    assert len(overlap) >= 20
    assert abs(overlap.count(first) - overlap.count(second)) <= 2, order


def test_transient_failures_retry_on_another_pair_and_open_the_circuit(rig: Any) -> None:
    def flaky(call: Call, items: Sequence[WorkItem]) -> CheckOutcome | None:
        return (
            CheckOutcome(failure=Transient("HTTP 502 Bad Gateway"))
            if call.pair.endswith(".1:8000")
            else None
        )

    checker = FakeChecker(flaky, latency=0.005)
    engine = rig(None, checker=checker, proxy_max_failures=3, max_attempts=3, **pairs(2))
    batch_id = engine.create_batch(add(engine, 400, "t"))
    engine.wait_done(batch_id)
    items = engine.items(batch_id)
    assert {item.status for item, _ in items} == {"completed"}
    assert max(item.attempts for item, _ in items) == 1  # one failure, then the other pair
    with engine.db.read() as session:
        bad = session.scalar(select(Proxy).where(Proxy.ip == "10.0.0.1"))
        assert bad is not None and bad.health == "open"
        assert (
            session.scalar(
                select(func.count())
                .select_from(BatchProfile)
                .where(BatchProfile.proxy_id == bad.id)
            )
            == 0
        )
    assert logs(engine, batch_id, "RETRY")


def test_items_fail_with_the_last_error_after_max_attempts(rig: Any) -> None:
    checker = FakeChecker(
        lambda call, items: CheckOutcome(failure=Transient("timeout (ReadTimeout)"))
    )
    engine = rig(None, checker=checker, proxy_max_failures=100, max_attempts=3, **pairs(3))
    batch_id = engine.create_batch(add(engine, 60, "f"))
    engine.wait_done(batch_id)
    for item, _ in engine.items(batch_id):
        assert (item.status, item.attempts, item.error) == ("failed", 3, "timeout (ReadTimeout)")
    assert len(logs(engine, batch_id, "CHECK_FAILED")) == 60
    with engine.db.read() as session:
        assert check_invariants(session) == []


def test_rate_limits_do_not_use_an_attempt(rig: Any) -> None:
    budget = {"left": 6}

    def limited(call: Call, items: Sequence[WorkItem]) -> CheckOutcome | None:
        if budget["left"] > 0:
            budget["left"] -= 1
            return CheckOutcome(failure=RateLimited("HTTP 429 wait", retry_after=0.1))
        return None

    engine = rig(None, checker=FakeChecker(limited), max_attempts=1, **pairs(2))
    batch_id = engine.create_batch(add(engine, 120, "r"))
    engine.wait_done(batch_id)
    assert {(item.status, item.attempts) for item, _ in engine.items(batch_id)} == {
        ("completed", 0)
    }
    assert logs(engine, batch_id, "RATE_LIMITED")


def test_dense_form_only_with_a_doc_id_and_a_refusal_switches_only_that_pair(rig: Any) -> None:
    doc_ids: set[str | None] = set()

    def refused_on_one(call: Call, items: Sequence[WorkItem]) -> CheckOutcome | None:
        if call.dense and call.pair.endswith(".1:8000"):
            return CheckOutcome(failure=DenseUnavailable("doc_id refused"))
        return None

    checker = FakeChecker(refused_on_one, latency=0.005, doc_ids=doc_ids)
    engine = rig(
        None, checker=checker, reel_ids_per_request=20, dense_doc_id="1234567", **pairs(2)
    )
    batch_id = engine.create_batch(add(engine, 600, "d"))
    engine.wait_done(batch_id)
    stories = [call for call in checker.calls if call.kind == "stories"]
    first = [c for c in stories if c.pair.endswith(".1:8000")]
    second = [c for c in stories if c.pair.endswith(".2:8000")]
    assert first[0].dense and all(not c.dense and c.size <= 20 for c in first[1:])
    assert second and all(c.dense and c.size <= 50 for c in second)
    assert doc_ids == {"1234567", None}  # the refusing pair sends v1 (no doc_id)
    assert {item.attempts for item, _ in engine.items(batch_id)} == {0}


def test_story_requests_use_v1_with_at_most_20_ids_by_default(rig: Any) -> None:
    checker = FakeChecker()
    engine = rig(None, checker=checker, max_threads=1, **pairs(1))
    batch_id = engine.create_batch(add(engine, 100, "v"))
    engine.wait_done(batch_id)
    stories = [call for call in checker.calls if call.kind == "stories"]
    assert [c.size for c in stories] == [20] * 5 and not any(c.dense for c in stories)


def test_unknown_ids_are_looked_up_once_then_queried_in_groups(rig: Any) -> None:
    checker = FakeChecker()
    engine = rig(None, checker=checker, **pairs(4))
    batch_id = engine.create_batch(add(engine, 230, "u", resolved=False))
    engine.wait_done(batch_id)
    lookups = [c for c in checker.calls if c.kind == "lookup"]
    stories = [c for c in checker.calls if c.kind == "stories"]
    assert len(lookups) == 230
    # Groups of 20, a few partial ones when lookups lag behind (partial_wait).
    assert sum(c.size for c in stories) == 230 and len(stories) <= 16


def test_the_pair_budget_survives_a_restart(rig: Any, engine_db: Any, secrets: Any) -> None:
    options = fast_options(window_seconds=60.0)
    checker = FakeChecker()
    engine = rig(None, checker=checker, options=options, proxy_hourly_limit=3, **pairs(1))
    batch_id = engine.create_batch(add(engine, 60, "s"))
    engine.wait_done(batch_id)
    assert len(checker.calls) == 3  # 60 ids in 3 story requests: the window is full
    engine.stop()

    # A new process on the same database must count those 3 requests against the window.
    restarted = FakeChecker()
    again = rig(None, checker=restarted, options=options, proxy_hourly_limit=3)
    pending = again.create_batch(add(again, 50, "z"))
    wait_until(lambda: bool(again.pool.pairs_in_use()), timeout=10, what="the pair loaded")
    # Five pair/settings refreshes: time enough to send, had the window not been full.
    holds_for(lambda: restarted.calls == [], seconds=5 * options.refresh_interval, what="no request")
    assert again.status(pending) == "in_progress"


def test_pause_returns_leases_and_no_request_starts_after_it(rig: Any) -> None:
    checker = FakeChecker(latency=0.05)
    engine = rig(None, checker=checker, max_threads=2, **pairs(2))
    batch_id = engine.create_batch(add(engine, 100, "p", resolved=False))
    wait_until(lambda: len(checker.calls) >= 10, timeout=10)
    engine.state.stop([batch_id])
    _, in_flight = engine.pool.request_stats(batch_id)
    calls = len(checker.calls)

    def leased() -> int:
        with engine.db.read() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(BatchProfile)
                    .where(BatchProfile.status == "in_flight")
                )
                or 0
            )

    wait_until(lambda: leased() == 0, timeout=5, what="leases returned")
    holds_for(
        lambda: len(checker.calls) <= calls + in_flight, seconds=0.5, what="no request after pause"
    )


def test_profiles_per_minute_is_spread_and_counts_each_profile_once(rig: Any) -> None:
    checker = FakeChecker()
    engine = rig(None, checker=checker, profiles_per_minute=600, **pairs(4))
    batch_id = engine.create_batch(add(engine, 100, "m", resolved=False) + add(engine, 200, "k"))

    def checked() -> set[str]:
        # A profile is checked by its lookup, or by its story query when its id was known.
        with checker.lock:
            calls = list(checker.calls)
        looked_up = {n for c in calls if c.kind == "lookup" for n in c.usernames}
        queried = {n for c in calls if c.kind == "stories" for n in c.usernames}
        return looked_up | {n for n in queried if n.startswith("k")}

    started = time.monotonic()
    wait_until(lambda: len(checked()) >= 80, timeout=60, what="80 profiles checked")
    elapsed = time.monotonic() - started
    engine.state.stop([batch_id])
    # 600 a minute, spread: one story request's ids (20) at once, then 10 a second, so 80
    # profiles take at least 6 s (a burst of a minute's allowance would take none).
    assert elapsed >= 5.0
    limits = engine.pool.scheduler.book.global_limits
    wait_until(lambda: engine.pool.request_stats(batch_id)[1] == 0, timeout=10)
    # Each profile counted once: at its lookup, or at its story query when its id was known.
    assert limits.checks_in_window == len(checked())


def test_a_pair_switched_off_by_the_user_is_never_used(rig: Any) -> None:
    checker = FakeChecker(latency=0.02)
    engine = rig(None, checker=checker, max_threads=4, **pairs(2))
    with engine.db.write() as session:
        proxy = session.scalar(select(Proxy).where(Proxy.ip == "10.0.0.2"))
        assert proxy is not None
        proxy.is_active, proxy.status, proxy.health = False, "disabled", "disabled"
    # The engine keeps switched-off pairs in its book, flagged: ask for a refresh and wait
    # for one that started after the change (the one running now may have read the old row).
    seen = engine.pool.refreshes
    engine.pool.refresh_pairs()
    wait_until(lambda: engine.pool.refreshes >= seen + 2, timeout=10, what="pairs re-read")
    batch_id = engine.create_batch(add(engine, 60, "x", resolved=False))
    engine.wait_done(batch_id)
    assert {call.pair for call in checker.calls} == {"http://10.0.0.1:8000"}


# ---------------------------------------------------------------- classified answers


def proxy_rows(rig: Rig) -> dict[str, Proxy]:
    with rig.db.read() as session:
        return {p.ip: p for p in session.scalars(select(Proxy))}


def transitions(rig: Rig, proxy_id: str) -> list[str]:
    with rig.db.read() as session:
        return [
            r or ""
            for r in session.scalars(
                select(ProxyErrorLog.transition_reason).where(
                    ProxyErrorLog.proxy_id == proxy_id, ProxyErrorLog.state_change.is_(True)
                )
            )
        ]


def session_status(rig: Rig, ip: str) -> str:
    with rig.db.read() as session:
        row = session.scalar(select(IgSession).join(Proxy).where(Proxy.ip == ip))
        assert row is not None
        return row.status


PROBLEMS: dict[str, IgError] = {
    "10.0.0.1": LoginRequired("login_required"),
    "10.0.0.2": Challenge("checkpoint_required"),
    "10.0.0.3": ActionBlocked("feedback_required: Action Blocked"),
    "10.0.0.4": ClientRefused("checkpoint_required: unsupported_version"),
    "10.0.0.5": AddressBlocked("HTTP 403 text/html"),
    "10.0.0.6": ConnectionFailed("connection reset (twice)"),
}


def test_pair_problems_return_items_without_an_attempt_and_mark_the_pair(rig: Any) -> None:
    def by_pair(call: Call, items: Sequence[WorkItem]) -> CheckOutcome | None:
        host = call.pair.split("//")[1].split(":")[0]
        error = PROBLEMS.get(host)
        return CheckOutcome(failure=error) if error is not None else None

    checker = FakeChecker(by_pair, latency=0.002)
    engine = rig(None, checker=checker, max_attempts=1, proxy_max_failures=2, **pairs(7))
    batch_id = engine.create_batch(add(engine, 300, "q", resolved=False))
    engine.wait_done(batch_id)
    items = engine.items(batch_id)
    assert {(i.status, i.attempts, i.outcome) for i, _ in items} == {("completed", 0, "no_story")}
    assert {i.proxy_id for i, _ in items} == {proxy_rows(engine)["10.0.0.7"].id}
    wait_until(lambda: proxy_rows(engine)["10.0.0.6"].health == "open", timeout=10)
    rows = proxy_rows(engine)
    assert rows["10.0.0.1"].health == "invalid" and session_status(engine, "10.0.0.1") == "invalid"
    assert rows["10.0.0.2"].health == "challenge"
    assert session_status(engine, "10.0.0.2") == "challenge"
    for ip, what in (
        ("10.0.0.3", "action blocked"),
        ("10.0.0.4", "client version refused"),
        ("10.0.0.5", "address blocked"),
    ):
        # Cooling (short in this compressed time), never taken out: the session stays valid.
        reasons = transitions(engine, rows[ip].id)
        assert any("→ cooling" in r and what in r for r in reasons), (ip, reasons)
        assert not any("invalid" in r or "challenge" in r for r in reasons), (ip, reasons)
        assert rows[ip].health in ("cooling", "ready") and session_status(engine, ip) == "active"
    assert "client version refused: update the user agent" in (rows["10.0.0.4"].last_error or "")
    refused = logs(engine, batch_id, "PAIR_ERROR")
    assert len(refused) == 1 and "user agent" in refused[0]
    with engine.db.read() as session:
        attention = set(
            session.scalars(
                select(AlertEvent.subject_id).where(AlertEvent.type == "pair.needs_attention")
            )
        )
    assert attention == {rows["10.0.0.1"].id, rows["10.0.0.2"].id}  # the alert, once each


def test_not_found_is_confirmed_by_a_second_pair_and_rechecked_later(rig: Any) -> None:
    def missing(call: Call, items: Sequence[WorkItem]) -> CheckOutcome | None:
        if call.kind == "lookup" and items[0].username.startswith("gone"):
            return CheckOutcome(failure=NotFoundUser("HTTP 404"))
        return None

    checker = FakeChecker(missing)
    engine = rig(None, checker=checker, **pairs(2))
    gone = add(engine, 10, "gone", resolved=False)
    here = add(engine, 10, "here", resolved=False)
    first = engine.create_batch(gone + here)
    engine.wait_done(first)
    asked: dict[str, list[str]] = {}
    for call in checker.calls:
        if call.kind == "lookup" and call.usernames[0].startswith("gone"):
            asked.setdefault(call.usernames[0], []).append(call.pair)
    assert len(asked) == 10 and all(len(set(p)) == 2 == len(p) for p in asked.values())
    results = {p.username: (i, p) for i, p in engine.items(first)}
    for name, (item_row, profile) in results.items():
        if name.startswith("gone"):
            assert (item_row.status, item_row.failure_kind, item_row.attempts) == (
                "failed",
                "not_found",
                0,
            )
            assert profile.not_found and profile.not_found_at is not None
        else:
            assert item_row.outcome == "no_story"

    # A later batch skips them without a request …
    before = len(checker.calls)
    second = engine.create_batch(gone)
    engine.wait_done(second)
    assert len(checker.calls) == before
    assert {i.failure_kind for i, _ in engine.items(second)} == {"not_found"}
    # … until `not_found_recheck_days` passed: then they are looked up again.
    with engine.db.write() as session:
        session.execute(
            update(Profile)
            .where(Profile.id.in_(gone))
            .values(not_found_at=datetime.now(UTC) - timedelta(days=2))  # the default: 1 day
        )
    third = engine.create_batch(gone)
    engine.wait_done(third)
    rechecked = {c.usernames[0] for c in checker.calls[before:] if c.kind == "lookup"}
    assert len(rechecked) == 10


def test_private_accounts_are_unknown_unless_a_following_session_checks_them(rig: Any) -> None:
    follower_pair = "http://10.0.0.2:8000"

    def private(call: Call, items: Sequence[WorkItem]) -> CheckOutcome | None:
        if call.kind != "lookup":
            return None
        name = items[0].username
        if not name.startswith("priv"):
            return None
        followed = name.startswith("privf") and call.pair == follower_pair
        answer = ItemAnswer(
            items[0].id, ig_user_id=f"5{name[-4:]}", is_private=True, followed_by_viewer=followed
        )
        return CheckOutcome(answers={items[0].id: answer})

    checker = FakeChecker(private, latency=0.002)
    engine = rig(None, checker=checker, **pairs(2))
    hidden = add(engine, 20, "privh", resolved=False)
    followed = add(engine, 20, "privf", resolved=False)
    public = add(engine, 20, "open", resolved=False)
    batch_id = engine.create_batch(hidden + followed + public)
    engine.wait_done(batch_id)
    by_name = {p.username: (i, p) for i, p in engine.items(batch_id)}
    story_calls = [c for c in checker.calls if c.kind == "stories"]
    asked = {name for c in story_calls for name in c.usernames}
    for name, (item_row, _) in by_name.items():
        if name.startswith("privh"):
            # Private and followed by no session: unknown, never "no story", and no story
            # request was spent on it (the lookup said so).
            assert item_row.outcome == "private" and not item_row.has_story, name
            assert name not in asked, name
        elif name.startswith("open"):
            assert item_row.outcome == "no_story", name
    # A followed account's story request goes through the following session's pair; one
    # looked up by the other pair (which does not follow it) is private at once.
    followed_rows = [by_name[n] for n in by_name if n.startswith("privf")]
    for item_row, profile in followed_rows:
        if item_row.outcome == "no_story":
            assert item_row.proxy_id == proxy_rows(engine)["10.0.0.2"].id
            assert profile.followed_by_session_id is not None
        else:
            assert item_row.outcome == "private"
    with engine.db.read() as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None
        private_count = sum(1 for i, _ in by_name.values() if i.outcome == "private")
        assert batch.private_profiles == private_count >= 20
        assert batch.successful_checks == 0
        assert check_invariants(session) == []

    # The next batch knows who follows whom: every followed account goes to that pair.
    again = engine.create_batch(followed)
    engine.wait_done(again)
    assert {i.outcome for i, _ in engine.items(again)} <= {"no_story", "private"}
    routed = [i for i, _ in engine.items(again) if i.outcome == "no_story"]
    assert routed and {i.proxy_id for i in routed} == {proxy_rows(engine)["10.0.0.2"].id}


def test_a_rate_limit_halves_the_pairs_budget_which_is_persisted_and_recovers(rig: Any) -> None:
    state = {"refused": 0}

    def limited(call: Call, items: Sequence[WorkItem]) -> CheckOutcome | None:
        if state["refused"] == 0 and len(checker.calls) >= 8:
            state["refused"] += 1
            return CheckOutcome(failure=RateLimited("HTTP 401 Please wait", retry_after=0.1))
        return None

    checker = FakeChecker(limited, latency=0.002)
    options = fast_options(window_seconds=2.0, learn_quiet_share=0.25, learn_forget_windows=3)
    engine = rig(
        None, checker=checker, options=options, proxy_hourly_limit=16, max_threads=1, **pairs(1)
    )
    batch_id = engine.create_batch(add(engine, 400, "h"))
    wait_until(
        lambda: proxy_rows(engine)["10.0.0.1"].learned_hourly_limit is not None,
        timeout=10,
        what="learned limit persisted",
    )
    learned = proxy_rows(engine)["10.0.0.1"].learned_hourly_limit
    assert learned is not None and learned <= 8
    (message,) = logs(engine, batch_id, "RATE_LIMITED")
    assert f"budget now {learned} requests per hour" in message
    # Quiet periods give the budget back step by step, and a long quiet the setting.
    wait_until(
        lambda: proxy_rows(engine)["10.0.0.1"].learned_hourly_limit is None,
        timeout=30,
        what="learned limit recovered",
    )
    engine.wait_done(batch_id, timeout=60)
    assert {i.attempts for i, _ in engine.items(batch_id)} == {0}


def test_a_looked_up_id_is_saved_before_its_item_completes(rig: Any) -> None:
    hold = threading.Event()

    def held_stories(call: Call, items: Sequence[WorkItem]) -> CheckOutcome | Hold | None:
        return Hold(hold, 20) if call.kind == "stories" else None

    checker = FakeChecker(held_stories)
    engine = rig(None, checker=checker, max_threads=4, **pairs(1))
    ids = add(engine, 5, "early", resolved=False)
    batch_id = engine.create_batch(ids)

    def saved_while_in_flight() -> bool:
        rows = engine.items(batch_id)
        return all(p.ig_user_id for _, p in rows) and all(i.status != "completed" for i, _ in rows)

    try:
        wait_until(saved_while_in_flight, timeout=10, what="ids saved before completion")
    finally:
        hold.set()
    engine.wait_done(batch_id)


def test_an_engine_closed_under_a_running_loop_stops_its_maintenance_quietly(
    rig: Any, caplog: Any
) -> None:
    # `WorkerPool.stop` closes the database threads even when the loop did not finish in
    # time; the maintenance ticks after that must end, not log a traceback every 0.5 s.
    # Closed during its first reading of pairs and settings, the engine ends quietly instead.
    made = rig(None, options=fast_options(flush_interval=0.05))
    scheduler = made.pool.scheduler
    loop = made.pool._loop
    scheduler.close()
    assert scheduler.sync is not None
    for _ in range(5):
        try:
            loop.call_soon_threadsafe(scheduler.sync.event.set)
        except RuntimeError:  # the loop is closed: it ended before its maintenance began
            break
        time.sleep(0.1)
    failed = [
        r.getMessage()
        for r in caplog.records
        if "maintenance failed" in r.getMessage() or "stopped with an error" in r.getMessage()
    ]
    assert failed == []
