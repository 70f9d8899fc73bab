"""gunicorn as Coprod is served (gunicorn.conf.py, read from the working directory by the
image's and docker-compose.yml's web and by bench/http.py's servers): each worker listens on
a socket of its own, so the kernel spreads new connections over the workers.

On one socket shared by the workers, whichever worker's main thread called accept() first
took the connection, and a burst of keep-alive connections (wrk's eight, a reverse proxy's
upstream pool) went all to one worker in 9 runs of 16: one core idle, the bare baseline at
1,050 req/s instead of 2,500, and every ratio bench/http.py printed off by up to two times."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

from bench import http as bench_http

_LISTEN = "0A"  # /proc/net/tcp's state of a listening socket


def _listening_inodes(port: int) -> set[str]:
    """The inodes of the sockets listening on 127.0.0.1:`port` (/proc/net/tcp)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == _LISTEN and int(local.split(":")[1], 16) == port:
            inodes.add(inode)
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[len("socket:["):-1])
    return found


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def test_each_worker_of_a_served_coprod_listens_on_a_socket_of_its_own(tmp_path):
    args = SimpleNamespace(workers=2, threads=2)
    server = bench_http.Server("bare", "bench.bare_app:app",
                               {"BENCH_DATABASE_URL": "postgresql://unused"}, args, tmp_path)
    try:
        server.wait_ready("/no-such-page")
        listening = _listening_inodes(server.port)
        workers = _workers(server.process.pid)
        assert len(workers) == 2
        held = [_socket_inodes(pid) & listening for pid in workers]
        assert all(len(sockets) == 1 for sockets in held), held
        assert held[0] != held[1], "the workers share one listening socket"
    finally:
        server.stop()
