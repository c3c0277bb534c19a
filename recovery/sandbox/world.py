"""The rehearsal world: every outside system of the playbook, as real local servers, in one directory.

``up`` starts each server detached on a free port (recording it in ``DIR/state.json``), seeds the
world so it looks like the playbook's world after a failed deployment, and writes
``DIR/inventory.yaml`` pointing at all of it. Running ``up`` again keeps what is running and healthy,
restarts what is not, and re-seeds idempotently. ``down`` stops exactly the recorded processes.

Secret values planted in the world are listed in ``DIR/secrets/canaries.json`` (mode 0600) so tests can
scan every log, artifact and report for them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import secrets as pysecrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from recovery.adapters.files import atomic_write
from recovery.errors import ConfigError
from recovery.sandbox import (
    aws_seed,
    inventory_writer,
    k8s_seed,
    k8s_server,
    local_servers,
    moto_server,
    procs,
    project_seed,
    terraform_world,
    vault_server,
)
from recovery.sandbox.procs import ProcessRecord
from recovery.secrets import SecretRef

#: The five services of the seed playbook: (name, path in the project, health path).
SERVICES: list[tuple[str, str, str]] = [
    ("clos-api", "clos/api-server", "/health"),
    ("promoteros", "projects/promoterOS", "/api/health"),
    ("paintbox", "projects/paintbox", "/health"),
    ("brand-website", "brand/website", "/health"),
    ("collaboration-editor", "apps/collaboration-editor", "/health"),
]

#: Production deployments and their replica counts (different on purpose: a rollback must restore each).
DEPLOYMENTS: dict[str, int] = {
    "clos-api": 3,
    "promoteros": 2,
    "paintbox": 2,
    "brand-website": 1,
    "collaboration-editor": 4,
}


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    state: str  # "healthy" | "unhealthy" | "stopped"
    address: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "state": self.state, "address": self.address}


def _starters() -> dict[str, Callable[[Path], ProcessRecord]]:
    starters: dict[str, Callable[[Path], ProcessRecord]] = {
        "aws": moto_server.start,
        "vault": vault_server.start,
        "kubernetes": k8s_server.start,
        "redis": local_servers.start_redis,
        "mongodb": local_servers.start_mongo,
    }
    for name, _path, health in SERVICES:
        starters[f"service:{name}"] = _service_starter(name, health)
    return starters


def _service_starter(name: str, health_path: str) -> Callable[[Path], ProcessRecord]:
    def start(world_dir: Path) -> ProcessRecord:
        record = local_servers.start_service(world_dir, name, health_path)
        record.name = f"service:{name}"
        return record

    return start


def _healthy(record: ProcessRecord) -> bool:
    if not procs.pid_alive(record.pid):
        return False
    checks: dict[str, Callable[[ProcessRecord], bool]] = {
        "aws": moto_server.healthy,
        "vault": vault_server.healthy,
        "kubernetes": k8s_server.healthy,
    }
    check = checks.get(record.name, local_servers.healthy)
    try:
        return bool(check(record))
    except Exception:  # a health probe must never break status
        return False


@contextlib.contextmanager
def _exclusive(world_dir: Path) -> Iterator[None]:
    """Two ``up``/``down`` at once on one directory would start servers twice: serialise them."""
    world_dir.mkdir(parents=True, exist_ok=True)
    with open(world_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def up(world_dir: Path, *, progress: Callable[[str], None] = lambda _m: None) -> Path:
    """Start (or keep) every server, seed the world, write the inventory; return its path."""
    world_dir = world_dir.resolve()
    with _exclusive(world_dir):
        records = procs.load_state(world_dir)
        for name, start in _starters().items():
            known = records.get(name)
            if known is not None and _healthy(known):
                progress(f"{name}: already running at {known.address}")
                continue
            if known is not None:
                procs.stop(known.pid)
            began = time.monotonic()
            records[name] = start(world_dir)
            procs.save_state(world_dir, records)  # saved at once: a later failure can still be torn down
            progress(f"{name}: started at {records[name].address} ({time.monotonic() - began:.1f}s)")
        project = _seed(world_dir, records, progress)
        path = inventory_writer.write_inventory(world_dir, records, project, SERVICES)
        progress(f"inventory: {path}")
        return path


def _seed(
    world_dir: Path, records: dict[str, ProcessRecord], progress: Callable[[str], None]
) -> project_seed.ProjectSeed:
    canaries = _load_canaries(world_dir)
    project = project_seed.seed_project(world_dir, [(n, p) for n, p, _h in SERVICES])
    canaries.update(project.secret_values)
    progress("project tree, baseline backup, emergency and original .env: seeded")

    vault_server.initialise(records["vault"].address, world_dir)
    token = SecretRef(file=vault_server.token_path(world_dir)).resolve()
    kv = _kv_data(world_dir)
    vault_server.seed(records["vault"].address, token, kv)
    canaries.update(v for path in kv.values() for v in path.values())
    progress("vault: initialised, unsealed, KV seeded")

    aws_values = _aws_values(world_dir)
    aws_seed.seed_aws(records["aws"].address, secrets=aws_values)
    canaries.update(v.get_secret_value() for v in aws_values.values())
    progress("aws: secrets, KMS key and deploy user seeded")

    k8s_seed.seed_kubernetes(Path(records["kubernetes"].extra["kubeconfig"]), deployments=DEPLOYMENTS)
    progress("kubernetes: production and vault namespaces seeded")

    terraform_world.build_stacks(world_dir / "project", moto_endpoint=records["aws"].address)
    progress("terraform: secrets-management and vault stacks applied")
    _save_canaries(world_dir, canaries)
    return project


def _stable_values(world_dir: Path, name: str, keys: list[str]) -> dict[str, str]:
    """Random values generated once per world and kept (0600), so re-seeding is idempotent."""
    path = world_dir / "secrets" / f"{name}.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        if set(keys) <= set(stored):
            return stored
    values = {key: pysecrets.token_hex(16) for key in keys}
    atomic_write(path, json.dumps(values).encode(), mode=0o600)
    return values


def _kv_data(world_dir: Path) -> dict[str, dict[str, str]]:
    values = _stable_values(world_dir, "vault-kv", ["jwt", "db", "stripe"])
    return {
        "candlefish/api": {"JWT_SECRET": values["jwt"]},
        "candlefish/database": {"DATABASE_PASSWORD": values["db"]},
        "candlefish/payments": {"STRIPE_KEY": values["stripe"]},
    }


def _aws_values(world_dir: Path) -> dict[str, SecretStr]:
    names = ["database-url", "jwt-secret", "api-key", "stripe-key"]
    values = _stable_values(world_dir, "aws-secrets", names)
    return {n: SecretStr(values[n]) for n in names}


def _load_canaries(world_dir: Path) -> set[str]:
    path = world_dir / "secrets" / "canaries.json"
    return set(json.loads(path.read_text())) if path.exists() else set()


def _save_canaries(world_dir: Path, canaries: set[str]) -> None:
    atomic_write(world_dir / "secrets" / "canaries.json", json.dumps(sorted(canaries)).encode(), mode=0o600)


def canaries(world_dir: Path) -> list[str]:
    """Every secret value planted in the world (for tests that scan output for leaks)."""
    return sorted(_load_canaries(world_dir))


def status(world_dir: Path) -> list[ComponentStatus]:
    records = procs.load_state(world_dir.resolve())
    result = []
    for name in _starters():
        record = records.get(name)
        if record is None:
            result.append(ComponentStatus(name, "stopped", ""))
        elif not procs.pid_alive(record.pid):
            result.append(ComponentStatus(name, "stopped", record.address))
        else:
            state = "healthy" if _healthy(record) else "unhealthy"
            result.append(ComponentStatus(name, state, record.address))
    return result


def down(world_dir: Path) -> list[str]:
    """Stop every process ``up`` recorded in this directory, and nothing else."""
    world_dir = world_dir.resolve()
    if not world_dir.exists():
        raise ConfigError(f"no sandbox world at {world_dir}")
    with _exclusive(world_dir):
        records = procs.load_state(world_dir)
        stopped = []
        for name, record in records.items():
            procs.stop(record.pid)
            stopped.append(name)
        procs.save_state(world_dir, {})
        return stopped


def reset(world_dir: Path, *, progress: Callable[[str], None] = lambda _m: None) -> Path:
    """Put a world that a drill or a test changed back into the "after a failed deployment" state:
    the project's ``.env`` files are laid out anew (fresh values), then ``up`` restarts dead servers,
    unseals Vault, and re-seeds AWS, Kubernetes and the terraform stacks (each seed repairs what a
    recovery destroyed)."""
    world_dir = world_dir.resolve()
    with _exclusive(world_dir):
        project = world_dir / "project"
        for env in [project / ".env", *(project / path / ".env" for _n, path, _h in SERVICES)]:
            env.unlink(missing_ok=True)
    return up(world_dir, progress=progress)
