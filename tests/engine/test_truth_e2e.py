"""Issue 9, end to end: every stored answer is right, or honestly unknown.

The whole engine runs against the simulator over real HTTP, through its local proxies, while
some sessions answer the way Instagram answers a session in trouble (the modes of
docs' instagram-facts.md). Each test then compares every recorded item with the simulator's
own referee (`POST /__sim__/truth` at the moment the item was answered) and requires:

* accuracy 1.0 over the items reported "story" / "no story", 0 wrong;
* a private account the answering session does not follow is `private`, never "no story";
* a user is "not found" only when it really does not exist;
* nothing was recorded through a pair after its trouble began, and no attempt was spent on
  an item because of a pair's trouble (no faults are injected, so every attempt is 0).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import httpx
from sqlalchemy import func, select, update

from storycheck.batches.invariants import check_invariants
from storycheck.batches.models import BatchProfile
from storycheck.engine.checker import InstagramChecker
from storycheck.profiles.models import Profile
from storycheck.proxies.models import IgSession, Proxy, ProxyErrorLog
from storycheck.simulator.proxies import ProxyFleet
from storycheck.testing import ProxySpec, batch_row
from tests.engine.conftest import Rig, SimProcess, fast_options, limit_args
from tests.helpers import wait_until

# A compressed "hour" of 2 s on both sides: 25 lookups and 25 story requests per session in
# the simulator; the engine is told the same (and spends it on both kinds together).
PACED = limit_args(lookups="25/2s", stories="25/2s")
PACED_SETTINGS: dict[str, Any] = {"proxy_hourly_limit": 25, "lookup_hourly_limit": 25}
DOC_ID = "7654321"  # the dense form's doc_id (the simulator serves it when started with it)
# Which state each troubled session must leave its pair in (the README's pair-state table).
MODE_STATES = {
    "login_page": "invalid",
    "login_redirect": "invalid",
    "login_required": "invalid",
    "checkpoint": "challenge",
    "challenge": "challenge",
    "feedback": "cooling",
    "masked_404": "challenge",
}


def epoch(moment: datetime | None) -> float:
    """Unix seconds of a stored time (SQLite hands back naive UTC)."""
    assert moment is not None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def server_truth(sim: SimProcess, asked: list[tuple[str, float]]) -> dict[str, dict[str, Any]]:
    """The referee's truth for each (username, time), asked in one request per moment."""
    by_time: dict[float, list[str]] = defaultdict(list)
    for username, at in asked:
        by_time[at].append(username)
    truth: dict[str, dict[str, Any]] = {}
    for at, names in by_time.items():
        response = sim.http.post("/__sim__/truth", json={"usernames": names, "at": at})
        response.raise_for_status()
        for name, entry in zip(names, response.json()["results"], strict=True):
            truth[name] = entry
    return truth


@dataclass
class Verdict:
    """How a batch's items compare with the truth."""

    story: int = 0
    no_story: int = 0
    private: int = 0
    not_found: int = 0
    hidden_stories: int = 0  # private, not followed, story live: reported `private`
    wrong: list[str] = field(default_factory=list)

    @property
    def reported(self) -> int:
        """Items reported story / no story."""
        return self.story + self.no_story

    @property
    def accuracy(self) -> float:
        """Right answers among the items reported story / no story."""
        wrong_reported = sum(1 for w in self.wrong if w.startswith("reported"))
        return (self.reported - wrong_reported) / self.reported if self.reported else 0.0


def session_row_ids(rig: Rig) -> dict[str, str]:
    """Session row id (what items and profiles store) → simulator session cookie."""
    with rig.db.read() as session:
        rows = session.execute(select(IgSession.id, IgSession.proxy_id)).all()
    by_proxy = {proxy_id: row_id for row_id, proxy_id in rows}
    return {by_proxy[rig.pair_of(cookie)]: cookie for cookie in rig.sessions}


