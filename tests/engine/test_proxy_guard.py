"""Pairs cannot be aimed at internal addresses: the rule, and name resolution before use.

No pair here points anywhere: the rule is a pure function, and the resolver is replaced
(unit isolation) so the test never connects to, or even resolves, a non-loopback host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import pytest

from storycheck.engine.checker import _refuse_internal_proxy
from storycheck.engine.client import PairIdentity
from storycheck.engine.errors import ConnectionFailed
from storycheck.proxies.service import forbidden_proxy_address


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "the unspecified address"),
        ("::", "the unspecified address"),
        ("127.0.0.1", None),
        ("::1", None),
    ],
)
def test_the_address_rule(text: str, reason: str | None) -> None:
    assert forbidden_proxy_address(ipaddress.ip_address(text)) == reason


def _pair(host: str) -> PairIdentity:
    return PairIdentity(
        proxy_id="p", session_id="s", label=f"http://{host}:8080",
        proxy_url=f"http://{host}:8080", sessionid="sessionid-value",
    )


def test_a_name_resolving_to_an_internal_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        address = {"metadata.internal.test": "169.254.169.254", "proxy.localhost": "127.0.0.7"}
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address[host], 0))]

    async def run(host: str) -> None:
        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake_getaddrinfo)
        await _refuse_internal_proxy(_pair(host))

    with pytest.raises(ConnectionFailed, match="link-local address: refused"):
        asyncio.run(run("metadata.internal.test"))
    asyncio.run(run("proxy.localhost"))  # a loopback name is fine
