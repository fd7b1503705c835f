"""Slow clients against ``idp serve`` as operators run it (idp/gunicorn_conf.py): connections
that send their request a byte at a time hold no worker, so everyone else is still answered at
once; a request head that has not arrived in time is dropped. Real sockets on loopback, in
loops bounded in time; every socket is closed when the test ends."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from tests.servers import serving

pytestmark = pytest.mark.slow

# A request head without the blank line that would end it: it never completes.
HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
# Form posts whose body is then dribbled (the bytes of HEAD stand in for it): plain, announced
# with Expect (the client waits for "100 Continue"), with a length of many digits, chunked.
# A form's type, so that the app reads the body (without one it answers at once).
FORM = (
    b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
)
POST = FORM + b"Content-Length: 100000\r\n\r\n"
EXPECTING = FORM + b"Content-Length: 100000\r\nExpect: 100-continue\r\n\r\n"
PADDED = FORM + b"Content-Length: 0000000100000\r\n\r\n"
# A chunk longer than what is dribbled: the body never ends.
CHUNKED = FORM + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % (len(HEAD) + 100)
PAUSE = 0.2  # seconds between two bytes of one connection
PROBES = 5
ANSWER_WITHIN = 1.0  # seconds: what a health check, or a person, may wait


@contextmanager
def dribbling(port: int, count: int, first: bytes = b"") -> Iterator[list[socket.socket]]:
    """``count`` connections to ``port``, each sending ``first`` at once and then ``HEAD`` a
    byte every ``PAUSE`` seconds, from one thread, until the ``with`` block ends; yields the
    sockets once each has sent a few bytes of its head."""
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(count)]
    stop = threading.Event()

    def dribble() -> None:
        for sock in sockets:
            if first:
                sock.sendall(first)
        for i in range(len(HEAD)):
            for sock in sockets:
                try:
                    sock.send(HEAD[i : i + 1])
                except OSError:  # dropped by the server: what a timeout should do
                    pass
            if stop.wait(PAUSE):
                return

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    try:
        time.sleep(5 * PAUSE)  # every connection accepted and in the middle of its head
        yield sockets
    finally:
        stop.set()
        thread.join(timeout=5)
        for sock in sockets:
            sock.close()


def probe(base: str) -> float | None:
    """Seconds until ``/healthz`` answered 200 on a fresh connection, or None if it did not
    within ``ANSWER_WITHIN``."""
    started = time.monotonic()
    try:
        response = requests.get(
            base + "/healthz", timeout=ANSWER_WITHIN, headers={"Connection": "close"}
        )
    except (requests.ConnectionError, requests.Timeout):
        return None
    elapsed = time.monotonic() - started
    return elapsed if response.status_code == 200 and elapsed < ANSWER_WITHIN else None


@pytest.fixture
def serve(_schema, base_overrides, tmp_path):
    """``idp serve`` with two workers on a free port; yields its port and base URL."""
    return lambda **env: serving(base_overrides, tmp_path, **env)


@pytest.mark.parametrize(
    "first",
    [b"", REQUEST, POST, EXPECTING, PADDED, CHUNKED],
    ids=[
        "new connections",
        "kept-alive connections",
        "a body sent slowly",
        "a body asked for with 100 Continue",
        "a length of many digits",
        "a chunked body",
    ],
)
def test_connections_dribbling_their_request_hold_no_worker(serve, first):
    with serve() as (port, base), dribbling(port, 8, first):
        answered = [probe(base) for _ in range(PROBES)]
    assert None not in answered, f"/healthz answers while 8 connections dribble: {answered}"


def test_a_request_that_arrives_in_pieces_is_answered(serve):
    body = b"email=ana%40example.org&password=x"
    pieces = [
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        b"Content-Type: application/x-www-form-urlencoded\r\n",
        b"Content-Length: %d\r\n\r\n" % len(body),
        body[:10],
        body[10:],
    ]
    with serve() as (port, _base):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            for _request in range(2):  # on a new connection, then on the same one kept alive
                for piece in pieces:
                    sock.sendall(piece)
                    time.sleep(PAUSE)
                answer = sock.recv(65536)
                # Refused for want of the form's token: the whole request was read.
                assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]


def test_bodies_the_app_would_not_take_are_refused_at_once_and_expect_is_answered(serve):
    with serve() as (port, _base):
        for head, answer in (
            (CHUNKED, b"HTTP/1.1 411 "),
            (FORM + b"Content-Length: 2000000\r\n\r\n", b"HTTP/1.1 413 "),  # over the app's 1 MiB
            (
                FORM + b"Content-Length: 10\r\nExpect: 100-continue\r\n\r\n",
                b"HTTP/1.1 100 Continue\r\n\r\n",
            ),
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(head)
                assert sock.recv(65536).startswith(answer), head
                if answer.startswith(b"HTTP/1.1 100"):
                    sock.sendall(b"email=x&a=")  # the body, once asked for: then the answer
                    received = b""
                    while b"HTTP/1.1 400 " not in received:  # after a second 100 (RFC 9110 15.2)
                        more = sock.recv(65536)
                        assert more, received
                        received += more