def judge(rig: Rig, sim: SimProcess, batch_id: str, retried: Collection[str] = ()) -> Verdict:
    """Compare every item of the batch with the referee's truth at its answer time (the
    items of `retried` must have spent exactly one attempt, every other none)."""
    items = rig.items(batch_id)
    assert items
    truth = server_truth(
        sim, [(profile.username, epoch(item.processed_at)) for item, profile in items]
    )
    follows = {
        (name, cookie)
        for cookie, names in sim.http.get("/__sim__/follows").json()["follows"].items()
        for name in names
    }
    cookies = session_row_ids(rig)
    verdict = Verdict()
    for item, profile in items:
        name = profile.username
        spent = 1 if name in retried else 0  # no faults: none spent
        assert item.attempts == spent, (name, item.attempts, item.error)
        followed = (name, cookies.get(item.session_id or "")) in follows
        _judge_item(verdict, item, name, truth[name], followed)
    return verdict


def _judge_item(
    verdict: Verdict, item: BatchProfile, name: str, fact: dict[str, Any], followed: bool
) -> None:
    """Count one item into `verdict`, adding a line to `verdict.wrong` when it lied."""
    if not fact["exists"]:
        verdict.not_found += 1
        if (item.status, item.failure_kind) != ("failed", "not_found"):
            verdict.wrong.append(f"missing user {name}: {item.status} {item.outcome}")
        return
    if item.status != "completed":
        verdict.wrong.append(f"existing user {name}: {item.status} {item.error}")
        return
    if item.outcome == "private":
        verdict.private += 1
        verdict.hidden_stories += fact["has_story"]
        if not fact["is_private"] or followed:
            verdict.wrong.append(f"private for {name}: public or followed by the asker")
        return
    if item.outcome == "story":
        verdict.story += 1
    else:
        verdict.no_story += 1
    if item.has_story != fact["has_story"] or item.outcome not in ("story", "no_story"):
        verdict.wrong.append(f"reported {item.outcome} for {name}, truth {fact['has_story']}")
    elif fact["is_private"] and not followed:
        verdict.wrong.append(f"reported {item.outcome} for private {name} not followed")
    elif fact["has_story"] and item.story_count != fact["items"]:
        verdict.wrong.append(f"reported {item.story_count} items for {name}")


def assert_truthful(
    rig: Rig, sim: SimProcess, batch_id: str, retried: Collection[str] = ()
) -> Verdict:
    """Accuracy 1.0, 0 wrong, no existing profile marked not found, invariants hold."""
    verdict = judge(rig, sim, batch_id, retried)
    assert verdict.wrong == [], verdict.wrong[:10]
    assert verdict.accuracy == 1.0
    assert verdict.reported > 0
    with rig.db.read() as session:
        marked = session.scalars(select(Profile.username).where(Profile.not_found.is_(True))).all()
        assert check_invariants(session) == []
    wrongly_missing = [
        n for n, t in server_truth(sim, [(n, 0.0) for n in marked]).items() if t["exists"]
    ]
    assert wrongly_missing == []
    return verdict


def pair_state(rig: Rig, cookie: str) -> tuple[str, str]:
    """(proxy health, session status) of the pair carrying `cookie`, as stored."""
    proxy_id = rig.pair_of(cookie)
    with rig.db.read() as session:
        proxy = session.get(Proxy, proxy_id, populate_existing=True)
        status = session.scalar(select(IgSession.status).where(IgSession.proxy_id == proxy_id))
    assert proxy is not None and status is not None
    return proxy.health, status


def trouble_began(rig: Rig, cookie: str) -> float:
    """When the pair carrying `cookie` first left `ready` (its first state change)."""
    with rig.db.read() as session:
        first = session.scalar(
            select(ProxyErrorLog.timestamp)
            .where(ProxyErrorLog.proxy_id == rig.pair_of(cookie), ProxyErrorLog.state_change)
            .order_by(ProxyErrorLog.timestamp)
            .limit(1)
        )
    return epoch(first)


def recorded_through(rig: Rig, batch_id: str, cookie: str) -> list[float]:
    """Answer times of the items recorded through the pair carrying `cookie`."""
    proxy_id = rig.pair_of(cookie)
    return [
        epoch(item.processed_at) for item, _ in rig.items(batch_id) if item.proxy_id == proxy_id
    ]


