"""Secrets end to end: session cookies and proxy passwords never leave the server in clear.

A whole batch runs through a real server process, the simulator and a proxy fleet that
requires a password, with recognisable secrets and faults that make the engine write error
logs: a challenged session, a logged-out one, 5xx answers, a proxy refusing a wrong password
and a proxy that does not exist. Then none of the secrets may appear in

* any API answer the test fetched (pairs, every pair's error log, batch list, detail, logs,
  CSV, dashboard, settings, profiles, a slice of the event stream, import reports);
* the server's stdout/stderr;
* the `batch_logs` and `proxy_error_logs` tables;
* the raw bytes of the database file (and its WAL): secrets — the sessions' account ids
  (`ds_user_id`) included — are stored encrypted.

Positive controls make sure the scan could see them: the encrypted columns decrypt to the
secrets with the server's key. Assertion messages never show a secret (they name the place).
"""

from __future__ import annotations

import base64
import secrets as random_secrets
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from storycheck.crypto import SecretBox
from storycheck.simulator import FaultConfig
from tests.helpers import free_port
from tests.robustness.conftest import SERVER_SECRET_KEY, Api, usernames

PROFILES = 150
PROXY_USER = "proxyuser"
ACCOUNT_ID = "62718281828"  # a ds_user_id cookie pasted with one session


def secret_forms(value: str) -> set[bytes]:
    """The ways a secret could show up: as is, URL-encoded or decoded, and its distinctive
    core (the part between the first and last `%3A` of a cookie)."""
    forms = {value, quote(value, safe=""), value.replace("%3A", ":")}
    if "%3A" in value:
        forms.add(value.split("%3A")[1])
    return {f.encode() for f in forms if len(f) >= 8}


def leaks(blob: bytes, forms: set[bytes]) -> bool:
    return any(form in blob for form in forms)


def make_cookie(index: int, tag: str) -> str:
    """A sessionid-shaped cookie whose middle part is unique to this run."""
    return f"{61_000_000_000 + index}%3AsEcReTcOoKiE{tag}{index:02d}x%3A{index + 1}%3AAYd{tag}"


