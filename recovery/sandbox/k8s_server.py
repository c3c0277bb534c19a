"""The Kubernetes of the rehearsal world: the extended kmock emulator as its own HTTP process.

Run it with ``python -m recovery.sandbox.k8s_server --port N --dir DIR``. It listens on 127.0.0.1
only, requires the bearer token kept in ``DIR/k8s/token`` (so a wrong credential really gets a 401),
and keeps its objects in ``DIR/k8s/state.json`` so a restart finds the cluster as it was left.
:func:`start` spawns it detached on a free port and writes a kubeconfig the official client loads.
The token never appears on a command line: it travels through 0600 files only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import kmock
import yaml

from recovery.errors import UnreachableError
from recovery.fsutil import atomic_write
from recovery.sandbox.k8s_emulator import ClusterEmulator
from recovery.sandbox.procs import (
    ProcessRecord,
    free_port,
    http_ok,
    own_package_env,
    python_module,
    spawn,
    wait_for_port,
)

NAME = "kubernetes"
CONTEXT = "candlefish-sandbox"


def _state_dir(world_dir: Path) -> Path:
    path = world_dir / "k8s"
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_kubeconfig(path: Path, address: str, token: str) -> Path:
    """A one-cluster kubeconfig for ``address`` with a bearer token (mode 0600)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": address}}],
        "users": [{"name": "candlefish-admin", "user": {"token": token}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": "candlefish-admin"}}],
        "current-context": CONTEXT,
    }
    atomic_write(path, yaml.safe_dump(config, sort_keys=False).encode())  # 0600: holds the token
    return path


def start(world_dir: Path) -> ProcessRecord:
    """Spawn the emulator on a free port, wait until it is ready, write ``world_dir/kubeconfig``."""
    state = _state_dir(world_dir)
    token_file = state / "token"
    if not token_file.exists():
        atomic_write(token_file, secrets.token_urlsafe(24).encode())  # 0600: a credential
    port = free_port()
    argv = python_module("recovery.sandbox.k8s_server", "--port", str(port), "--dir", str(world_dir))
    pid = spawn(NAME, argv, world_dir, env=own_package_env())
    wait_for_port("127.0.0.1", port, timeout=30, pid=pid)
    address = f"http://127.0.0.1:{port}"
    _wait_ready(address)
    kubeconfig = write_kubeconfig(world_dir / "kubeconfig", address, token_file.read_text().strip())
    return ProcessRecord(name=NAME, pid=pid, address=address, extra={"kubeconfig": str(kubeconfig)})


def _wait_ready(address: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _ready(address):
            return
        time.sleep(0.05)
    raise UnreachableError(f"the Kubernetes emulator at {address} is not ready after {timeout:.0f}s")


def _ready(address: str) -> bool:
    return http_ok(f"{address}/readyz", timeout=2)


def healthy(record: ProcessRecord) -> bool:
    """True when the emulator answers its readiness probe (which needs no credential)."""
    return _ready(record.address)


def _credentials(kubeconfig: Path) -> tuple[str, dict[str, str]]:
    config: dict[str, Any] = yaml.safe_load(kubeconfig.read_text())
    address = config["clusters"][0]["cluster"]["server"]
    token = config["users"][0]["user"]["token"]
    return address, {"Authorization": f"Bearer {token}"}


def reset(kubeconfig: Path) -> None:
    """Empty the cluster (keeping default/kube-system/kube-public); tests use it between cases."""
    address, headers = _credentials(kubeconfig)
    httpx.post(f"{address}/kmock-api/reset", headers=headers, timeout=5).raise_for_status()


def inject_faults(kubeconfig: Path, status: int, count: int = 1, method: str = "") -> None:
    """Make the next ``count`` API requests (only those of ``method``, when given) fail with HTTP
    ``status`` -- to rehearse 5xx, 429 and a permanent 403 at one precise step."""
    address, headers = _credentials(kubeconfig)
    body = {"status": status, "count": count, "method": method}
    httpx.post(f"{address}/kmock-api/faults", json=body, headers=headers, timeout=5).raise_for_status()


async def serve(port: int, world_dir: Path) -> None:
    """Serve until SIGTERM/SIGINT."""
    state = _state_dir(world_dir)
    token_file = state / "token"
    token = token_file.read_text().strip() if token_file.exists() else None
    emulator = ClusterEmulator(token=token, state_file=state / "state.json")
    emulator.load()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    async with emulator, kmock.Server(emulator, host="127.0.0.1", port=port):
        print(
            f"kubernetes emulator listening on 127.0.0.1:{port} (auth: {'on' if token else 'off'})",
            flush=True,
        )
        await stopping.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True, help="world directory (state, token)")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.dir))


if __name__ == "__main__":
    main()
