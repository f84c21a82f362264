"""The engine against the simulator over real HTTP, through its local proxies."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from storycheck.batches.invariants import check_invariants
from storycheck.batches.models import BatchLog, BatchProfile
from storycheck.profiles.models import Profile
from storycheck.proxies.models import IgSession, Proxy, ProxyErrorLog, ProxyUsage
from storycheck.stories.models import StoryResult
from tests.engine.conftest import Rig, SimProcess, limit_args
from tests.helpers import holds_for, no_violations, wait_until


def assert_matches_truth(rig: Rig, sim: SimProcess, batch_id: str) -> dict[str, int]:
    """Every item's outcome equals the simulator's truth at the moment it was processed."""
    counts = {"story": 0, "no_story": 0, "private": 0, "not_found": 0}
    for item, profile in rig.items(batch_id):
        assert item.processed_at is not None, profile.username
        truth = sim.truth(profile.username, item.processed_at.timestamp())
        if not truth["exists"]:
            assert (item.status, item.failure_kind) == ("failed", "not_found"), profile.username
            assert profile.not_found
            counts["not_found"] += 1
            continue
        assert item.status == "completed", (profile.username, item.status, item.error)
        assert profile.ig_user_id == truth["user_id"]
        if item.outcome == "private":
            # Private and not followed by the checking session: unknown (its story, if any, is
            # hidden from that session), never "no story".
            assert profile.is_private and truth["is_private"] and not item.has_story
            counts["private"] += 1
            continue
        assert item.has_story == truth["has_story"], profile.username
        if truth["has_story"]:
            assert item.outcome == "story"
            counts["story"] += 1
            assert item.story_count == truth["items"]
            assert item.latest_story_at is not None
            assert item.latest_story_at.timestamp() == truth["latest_reel_media"]
            assert item.story_expires_at is not None
            assert item.story_expires_at.timestamp() == truth["expiring_at"]
        else:
            assert item.outcome == "no_story"
            counts["no_story"] += 1
    return counts


def known_ids(sim: SimProcess, names: list[str]) -> dict[str, str | None]:
    """User ids of the names that exist, as a previous lookup would have cached them."""
    return {n: t["user_id"] for n in names if (t := sim.truth(n, 0.0))["exists"]}


def log_counts(rig: Rig, batch_id: str) -> dict[str, int]:
    with rig.db.read() as session:
        rows = session.execute(
            select(BatchLog.event_type, func.count())
            .where(BatchLog.batch_id == batch_id)
            .group_by(BatchLog.event_type)
        ).all()
    return {event: count for event, count in rows}


def test_5000_profiles_match_the_truth_without_a_single_limit_violation(
    simulator: Any, rig: Any
) -> None:
    # 16 pairs, each allowed 25 lookups and 25 story queries per 2-second "hour" by the
    # simulator, per session and per address; the engine is configured to the same budget.
    sim = simulator(16, *limit_args(lookups="25/2s", stories="25/2s"))
    engine = rig(sim, proxy_hourly_limit=25, lookup_hourly_limit=25)
    names = sim.usernames(5000)
    engine.add_profiles(names)

    started = time.monotonic()
    batch_id = engine.create_batch()
    engine.wait_done(batch_id, timeout=300)  # generous: a loaded machine is much slower
    elapsed = time.monotonic() - started

    counts = assert_matches_truth(engine, sim, batch_id)
    assert counts["story"] > 500 and counts["no_story"] > 500 and counts["not_found"] > 50
    no_violations(sim)
    stats = sim.stats()["total"]["by_endpoint"]
    # One lookup per profile, never more — except "not found", which a second pair confirms.
    assert stats["web_profile_info"] == 5000 + counts["not_found"]
    # The pool's lookup ceiling is 16 pairs × 12.5/s = 200/s: 5,000 lookups need ≥ 25 s.
    assert elapsed >= 5000 / 200 * 0.9

    with engine.db.read() as session:
        assert check_invariants(session) == []
        stories = session.scalar(select(func.count()).select_from(StoryResult))
        assert stories == counts["story"]
        checks = session.execute(
            select(func.sum(Profile.total_checks), func.sum(Profile.total_detections))
        ).one()
        checked = counts["story"] + counts["no_story"] + counts["private"]
        assert checks == (checked, counts["story"])
        usage = session.scalar(select(func.sum(ProxyUsage.requests)))
        assert usage is not None and usage >= sim.requests()  # reservations cover every request
    logs = log_counts(engine, batch_id)
    assert logs["STORY_FOUND"] == counts["story"]
    assert logs["CHECK_FAILED"] == counts["not_found"]
    assert logs["PAIR_ASSIGNED"] == 16
    wait_until(lambda: log_counts(engine, batch_id).get("BATCH_END") == 1, timeout=10)
    assert 5 <= logs["PROGRESS"] <= 10

    # Second batch over the same, now resolved profiles: no lookups, dense story queries,
    # and users known not to exist fail at once without a request.
    before = sim.stats()["total"]["by_endpoint"]
    second = engine.create_batch()
    engine.wait_done(second, timeout=60)
    after = sim.stats()["total"]["by_endpoint"]
    assert after["web_profile_info"] == before["web_profile_info"]
    resolved = counts["story"] + counts["no_story"] + counts["private"]
    story_requests = sum(
        after.get(k, 0) - before.get(k, 0) for k in ("graphql_reels_media", "reels_media")
    )
    assert story_requests <= math.ceil(resolved / 18)
    again = assert_matches_truth(engine, sim, second)
    assert again["not_found"] == counts["not_found"]
    no_violations(sim)
    with engine.db.read() as session:
        assert check_invariants(session) == []
        assert session.scalar(select(func.max(Profile.total_checks))) == 2


def test_a_renamed_account_is_looked_up_again_never_answered_by_its_old_id(
    simulator: Any, rig: Any
) -> None:
    # Two public accounts with a story, checked once (their ids cached). Then, as on
    # Instagram, `first` takes a free name and `second` takes `first`'s old name: the cached
    # id of "first" now belongs to another account, and "second" no longer exists.
    sim = simulator(2)
    engine = rig(sim)
    now = time.time()
    first, second = sim.truth_model.usernames(2, kind="poster", with_story_at=now)
    quiet = sim.truth_model.usernames(1, kind="never_posts")[0]
    free = sim.truth_model.usernames(1, kind="missing", prefix="free")[0]
    engine.add_profiles([first, second, quiet])
    batch = engine.create_batch()
    engine.wait_done(batch, timeout=60)
    assert_matches_truth(engine, sim, batch)
    sim.rename(first, free)
    sim.rename(second, first)

    lookups = sim.requests("web_profile_info")
    again = engine.create_batch()
    engine.wait_done(again, timeout=60)
    # Every answer is the usernames' truth now: "first" is the account that took the name
    # (its id saved), "second" is not found (two pairs agree), the untouched one is as it was.
    counts = assert_matches_truth(engine, sim, again)
    assert counts == {"story": 1, "no_story": 1, "private": 0, "not_found": 1}
    outcome = {profile.username: item for item, profile in engine.items(again)}
    assert outcome[first].outcome == "story"
    assert (outcome[second].status, outcome[second].failure_kind) == ("failed", "not_found")
    # Only the renamed ones were looked up again: "first" once, "second" by both pairs.
    assert sim.requests("web_profile_info") - lookups == 3
    no_violations(sim)
    # The batch log says so, naming each account's new name.
    def renames_told() -> set[str]:
        with engine.db.read() as session:
            lines = session.scalars(
                select(BatchLog.message).where(
                    BatchLog.batch_id == again, BatchLog.event_type == "INFO"
                )
            )
            return {line for line in lines if "(renamed)" in line}

    told = {
        f"the cached id of @{first} now answers as @{free} (renamed); @{first} is looked up again",
        f"the cached id of @{second} now answers as @{first} (renamed); @{second} is looked up"
        " again",
    }
    wait_until(lambda: renames_told() == told, timeout=10, what="the renames in the batch log")


def pair_rows(rig: Rig) -> dict[str, tuple[Proxy, IgSession | None]]:
    """Proxies with their sessions, keyed by session cookie digest order of seeding."""
    with rig.db.read() as session:
        rows = session.execute(
            select(Proxy, IgSession).outerjoin(IgSession, IgSession.proxy_id == Proxy.id)
        ).all()
        return {proxy.id: (proxy, ig) for proxy, ig in rows}


def proxy_for_session(rig: Rig, cookie: str) -> Proxy:
    digest = rig.secrets.digest(cookie)
    with rig.db.read() as session:
        proxy = session.scalar(
            select(Proxy)
            .join(IgSession, IgSession.proxy_id == Proxy.id)
            .where(IgSession.session_digest == digest)
        )
        assert proxy is not None
        return proxy


def error_logs(rig: Rig, proxy_id: str) -> list[ProxyErrorLog]:
    with rig.db.read() as session:
        return list(
            session.scalars(
                select(ProxyErrorLog)
                .where(ProxyErrorLog.proxy_id == proxy_id)
                .order_by(ProxyErrorLog.timestamp)
            )
        )


def test_rate_limited_pairs_cool_down_honour_retry_after_and_come_back(
    simulator: Any, rig: Any
) -> None:
    # The engine believes it may send 40 per window; the simulator allows 10 and says when
    # room returns (Retry-After). Pairs must cool down, the items wait (no attempt used),
    # and every pair is ready again at the end.
    sim = simulator(
        4,
        *limit_args(lookups="10/2s", stories="10/2s"),
        "--retry-after",
        "--rate-limit-status",
        "mix",
    )
    engine = rig(sim, proxy_hourly_limit=40, lookup_hourly_limit=40)
    engine.add_profiles(sim.usernames(240))
    batch_id = engine.create_batch()
    engine.wait_done(batch_id, timeout=60)

    assert_matches_truth(engine, sim, batch_id)
    items = engine.items(batch_id)
    assert all(item.attempts == 0 for item, _ in items)  # rate limits never cost an attempt
    stats = sim.stats()
    limited = stats["total"]["rate_limited"]
    assert limited > 0
    # After a refusal a pair waits for Retry-After, so refusals stay a small share.
    assert limited <= stats["total"]["ok"] // 4
    assert log_counts(engine, batch_id).get("RATE_LIMITED", 0) > 0

    def all_ready() -> bool:
        return all(proxy.health == "ready" for proxy, _ in pair_rows(engine).values())

    wait_until(all_ready, timeout=10, what="pairs ready again")
    for proxy_id in pair_rows(engine):
        changes = [log for log in error_logs(engine, proxy_id) if log.state_change]
        reasons = [log.transition_reason or "" for log in changes]
        assert any(r.startswith("ready → cooling") for r in reasons), reasons
        assert any(r.startswith("cooling → ready") for r in reasons), reasons
        cooling = [
            log for log in changes if (log.transition_reason or "").startswith("ready → cooling")
        ]
        assert all(
            log.recovery_time is not None and log.recovery_time > log.timestamp for log in cooling
        )


def test_logged_out_and_challenged_sessions_are_taken_out_until_replaced(
    simulator: Any, rig: Any, secrets: Any
) -> None:
    sim = simulator(4)
    engine = rig(sim)
    logged_out, challenged = sim.sessions[0], sim.sessions[1]
    sim.flag_session(logged_out, "logout")
    sim.flag_session(challenged, "challenge", kind="checkpoint_required")
    engine.add_profiles(sim.usernames(300))
    batch_id = engine.create_batch()
    engine.wait_done(batch_id, timeout=60)
    assert_matches_truth(engine, sim, batch_id)
    assert all(item.attempts == 0 for item, _ in engine.items(batch_id))

    sessions = sim.stats()["sessions"]
    assert sessions[logged_out]["total"] == 1  # one refusal, then the pair is out
    assert sessions[challenged]["total"] == 1

    def health_of(cookie: str) -> tuple[str, str | None]:
        proxy = proxy_for_session(engine, cookie)
        _, ig = pair_rows(engine)[proxy.id]
        return proxy.health, ig.status if ig else None

    wait_until(lambda: health_of(logged_out) == ("invalid", "invalid"), timeout=5, what="invalid")
    wait_until(
        lambda: health_of(challenged) == ("challenge", "challenge"), timeout=5, what="challenge"
    )
    bad = proxy_for_session(engine, logged_out)
    reasons = [log.transition_reason for log in error_logs(engine, bad.id) if log.state_change]
    assert any((r or "").startswith("ready → invalid") for r in reasons)
    for log in error_logs(engine, bad.id):
        assert logged_out not in log.error_message and logged_out not in (
            log.transition_reason or ""
        )

    # The user pastes a fresh cookie (what PUT /api/proxies/{id}/session does): the pair is
    # ready again and takes work in the next batch.
    sim.flag_session(logged_out, "restore")
    with engine.db.write() as session:
        ig = session.scalar(select(IgSession).where(IgSession.proxy_id == bad.id))
        assert ig is not None
        ig.session_encrypted = secrets.encrypt(logged_out)
        ig.status = "active"
        proxy = session.get(Proxy, bad.id)
        assert proxy is not None
        proxy.health = "ready"
    wait_until(
        lambda: any(p.proxy_id == bad.id for p in engine.pool.scheduler.usable),
        timeout=5,
        what="the engine to pick the new cookie up",
    )
    second = engine.create_batch()
    engine.wait_done(second, timeout=60)
    assert sim.stats()["sessions"][logged_out]["ok"] > 0
    assert health_of(logged_out) == ("ready", "active")
    assert health_of(challenged)[0] == "challenge"


def test_transient_errors_retry_on_another_pair_and_a_dead_proxy_opens_its_circuit(
    simulator: Any, rig: Any, engine_db: Any
) -> None:
    from storycheck.testing import ProxySpec

    sim = simulator(4)
    sim.set_faults(
        error_5xx_share=0.08,
        malformed_share=0.04,
        drop_share=0.04,
        hang_share=0.02,
        hang_seconds=3,
        rate_limit_share=0.02,
    )
    # A fifth pair whose proxy does not listen: every request is a connection error.
    dead = ProxySpec("http", "127.0.0.1", 9)
    engine = rig(
        sim,
        pairs=[*sim.proxies, dead],
        sessions=[*sim.sessions, "dead-session-cookie-0000000000"],
        proxy_max_failures=3,
        max_attempts=3,
        proxy_test_timeout=1,
    )
    engine.add_profiles(sim.usernames(400))
    batch_id = engine.create_batch()
    engine.wait_done(batch_id, timeout=90)

    items = engine.items(batch_id)
    retried = [item for item, _ in items if item.attempts > 0]
    assert retried, "faults should have caused retries"
    for item, profile in items:
        if item.status == "failed" and item.failure_kind != "not_found":
            assert item.attempts == 3, (profile.username, item.attempts, item.error)
        if item.failure_kind == "not_found" or profile.not_found:
            # A malformed, dropped or failed answer never reads as "does not exist".
            assert item.processed_at is not None, profile.username
            truth = sim.truth(profile.username, item.processed_at.timestamp())
            assert not truth["exists"], (profile.username, item.error)
    completed = [(item, profile) for item, profile in items if item.status == "completed"]
    assert len(completed) >= 0.85 * len(items)
    for item, profile in completed:
        truth = sim.truth(profile.username, item.processed_at.timestamp())  # type: ignore[union-attr]
        if item.outcome == "private":  # hidden from a session that does not follow it
            assert truth["is_private"] and not item.has_story
        else:
            assert item.has_story == truth["has_story"]
    assert log_counts(engine, batch_id).get("RETRY", 0) > 0

    with engine_db.read() as session:
        dead_proxy = session.scalar(select(Proxy).where(Proxy.port == 9))
        assert dead_proxy is not None
        assert dead_proxy.health == "open"
        assert dead_proxy.failed_requests >= 3
        # Nothing recorded through the dead pair: every item it carried moved elsewhere.
        through_dead = session.scalar(
            select(func.count())
            .select_from(BatchProfile)
            .where(BatchProfile.proxy_id == dead_proxy.id, BatchProfile.status == "completed")
        )
        assert through_dead == 0
        assert check_invariants(session) == []
    reasons = [
        log.transition_reason or "" for log in error_logs(engine, dead_proxy.id) if log.state_change
    ]
    assert any(r.startswith("ready → open") for r in reasons), reasons


def test_too_many_ids_halves_the_group_until_instagram_accepts_it(simulator: Any, rig: Any) -> None:
    sim = simulator(2, "--graphql-reel-cap", "12", "--reel-cap", "5")
    engine = rig(sim, max_threads=1)
    names = sim.usernames(300)
    engine.add_profiles(names, user_ids=known_ids(sim, names), private=sim.known_privacy(names))
    batch_id = engine.create_batch()
    engine.wait_done(batch_id, timeout=60)
    assert_matches_truth(engine, sim, batch_id)
    outcomes = sim.stats()["total"]["by_outcome"]
    assert outcomes["too_many_reels"] == 2  # 50 → 25 → 12, then every query fits
    assert sim.requests("graphql_reels_media") <= 2 + math.ceil(285 / 12) + 2


def test_v1_reels_media_form_with_its_own_cap(simulator: Any, rig: Any) -> None:
    from tests.engine.conftest import fast_options

    sim = simulator(2, "--reel-cap", "5")
    engine = rig(sim, options=fast_options(dense=False), max_threads=1, reel_ids_per_request=20)
    names = sim.usernames(200)
    engine.add_profiles(names, user_ids=known_ids(sim, names), private=sim.known_privacy(names))
    batch_id = engine.create_batch()
    engine.wait_done(batch_id, timeout=60)
    assert_matches_truth(engine, sim, batch_id)
    assert sim.requests("graphql_reels_media") == 0
    assert sim.stats()["total"]["by_outcome"]["too_many_reels"] == 2  # 20 → 10 → 5


def item_states(rig: Rig, batch_id: str) -> dict[str, int]:
    with rig.db.read() as session:
        rows = session.execute(
            select(BatchProfile.status, func.count())
            .where(BatchProfile.batch_id == batch_id)
            .group_by(BatchProfile.status)
        ).all()
    return {status: count for status, count in rows}


def completed_count(rig: Rig, batch_id: str) -> int:
    states = item_states(rig, batch_id)
    return states.get("completed", 0) + states.get("failed", 0)


def test_pause_stops_new_requests_at_once_and_resume_checks_only_the_rest(
    simulator: Any, rig: Any
) -> None:
    sim = simulator(6, *limit_args(lookups="20/2s", stories="20/2s"))
    engine = rig(sim, proxy_hourly_limit=20, lookup_hourly_limit=20)
    engine.add_profiles(sim.usernames(600))
    batch_id = engine.create_batch()
    wait_until(lambda: completed_count(engine, batch_id) >= 150, timeout=30, what="progress")

    engine.state.stop([batch_id])
    _, in_flight = engine.pool.request_stats(batch_id)
    answered = sim.requests()
    wait_until(
        lambda: "in_flight" not in item_states(engine, batch_id), timeout=5, what="leases back"
    )
    done_at_pause = completed_count(engine, batch_id)
    holds_for(
        # Only requests already in flight at the pause arrive; nothing completes any more.
        lambda: sim.requests() - answered <= in_flight
        and completed_count(engine, batch_id) == done_at_pause,
        seconds=1.5,
        what="no request and no progress while paused",
    )
    assert engine.status(batch_id) == "paused"

    engine.state.resume([batch_id])
    engine.wait_done(batch_id, timeout=60)
    counts = assert_matches_truth(engine, sim, batch_id)
    no_violations(sim)
    # Nothing finished before the pause was checked again; no existing profile was looked up
    # twice. A missing one is asked of a second pair by design, and a first "not found"
    # verdict still unconfirmed at the pause is asked again after it (≤ 3 lookups each).
    lookups = sim.requests("web_profile_info")
    assert 600 + counts["not_found"] <= lookups <= 600 + 2 * counts["not_found"]
    with engine.db.read() as session:
        assert session.scalar(select(func.max(Profile.total_checks))) == 1
        assert check_invariants(session) == []


def test_delete_during_a_run_stops_requests_and_writes_nothing_afterwards(
    simulator: Any, rig: Any
) -> None:
    sim = simulator(6, *limit_args(lookups="20/2s", stories="20/2s"))
    engine = rig(sim, proxy_hourly_limit=20, lookup_hourly_limit=20)
    names = sim.usernames(600)
    engine.add_profiles(
        names[:300], user_ids=known_ids(sim, names[:300]), private=sim.known_privacy(names[:300])
    )
    engine.add_profiles(names[300:])
    batch_id = engine.create_batch()
    wait_until(lambda: completed_count(engine, batch_id) >= 350, timeout=30, what="progress")

    def profile_facts() -> tuple[Any, ...]:
        with engine.db.read() as session:
            return tuple(
                session.execute(
                    select(
                        func.sum(Profile.total_checks),
                        func.sum(Profile.total_detections),
                        func.count().filter(Profile.not_found.is_(True)),
                        func.count().filter(Profile.ig_user_id.is_not(None)),
                        func.max(Profile.updated_at),
                    )
                ).one()
            )

    assert engine.state.delete([batch_id]) == 1
    _, in_flight = engine.pool.request_stats(batch_id)
    answered = sim.requests()
    facts = profile_facts()
    holds_for(
        # Late answers of the deleted batch change nothing; no request starts after the delete.
        lambda: sim.requests() - answered <= in_flight and profile_facts() == facts,
        seconds=1.5,
        what="nothing sent or written after the delete",
    )
    with engine.db.read() as session:
        for model in (BatchProfile, BatchLog, StoryResult):
            count = session.scalar(
                select(func.count()).select_from(model).where(model.batch_id == batch_id)
            )  # type: ignore[attr-defined]
            assert count == 0, model.__name__
    assert engine.status(batch_id) is None
    assert engine.pool.running_ids() == set()


@pytest.mark.parametrize("kind", ["http", "socks5"])
def test_proxies_with_credentials_http_and_socks5(kind: str, simulator: Any, rig: Any) -> None:
    sim = simulator(
        2, "--proxy-kind", kind, "--proxy-user", "u:ser", "--proxy-password", "p@ss/w:rd"
    )
    assert all(p.scheme == kind and p.password == "p@ss/w:rd" for p in sim.proxies)
    engine = rig(sim)
    with engine.db.read() as session:
        stored = session.scalars(select(Proxy.password_encrypted)).all()
    assert all(value and "p@ss" not in value for value in stored)  # encrypted at rest
    engine.add_profiles(sim.usernames(60))
    batch_id = engine.create_batch()
    engine.wait_done(batch_id, timeout=60)
    assert_matches_truth(engine, sim, batch_id)
    assert sum(s["ok"] for s in sim.stats()["sessions"].values()) > 0
