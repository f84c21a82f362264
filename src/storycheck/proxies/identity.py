"""Writing a pair's session identity: the cookies a user pasted, and what Instagram rotates.

The engine keeps every cookie Instagram sets (csrftoken, rur, a refreshed sessionid…) and the
`x-ig-set-www-claim` value; `save_rotated` writes them back in one short transaction, only
the fields whose value changed (re-encrypting an unchanged secret would look like a change:
Fernet tokens differ each time). Every value is encrypted with the pair's other secrets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from sqlalchemy import select

from storycheck.crypto import SecretBox
from storycheck.db import Database, utcnow
from storycheck.engine.client import RotatedState
from storycheck.proxies.models import IgSession
from storycheck.proxies.sessions import OTHER_COOKIES, SessionCookies, ds_user_id_of


def store_cookies(row: IgSession, cookies: SessionCookies, secrets: SecretBox) -> None:
    """Put a pasted session's cookies on its row, encrypted (the digest is the caller's)."""
    row.session_encrypted = secrets.encrypt(cookies.sessionid)
    row.csrftoken_encrypted = secrets.encrypt(cookies.csrftoken) if cookies.csrftoken else None
    row.ds_user_id_encrypted = secrets.encrypt(cookies.ds_user_id) if cookies.ds_user_id else None
    row.cookies_encrypted = _encrypt_others(cookies.others, secrets)


def save_rotated(db: Database, secrets: SecretBox, session_id: str, state: RotatedState) -> bool:
    """Persist what Instagram rotated for one session; True when a field was written.

    A refreshed sessionid that another pair already holds is not written (the digest is
    unique); the engine keeps using it in memory until the pair is reloaded.
    """
    with db.write() as session:
        row = session.get(IgSession, session_id)
        if row is None:
            return False
        changed = False
        sessionid = state.cookies.get("sessionid")
        if sessionid and sessionid != secrets.decrypt(row.session_encrypted):
            digest = secrets.digest(sessionid)
            taken = session.scalar(
                select(IgSession.id).where(
                    IgSession.session_digest == digest, IgSession.id != row.id
                )
            )
            if taken is None:
                row.session_encrypted = secrets.encrypt(sessionid)
                row.session_digest = digest
                account = ds_user_id_of(sessionid)
                if row.ds_user_id_encrypted is None and account:
                    row.ds_user_id_encrypted = secrets.encrypt(account)
                changed = True
        csrftoken = state.cookies.get("csrftoken")
        if csrftoken and csrftoken != _decrypt(secrets, row.csrftoken_encrypted):
            row.csrftoken_encrypted = secrets.encrypt(csrftoken)
            changed = True
        others = {name: state.cookies[name] for name in OTHER_COOKIES if state.cookies.get(name)}
        if others and others != _stored_others(secrets, row.cookies_encrypted):
            row.cookies_encrypted = _encrypt_others(others, secrets)
            changed = True
        if state.www_claim and state.www_claim != _decrypt(secrets, row.www_claim_encrypted):
            row.www_claim_encrypted = secrets.encrypt(state.www_claim)
            changed = True
        if changed:
            row.updated_at = utcnow()
        return changed


def rotation_saver(db: Database, secrets: SecretBox) -> Callable[[str, RotatedState], None]:
    """`save_rotated` bound to a database and key, as `InstagramChecker(save_rotated=…)`."""

    def save(session_id: str, state: RotatedState) -> None:
        save_rotated(db, secrets, session_id, state)

    return save


def _encrypt_others(others: Mapping[str, str], secrets: SecretBox) -> str | None:
    kept = {name: others[name] for name in OTHER_COOKIES if others.get(name)}
    return secrets.encrypt(json.dumps(kept, sort_keys=True)) if kept else None


def _stored_others(secrets: SecretBox, token: str | None) -> dict[str, str]:
    text = _decrypt(secrets, token)
    try:
        stored = json.loads(text) if text else {}
    except ValueError:
        return {}
    return stored if isinstance(stored, dict) else {}


def _decrypt(secrets: SecretBox, token: str | None) -> str | None:
    return secrets.decrypt(token) if token else None
