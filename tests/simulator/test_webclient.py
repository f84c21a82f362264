"""Web-client facts: the recorded header facts, the www-claim, rotated cookies, old Chrome."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from storycheck.simulator import INSTAGRAM_APP_ID, SimulatorServer

PROFILE = "/api/v1/users/web_profile_info/"
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{}.0.0.0 Safari/537.36"


class WebClient:
    """A minimal browser-like client: echoes the www-claim and keeps rotated cookies."""

    def __init__(self, sim: SimulatorServer, session: str, user_agent: str) -> None:
        self.http = httpx.Client(base_url=sim.base_url, timeout=5.0)
        for name, value in (
            ("sessionid", session),
            ("csrftoken", "initialtoken"),
            ("ds_user_id", session.split("%3A")[0]),
        ):
            self.http.cookies.set(name, value, domain="127.0.0.1")
        self.claim = "0"
        self.user_agent = user_agent

    def get(self, username: str = "user00001") -> httpx.Response:
        headers = {
            "User-Agent": self.user_agent,
            "X-IG-App-ID": INSTAGRAM_APP_ID,
            "X-ASBD-ID": "129477",
            "X-CSRFToken": self.http.cookies.get("csrftoken") or "",
            "X-IG-WWW-Claim": self.claim,
            "X-Requested-With": "XMLHttpRequest",
            "Referer": "https://www.instagram.com/",
            "Sec-Fetch-Dest": "empty",
            "Sec-Fetch-Mode": "cors",
            "Sec-Fetch-Site": "same-origin",
        }
        response = self.http.get(PROFILE, params={"username": username}, headers=headers)
        self.claim = response.headers.get("x-ig-set-www-claim", self.claim)
        return response

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def web(sim: SimulatorServer) -> WebClient:
    client = WebClient(sim, sim.session_ids[0], CHROME.format(142))
    yield client  # type: ignore[misc]
    client.close()


def last_request(sim: SimulatorServer, session: str) -> httpx.Response:
    return httpx.get(f"{sim.base_url}/__sim__/sessions/{session}/last_request")


def test_last_request_records_header_facts_but_no_secret(
    sim: SimulatorServer, web: WebClient
) -> None:
    session = sim.session_ids[0]
    assert last_request(sim, session).status_code == 404
    assert web.get().status_code == 200
    record = last_request(sim, session).json()
    assert record["cookie_names"] == ["csrftoken", "ds_user_id", "sessionid"]
    assert record["csrf_matches"] is True
    assert record["www_claim"] == "0" and record["www_claim_current"] is False
    assert record["endpoint"] == "web_profile_info" and record["method"] == "GET"
    headers = record["headers"]
    assert headers["x-ig-app-id"] == INSTAGRAM_APP_ID and headers["x-asbd-id"] == "129477"
    assert headers["sec-fetch-mode"] == "cors" and headers["referer"].endswith("instagram.com/")
    assert headers["user-agent"] == CHROME.format(142)
    text = last_request(sim, session).text
    assert session not in text and "initialtoken" not in text
    assert "cookie" not in headers and "x-csrftoken" not in headers
    assert sim.last_request(session) == record


def test_www_claim_is_echoed_and_checked(sim: SimulatorServer, web: WebClient) -> None:
    session = sim.session_ids[0]
    first = web.get()
    claim = first.headers["x-ig-set-www-claim"]
    assert claim.startswith("hmac.")
    web.get()
    record = last_request(sim, session).json()
    assert record["www_claim"] == claim and record["www_claim_current"] is True


def test_csrf_mismatch_is_recorded(sim: SimulatorServer, web: WebClient) -> None:
    web.get()
    assert last_request(sim, sim.session_ids[0]).json()["csrf_matches"] is True
    response = web.http.get(
        PROFILE,
        params={"username": "a"},
        headers={"X-IG-App-ID": INSTAGRAM_APP_ID, "X-CSRFToken": "not-the-cookie"},
    )
    assert response.status_code in (200, 404)
    assert last_request(sim, sim.session_ids[0]).json()["csrf_matches"] is False


def test_cookies_and_claim_rotate_every_n_requests(
    make_sim: Callable[..., SimulatorServer],
) -> None:
    sim = make_sim(cookie_rotation_every=3)
    web = WebClient(sim, sim.session_ids[0], CHROME.format(142))
    try:
        tokens, claims, rotated = [], [], []
        for _ in range(7):
            response = web.get()
            set_cookies = response.headers.get_list("set-cookie")
            rotated.append(sorted(c.split("=", 1)[0] for c in set_cookies))
            tokens.append(web.http.cookies.get("csrftoken"))
            claims.append(response.headers["x-ig-set-www-claim"])
    finally:
        web.close()
    # The first answer replaces the client's own token; then every third request rotates.
    assert rotated == [
        ["csrftoken", "rur"],
        [],
        ["csrftoken", "rur"],
        [],
        [],
        ["csrftoken", "rur"],
        [],
    ]
    assert len(set(tokens)) == 3 and "initialtoken" not in tokens
    assert len(set(claims)) == 3
    assert claims[2] != claims[1] and claims[3] == claims[2]
    record = sim.last_request(sim.session_ids[0])
    assert record is not None and record["csrf_matches"] and record["www_claim_current"]


def test_rotation_can_be_turned_off(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = make_sim(cookie_rotation_every=0)
    web = WebClient(sim, sim.session_ids[0], CHROME.format(142))
    try:
        answers = [web.get() for _ in range(4)]
    finally:
        web.close()
    assert [len(a.headers.get_list("set-cookie")) for a in answers] == [2, 0, 0, 0]
    assert len({a.headers["x-ig-set-www-claim"] for a in answers}) == 1


def test_old_chrome_gets_please_wait(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = make_sim(min_chrome_major=132)
    old = WebClient(sim, sim.session_ids[0], CHROME.format(127))
    new = WebClient(sim, sim.session_ids[1], CHROME.format(142))
    other = WebClient(
        sim, sim.session_ids[1], "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0"
    )
    try:
        refused = old.get()
        assert refused.status_code == 401
        assert refused.json()["message"] == "Please wait a few minutes before you try again."
        assert new.get().status_code == 200 and other.get().status_code == 200
        httpx.post(sim.base_url + "/__sim__/config", json={"min_chrome_major": 0})
        assert old.get().status_code == 200
    finally:
        for client in (old, new, other):
            client.close()
    outcomes = sim.stats()["total"]["by_outcome"]
    assert outcomes["old_client"] == 1 and sim.stats()["violations"]["count"] == 0
