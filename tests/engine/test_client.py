"""InstagramClient: requests it sends and how it classifies every answer (no network)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from storycheck.engine.client import InstagramClient, PairIdentity, proxy_url
from storycheck.engine.errors import (
    Challenge,
    Classification,
    DenseUnavailable,
    LoginRequired,
    NotFoundUser,
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
    label="http://10.0.0.1:8080",
    proxy_url=proxy_url("http", "10.0.0.1", 8080, "user", PASSWORD),
    sessionid=COOKIE,
    csrftoken=CSRF,
)

Handler = Callable[[httpx.Request], httpx.Response]


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
    assert f"sessionid={COOKIE}" in request.headers["Cookie"]
    assert f"csrftoken={CSRF}" in request.headers["Cookie"]
    assert request.headers["X-CSRFToken"] == CSRF


def test_lookup_of_a_missing_user_is_not_found() -> None:
    with pytest.raises(NotFoundUser):
        call(answer(404), "resolve", "ghost")
    with pytest.raises(NotFoundUser):
        call(answer(200, {"data": {"user": None}, "status": "ok"}), "resolve", "ghost")


def test_dense_graphql_query_sends_all_ids_and_reads_reels_media() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "data": {
                    "reels_media": [
                        {
                            "id": "2",
                            "owner": {"id": "2", "username": "b"},
                            "items": [
                                {"taken_at_timestamp": 100, "expiring_at_timestamp": 86500},
                                {"taken_at_timestamp": 130, "expiring_at_timestamp": 86530},
                            ],
                        }
                    ]
                },
                "status": "ok",
            },
        )

    reels = call(handler, "stories", ["1", "2", "3"], dense=True)
    variables = json.loads(seen[0].url.params["variables"])
    assert seen[0].url.params["query_hash"] == "303a4ae99711322310f25250d988f3b7"
    assert variables == {"reel_ids": ["1", "2", "3"], "precomposed_overlay": False}
    assert set(reels) == {"1", "2", "3"}
    assert not reels["1"].has_story and not reels["3"].has_story
    story = reels["2"]
    assert (story.has_story, story.item_count, story.newest_taken_at, story.expiring_at) == (
        True,
        2,
        130,
        86530,
    )


def test_v1_reels_media_repeats_reel_ids_and_absent_users_have_no_story() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {
            "reels": {
                "7": {
                    "id": 7,
                    "items": [{"taken_at": 5, "expiring_at": 86405}],
                    "expiring_at": 86405,
                }
            },
            "status": "ok",
        }
        return httpx.Response(200, json=body)

    reels = call(handler, "stories", ["7", "8"], dense=False)
    assert seen[0].url.path == "/api/v1/feed/reels_media/"
    assert seen[0].url.params.get_list("reel_ids") == ["7", "8"]
    assert reels["7"].has_story and reels["7"].newest_taken_at == 5
    assert not reels["8"].has_story


RATE_BODY = {
    "message": "Please wait a few minutes before you try again.",
    "require_login": True,
    "status": "fail",
}


@pytest.mark.parametrize(
    ("handler", "error", "classification"),
    [
        (answer(429, RATE_BODY, {"Retry-After": "17"}), RateLimited, Classification.RATE_LIMITED),
        (answer(401, RATE_BODY), RateLimited, Classification.RATE_LIMITED),
        (
            answer(401, {"message": "login_required", "status": "fail"}),
            LoginRequired,
            Classification.SESSION_INVALID,
        ),
        (
            answer(403, {"message": "login_required", "status": "fail"}),
            LoginRequired,
            Classification.SESSION_INVALID,
        ),
        (
            answer(302, None, {"Location": "/accounts/login/?next=/api/"}),
            LoginRequired,
            Classification.SESSION_INVALID,
        ),
        (
            answer(400, {"message": "challenge_required", "challenge": {}, "status": "fail"}),
            Challenge,
            Classification.CHALLENGE,
        ),
        (
            answer(400, {"message": "checkpoint_required", "status": "fail"}),
            Challenge,
            Classification.CHALLENGE,
        ),
        (
            answer(400, {"message": "feedback_required", "status": "fail"}),
            Challenge,
            Classification.CHALLENGE,
        ),
        (
            answer(400, {"message": "Too many reels requested", "status": "fail"}),
            TooManyIds,
            Classification.TOO_MANY_IDS,
        ),
        (
            answer(500, {"message": "Oops, an error occurred.", "status": "fail"}),
            Transient,
            Classification.TRANSIENT,
        ),
        (answer(502, b"<html>Bad Gateway</html>"), Transient, Classification.TRANSIENT),
        (answer(200, b'{"reels": {"1": {"ite'), Transient, Classification.TRANSIENT),
    ],
)
def test_every_answer_is_classified(
    handler: Handler, error: type[Exception], classification: Classification
) -> None:
    with pytest.raises(error) as caught:
        call(handler, "stories", ["1"], dense=False)
    assert classify(caught.value) is classification


def test_retry_after_is_read() -> None:
    with pytest.raises(RateLimited) as caught:
        call(answer(429, RATE_BODY, {"Retry-After": "17"}), "resolve", "x")
    assert caught.value.retry_after == 17.0


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("reset"),
    ],
)
def test_transport_failures_are_transient(failure: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    with pytest.raises(Transient):
        call(handler, "resolve", "x")


def test_graphql_refused_falls_back_but_server_errors_stay_transient() -> None:
    with pytest.raises(DenseUnavailable):
        call(
            answer(400, {"message": "Invalid query_hash", "status": "fail"}),
            "stories",
            ["1"],
            dense=True,
        )
    with pytest.raises(DenseUnavailable):
        call(answer(200, {"data": {}, "status": "ok"}), "stories", ["1"], dense=True)
    with pytest.raises(Transient) as caught:
        call(answer(503, b"busy"), "stories", ["1"], dense=True)
    assert not isinstance(caught.value, DenseUnavailable)


def test_no_secret_in_errors_or_reprs() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ProxyError(
            f"proxy http://user:{PASSWORD}@10.0.0.1:8080 refused cookie {COOKIE} {CSRF}"
        )

    with pytest.raises(Transient) as caught:
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
    outcome = asyncio.run(checker.check(broken, "lookup", [item], dense=True, timeout=1.0))
    assert isinstance(outcome.failure, Transient)
    assert PASSWORD not in outcome.failure.message and "SECRET" not in outcome.failure.message
    asyncio.run(checker.aclose())
