"""Hardening (issue 15) against a real `storycheck serve` process behind waitress.

Cross-site writes, DNS-rebinding Host headers, chunked bodies over the limit, the static-file
path oracle, wrong-token throttling, security headers, file modes and validator edges.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator

import httpx
import pytest

from storycheck.config import Config
from storycheck.profiles.service import extract_username
from storycheck.web.server import BindRefused, check_binding
from tests.robustness.conftest import ServerProcess

NO_INSTAGRAM = "http://127.0.0.1:9"  # the engine is off in these tests
OFF = {"STORYCHECK_ENGINE": "0"}


def _raw(server: ServerProcess, request: bytes) -> tuple[int, bytes]:
    """Send bytes exactly as given (no client-side path normalisation); return status, body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _niche_names(server: ServerProcess) -> list[str]:
    return sorted(n["name"] for n in httpx.get(server.base_url + "/api/niches").json())


@pytest.fixture
def server(start_server) -> ServerProcess:  # type: ignore[no-untyped-def]
    return start_server(NO_INSTAGRAM, extra_env={**OFF, "STORYCHECK_MAX_BODY_BYTES": "200000"})


def test_cross_site_writes_change_nothing(server: ServerProcess) -> None:
    url = server.base_url + "/api/niches"
    evil = {"Origin": "http://evil.example"}
    # What an HTML form with enctype=text/plain, or a no-cors fetch, from another site sends.
    form = httpx.post(url, content=b'{"name": "form"}', headers={**evil, "Content-Type": "text/plain"})
    fetch = httpx.post(url, json={"name": "fetch"}, headers=evil)
    null_origin = httpx.post(url, json={"name": "sandboxed"}, headers={"Origin": "null"})
    assert (form.status_code, fetch.status_code, null_origin.status_code) == (403, 403, 403)
    assert fetch.json()["error"] == "cross_origin"
    # Without an Origin (curl, the CLI) a non-JSON body is still refused.
    plain = httpx.post(url, content=b'{"name": "plain"}', headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415 and plain.json()["error"] == "unsupported_media_type"
    assert _niche_names(server) == []
    # The original client (localhost:3000) and the server's own pages still write.
    original = httpx.post(url, json={"name": "original"}, headers={"Origin": "http://localhost:3000"})
    own = httpx.post(url, json={"name": "own"}, headers={"Origin": server.base_url})
    assert (original.status_code, own.status_code) == (201, 201)
    assert _niche_names(server) == ["original", "own"]


def test_a_rebound_host_name_is_refused(server: ServerProcess) -> None:
    status, body = _raw(
        server, b"GET /api/niches HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n"
    )
    assert status == 421 and b"host_not_allowed" in body
    for host in (b"localhost", b"127.0.0.1", b"[::1]"):
        request = b"GET /api/health HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
        assert _raw(server, request % (host, server.port))[0] == 200


def test_every_answer_carries_the_security_headers(server: ServerProcess) -> None:
    for path in ("/api/health", "/api/niches", "/"):
        headers = httpx.get(server.base_url + path).headers
        assert headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


def _chunks(lines: list[str]) -> Iterator[bytes]:
    text = "".join(f"{line}\n" for line in lines).encode()
    for start in range(0, len(text), 4096):
        yield text[start : start + 4096]


def test_a_chunked_import_over_the_limit_is_413_and_imports_nothing(server: ServerProcess) -> None:
    niche = httpx.post(server.base_url + "/api/niches", json={"name": "big"}).json()["id"]
    url = f"{server.base_url}/api/profiles/niches/{niche}/import"
    too_big = [f"user_{i:07d}" for i in range(20_000)] + ["after_limit_user"]  # ~260 kB
    response = httpx.post(url, content=_chunks(too_big), headers={"Content-Type": "text/plain"})
    assert response.status_code == 413
    listed = httpx.get(server.base_url + "/api/profiles", params={"niche_id": niche}).json()
    assert listed["total"] == 0

    fits = [f"user_{i:07d}" for i in range(5_000)] + ["after_limit_user"]  # ~65 kB
    response = httpx.post(url, content=_chunks(fits), headers={"Content-Type": "text/plain"})
    assert response.status_code == 201, response.text
    found = httpx.get(
        server.base_url + "/api/profiles", params={"niche_id": niche, "search": "after_limit"}
    ).json()
    assert [p["username"] for p in found["profiles"]] == ["after_limit_user"]


def test_static_paths_give_no_file_existence_oracle(server: ServerProcess) -> None:
    template = b"GET /../../../../..%s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    existing = _raw(server, template % b"/etc/passwd")
    missing = _raw(server, template % b"/etc/no-such-file-here")
    assert existing[0] == missing[0] == 404
    assert b"root:" not in existing[1]


def test_wrong_tokens_are_throttled_per_address(start_server) -> None:  # type: ignore[no-untyped-def]
    token = "t" * 40
    server = start_server(NO_INSTAGRAM, extra_env={**OFF, "STORYCHECK_API_TOKEN": token})
    url = server.base_url + "/api/niches"
    statuses = [
        httpx.get(url, headers={"Authorization": f"Bearer wrong-{i}"}).status_code
        for i in range(12)
    ]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    blocked = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1


def test_the_database_file_is_owner_only(server: ServerProcess) -> None:
    httpx.post(server.base_url + "/api/niches", json={"name": "n"})
    for suffix in ("", "-wal"):
        path = f"{server.database_path}{suffix}"
        if os.path.exists(path):
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path


def test_serving_beyond_loopback_needs_a_strong_token() -> None:
    with pytest.raises(BindRefused, match="at least 32"):
        check_binding(Config(api_token="short-token"), "0.0.0.0")
    with pytest.raises(BindRefused, match="STORYCHECK_API_TOKEN"):
        check_binding(Config(), "0.0.0.0")
    check_binding(Config(api_token="x" * 32), "0.0.0.0")
    check_binding(Config(), "127.0.0.1")


def test_a_trailing_newline_never_passes_for_a_username() -> None:
    assert extract_username("https://www.instagram.com/abc\n/")[0] is None
    assert extract_username("abc\n") == ("abc", None)  # surrounding whitespace is trimmed
