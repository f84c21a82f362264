"""Proxy routes: thin views over `proxies.service`. Secrets are masked in every answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, request

from storycheck.errors import ValidationError
from storycheck.proxies import service
from storycheck.proxies.schemas import (
    PairTestAllRequest,
    PairTestRequest,
    ProxyCreate,
    ProxyImport,
    ProxyStatusChange,
    SessionChange,
    UserAgentChange,
)
from storycheck.proxies.teststate import pair_test_state, stored_report
from storycheck.web.context import services
from storycheck.web.http import json_body, no_content, ok

if TYPE_CHECKING:
    from storycheck.proxies.testreport import PairTestReport

bp = Blueprint("proxies", __name__, url_prefix="/api/proxies")


LOG_LIMIT_DEFAULT = 20
LOG_LIMIT_MAX = 100


@bp.get("")
def list_proxies() -> Response:
    """Every proxy + session pair, oldest first."""
    app = services()
    with app.db.read() as session:
        return ok(service.list_proxies(session, secrets=app.secrets))


@bp.after_request
def _tell_the_engine(response: Response) -> Response:
    """After a pair was added, changed or deleted, the in-process engine re-reads its pairs at
    once instead of at its next periodic refresh, and the answer waits for it: once the API
    has answered, a pair just disabled sends nothing more."""
    changed = request.method in ("POST", "PUT", "PATCH", "DELETE") and response.status_code < 400
    if changed and not request.path.endswith("/test"):
        pool = services().pool
        if pool is not None:
            pool.refresh_pairs(wait=pool.APPLY_WAIT_SECONDS)
    return response


@bp.post("")
def create_proxy() -> Response:
    """Add a pair: `{ip, port, session, username?, password?, scheme?}` or `{url, session}`."""
    body = ProxyCreate.model_validate(json_body())
    app = services()
    with app.db.write() as session:
        proxy = service.create_proxy(session, pair=body.pair, secrets=app.secrets)
        payload = service.proxy_payload(session, proxy, secrets=app.secrets)
    return ok(payload, 201)


@bp.post("/import")
def import_proxies() -> Response:
    """Add many pairs from `{lines}`: one `proxy_url|sessionid` per line, reported per line."""
    body = ProxyImport.model_validate(json_body())
    app = services()
    with app.db.write() as session:
        created, errors = service.import_proxies(
            session, entries=body.lines, secrets=app.secrets
        )
        payload = {
            "created": service.serialize_proxies(session, created, secrets=app.secrets),
            "errors": errors,
            "total": len(created) + len(errors),
            "created_count": len(created),
            "error_count": len(errors),
        }
    return ok(payload, 207 if errors else 201)


@bp.patch("/<proxy_id>/status")
def set_status(proxy_id: str) -> Response:
    """Switch a pair `active`, `disabled` or `rate_limited`."""
    body = ProxyStatusChange.model_validate(json_body())
    app = services()
    with app.db.write() as session:
        proxy = service.set_status(session, proxy_id=proxy_id, status=body.status)
        payload = service.proxy_payload(session, proxy, secrets=app.secrets)
    return ok(payload)


@bp.put("/<proxy_id>/session")
def replace_session(proxy_id: str) -> Response:
    """Replace a pair's Instagram session `{session, user_agent?}`; the pair becomes ready."""
    body = SessionChange.model_validate(json_body())
    user_agent = body.user_agent if "user_agent" in body.model_fields_set else ...
    app = services()
    with app.db.write() as session:
        proxy = service.replace_session(
            session, proxy_id=proxy_id, cookie=body.session, secrets=app.secrets,
            user_agent=user_agent,
        )
        payload = service.proxy_payload(session, proxy, secrets=app.secrets)
    return ok(payload)


@bp.put("/<proxy_id>/user-agent")
def set_user_agent(proxy_id: str) -> Response:
    """Set the pair's user agent `{user_agent}` (null or "" = the default desktop Chrome)."""
    body = UserAgentChange.model_validate(json_body())
    app = services()
    with app.db.write() as session:
        proxy = service.set_user_agent(session, proxy_id=proxy_id, user_agent=body.user_agent)
        payload = service.proxy_payload(session, proxy, secrets=app.secrets)
    return ok(payload)


@bp.delete("/<proxy_id>")
def delete_proxy(proxy_id: str) -> Response:
    """Delete a pair (also after it was used by batches)."""
    with services().db.write() as session:
        service.delete_proxy(session, proxy_id=proxy_id)
    return no_content()


@bp.post("/test")
def pairs_test() -> Response:
    """"Test all": test `{ids?, username?}` (default: every switched-on pair), a few at once;
    the list of reports in the order asked."""
    body = PairTestAllRequest.model_validate(json_body(required=False))
    ids = body.ids
    if ids is None:
        with services().db.read() as session:
            ids = service.active_proxy_ids(session)
        if not ids:
            return ok([])
    return ok([report.to_dict() for report in _run_tests(ids, body.username)])


@bp.post("/<proxy_id>/test")
def pair_test(proxy_id: str) -> Response:
    """Test one pair `{username?}`: one lookup through it, reported step by step."""
    body = PairTestRequest.model_validate(json_body(required=False))
    return ok(_run_tests([proxy_id], body.username)[0].to_dict())


@bp.get("/<proxy_id>/test")
def last_pair_test(proxy_id: str) -> Response:
    """The pair's test state and its last result with the steps (null when untested)."""
    with services().db.read() as session:
        proxy = service.get_proxy(session, proxy_id=proxy_id)
        return ok(
            {
                "proxy_id": proxy.id,
                "test_state": pair_test_state(proxy),
                "last_test": stored_report(proxy),
            }
        )


def _run_tests(proxy_ids: list[str], username: object) -> list[PairTestReport]:
    from storycheck.engine.options import EngineOptions
    from storycheck.proxies.pairtest import clean_username, run_tests  # imports the engine

    app = services()
    name = clean_username(username, app.config.pair_test_username)
    return run_tests(
        db=app.db,
        secrets=app.secrets,
        pool=app.pool,
        base_url=app.config.instagram_url,
        proxy_ids=proxy_ids,
        username=name,
        options=app.pool.options if app.pool else EngineOptions.from_env(extra=app.config.extra),
    )


@bp.get("/<proxy_id>/error-logs")
def error_logs(proxy_id: str) -> Response:
    """A page of a pair's error log, newest first (`limit` 1–100, `offset` ≥ 0)."""
    limit = _log_param("limit", LOG_LIMIT_DEFAULT, 1, LOG_LIMIT_MAX, "1-100")
    offset = _log_param("offset", 0, 0, 1_000_000_000, ">=0")
    with services().db.read() as session:
        return ok(service.error_logs(session, proxy_id=proxy_id, limit=limit, offset=offset))


def _log_param(name: str, default: int, minimum: int, maximum: int | None, valid: str) -> int:
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or value < minimum or (maximum is not None and value > maximum):
        raise ValidationError(
            f"Invalid {name} parameter",
            details={"field": name, "valid_range": valid},
        )
    return value