def mode_answers(sim: SimProcess, cookie: str, mode: str) -> int:
    """How many answers the session gave in `mode` (the referee's `mode_<name>`)."""
    tally = sim.stats()["sessions"].get(cookie, {})
    return int(tally.get("by_outcome", {}).get(f"mode_{mode}", 0))


# ---------------------------------------------------------------------------------- (a)


def test_a_session_no_longer_honoured_between_two_batches(simulator: Any, rig: Any) -> None:
    sim = simulator(5, *PACED)
    engine = rig(sim, **PACED_SETTINGS)
    names = sim.usernames(320)
    engine.add_profiles(names)
    first = engine.create_batch()
    engine.wait_done(first, timeout=120)
    assert_truthful(engine, sim, first)

    # Between the batches Instagram stops honouring one session's cookies: web_profile_info
    # answers `{"status":"ok"}` and reels_media `{"reels":{},"status":"ok"}` (no
    # `reels_media`). The second batch (ids known: story requests only, plus 40 new
    # profiles that need a lookup) must not read that as "none of these has a story".
    bad = sim.sessions[0]
    sim.set_mode(bad, "unhonoured")
    engine.add_profiles(sim.usernames(40, start=320))
    second = engine.create_batch()
    engine.wait_done(second, timeout=120)

    verdict = assert_truthful(engine, sim, second)
    assert verdict.story > 30 and verdict.no_story > 30
    assert recorded_through(engine, second, bad) == []  # its items went to other pairs
    assert mode_answers(sim, bad, "unhonoured") == 1  # one such answer, then it is out
    wait_until(
        lambda: pair_state(engine, bad) == ("invalid", "invalid"), timeout=10, what="invalid"
    )
    for cookie in sim.sessions[1:]:
        assert pair_state(engine, cookie) == ("ready", "active")


# ---------------------------------------------------------------------------------- (b)


def test_masked_404_after_fifteen_requests_is_a_challenge_not_missing_users(
    simulator: Any, rig: Any
) -> None:
    sim = simulator(5, *PACED)
    engine = rig(sim, **PACED_SETTINGS)
    bad = sim.sessions[2]
    sim.set_mode(bad, "masked_404", after=15)
    engine.add_profiles(sim.usernames(320))
    batch_id = engine.create_batch()
    engine.wait_done(batch_id, timeout=120)

    verdict = assert_truthful(engine, sim, batch_id)  # no existing user marked not found
    assert verdict.not_found > 5  # the real missing users still are
    assert mode_answers(sim, bad, "masked_404") == 1
    assert sim.stats()["sessions"][bad]["total"] == 15 + 1  # 15 answered, then the mask
    wait_until(
        lambda: pair_state(engine, bad) == ("challenge", "challenge"), timeout=10, what="challenge"
    )
    began = trouble_began(engine, bad)
    assert all(at <= began for at in recorded_through(engine, batch_id, bad))


# ---------------------------------------------------------------------------------- (c)


def test_one_pair_in_each_kind_of_trouble_in_the_same_batch(simulator: Any, rig: Any) -> None:
    modes = list(MODE_STATES)
    sim = simulator(len(modes) + 3, *PACED)  # + 3 healthy pairs
    # A long action block (72 compressed "hours" = 144 s) so "cooling" is still what a
    # look at the pair shows when the batch is done.
    engine = rig(sim, action_block_cooldown_hours=72, **PACED_SETTINGS)
    troubled = dict(zip(sim.sessions, modes, strict=False))
    for cookie, mode in troubled.items():
        sim.set_mode(cookie, mode)
    engine.add_profiles(sim.usernames(320))
    batch_id = engine.create_batch()
    engine.wait_done(batch_id, timeout=120)

    verdict = assert_truthful(engine, sim, batch_id)
    assert verdict.story > 30 and verdict.no_story > 30
    for cookie, mode in troubled.items():
        assert recorded_through(engine, batch_id, cookie) == [], mode
        assert mode_answers(sim, cookie, mode) == 1, mode  # one answer, then out or resting
    expected = {
        mode: (MODE_STATES[mode], "active" if MODE_STATES[mode] == "cooling" else MODE_STATES[mode])
        for mode in modes
    }

    def states() -> dict[str, tuple[str, str]]:
        return {mode: pair_state(engine, cookie) for cookie, mode in troubled.items()}

    wait_until(lambda: states() == expected, timeout=10, what=f"pair states {expected}")
    for cookie in sim.sessions[len(modes) :]:
        assert pair_state(engine, cookie) == ("ready", "active")


