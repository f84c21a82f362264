"""A fleet of local forward proxies, each reaching upstream from its own loopback address.

(Over 500 lines: two proxy protocols, HTTP and SOCKS5, and their misbehaviours in one place.)

Proxy ``i`` listens on ``127.0.0.1`` and opens every upstream connection from source address
``127.0.0.(10 + i)``, so the simulator's per-address limits and statistics see one address
per proxy, as Instagram would see one IP per real proxy.

Two kinds are offered:

* ``http`` — HTTP/1.1 forward proxy: ``CONNECT host:port`` tunnels and absolute-URI requests
  (``GET http://host:port/path``) with keep-alive; optional Basic credentials (407 when
  missing or wrong).
* ``socks5`` — RFC 1928 CONNECT with optional RFC 1929 username/password authentication.

When the upstream resets a connection after the request was sent, the proxy resets the
client connection too, so fault injection behind a proxy still looks like a reset.

With ``silent_close`` a proxy serves one answer per client connection and then drops it
without announcing ``Connection: close``, as many real proxies do: the answer goes out as
a keep-alive answer, and the next request the client sends on that connection is read and
the connection closed without a response (the client sees "Server disconnected without
sending a response"). The dropped request never reaches upstream. Tunnels (CONNECT,
SOCKS5) are closed the same way when the client sends again after upstream has answered.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import ipaddress
import logging
import socket
import struct
from collections import Counter
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlsplit

from storycheck.simulator.background import BackgroundService
from storycheck.simulator.wire import (
    UpstreamLink,
    close_quietly,
    has_token,
    header,
    origin_form_request,
    parse_head,
    read_body,
    reset,
)

logger = logging.getLogger(__name__)

ProxyKind = Literal["http", "socks5"]
_HEAD_LIMIT = 64 * 1024
_COPY_CHUNK = 64 * 1024


class _UpstreamFailed(Exception):
    """The upstream connection broke after the request was sent."""


class _SilentClose(Exception):
    """A silently closing proxy drops a tunnel the client wants to reuse."""


@dataclass(frozen=True)
class ProxyEndpoint:
    """One running proxy: where clients connect and which source address it uses upstream."""

    kind: ProxyKind
    host: str
    port: int
    source_address: str
    username: str | None
    password: str | None

    @property
    def url(self) -> str:
        """Return the proxy URL, with credentials when the proxy requires them."""
        auth = ""
        if self.username is not None:
            auth = f"{quote(self.username, safe='')}:{quote(self.password or '', safe='')}@"
        return f"{self.kind}://{auth}{self.host}:{self.port}"


class _Proxy:
    """One proxy server; `serve` handles a client connection according to its kind."""

    def __init__(
        self,
        kind: ProxyKind,
        host: str,
        port: int,
        source_address: str,
        username: str | None,
        password: str | None,
        connect_timeout: float,
        silent_close: bool = False,
    ) -> None:
        """Configure a proxy; `start` binds it."""
        self.kind = kind
        self.silent_close = silent_close
        self.host = host
        self.requested_port = port
        self.source_address = source_address
        self.username = username
        self.password = password
        self.connect_timeout = connect_timeout
        self.counters: Counter[str] = Counter()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        token = f"{username}:{password or ''}".encode()
        self._expected_auth = "Basic " + base64.b64encode(token).decode()

    @property
    def endpoint(self) -> ProxyEndpoint:
        """Return where this proxy listens."""
        assert self._server is not None, "proxy not started"
        port = self._server.sockets[0].getsockname()[1]
        return ProxyEndpoint(
            self.kind, self.host, port, self.source_address, self.username, self.password
        )

    async def start(self) -> None:
        """Bind the listening socket."""
        self._server = await asyncio.start_server(
            self._accept, self.host, self.requested_port, limit=_HEAD_LIMIT, backlog=512
        )

    async def stop(self) -> None:
        """Stop listening and cut every open connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            close_quietly(writer)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Track one client connection and hand it to the protocol handler."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        upstream: list[asyncio.StreamWriter] = []
        try:
            if self.kind == "socks5":
                await self._serve_socks5(reader, writer, upstream)
            else:
                await self._serve_http(reader, writer, upstream)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.counters["client_errors"] += 1
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("proxy %s:%s failed", self.host, self.requested_port)
        finally:
            for other in upstream:
                close_quietly(other)
            close_quietly(writer)
            self._writers.discard(writer)
            self._tasks.discard(task)

    async def _connect(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open an upstream connection from this proxy's own source address."""
        family = socket.AF_INET6 if ":" in self.source_address else socket.AF_INET
        return await asyncio.wait_for(
            asyncio.open_connection(
                host, port, local_addr=(self.source_address, 0), family=family, limit=_HEAD_LIMIT
            ),
            self.connect_timeout,
        )

    def _authorized_http(self, headers: list[tuple[str, str]]) -> bool:
        """Tell whether the request carries the expected Proxy-Authorization."""
        if self.username is None:
            return True
        given = header(headers, "proxy-authorization") or ""
        return hmac.compare_digest(given.encode(), self._expected_auth.encode())

    async def _serve_http(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: list[asyncio.StreamWriter],
    ) -> None:
        """Serve HTTP proxy requests on one client connection until it closes."""
        link = UpstreamLink()
        answered = False
        while await self._serve_one(reader, writer, upstream, link, answered=answered):
            answered = True

    async def _serve_one(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: list[asyncio.StreamWriter],
        link: UpstreamLink,
        *,
        answered: bool,
    ) -> bool:
        """Serve one request of a client connection; tell whether the connection stays open."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        if answered and self.silent_close:
            # The client reuses a connection this proxy already gave up: drop the
            # request and close (a FIN, no answer), as a proxy closing behind it does.
            self.counters["silent_closes"] += 1
            return False
        request = await self._admit_http(writer, head)
        if request is None:
            return False
        method, uri, version, headers = request
        if method.upper() == "CONNECT":
            await self._tunnel_http(reader, writer, uri, upstream)
            return False
        parts = urlsplit(uri)
        if parts.scheme.lower() != "http" or not parts.hostname:
            await self._reply(writer, 400, "Bad Request")
            return False
        body = await read_body(reader, headers)
        target = (parts.hostname, parts.port or 80)
        message = origin_form_request(method, parts, version, headers, body)
        client_close = has_token(header(headers, "connection"), "close") or version == "HTTP/1.0"
        self.counters["forwarded"] += 1
        if not link.serves(target) and not await self._open_link(link, target, writer, upstream):
            return False
        assert link.reader is not None and link.writer is not None
        try:
            link.writer.write(message)
            await link.writer.drain()
            response, upstream_close = await self._relay_response(method, link.reader)
        except (_UpstreamFailed, ConnectionError):
            self.counters["upstream_resets"] += 1
            reset(writer)
            return False
        writer.write(response)
        await writer.drain()
        if upstream_close:
            link.close()
        return not client_close

    async def _admit_http(
        self, writer: asyncio.StreamWriter, head: bytes
    ) -> tuple[str, str, str, list[tuple[str, str]]] | None:
        """Parse a request head and check the credentials; answer 400/407 and return None
        when the request goes no further."""
        request_line, headers = parse_head(head)
        try:
            method, uri, version = request_line.split(" ", 2)
        except ValueError:
            await self._reply(writer, 400, "Bad Request")
            return None
        if not self._authorized_http(headers):
            self.counters["auth_failures"] += 1
            await self._reply(
                writer,
                407,
                "Proxy Authentication Required",
                'Proxy-Authenticate: Basic realm="storycheck"\r\n',
            )
            return None
        return method, uri, version, headers

    async def _open_link(
        self,
        link: UpstreamLink,
        target: tuple[str, int],
        writer: asyncio.StreamWriter,
        upstream: list[asyncio.StreamWriter],
    ) -> bool:
        """(Re)connect `link` to `target`; answer 502 and return False when that fails."""
        link.close()
        try:
            link.reader, link.writer = await self._connect(*target)
        except (OSError, TimeoutError):
            self.counters["upstream_errors"] += 1
            await self._reply(writer, 502, "Bad Gateway")
            return False
        upstream.append(link.writer)
        link.target = target
        return True

    async def _relay_response(
        self, method: str, up_reader: asyncio.StreamReader
    ) -> tuple[bytes, bool]:
        """Read one complete upstream response; return its bytes and whether upstream closes."""
        try:
            head = await up_reader.readuntil(b"\r\n\r\n")
            status_line, headers = parse_head(head)
            status = int(status_line.split(" ", 2)[1])
            no_body = method.upper() == "HEAD" or status in (204, 304) or 100 <= status < 200
            body = b"" if no_body else await read_body(up_reader, headers)
            closes = has_token(header(headers, "connection"), "close")
            if body is None:
                body, closes = await up_reader.read(), True
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            raise _UpstreamFailed from exc
        return head + body, closes

    async def _tunnel_http(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        authority: str,
        upstream: list[asyncio.StreamWriter],
    ) -> None:
        """Answer CONNECT and relay bytes both ways."""
        host, _, port_text = authority.rpartition(":")
        host = host.strip("[]")
        if not host or not port_text.isdigit():
            await self._reply(writer, 400, "Bad Request")
            return
        try:
            up_reader, up_writer = await self._connect(host, int(port_text))
        except (OSError, TimeoutError):
            self.counters["upstream_errors"] += 1
            await self._reply(writer, 502, "Bad Gateway")
            return
        upstream.append(up_writer)
        self.counters["tunnels"] += 1
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await self._pipe(reader, writer, up_reader, up_writer)

    async def _reply(
        self, writer: asyncio.StreamWriter, status: int, reason: str, extra: str = ""
    ) -> None:
        """Send a short proxy-generated answer and mark the connection for closing."""
        head = (
            f"HTTP/1.1 {status} {reason}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode())
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    async def _serve_socks5(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: list[asyncio.StreamWriter],
    ) -> None:
        """Serve one SOCKS5 client: negotiate, authenticate, CONNECT, then relay."""
        version, count = await reader.readexactly(2)
        if version != 5:
            return
        methods = await reader.readexactly(count)
        wanted = 0x02 if self.username is not None else 0x00
        if wanted not in methods:
            writer.write(b"\x05\xff")
            self.counters["auth_failures"] += 1
            await writer.drain()
            return
        writer.write(bytes((5, wanted)))
        await writer.drain()
        if wanted == 0x02:
            _, name_length = await reader.readexactly(2)
            name = await reader.readexactly(name_length)
            (secret_length,) = await reader.readexactly(1)
            secret = await reader.readexactly(secret_length)
            ok = hmac.compare_digest(name, (self.username or "").encode()) & hmac.compare_digest(
                secret, (self.password or "").encode()
            )
            writer.write(b"\x01\x00" if ok else b"\x01\x01")
            await writer.drain()
            if not ok:
                self.counters["auth_failures"] += 1
                return
        _, command, _, address_type = await reader.readexactly(4)
        if address_type == 1:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif address_type == 3:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode("idna")
        elif address_type == 4:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        else:
            writer.write(b"\x05\x08\x00\x01\x00\x00\x00\x00\x00\x00")
            await writer.drain()
            return
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if command != 1:
            writer.write(b"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00")
            await writer.drain()
            return
        try:
            up_reader, up_writer = await self._connect(host, port)
        except (OSError, TimeoutError):
            self.counters["upstream_errors"] += 1
            writer.write(b"\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00")
            await writer.drain()
            return
        upstream.append(up_writer)
        bound_host, bound_port = up_writer.get_extra_info("sockname")[:2]
        packed = ipaddress.ip_address(bound_host).packed
        kind = 1 if len(packed) == 4 else 4
        writer.write(bytes((5, 0, 0, kind)) + packed + struct.pack("!H", bound_port))
        await writer.drain()
        self.counters["tunnels"] += 1
        await self._pipe(reader, writer, up_reader, up_writer)

    async def _pipe(
        self,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        """Relay bytes both ways until one side closes; mirror an upstream reset to the client.

        With `silent_close`, client bytes arriving after upstream answered end the tunnel.
        """
        answered = False

        async def copy(
            source: asyncio.StreamReader, sink: asyncio.StreamWriter, upward: bool
        ) -> None:
            nonlocal answered
            while True:
                data = await source.read(_COPY_CHUNK)
                if not data:
                    if sink.can_write_eof():
                        with contextlib.suppress(OSError):
                            sink.write_eof()
                    return
                if upward and answered and self.silent_close:
                    self.counters["silent_closes"] += 1
                    raise _SilentClose
                sink.write(data)
                await sink.drain()
                answered = answered or not upward

        upward = asyncio.create_task(copy(client_reader, up_writer, True))
        downward = asyncio.create_task(copy(up_reader, client_writer, False))
        try:
            done, _ = await asyncio.wait({upward, downward}, return_when=asyncio.FIRST_EXCEPTION)
            if downward in done and downward.exception() is not None:
                reset(client_writer)
            elif upward in done and isinstance(upward.exception(), _SilentClose):
                close_quietly(client_writer)
        finally:
            for task in (upward, downward):
                task.cancel()
            await asyncio.gather(upward, downward, return_exceptions=True)


class ProxyFleet(BackgroundService):
    """N local proxies; proxy i connects upstream from 127.0.0.(first_source + i).

    ``ProxyFleet(3, username="u", password="p").start().urls`` →
    ``["http://u:p@127.0.0.1:PORT", …]``.
    """

    _thread_name = "proxy-fleet"

    def __init__(
        self,
        count: int,
        *,
        kind: ProxyKind = "http",
        host: str = "127.0.0.1",
        base_port: int = 0,
        username: str | None = None,
        password: str | None = None,
        source_prefix: str = "127.0.0.",
        first_source: int = 10,
        connect_timeout: float = 10.0,
        silent_close: bool = False,
    ) -> None:
        """Describe the fleet; base_port 0 picks free ports, otherwise base_port + i.

        `silent_close` makes every proxy drop each client connection after one answer
        without announcing it (see the module docstring); `set_silent_close` changes it.
        """
        super().__init__()
        if count < 0 or first_source + count - 1 > 254:
            raise ValueError("proxy count must fit into the source address range")
        if kind not in ("http", "socks5"):
            raise ValueError("kind must be 'http' or 'socks5'")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.kind = kind
        self._proxies = [
            _Proxy(
                kind,
                host,
                base_port + index if base_port else 0,
                f"{source_prefix}{first_source + index}",
                username,
                password,
                connect_timeout,
                silent_close,
            )
            for index in range(count)
        ]

    @property
    def endpoints(self) -> list[ProxyEndpoint]:
        """Return every running proxy's endpoint (port, source address, credentials)."""
        return [proxy.endpoint for proxy in self._proxies]

    @property
    def urls(self) -> list[str]:
        """Return the proxy URLs, credentials included."""
        return [endpoint.url for endpoint in self.endpoints]

    @property
    def source_addresses(self) -> list[str]:
        """Return the upstream source address of each proxy, in order."""
        return [proxy.source_address for proxy in self._proxies]

    def set_silent_close(self, enabled: bool) -> None:
        """Turn silent closing on or off for every proxy of the fleet (takes effect at once)."""

        def apply() -> None:
            for proxy in self._proxies:
                proxy.silent_close = enabled

        self.call(apply)

    def counters(self) -> list[dict[str, int]]:
        """Return per-proxy counters (forwarded, tunnels, auth_failures, upstream_errors, …)."""
        return self.call(lambda: [dict(proxy.counters) for proxy in self._proxies])

    async def _start(self) -> None:
        """Bind every proxy; on failure, close those already bound."""
        try:
            for proxy in self._proxies:
                await proxy.start()
        except BaseException:
            await self._stop()
            raise
        logger.info("%d %s proxies listening", len(self._proxies), self.kind)

    async def _stop(self) -> None:
        """Stop every proxy."""
        await asyncio.gather(*(proxy.stop() for proxy in self._proxies))
