"""The proxy bodies validate through their models (`proxies/schemas.py`) and still answer with
the original contract's codes, sentences and details; no secret ever appears in a 400."""

from __future__ import annotations

import pydantic
import pytest

from storycheck.proxies.schemas import (
    PairTestAllRequest,
    ProxyCreate,
    ProxyImport,
    ProxyStatusChange,
    SessionChange,
    UserAgentChange,
)
from storycheck.web.errors import validation_error_body
from tests.helpers import assert_error

COOKIE = "58210394%3AqWeRtYuIoPaSdF%3A17%3AAYdZxCvBnM"
SECRET = "Zq9SuperSecretCookieValue77"


@pytest.fixture
def pid(client) -> str:  # type: ignore[no-untyped-def]
    body = {"ip": "127.0.0.1", "port": 8080, "session": COOKIE}
    response = client.post("/api/proxies", json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["id"])


def _model_error(model: type[pydantic.BaseModel], data: object) -> dict[str, object]:
    with pytest.raises(pydantic.ValidationError) as caught:
        model.model_validate(data)
    return validation_error_body(caught.value)


def test_status_body_answers_with_the_original_codes(client, pid):  # type: ignore[no-untyped-def]
    expected_missing = {"required_field": "status", "field": "status"}
    for data in ({}, {"status": ""}, {"status": None}):
        assert _model_error(ProxyStatusChange, data)["details"] == expected_missing
        body = assert_error(client.patch(f"/api/proxies/{pid}/status", json=data), 400,
                            "missing_field")
        assert body["message"] == "Status field is required"
        assert body["details"] == expected_missing
    for bad in ("broken", 1, ["active"]):
        body = assert_error(client.patch(f"/api/proxies/{pid}/status", json={"status": bad}),
                            400, "invalid_request")
        assert body["message"] == "Invalid status. Must be one of: active, disabled, rate_limited"
        assert body["details"] == {"field": "status",
                                   "valid_range": ["active", "disabled", "rate_limited"]}
        assert _model_error(ProxyStatusChange, {"status": bad})["error"] == "invalid_request"


def test_session_body_lists_missing_fields_and_keeps_the_cookie_secret(client, pid):  # type: ignore[no-untyped-def]
    url = f"/api/proxies/{pid}/session"
    for data in ({}, {"session": ""}, {"session": "   "}, {"session": None}):
        body = assert_error(client.put(url, json=data), 400, "validation_error")
        assert body["message"] == "Missing required fields: session"
        assert body["details"] == {"missing_fields": ["session"], "field": "session"}
    assert _model_error(SessionChange, {})["details"] == {
        "missing_fields": ["session"], "field": "session"}
    for bad in (f"csrftoken={SECRET}; mid=x", [{"name": "csrftoken", "value": SECRET}],
                {"sessionid": SECRET}, 42):
        response = client.put(url, json={"session": bad})
        body = assert_error(response, 400)
        assert body["details"]["field"] == "session"
        assert SECRET not in response.get_data(as_text=True)
    body = assert_error(client.put(url, json={"session": COOKIE, "user_agent": 42}), 400)
    assert body["details"]["field"] == "user_agent"
    assert COOKIE not in str(body)


def test_user_agent_body(client, pid):  # type: ignore[no-untyped-def]
    url = f"/api/proxies/{pid}/user-agent"
    body = assert_error(client.put(url, json={}), 400, "validation_error")
    assert body["message"] == "Missing required fields: user_agent"
    assert _model_error(UserAgentChange, {})["details"] == {
        "missing_fields": ["user_agent"], "field": "user_agent"}
    body = assert_error(client.put(url, json={"user_agent": 42}), 400, "validation_error")
    assert body["message"] == "user_agent must be a string"
    assert body["details"] == {"field": "user_agent"}
    assert client.put(url, json={"user_agent": None}).get_json()["user_agent"] is None


def test_import_body(client):  # type: ignore[no-untyped-def]
    for data, message in (({"lines": 5}, "lines is required: text with one proxy_url|sessionid "
                                         "per line"),
                          ({"lines": "# only a comment\n\n"}, "lines contains no proxies"),
                          ({}, "lines is required")):
        body = assert_error(client.post("/api/proxies/import", json=data), 400,
                            "validation_error")
        assert (body["message"], body["details"]["field"]) == (message, "lines")
    assert _model_error(ProxyImport, {"lines": 5})["details"] == {"field": "lines"}


def test_pair_test_bodies(client, pid):  # type: ignore[no-untyped-def]
    for bad in ("all", [""], [1], {"a": 1}):
        body = assert_error(client.post("/api/proxies/test", json={"ids": bad}), 400,
                            "validation_error")
        assert body["message"] == "ids must be a list of proxy ids"
        assert body["details"] == {"field": "ids"}
    assert _model_error(PairTestAllRequest, {"ids": "all"})["details"] == {"field": "ids"}
    for url in (f"/api/proxies/{pid}/test", "/api/proxies/test"):
        body = assert_error(client.post(url, json={"username": 42}), 400, "validation_error")
        assert body["details"]["field"] == "username"