def test_an_edge_block_of_a_proxy_address_rests_the_pair_and_keeps_its_session(
    simulator: Any, rig: Any
) -> None:
    # Instagram's edge refuses the first proxy's address (403 HTML, no login page), whatever
    # session comes through it. That is the address's trouble: the pair rests and tries
    # again later, its session is never marked logged out or challenged, and no item spends
    # an attempt or is recorded through it.
    sim = simulator(4, *PACED)
    blocked_cookie = sim.sessions[0]  # pair 0: proxy 0, which reaches the simulator from .10
    sim.http.post(
        "/__sim__/addresses", json={"addresses": ["127.0.0.10"], "blocked": True}
    ).raise_for_status()
    engine = rig(sim, **PACED_SETTINGS)
    engine.add_profiles(sim.usernames(320))
    batch_id = engine.create_batch()
    engine.wait_done(batch_id, timeout=120)

    verdict = assert_truthful(engine, sim, batch_id)  # also: every item's attempts == 0
    assert verdict.story > 30 and verdict.no_story > 30
    assert recorded_through(engine, batch_id, blocked_cookie) == []
    address = sim.stats()["addresses"]["127.0.0.10"]
    assert address["total"] >= 1 and address["by_outcome"] == {"address_blocked": address["total"]}
    health, status = pair_state(engine, blocked_cookie)
    assert status == "active" and health in ("cooling", "ready")
    # With nothing left to send, its last cooldown ends on its own, and the log says which.
    wait_until(
        lambda: pair_state(engine, blocked_cookie) == ("ready", "active"), timeout=15, what="ready"
    )
    with engine.db.read() as session:
        reasons = session.scalars(
            select(ProxyErrorLog.transition_reason)
            .where(
                ProxyErrorLog.proxy_id == engine.pair_of(blocked_cookie),
                ProxyErrorLog.state_change,
            )
            .order_by(ProxyErrorLog.timestamp)
        ).all()
    assert reasons, reasons
    for reason in reasons:
        assert reason.startswith(("ready → cooling: address blocked", "cooling → ready")), reason
        assert "rate" not in reason, reason
    assert reasons[-1] == "cooling → ready: address block cooldown ended", reasons
    for cookie in sim.sessions[1:]:
        assert pair_state(engine, cookie) == ("ready", "active")


# ---------------------------------------------------------------------------------- (d)


def test_private_accounts_with_hidden_stories_are_private_never_no_story(
    simulator: Any, rig: Any
) -> None:
    sim = simulator(5, *PACED)
    engine = rig(sim, **PACED_SETTINGS)
    names = sim.usernames(320)
    at = float(sim.http.get("/__sim__/clock").json()["now"])
    facts = server_truth(sim, [(n, at) for n in names])
    private = [n for n in names if facts[n]["is_private"]]
    hidden = [n for n in private if facts[n]["has_story"]]
    assert len(private) >= 0.06 * len(names) and len(hidden) >= 5  # the 10 % of the world

    # One private account with a live story, followed by one pair's session, which the
    # engine knows from an earlier lookup through that session (id, privacy, follower).
    followed, follower = hidden[0], sim.sessions[3]
    sim.follow(follower, [followed])
    rest = [n for n in names if n != followed]
    engine.add_profiles(rest)
    engine.add_profiles([followed], user_ids={followed: facts[followed]["user_id"]})
    follower_row = {cookie: row for row, cookie in session_row_ids(engine).items()}[follower]
    with engine.db.write() as session:
        session.execute(
            update(Profile)
            .where(Profile.username == followed)
            .values(is_private=True, followed_by_session_id=follower_row)
        )
    batch_id = engine.create_batch()
    engine.wait_done(batch_id, timeout=120)

    verdict = assert_truthful(engine, sim, batch_id)
    outcomes = {profile.username: item for item, profile in engine.items(batch_id)}
    for name in private:
        if name != followed:
            assert outcomes[name].outcome == "private", (name, outcomes[name].outcome)
    assert verdict.hidden_stories == len(hidden) - 1
    item = outcomes[followed]
    assert (item.outcome, item.has_story, item.story_count) == (
        "story",
        True,
        facts[followed]["items"],
    )
    assert item.proxy_id == engine.pair_of(follower)
    row = batch_row(engine.db, batch_id)  # the batch's counter says the same
    assert row is not None and row.private_profiles == verdict.private == len(private) - 1


