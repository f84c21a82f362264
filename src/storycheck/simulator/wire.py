"""HTTP/1.1 wire helpers of the forward proxies: heads, headers, framed bodies, closing."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass
from urllib.parse import SplitResult

_HOP_BY_HOP = frozenset({"proxy-authorization", "proxy-connection", "keep-alive", "te", "trailer"})


def reset(writer: asyncio.StreamWriter) -> None:
    """Close a connection with a TCP reset (SO_LINGER 0) instead of a clean FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def close_quietly(writer: asyncio.StreamWriter | None) -> None:
    """Close a connection, ignoring errors."""
    if writer is not None:
        with contextlib.suppress(Exception):
            writer.close()


def parse_head(head: bytes) -> tuple[str, list[tuple[str, str]]]:
    """Split an HTTP head into its first line and (name, value) header pairs."""
    lines = head.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return lines[0], headers


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    """Return the first value of header `name` (case-insensitive), or None."""
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def has_token(value: str | None, token: str) -> bool:
    """Tell whether a comma-separated header value contains `token`."""
    return value is not None and token in (part.strip().lower() for part in value.split(","))


async def read_body(reader: asyncio.StreamReader, headers: list[tuple[str, str]]) -> bytes | None:
    """Read a message body framed by Content-Length or chunked encoding (raw bytes kept).

    Returns None when the body is delimited by connection close.
    """
    if has_token(header(headers, "transfer-encoding"), "chunked"):
        parts = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            parts.append(size_line)
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while True:
                    trailer = await reader.readuntil(b"\r\n")
                    parts.append(trailer)
                    if trailer == b"\r\n":
                        return b"".join(parts)
            parts.append(await reader.readexactly(size + 2))
    length = header(headers, "content-length")
    if length is not None:
        return await reader.readexactly(int(length))
    return None


@dataclass
class UpstreamLink:
    """The upstream connection a client connection reuses while it asks the same origin."""

    target: tuple[str, int] | None = None
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None

    def serves(self, target: tuple[str, int]) -> bool:
        """Tell whether this connection is open and goes to `target`."""
        return (
            self.reader is not None
            and self.writer is not None
            and self.target == target
            and not self.reader.at_eof()
            and not self.writer.is_closing()
        )

    def close(self) -> None:
        """Close the connection (if any); the next request opens a new one."""
        close_quietly(self.writer)
        self.writer = None


def origin_form_request(
    method: str, parts: SplitResult, version: str, headers: list[tuple[str, str]], body: bytes | None
) -> bytes:
    """The request as sent upstream: origin-form path, hop-by-hop headers dropped, a Host."""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    forwarded = [(key, value) for key, value in headers if key.lower() not in _HOP_BY_HOP]
    if header(forwarded, "host") is None:
        forwarded.insert(0, ("Host", parts.netloc.rpartition("@")[2]))
    lines = [f"{method} {path} {version}"] + [f"{k}: {v}" for k, v in forwarded]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
