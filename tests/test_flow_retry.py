"""A crashed recovery, retried, does not redo the steps that had finished (persisted task results)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect import flow

from flows.checkpoint_files import ALPHA
from flows.runner import Checkpoint, Journal, run_checkpoint
from recovery.domain.models import RecoveryResult
from recovery.domain.plan import Plan
from recovery.inventory import Inventory, load_inventory
from recovery.sandbox import world as sandbox
from tests.fixtures.world import World

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.timeout(180)]

ATTEMPTS: list[int] = []


def _crash_once(inv: Inventory, plan: Plan, journal: Journal) -> None:
    """Alpha's act, except the first attempt dies after the backup (as a killed worker would)."""
    ATTEMPTS.append(1)
    if len(ATTEMPTS) == 1:
        raise RuntimeError("worker lost")
    ALPHA.act(inv, plan, journal)


CRASHY = Checkpoint(name="alpha", purpose=ALPHA.purpose, inspect=ALPHA.inspect, backup=ALPHA.backup,
                    act=_crash_once, verify=ALPHA.verify)


@flow(retries=1, retry_delay_seconds=0, persist_result=True)
def crashy_recovery(inventory: str) -> RecoveryResult:
    return run_checkpoint(CRASHY, load_inventory(inventory), dry_run=False, auto_approve=True)


def test_a_retried_run_reuses_its_finished_backup_instead_of_taking_it_again(world: World) -> None:
    sandbox.reset(world.dir)
    inv = world.inventory
    store = Path(inv.backups.store_dir)
    before = set(store.iterdir()) if store.exists() else set()
    ATTEMPTS.clear()
    result = crashy_recovery(inventory=str(world.inventory_path))
    assert len(ATTEMPTS) == 2  # it crashed once and was retried
    assert result.status == "succeeded", result.error
    new = set(store.iterdir()) - before
    assert len(new) == 1  # one backup directory, taken once, by the first attempt
    (backup,) = new
    assert result.backups[0].path == str(backup / "env")
    for service in inv.services:
        baseline = inv.backups.baseline_dir / service.path / ".env"
        assert inv.service_env(service).read_bytes() == baseline.read_bytes()
