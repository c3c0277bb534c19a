"""Background processes of the rehearsal world: start, wait, record, stop.

Every server of the world is started detached (its own session, so a terminal's Ctrl-C does not
reach it), with stdout/stderr going to ``DIR/logs/NAME.log``. What was started is recorded in
``DIR/state.json`` (name, pid, address), so ``down`` stops exactly those processes and nothing else.
No secret is ever put on a command line: servers that need one read it from a 0600 file or the
environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from recovery.errors import PermanentError, UnreachableError
from recovery.fsutil import atomic_write

STATE_FILE = "state.json"


@dataclass
class ProcessRecord:
    """One started server: enough to find it again and to stop it."""

    name: str
    pid: int
    address: str
    extra: dict[str, str] = field(default_factory=dict)


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (never a fixed one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Does ``url`` answer 200 right now? A readiness probe: any HTTP or connection error is a no."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def own_package_env() -> dict[str, str]:
    """PYTHONPATH that lets ``python -m recovery.sandbox.X`` import this package from any cwd, also
    when it runs from a source checkout that is not pip-installed."""
    source_root = str(Path(__file__).resolve().parents[2])
    current = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": os.pathsep.join(p for p in (source_root, current) if p)}


def wait_for_port(host: str, port: int, timeout: float = 30.0, pid: int | None = None) -> None:
    """Wait until something listens on host:port; fail early if ``pid`` has already died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if pid is not None and not pid_alive(pid):
            raise PermanentError(f"process {pid} exited before listening on {host}:{port}")
        time.sleep(0.05)
    raise UnreachableError(f"nothing listening on {host}:{port} after {timeout:.0f}s")


def pid_alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def spawn(
    name: str,
    argv: Sequence[str],
    world_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` detached, logging to ``world_dir/logs/name.log``; return its pid."""
    logs = world_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 -- handed to the child
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(cwd or world_dir),
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    finally:
        log.close()
    return proc.pid


def python_module(module: str, *args: str) -> list[str]:
    """argv that runs ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def stop(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group of ``pid``, then SIGKILL whatever is left after ``timeout``."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.05)


def load_state(world_dir: Path) -> dict[str, ProcessRecord]:
    path = world_dir / STATE_FILE
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    return {name: ProcessRecord(**rec) for name, rec in raw.items()}


def save_state(world_dir: Path, records: Mapping[str, ProcessRecord]) -> None:
    path = world_dir / STATE_FILE
    # Pids and addresses, no secrets: readable like any file the umask would have made.
    atomic_write(path, json.dumps({n: asdict(r) for n, r in records.items()}, indent=2).encode(), mode=0o644)
