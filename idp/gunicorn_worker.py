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
``worker_connections`` sockets.

A kept-alive connection stays with the worker that accepted it, and each worker gets about the
same share of the machine: connections piled on one worker are each answered less often than
those of a worker holding few. Thirty-two connections opened at once were once held 19, 7, 3
and 1 by four workers, and the last worker's 99th percentile was a sixth of the first's.
:class:`Balance` keeps the number of connections each worker holds in memory the master
shares with the workers it forks, and a worker accepts a new connection only while it holds
the fewest, or one more than the fewest with a thread free (so an idle worker is preferred
to a busy one, as a synchronous worker accepts only when idle); the worker holding the fewest
always accepts, so a new connection never waits for all the others.
A request that has not arrived within ``timeout`` seconds (the bound a synchronous worker
had), or whose head passes :data:`MAX_HEAD`, is dropped. A body sent after "100 Continue" is
asked for here too; a chunked body is refused (411: no browser sends one) and one larger than
the app takes (413) too. Should a thread still wait on a client (one that does not read its
answer), it gives up after ``timeout`` seconds (:class:`TimedSocket`).
"""

from __future__ import annotations

import re
import selectors
import socket
import time
from collections import deque
from functools import partial
from multiprocessing.sharedctypes import RawArray
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
CONTENT_LENGTH = re.compile(rb"\ncontent-length:[ \t]*(\d+)[ \t]*\r?\n", re.IGNORECASE)
CHUNKED = re.compile(rb"\ntransfer-encoding:", re.IGNORECASE)
EXPECT_CONTINUE = re.compile(rb"\nexpect:[ \t]*100-continue[ \t]*\r?\n", re.IGNORECASE)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def refusal(status: str) -> bytes:
    return f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".encode()


# No browser sends a chunked body, and a client that does can send its length instead.
LENGTH_REQUIRED = refusal("411 Length Required")
TOO_LARGE = refusal("413 Content Too Large")
DEFAULT_TIMEOUT = 30  # when gunicorn's is 0 (none): a request still has to arrive


class Arriving:
    """What has arrived of one connection's request, and until when the rest may take."""

    __slots__ = ("data", "needed", "scanned", "read_by", "answer", "continue_due")

    def __init__(self, data: bytes, read_by: float) -> None:
        self.data = bytearray(data)
        self.needed: int | None = None  # bytes the request takes, once its head is known
        self.scanned = 0  # where the search for the end of the head starts again
        self.read_by = read_by
        self.answer = b""  # what to answer a request that is refused here
        self.continue_due = False  # the client waits for "100 Continue" to send its body

    def complete(self) -> bool | None:
        """True once the head, and the body it announces, have arrived; None while more is
        awaited; False for a request refused here (``answer`` says why, if anything)."""
        if self.needed is None:
            end = HEAD_END.search(self.data, max(0, self.scanned - 2))
            if end is None:
                self.scanned = len(self.data)
                return None if len(self.data) <= MAX_HEAD else False
            head = bytes(self.data[: end.end()])
            self.needed = end.end()
            if CHUNKED.search(head):
                self.answer = LENGTH_REQUIRED
                return False
            length = CONTENT_LENGTH.search(head)
            if length:
                if int(length[1]) > MAX_BODY:
                    self.answer = TOO_LARGE
                    return False
                self.needed += int(length[1])
            self.continue_due = bool(EXPECT_CONTINUE.search(head))
        if len(self.data) >= self.needed:
            self.continue_due = False
            return True
        return None


class TimedSocket(socket.socket):
    """A connection whose blocking mode has a time limit: should a thread ever wait on the
    client (a body it did not read here, a client that does not read its answer), it gives up
    after ``limit`` seconds instead of waiting for ever."""

    limit: float = DEFAULT_TIMEOUT

    @classmethod
    def taking_over(cls, sock: socket.socket, limit: float) -> TimedSocket:
        timed = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        timed.limit = limit
        return timed

    def setblocking(self, flag: bool) -> None:
        if flag:
            self.settimeout(self.limit)
        else:
            super().setblocking(False)


class Balance:
    """How many connections each worker holds, in shared memory: created in the master, which
    gives each worker a slot before forking it and frees the slot when it has exited."""

    SLOTS = 64
    FREE = -1

    def __init__(self) -> None:
        self.counts = RawArray("i", [self.FREE] * self.SLOTS)

    def claim(self) -> int | None:
        """A free slot for a new worker (in the master), or None when all are taken."""
        for slot in range(self.SLOTS):
            if self.counts[slot] == self.FREE:
                self.counts[slot] = 0
                return slot
        return None

    def release(self, slot: int | None) -> None:
        if slot is not None:
            self.counts[slot] = self.FREE

    def fewest(self) -> int:
        """The fewest connections any live worker holds."""
        return min((n for n in self.counts[:] if n != self.FREE), default=0)


