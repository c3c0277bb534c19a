"""Checkpoints Alpha and Bravo: put known-good ``.env`` files back into the project tree.

Alpha restores every ``*.env`` of the pre-deployment baseline to the same relative path; Bravo
copies the emergency ``.env.new`` to the root ``.env`` and to each listed service. Both have the same
shape -- plan the file changes, back up the files about to be overwritten, restore, check the bytes --
so both are built by :func:`file_checkpoint`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flows.runner import Checkpoint, Journal
from recovery.adapters.files import RestoredFile, sha256_file
from recovery.domain.models import BackupRecord
from recovery.domain.plan import Plan, PlannedAction
from recovery.errors import NotFoundError, PermanentError
from recovery.inventory import Inventory
from tasks import files as file_tasks

Planner = Callable[[Inventory], list[RestoredFile]]
Restorer = Callable[[Inventory], list[RestoredFile]]


def _plan(title: str, changes: list[RestoredFile]) -> Plan:
    actions = [
        PlannedAction(
            kind="overwrite" if c.sha256_before else "restore",
            target=c.path.as_posix(),
            detail=f"{c.action} from {c.source}",
        )
        if c.changed
        else PlannedAction(kind="verify", target=c.path.as_posix(), detail="already identical")
        for c in changes
    ]
    return Plan(title=title, actions=actions)


def file_checkpoint(name: str, purpose: str, title: str, planner: Planner, restorer: Restorer) -> Checkpoint:
    """A checkpoint that restores files: ``planner`` says what would change, ``restorer`` does it."""

    def inspect(inv: Inventory) -> Plan:
        return _plan(title, planner(inv))

    def backup(inv: Inventory, plan: Plan, directory: Path, journal: Journal) -> None:
        paths = [Path(a.target) for a in plan.actions if a.kind in ("overwrite", "restore")]
        with journal.step("backup", f"{len(paths)} current file(s)") as notes:
            taken = file_tasks.backup_files(inv, paths, directory / "env")
            notes.append(f"{len(taken.present)} file(s) copied and checksummed")
        manifest = taken.directory / "manifest.json"
        journal.backup(BackupRecord(kind="env-files", path=str(taken.directory), verified=True,
                                    checksum=f"sha256:{sha256_file(manifest)}",
                                    size=sum(e.size or 0 for e in taken.present),
                                    detail=f"{len(taken.present)} file(s); manifest.json lists each sha256"))

    def act(inv: Inventory, plan: Plan, journal: Journal) -> None:
        with journal.step("restore", f"{len(plan.actions)} file(s)") as notes:
            restored = restorer(inv)
            notes.append(", ".join(f"{r.path.as_posix()}: {r.action}" for r in restored))

    def verify(inv: Inventory, journal: Journal) -> None:
        with journal.step("verify", "restored bytes equal their source") as notes:
            differing = [c.path.as_posix() for c in planner(inv) if c.changed]
            if differing:
                raise PermanentError(f"after the restore these files still differ: {', '.join(differing)}")
            notes.append("every file matches its source")

    return Checkpoint(name=name, purpose=purpose, inspect=inspect, backup=backup, act=act, verify=verify)


# -- Alpha --------------------------------------------------------------------------------------------
def _baseline(inv: Inventory) -> Path:
    baseline = inv.backups.baseline_dir
    if not baseline.is_dir():
        raise NotFoundError(f"CRITICAL: no baseline backup found at {baseline}: initiate manual recovery")
    return baseline


ALPHA = file_checkpoint(
    "alpha",
    "restore every .env file from the pre-deployment baseline backup",
    "Checkpoint Alpha: restore the pre-deployment baseline",
    planner=lambda inv: file_tasks.plan_restore_tree(inv, _baseline(inv)),
    restorer=lambda inv: file_tasks.restore_tree(inv, _baseline(inv)),
)


# -- Bravo --------------------------------------------------------------------------------------------
def _emergency(inv: Inventory) -> Path:
    source = inv.backups.emergency_dir / ".env.new"
    if not source.is_file():
        raise NotFoundError(f"emergency credentials not found at {source}")
    return source


def _bravo_targets(inv: Inventory) -> list[Path]:
    return [Path(".env")] + [s.path / s.env_file for s in inv.bravo_services()]


BRAVO = file_checkpoint(
    "bravo",
    "restore the emergency credentials (.env.new) to the root .env and the listed services",
    "Checkpoint Bravo: restore the emergency credentials",
    planner=lambda inv: file_tasks.plan_restore_files(inv, _emergency(inv), _bravo_targets(inv)),
    restorer=lambda inv: file_tasks.restore_files(inv, _emergency(inv), _bravo_targets(inv)),
)