@pytest.mark.slow
def test_secrets_never_appear_in_answers_logs_or_database_bytes(
    make_simulator: Any, make_fleet: Any, start_server: Any, tmp_path: Path
) -> None:
    tag = random_secrets.token_hex(6)
    password = f"PxPass-{tag}-k9"
    wrong_password = f"WrongPx-{tag}-q7"
    cookies = [make_cookie(i, tag) for i in range(8)]
    replacement_cookie = make_cookie(20, tag)
    import_cookie = make_cookie(30, tag)
    forms: set[bytes] = set()
    for value in (password, wrong_password, *cookies, replacement_cookie, import_cookie):
        forms |= secret_forms(value)
    for user_password in (password, wrong_password):
        forms.add(base64.b64encode(f"{PROXY_USER}:{user_password}".encode()))
    # The sessions' account ids (the head of each cookie, and a ds_user_id cookie of its own)
    # are stored encrypted too.
    account_ids = {cookie.split("%3A")[0] for cookie in cookies} | {ACCOUNT_ID}
    forms |= {account.encode() for account in account_ids}

    sim = make_simulator(
        session_ids=tuple(cookies[:6]),
        faults=FaultConfig(error_5xx_share=0.1, latency_seconds=0.05),
    )
    sim.add_sessions([replacement_cookie])
    sim.flag_session(cookies[1], "challenge_required")
    sim.flag_session(cookies[2], "logged_out")
    fleet = make_fleet(5, username=PROXY_USER, password=password)
    server = start_server(sim.base_url)
    api = Api(server.base_url, record=True, quiet=True)

    urls = list(fleet.urls)
    # Pair 1's session is challenged, pair 2's logged out; pair 4 goes through a real proxy
    # with the wrong password (407); pair 5 through a proxy that does not exist; pair 6 has a
    # cookie the simulator never heard of (replaced below by a valid one).
    port4 = fleet.endpoints[4].port
    urls[4] = f"http://{PROXY_USER}:{quote(wrong_password, safe='')}@127.0.0.1:{port4}"
    urls.append(f"http://{PROXY_USER}:{quote(password, safe='')}@127.0.0.1:{free_port()}")
    urls.append(fleet.urls[0].replace("127.0.0.1", "localhost"))
    proxy_ids = [api.add_pair(url, cookie) for url, cookie in zip(urls, cookies[:7], strict=True)]
    api.fast_settings(max_attempts=3, proxy_max_failures=2)
    # The import report echoes bad and duplicate lines: masked.
    report = api.post(
        "/api/proxies/import",
        json={
            "lines": [
                f"http://{PROXY_USER}:{password}@bad host name:80|{import_cookie}",
                f"{urls[0]}|{cookies[0]}",
                f"socks5://{PROXY_USER}:{password}@127.0.0.1:99999|{cookies[7]}",
                import_cookie,
            ]
        },
    )
    assert report.status_code == 207
    # A new (valid) cookie for the pair with the unknown one: answered masked.
    api.ok(
        "PUT",
        f"/api/proxies/{proxy_ids[6]}/session",
        json={"session": f"sessionid={replacement_cookie}; csrftoken=abc; ds_user_id={ACCOUNT_ID}"},
    )

    niche_id = api.create_niche("secrets")
    api.import_usernames(niche_id, usernames(PROFILES, prefix="sec"))
    batch = api.ok("POST", "/api/batches", 201, json={"niche_id": niche_id, "all_profiles": True})
    done = api.wait_batch_status(batch["id"], "done", timeout=120)
    assert done["completed_profiles"] == PROFILES

    # Fetch everything a user (or the original client) can see.
    pairs = api.ok("GET", "/api/proxies")
    health = {p["id"]: p["health"] for p in pairs}
    assert health[proxy_ids[1]] == "challenge" and health[proxy_ids[2]] == "invalid"
    assert health[proxy_ids[4]] in ("open", "cooling") and health[proxy_ids[5]] in (
        "open",
        "cooling",
    )
    error_logs = 0
    for proxy in pairs:
        offset = 0
        while True:
            page = api.ok(
                "GET",
                f"/api/proxies/{proxy['id']}/error-logs",
                params={"limit": 100, "offset": offset},
            )
            error_logs += len(page["logs"])
            offset += 100
            if offset >= page["total"]:
                break
    assert error_logs > 0, "the faults should have produced pair error logs"
    api.ok("GET", "/api/batches")
    api.ok("GET", f"/api/batches/{batch['id']}", params={"items_limit": 10000})
    offset = 0
    while True:
        logs = api.ok(
            "GET", f"/api/batches/{batch['id']}/logs", params={"limit": 500, "offset": offset}
        )
        offset += 500
        if offset >= logs["total"]:
            break
    api.get(f"/api/batches/{batch['id']}/results.csv")
    api.ok("GET", "/api/dashboard")
    api.ok("GET", "/api/settings")
    api.ok("GET", "/api/profiles", params={"niche_id": niche_id, "page_size": 1000})
    events = api.get("/api/events", params={"max_seconds": 2})
    assert events.status_code == 200 and b"event: proxy" in events.content
    # A pair deleted and re-added through the API answers masked, too.
    api.delete(f"/api/proxies/{proxy_ids[6]}")
    api.ok(
        "POST",
        "/api/proxies",
        201,
        json={
            "ip": "localhost",
            "port": fleet.endpoints[3].port,
            "scheme": "http",
            "username": PROXY_USER,
            "password": password,
            "session": cookies[7],
        },
    )
    api.close()

    leaked_answers = [label for label, body in api.seen if leaks(body, forms)]
    assert leaked_answers == [], "a secret appeared in these API answers"

    code, _ = server.terminate(timeout=30)
    assert code == 0
    in_output = leaks(server.output(), forms)
    assert not in_output, "a secret appeared in the server's log output"

    connection = sqlite3.connect(server.database_path)
    try:
        tables = {
            "batch_logs": connection.execute("SELECT * FROM batch_logs").fetchall(),
            "proxy_error_logs": connection.execute("SELECT * FROM proxy_error_logs").fetchall(),
            "batch_profiles": connection.execute("SELECT * FROM batch_profiles").fetchall(),
        }
        logged = repr(tables["proxy_error_logs"])
        # The faults really went through the error log: proxy auth, dead proxy, challenge.
        exercised = "407" in logged and "challenge" in logged and "ConnectError" in logged
        assert exercised, "the error log lacks the 407, challenge or connection failures"
        leaking_tables = [
            name for name, rows in tables.items() if leaks(repr(rows).encode(), forms)
        ]
        assert leaking_tables == [], "a secret appeared in these tables"
        # Positive control: the secrets are there, encrypted with the server's key.
        box = SecretBox(SERVER_SECRET_KEY)
        stored_cookies = {
            box.decrypt(token)
            for (token,) in connection.execute("SELECT session_encrypted FROM sessions")
        }
        stored_passwords = {
            box.decrypt(token)
            for (token,) in connection.execute(
                "SELECT password_encrypted FROM proxies WHERE password_encrypted IS NOT NULL"
            )
        }
        stored_accounts = {
            box.decrypt(token)
            for (token,) in connection.execute(
                "SELECT ds_user_id_encrypted FROM sessions WHERE ds_user_id_encrypted IS NOT NULL"
            )
        }
    finally:
        connection.close()
    # (Compared into booleans first: a failing assert must not print the secrets.)
    accounts = {cookie.split("%3A")[0] for cookie in (cookies[0], cookies[1], cookies[7])}
    stored = accounts <= stored_accounts and {cookies[0], cookies[1], cookies[7]} <= stored_cookies and {
        password,
        wrong_password,
    } <= stored_passwords
    assert stored, "positive control: the secrets should be stored, encrypted"
    raw = b"".join(
        Path(str(server.database_path) + suffix).read_bytes()
        for suffix in ("", "-wal")
        if Path(str(server.database_path) + suffix).exists()
    )
    in_clear = leaks(raw, forms)
    assert not in_clear, "a secret is stored in clear in the database file"


