"""Kept-alive connections against ``idp serve`` are shared evenly among its workers
(idp/gunicorn_worker.py, ``Balance``): a connection stays with the worker that accepted it, and a
worker holding many answers each of them less often. Counted from /proc (Linux): the
established sockets on the server's port that each worker holds."""

from __future__ import annotations

import http.client
import time
from pathlib import Path

import pytest

from tests.servers import children, serving_process

pytestmark = pytest.mark.slow

CONNECTIONS = 12
ESTABLISHED = "01"
LISTEN = "0A"


def server_sockets(port: int) -> set[str]:
    """The inodes of the established TCP sockets whose local port is ``port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == ESTABLISHED and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def listening(port: int) -> str:
    """The inode of the listening socket on ``port``."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return fields[9]
    raise AssertionError(f"nothing listens on {port}")


def accepting(pid: int, inode: str) -> bool:
    """Whether worker ``pid`` waits for connections: the listening socket is among what its
    event loop polls (an epoll file's ``tfd`` entries, in /proc/<pid>/fdinfo)."""
    fds = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if fd.readlink().name == f"socket:[{inode}]":
                fds.add(fd.name)
        except OSError:
            continue
    for info in Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            lines = info.read_text().splitlines()
        except OSError:
            continue
        if any(line.startswith("tfd:") and line.split()[1] in fds for line in lines):
            return True
    return False


def held_by(pid: int, inodes: set[str]) -> int:
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            held += 1
    return held


def test_kept_alive_connections_are_shared_evenly_among_the_workers(
    _schema, base_overrides, tmp_path
):
    """Twelve connections opened one after another on an idle server with three workers,
    each kept alive after its answer: every worker holds four (one more or fewer at most),
    where whichever worker woke first used to take them."""
    # Idle connections stay open while they are counted, however slow the machine.
    keep_open = {"GUNICORN_CMD_ARGS": "--keep-alive 120"}
    with serving_process(base_overrides, tmp_path, 3, **keep_open) as (port, _base, master):
        # Every worker up and waiting for connections first: one still starting holds none,
        # and takes its share only of the connections opened after it has started.
        inode = listening(port)
        deadline = time.monotonic() + 60
        while True:
            workers = children(master.pid)
            if len(workers) == 3 and all(accepting(pid, inode) for pid in workers):
                break
            assert time.monotonic() < deadline, f"workers not all accepting: {workers}"
            time.sleep(0.1)
        connections = []
        try:
            for _ in range(CONNECTIONS):
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("GET", "/healthz")
                answer = connection.getresponse()
                answer.read()
                assert answer.status == 200 and not answer.will_close
                connections.append(connection)
            assert children(master.pid) == workers
            deadline = time.monotonic() + 30
            while True:
                inodes = server_sockets(port)
                held = [held_by(pid, inodes) for pid in workers]
                if sum(held) == CONNECTIONS or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert sum(held) == CONNECTIONS, held
            assert max(held) - min(held) <= 2, held
        finally:
            for connection in connections:
                connection.close()


def test_a_worker_takes_a_connection_while_it_holds_the_fewest_or_one_more_with_a_thread_free():
    from idp.gunicorn_worker import may_accept

    assert may_accept(held=3, fewest=3, thread_free=False)
    assert may_accept(held=4, fewest=3, thread_free=True)
    assert not may_accept(held=4, fewest=3, thread_free=False)
    assert not may_accept(held=5, fewest=3, thread_free=True)


def test_the_count_of_a_worker_that_has_exited_no_longer_counts():
    """The master frees an exited worker's slot (gunicorn's child_exit): a dead worker's last
    count, lower than the live ones', would otherwise leave none of them accepting."""
    from idp.gunicorn_worker import Balance

    balance = Balance()
    first, second = balance.claim(), balance.claim()
    assert first is not None and second is not None and first != second
    balance.counts[first], balance.counts[second] = 0, 5
    assert balance.fewest() == 0
    balance.release(first)
    assert balance.fewest() == 5
    assert balance.claim() == first
