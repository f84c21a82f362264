"""Every answer row of docs/instagram-facts.md, over real HTTP from the simulator, read by
`InstagramClient`: its classification, and the pair / item effect the engine applies to it.

`EFFECTS` is the outcome table engine-core's scheduler and health follow (data, so the two
sides can be compared); each row below names the class it must produce. The simulator runs
in this process on a free loopback port; its per-session modes (`/__sim__/sessions/{id}/mode`)
make one session answer one row.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from storycheck.engine.client import InstagramClient, PairIdentity, ReelInfo, ResolvedUser
from storycheck.engine.errors import (
    PAIR_PROBLEMS,
    Challenge,
    Classification,
    ClientRefused,
    IgError,
    RateLimited,
    classify,
)
from storycheck.simulator import PopulationConfig, SimulatorConfig, SimulatorServer
from storycheck.simulator.proxies import ProxyFleet

C = Classification
ITEMS_UNTOUCHED = "back to pending untouched (no attempt)"
EFFECTS: dict[Classification, tuple[str, str]] = {
    C.SUCCESS: ("ready; error score decays", "record story / no story / private"),
    C.NOT_FOUND: (
        "unchanged",
        "not_found once a second pair agrees (failed, failure_kind not_found)",
    ),
    C.PROFILE_UNAVAILABLE: ("unchanged", "failed, failure_kind unavailable, no retry"),
    C.RATE_LIMITED: ("cooling; allowed rate ×0.5 (AIMD); Retry-After honoured", ITEMS_UNTOUCHED),
    C.SESSION_INVALID: ("invalid (needs a new session)", ITEMS_UNTOUCHED),
    C.CHALLENGE: ("challenge (needs a human)", ITEMS_UNTOUCHED),
    C.ACTION_BLOCKED: ("cooling for action_block_cooldown_hours", ITEMS_UNTOUCHED),
    C.CLIENT_REFUSED: ("cooling; loud error: update the user agent", ITEMS_UNTOUCHED),
    C.ADDRESS_BLOCKED: ("cooling (proxy address); session kept", ITEMS_UNTOUCHED),
    C.TOO_MANY_IDS: ("unchanged", "group halved and retried (no attempt)"),
    C.DENSE_UNAVAILABLE: ("this pair uses v1 reels_media", "retried (no attempt)"),
    C.CONNECTION_FAILED: ("error score +1 (circuit)", ITEMS_UNTOUCHED),
    C.TRANSIENT: ("error score +1 (circuit)", "attempt +1, retried on another pair"),
}
DOC_ID = "9876543210123456"
OLD_CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0.0.0"


def test_the_effects_table_covers_every_class_and_agrees_with_pair_problems() -> None:
    assert set(EFFECTS) == set(Classification)
    for cls, (_, items) in EFFECTS.items():
        assert (items == ITEMS_UNTOUCHED) == (cls in PAIR_PROBLEMS), cls


@dataclass
class World:
    """The running simulator and usernames of each kind."""

    sim: SimulatorServer
    sessions: list[str]
    story: str  # public, with a live story
    quiet: str  # public, no story
    private: str  # private, with a live story hidden from non-followers
    missing: str
    business: str

    def control(self, path: str, payload: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.sim.base_url}/__sim__/{path}", json=payload, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def user_id(self, username: str) -> str:
        found = self.sim.state.truth.lookup(username, self.sim.state.clock())["user_id"]
        assert isinstance(found, str)
        return found


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    population = PopulationConfig(
        slot_seconds=1e7, story_ttl_seconds=2e7, story_probability=0.5, missing_share=0.1
    )
    config = SimulatorConfig(
        seed=11, sessions=48, population=population, doc_ids=(DOC_ID,), cookie_rotation_every=3
    )
    config = dataclasses.replace(config, limits=dataclasses.replace(config.limits, enabled=False))
    sim = SimulatorServer(config).start()
    truth, now = sim.state.truth, sim.state.clock()
    try:
        made = World(
            sim=sim,
            sessions=list(sim.session_ids),
            story=truth.usernames(1, kind="poster", with_story_at=now)[0],
            quiet=truth.usernames(1, kind="never_posts")[0],
            private=truth.usernames(1, kind="private", with_story_at=now)[0],
            missing=truth.usernames(1, kind="missing")[0],
            business=truth.usernames(1, kind="never_posts", prefix="biz")[0],
        )
        made.control("profiles", {"username": made.business, "kind": "business_deleted"})
        yield made
    finally:
        sim.stop()


_next_session = iter(range(10_000))


@pytest.fixture
def session(world: World) -> Iterator[str]:
    """A session of its own for one test (modes and follows stay with it)."""
    index = next(_next_session)
    assert index < len(world.sessions), "more tests than simulator sessions"
    yield world.sessions[index]


def run(
    world: World,
    session: str,
    action: Callable[[InstagramClient], Any],
    *,
    user_agent: str | None = None,
) -> Any:
    identity = PairIdentity(
        proxy_id="p", session_id="s", label="direct", proxy_url=None, sessionid=session
    )

    async def go() -> Any:
        client = InstagramClient(
            identity, base_url=world.sim.base_url, timeout=5.0, user_agent=user_agent
        )
        try:
            return await action(client)
        finally:
            await client.aclose()

    return asyncio.run(go())


def lookup(username: str) -> Callable[[InstagramClient], Any]:
    return lambda client: client.resolve(username)


def stories(*user_ids: str, dense_doc_id: str | None = None) -> Callable[[InstagramClient], Any]:
    return lambda client: client.stories(list(user_ids), dense_doc_id=dense_doc_id)


def failure(world: World, session: str, action: Callable[[InstagramClient], Any]) -> IgError:
    with pytest.raises(IgError) as caught:
        run(world, session, action)
    return caught.value


# ---------------------------------------------------------------------------------- answers

# (mode, endpoint the request goes to, expected class): one row of the facts file each.
MODE_ROWS = [
    ("rate_limit_401", "profile", C.RATE_LIMITED),
    ("rate_limit_429", "reels", C.RATE_LIMITED),
    ("login_required", "profile", C.SESSION_INVALID),
    ("login_redirect", "reels", C.SESSION_INVALID),
    ("login_page", "profile", C.SESSION_INVALID),
    ("checkpoint", "reels", C.CHALLENGE),
    ("challenge", "profile", C.CHALLENGE),
    ("suspended", "profile", C.CHALLENGE),
    ("feedback", "reels", C.ACTION_BLOCKED),
    ("unsupported_version", "profile", C.CLIENT_REFUSED),
    ("masked_404", "profile", C.CHALLENGE),
    ("masked_404", "reels", C.CHALLENGE),
    ("unhonoured", "profile", C.SESSION_INVALID),
    ("unhonoured", "reels", C.SESSION_INVALID),
    ("edge_block", "profile", C.ADDRESS_BLOCKED),
    ("server_error", "reels", C.TRANSIENT),
    ("edge_502", "profile", C.TRANSIENT),
    ("error_560", "reels", C.TRANSIENT),
]


@pytest.mark.parametrize(("mode", "endpoint", "expected"), MODE_ROWS)
def test_each_session_mode_is_classified(
    world: World, session: str, mode: str, endpoint: str, expected: Classification
) -> None:
    world.control(f"sessions/{session}/mode", {"mode": mode})
    action = lookup(world.story) if endpoint == "profile" else stories(world.user_id(world.story))
    error = failure(world, session, action)
    assert classify(error) is expected, error
    assert (expected in PAIR_PROBLEMS) == (EFFECTS[expected][1] == ITEMS_UNTOUCHED)


def test_special_readings_of_modes(world: World, session: str) -> None:
    world.control(f"sessions/{session}/mode", {"mode": "suspended"})
    suspended = failure(world, session, lookup(world.story))
    assert isinstance(suspended, Challenge) and suspended.kind == "suspended"
    world.control(f"sessions/{session}/mode", {"mode": "unsupported_version"})
    refused = failure(world, session, stories("1"))
    assert isinstance(refused, ClientRefused)
    assert refused.message == "client version refused: update the user agent"
    world.control(f"sessions/{session}/mode", {"mode": "ok"})
    assert run(world, session, lookup(world.story)).username == world.story


def test_a_logged_out_or_unknown_session_is_logged_out_on_every_endpoint(
    world: World, session: str
) -> None:
    # The simulator's own answer to a session it does not honour (not a mode): 403
    # `{"message":"login_required","status":"fail"}`, the facts file's row.
    world.control(f"sessions/{session}/logout", {})
    story_id = world.user_id(world.story)
    for cookie in (session, "not-a-known-session"):
        raw = httpx.get(
            f"{world.sim.base_url}/api/v1/users/web_profile_info/",
            params={"username": world.story},
            headers={"X-IG-App-ID": "936619743392459"},
            cookies={"sessionid": cookie},
        )
        assert raw.status_code == 403
        assert raw.json() == {"message": "login_required", "status": "fail"}
        for action in (
            lookup(world.story),
            stories(story_id),
            stories(story_id, dense_doc_id=DOC_ID),
        ):
            assert classify(failure(world, cookie, action)) is C.SESSION_INVALID


def test_a_mode_after_n_requests_and_only_on_some_endpoints(world: World, session: str) -> None:
    world.control(
        f"sessions/{session}/mode", {"mode": "masked_404", "after": 1, "endpoints": ["reels"]}
    )
    story_id = world.user_id(world.story)
    assert run(world, session, stories(story_id))[story_id].has_story  # the 1 request left
    assert classify(failure(world, session, stories(story_id))) is C.CHALLENGE
    assert isinstance(run(world, session, lookup(world.story)), ResolvedUser)


def test_logged_in_answers_prove_story_and_no_story(world: World, session: str) -> None:
    user = run(world, session, lookup(world.story))
    assert (user.user_id, user.is_private, user.followed_by_viewer) == (
        world.user_id(world.story),
        False,
        False,
    )
    truth = world.sim.state.truth.lookup(world.story, world.sim.state.clock())
    story_id, quiet_id = user.user_id, world.user_id(world.quiet)
    reels: dict[str, ReelInfo] = run(world, session, stories(story_id, quiet_id))
    story = reels[story_id]
    assert story.has_story and story.item_count == truth["items"]
    assert (story.oldest_taken_at, story.newest_taken_at) == (
        min(truth["taken_at"]),
        max(truth["taken_at"]),
    )
    assert story.expiring_at == truth["expiring_at"]
    assert not reels[quiet_id].has_story
    # the logged-in empty shape (`reels_media: []`) is a proven "no story" for every id
    assert not run(world, session, stories(quiet_id))[quiet_id].has_story


def test_a_private_account_is_hidden_unless_the_session_follows_it(
    world: World, session: str
) -> None:
    private_id = world.user_id(world.private)
    user = run(world, session, lookup(world.private))
    assert (user.is_private, user.followed_by_viewer) == (True, False)
    # absent from reels_media although a story exists: engine-core records `private`, never
    # "no story", from is_private and not followed_by_viewer
    assert not run(world, session, stories(private_id))[private_id].has_story
    world.control("follows", {"session": session, "usernames": [world.private]})
    user = run(world, session, lookup(world.private))
    assert (user.is_private, user.followed_by_viewer) == (True, True)
    assert run(world, session, stories(private_id))[private_id].has_story


def test_a_story_is_live_by_instagrams_clock_not_this_machines(world: World, session: str) -> None:
    # Instagram's clock (its Date header) runs 80 days behind this machine's here: the reel
    # it sends is live by its clock and over by ours. Read against ours, a live story would
    # become "no story"; the engine reads it against Instagram's.
    truth, now = world.sim.state.truth, world.sim.state.clock()
    behind = 80 * 86400.0
    name = truth.usernames(1, kind="poster", with_story_at=now - behind, without_story_at=now)[0]
    then = truth.lookup(name, now - behind)
    assert max(then["taken_at"]) + 86400 < now and then["expiring_at"] < now
    world.control("clock", {"offset": -behind})
    try:
        reels = run(world, session, stories(then["user_id"]))
    finally:
        world.control("clock", {"offset": 0})
    reel = reels[then["user_id"]]
    assert reel.has_story and reel.item_count == then["items"]
    assert reel.expiring_at == then["expiring_at"]


@pytest.mark.parametrize("style", ["empty", "json", "user_null"])
def test_a_missing_user_is_not_found_in_each_style(world: World, session: str, style: str) -> None:
    world.control("config", {"not_found_style": style})
    try:
        error = failure(world, session, lookup(world.missing))
    finally:
        world.control("config", {"not_found_style": "empty"})
    assert classify(error) is C.NOT_FOUND


def test_a_business_account_whose_asset_was_deleted_is_unavailable(
    world: World, session: str
) -> None:
    assert classify(failure(world, session, lookup(world.business))) is C.PROFILE_UNAVAILABLE


def test_more_than_twenty_ids_is_too_many(world: World, session: str) -> None:
    ids = [world.user_id(name) for name in world.sim.state.truth.usernames(21, prefix="many")]
    assert classify(failure(world, session, stories(*ids))) is C.TOO_MANY_IDS
    assert len(run(world, session, stories(*ids[:20]))) == 20


def test_dense_doc_id_form_answers_and_an_unknown_doc_id_is_dense_unavailable(
    world: World, session: str
) -> None:
    story_id, quiet_id = world.user_id(world.story), world.user_id(world.quiet)
    reels = run(world, session, stories(story_id, quiet_id, dense_doc_id=DOC_ID))
    assert reels[story_id].has_story and not reels[quiet_id].has_story
    error = failure(world, session, stories(story_id, dense_doc_id="1111"))
    assert classify(error) is C.DENSE_UNAVAILABLE
    world.control(f"sessions/{session}/mode", {"mode": "rate_limit_429"})
    error = failure(world, session, stories(story_id, dense_doc_id=DOC_ID))
    assert isinstance(error, RateLimited)  # a pair problem stays the pair's problem


def test_an_old_chrome_gets_please_wait_and_the_default_does_not(
    world: World, session: str
) -> None:
    world.control("config", {"min_chrome_major": 130})
    try:
        assert run(world, session, lookup(world.story)).username == world.story
        with pytest.raises(RateLimited):
            run(world, session, lookup(world.story), user_agent=OLD_CHROME)
    finally:
        world.control("config", {"min_chrome_major": 0})


def test_requests_look_like_the_web_client_and_follow_rotation(world: World, session: str) -> None:
    async def several(client: InstagramClient) -> list[Any]:
        seen = []
        for _ in range(4):  # the simulator rotates csrftoken/rur every 3 requests
            await client.resolve(world.story)
            record = httpx.get(
                f"{world.sim.base_url}/__sim__/sessions/{session}/last_request", timeout=5
            ).json()
            seen.append(record)
        rotated = client.take_rotated()
        return [seen, rotated]

    seen, rotated = run(world, session, several)
    first, later = seen[0], seen[1:]
    assert first["www_claim"] == "0"
    headers = first["headers"]
    assert headers["x-ig-app-id"] == "936619743392459" and headers["x-asbd-id"] == "129477"
    assert (headers["sec-fetch-dest"], headers["sec-fetch-mode"], headers["sec-fetch-site"]) == (
        "empty",
        "cors",
        "same-origin",
    )
    assert "Chrome/142." in headers["user-agent"] and headers["x-requested-with"]
    for record in later:
        assert record["csrf_matches"] and record["www_claim_current"]
        assert {"sessionid", "csrftoken", "rur"} <= set(record["cookie_names"])
    assert rotated is not None and rotated.www_claim and rotated.cookies["csrftoken"]


# ---------------------------------------------------------------------------------- connections


@pytest.mark.parametrize("kind", ["http", "socks5"])
def test_a_proxy_that_drops_each_keep_alive_costs_no_request(
    world: World, session: str, kind: str
) -> None:
    fleet = ProxyFleet(1, kind=kind, silent_close=True).start()  # type: ignore[arg-type]
    identity = PairIdentity(
        proxy_id="p", session_id="s", label=kind, proxy_url=fleet.urls[0], sessionid=session
    )

    async def go() -> tuple[int, int]:
        client = InstagramClient(identity, base_url=world.sim.base_url, timeout=5.0)
        try:
            for _ in range(6):
                assert (await client.resolve(world.story)).username == world.story
            return client.stats.requests, client.stats.reconnects
        finally:
            await client.aclose()

    try:
        requests, reconnects = asyncio.run(go())
        closes = fleet.counters()[0]["silent_closes"]
    finally:
        fleet.stop()
    assert requests == 6 and reconnects >= 1 and closes >= 1


def test_a_socks_greeting_that_never_completes_is_a_connection_failure(
    world: World, session: str
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    identity = PairIdentity(
        proxy_id="p",
        session_id="s",
        label="stuck",
        proxy_url=f"socks5://127.0.0.1:{port}",
        sessionid=session,
    )

    async def go() -> IgError:
        client = InstagramClient(identity, base_url=world.sim.base_url, timeout=0.5)
        try:
            with pytest.raises(IgError) as caught:
                await client.resolve(world.story)
            return caught.value
        finally:
            await client.aclose()

    try:
        error = asyncio.run(go())  # the listener accepts but never answers the greeting
    finally:
        listener.close()
    assert classify(error) is C.CONNECTION_FAILED
