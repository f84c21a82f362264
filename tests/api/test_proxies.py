"""Proxy routes: create/import/status/session/delete/error logs; secrets never leave in clear."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from storycheck.batches.models import BatchLog, BatchProfile
from storycheck.db import new_id, utcnow
from storycheck.proxies.models import IgSession, Proxy, ProxyErrorLog, ProxyUsage
from tests.factories import make_niche, make_profiles
from tests.helpers import assert_error

COOKIE = "58210394%3AqWeRtYuIoPaSdF%3A17%3AAYdZxCvBnM"
COOKIE_2 = "77777777%3AzXcVbNmAsDfGhJ%3A20%3AAYfKlMnOpQr"
PASSWORD = "hunter2-Sup3rSecret"

PROXY_FIELDS = {
    "id",
    "ip",
    "port",
    "scheme",
    "username",
    "password",
    "url",
    "is_active",
    "status",
    "health",
    "cooldown_until",
    "error_score",
    "learned_hourly_limit",
    "consecutive_failures",
    "total_requests",
    "failed_requests",
    "requests_this_hour",
    "error_rate",
    "error_count",
    "avg_response_time",
    "last_used",
    "last_success",
    "last_error",
    "user_agent",
    "test_state",
    "last_test",
    "sessions",
    "created_at",
    "updated_at",
}


def _no_secrets(response, *secrets: str) -> None:  # type: ignore[no-untyped-def]
    text = response.get_data(as_text=True)
    for secret in secrets or (COOKIE, COOKIE_2, PASSWORD):
        assert secret not in text


def _create(client, **overrides) -> dict:  # type: ignore[no-untyped-def]
    payload = {
        "ip": "127.0.10.1",
        "port": 8080,
        "session": COOKIE,
        "username": "proxyuser",
        "password": PASSWORD,
    }
    payload.update(overrides)
    response = client.post("/api/proxies", json=payload)
    assert response.status_code == 201, response.get_data(as_text=True)
    _no_secrets(response)
    return response.get_json()  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------- create


def test_create_stores_secrets_encrypted_and_masks_them(client, db, services):  # type: ignore[no-untyped-def]
    body = _create(client)

    assert set(body) == PROXY_FIELDS
    assert (body["ip"], body["port"], body["scheme"], body["username"]) == (
        "127.0.10.1",
        8080,
        "http",
        "proxyuser",
    )
    assert (body["status"], body["is_active"], body["health"]) == ("active", True, "ready")
    assert (body["test_state"], body["last_test"]) == ("untested", None)
    assert body["password"] == "…"
    assert body["url"] == "http://proxyuser:…@127.0.10.1:8080"
    assert len(body["sessions"]) == 1
    assert body["sessions"][0]["status"] == "active"
    assert body["sessions"][0]["session"] == f"{COOKIE[:4]}…{COOKIE[-4:]}"
    with db.read() as session:
        proxy = session.get(Proxy, body["id"])
        ig = session.scalar(select(IgSession).where(IgSession.proxy_id == body["id"]))
        assert proxy is not None and ig is not None
        assert PASSWORD not in (proxy.password_encrypted or "")
        assert COOKIE not in ig.session_encrypted
        # The account id is a secret too: encrypted, the clear column stays empty.
        assert ig.ds_user_id_clear is None and "58210394" not in (ig.ds_user_id_encrypted or "")
        assert services.secrets.decrypt(ig.ds_user_id_encrypted) == "58210394"


def test_create_from_a_url(client):  # type: ignore[no-untyped-def]
    body = _create(
        client, ip=None, port=None, url=f"socks5://bob:{PASSWORD}@proxy.localhost:1080"
    )
    assert (body["scheme"], body["ip"], body["port"], body["username"]) == (
        "socks5",
        "proxy.localhost",
        1080,
        "bob",
    )
    assert body["url"] == "socks5://bob:…@proxy.localhost:1080"


def test_create_strips_a_scheme_prefix_and_accepts_a_numeric_string_port(client):  # type: ignore[no-untyped-def]
    body = _create(client, ip="socks5://127.0.168.9", port="1081", username=None, password=None)
    assert (body["scheme"], body["ip"], body["port"]) == ("socks5", "127.0.168.9", 1081)
    assert body["password"] is None and body["url"] == "socks5://127.0.168.9:1081"


def test_create_accepts_a_whole_cookie_header(client, db):  # type: ignore[no-untyped-def]
    body = _create(client, session=f"csrftoken=abc; sessionid={COOKIE}; ds_user_id=58210394")
    assert body["sessions"][0]["session"] == f"{COOKIE[:4]}…{COOKIE[-4:]}"
    duplicate = client.post("/api/proxies", json={"ip": "127.0.10.2", "port": 1, "session": COOKIE})
    assert_error(duplicate, 409, "duplicate_session")
def test_missing_fields(client):  # type: ignore[no-untyped-def]
    body = assert_error(client.post("/api/proxies", json={"ip": "1.2.3.4"}), 400)
    assert body["error"] == "validation_error"
    assert body["details"]["missing_fields"] == ["port", "session"]
    body = assert_error(client.post("/api/proxies", json={"url": "http://h:1"}), 400)
    assert body["details"]["missing_fields"] == ["session"]


@pytest.mark.parametrize("port", ["abc", "80a", True, [80], 0, 70000, -1, 1.5])
def test_bad_ports(client, port):  # type: ignore[no-untyped-def]
    body = assert_error(
        client.post("/api/proxies", json={"ip": "1.2.3.4", "port": port, "session": COOKIE}), 400
    )
    assert body["details"]["field"] == "port"
    assert "port" in body["details"]
    _no_secrets(client.get("/api/proxies"))


@pytest.mark.parametrize(
    "payload",
    [
        {"ip": 5, "port": 1, "session": COOKIE},
        {"ip": "not a host!", "port": 1, "session": COOKIE},
        {"ip": "1.2.3.4", "port": 1, "session": COOKIE, "scheme": "ftp"},
        {"ip": "1.2.3.4", "port": 1, "session": 12345},
        {"ip": "1.2.3.4", "port": 1, "session": "has spaces in it"},
        {"ip": "1.2.3.4", "port": 1, "session": COOKIE, "password": 5},
        {"url": "http://host", "session": COOKIE},
        {"url": "http://host:99999", "session": COOKIE},
        {"url": "http://host:80/path", "session": COOKIE},
        {"url": 7, "session": COOKIE},
    ],
)
def test_invalid_input_is_400(client, payload):  # type: ignore[no-untyped-def]
    response = client.post("/api/proxies", json=payload)
    assert_error(response, 400)
    _no_secrets(response)


def test_malformed_bodies(client):  # type: ignore[no-untyped-def]
    assert_error(client.post("/api/proxies", data="{", content_type="application/json"), 400)
    assert_error(client.post("/api/proxies", data="null", content_type="application/json"), 400)
    assert_error(client.post("/api/proxies", json=[1, 2]), 400)
    assert_error(client.post("/api/proxies"), 400)


def test_duplicate_session_is_409_without_echoing_it(client):  # type: ignore[no-untyped-def]
    _create(client)
    response = client.post("/api/proxies", json={"ip": "127.0.10.9", "port": 1, "session": COOKIE})
    body = assert_error(response, 409)
    assert body["error"] == "duplicate_session"
    assert body["message"] == "This session is already in use"
    _no_secrets(response)


def test_duplicate_ip_and_port_is_409(client):  # type: ignore[no-untyped-def]
    _create(client)
    body = assert_error(
        client.post("/api/proxies", json={"ip": "127.0.10.1", "port": "8080", "session": COOKIE_2}),
        409,
    )
    assert body["error"] == "duplicate_proxy"
    assert body["details"]["ip"] == "127.0.10.1" and body["details"]["port"] == 8080


def test_list_is_ordered_by_creation_and_has_no_secrets(client):  # type: ignore[no-untyped-def]
    first = _create(client)
    second = _create(client, ip="127.0.10.2", session=COOKIE_2)

    response = client.get("/api/proxies")

    assert response.status_code == 200
    assert [p["id"] for p in response.get_json()] == [first["id"], second["id"]]
    _no_secrets(response)


def test_usage_figures(client, db):  # type: ignore[no-untyped-def]
    proxy = _create(client)
    stale = _create(client, ip="127.0.10.3", session=COOKIE_2)
    with db.write() as session:
        # The engine writes the requests it really sent in the last hour (not its reservations).
        session.execute(
            update(Proxy)
            .where(Proxy.id == proxy["id"])
            .values(total_requests=40, failed_requests=10, requests_this_hour=7, last_used=utcnow())
        )
        session.execute(
            update(Proxy)
            .where(Proxy.id == stale["id"])
            .values(requests_this_hour=9, last_used=utcnow() - timedelta(hours=2))
        )

    listed = {p["id"]: p for p in client.get("/api/proxies").get_json()}

    assert listed[proxy["id"]]["requests_this_hour"] == 7
    assert listed[stale["id"]]["requests_this_hour"] == 0  # nothing sent within the hour
    listed = listed[proxy["id"]]
    assert listed["error_rate"] == 25.0


# ---------------------------------------------------------------------------------- import


def test_import_reports_each_line(client):  # type: ignore[no-untyped-def]
    _create(client)
    lines = "\n".join(
        [
            f"socks5://alice:{PASSWORD}@1.1.1.1:1080|{COOKIE_2}",  # 1 ok
            "",  # blank
            "# a comment",
            f"http://2.2.2.2:3128|{COOKIE}",  # 4 duplicate session
            f"http://bob:{PASSWORD}@3.3.3.3|abcdefghijklmnop",  # 5 no port
            f"9.9.9.9:1:{PASSWORD}",  # 6 no separator
            f"http://1.1.1.1:1080|{'Z' * 40}",  # 7 duplicate ip:port from line 1
            "4.4.4.4:8000|plainsessionvalue123",  # 8 ok
        ]
    )

    response = client.post("/api/proxies/import", json={"lines": lines})

    assert response.status_code == 207
    _no_secrets(response)
    body = response.get_json()
    assert [p["ip"] for p in body["created"]] == ["1.1.1.1", "4.4.4.4"]
    assert [e["line_number"] for e in body["errors"]] == [4, 5, 6, 7]
    assert [e["error"] for e in body["errors"]][0] == "This session is already in use"
    assert (body["created_count"], body["error_count"], body["total"]) == (2, 4, 6)
    assert len(client.get("/api/proxies").get_json()) == 3


def test_import_all_good_is_201(client):  # type: ignore[no-untyped-def]
    response = client.post(
        "/api/proxies/import",
        json={"lines": [f"http://5.5.5.5:80|{COOKIE}", f"https://6.6.6.6:443|{COOKIE_2}"]},
    )
    assert response.status_code == 201
    assert response.get_json()["created_count"] == 2


def test_import_rejects_a_bad_body(client):  # type: ignore[no-untyped-def]
    assert_error(client.post("/api/proxies/import", json={}), 400)
    assert_error(client.post("/api/proxies/import", json={"lines": 5}), 400)
    assert_error(client.post("/api/proxies/import", json={"lines": "\n\n"}), 400)


# ---------------------------------------------------------------------------------- status


def test_status_changes_drive_is_active_and_health(client):  # type: ignore[no-untyped-def]
    pid = _create(client)["id"]

    body = client.patch(f"/api/proxies/{pid}/status", json={"status": "disabled"}).get_json()
    assert (body["status"], body["is_active"], body["health"]) == ("disabled", False, "disabled")

    body = client.patch(f"/api/proxies/{pid}/status", json={"status": "active"}).get_json()
    assert (body["status"], body["is_active"], body["health"]) == ("active", True, "ready")

    body = client.patch(f"/api/proxies/{pid}/status", json={"status": "rate_limited"}).get_json()
    assert (body["status"], body["is_active"]) == ("rate_limited", False)


def test_status_errors(client):  # type: ignore[no-untyped-def]
    pid = _create(client)["id"]
    body = assert_error(client.patch(f"/api/proxies/{pid}/status", json={}), 400)
    assert body["error"] == "missing_field" and body["details"]["required_field"] == "status"
    assert_error(client.patch(f"/api/proxies/{pid}/status", json={"status": "broken"}), 400)
    assert_error(client.patch(f"/api/proxies/{pid}/status", json={"status": 1}), 400)
    assert_error(
        client.patch(f"/api/proxies/{pid}/status", data="x", content_type="application/json"), 400
    )
    assert_error(client.patch("/api/proxies/ghost/status", json={"status": "active"}), 404)


# ---------------------------------------------------------------------------------- session


def test_replace_session_makes_the_pair_ready(client, db):  # type: ignore[no-untyped-def]
    pid = _create(client)["id"]
    with db.write() as session:
        session.execute(
            update(Proxy)
            .where(Proxy.id == pid)
            .values(health="invalid", cooldown_until=utcnow(), consecutive_failures=4)
        )
        session.execute(update(IgSession).where(IgSession.proxy_id == pid).values(status="invalid"))

    response = client.put(f"/api/proxies/{pid}/session", json={"session": COOKIE_2})

    assert response.status_code == 200
    _no_secrets(response)
    body = response.get_json()
    assert body["health"] == "ready" and body["cooldown_until"] is None
    assert body["sessions"][0]["status"] == "active"
    assert body["sessions"][0]["session"] == f"{COOKIE_2[:4]}…{COOKIE_2[-4:]}"
    # the old cookie is free again
    _create(client, ip="127.0.10.3", session=COOKIE)


def test_replace_session_errors(client):  # type: ignore[no-untyped-def]
    first = _create(client)["id"]
    _create(client, ip="127.0.10.2", session=COOKIE_2)
    response = client.put(f"/api/proxies/{first}/session", json={"session": COOKIE_2})
    assert_error(response, 409, "duplicate_session")
    _no_secrets(response)
    assert_error(client.put(f"/api/proxies/{first}/session", json={}), 400)
    assert_error(client.put(f"/api/proxies/{first}/session", json={"session": 42}), 400)
    assert_error(client.put("/api/proxies/ghost/session", json={"session": "abcdefghijklmnopq"}), 404)
    # the same cookie again on the same pair is fine
    assert client.put(f"/api/proxies/{first}/session", json={"session": COOKIE}).status_code == 200


# ---------------------------------------------------------------------------------- delete


def test_delete_after_use(client, db, services):  # type: ignore[no-untyped-def]
    pid = _create(client)["id"]
    niche = make_niche(db, name="n")
    profiles = make_profiles(db, niche, 2)
    batch = services.state.create_batch(niche_id=niche, profile_ids=profiles)
    with db.write() as session:
        session_id = session.scalar(select(IgSession.id).where(IgSession.proxy_id == pid))
        session.execute(
            update(BatchProfile)
            .where(BatchProfile.batch_id == batch.id)
            .values(proxy_id=pid, session_id=session_id)
        )
        session.add(
            BatchLog(
                id=new_id(), batch_id=batch.id, event_type="INFO", message="used", proxy_id=pid
            )
        )
        session.add(ProxyErrorLog(id=new_id(), proxy_id=pid, error_message="timeout"))
        session.add(ProxyUsage(proxy_id=pid, kind="stories", minute=1, requests=3))

    assert client.delete(f"/api/proxies/{pid}").status_code == 204

    assert client.get("/api/proxies").get_json() == []
    with db.read() as session:
        items = session.scalars(select(BatchProfile).where(BatchProfile.batch_id == batch.id)).all()
        assert len(items) == 2
        assert all(i.proxy_id is None and i.session_id is None for i in items)
        assert session.scalars(select(ProxyErrorLog)).all() == []
        assert session.scalars(select(IgSession)).all() == []
    assert_error(client.delete(f"/api/proxies/{pid}"), 404)


# ---------------------------------------------------------------------------------- error logs


def test_error_logs_page_newest_first(client, db):  # type: ignore[no-untyped-def]
    pid = _create(client)["id"]
    base = utcnow()
    with db.write() as session:
        for i in range(25):
            session.add(
                ProxyErrorLog(
                    id=new_id(),
                    proxy_id=pid,
                    timestamp=base - timedelta(minutes=i),
                    error_message=f"error {i}",
                    state_change=i == 0,
                )
            )

    body = client.get(f"/api/proxies/{pid}/error-logs").get_json()
    assert (body["total"], body["limit"], body["offset"]) == (25, 20, 0)
    assert [log["error_message"] for log in body["logs"][:2]] == ["error 0", "error 1"]
    assert set(body["logs"][0]) == {
        "id",
        "proxy_id",
        "session_id",
        "timestamp",
        "error_message",
        "state_change",
        "transition_reason",
        "recovery_time",
    }
    assert body["logs"][0]["state_change"] is True

    page = client.get(f"/api/proxies/{pid}/error-logs?limit=10&offset=20").get_json()
    assert [log["error_message"] for log in page["logs"]] == [f"error {i}" for i in range(20, 25)]


@pytest.mark.parametrize(
    ("query", "field", "valid_range"),
    [
        ("limit=0", "limit", "1-100"),
        ("limit=101", "limit", "1-100"),
        ("limit=abc", "limit", "1-100"),
        ("offset=-1", "offset", ">=0"),
        ("offset=x", "offset", ">=0"),
        ("offset=999999999999999999999", "offset", ">=0"),
    ],
)
def test_error_log_parameters(client, query, field, valid_range):  # type: ignore[no-untyped-def]
    pid = _create(client)["id"]
    body = assert_error(client.get(f"/api/proxies/{pid}/error-logs?{query}"), 400)
    assert body["message"] == f"Invalid {field} parameter"
    assert body["details"] == {"field": field, "valid_range": valid_range}


def test_error_logs_of_unknown_proxy(client):  # type: ignore[no-untyped-def]
    assert assert_error(client.get("/api/proxies/ghost/error-logs"), 404)["message"] == "Proxy not found"


def test_secrets_are_never_logged(client, caplog):  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    _create(client)
    client.post("/api/proxies", json={"ip": "127.0.10.1", "port": 8080, "session": COOKIE})
    client.post("/api/proxies", json={"ip": "127.0.10.5", "port": "bad", "session": COOKIE_2})
    client.post("/api/proxies/import", json={"lines": f"http://u:{PASSWORD}@7.7.7.7:1|{COOKIE}"})
    client.get("/api/proxies")
    for secret in (COOKIE, COOKIE_2, PASSWORD):
        assert secret not in caplog.text


def test_nul_characters_never_cause_a_500(client):  # type: ignore[no-untyped-def]
    pid = _create(client)["id"]
    for response in (
        client.post(
            "/api/proxies",
            json={"ip": "127.0.9.9", "port": 1, "session": COOKIE_2, "username": "u\x00"},
        ),
        client.post("/api/proxies/import", json={"lines": f"http://u%00:p@8.8.8.8:1|{COOKIE_2}"}),
        client.get("/api/proxies/%00/error-logs"),
        client.patch("/api/proxies/%00/status", json={"status": "active"}),
        client.put(f"/api/proxies/{pid}/session", json={"session": "abc\x00defghijklmnop"}),
        client.delete("/api/proxies/%00"),
    ):
        assert response.status_code < 500
        _no_secrets(response)


# ---------------------------------------------------------------------------------- session formats

CSRF = "csrfTOKENsecret42"
MID = "Z1midSECRETvalue"
IG_DID = "A1B2-DIDSECRET-77"
RUR = "CLN\\05458210394\\054SECRETrur"
FULL_SET = ["sessionid", "csrftoken", "ds_user_id", "mid", "ig_did", "rur"]
ALL_SECRETS = (COOKIE, COOKIE_2, PASSWORD, CSRF, MID, IG_DID, "SECRET")

COOKIE_STRING = (
    f"csrftoken={CSRF}; mid={MID}; ig_did={IG_DID}; ds_user_id=58210394; "
    f"sessionid={COOKIE}; rur={RUR}; dpr=2; other=ignored"
)
JSON_EXPORT = [
    {"name": "sessionid", "value": COOKIE, "domain": ".instagram.com", "httpOnly": True},
    {"name": "csrftoken", "value": CSRF, "domain": ".instagram.com", "path": "/"},
    {"name": "ds_user_id", "value": "58210394", "domain": ".instagram.com"},
    {"name": "mid", "value": MID, "domain": ".instagram.com"},
    {"name": "ig_did", "value": IG_DID, "domain": "www.instagram.com"},
    {"name": "rur", "value": RUR, "domain": ".instagram.com"},
    {"name": "sessionid", "value": "someOTHERsitesSECRET", "domain": ".example.com"},
]
NETSCAPE = "\n".join(
    [
        "# Netscape HTTP Cookie File",
        "# exported by a browser extension",
        "",
        ".example.com\tTRUE\t/\tTRUE\t1999999999\tsessionid\tsomeOTHERsitesSECRET",
        f"#HttpOnly_.instagram.com\tTRUE\t/\tTRUE\t1999999999\tsessionid\t{COOKIE}",
        f".instagram.com\tTRUE\t/\tTRUE\t1999999999\tcsrftoken\t{CSRF}",
        ".instagram.com\tTRUE\t/\tTRUE\t1999999999\tds_user_id\t58210394",
        f".instagram.com\tTRUE\t/\tTRUE\t1999999999\tmid\t{MID}",
        f".instagram.com\tTRUE\t/\tTRUE\t1999999999\tig_did\t{IG_DID}",
        f"#HttpOnly_.instagram.com\tTRUE\t/\tTRUE\t1999999999\trur\t{RUR}",
    ]
)


def _stored(db, proxy_id: str, services) -> dict:  # type: ignore[no-untyped-def]
    import json

    secrets = services.secrets
    with db.read() as session:
        row = session.scalar(select(IgSession).where(IgSession.proxy_id == proxy_id))
        assert row is not None
        for token in (row.session_encrypted, row.csrftoken_encrypted, row.cookies_encrypted):
            assert token is None or not any(s in token for s in ALL_SECRETS)
        return {
            "sessionid": secrets.decrypt(row.session_encrypted),
            "csrftoken": secrets.decrypt(row.csrftoken_encrypted)
            if row.csrftoken_encrypted
            else None,
            "ds_user_id": secrets.decrypt(row.ds_user_id_encrypted)
            if row.ds_user_id_encrypted
            else None,
            **(json.loads(secrets.decrypt(row.cookies_encrypted)) if row.cookies_encrypted else {}),
        }


@pytest.mark.parametrize(
    "pasted",
    [COOKIE_STRING, f"Cookie: {COOKIE_STRING}", JSON_EXPORT, NETSCAPE, "JSON_TEXT"],
    ids=["cookie-string", "cookie-header", "json-export", "cookies-txt", "json-export-text"],
)
def test_a_whole_browser_session_is_kept_encrypted_and_shown_by_name(  # type: ignore[no-untyped-def]
    client, db, services, pasted
):
    import json

    if pasted == "JSON_TEXT":
        pasted = json.dumps({"cookies": JSON_EXPORT})
    response = client.post("/api/proxies", json={"ip": "127.0.10.1", "port": 8080, "session": pasted})
    assert response.status_code == 201, response.get_data(as_text=True)
    _no_secrets(response, *ALL_SECRETS)
    body = response.get_json()
    assert body["sessions"][0]["cookies"] == FULL_SET
    assert body["sessions"][0]["session"] == f"{COOKIE[:4]}…{COOKIE[-4:]}"
    assert _stored(db, body["id"], services) == {
        "sessionid": COOKIE,
        "csrftoken": CSRF,
        "ds_user_id": "58210394",
        "mid": MID,
        "ig_did": IG_DID,
        "rur": RUR,
    }


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        ('[{"name": "sessionid"', "session looks like JSON but is not a valid cookie export"),
        (
            [{"value": COOKIE}],
            "a JSON cookie export must be a list of {name, value, domain} objects",
        ),
        (
            [{"name": "csrftoken", "value": CSRF}],
            "the cookie export has no Instagram sessionid cookie",
        ),
        (f"csrftoken={CSRF}; mid={MID}", "the cookie string has no Instagram sessionid cookie"),
        (f"# Netscape HTTP Cookie File\n.instagram.com\tTRUE\t{COOKIE}", "cookies.txt line 2"),
        (f"sessionid={COOKIE}; csrftoken=two words", "the csrftoken cookie in the cookie string"),
        (
            [{"name": "sessionid", "value": "someOTHERsitesSECRET", "domain": ".example.com"}],
            "the cookie export has no Instagram sessionid cookie",
        ),
    ],
)
def test_a_bad_session_is_a_clear_400_without_the_secret(client, pasted, message):  # type: ignore[no-untyped-def]
    response = client.post("/api/proxies", json={"ip": "127.0.10.1", "port": 8080, "session": pasted})
    body = assert_error(response, 400)
    assert body["message"].startswith(message) and body["details"]["field"] == "session"
    _no_secrets(response, *ALL_SECRETS)


def test_user_agent_per_pair(client, db):  # type: ignore[no-untyped-def]
    from storycheck.engine.client import DEFAULT_USER_AGENT

    custom = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/142.0.0.0 Safari/537.36"
    body = _create(client, user_agent=custom)
    assert body["user_agent"] == custom
    pid = body["id"]
    response = client.put(f"/api/proxies/{pid}/user-agent", json={"user_agent": ""})
    assert response.status_code == 200 and response.get_json()["user_agent"] is None
    assert "Chrome/142." in DEFAULT_USER_AGENT  # what a pair without its own sends
    response = client.put(
        f"/api/proxies/{pid}/session", json={"session": COOKIE_2, "user_agent": custom}
    )
    assert response.status_code == 200 and response.get_json()["user_agent"] == custom
    # a session replaced without a user agent keeps the pair's
    response = client.put(f"/api/proxies/{pid}/session", json={"session": COOKIE})
    assert response.get_json()["user_agent"] == custom
    assert assert_error(client.put(f"/api/proxies/{pid}/user-agent", json={}), 400)["details"] == {
        "missing_fields": ["user_agent"],
        "field": "user_agent",
    }
    for bad in ("x" * 501, "nul\u0000here", "two\nlines", 42, "Mozilla/5.0 ünïcode"):
        body = assert_error(client.put(f"/api/proxies/{pid}/user-agent", json={"user_agent": bad}), 400)
        assert body["details"]["field"] == "user_agent"
    assert_error(client.put("/api/proxies/ghost/user-agent", json={"user_agent": custom}), 404)
    with db.read() as session:
        proxy = session.get(Proxy, pid)
        assert proxy is not None and proxy.user_agent == custom


def test_rotated_cookies_are_saved_only_when_they_changed(client, db, services):  # type: ignore[no-untyped-def]
    from storycheck.engine.client import RotatedState
    from storycheck.proxies.identity import save_rotated

    pid = _create(client, session=COOKIE_STRING)["id"]
    with db.read() as session:
        row = session.scalar(select(IgSession).where(IgSession.proxy_id == pid))
        assert row is not None
        session_id, before = row.id, (row.session_encrypted, row.csrftoken_encrypted)
        cookies_before = row.cookies_encrypted
    same = {"sessionid": COOKIE, "csrftoken": CSRF, "mid": MID, "ig_did": IG_DID, "rur": RUR}
    assert not save_rotated(db, services.secrets, session_id, RotatedState(same, None))
    with db.read() as session:
        row = session.get(IgSession, session_id)
        assert (row.session_encrypted, row.csrftoken_encrypted) == before
        assert row.cookies_encrypted == cookies_before

    rotated = {**same, "csrftoken": "NEWcsrf", "rur": "NEWrur", "sessionid": COOKIE_2}
    assert save_rotated(db, services.secrets, session_id, RotatedState(rotated, "hmac.CLAIM"))
    stored = _stored(db, pid, services)
    assert (stored["sessionid"], stored["csrftoken"], stored["rur"]) == (
        COOKIE_2,
        "NEWcsrf",
        "NEWrur",
    )
    with db.read() as session:
        row = session.get(IgSession, session_id)
        assert services.secrets.decrypt(row.www_claim_encrypted) == "hmac.CLAIM"
        assert row.session_digest == services.secrets.digest(COOKIE_2)
    # the refreshed cookie counts for duplicates; the claim goes with a replaced session
    assert_error(
        client.post("/api/proxies", json={"ip": "127.0.10.7", "port": 1, "session": COOKIE_2}), 409
    )
    client.put(f"/api/proxies/{pid}/session", json={"session": COOKIE})
    with db.read() as session:
        assert session.get(IgSession, session_id).www_claim_encrypted is None


def test_a_proxy_host_that_is_not_a_proxy_is_refused(client):  # type: ignore[no-untyped-def]
    # The unspecified address: refused before anything could connect (no pair is created).
    response = client.post("/api/proxies", json={"ip": "0.0.0.0", "port": 8080, "session": "x" * 20})
    assert response.status_code == 400
    assert response.get_json()["message"] == "A proxy cannot be the unspecified address"
    assert client.get("/api/proxies").get_json() == []