# ---------------------------------------------------------------------------------- (e)


def run_below_the_real_limit(
    simulator: Any, rig: Any, *, configured: int, real: int, profiles: int
) -> dict[str, int]:
    """A batch of new profiles while the simulator really allows 40 % less than the engine
    is told (one budget over every endpoint of a session, a 2-second "hour"); return the
    refused answers per session after checking the batch is done and truthful."""
    sim = simulator(
        4,
        *limit_args(lookups="off", stories="off"),
        "--session-total-limit",
        f"{real}/2s",
        "--rate-limit-status",
        "mix",
    )
    engine = rig(sim, proxy_hourly_limit=configured, lookup_hourly_limit=configured)
    engine.add_profiles(sim.usernames(profiles))
    batch_id = engine.create_batch()
    engine.wait_done(batch_id, timeout=180)

    assert_truthful(engine, sim, batch_id)
    sessions = sim.stats()["sessions"]
    # Keyed by pair number: a session cookie never goes into test output.
    refused = {f"pair {i}": sessions[c]["rate_limited"] for i, c in enumerate(sim.sessions)}
    assert any(refused.values())  # the limit really was lower
    with engine.db.read() as session:
        learned = session.scalars(select(Proxy.learned_hourly_limit)).all()
    assert any(value is not None and value < configured for value in learned), learned
    return refused


def test_real_limit_below_the_configured_one_costs_a_few_refusals_per_pair(
    simulator: Any, rig: Any
) -> None:
    # 20 configured, 12 real per 2 s: the batch lasts about three windows. (A pair must send
    # 13 requests within 2 s to be refused: low rates keep that true on a loaded machine.)
    refused = run_below_the_real_limit(simulator, rig, configured=20, real=12, profiles=128)
    assert all(count <= 3 for count in refused.values()), refused


def test_refusals_stay_a_constant_over_a_long_batch(simulator: Any, rig: Any) -> None:
    # 10 configured, 6 real per 2 s: the same 320 profiles now last about 15 windows, and
    # the refusals must not grow with them (a learned budget that kept probing above the
    # refused level was refused ~20 times per pair here).
    refused = run_below_the_real_limit(simulator, rig, configured=10, real=6, profiles=320)
    assert all(count <= 3 for count in refused.values()), refused


# ---------------------------------------------------------------------------------- (d')


def test_an_account_that_turned_private_since_its_lookup_is_not_no_story(
    simulator: Any, rig: Any
) -> None:
    # The ids are known from an earlier batch, when these accounts were public. Since then
    # they turned private and have a live story: a story request through a session that
    # does not follow them gets no reel, which proves nothing about their story. The privacy
    # learned by the first batch counts as old here (max age 0): every absent reel of the
    # second batch is looked up again before "no story" is said.
    sim = simulator(4, *PACED)
    engine = rig(sim, options=fast_options(privacy_max_age=0.0), **PACED_SETTINGS)
    names = sim.usernames(320)
    engine.add_profiles(names)
    first = engine.create_batch()
    engine.wait_done(first, timeout=120)
    assert_truthful(engine, sim, first)

    at = float(sim.http.get("/__sim__/clock").json()["now"])
    facts = server_truth(sim, [(n, at) for n in names])
    turned = [n for n in names if facts[n]["exists"] and not facts[n]["is_private"]][:40]
    sim.http.post("/__sim__/profiles", json={"usernames": turned, "kind": "private"})
    after = server_truth(sim, [(n, at) for n in turned])
    assert sum(t["has_story"] for t in after.values()) >= 5  # hidden now

    second = engine.create_batch()
    engine.wait_done(second, timeout=120)
    assert_truthful(engine, sim, second)


