"""Tasks over a terraform stack: state backup, destroy preview, destroy (Checkpoints Charlie, Delta)."""

from __future__ import annotations

from pathlib import Path

from recovery import clients
from recovery.adapters.terraform_models import DestroyPlan, DestroyResult, StateBackup
from recovery.inventory import Inventory
from tasks.policy import act, inspect


@inspect
def plan_destroy(inv: Inventory, stack: str, targets: list[str] | None) -> DestroyPlan:
    """The exact addresses a (targeted) destroy would remove: what the approval form shows."""
    return clients.terraform(inv, stack).plan_destroy(targets or None)


@act
def state_pull(inv: Inventory, stack: str, dest: Path) -> StateBackup:
    """``terraform state pull`` to a 0600 file, verified (JSON, serial, checksum)."""
    return clients.terraform(inv, stack).state_pull(dest)


@act
def destroy(inv: Inventory, stack: str, targets: list[str] | None, expect: DestroyPlan) -> DestroyResult:
    """Destroy exactly what was approved: refuses if the plan changed since (``expect``)."""
    return clients.terraform(inv, stack).destroy(targets or None, expect=expect)
