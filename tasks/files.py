"""Tasks over the project's env files: plan a restore, back up, restore (Checkpoints Alpha and Bravo)."""

from __future__ import annotations

from pathlib import Path

from recovery import clients
from recovery.adapters.files import Backup, RestoredFile
from recovery.inventory import Inventory
from tasks.policy import act, inspect


@inspect
def plan_restore_tree(inv: Inventory, src_dir: Path, pattern: str = "*.env") -> list[RestoredFile]:
    """What restoring every ``pattern`` file of ``src_dir`` would change (nothing is written)."""
    return clients.files(inv).plan_restore_tree(src_dir, pattern)


@inspect
def plan_restore_files(inv: Inventory, src: Path, dest_rels: list[Path]) -> list[RestoredFile]:
    """What copying ``src`` to each of ``dest_rels`` would change (nothing is written)."""
    return clients.files(inv).plan_restore_files(src, dest_rels)


@act
def backup_files(inv: Inventory, paths: list[Path], dest_dir: Path) -> Backup:
    """Copy the current files into ``dest_dir`` with a manifest, then re-read every checksum."""
    files = clients.files(inv)
    taken = files.backup(paths, dest_dir)
    return files.verify(taken.directory)


@act
def restore_tree(inv: Inventory, src_dir: Path, pattern: str = "*.env") -> list[RestoredFile]:
    return clients.files(inv).restore_tree(src_dir, pattern)


@act
def restore_files(inv: Inventory, src: Path, dest_rels: list[Path]) -> list[RestoredFile]:
    return clients.files(inv).restore_files(src, dest_rels)
