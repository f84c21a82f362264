"""Proxy + session pairs: create, import, switch on/off, replace the cookie, delete, report.

(Over 500 lines on purpose: every path that touches a pair's secrets stays in this module.)

Secrets never leave this module in clear: the proxy password and the session cookie are stored
encrypted (`SecretBox`), duplicates are found through a keyed digest, and every answer shows
them masked. Error messages and logs never contain them either.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storycheck.crypto import SecretBox, SecretKeyError, mask
from storycheck.db import iso, utcnow
from storycheck.errors import Conflict, NotFound, ValidationError
from storycheck.proxies.identity import store_cookies
from storycheck.proxies.models import (
    PROXY_SCHEMES,
    IgSession,
    PairHealth,
    Proxy,
    ProxyErrorLog,
)
from storycheck.proxies.sessions import (
    KEPT_COOKIES,
    SessionCookies,
    clean_user_agent,
    parse_session,
)
from storycheck.proxies.teststate import forget_test, last_test, pair_test_state

_HOST_RE = re.compile(r"\A[A-Za-z0-9]([A-Za-z0-9.-]{0,253}[A-Za-z0-9])?\Z")
_SCHEME_PREFIX = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://", re.ASCII)
IMPORT_MAX_LINES = 10_000
# Kinds of request counted against a pair's hourly budget (ProxyUsage.kind).
USAGE_KINDS = ("lookup", "stories")
_SCHEME_ALIASES = {"socks5h": "socks5", "socks": "socks5"}
_MASK = "…"


@dataclass(frozen=True)
class ProxyInput:
    """A validated proxy + session pair, ready to store."""

    scheme: str
    ip: str
    port: int
    username: str | None
    password: str | None
    session: SessionCookies
    user_agent: str | None = None


# ---------------------------------------------------------------------------------- parsing


def parse_proxy(data: Mapping[str, Any]) -> ProxyInput:
    """Validate `{ip, port, session, username?, password?, scheme?, user_agent?}` or
    `{url, session, user_agent?}`; `session` in any format of `proxies.sessions`."""
    missing = missing_proxy_fields(data)
    if missing:
        raise _missing(missing)
    user_agent = clean_user_agent(data.get("user_agent"))
    url = data.get("url")
    if url not in (None, ""):
        if not isinstance(url, str):
            raise ValidationError("url must be a string", details={"field": "url"})
        scheme, ip, port, username, password = parse_proxy_url(url)
        cookies = clean_session(data["session"])
        return ProxyInput(scheme, ip, port, username, password, cookies, user_agent)

    if not isinstance(data["ip"], str):
        raise ValidationError(
            "ip must be a string", code="invalid_request", details={"field": "ip"}
        )
    ip = data["ip"].strip()
    scheme_given = data.get("scheme")
    prefix = _SCHEME_PREFIX.match(ip)
    if prefix:
        ip = ip[prefix.end() :]
        scheme_given = scheme_given or prefix.group("scheme")
    scheme = clean_scheme(scheme_given)
    return ProxyInput(
        scheme=scheme,
        ip=clean_host(ip),
        port=clean_port(data["port"]),
        username=_optional_text(data, "username"),
        password=_optional_text(data, "password"),
        session=clean_session(data["session"]),
        user_agent=user_agent,
    )


def missing_proxy_fields(data: Mapping[str, Any]) -> list[str]:
    """The keys a pair body lacks (null or blank counts as absent): `session`, and `ip` and
    `port` unless a `url` is given."""
    shape = ("session",) if data.get("url") not in (None, "") else ("ip", "port", "session")
    return [name for name in shape if not _present(data.get(name))]


def parse_proxy_url(url: str) -> tuple[str, str, int, str | None, str | None]:
    """Split `scheme://user:pass@host:port` (the scheme defaults to http)."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port_value = parts.port
    except ValueError:
        raise ValidationError(
            "The proxy URL is not valid: use scheme://user:password@host:port",
            code="invalid_request",
            details={"field": "url"},
        ) from None
    if port_value is None:
        raise ValidationError(
            "The proxy URL has no port: use scheme://user:password@host:port",
            code="invalid_request",
            details={"field": "port", "valid_range": "1-65535"},
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValidationError(
            "The proxy URL must not have a path or query", details={"field": "url"}
        )
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return (
        clean_scheme(parts.scheme),
        clean_host(parts.hostname or ""),
        clean_port(port_value),
        username,
        password,
    )


def clean_scheme(value: object) -> str:
    """`http` (the default), `https` or `socks5` (`socks5h` is read as `socks5`)."""
    if value in (None, ""):
        return "http"
    if not isinstance(value, str):
        raise ValidationError("scheme must be a string", details={"field": "scheme"})
    scheme = value.strip().lower()
    scheme = _SCHEME_ALIASES.get(scheme, scheme)
    if scheme not in PROXY_SCHEMES:
        raise ValidationError(
            f"Unsupported proxy scheme: {value[:20]}",
            code="invalid_request",
            details={"field": "scheme", "valid_range": list(PROXY_SCHEMES)},
        )
    return scheme


def forbidden_proxy_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a pair may not point at `address` (None when it may).

    Link-local addresses (169.254.0.0/16, fe80::/10: cloud metadata services live there),
    multicast and the unspecified address are never a proxy; a pair aimed there would make
    the engine connect somewhere internal.
    """
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "the unspecified address"
    return None


def clean_host(value: str) -> str:
    """A host name or an IPv4/IPv6 address a proxy may have."""
    host = value.strip().strip("[]")
    if not host:
        raise _missing(["ip"])
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        reason = forbidden_proxy_address(address)
        if reason is not None:
            raise ValidationError(
                f"A proxy cannot be {reason}", code="invalid_request", details={"field": "ip"}
            )
        return str(address)
    if len(host) > 255 or not _HOST_RE.match(host):
        raise ValidationError(
            "ip must be a host name or an IP address",
            code="invalid_request",
            details={"field": "ip"},
        )
    return host.lower()


def clean_port(value: object) -> int:
    """A port number 1–65535, given as an integer or a numeric string."""
    port: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        port = value
    elif isinstance(value, float) and value.is_integer():
        port = int(value)
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 6:
        port = int(value.strip())
    echo = value if isinstance(value, int | float | str) and len(str(value)) <= 20 else None
    if port is None:
        raise ValidationError(
            "Port must be a valid integer",
            code="invalid_request",
            details={"port": echo, "field": "port", "valid_range": "1-65535"},
        )
    if not 1 <= port <= 65535:
        raise ValidationError(
            "Port must be between 1 and 65535",
            code="invalid_request",
            details={"port": echo, "field": "port", "valid_range": "1-65535"},
        )
    return port


def clean_session(value: object) -> SessionCookies:
    """The session's cookies from a sessionid, a cookie string or a cookie export (400 if bad)."""
    return parse_session(value)


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _missing(fields: list[str]) -> ValidationError:
    return ValidationError(
        "Missing required fields: " + ", ".join(fields),
        details={"missing_fields": fields, "field": fields[0]},
    )


def _optional_text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 255:
        raise ValidationError(
            f"{name} must be a string of at most 255 characters", details={"field": name}
        )
    return value


# ---------------------------------------------------------------------------------- serialise


def serialize_proxies(
    session: Session, proxies: Sequence[Proxy], *, secrets: SecretBox
) -> list[dict[str, Any]]:
    """Proxy objects (secrets masked) with their sessions, in 2 queries."""
    if not proxies:
        return []
    ids = [p.id for p in proxies]
    sessions: dict[str, list[IgSession]] = {}
    for row in session.scalars(
        select(IgSession).where(IgSession.proxy_id.in_(ids)).order_by(IgSession.created_at)
    ):
        sessions.setdefault(row.proxy_id, []).append(row)
    hour_ago = utcnow() - timedelta(hours=1)
    return [
        proxy_to_dict(
            p,
            sessions.get(p.id, []),
            # The engine writes what the pair really sent in its sliding hour whenever it uses
            # it; a pair idle for an hour has sent nothing in the last hour.
            p.requests_this_hour if p.last_used is not None and p.last_used > hour_ago else 0,
            secrets=secrets,
        )
        for p in proxies
    ]


def proxy_to_dict(
    proxy: Proxy, sessions: Sequence[IgSession], requests_this_hour: int, *, secrets: SecretBox
) -> dict[str, Any]:
    """The proxy object of the API: original fields plus health; secrets masked."""
    total = proxy.total_requests or 0
    failed = proxy.failed_requests or 0
    password = _MASK if proxy.password_encrypted else None
    return {
        "id": proxy.id,
        "ip": proxy.ip,
        "port": proxy.port,
        "scheme": proxy.scheme,
        "username": proxy.username,
        "password": password,
        "url": masked_url(proxy),
        "is_active": bool(proxy.is_active),
        "status": proxy.status,
        "health": proxy.health,
        "cooldown_until": iso(proxy.cooldown_until),
        "error_score": proxy.error_score or 0.0,
        "consecutive_failures": proxy.consecutive_failures or 0,
        "total_requests": total,
        "failed_requests": failed,
        "requests_this_hour": requests_this_hour,
        "learned_hourly_limit": proxy.learned_hourly_limit,
        "error_rate": round(failed / total * 100, 2) if total else 0.0,
        "error_count": proxy.error_count or 0,
        "avg_response_time": proxy.avg_response_time or 0,
        "last_used": iso(proxy.last_used),
        "last_success": iso(proxy.last_success),
        "last_error": proxy.last_error,
        "user_agent": proxy.user_agent,
        # Pair tests (proxies/pairtest.py): untested until a test proves the pair.
        "test_state": pair_test_state(proxy),
        "last_test": last_test(proxy),
        "sessions": [
            {
                "id": s.id,
                "session": _masked_secret(secrets, s.session_encrypted),
                "status": s.status,
                "cookies": _cookie_names(secrets, s),
            }
            for s in sessions
        ],
        "created_at": iso(proxy.created_at),
        "updated_at": iso(proxy.updated_at),
    }


def masked_url(proxy: Proxy) -> str:
    """`scheme://user:…@host:port` — the password never shown."""
    host = f"[{proxy.ip}]" if ":" in proxy.ip else proxy.ip
    credentials = ""
    if proxy.username:
        credentials = proxy.username + (f":{_MASK}" if proxy.password_encrypted else "") + "@"
    elif proxy.password_encrypted:
        credentials = f":{_MASK}@"
    return f"{proxy.scheme}://{credentials}{host}:{proxy.port}"


def _masked_secret(secrets: SecretBox, token: str) -> str:
    try:
        return mask(secrets.decrypt(token)) or _MASK
    except SecretKeyError:
        return _MASK  # a key mismatch must not hide the list; the engine reports it loudly


def _cookie_names(secrets: SecretBox, row: IgSession) -> list[str]:
    """The names (never the values) of the cookies stored for a session."""
    names = {"sessionid"}
    if row.csrftoken_encrypted:
        names.add("csrftoken")
    if row.ds_user_id_encrypted:
        names.add("ds_user_id")
    if row.cookies_encrypted:
        try:
            stored = json.loads(secrets.decrypt(row.cookies_encrypted))
        except (SecretKeyError, ValueError):
            stored = {}
        if isinstance(stored, dict):
            names.update(name for name in stored if name in KEPT_COOKIES)
    return [name for name in KEPT_COOKIES if name in names]


def proxy_payload(session: Session, proxy: Proxy, *, secrets: SecretBox) -> dict[str, Any]:
    """One proxy as the API shows it."""
    return serialize_proxies(session, [proxy], secrets=secrets)[0]


# ---------------------------------------------------------------------------------- commands


def list_proxies(session: Session, *, secrets: SecretBox) -> list[dict[str, Any]]:
    """Every proxy, oldest first."""
    proxies = session.scalars(select(Proxy).order_by(Proxy.created_at, Proxy.id)).all()
    return serialize_proxies(session, proxies, secrets=secrets)


def active_proxy_ids(session: Session) -> list[str]:
    """The ids of the switched-on pairs, oldest first ("Test all")."""
    return list(
        session.scalars(
            select(Proxy.id).where(Proxy.is_active.is_(True)).order_by(Proxy.created_at, Proxy.id)
        )
    )


def get_proxy(session: Session, *, proxy_id: str) -> Proxy:
    """The proxy with this id, or a 404."""
    proxy = session.get(Proxy, proxy_id)
    if proxy is None:
        raise NotFound(f"Proxy {proxy_id[:64]} not found", details={"proxy_id": proxy_id[:64]})
    return proxy


def create_proxy(session: Session, *, pair: ProxyInput, secrets: SecretBox) -> Proxy:
    """Store a proxy and its session (both `active`, health `ready`); duplicates are a 409."""
    digest = secrets.digest(pair.session.sessionid)
    _ensure_session_free(session, digest)
    existing = session.scalar(
        select(Proxy.id).where(Proxy.ip == pair.ip, Proxy.port == pair.port).limit(1)
    )
    if existing is not None:
        raise Conflict(
            "A proxy with this IP and port already exists",
            code="duplicate_proxy",
            details={"ip": pair.ip, "port": pair.port, "proxy_id": existing},
        )
    proxy = Proxy(
        scheme=pair.scheme,
        ip=pair.ip,
        port=pair.port,
        username=pair.username,
        password_encrypted=secrets.encrypt(pair.password) if pair.password else None,
        is_active=True,
        status="active",
        health=PairHealth.READY.value,
        user_agent=pair.user_agent,
    )
    session.add(proxy)
    session.flush()
    row = IgSession(session_digest=digest, status="active", proxy_id=proxy.id)
    store_cookies(row, pair.session, secrets)
    session.add(row)
    session.flush()
    return proxy


def import_proxies(
    session: Session, *, entries: Sequence[tuple[int, str]], secrets: SecretBox
) -> tuple[list[Proxy], list[dict[str, Any]]]:
    """Create a pair per numbered `proxy_url|session` line (a sessionid or a cookie string, from
    `import_lines`); bad or duplicate lines are reported.

    Reported lines are masked (`scheme://user:…@host:port|abcd…wxyz`): they hold secrets.
    """
    created: list[Proxy] = []
    errors: list[dict[str, Any]] = []
    for number, line in entries:
        url, separator, cookie = line.rpartition("|")
        try:
            if not separator:
                raise ValidationError("Expected proxy_url|sessionid")
            scheme, ip, port, username, password = parse_proxy_url(url)
            pair = ProxyInput(scheme, ip, port, username, password, clean_session(cookie))
            with session.begin_nested():
                created.append(create_proxy(session, pair=pair, secrets=secrets))
        except (ValidationError, Conflict) as exc:
            errors.append(
                {
                    "line": _masked_line(url, cookie, separator),
                    "line_number": number,
                    "error": exc.message,
                }
            )
    return created, errors


def import_lines(lines: object) -> list[tuple[int, str]]:
    """The numbered proxy lines of an import (text or a list; blank and `#` lines left out)."""
    if isinstance(lines, list) and all(isinstance(line, str) for line in lines):
        raw = list(lines)
    elif isinstance(lines, str):
        raw = re.split(r"\r\n|\r|\n", lines)
    else:
        raise ValidationError(
            "lines is required: text with one proxy_url|sessionid per line",
            details={"field": "lines"},
        )
    entries = [(n, s) for n, line in enumerate(raw, start=1) if (s := line.strip())]
    entries = [(n, s) for n, s in entries if not s.startswith("#")]
    if not entries:
        raise ValidationError("lines contains no proxies", details={"field": "lines"})
    if len(entries) > IMPORT_MAX_LINES:
        raise ValidationError(
            f"At most {IMPORT_MAX_LINES} proxies can be imported at once",
            details={"field": "lines", "valid_range": f"1-{IMPORT_MAX_LINES} lines"},
        )
    return entries


def _masked_line(url: str, cookie: str, separator: str) -> str:
    if not separator:
        return mask(cookie.strip()) or _MASK  # no "|": the line may be a bare cookie
    try:
        scheme, ip, port, username, password = parse_proxy_url(url)
        credentials = (username or "") + (f":{_MASK}" if password else "")
        shown_url = f"{scheme}://{credentials + '@' if credentials else ''}{ip}:{port}"
    except ValidationError:
        # Unparseable: show the host only; anything after it may be a password.
        rest = url.strip().split("://", 1)[-1].rsplit("@", 1)[-1]
        host, colon, _ = rest.partition(":")
        shown_url = host[:80] + (f":{_MASK}" if colon else "")
    return f"{shown_url}|{mask(cookie.strip()) or _MASK}"


def set_status(session: Session, *, proxy_id: str, status: str) -> Proxy:
    """Switch a pair on (`active`) or off (`disabled`, `rate_limited`); health follows.

    `status` is one of `PROXY_STATUSES` (the route checks it with `ProxyStatusChange`)."""
    proxy = get_proxy(session, proxy_id=proxy_id)
    proxy.status = status
    proxy.is_active = status == "active"
    if status == "disabled":
        proxy.health = PairHealth.DISABLED.value
    elif status == "active" and proxy.health == PairHealth.DISABLED.value:
        proxy.health = PairHealth.READY.value
        proxy.cooldown_until = None
        proxy.consecutive_failures = 0
    session.flush()
    return proxy


def replace_session(
    session: Session,
    *,
    proxy_id: str,
    cookie: SessionCookies,
    secrets: SecretBox,
    user_agent: str | None | object = ...,
) -> Proxy:
    """Give a pair a new Instagram session (and, when given, a user agent); the pair is
    `ready` again (unless switched off) and untested. The old www-claim goes with the old
    session."""
    proxy = get_proxy(session, proxy_id=proxy_id)
    digest = secrets.digest(cookie.sessionid)
    _ensure_session_free(session, digest, exclude_proxy_id=proxy.id)
    row = session.scalar(select(IgSession).where(IgSession.proxy_id == proxy.id))
    if row is None:
        row = IgSession(proxy_id=proxy.id)
        session.add(row)
    row.session_digest = digest
    store_cookies(row, cookie, secrets)
    row.www_claim_encrypted = None
    row.status = "active"
    if user_agent is not ...:
        proxy.user_agent = user_agent if isinstance(user_agent, str) else None
    forget_test(proxy)
    if proxy.status != "disabled":
        proxy.health = PairHealth.READY.value
        proxy.cooldown_until = None
        proxy.consecutive_failures = 0
        proxy.error_score = 0.0
    proxy.updated_at = utcnow()
    session.flush()
    return proxy


def set_user_agent(session: Session, *, proxy_id: str, user_agent: str | None) -> Proxy:
    """Set the browser a pair claims to be (None: the default desktop Chrome); a changed
    one makes the pair untested again."""
    proxy = get_proxy(session, proxy_id=proxy_id)
    if user_agent != proxy.user_agent:
        forget_test(proxy)
    proxy.user_agent = user_agent
    proxy.updated_at = utcnow()
    session.flush()
    return proxy


def delete_proxy(session: Session, *, proxy_id: str) -> None:
    """Delete a pair; its session, usage and error log go with it, history keeps a null link."""
    get_proxy(session, proxy_id=proxy_id)
    session.execute(delete(IgSession).where(IgSession.proxy_id == proxy_id))
    session.execute(
        delete(Proxy).where(Proxy.id == proxy_id).execution_options(synchronize_session=False)
    )


def error_logs(session: Session, *, proxy_id: str, limit: int, offset: int) -> dict[str, Any]:
    """A page of a pair's error log, newest first."""
    if session.get(Proxy, proxy_id) is None:
        raise NotFound("Proxy not found", details={"proxy_id": proxy_id[:64]})
    where = ProxyErrorLog.proxy_id == proxy_id
    total = session.scalar(select(func.count()).select_from(ProxyErrorLog).where(where)) or 0
    logs = session.scalars(
        select(ProxyErrorLog)
        .where(where)
        .order_by(ProxyErrorLog.timestamp.desc(), ProxyErrorLog.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return {
        "logs": [
            {
                "id": log.id,
                "proxy_id": log.proxy_id,
                "session_id": log.session_id,
                "timestamp": iso(log.timestamp),
                "error_message": log.error_message,
                "state_change": bool(log.state_change),
                "transition_reason": log.transition_reason,
                "recovery_time": iso(log.recovery_time),
            }
            for log in logs
        ],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


def _ensure_session_free(
    session: Session, digest: str, *, exclude_proxy_id: str | None = None
) -> None:
    query = select(IgSession.proxy_id).where(IgSession.session_digest == digest)
    if exclude_proxy_id is not None:
        query = query.where(IgSession.proxy_id != exclude_proxy_id)
    if session.scalar(query.limit(1)) is not None:
        raise Conflict(
            "This session is already in use",
            code="duplicate_session",
            details={"field": "session"},
        )
