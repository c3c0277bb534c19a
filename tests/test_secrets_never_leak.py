"""Canary values planted in the world never appear in a log, an output or a non-backup file.

The world plants random secret values (``.env`` files, Vault KV, AWS Secrets Manager) and lists them in
``DIR/secrets/canaries.json``. This test drives every adapter that touches those values, with every
logger at DEBUG (botocore logs request bodies at DEBUG), runs the CLI, and then scans everything that
was said or written outside the backups, which hold values by design.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from recovery.adapters.aws import AwsAdapter
from recovery.adapters.files import EnvFiles
from recovery.adapters.vault import VaultAdapter
from recovery.sandbox import world as sandbox
from recovery.secrets import install_redaction
from tests.fixtures.world import World


def _leaks(text: str, canaries: list[str]) -> list[str]:
    return [c for c in canaries if c in text]


def test_world_canaries_never_reach_logs_cli_output_or_reports(
    world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.reset(world.dir)  # earlier tests may have rolled the world back (no secrets left)
    canaries = world.canaries
    assert len(canaries) >= 10  # the world really planted values to look for
    inv = world.inventory
    install_redaction()
    caplog.set_level(logging.DEBUG)

    aws = AwsAdapter.from_inventory(inv.aws)
    aws_export = aws.export_secrets(inv.aws.secret_prefix, tmp_path / "backup" / "aws.json")
    assert aws_export.count >= 4
    names = [s.name for s in aws.list_secrets(inv.aws.secret_prefix)]
    values = [aws.get_secret_value(n) for n in names]
    logging.getLogger("test").info("read %d secrets: %s", len(values), values)  # SecretStr prints ***

    vault = VaultAdapter(inv.vault.address, inv.vault.token.resolve(), kv_mount=inv.vault.kv_mount)
    paths = vault.list_kv_paths()
    read = {p: vault.read_kv(p) for p in paths}
    logging.getLogger("test").info("vault paths: %s", read)
    export = vault.export(tmp_path / "vault-export.json")
    snapshot = vault.snapshot(tmp_path / "backup" / "vault.snap")
    assert snapshot.size > 0

    files = EnvFiles(inv.project_root)
    envs = [inv.service_env(s).relative_to(inv.project_root.resolve()) for s in inv.services]
    backup = files.backup(envs, tmp_path / "backup" / "env")
    logging.getLogger("test").info("backup %s", backup)

    cli = [
        subprocess.run(
            [sys.executable, "-m", "recovery.cli", "--inventory", str(world.inventory_path), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        for args in (["inventory", "check"], ["sandbox", "status", "--dir", str(world.dir)])
    ]
    assert all(r.returncode == 0 for r in cli), [r.stderr for r in cli]

    said = caplog.text + "".join(r.stdout + r.stderr for r in cli)
    said += export.path.read_text() + world.inventory_path.read_text()
    said += "".join(p.read_text(errors="replace") for p in (world.dir / "logs").glob("*.log"))
    assert _leaks(said, canaries) == []
    # the backups, on the other hand, really hold the values (that is what they are for)
    assert _leaks((tmp_path / "backup" / "aws.json").read_text(), canaries)
