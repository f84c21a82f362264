"""Flask serves the built web client at `/`, with client routes falling back to index.html."""

from __future__ import annotations

import pytest

from storycheck.app import REPO_CLIENT_DIST

pytestmark = pytest.mark.skipif(
    not (REPO_CLIENT_DIST / "index.html").exists(),
    reason="client/dist is not built (make test builds it first)",
)


@pytest.mark.parametrize("path", ["/", "/batches", "/proxies", "/settings", "/dashboard"])
def test_client_routes_serve_index(client, path):
    response = client.get(path)
    assert response.status_code == 200 and b'<div id="root">' in response.data
    assert response.headers["Cache-Control"] == "no-cache"


def test_assets_are_cached_and_api_404_stays_json(client):
    asset = next((REPO_CLIENT_DIST / "assets").glob("*.js")).name
    response = client.get(f"/assets/{asset}")
    assert response.status_code == 200 and "immutable" in response.headers["Cache-Control"]
    missing = client.get("/api/no-such-route")
    assert missing.status_code == 404 and missing.json["error"] == "not_found"
