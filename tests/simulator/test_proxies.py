"""The proxy fleet: own source addresses, absolute-URI GET, CONNECT, SOCKS5, credentials."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Iterator

import httpx
import pytest

from storycheck.simulator import INSTAGRAM_APP_ID, FaultConfig, ProxyFleet, SimulatorServer

from .conftest import instagram_client

PROFILE = "/api/v1/users/web_profile_info/?username=user00001"


@pytest.fixture
def make_fleet() -> Iterator[Callable[..., ProxyFleet]]:
    fleets: list[ProxyFleet] = []

    def factory(count: int, **options: object) -> ProxyFleet:
        fleet = ProxyFleet(count, **options).start()  # type: ignore[arg-type]
        fleets.append(fleet)
        return fleet

    yield factory
    for fleet in fleets:
        fleet.stop()


def test_each_proxy_reaches_the_simulator_from_its_own_address(
    sim: SimulatorServer, make_fleet: Callable[..., ProxyFleet]
) -> None:
    fleet = make_fleet(3)
    assert fleet.source_addresses == ["127.0.0.10", "127.0.0.11", "127.0.0.12"]
    for index, url in enumerate(fleet.urls):
        with instagram_client(sim, proxy=url) as client:
            for _ in range(index + 1):
                assert client.get(PROFILE).status_code == 200
    addresses = httpx.get(sim.base_url + "/__sim__/stats").json()["addresses"]
    assert {key: value["total"] for key, value in addresses.items()} == {
        "127.0.0.10": 1,
        "127.0.0.11": 2,
        "127.0.0.12": 3,
    }
    assert [c["forwarded"] for c in fleet.counters()] == [1, 2, 3]


def test_per_address_limits_are_real_behind_proxies(
    make_sim: Callable[..., SimulatorServer], make_fleet: Callable[..., ProxyFleet]
) -> None:
    from storycheck.simulator import Limit, LimitsConfig

    sim = make_sim(limits=LimitsConfig(True, None, None, Limit(2, 60), None))
    fleet = make_fleet(2)
    for url in fleet.urls:
        with instagram_client(sim, proxy=url) as client:
            assert [client.get(PROFILE).status_code for _ in range(3)] == [200, 200, 401]


def test_an_edge_block_of_one_address_refuses_every_session_and_anonymous_alike(
    sim: SimulatorServer, make_fleet: Callable[..., ProxyFleet]
) -> None:
    fleet = make_fleet(2)
    blocked = httpx.post(
        sim.base_url + "/__sim__/addresses", json={"addresses": ["127.0.0.10"], "blocked": True}
    )
    assert blocked.json() == {"blocked": ["127.0.0.10"]}
    reels = "/api/v1/feed/reels_media/?reel_ids=1"
    for session in (sim.session_ids[0], sim.session_ids[1], None):
        with instagram_client(sim, session, proxy=fleet.urls[0]) as client:
            for path in (PROFILE, reels):
                refused = client.get(path)
                assert refused.status_code == 403
                assert refused.headers["content-type"].startswith("text/html")
                assert b"<html>" in refused.content and b"Login" not in refused.content
    with instagram_client(sim, proxy=fleet.urls[1]) as client:  # another address: fine
        assert client.get(PROFILE).status_code == 200
    assert sim.block_addresses(["127.0.0.10"], blocked=False) == []
    with instagram_client(sim, proxy=fleet.urls[0]) as client:
        assert client.get(PROFILE).status_code == 200


def test_absolute_uri_get_with_keep_alive_and_post_bodies(
    sim: SimulatorServer, make_fleet: Callable[..., ProxyFleet]
) -> None:
    fleet = make_fleet(1)
    with httpx.Client(proxy=fleet.urls[0]) as client:
        for _ in range(5):
            assert client.get(sim.base_url + "/__sim__/clock").status_code == 200
        added = client.post(sim.base_url + "/__sim__/sessions", json={"sessions": ["via-proxy"]})
        assert added.json()["added"] == ["via-proxy"]
    assert fleet.counters()[0]["forwarded"] == 6


async def _raw_exchange(proxy_port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    writer.write(payload)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(65536), 5)
    writer.close()
    return data


async def _connect_then_get(
    proxy_port: int, target: str, auth: str | None, request: bytes
) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    header = f"Proxy-Authorization: Basic {auth}\r\n" if auth else ""
    writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{header}\r\n".encode())
    await writer.drain()
    established = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert established.startswith(b"HTTP/1.1 200"), established
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer


def test_connect_tunnel(sim: SimulatorServer, make_fleet: Callable[..., ProxyFleet]) -> None:
    fleet = make_fleet(2, username="alice", password="s3cret")
    auth = base64.b64encode(b"alice:s3cret").decode()
    target = f"127.0.0.1:{sim.port}"
    request = (
        f"GET {PROFILE} HTTP/1.1\r\nHost: {target}\r\nX-IG-App-ID: {INSTAGRAM_APP_ID}\r\n"
        f"Cookie: sessionid={sim.session_ids[0]}\r\nConnection: close\r\n\r\n"
    ).encode()
    answer = asyncio.run(_connect_then_get(fleet.endpoints[1].port, target, auth, request))
    assert answer.startswith(b"HTTP/1.1 200")
    assert b'"username":"user00001"' in answer
    addresses = httpx.get(sim.base_url + "/__sim__/stats").json()["addresses"]
    assert set(addresses) == {"127.0.0.11"}
    assert fleet.counters()[1]["tunnels"] == 1


def test_proxy_credentials_are_required_and_checked(
    sim: SimulatorServer, make_fleet: Callable[..., ProxyFleet]
) -> None:
    fleet = make_fleet(1, username="alice", password="s3cret")
    endpoint = fleet.endpoints[0]
    assert fleet.urls[0] == f"http://alice:s3cret@127.0.0.1:{endpoint.port}"
    with instagram_client(sim, proxy=fleet.urls[0]) as client:
        assert client.get(PROFILE).status_code == 200
    for url in (
        f"http://127.0.0.1:{endpoint.port}",
        f"http://alice:wrong@127.0.0.1:{endpoint.port}",
    ):
        with instagram_client(sim, proxy=url) as client:
            refused = client.get(PROFILE)
        assert refused.status_code == 407
        assert refused.headers["proxy-authenticate"].startswith("Basic")
    connect = asyncio.run(
        _raw_exchange(endpoint.port, f"CONNECT 127.0.0.1:{sim.port} HTTP/1.1\r\n\r\n".encode())
    )
    assert connect.startswith(b"HTTP/1.1 407")
    assert fleet.counters()[0]["auth_failures"] == 3
    assert httpx.get(sim.base_url + "/__sim__/stats").json()["total"]["total"] == 1


def test_socks5_with_credentials(
    sim: SimulatorServer, make_fleet: Callable[..., ProxyFleet]
) -> None:
    fleet = make_fleet(2, kind="socks5", username="bob", password="pw")
    assert fleet.urls[0].startswith("socks5://bob:pw@127.0.0.1:")
    for url in fleet.urls:
        with instagram_client(sim, proxy=url) as client:
            assert client.get(PROFILE).status_code == 200
    addresses = httpx.get(sim.base_url + "/__sim__/stats").json()["addresses"]
    assert set(addresses) == {"127.0.0.10", "127.0.0.11"}
    wrong = fleet.urls[0].replace("bob:pw", "bob:nope")
    with instagram_client(sim, proxy=wrong) as client, pytest.raises(httpx.ProxyError):
        client.get(PROFILE)


def test_unreachable_upstream_is_bad_gateway(make_fleet: Callable[..., ProxyFleet]) -> None:
    fleet = make_fleet(1)
    with httpx.Client(proxy=fleet.urls[0]) as client:
        assert client.get("http://127.0.0.1:9/").status_code == 502


def test_upstream_reset_reaches_the_client_as_a_transport_error(
    make_sim: Callable[..., SimulatorServer], make_fleet: Callable[..., ProxyFleet]
) -> None:
    sim = make_sim(faults=FaultConfig(drop_share=1.0))
    fleet = make_fleet(1)
    with instagram_client(sim, proxy=fleet.urls[0]) as client, pytest.raises(httpx.TransportError):
        client.get(PROFILE)


def test_hang_behind_a_proxy_times_out(
    make_sim: Callable[..., SimulatorServer], make_fleet: Callable[..., ProxyFleet]
) -> None:
    sim = make_sim(faults=FaultConfig(hang_share=1.0, hang_seconds=5))
    fleet = make_fleet(1)
    with instagram_client(sim, proxy=fleet.urls[0], timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get(PROFILE)


def test_fleet_validates_its_arguments() -> None:
    with pytest.raises(ValueError):
        ProxyFleet(300)
    with pytest.raises(ValueError):
        ProxyFleet(1, username="only-user")


@pytest.mark.parametrize("kind", ["http", "socks5"])
def test_silent_close_drops_a_reused_connection_without_a_response(
    sim: SimulatorServer, make_fleet: Callable[..., ProxyFleet], kind: str
) -> None:
    fleet = make_fleet(1, kind=kind, silent_close=True)
    with instagram_client(sim, proxy=fleet.urls[0]) as client:
        first = client.get(PROFILE)
        # The answer does not announce the close: the client keeps the connection...
        assert first.status_code == 200 and "close" not in first.headers.get("connection", "")
        # ...and the next request on it is dropped unanswered.
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            client.get(PROFILE)
        # A fresh connection works again, once.
        assert client.get(PROFILE).status_code == 200
    assert fleet.counters()[0]["silent_closes"] == 1
    # The dropped request never reached the simulator.
    assert httpx.get(sim.base_url + "/__sim__/stats").json()["total"]["total"] == 2


def test_silent_close_can_be_switched_per_fleet(
    sim: SimulatorServer, make_fleet: Callable[..., ProxyFleet]
) -> None:
    fleet = make_fleet(2)
    with instagram_client(sim, proxy=fleet.urls[0]) as client:
        assert [client.get(PROFILE).status_code for _ in range(3)] == [200] * 3
        fleet.set_silent_close(True)
        # The kept-alive connection has answered already: its next request is dropped.
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(PROFILE)
        assert client.get(PROFILE).status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(PROFILE)
        fleet.set_silent_close(False)
        assert [client.get(PROFILE).status_code for _ in range(3)] == [200] * 3
