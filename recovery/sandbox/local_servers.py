"""Redis, MongoDB and the five application services of the rehearsal world, as local processes.

Each ``start_*`` picks a free port, spawns the server detached (``procs.spawn``: own session, log in
``WORLD/logs/NAME.log``), waits until it really answers (a listening socket is not enough: Redis must
say ``PONG``, MongoDB must answer ``ping``, a service its health path) and returns a
:class:`~recovery.sandbox.procs.ProcessRecord` whose ``extra["kind"]`` tells :func:`healthy` how to
check it again later -- the world renames records (``service:NAME``), so the kind, not the name, is
what is dispatched on.

* Redis: Debian's ``redis-server`` (package ``redis-server``) when it is on PATH, with persistence off;
  otherwise fakeredis's TCP server (``python -m recovery.sandbox.fake_redis``), same wire protocol.
* MongoDB: ``nx-27017`` (MongoDB wire protocol over SQLite), one SQLite file per database in
  ``WORLD/mongo``.
* services: ``python -m recovery.sandbox.service_app`` per service.
"""

from __future__ import annotations

import shutil
import socket
import sys
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from recovery.errors import UnreachableError
from recovery.sandbox.procs import (
    ProcessRecord,
    free_port,
    http_ok,
    own_package_env,
    python_module,
    spawn,
    stop,
    wait_for_port,
)

HOST = "127.0.0.1"
READY_TIMEOUT = 30.0


# -- Redis --------------------------------------------------------------------------------------
def start_redis(world_dir: Path, name: str = "redis") -> ProcessRecord:
    """Start Redis on a free port with persistence off (the world's Redis holds nothing durable)."""
    port = free_port()
    data = world_dir / "redis"
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    binary = shutil.which("redis-server")
    if binary:
        argv = [
            binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
            "--dir", str(data), "--daemonize", "no",
        ]
        kind_impl = "redis-server"
    else:
        argv = python_module("recovery.sandbox.fake_redis", "--host", HOST, "--port", str(port))
        kind_impl = "fakeredis"
    pid = spawn(name, argv, world_dir, cwd=data, env=own_package_env())
    record = ProcessRecord(
        name=name, pid=pid, address=f"redis://{HOST}:{port}/0",
        extra={"kind": "redis", "implementation": kind_impl, "host": HOST, "port": str(port),
               "dir": str(data)},
    )
    _wait_ready(record, port)
    return record


def _redis_pong(host: str, port: int, timeout: float = 1.0) -> bool:
    """``PING`` over a raw socket: a health check that needs no client library."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


# -- MongoDB ------------------------------------------------------------------------------------
def start_mongo(world_dir: Path, name: str = "mongodb") -> ProcessRecord:
    """Start nx-27017 on a free port, its databases as SQLite files in ``WORLD/mongo``."""
    port = free_port()
    data = world_dir / "mongo"
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    argv = [
        *_nx_27017(), "--host", HOST, "--port", str(port), "--data-dir", str(data),
        "--log-file", str(world_dir / "logs" / f"{name}-server.log"),
        "--pid-file", str(data / "nx-27017.pid"),
    ]
    pid = spawn(name, argv, world_dir, cwd=data)
    record = ProcessRecord(
        name=name, pid=pid, address=f"mongodb://{HOST}:{port}",
        extra={"kind": "mongodb", "data_dir": str(data), "port": str(port)},
    )
    _wait_ready(record, port)
    return record


def _nx_27017() -> list[str]:
    """The venv's ``nx-27017`` entry point next to this interpreter, else the module through it
    (``python -m nx_27017.nx_27017`` works too but warns about a double import)."""
    entry = Path(sys.executable).parent / "nx-27017"
    if entry.is_file():
        return [str(entry)]
    return [sys.executable, "-c", "import sys; from nx_27017.nx_27017 import main; sys.exit(main())"]


def _mongo_ping(address: str, timeout: float = 1.0) -> bool:
    ms = int(timeout * 1000)
    client: MongoClient[dict[str, object]] = MongoClient(
        address, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms
    )
    try:
        return float(client.admin.command("ping").get("ok", 0)) == 1.0  # type: ignore[arg-type]
    except PyMongoError:
        return False
    finally:
        client.close()


# -- application services -----------------------------------------------------------------------
def start_service(
    world_dir: Path,
    name: str,
    health_path: str = "/health",
    *,
    env_file: Path | None = None,
    fail_file: Path | None = None,
) -> ProcessRecord:
    """Start one service app. ``fail_file`` (default ``WORLD/services/NAME.fail``) makes its health
    answer 503 while it exists; ``env_file`` is read at start and fingerprinted in the health answer."""
    port = free_port()
    state_dir = world_dir / "services"
    state_dir.mkdir(parents=True, exist_ok=True)
    fail = fail_file or state_dir / f"{name}.fail"
    args = ["--name", name, "--host", HOST, "--port", str(port), "--health-path", health_path,
            "--fail-file", str(fail)]
    if env_file is not None:
        args += ["--env-file", str(env_file)]
    argv = python_module("recovery.sandbox.service_app", *args)
    pid = spawn(f"service-{name}", argv, world_dir, env=own_package_env())
    address = f"http://{HOST}:{port}"
    record = ProcessRecord(
        name=name, pid=pid, address=address,
        extra={"kind": "service", "health_url": f"{address}{health_path}", "fail_file": str(fail),
               "port": str(port)},
    )
    _wait_ready(record, port)
    return record


# -- common -------------------------------------------------------------------------------------
def healthy(record: ProcessRecord) -> bool:
    """Does the server behind ``record`` answer like a healthy one right now?"""
    kind = record.extra.get("kind")
    if kind == "redis":
        return _redis_pong(record.extra.get("host", HOST), int(record.extra["port"]))
    if kind == "mongodb":
        return _mongo_ping(record.address)
    if kind == "service":
        return http_ok(record.extra["health_url"], timeout=1.0)
    return False


def _wait_ready(record: ProcessRecord, port: int, timeout: float = READY_TIMEOUT) -> None:
    """Wait for the port, then for a healthy answer; stop the process if it never comes."""
    try:
        wait_for_port(HOST, port, timeout=timeout, pid=record.pid)
        deadline = time.monotonic() + timeout
        while not healthy(record):
            if time.monotonic() > deadline:
                raise UnreachableError(f"{record.name} listens on {port} but never answered healthy")
            time.sleep(0.1)
    except BaseException:
        stop(record.pid, timeout=2)
        raise
