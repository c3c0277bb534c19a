"""The AWS of the rehearsal world: a moto server (Secrets Manager, KMS, IAM) on a free port."""

from __future__ import annotations

from pathlib import Path

import httpx

from recovery.sandbox.procs import ProcessRecord, free_port, http_ok, python_module, spawn, wait_for_port

NAME = "aws"
REGION = "us-east-1"


def start(world_dir: Path) -> ProcessRecord:
    """Start ``moto_server`` detached and wait until it answers."""
    port = free_port()
    pid = spawn(NAME, python_module("moto.server", "-H", "127.0.0.1", "-p", str(port)), world_dir, env=_env())
    wait_for_port("127.0.0.1", port, timeout=30, pid=pid)
    return ProcessRecord(name=NAME, pid=pid, address=f"http://127.0.0.1:{port}")


def _env() -> dict[str, str]:
    # moto reads nothing secret; fixed fake credentials keep boto3 from looking for real ones.
    return {"AWS_DEFAULT_REGION": REGION}


def healthy(record: ProcessRecord) -> bool:
    return http_ok(f"{record.address}/moto-api/", timeout=2)


def reset(address: str) -> None:
    """Clear every resource the server holds (tests use it between cases)."""
    httpx.post(f"{address}/moto-api/reset", timeout=5).raise_for_status()