def may_accept(held: int, fewest: int, thread_free: bool) -> bool:
    """Whether a worker holding ``held`` connections takes a new one, when the fewest any
    worker holds is ``fewest``."""
    return held <= fewest or (thread_free and held <= fewest + 1)


class BufferingWorker(ThreadWorker):
    """``gthread``, with every request read by the event loop before a thread serves it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arriving: deque[Any] = deque()  # connections still sending, by deadline
        self.stopped_at: float | None = None
        self.serving = 0  # requests handed to the threads and not yet answered
        self.read_within = self.cfg.timeout if self.cfg.timeout > 0 else DEFAULT_TIMEOUT
        # Given by the master before the fork (idp/gunicorn_conf.py); without them, no balancing.
        self.balance: Balance | None = getattr(self, "balance", None)
        self.balance_slot: int | None = getattr(self, "balance_slot", None)

    def enqueue_req(self, conn: Any) -> None:
        """Called by ``gthread`` for a new connection, a kept-alive one that became readable
        and one whose next request was read ahead: serve it once the request is here."""
        if not self.buffers(conn):
            self.serve(conn)
            return
        if conn.parser is None:  # a new connection: TConn.init() keeps the parser it finds
            conn.sock = TimedSocket.taking_over(conn.sock, self.read_within)
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.arriving = Arriving(
            conn.parser.unreader.take_buffered(), time.monotonic() + self.read_within
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
        """Read what the socket holds: whether the request is complete (None: not yet; False:
        dropped or refused)."""
        arriving: Arriving = conn.arriving
        ready = arriving.complete()
        if ready is None:
            try:
                data = conn.sock.recv(READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return None
            except OSError:
                data = b""
            if not data:  # the client closed or reset the connection
                return False
            arriving.data += data
            ready = arriving.complete()
        if ready is None and arriving.continue_due:
            arriving.continue_due = False
            self.send_now(conn, CONTINUE)
        return ready

    @staticmethod
    def send_now(conn: Any, answer: bytes) -> None:
        """A few bytes to a non-blocking socket: what does not fit now is not sent."""
        try:
            conn.sock.send(answer)
        except OSError:
            pass

    def hand_over(self, conn: Any) -> None:
        conn.parser.unreader.unread(bytes(conn.arriving.data))
        conn.arriving = None
        conn.data_ready = True  # no thread waits for the first byte
        self.serve(conn)

    def serve(self, conn: Any) -> None:
        self.serving += 1
        if self.serving >= self.cfg.threads:
            self.set_accept_enabled(True)  # whether it still may: see set_accept_enabled
        super().enqueue_req(conn)

    def accept(self, listener: Any) -> None:
        super().accept(listener)
        self.set_accept_enabled(True)  # one connection more: whether it still may take another

    def finish_request(self, conn: Any, fs: Any) -> None:
        self.serving -= 1
        super().finish_request(conn, fs)
        self.set_accept_enabled(self.nr_conns < self.worker_connections)

    def set_accept_enabled(self, enabled: bool) -> None:
        """Accept new connections while this worker holds the fewest, or one more with a
        thread free (see the module's docstring); without the shared counts, only while a
        thread is free. Connections still sending their request occupy no thread."""
        thread_free = self.serving < self.cfg.threads
        if self.balance is None or self.balance_slot is None:
            allowed = thread_free
        else:
            self.balance.counts[self.balance_slot] = self.nr_conns if self.alive else Balance.FREE
            allowed = may_accept(self.nr_conns, self.balance.fewest(), thread_free)
        super().set_accept_enabled(enabled and self.alive and allowed)

    def drop(self, conn: Any) -> None:
        if conn.arriving is not None and conn.arriving.answer:
            self.send_now(conn, conn.arriving.answer)
        conn.arriving = None
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Called by ``gthread``'s loop about once a second: also drop the requests that did
        not arrive in time, and, once the worker is stopping, the rest after a short linger."""
        super().murder_pending()
        if self.balance is not None and self.balance_slot is not None:
            # Others' counts change too: whether it may accept is asked again every turn.
            self.set_accept_enabled(self.nr_conns < self.worker_connections)
        now = time.monotonic()
        if not self.alive and self.stopped_at is None:
            self.stopped_at = now
        linger_over = self.stopped_at is not None and now > self.stopped_at + STOP_KEEPALIVE_LINGER
        while self.arriving and (linger_over or self.arriving[0].arriving.read_by <= now):
            conn = self.arriving.popleft()
            self.poller.unregister(conn.sock)
            self.drop(conn)
