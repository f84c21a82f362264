"""`storycheck serve`: the application behind a production WSGI server (waitress).

Why waitress (docs/DESIGN-NOTES.md has the measurements): it runs in this process, so the
in-process engine and the maintenance thread live beside the web app exactly as in
development; it reads requests in its event loop and hands a worker thread only complete
requests, so slow or half-sent requests cost no thread and are dropped after
`channel_timeout`; it enforces the body limit on chunked uploads too (413 before the app sees
a byte); it flushes every chunk at once (Server-Sent Events) and pauses a response's iterator
when a slow reader lets output pile up. gunicorn would fork away from the engine's threads.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import signal
import threading
from dataclasses import dataclass
from typing import Any

from storycheck.config import Config, is_loopback

log = logging.getLogger("storycheck")


@dataclass(frozen=True)
class ServerLimits:
    """Connection limits of the WSGI server; every long-lived stream holds one thread."""

    threads: int = 48
    connection_limit: int = 200
    channel_timeout: int = 60  # seconds an idle or half-sent connection may stay open
    cleanup_interval: int = 10
    # Output buffered for one slow client before its response pauses (not 16 MiB × clients).
    outbuf_high_watermark: int = 1 << 20


class BindRefused(Exception):
    """The configuration does not allow serving on the requested address."""


MIN_TOKEN_LENGTH = 32


def check_binding(config: Config, host: str) -> None:
    """Refuse to serve beyond this machine without a strong API token."""
    if is_loopback(host):
        return
    if not config.api_token:
        raise BindRefused(
            f"Refusing to bind {host}: set STORYCHECK_API_TOKEN to serve beyond this machine"
        )
    if len(config.api_token) < MIN_TOKEN_LENGTH:
        raise BindRefused(
            f"Refusing to bind {host}: STORYCHECK_API_TOKEN must be at least "
            f"{MIN_TOKEN_LENGTH} characters (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`)"
        )


def run_server(
    config: Config,
    *,
    host: str,
    port: int,
    ready: threading.Event | None = None,
    limits: ServerLimits | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; then stop claiming work and exit within seconds."""
    from waitress.server import create_server

    from storycheck.app import create_app, shutdown

    check_binding(config, host)
    limits = limits or ServerLimits()
    # The app checks Host headers against the address it really serves on.
    app = create_app(dataclasses.replace(config, host=host))
    server: Any = create_server(
        app,
        host=host,
        port=port,
        threads=limits.threads,
        connection_limit=limits.connection_limit,
        channel_timeout=limits.channel_timeout,
        cleanup_interval=limits.cleanup_interval,
        outbuf_high_watermark=limits.outbuf_high_watermark,
        max_request_body_size=config.max_content_length,
        ident="storycheck",
        clear_untrusted_proxy_headers=True,
    )
    stopping = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        if stopping.is_set():
            return
        stopping.set()
        log.info("Signal %s: shutting down", signum)
        app.extensions["storycheck"].stopping.set()  # event streams end at once
        # Raised in the main thread, which runs waitress's event loop: the loop ends there
        # (waitress treats SystemExit as "stop") and closes in the same thread, never racing
        # its own select() from another thread.
        raise SystemExit(0)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        # What exists now (modules, the app, SQLAlchemy's metadata) lives as long as the
        # process: frozen out of the cyclic collector's way, its full collections no longer walk
        # it (GET /api/batches with 1,000 batches: slowest of 15 calls 160-190 ms -> ~75 ms).
        gc.collect()
        gc.freeze()
    bound = getattr(server, "effective_port", port)  # several sockets when host is a name
    log.info("storycheck listening on http://%s:%s", host, bound)
    if ready is not None:
        ready.set()
    try:
        server.run()
    finally:
        app.extensions["storycheck"].stopping.set()
        server.close()
        shutdown(app)
        log.info("storycheck stopped")
