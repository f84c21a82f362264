"""What every request passes before a view, and what every answer carries (issue 15).

* **Host allow-list** on a loopback-bound server (`localhost`, `127.0.0.1`, `[::1]` and
  `STORYCHECK_ALLOWED_HOSTS`): a page on another name that resolves to 127.0.0.1 (DNS
  rebinding) gets 421 and never reaches the API.
* **No cross-site writes**: a request that changes state and carries an `Origin` must come
  from this server's own origin or `STORYCHECK_CORS_ORIGINS` (403 otherwise), so an HTML form or
  a `no-cors` fetch from another site changes nothing. JSON routes also refuse bodies that are
  not `application/json` (415): a form post can never pass for JSON.
* **API token** (when set): `Authorization: Bearer …`; wrong guesses are throttled per address.
* **Bodies**: the size limit holds for chunked uploads too (413, nothing read past the limit).
* **Headers**: no framing, a content security policy for the web client, `nosniff`,
  `no-referrer`.
"""

from __future__ import annotations

import hmac
import io
import threading
import time
from collections import defaultdict, deque
from urllib.parse import urlsplit

from flask import Flask, Response, request

from storycheck.config import Config, is_loopback
from storycheck.web.errors import error_response

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Routes whose body is an upload (multipart or text), not JSON.
UPLOAD_SUFFIX = "/import"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class TokenThrottle:
    """Counts wrong API tokens per client address in a sliding window."""

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked_for(self, address: str, now: float) -> float:
        """Seconds this address must wait before its next try (0 when it may try now)."""
        with self._lock:
            failures = self._trim(address, now)
            if len(failures) < self.limit:
                return 0.0
            return max(0.0, failures[0] + self.window - now)

    def failed(self, address: str, now: float) -> None:
        """Record one wrong token from `address`."""
        with self._lock:
            self._trim(address, now).append(now)

    def _trim(self, address: str, now: float) -> deque[float]:
        failures = self._failures[address]
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            self._failures.pop(address, None)
            failures = self._failures[address]
        return failures


def host_name(host_header: str) -> str:
    """The name part of a Host header (`[::1]:5000` → `::1`, `Localhost:80` → `localhost`)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def register_security(app: Flask, config: Config) -> None:
    """Install the request checks and answer headers above on `app`."""
    allowed_hosts = {h.lower() for h in config.allowed_hosts}
    check_hosts = is_loopback(config.host) or bool(allowed_hosts)
    allowed_hosts |= LOOPBACK_NAMES if is_loopback(config.host) else set()
    trusted_origins = {o.rstrip("/").lower() for o in config.cors_origins}
    throttle = TokenThrottle()

    @app.before_request
    def _check_request() -> Response | None:
        if check_hosts and host_name(request.host) not in allowed_hosts:
            return error_response(
                421,
                "host_not_allowed",
                f"Host {request.host[:100]!r} is not served here; add it to "
                "STORYCHECK_ALLOWED_HOSTS",
            )
        if request.method in STATE_CHANGING:
            refused = _cross_site(trusted_origins) or _wrong_media_type()
            if refused is not None:
                return refused
        if config.api_token is not None:
            refused = _check_token(config.api_token, throttle)
            if refused is not None:
                return refused
        if request.method in STATE_CHANGING:
            return _bound_chunked_body(config.max_content_length)
        return None

    @app.after_request
    def _add_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def _cross_site(trusted_origins: set[str]) -> Response | None:
    origin = request.headers.get("Origin")
    if origin is None:
        return None  # not a browser's cross-origin request (curl, the CLI, same-origin GET)
    own = f"{request.scheme}://{request.host}".lower()
    normalized = origin.rstrip("/").lower()
    if normalized == own or normalized in trusted_origins:
        return None
    parts = urlsplit(normalized)
    if parts.scheme in ("http", "https") and normalized == f"{parts.scheme}://{request.host}":
        return None
    return error_response(
        403,
        "cross_origin",
        f"Requests that change data must come from this server's own pages or an origin in "
        f"STORYCHECK_CORS_ORIGINS (got {origin[:100]!r})",
    )


def _wrong_media_type() -> Response | None:
    if not request.path.startswith("/api/") or request.path.endswith(UPLOAD_SUFFIX):
        return None
    has_body = (request.content_length or 0) > 0 or "chunked" in request.headers.get(
        "Transfer-Encoding", ""
    ).lower()
    if not has_body or request.mimetype == "application/json":
        return None
    return error_response(
        415,
        "unsupported_media_type",
        "Send the request body as JSON with Content-Type: application/json",
    )


def _check_token(token: str, throttle: TokenThrottle) -> Response | None:
    if request.method == "OPTIONS":
        return None
    if not request.path.startswith("/api/") or request.path == "/api/health":
        return None
    header = request.headers.get("Authorization", "")
    supplied = header[7:].strip() if header.lower().startswith("bearer ") else ""
    # Browsers cannot set headers on EventSource; the SSE stream may pass the token as a query.
    if not supplied and request.path == "/api/events":
        supplied = request.args.get("token", "")
    address = request.remote_addr or "unknown"
    now = time.monotonic()
    wait = throttle.blocked_for(address, now)
    if wait > 0:
        response = error_response(
            429, "too_many_attempts", "Too many wrong API tokens from this address; wait a minute"
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    if supplied and hmac.compare_digest(supplied.encode(), token.encode()):
        return None
    throttle.failed(address, now)
    response = error_response(
        401, "unauthorized", "A valid API token is required (Authorization: Bearer <token>)"
    )
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _bound_chunked_body(limit: int) -> Response | None:
    """Read a chunked body up to `limit` bytes now; over it → 413 and nothing is imported.

    Werkzeug would otherwise cut a chunked body at the limit without a word (the import
    route then saw a truncated last line). Bodies with a Content-Length are refused by
    Werkzeug (and by waitress) before the view runs.
    """
    environ = request.environ
    if (
        environ.get("CONTENT_LENGTH")
        or "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    ):
        return None
    stream = environ["wsgi.input"]
    data = bytearray()
    while len(data) <= limit:
        chunk = stream.read(min(1 << 16, limit + 1 - len(data)))
        if not chunk:
            break
        data += chunk
    if len(data) > limit:
        return error_response(
            413,
            "payload_too_large",
            f"The request body is larger than {limit} bytes (STORYCHECK_MAX_BODY_BYTES)",
        )
    environ["wsgi.input"] = io.BytesIO(bytes(data))
    environ["CONTENT_LENGTH"] = str(len(data))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["wsgi.input_terminated"] = False
    return None