class FollowedPair(NamedTuple):
    """Two private accounts a pair's session was once recorded as following: it still
    follows `kept` (no story), no longer `dropped` (which has a live story)."""

    dropped: str
    kept: str
    follower: str  # the simulator session (cookie)
    follower_row: str  # its `sessions` row id
    at: float  # the simulator's clock when they were chosen


def followed_pair(sim: SimProcess, engine: Rig) -> FollowedPair:
    """Add 320 profiles, two of them the `FollowedPair` (with their ids cached)."""
    names = sim.usernames(320)
    at = float(sim.http.get("/__sim__/clock").json()["now"])
    facts = server_truth(sim, [(n, at) for n in names])
    private = [n for n in names if facts[n]["is_private"]]
    dropped = next(n for n in private if facts[n]["has_story"])
    kept = next(n for n in private if not facts[n]["has_story"])
    follower = sim.sessions[1]
    sim.follow(follower, [kept])  # `dropped` is no longer followed
    rest = [n for n in names if n not in (dropped, kept)]
    engine.add_profiles(rest)
    engine.add_profiles([dropped, kept], user_ids={n: facts[n]["user_id"] for n in (dropped, kept)})
    follower_row = {cookie: row for row, cookie in session_row_ids(engine).items()}[follower]
    return FollowedPair(dropped, kept, follower, follower_row, at)


def test_a_follow_learned_long_ago_does_not_make_an_absent_reel_no_story(
    simulator: Any, rig: Any
) -> None:
    # Two private accounts that a pair's session followed when they were last looked up,
    # three days ago. Since then that session stopped following one of them (which has a
    # live story: no reel for that session now). The other it still follows, and it has no
    # story. Neither old follow proves anything on its own: each absent reel is looked up
    # again through that session before anything is said.
    sim = simulator(4, *PACED)
    engine = rig(sim, **PACED_SETTINGS)
    dropped, kept, follower, follower_row, at = followed_pair(sim, engine)
    with engine.db.write() as session:
        session.execute(
            update(Profile)
            .where(Profile.username.in_([dropped, kept]))
            .values(
                is_private=True,
                followed_by_session_id=follower_row,
                identity_checked_at=datetime.fromtimestamp(at - 3 * 86400, UTC),
            )
        )
    batch_id = engine.create_batch()
    engine.wait_done(batch_id, timeout=120)

    assert_truthful(engine, sim, batch_id)  # a "no story" for `dropped` would be wrong
    outcomes = {profile.username: (item, profile) for item, profile in engine.items(batch_id)}
    item, profile = outcomes[dropped]
    assert item.outcome == "private" and profile.followed_by_session_id is None
    item, profile = outcomes[kept]
    assert (item.outcome, item.proxy_id) == ("no_story", engine.pair_of(follower))
    assert profile.followed_by_session_id == follower_row