PASSWORD = "Zq9ProxyPassw0rdValue"
PORT_RANGE = {"field": "port", "valid_range": "1-65535"}
# Each error path of `POST /api/proxies`: body, status code, error, message, details.
CREATE_ERRORS = [
    ({}, "validation_error", "Missing required fields: ip, port, session",
     {"missing_fields": ["ip", "port", "session"], "field": "ip"}),
    ({"ip": "127.0.0.1", "port": " ", "session": None, "password": PASSWORD},
     "validation_error", "Missing required fields: port, session",
     {"missing_fields": ["port", "session"], "field": "port"}),
    ({"url": f"http://u:{PASSWORD}@127.0.0.1:1", "session": ""}, "validation_error",
     "Missing required fields: session", {"missing_fields": ["session"], "field": "session"}),
    ({"ip": "socks5:// ", "port": 1, "session": SECRET}, "validation_error",
     "Missing required fields: ip", {"missing_fields": ["ip"], "field": "ip"}),
    ({"ip": 5, "port": 1, "session": SECRET}, "invalid_request", "ip must be a string",
     {"field": "ip"}),
    ({"ip": "not a host!", "port": 1, "session": SECRET}, "invalid_request",
     "ip must be a host name or an IP address", {"field": "ip"}),
    ({"ip": "0.0.0.0", "port": 1, "session": SECRET}, "invalid_request",
     "A proxy cannot be the unspecified address", {"field": "ip"}),
    ({"ip": "ftp://127.0.0.1", "port": 1, "session": SECRET}, "invalid_request",
     "Unsupported proxy scheme: ftp",
     {"field": "scheme", "valid_range": ["http", "https", "socks5"]}),
    ({"ip": "127.0.0.1", "port": 1, "session": SECRET, "scheme": 3}, "validation_error",
     "scheme must be a string", {"field": "scheme"}),
    ({"ip": "127.0.0.1", "port": "80a", "session": SECRET}, "invalid_request",
     "Port must be a valid integer", {"port": "80a", **PORT_RANGE}),
    ({"ip": "127.0.0.1", "port": True, "session": SECRET}, "invalid_request",
     "Port must be a valid integer", {"port": True, **PORT_RANGE}),
    ({"ip": "127.0.0.1", "port": 70000, "session": SECRET}, "invalid_request",
     "Port must be between 1 and 65535", {"port": 70000, **PORT_RANGE}),
    ({"ip": "127.0.0.1", "port": 1, "session": SECRET, "password": 5}, "validation_error",
     "password must be a string of at most 255 characters", {"field": "password"}),
    ({"ip": "127.0.0.1", "port": 1, "session": SECRET, "user_agent": 4}, "validation_error",
     "user_agent must be a string", {"field": "user_agent"}),
    ({"ip": "127.0.0.1", "port": 1, "session": [{"value": SECRET}]}, "validation_error",
     "a JSON cookie export must be a list of {name, value, domain} objects",
     {"field": "session"}),
    ({"url": 7, "session": SECRET}, "validation_error", "url must be a string",
     {"field": "url"}),
    ({"url": f"http://u:{PASSWORD}@127.0.0.1", "session": SECRET}, "invalid_request",
     "The proxy URL has no port: use scheme://user:password@host:port", PORT_RANGE),
    ({"url": f"http://u:{PASSWORD}@[zz:1", "session": SECRET}, "invalid_request",
     "The proxy URL is not valid: use scheme://user:password@host:port", {"field": "url"}),
    ({"url": f"http://u:{PASSWORD}@127.0.0.1:80/p", "session": SECRET}, "validation_error",
     "The proxy URL must not have a path or query", {"field": "url"}),
]


@pytest.mark.parametrize(("data", "code", "message", "details"), CREATE_ERRORS)
def test_create_body_keeps_the_original_codes_and_never_a_secret(  # type: ignore[no-untyped-def]
    client, data, code, message, details
):
    from_model = _model_error(ProxyCreate, data)
    response = client.post("/api/proxies", json=data)
    body = assert_error(response, 400, code)
    for answer in (body, from_model):
        assert (answer["error"], answer["message"], answer["details"]) == (code, message, details)
        assert answer["errors"] == [message]
    for secret in (SECRET, PASSWORD):
        assert secret not in response.get_data(as_text=True) and secret not in str(from_model)
    assert client.get("/api/proxies").get_json() == []


def test_create_body_gives_the_pair_of_either_shape() -> None:
    by_parts = ProxyCreate.model_validate(
        {"ip": " SOCKS5h://Proxy.Localhost ", "port": "1080", "session": COOKIE,
         "username": "bob", "password": PASSWORD, "user_agent": ""})
    by_url = ProxyCreate.model_validate(
        {"url": f"socks5://bob:{PASSWORD}@proxy.localhost:1080", "session": COOKIE, "ip": 5})
    for body in (by_parts, by_url):
        pair = body.pair
        assert (pair.scheme, pair.ip, pair.port) == ("socks5", "proxy.localhost", 1080)
        assert (pair.username, pair.password, pair.user_agent) == ("bob", PASSWORD, None)
        assert pair.session.sessionid == COOKIE
