"""Logging for every storycheck process, with secrets redacted on the way out.

`configure_logging` sets the format and levels once per process and puts a `RedactingFilter`
on the root handlers: every record, from any library, has each known secret (session cookies,
proxy passwords, decrypted by `SecretBox` and registered with `remember_secret`) and any URL
userinfo (`scheme://user:pass@host`) replaced by `***` before it is written. `httpcore` — whose
SOCKS code logs the proxy credentials at debug level — stays at WARNING even with `-v`.
"""

from __future__ import annotations

import logging
import re
import threading

_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_MIN_SECRET_LENGTH = 4
_QUIET_LOGGERS = {
    "werkzeug": logging.WARNING,
    "waitress": logging.WARNING,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "alembic": logging.WARNING,
    "hpack": logging.WARNING,
}

_secrets: set[str] = set()
_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Register a secret so that no log line ever shows it."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        from urllib.parse import quote, unquote

        with _lock:
            _secrets.update({value, unquote(value), quote(value, safe="")})


def redact(text: str) -> str:
    """`text` with every registered secret and any URL userinfo replaced by `***`."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return _USERINFO.sub("***@", text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with `redact` (arguments folded in first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; never drops it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def configure_logging(verbose: bool = False) -> None:
    """Set up the root logger for a storycheck process (idempotent)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=logging.DEBUG if verbose else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    elif verbose:
        root.setLevel(logging.DEBUG)
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    for name, level in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