def test_a_privacy_lookup_through_another_session_does_not_refresh_an_old_follow(
    simulator: Any, rig: Any
) -> None:
    # Two private accounts whose privacy was looked up a minute ago through some other
    # session (fresh), while the follow by one pair's session was last confirmed through it
    # three days ago (`dropped`) or at an unknown time, before follows were dated (`kept`).
    # That session stopped following `dropped`, which has a live story (no reel for it
    # now); it still follows `kept`, which has none. The fresh privacy says nothing about
    # the follow: each absent reel is looked up again through the follower first.
    sim = simulator(4, *PACED)
    engine = rig(sim, **PACED_SETTINGS)
    dropped, kept, follower, follower_row, at = followed_pair(sim, engine)
    looked_up = datetime.fromtimestamp(time.time() - 60, UTC)
    for name, confirmed in ((dropped, time.time() - 3 * 86400), (kept, None)):
        with engine.db.write() as session:
            session.execute(
                update(Profile)
                .where(Profile.username == name)
                .values(
                    is_private=True,
                    identity_checked_at=looked_up,
                    followed_by_session_id=follower_row,
                    followed_checked_at=(
                        None if confirmed is None else datetime.fromtimestamp(confirmed, UTC)
                    ),
                )
            )
    started = time.time()
    batch_id = engine.create_batch()
    engine.wait_done(batch_id, timeout=120)

    assert_truthful(engine, sim, batch_id)  # a "no story" for `dropped` would be wrong
    outcomes = {profile.username: (item, profile) for item, profile in engine.items(batch_id)}
    item, profile = outcomes[dropped]
    assert item.outcome == "private"
    assert (profile.followed_by_session_id, profile.followed_checked_at) == (None, None)
    item, profile = outcomes[kept]
    assert (item.outcome, item.proxy_id) == ("no_story", engine.pair_of(follower))
    assert profile.followed_by_session_id == follower_row
    assert epoch(profile.followed_checked_at) >= started  # confirmed by this batch's lookup


# ---------------------------------------------------------------------------------- issue 16


def test_proxies_that_silently_drop_every_keep_alive_cost_no_answer(
    simulator: Any, rig: Any
) -> None:
    """Every proxy closes each connection after one answer without saying so (as many real
    proxies do): the next request on that connection gets no answer at all. That is the
    pair's transport, not an answer about the accounts: a 1,000-profile batch must come out
    exactly as without it — accuracy 1.0, no attempt spent, no item failed, no pair hurt."""
    sim = simulator(4, *PACED)
    fleet = ProxyFleet(4, kind="http", silent_close=True).start()
    try:
        engine = rig(sim, pairs=[ProxySpec.from_url(url) for url in fleet.urls], **PACED_SETTINGS)
        engine.add_profiles(sim.usernames(1000))
        batch_id = engine.create_batch()
        engine.wait_done(batch_id, timeout=240)
        dropped = sum(counters["silent_closes"] for counters in fleet.counters())
    finally:
        fleet.stop()
    print(f"{dropped} reused connections dropped by the proxies without an answer")
    assert dropped >= 50, dropped  # the proxies really did drop reused connections

    verdict = assert_truthful(engine, sim, batch_id)  # also: every item's attempts == 0
    assert verdict.reported + verdict.private + verdict.not_found == 1000
    failed = [
        (profile.username, item.error)
        for item, profile in engine.items(batch_id)
        if item.status == "failed" and item.failure_kind != "not_found"
    ]
    assert failed == []
    with engine.db.read() as session:
        health = session.scalars(select(Proxy.health)).all()
        logged = session.scalar(select(func.count()).select_from(ProxyErrorLog))
    assert health == ["ready"] * 4 and logged == 0


# ---------------------------------------------------------------------------------- answers
# Answers the facts file does not list (so the simulator never sends them): the simulator's
# real answer, over HTTP, is rewritten in the engine's own transport before it reads it.

Rewrite = Callable[[httpx.Request, dict[str, Any]], bool]  # True: the body was changed


