"""The worker ``idp serve`` runs (idp/gunicorn_conf.py): gunicorn's threaded worker, with each
request read by the worker's event loop before a thread serves it.

A synchronous worker reads the request itself, and gunicorn's threaded worker (``gthread``)
gives each connection to a thread that does the same: a client that sends its request a byte
at a time holds the worker, or the thread, for as long as it keeps sending. Eight such
connections left two synchronous workers answering nothing until gunicorn killed them
(``timeout``, 30 s), and two ``gthread`` workers of eight threads each answering some
requests only: a worker whose threads are all held goes on accepting connections, which then
wait for a thread (tests/test_slow_clients.py).

:class:`BufferingWorker` moves the reading into the event loop that ``gthread`` already runs
for its kept-alive connections: the request head of every new or kept-alive connection, and
the body when the head announces one the app would take (``Content-Length`` up to
:data:`MAX_BODY`), are read without blocking, and only a complete request is handed to a
thread. A slow client then holds a socket, not a thread; a worker keeps up to
``worker_connections`` sockets, and accepts new ones only while one of its threads is free
(as a synchronous worker accepts only when idle), so a busy worker leaves them to an idle one.
A request that has not arrived within ``timeout`` seconds (the bound a synchronous worker
had), or whose head passes :data:`MAX_HEAD`, is dropped. A chunked body, or one sent only
after "100 Continue", is still read by the thread serving the request (no browser sends
either; a proxy in front buffers them).
"""

from __future__ import annotations

import re
import selectors
import time
from collections import deque
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, ThreadWorker

MAX_HEAD = 64 * 1024  # gunicorn refuses a request line over 4 KiB, and so do proxies
# The largest body the app accepts (MAX_CONTENT_LENGTH, idp/__init__.py: a CSV of users fits);
# the buffer grows only as the bytes arrive.
MAX_BODY = 1024 * 1024
READ_SIZE = 64 * 1024
HEAD_END = re.compile(rb"\n\r?\n")
CONTENT_LENGTH = re.compile(rb"\ncontent-length:[ \t]*(\d{1,12})[ \t]*\r?\n", re.IGNORECASE)
# The client waits for "100 Continue" before it sends the body: the thread answers it.
EXPECT = re.compile(rb"\nexpect:", re.IGNORECASE)


class Arriving:
    """What has arrived of one connection's request, and until when the rest may take."""

    __slots__ = ("data", "needed", "scanned", "read_by")

    def __init__(self, data: bytes, read_by: float) -> None:
        self.data = bytearray(data)
        self.needed: int | None = None  # bytes the request takes, once its head is known
        self.scanned = 0  # where the search for the end of the head starts again
        self.read_by = read_by

    def complete(self) -> bool | None:
        """True once the head, and the small body it announces, have arrived; None while
        more is awaited; False for a head too large to be a request."""
        if self.needed is None:
            end = HEAD_END.search(self.data, max(0, self.scanned - 2))
            if end is None:
                self.scanned = len(self.data)
                return None if len(self.data) <= MAX_HEAD else False
            head = bytes(self.data[: end.end()])
            self.needed = end.end()
            length = CONTENT_LENGTH.search(head)
            if length and int(length[1]) <= MAX_BODY and not EXPECT.search(head):
                self.needed += int(length[1])
        return True if len(self.data) >= self.needed else None


class BufferingWorker(ThreadWorker):
    """``gthread``, with every request read by the event loop before a thread serves it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arriving: deque[Any] = deque()  # connections still sending, by deadline
        self.stopped_at: float | None = None
        self.serving = 0  # requests handed to the threads and not yet answered

    def enqueue_req(self, conn: Any) -> None:
        """Called by ``gthread`` for a new connection, a kept-alive one that became readable
        and one whose next request was read ahead: serve it once the request is here."""
        if not self.buffers(conn):
            self.serve(conn)
            return
        if conn.parser is None:  # a new connection: TConn.init() keeps the parser it finds
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.arriving = Arriving(
            conn.parser.unreader.take_buffered(), time.monotonic() + self.cfg.timeout
        )
        conn.sock.setblocking(False)
        ready = self.receive(conn)
        if ready is None:
            self.arriving.append(conn)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.readable, conn))
        elif ready:
            self.hand_over(conn)
        else:
            self.drop(conn)

    def buffers(self, conn: Any) -> bool:
        """Plain HTTP/1 is read here; TLS, HTTP/2 and uWSGI are left to ``gthread``."""
        return not (
            conn.is_http2
            or self.cfg.is_ssl
            or getattr(self.cfg, "protocol", "http") != "http"
            or negotiation.prior_knowledge_allowed(self.cfg, conn.client)
        )

    def readable(self, conn: Any, _sock: Any) -> None:
        ready = self.receive(conn)
        if ready is None:
            return
        self.poller.unregister(conn.sock)
        self.arriving.remove(conn)
        if ready:
            self.hand_over(conn)
        else:
            self.drop(conn)

    def receive(self, conn: Any) -> bool | None:
        """Read what the socket holds: whether the request is complete (None: not yet)."""
        arriving: Arriving = conn.arriving
        if arriving.complete():
            return True
        try:
            data = conn.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            data = b""
        if not data:  # the client closed or reset the connection
            return False
        arriving.data += data
        return arriving.complete()

    def hand_over(self, conn: Any) -> None:
        conn.parser.unreader.unread(bytes(conn.arriving.data))
        conn.arriving = None
        conn.data_ready = True  # no thread waits for the first byte
        self.serve(conn)

    def serve(self, conn: Any) -> None:
        self.serving += 1
        if self.serving >= self.cfg.threads:
            self.set_accept_enabled(False)
        super().enqueue_req(conn)

    def finish_request(self, conn: Any, fs: Any) -> None:
        self.serving -= 1
        super().finish_request(conn, fs)
        self.set_accept_enabled(self.nr_conns < self.worker_connections)

    def set_accept_enabled(self, enabled: bool) -> None:
        """Accept new connections only while a thread is free, as a synchronous worker does:
        a busy worker leaves them to an idle one. Connections still sending their request
        occupy no thread, so they never stop the accepting."""
        super().set_accept_enabled(enabled and self.alive and self.serving < self.cfg.threads)

    def drop(self, conn: Any) -> None:
        conn.arriving = None
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Called by ``gthread``'s loop about once a second: also drop the requests that did
        not arrive in time, and, once the worker is stopping, the rest after a short linger."""
        super().murder_pending()
        now = time.monotonic()
        if not self.alive and self.stopped_at is None:
            self.stopped_at = now
        linger_over = self.stopped_at is not None and now > self.stopped_at + STOP_KEEPALIVE_LINGER
        while self.arriving and (linger_over or self.arriving[0].arriving.read_by <= now):
            conn = self.arriving.popleft()
            self.poller.unregister(conn.sock)
            self.drop(conn)
