"""A minimal HTTP/1.1 client on asyncio, cheap enough to share two cores with the server.

Only what the benchmark needs: hand-written request bytes, a status line, headers, and a body
delimited by Content-Length, chunked encoding or the end of the connection. It uses a bare
``asyncio.Protocol`` rather than streams: one buffer and one future per request, no per-line
awaits. Most of the ~0.2 ms of client CPU per request is asyncio's connection set-up and the
kernel's TCP work, which no client on a fresh connection per request avoids.

A connection the server keeps open (gunicorn's ``keepalive``) is reused for the next request of
the same ``Connection``; one it closes is opened again.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlencode, urlsplit

HEAD_LIMIT = 64 * 1024


class HTTPError(Exception):
    """The response could not be read."""


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]]  # names lower-cased, in the order received
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_list(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


class _ResponseReader(asyncio.Protocol):
    """Collects one response at a time from a transport and resolves ``waiter`` with it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Response] | None = None
        self.head_request = False
        self._reset()

    def _reset(self) -> None:
        self.buffer = bytearray()
        self.response: Response | None = None  # set once the head is parsed
        self.body_start = 0
        self.length: int | None = None  # None: chunked or until the end of the connection
        self.chunked = False
        self.keep_alive = False

    def expect(self, waiter: asyncio.Future[Response], head_request: bool) -> None:
        self._reset()
        self.waiter, self.head_request = waiter, head_request

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            self._parse(eof=False)
        except (HTTPError, ValueError) as exc:
            self._fail(HTTPError(str(exc)))

    def eof_received(self) -> bool:
        self.keep_alive = False
        try:
            self._parse(eof=True)
        except (HTTPError, ValueError) as exc:
            self._fail(HTTPError(str(exc)))
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._fail(exc or ConnectionResetError("connection closed before the response ended"))

    # -- parsing ----------------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        self.waiter = None
        if self.transport is not None:
            self.transport.close()

    def _parse(self, eof: bool) -> None:
        if self.waiter is None:
            return  # nothing asked (e.g. the server closing an idle connection)
        if self.response is None and not self._parse_head():
            if eof:
                raise HTTPError("connection closed before the response head")
            return
        assert self.response is not None
        body = memoryview(self.buffer)[self.body_start :]
        if self.length is not None:
            if len(body) < self.length:
                if eof:
                    raise HTTPError("connection closed inside the body")
                return
            self.response.body = bytes(body[: self.length])
        elif self.chunked:
            decoded = _dechunk(bytes(body))
            if decoded is None:
                if eof:
                    raise HTTPError("connection closed inside a chunked body")
                return
            self.response.body = decoded
        elif eof:
            self.response.body = bytes(body)
        else:
            return  # delimited by the end of the connection
        waiter, self.waiter = self.waiter, None
        if not waiter.done():
            waiter.set_result(self.response)
        if not self.keep_alive and self.transport is not None:
            self.transport.close()

    def _parse_head(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > HEAD_LIMIT:
                raise HTTPError("response head too long")
            return False
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        version, code, *_ = lines[0].split(" ", 2)
        status = int(code)
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        self.response = response = Response(status, headers, b"")
        self.body_start = end + 4
        connection = (response.header("connection") or "").lower()
        if version == "HTTP/1.0":
            self.keep_alive = connection == "keep-alive"
        else:
            self.keep_alive = connection != "close"
        length = response.header("content-length")
        if self.head_request or status in (204, 304) or 100 <= status < 200:
            self.length = 0
        elif length is not None:
            self.length = int(length)
        elif (response.header("transfer-encoding") or "").lower() == "chunked":
            self.chunked = True
        else:
            self.keep_alive = False
        return True


def _dechunk(data: bytes) -> bytes | None:
    """The decoded body, or None while the chunked body is incomplete."""
    parts: list[bytes] = []
    pos = 0
    while True:
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(data[pos:line_end].split(b";", 1)[0], 16)
        pos = line_end + 2
        if size == 0:  # last chunk; then optional trailers and an empty line
            return b"".join(parts) if data.find(b"\r\n\r\n", line_end) >= 0 else None
        if len(data) < pos + size + 2:
            return None
        parts.append(data[pos : pos + size])
        pos += size + 2


class Connection:
    """One client "socket slot": at most one request in flight, reconnecting as needed.

    ``Connection.opened`` counts the TCP connections every instance has opened, so that a
    phase can tell whether the server kept them alive (bench/stacks.py)."""

    __slots__ = ("host", "port", "_host_header", "_protocol")
    opened: ClassVar[int] = 0

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._host_header = f"{host}:{port}"
        self._protocol: _ResponseReader | None = None

    async def request(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Response:
        head = [
            f"{method} {target} HTTP/1.1",
            f"Host: {self._host_header}",
            "User-Agent: idp-bench",
        ]
        head.extend(f"{name}: {value}" for name, value in headers)
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body

        protocol = self._protocol
        if protocol is not None and protocol.transport is not None:
            try:
                return await self._exchange(protocol, raw, method)
            except ConnectionError:
                pass  # the server closed the idle kept-alive connection as we reused it: retry
        loop = asyncio.get_running_loop()
        Connection.opened += 1
        _, protocol = await loop.create_connection(_ResponseReader, self.host, self.port)
        self._protocol = protocol
        return await self._exchange(protocol, raw, method)

    async def _exchange(self, protocol: _ResponseReader, raw: bytes, method: str) -> Response:
        waiter: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        protocol.expect(waiter, method == "HEAD")
        assert protocol.transport is not None
        protocol.transport.write(raw)
        try:
            return await waiter
        except BaseException:
            self.close()  # a timeout or error: never reuse a connection in an unknown state
            raise

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None


@dataclass
class CookieJar:
    """A browser's cookies for one host: enough for Flask's session cookie."""

    cookies: dict[str, str] = field(default_factory=dict)

    def update(self, response: Response) -> None:
        for header in response.header_list("set-cookie"):
            pair, *attributes = header.split(";")
            name, _, value = pair.strip().partition("=")
            expired = any(a.strip().lower() in ("max-age=0", "max-age=-1") for a in attributes)
            if expired or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def header(self) -> list[tuple[str, str]]:
        if not self.cookies:
            return []
        return [("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))]


def form_body(fields: dict[str, str]) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body of an ``application/x-www-form-urlencoded`` POST."""
    return [("Content-Type", "application/x-www-form-urlencoded")], urlencode(fields).encode()


def basic_auth(user: str, password: str) -> tuple[str, str]:
    # RFC 6749 2.3.1 asks clients to form-urlencode id and secret first; ours are URL-safe.
    raw = f"{user}:{password}".encode()
    return ("Authorization", "Basic " + base64.b64encode(raw).decode())


def path_of(location: str) -> str:
    """The request target of a Location header, absolute or relative."""
    parts = urlsplit(location)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
