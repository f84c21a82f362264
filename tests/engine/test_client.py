"""InstagramClient: requests it sends and how it classifies every answer (no network)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from storycheck.engine.client import InstagramClient, PairIdentity, proxy_url
from storycheck.engine.errors import (
    PAIR_PROBLEMS,
    ActionBlocked,
    AddressBlocked,
    Challenge,
    Classification,
    ClientRefused,
    ConnectionFailed,
    DenseUnavailable,
    LoginRequired,
    NotFoundUser,
    ProfileUnavailable,
    RateLimited,
    TooManyIds,
    Transient,
    classify,
)

COOKIE = "51234567890%3AabcdefSECRETcookie%3A12%3Azzzz"
PASSWORD = "p@ss:word/SECRET"
CSRF = "csrfSECRETtoken123"
IDENTITY = PairIdentity(
    proxy_id="proxy-1",
    session_id="session-1",
    label="http://127.0.10.1:8080",
    proxy_url=proxy_url("http", "127.0.10.1", 8080, "user", PASSWORD),
    sessionid=COOKIE,
    csrftoken=CSRF,
    ds_user_id="51234567890",
    cookies=(("mid", "midSECRETvalue"), ("ig_did", "DIDSECRET-1"), ("rur", "rurSECRET")),
)

Handler = Callable[[httpx.Request], httpx.Response]
# Instagram's clock at an answer (200 s after the epoch): the stories below are live then.
AT_200 = {"Date": "Thu, 01 Jan 1970 00:03:20 GMT"}
DENSE = "xdt_api__v1__feed__reels_media"


def call(handler: Handler, method: str, *args: Any, **kwargs: Any) -> Any:
    async def run() -> Any:
        client = InstagramClient(
            IDENTITY, base_url="https://ig.test", transport=httpx.MockTransport(handler)
        )
        try:
            return await getattr(client, method)(*args, **kwargs)
        finally:
            await client.aclose()

    return asyncio.run(run())


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Handler:
    content = (
        b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers=headers)

    return handler


def test_requests_carry_web_headers_cookie_and_csrf_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"data": {"user": {"id": "42", "is_private": True}}, "status": "ok"}
        )

    user = call(handler, "resolve", "some.user")
    assert (user.user_id, user.is_private) == ("42", True)
    request = seen[0]
    assert request.url.path == "/api/v1/users/web_profile_info/"
    assert request.url.params["username"] == "some.user"
    assert request.headers["X-IG-App-ID"] == "936619743392459"
    assert (
        "Mozilla/5.0" in request.headers["User-Agent"] and "Chrome" in request.headers["User-Agent"]
    )
    assert "Chrome/142." in request.headers["User-Agent"]
    assert request.headers["Cookie"] == (
        f"csrftoken={CSRF}; mid=midSECRETvalue; ig_did=DIDSECRET-1; ds_user_id=51234567890; "
        f"sessionid={COOKIE}; rur=rurSECRET"
    )
    assert request.headers["X-CSRFToken"] == CSRF
    expected = {
        "X-ASBD-ID": "129477",
        "X-IG-WWW-Claim": "0",
        "X-Requested-With": "XMLHttpRequest",
        "Sec-Fetch-Dest": "empty",
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Site": "same-origin",
        "Referer": "https://ig.test/some.user/",
    }
    assert {name: request.headers.get(name) for name in expected} == expected


def test_a_pair_user_agent_replaces_the_default() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"reels_media": [], "status": "ok"})

    async def run() -> None:
        identity = dataclasses.replace(IDENTITY, user_agent="Mozilla/5.0 Custom/1.0")
        client = InstagramClient(
            identity, base_url="https://ig.test", transport=httpx.MockTransport(handler)
        )
        await client.stories(["1"])
        await client.aclose()

    asyncio.run(run())
    assert seen[0].headers["User-Agent"] == "Mozilla/5.0 Custom/1.0"


def test_lookup_of_a_missing_user_is_not_found() -> None:
    with pytest.raises(NotFoundUser):
        call(answer(404), "resolve", "ghost")
    with pytest.raises(NotFoundUser):
        call(answer(200, {"data": {"user": None}, "status": "ok"}), "resolve", "ghost")


def test_rotated_cookies_and_www_claim_are_sent_next_and_offered_once() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        headers = [
            ("x-ig-set-www-claim", "hmac.CLAIMvalue1"),
            ("set-cookie", "csrftoken=NEWcsrf123; Domain=.instagram.com; Path=/; Secure"),
            ("set-cookie", 'rur="NEWrur\\0541"; Path=/; HttpOnly'),
            ("set-cookie", "sessionid=; expires=Thu, 01-Jan-1970 00:00:00 GMT; Max-Age=0"),
        ]
        return httpx.Response(200, json={"reels_media": [], "status": "ok"}, headers=headers)

    async def run() -> tuple[Any, Any, Any]:
        client = InstagramClient(
            IDENTITY, base_url="https://ig.test", transport=httpx.MockTransport(handler)
        )
        assert client.take_rotated() is None
        await client.stories(["1"])
        first = client.take_rotated()
        await client.stories(["1"])
        second = client.take_rotated()
        await client.aclose()
        return first, second, client

    first, second, client = asyncio.run(run())
    assert seen[0].headers["X-IG-WWW-Claim"] == "0"
    assert seen[1].headers["X-IG-WWW-Claim"] == "hmac.CLAIMvalue1"
    assert seen[1].headers["X-CSRFToken"] == "NEWcsrf123"
    assert "csrftoken=NEWcsrf123" in seen[1].headers["Cookie"]
    assert f"sessionid={COOKIE}" in seen[1].headers["Cookie"]  # a deletion is not adopted
    assert first.www_claim == "hmac.CLAIMvalue1"
    assert first.cookies["csrftoken"] == "NEWcsrf123" and first.cookies["sessionid"] == COOKIE
    assert first.cookies["rur"] == '"NEWrur\\0541"'  # quotes kept: sent back as set
    assert second is None  # nothing changed on the second answer
    assert "NEWcsrf123" not in repr(first) and "CLAIM" not in str(first)


def test_a_refreshed_sessionid_is_adopted_and_known() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"reels_media": [], "status": "ok"},
            headers={"set-cookie": "sessionid=51234567890%3ArefreshedSECRET; Path=/"},
        )

    async def run() -> InstagramClient:
        client = InstagramClient(
            IDENTITY, base_url="https://ig.test", transport=httpx.MockTransport(handler)
        )
        await client.stories(["1"])
        await client.aclose()
        return client

    client = asyncio.run(run())
    state = client.take_rotated()
    assert state is not None and state.cookies["sessionid"].endswith("refreshedSECRET")
    assert client.known_sessionids == {COOKIE, state.cookies["sessionid"]}


def test_dense_doc_id_form_posts_fields_and_reads_the_xdt_answer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        reel = {
            "id": "2",
            "user": {"pk": "2", "username": "b"},
            "expiring_at": 86530,
            "items": [
                {"taken_at": 100, "expiring_at": 86500},
                {"taken_at": 130, "expiring_at": 86530},
            ],
        }
        data = {"xdt_api__v1__feed__reels_media": {"reels_media": [reel]}}
        return httpx.Response(200, json={"data": data, "status": "ok"}, headers=AT_200)

    reels = call(handler, "stories", ["1", "2", "3"], dense_doc_id="8765")
    request = seen[0]
    assert (request.method, request.url.path) == ("POST", "/graphql/query")
    form = dict(parse_qsl(request.content.decode()))
    assert form["doc_id"] == "8765" and form["server_timestamps"] == "true"
    assert json.loads(form["variables"])["reel_ids"] == ["1", "2", "3"]
    assert "query_hash" not in str(request.url)
    assert set(reels) == {"1", "2", "3"}
    assert not reels["1"].has_story and not reels["3"].has_story
    story = reels["2"]
    assert (story.item_count, story.oldest_taken_at, story.newest_taken_at) == (2, 100, 130)
    assert story.expiring_at == 86530


def test_v1_is_the_default_and_reads_reels_media_and_reels() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {
            "reels": {"7": {"id": 7, "items": [{"taken_at": 5, "expiring_at": 86405}]}},
            "reels_media": [
                {"id": "9", "items": [{"taken_at": 20}, {"taken_at": 10, "expiring_at": 86420}]}
            ],
            "status": "ok",
        }
        return httpx.Response(200, json=body, headers=AT_200)

    reels = call(handler, "stories", ["7", "8", "9"])
    assert (seen[0].method, seen[0].url.path) == ("GET", "/api/v1/feed/reels_media/")
    assert seen[0].url.params.get_list("reel_ids") == ["7", "8", "9"]
    assert reels["7"].has_story and reels["7"].newest_taken_at == 5
    assert not reels["8"].has_story
    nine = reels["9"]
    assert (nine.item_count, nine.oldest_taken_at, nine.newest_taken_at) == (2, 10, 20)
    assert nine.expiring_at == 86420


def test_only_items_live_at_the_answers_date_count() -> None:
    # At 90,000 s by Instagram's Date: an item whose expiring_at passed, and one without
    # expiring_at taken over 24 h before, are over; a reel of only such items has no story.
    date = {"Date": "Fri, 02 Jan 1970 01:00:00 GMT"}  # 90,000 s after the epoch
    mixed = {
        "id": "1",
        "expiring_at": 89_000,
        "items": [
            {"taken_at": 2_600, "expiring_at": 89_000},  # over
            {"taken_at": 3_000},  # over: 24 h after taken_at
            {"taken_at": 5_000, "expiring_at": 91_400},  # live
            {"taken_at": 6_000},  # live until 92,400
        ],
    }
    over = {"id": "2", "items": [{"taken_at": 1_000, "expiring_at": 87_400}, {"taken_at": 2_000}]}
    body = {"reels": {}, "reels_media": [mixed, over], "status": "ok"}
    reels = call(answer(200, body, date), "stories", ["1", "2"])
    live = reels["1"]
    assert (live.has_story, live.item_count) == (True, 2)
    assert (live.oldest_taken_at, live.newest_taken_at, live.expiring_at) == (5_000, 6_000, 91_400)
    assert not reels["2"].has_story and reels["2"].item_count == 0
    dense = {"data": {"xdt_api__v1__feed__reels_media": {"reels_media": [over]}}, "status": "ok"}
    reels = call(answer(200, dense, date), "stories", ["2"], dense_doc_id="8765")
    assert not reels["2"].has_story


def test_without_a_date_header_this_machines_clock_decides() -> None:
    now = int(time.time())
    reel = {
        "id": "1",
        "items": [{"taken_at": now - 90_000}, {"taken_at": now - 600, "expiring_at": now + 600}],
    }
    reels = call(answer(200, {"reels_media": [reel], "status": "ok"}), "stories", ["1"])
    assert (reels["1"].item_count, reels["1"].oldest_taken_at) == (1, now - 600)


def test_a_reel_that_cannot_tell_is_unproven_not_no_story() -> None:
    # At 90,000 s by Instagram's Date. A reel without `items` proves nothing whatever its
    # times say; an empty or all-over item list is "no story" unless the reel's own
    # latest_reel_media (+ 24 h) or expiring_at says a story is live then.
    date = {"Date": "Fri, 02 Jan 1970 01:00:00 GMT"}  # 90,000 s after the epoch
    live_times = {"latest_reel_media": 5_000, "expiring_at": 91_400}
    reels_media = [
        {"id": "1", **live_times},  # no items key
        {"id": "2"},  # no items key, no times
        {"id": "3", "items": [], **live_times},
        {"id": "4", "items": [], "latest_reel_media": 2_000, "expiring_at": 88_400},  # over
        {"id": "5", "items": []},
        {"id": "6", "items": [{"taken_at": 1_000, "expiring_at": 87_400}], **live_times},
        {"id": "7", "items": None},
        {"id": "8", "items": []},  # … while `reels` below lists it without items
        {"id": "9"},  # … while `reels` below has its live item
    ]
    reels_map = {"8": {"id": "8"}, "9": {"id": "9", "items": [{"taken_at": 6_000}]}}
    body = {"reels": reels_map, "reels_media": reels_media, "status": "ok"}
    reels = call(answer(200, body, date), "stories", [str(i) for i in range(1, 11)])
    unproven = {uid for uid, reel in reels.items() if reel.unproven}
    assert unproven == {"1", "2", "3", "6", "7", "8"}
    assert not any(reel.has_story for uid, reel in reels.items() if uid != "9")
    assert reels["9"].has_story and reels["9"].unproven is None
    assert reels["4"].unproven is None and reels["5"].unproven is None  # proven: none
    assert reels["10"].unproven is None  # absent from a logged-in answer: none
    dense = {"data": {DENSE: {"reels_media": reels_media[:2]}}, "status": "ok"}
    reels = call(answer(200, dense, date), "stories", ["1", "2"], dense_doc_id="8765")
    assert reels["1"].unproven and reels["2"].unproven


def test_a_reel_says_the_name_its_owner_goes_by() -> None:
    # The owner's username (it changes when the account is renamed; the id stays), in either
    # form, from `user` or `owner`; a reel without one names nobody.
    item = {"taken_at": 100, "expiring_at": 86500}
    reels_media = [
        {"id": "1", "user": {"pk": 1, "username": "new.name"}, "items": [item]},
        {"id": "2", "owner": {"id": "2", "username": "someone"}, "items": []},
        {"id": "3", "items": [item]},
    ]
    body = {"reels": {}, "reels_media": reels_media, "status": "ok"}
    reels = call(answer(200, body, AT_200), "stories", ["1", "2", "3", "4"])
    assert [reels[uid].username for uid in "1234"] == ["new.name", "someone", None, None]
    dense = {"data": {DENSE: {"reels_media": reels_media[:1]}}, "status": "ok"}
    reels = call(answer(200, dense, AT_200), "stories", ["1"], dense_doc_id="8765")
    assert reels["1"].username == "new.name" and reels["1"].has_story


def test_a_dense_answer_carrying_errors_is_not_proof() -> None:
    reel = {"id": "1", "items": [{"taken_at": 100, "expiring_at": 86500}]}
    data = {"data": {DENSE: {"reels_media": [reel]}}, "status": "ok"}
    error = {"message": "execution error", "code": 1675030, "summary": "Partial result"}
    with pytest.raises(DenseUnavailable, match="errors") as raised:
        call(answer(200, {**data, "errors": [error]}, AT_200), "stories", ["1"], dense_doc_id="8")
    assert classify(raised.value) is Classification.DENSE_UNAVAILABLE
    both = answer(200, {**data, "errors": []}, AT_200)
    reels = call(both, "stories", ["1", "2"], dense_doc_id="8")
    assert reels["1"].has_story and not reels["2"].has_story  # an empty list is no error


def test_the_logged_in_empty_shape_means_no_story_for_every_id() -> None:
    body = {"reels": {}, "reels_media": [], "status": "ok"}
    reels = call(answer(200, body), "stories", ["1", "2"])
    assert {uid: r.has_story for uid, r in reels.items()} == {"1": False, "2": False}


def test_a_lookup_that_does_not_say_whether_the_account_is_private_proves_nothing() -> None:
    user = {"id": "5", "username": "p", "followed_by_viewer": False}
    with pytest.raises(Transient):
        call(answer(200, {"data": {"user": user}, "status": "ok"}), "resolve", "p")


def test_a_lookup_carries_privacy_and_follow_state() -> None:
    user = {"id": "5", "username": "p", "is_private": True, "followed_by_viewer": True}
    resolved = call(answer(200, {"data": {"user": user}, "status": "ok"}), "resolve", "p")
    assert (resolved.is_private, resolved.followed_by_viewer) == (True, True)


RATE_BODY = {
    "message": "Please wait a few minutes before you try again.",
    "require_login": True,
    "status": "fail",
}
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Login \xe2\x80\xa2 Instagram</title></head></html>"
EDGE_PAGE = b"<!DOCTYPE html><html><head><title>Error</title></head><body>Sorry</body></html>"
ASSET_DELETED = {
    "message": "Asset 17841 of type ig_business_category_subvertical has been deleted",
    "status": "fail",
}
HTML = {"Content-Type": "text/html; charset=utf-8"}
TEXT = {"Content-Type": "text/plain"}

# (endpoint, handler, exception, classification): every row of instagram-facts.md's answers.
ANSWERS: list[tuple[str, Handler, type[Exception], Classification]] = [
    ("reels", answer(401, RATE_BODY), RateLimited, Classification.RATE_LIMITED),
    ("reels", answer(429, b"", {"Retry-After": "17"}), RateLimited, Classification.RATE_LIMITED),
    (
        "profile",
        answer(403, {"message": "login_required", "logout_reason": 2, "status": "fail"}),
        LoginRequired,
        Classification.SESSION_INVALID,
    ),
    (
        "reels",
        answer(401, {"message": "login_required", "status": "fail"}),
        LoginRequired,
        Classification.SESSION_INVALID,
    ),
    (
        "reels",
        answer(302, None, {"Location": "https://www.instagram.com/accounts/login/?next=/api/"}),
        LoginRequired,
        Classification.SESSION_INVALID,
    ),
    ("profile", answer(200, LOGIN_PAGE, HTML), LoginRequired, Classification.SESSION_INVALID),
    (
        "reels",
        answer(400, {"message": "checkpoint_required", "checkpoint_url": "/challenge/x/"}),
        Challenge,
        Classification.CHALLENGE,
    ),
    (
        "profile",
        answer(400, {"message": "challenge_required", "challenge": {"url": "/challenge/1/"}}),
        Challenge,
        Classification.CHALLENGE,
    ),
    (
        "reels",
        answer(
            400,
            {
                "message": "checkpoint_required",
                "checkpoint_url": "https://i.instagram.com/web/unsupported_version/",
                "status": "fail",
            },
        ),
        ClientRefused,
        Classification.CLIENT_REFUSED,
    ),
    (
        "reels",
        answer(
            400,
            {
                "message": "feedback_required",
                "spam": True,
                "feedback_title": "Action Blocked",
                "status": "fail",
            },
        ),
        ActionBlocked,
        Classification.ACTION_BLOCKED,
    ),
    ("profile", answer(404, b"Not Found", TEXT), Challenge, Classification.CHALLENGE),
    ("reels", answer(404, b"Not Found", TEXT), Challenge, Classification.CHALLENGE),
    ("profile", answer(404), NotFoundUser, Classification.NOT_FOUND),
    (
        "profile",
        answer(404, {"message": "User not found", "status": "fail"}),
        NotFoundUser,
        Classification.NOT_FOUND,
    ),
    (
        "profile",
        answer(200, {"data": {"user": None}, "status": "ok"}),
        NotFoundUser,
        Classification.NOT_FOUND,
    ),
    (
        "profile",
        answer(200, {"status": "ok"}),
        LoginRequired,
        Classification.SESSION_INVALID,
    ),
    (
        "reels",
        answer(200, {"reels": {}, "status": "ok"}),
        LoginRequired,
        Classification.SESSION_INVALID,
    ),
    (
        "reels",
        answer(500, {"message": "Oops", "status": "fail"}),
        Transient,
        Classification.TRANSIENT,
    ),
    ("reels", answer(560, b""), Transient, Classification.TRANSIENT),
    ("reels", answer(502, b"<html>Bad Gateway</html>", HTML), Transient, Classification.TRANSIENT),
    ("reels", answer(200, b'{"reels_media": [{"ite'), Transient, Classification.TRANSIENT),
    (
        "profile",
        answer(400, ASSET_DELETED),
        ProfileUnavailable,
        Classification.PROFILE_UNAVAILABLE,
    ),
    (
        "reels",
        answer(400, {"message": "Too many reels requested", "status": "fail"}),
        TooManyIds,
        Classification.TOO_MANY_IDS,
    ),
    ("profile", answer(403, EDGE_PAGE, HTML), AddressBlocked, Classification.ADDRESS_BLOCKED),
    (
        "profile",
        answer(400, {"message": "useragent mismatch", "status": "fail"}),
        ClientRefused,
        Classification.CLIENT_REFUSED,
    ),
]


@pytest.mark.parametrize(("endpoint", "handler", "error", "classification"), ANSWERS)
def test_every_answer_is_classified(
    endpoint: str, handler: Handler, error: type[Exception], classification: Classification
) -> None:
    with pytest.raises(error) as caught:
        if endpoint == "profile":
            call(handler, "resolve", "some.user")
        else:
            call(handler, "stories", ["1"])
    assert classify(caught.value) is classification
    assert type(caught.value) is error


def test_unsupported_version_says_to_update_the_user_agent() -> None:
    body = {"message": "checkpoint_required", "checkpoint_url": "/web/unsupported_version/"}
    with pytest.raises(ClientRefused) as caught:
        call(answer(400, body), "resolve", "x")
    assert caught.value.message == "client version refused: update the user agent"


def test_retry_after_is_read() -> None:
    with pytest.raises(RateLimited) as caught:
        call(answer(429, RATE_BODY, {"Retry-After": "17"}), "resolve", "x")
    assert caught.value.retry_after == 17.0


def connecting(failures: list[Exception | None]) -> tuple[Callable[[], Any], list[int]]:
    """A transport factory whose n-th transport fails with `failures[n]` (None: answers)."""
    made: list[int] = []

    def factory() -> httpx.AsyncBaseTransport:
        index = len(made)
        made.append(index)
        failure = failures[min(index, len(failures) - 1)]

        def handler(request: httpx.Request) -> httpx.Response:
            if failure is not None:
                raise failure
            return httpx.Response(200, json={"reels_media": [], "status": "ok"})

        return httpx.MockTransport(handler)

    return factory, made


def run_with(factory: Callable[[], Any], timeout: float = 5.0) -> Any:
    async def run() -> Any:
        client = InstagramClient(
            IDENTITY, base_url="https://ig.test", transport_factory=factory, timeout=timeout
        )
        try:
            return await client.stories(["1"]), client.stats.reconnects
        finally:
            await client.aclose()

    return asyncio.run(run())


DISCONNECTED = httpx.RemoteProtocolError("Server disconnected without sending a response.")


@pytest.mark.parametrize(
    "failure",
    [
        DISCONNECTED,
        httpx.ConnectError("connection refused"),
        httpx.ReadError("connection reset by peer"),
        httpx.ProxyError("SOCKS handshake failed"),
    ],
)
def test_a_failure_before_any_answer_byte_is_retried_once_on_a_fresh_connection(
    failure: Exception,
) -> None:
    factory, made = connecting([failure, None])
    reels, reconnects = run_with(factory)
    assert not reels["1"].has_story and reconnects == 1 and len(made) == 2
    factory, made = connecting([failure, failure])
    with pytest.raises(ConnectionFailed) as caught:
        run_with(factory)
    assert classify(caught.value) is Classification.CONNECTION_FAILED and len(made) == 2
    assert classify(caught.value) in PAIR_PROBLEMS


def test_no_answer_within_the_deadline_is_a_connection_failure() -> None:
    async def stuck(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()  # a SOCKS greeting that never completes
        raise AssertionError("unreachable")

    factory_calls: list[int] = []

    def factory() -> httpx.AsyncBaseTransport:
        factory_calls.append(1)
        return httpx.MockTransport(stuck)

    with pytest.raises(ConnectionFailed):
        run_with(factory, timeout=0.2)
    assert len(factory_calls) == 1  # a timeout is not retried: it already took the deadline
    factory, _ = connecting([httpx.ReadTimeout("timed out")])
    with pytest.raises(ConnectionFailed):
        run_with(factory)


def test_an_answer_cut_off_after_its_headers_is_transient() -> None:
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            yield b'{"reels_media": ['
            raise httpx.ReadError("connection reset by peer")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Broken())

    with pytest.raises(Transient) as caught:
        call(handler, "stories", ["1"])
    assert not isinstance(caught.value, ConnectionFailed)


def test_dense_failures_are_dense_unavailable_but_pair_problems_stay() -> None:
    dead = {"errors": [{"message": "execution error", "code": 1675002}], "status": "ok"}
    for handler in (
        answer(200, dead),
        answer(400, {"message": "Invalid doc_id", "status": "fail"}),
        answer(200, {"data": {}, "status": "ok"}),
        answer(503, b"busy"),
        answer(404),
    ):
        with pytest.raises(DenseUnavailable):
            call(handler, "stories", ["1"], dense_doc_id="123")
    with pytest.raises(RateLimited):
        call(answer(429, RATE_BODY), "stories", ["1"], dense_doc_id="123")
    with pytest.raises(Challenge):
        call(answer(404, b"Not Found", TEXT), "stories", ["1"], dense_doc_id="123")


def test_no_secret_in_errors_or_reprs() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ProxyError(
            f"proxy http://user:{PASSWORD}@127.0.10.1:8080 refused cookie {COOKIE} {CSRF}"
        )

    with pytest.raises(ConnectionFailed) as caught:
        call(handler, "resolve", "x")
    text = f"{caught.value} {caught.value!r} {caught.value.message}"
    for secret in (PASSWORD, COOKIE, CSRF, "SECRET"):
        assert secret not in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    shown = f"{IDENTITY!r} {IDENTITY}"
    client = InstagramClient(
        IDENTITY, base_url="https://ig.test", transport=httpx.MockTransport(answer(200))
    )
    shown += repr(client)
    asyncio.run(client.aclose())
    for secret in (PASSWORD, COOKIE, CSRF, "SECRET"):
        assert secret not in shown


def test_proxy_url_encodes_credentials() -> None:
    assert (
        proxy_url("socks5", "h", 1080, "u ser", "p@ss:w/rd")
        == "socks5://u%20ser:p%40ss%3Aw%2Frd@h:1080"
    )
    assert proxy_url("http", "h", 3128, None, None) == "http://h:3128"


def test_the_checker_turns_client_errors_into_redacted_transient_failures() -> None:
    from storycheck.engine.checker import InstagramChecker, WorkItem

    broken = PairIdentity(
        proxy_id="p",
        session_id="s",
        label="bad",
        proxy_url=f"ftp://user:{PASSWORD}@[::1:bad",
        sessionid=COOKIE,
    )
    checker = InstagramChecker(base_url="https://ig.test")
    item = WorkItem(id="i", batch_id="b", profile_id="p", username="x", lease_token="t")
    outcome = asyncio.run(checker.check(broken, "lookup", [item], dense_doc_id=None, timeout=1.0))
    assert isinstance(outcome.failure, Transient)
    assert PASSWORD not in outcome.failure.message and "SECRET" not in outcome.failure.message
    asyncio.run(checker.aclose())


def test_the_checker_passes_follow_state_story_window_and_saves_rotations_once() -> None:
    from storycheck.engine.checker import InstagramChecker, WorkItem
    from storycheck.engine.client import RotatedState

    rotate = {"value": "csrftoken=ROTATED1; Path=/"}

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"set-cookie": rotate["value"], "x-ig-set-www-claim": "hmac.CLAIM1", **AT_200}
        if request.url.path.startswith("/api/v1/users/"):
            user = {"id": "9", "is_private": True, "followed_by_viewer": True}
            return httpx.Response(
                200, json={"data": {"user": user}, "status": "ok"}, headers=headers
            )
        reel = {"id": "9", "items": [{"taken_at": 50, "expiring_at": 86450}, {"taken_at": 70}]}
        return httpx.Response(200, json={"reels_media": [reel], "status": "ok"}, headers=headers)

    saved: list[tuple[str, RotatedState]] = []
    checker = InstagramChecker(
        base_url="https://ig.test",
        transport_factory=lambda: httpx.MockTransport(handler),
        save_rotated=lambda session_id, state: saved.append((session_id, state)),
    )
    item = WorkItem(id="i", batch_id="b", profile_id="p", username="x", lease_token="t")

    async def run() -> list[Any]:
        looked = await checker.check(IDENTITY, "lookup", [item], dense_doc_id=None, timeout=1.0)
        item.ig_user_id = "9"
        queried = await checker.check(IDENTITY, "stories", [item], dense_doc_id=None, timeout=1.0)
        client = await checker.client_for(IDENTITY)
        # The same pair reloaded with the cookies it rotated itself keeps its client.
        reloaded = dataclasses.replace(IDENTITY, csrftoken="ROTATED1", www_claim="hmac.CLAIM1")
        same = await checker.client_for(reloaded) is client
        pasted = dataclasses.replace(IDENTITY, sessionid="1%3AnewlyPASTED")
        fresh = await checker.client_for(pasted) is not client
        await checker.aclose()
        return [looked, queried, same, fresh]

    looked, queried, same, fresh = asyncio.run(run())
    answer_ = looked.answers["i"]
    assert (answer_.ig_user_id, answer_.is_private, answer_.followed_by_viewer) == ("9", True, True)
    story = queried.answers["i"]
    assert (story.has_story, story.story_count) == (True, 2)
    assert (story.oldest_taken_at, story.newest_taken_at, story.expiring_at) == (50, 70, 86450)
    assert len(saved) == 1  # the second answer set the same values: nothing to write
    assert saved[0][0] == "session-1" and saved[0][1].cookies["csrftoken"] == "ROTATED1"
    assert saved[0][1].www_claim == "hmac.CLAIM1"
    assert same and fresh
