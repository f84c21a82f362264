"""A page from another origin cannot change anything on the local server (issue 15).

The attack page is served from another loopback origin (another port). In real Chromium it
posts an HTML form with `enctype=text/plain` shaped as JSON and sends `no-cors` fetches, the
two ways a page can write to a server without a CORS preflight. The server must refuse both.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.helpers import free_port

pytestmark = pytest.mark.browser

ATTACK_PAGE = """<!doctype html>
<html><body>
<form id="f" method="POST" enctype="text/plain" action="{base}/api/niches">
  <input type="hidden" name='{{"name":"csrf-form","x":"' value='"}}'>
</form>
<script>
  const body = JSON.stringify({{name: "csrf-fetch"}});
  Promise.all([
    fetch("{base}/api/niches", {{method: "POST", mode: "no-cors", body,
                                 headers: {{"Content-Type": "text/plain"}}}}),
    fetch("{base}/api/proxies", {{method: "POST", mode: "no-cors",
      body: JSON.stringify({{url: "http://127.0.0.1:9/", session: "csrf-session-value"}})}}),
  ]).catch(() => null).finally(() => {{
    document.title = "fetched";
    document.getElementById("f").submit();
  }});
</script>
</body></html>
"""


@pytest.fixture
def attack_origin(live: Any) -> Iterator[str]:
    """An HTTP server on another port (another origin) serving the attack page."""
    page = ATTACK_PAGE.format(base=live.base_url).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_form_post_and_no_cors_fetches_from_another_origin_change_nothing(
    live: Any, page: Any, attack_origin: str
) -> None:
    niches_before = {n["name"] for n in live.call("GET", "/niches")}
    pairs_before = len(live.call("GET", "/proxies"))

    page.goto(attack_origin + "/")
    # The form navigates the page to the server's answer: the refusal is the positive control
    # that the request really reached the server.
    page.wait_for_url(f"{live.base_url}/api/niches", timeout=20_000)
    expect(page.locator("body")).to_contain_text("cross_origin")

    names = {n["name"] for n in live.call("GET", "/niches")}
    assert not {name for name in names - niches_before if name.startswith("csrf")}
    assert len(live.call("GET", "/proxies")) == pairs_before
