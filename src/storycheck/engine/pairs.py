"""The engine's view of one proxy + session pair: identity, health, and whether it may be used."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from storycheck.crypto import SecretBox, SecretKeyError
from storycheck.engine.client import PairIdentity, proxy_url
from storycheck.engine.health import DISABLED, PairHealthState
from storycheck.engine.recorder import PairRow


@dataclass
class Pair:
    """One pair at run time. Secrets live only inside `identity` (never logged)."""

    proxy_id: str
    row: PairRow
    identity: PairIdentity | None
    health: PairHealthState
    busy: bool = False
    last_start: float = -math.inf
    problem: str | None = None  # why it cannot be used, for logs (no secret)
    batches: set[str] = field(default_factory=set)  # batches it has served (PAIR_ASSIGNED)

    @property
    def label(self) -> str:
        """`scheme://host:port`, safe to show."""
        return self.health.label

    @property
    def enabled(self) -> bool:
        """True when the user lets the engine use this pair (proxy and session active)."""
        row = self.row
        return (
            self.identity is not None
            and row.is_active
            and row.session_id is not None
            and row.session_status == "active"
            and self.health.health != DISABLED
        )


def identity_fields(row: PairRow) -> tuple[object, ...]:
    """What, when changed, means the pair talks differently (new client needed)."""
    return (
        row.scheme,
        row.ip,
        row.port,
        row.username,
        row.password_encrypted,
        row.session_id,
        row.session_encrypted,
        row.csrftoken_encrypted,
        row.ds_user_id_encrypted,
        row.cookies_encrypted,
        row.www_claim_encrypted,
        row.user_agent,
    )


def label_of(row: PairRow) -> str:
    """`scheme://host:port` of a stored proxy."""
    host = _host(row.ip)
    return f"{row.scheme}://{host}:{row.port}"


def build_identity(row: PairRow, secrets: SecretBox) -> tuple[PairIdentity | None, str | None]:
    """Decrypt a pair's secrets into an identity, or say (without secrets) why it cannot be."""
    if row.session_id is None or not row.session_encrypted:
        return None, "no session"
    try:
        sessionid = secrets.decrypt(row.session_encrypted)
        csrftoken = secrets.decrypt(row.csrftoken_encrypted) if row.csrftoken_encrypted else None
        password = secrets.decrypt(row.password_encrypted) if row.password_encrypted else None
        cookies = _cookies(secrets.decrypt(row.cookies_encrypted)) if row.cookies_encrypted else ()
        claim = secrets.decrypt(row.www_claim_encrypted) if row.www_claim_encrypted else None
        account = secrets.decrypt(row.ds_user_id_encrypted) if row.ds_user_id_encrypted else None
    except SecretKeyError:
        return None, "stored secrets cannot be decrypted with the configured key"
    url = proxy_url(row.scheme or "http", _host(row.ip), row.port, row.username, password)
    return (
        PairIdentity(
            proxy_id=row.proxy_id,
            session_id=row.session_id,
            label=label_of(row),
            proxy_url=url,
            sessionid=sessionid,
            csrftoken=csrftoken,
            ds_user_id=account,
            cookies=cookies,
            www_claim=claim,
            user_agent=row.user_agent or None,
        ),
        None,
    )


def _cookies(text: str) -> tuple[tuple[str, str], ...]:
    """The stored `{name: value}` JSON of the browser's other cookies (bad JSON: none)."""
    try:
        values = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(values, dict):
        return ()
    return tuple(
        (str(name), str(value))
        for name, value in sorted(values.items())
        if isinstance(value, str) and value and name not in ("sessionid", "csrftoken")
    )


def _host(ip: str) -> str:
    host = ip.strip()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.rstrip("/")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return host
