"""What a user may paste as a pair's Instagram session, read into the browser's cookie set.

Accepted (docs/API.md "Session formats"):

* a bare `sessionid` value;
* a cookie string as a browser sends it: `sessionid=…; csrftoken=…; ds_user_id=…; mid=…`
  (a leading `Cookie:` is ignored);
* a browser cookie export in JSON: a list of `{"name", "value", "domain", …}` objects as
  extensions export them (or an object with such a list under `cookies`);
* a Netscape `cookies.txt` (tab-separated, `#HttpOnly_` prefixes allowed).

Only Instagram's cookies of a logged-in browser are kept (sessionid, csrftoken, ds_user_id,
mid, ig_did, rur). Errors name the problem and never echo the input: it is a secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from storycheck.errors import ValidationError, reject_control_characters

SESSION_MAX_LENGTH = 4096
INPUT_MAX_LENGTH = 256 * 1024  # a whole browser export may hold many other sites' cookies
USER_AGENT_MAX_LENGTH = 500
KEPT_COOKIES = ("sessionid", "csrftoken", "ds_user_id", "mid", "ig_did", "rur")
OTHER_COOKIES = ("mid", "ig_did", "rur")  # stored together, encrypted, as JSON


@dataclass(frozen=True, repr=False)
class SessionCookies:
    """The cookies of one Instagram web session; every value is a secret."""

    sessionid: str
    csrftoken: str | None = None
    ds_user_id: str | None = None
    others: Mapping[str, str] = field(default_factory=dict)  # mid, ig_did, rur

    def __repr__(self) -> str:
        return f"SessionCookies(names={self.names()})"

    __str__ = __repr__

    def names(self) -> list[str]:
        """The cookie names present, in the browser's usual order (not secret)."""
        present = {"sessionid", *self.others}
        if self.csrftoken:
            present.add("csrftoken")
        if self.ds_user_id:
            present.add("ds_user_id")
        return [name for name in KEPT_COOKIES if name in present]


def parse_session(value: object) -> SessionCookies:
    """Read a pasted session in any accepted format; a 400 with a clear reason otherwise."""
    if isinstance(value, list):
        return _from_pairs(_json_export(value), "the cookie export")
    if not isinstance(value, str):
        raise _invalid(
            "session must be text: a sessionid, a cookie string, or a cookie export "
            "(JSON or cookies.txt)"
        )
    text = value.strip()
    if not text:
        raise _missing()
    if len(text) > INPUT_MAX_LENGTH:
        raise _invalid(f"session is longer than {INPUT_MAX_LENGTH} characters")
    if text[0] in "[{":
        try:
            data = json.loads(text)
        except ValueError:
            raise _invalid("session looks like JSON but is not a valid cookie export") from None
        return _from_pairs(_json_export(data), "the cookie export")
    if "\t" in text or text.startswith("# Netscape") or text.startswith("# HTTP Cookie"):
        return _from_pairs(_netscape(text), "the cookies.txt")
    if text.lower().startswith("cookie:"):
        text = text[len("cookie:") :].strip()
    if "=" in text:
        return _from_pairs(_cookie_string(text), "the cookie string")
    return _from_pairs([("sessionid", text)], "the session")


def clean_user_agent(value: object) -> str | None:
    """A pair's user agent: printable text of at most 500 characters; empty/None = default."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValidationError("user_agent must be a string", details={"field": "user_agent"})
    text = reject_control_characters(value, "user_agent").strip()
    if len(text) > USER_AGENT_MAX_LENGTH or not text.isprintable() or not text.isascii():
        raise ValidationError(
            f"user_agent must be printable ASCII of at most {USER_AGENT_MAX_LENGTH} characters",
            details={"field": "user_agent"},
        )
    return text


def ds_user_id_of(sessionid: str) -> str | None:
    """The account id at the start of a sessionid cookie (`<id>%3A…` or `<id>:…`)."""
    head = unquote(sessionid).split(":", 1)[0]
    return head if head.isdigit() and len(head) <= 64 else None


# ---------------------------------------------------------------------------------- formats


def _cookie_string(text: str) -> list[tuple[str, str]]:
    pairs = []
    for part in text.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            pairs.append((name.strip(), value.strip()))  # quotes belong to the value
    return pairs


def _json_export(data: Any) -> list[tuple[str, str]]:
    if isinstance(data, Mapping) and isinstance(data.get("cookies"), list):
        data = data["cookies"]
    if isinstance(data, Mapping):
        # A plain {"sessionid": "…", "csrftoken": "…"} object.
        return [(str(k), v) for k, v in data.items() if isinstance(v, str)]
    if not isinstance(data, list):
        raise _invalid("a JSON cookie export must be a list of {name, value, domain} objects")
    pairs = []
    for entry in data:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise _invalid("a JSON cookie export must be a list of {name, value, domain} objects")
        if _foreign(entry.get("domain")):
            continue
        value = entry.get("value")
        if isinstance(value, str):
            pairs.append((entry["name"], value))
    return pairs


def _netscape(text: str) -> list[tuple[str, str]]:
    pairs = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip(" \r\n")
        if line.startswith("#HttpOnly_"):
            line = line[len("#HttpOnly_") :]
        elif not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 7:
            raise _invalid(
                f"cookies.txt line {number} does not have the 7 tab-separated fields "
                "(domain, flag, path, secure, expiry, name, value)"
            )
        if _foreign(fields[0]):
            continue
        pairs.append((fields[5].strip(), fields[6].strip()))
    return pairs


def _foreign(domain: object) -> bool:
    """True for a cookie of another site (an export holds every site's cookies)."""
    if not isinstance(domain, str) or not domain.strip():
        return False
    host = domain.strip().lstrip(".").lower()
    return host != "instagram.com" and not host.endswith(".instagram.com")


def _from_pairs(pairs: list[tuple[str, str]], source: str) -> SessionCookies:
    found: dict[str, str] = {}
    for name, value in pairs:
        if name in KEPT_COOKIES and value:
            if len(value) > SESSION_MAX_LENGTH or any(c.isspace() or c in ";," for c in value):
                raise _invalid(f"the {name} cookie in {source} is not a valid cookie value")
            found[name] = value
    sessionid = found.get("sessionid")
    if not sessionid:
        raise _invalid(f"{source} has no Instagram sessionid cookie")
    ds_user_id = found.get("ds_user_id")
    if not (ds_user_id and ds_user_id.isdigit() and len(ds_user_id) <= 64):
        ds_user_id = ds_user_id_of(sessionid)
    return SessionCookies(
        sessionid=sessionid,
        csrftoken=found.get("csrftoken"),
        ds_user_id=ds_user_id,
        others={name: found[name] for name in OTHER_COOKIES if name in found},
    )


def _missing() -> ValidationError:
    return ValidationError(
        "Missing required fields: session",
        details={"missing_fields": ["session"], "field": "session"},
    )


def _invalid(message: str) -> ValidationError:
    return ValidationError(message, details={"field": "session"})