def test_a_verbose_socks5_batch_logs_no_secret(
    make_simulator: Any, make_fleet: Any, start_server: Any
) -> None:
    """With `storycheck -v`, httpcore's SOCKS code would log `auth=(b'user', b'password')`:
    the redacting filter and httpcore at WARNING keep every secret out of the log."""
    tag = random_secrets.token_hex(6)
    password = f"SocksPass-{tag}-z3"
    cookies = [make_cookie(i, tag) for i in range(2)]
    forms: set[bytes] = {password.encode(), quote(password, safe="").encode()}
    for cookie in cookies:
        forms |= secret_forms(cookie)
    sim = make_simulator(session_ids=tuple(cookies))
    fleet = make_fleet(2, kind="socks5", username=PROXY_USER, password=password)
    server = start_server(sim.base_url, cli_args=("-v", "serve"), name="verbose")
    api = Api(server.base_url, quiet=True)
    for url, cookie in zip(fleet.urls, cookies, strict=True):
        assert url.startswith("socks5://")
        api.add_pair(url, cookie)
    api.fast_settings()
    niche_id = api.create_niche("verbose")
    api.import_usernames(niche_id, usernames(40, prefix="vrb"))
    batch = api.ok("POST", "/api/batches", 201, json={"niche_id": niche_id, "all_profiles": True})
    api.wait_batch_status(batch["id"], "done", timeout=90)
    api.close()
    server.terminate()
    output = server.output()
    assert b"DEBUG" in output  # the control: the log really is verbose
    assert not leaks(output, forms), "a secret appeared in the verbose server log"