class Rewriting(httpx.AsyncBaseTransport):
    """Sends each request to the simulator (directly, not through the pair's proxy) and lets
    `rewrite` change the JSON body of a 200 answer."""

    def __init__(self, rewrite: Rewrite) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.rewrite = rewrite

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if response.status_code != 200:
            return response
        content = await response.aread()
        await response.aclose()
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        if isinstance(body, dict) and self.rewrite(request, body):
            content = json.dumps(body).encode()
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
        ]
        return httpx.Response(200, headers=headers, content=content, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def rewriting_checker(sim: SimProcess, rewrite: Rewrite) -> InstagramChecker:
    """The engine's real checker, talking to `sim` through a `Rewriting` transport."""
    return InstagramChecker(base_url=sim.base_url, transport_factory=lambda: Rewriting(rewrite))


def live_public(sim: SimProcess, names: list[str], count: int) -> dict[str, str]:
    """User id → username of `count` public accounts with a live story now."""
    at = float(sim.http.get("/__sim__/clock").json()["now"])
    facts = server_truth(sim, [(n, at) for n in names])
    chosen = [n for n in names if facts[n]["has_story"] and not facts[n]["is_private"]][:count]
    assert len(chosen) == count
    return {str(facts[n]["user_id"]): n for n in chosen}


def test_a_reel_without_items_is_asked_again_never_no_story(simulator: Any, rig: Any) -> None:
    # The first story answer naming each of 20 accounts with a live story lists its reel
    # without its items: half without an `items` key, half with `items: []` while the reel's
    # own `latest_reel_media` and `expiring_at` say a story is live. Neither proves "no
    # story": each such item spends one attempt and is asked again (on another pair), where
    # the whole reel comes back and the story is found.
    sim = simulator(4, *limit_args(lookups="off", stories="off"))
    names = sim.usernames(320)
    targets = live_public(sim, names, 20)
    without_key = set(list(targets)[:10])
    rewritten: set[str] = set()

    def strip(request: httpx.Request, body: dict[str, Any]) -> bool:
        if request.url.path != "/api/v1/feed/reels_media/":
            return False
        reels = [*body.get("reels_media", []), *body.get("reels", {}).values()]
        now = {str(r["id"]) for r in reels if str(r["id"]) in targets} - rewritten
        for reel in reels:
            uid = str(reel["id"])
            if uid in now:
                if uid in without_key:
                    del reel["items"]
                else:
                    reel["items"] = []
        rewritten.update(now)
        return bool(now)

    engine = rig(sim, checker=rewriting_checker(sim, strip), **PACED_SETTINGS)
    engine.add_profiles(names)
    batch_id = engine.create_batch()
    engine.wait_done(batch_id, timeout=120)

    assert rewritten == set(targets)
    verdict = assert_truthful(engine, sim, batch_id, retried=set(targets.values()))
    assert verdict.story > 30 and verdict.no_story > 30
    outcomes = {profile.username: item for item, profile in engine.items(batch_id)}
    for name in targets.values():
        assert (outcomes[name].outcome, outcomes[name].attempts) == ("story", 1), name


def test_a_dense_answer_with_errors_is_not_proof_and_the_pair_uses_v1(
    simulator: Any, rig: Any
) -> None:
    # Every dense answer (`POST /graphql/query`) carries a GraphQL `errors` list beside its
    # `reels_media`, from which 20 accounts with a live story are missing (a partial answer).
    # Read as proof, they would be "no story"; each pair must instead fall back to v1
    # reels_media, which answers them all, without an attempt spent.
    sim = simulator(4, *limit_args(lookups="off", stories="off"), "--doc-id", DOC_ID)
    names = sim.usernames(320)
    targets = live_public(sim, names, 20)
    partial: list[int] = []

    def with_errors(request: httpx.Request, body: dict[str, Any]) -> bool:
        if request.url.path != "/graphql/query":
            return False
        block = body["data"]["xdt_api__v1__feed__reels_media"]
        block["reels_media"] = [r for r in block["reels_media"] if str(r["id"]) not in targets]
        body["errors"] = [
            {"message": "execution error", "code": 1675030, "summary": "Partial result"}
        ]
        partial.append(len(block["reels_media"]))
        return True

    engine = rig(
        sim, checker=rewriting_checker(sim, with_errors), dense_doc_id=DOC_ID, **PACED_SETTINGS
    )
    engine.add_profiles(names)
    batch_id = engine.create_batch()
    engine.wait_done(batch_id, timeout=120)

    verdict = assert_truthful(engine, sim, batch_id)  # also: every item's attempts == 0
    assert verdict.story > 30 and verdict.no_story > 30
    outcomes = {profile.username: item for item, profile in engine.items(batch_id)}
    assert all(outcomes[name].outcome == "story" for name in targets.values())
    by_endpoint = sim.stats()["total"]["by_endpoint"]
    assert 1 <= len(partial) == by_endpoint["graphql_reels_media"] <= 4  # once per pair
    assert by_endpoint["reels_media"] >= 10
