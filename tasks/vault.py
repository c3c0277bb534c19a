"""Tasks over Vault: health (data, never an exception) and a verified raft snapshot."""

from __future__ import annotations

from pathlib import Path

from recovery import clients
from recovery.adapters.vault import SnapshotInfo, VaultHealth
from recovery.inventory import Inventory
from tasks.policy import act, inspect


@inspect
def vault_health(inv: Inventory) -> VaultHealth:
    return clients.vault(inv).health()


@act
def raft_snapshot(inv: Inventory, dest: Path) -> SnapshotInfo:
    """``operator raft snapshot save`` to a 0600 file, verified as a complete raft archive."""
    return clients.vault(inv).snapshot(dest)
