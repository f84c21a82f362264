"""What the simulator sees of a web client, and the headers Instagram gives it back.

Per session it keeps the last request's non-secret header facts (for
`GET /__sim__/sessions/{id}/last_request`), sends the `x-ig-set-www-claim` a web client
must echo in `X-IG-WWW-Claim`, and rotates the `csrftoken` and `rur` cookies through
Set-Cookie every N requests, as Instagram does. Cookies are host-only and without `Secure`
because the simulator serves plain HTTP on loopback (Instagram scopes them to
`.instagram.com` over HTTPS).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from aiohttp import web

from storycheck.simulator.sessions import token

# Header values that identify the client but grant nothing; cookies and tokens stay out.
RECORDED_HEADERS = (
    "user-agent",
    "accept",
    "accept-language",
    "referer",
    "origin",
    "content-type",
    "x-ig-app-id",
    "x-asbd-id",
    "x-requested-with",
    "x-ig-www-claim",
    "x-instagram-ajax",
    "x-fb-friendly-name",
    "sec-fetch-dest",
    "sec-fetch-mode",
    "sec-fetch-site",
    "sec-ch-ua",
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
)
COOKIE_MAX_AGE = 31_449_600  # one year, as Instagram sets csrftoken
_CHROME_RE = re.compile(r"\bChrome/(\d+)\.")


def chrome_major(user_agent: str) -> int | None:
    """Return the Chrome major version of a user agent, or None when it is not Chrome."""
    match = _CHROME_RE.search(user_agent)
    return int(match.group(1)) if match else None


@dataclass
class _Client:
    """One session's web-client state."""

    requests: int = 0
    sent_generation: int = -1
    last_request: dict[str, Any] | None = None
    claim: tuple[int, str] | None = None  # (generation, value): computed once per rotation


class WebClients:
    """Header facts and rotating cookies per session."""

    def __init__(self, rotation_every: int) -> None:
        """Rotate cookies every `rotation_every` requests of a session (0 = never)."""
        self.rotation_every = rotation_every
        self._clients: dict[str, _Client] = {}

    def _client(self, session: str) -> _Client:
        """Return (creating) the state of `session`."""
        client = self._clients.get(session)
        if client is None:
            client = self._clients[session] = _Client()
        return client

    def _generation(self, client: _Client) -> int:
        """Return which rotation of cookies and claim the session is on."""
        return client.requests // self.rotation_every if self.rotation_every else 0

    def claim(self, session: str) -> str:
        """Return the www-claim the session was given most recently."""
        client = self._client(session)
        generation = self._generation(client)
        if client.claim is None or client.claim[0] != generation:
            value = f"hmac.AR{token(f'claim|{session}|{generation}'.encode(), 40)}"
            client.claim = (generation, value)
        return client.claim[1]

    def observe(self, session: str, request: web.Request, endpoint: str, now: float) -> None:
        """Record the non-secret facts of a request `session` sent."""
        client = self._client(session)
        headers = {
            name: request.headers[name] for name in RECORDED_HEADERS if name in request.headers
        }
        csrf_header = request.headers.get("X-CSRFToken")
        csrf_cookie = request.cookies.get("csrftoken")
        www_claim = request.headers.get("X-IG-WWW-Claim")
        client.last_request = {
            "at": now,
            "method": request.method,
            "endpoint": endpoint,
            "headers": headers,
            "cookie_names": sorted(request.cookies),
            "csrf_matches": bool(csrf_header) and csrf_header == csrf_cookie,
            "www_claim": www_claim,
            "www_claim_current": client.sent_generation >= 0 and www_claim == self.claim(session),
        }

    def last_request(self, session: str) -> dict[str, Any] | None:
        """Return the facts of the session's last request, or None if it sent none."""
        client = self._clients.get(session)
        return None if client is None else client.last_request

    def answer_headers(
        self, session: str, request: web.Request, now: float
    ) -> tuple[tuple[str, str], ...]:
        """Count one answered request; return the www-claim and any Set-Cookie to send."""
        client = self._client(session)
        client.requests += 1
        generation = self._generation(client)
        headers = [("x-ig-set-www-claim", self.claim(session))]
        if generation != client.sent_generation or "csrftoken" not in request.cookies:
            client.sent_generation = generation
            expires = formatdate(now + COOKIE_MAX_AGE, usegmt=True)
            csrf = token(f"csrf|{session}|{generation}".encode(), 32)
            user = session.split("%3A", 1)[0].split(":", 1)[0]
            signature = hashlib.blake2b(csrf.encode(), digest_size=30).hexdigest()
            rur = f'"CLN\\054{user}\\054{int(now) + COOKIE_MAX_AGE}:01f7{signature}"'
            headers.append(
                (
                    "Set-Cookie",
                    f"csrftoken={csrf}; expires={expires}; Max-Age={COOKIE_MAX_AGE}; Path=/",
                )
            )
            headers.append(("Set-Cookie", f"rur={rur}; HttpOnly; Path=/; SameSite=Lax"))
        return tuple(headers)

    def reset(self) -> None:
        """Forget every session's counters and records."""
        self._clients.clear()
