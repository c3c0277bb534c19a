"""The one shape every checkpoint has: inspect -> plan -> (dry run stops) -> approve -> back up ->
act -> verify, recording everything into a :class:`RecoveryResult`.

A checkpoint is a :class:`Checkpoint`: four small functions. :func:`run_checkpoint` owns the order,
the approval, the dry run, the error handling and the records, so no flow repeats them:

* a dry run records the plan (every action ``planned``) and touches nothing -- not even the backup
  store;
* a plan made only of ``verify`` actions means the world is already as wanted: no approval, no
  backup, every action ``already`` (that is how a second run says what was already done);
* a rejection or an approval timeout changes nothing and is recorded;
* backups are taken *after* the approval (a rejection leaves no trace) and *before* the first
  destructive step; each must come back verified or the checkpoint stops;
* a failure stops the run with its reason in the result; the backups already taken stay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from prefect import get_run_logger
from prefect.context import FlowRunContext

from flows.approval import request_approval
from recovery.adapters.files import new_backup_dir
from recovery.domain.models import ActionRecord, BackupRecord, Outcome, RecoveryResult
from recovery.domain.plan import Plan
from recovery.errors import PermanentError, RecoveryError
from recovery.inventory import Inventory
from recovery.secrets import REDACTOR

T = TypeVar("T")

DEFAULT_APPROVAL_TIMEOUT_S = 3600


@dataclass
class Journal:
    """What a checkpoint did so far: actions with timings, and backups. Kept even when a step fails."""

    actions: list[ActionRecord] = field(default_factory=list)
    backups: list[BackupRecord] = field(default_factory=list)

    @contextmanager
    def step(self, name: str, target: str) -> Iterator[list[str]]:
        """Time one action. The body may append detail strings to the yielded list; appending
        ``"already"`` first records the outcome ``already`` (the world was already as wanted) instead
        of ``done``. An exception records ``failed`` with its (redacted) text and propagates."""
        started, began = datetime.now(UTC), time.monotonic()
        notes: list[str] = []
        try:
            yield notes
        except BaseException as exc:
            self._add(name, target, started, began, "failed", REDACTOR.redact(str(exc)))
            raise
        outcome: Outcome = "already" if notes[:1] == ["already"] else "done"
        self._add(name, target, started, began, outcome, "; ".join(n for n in notes if n != "already"))

    def record(self, name: str, target: str, outcome: Outcome, detail: str = "") -> None:
        now = datetime.now(UTC)
        self.actions.append(ActionRecord(name=name, target=target, started_at=now, outcome=outcome,
                                         detail=detail))

    def backup(self, record: BackupRecord) -> None:
        if not record.verified:
            raise PermanentError(f"backup {record.kind} at {record.path} could not be verified")
        self.backups.append(record)

    def _add(self, name: str, target: str, started: datetime, began: float, outcome: Outcome,
             detail: str) -> None:
        self.actions.append(ActionRecord(name=name, target=target, started_at=started,
                                         duration_s=round(time.monotonic() - began, 3), outcome=outcome,
                                         detail=detail))


@dataclass(frozen=True)
class Checkpoint:
    """One recovery checkpoint, as four steps over the inventory.

    ``inspect`` reads the world and returns the plan (pure planning on observed state); ``backup``
    takes verified backups of everything the plan will overwrite or destroy into a fresh directory;
    ``act`` carries the plan out; ``verify`` checks the world is now as wanted (raise if not)."""

    name: str
    purpose: str
    inspect: Callable[[Inventory], Plan]
    backup: Callable[[Inventory, Plan, Path, Journal], None]
    act: Callable[[Inventory, Plan, Journal], None]
    verify: Callable[[Inventory, Journal], None]


def run_id() -> str | None:
    ctx = FlowRunContext.get()
    return str(ctx.flow_run.id) if ctx and ctx.flow_run else None


def backup_dir_for(inv: Inventory, checkpoint: str) -> Path:
    """The run's own backup directory: ``CHECKPOINT-YYYYmmdd-HHMMSS-RUNID8`` under the store.

    Derived from the flow run (its creation time and id), not from the clock, so that when a crashed
    run is retried the persisted backup tasks are found in the cache under the same inputs and are
    not taken twice."""
    ctx = FlowRunContext.get()
    if not (ctx and ctx.flow_run and ctx.flow_run.created):
        return new_backup_dir(inv.backups.store_dir, checkpoint)
    stamp = ctx.flow_run.created.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    return inv.backups.store_dir / f"{checkpoint}-{stamp}-{str(ctx.flow_run.id)[:8]}"


def run_checkpoint(
    checkpoint: Checkpoint,
    inv: Inventory,
    *,
    dry_run: bool,
    auto_approve: bool,
    approval_timeout_s: int = DEFAULT_APPROVAL_TIMEOUT_S,
) -> RecoveryResult:
    """Carry out ``checkpoint`` and return everything it did; never raises for a recovery fault
    (the result's ``status`` and ``error`` say what happened)."""
    logger = get_run_logger()
    journal = Journal()
    result = RecoveryResult(run_id=run_id(), checkpoint=checkpoint.name, dry_run=dry_run,
                            started_at=datetime.now(UTC), status="failed",
                            decision=f"Checkpoint {checkpoint.name} requested: {checkpoint.purpose}.")
    try:
        plan = checkpoint.inspect(inv)
        result.plan = plan
        logger.info("Plan for checkpoint %s:\n%s", checkpoint.name, plan.to_markdown())
        if dry_run:
            for action in plan.actions:
                journal.record(action.kind, action.target, "planned", action.detail)
            result.status = "dry_run"
            result.decision += " Dry run: the plan above was recorded and nothing was changed."
        elif all(action.kind == "verify" for action in plan.actions):
            for action in plan.actions:
                journal.record(action.kind, action.target, "already", action.detail)
            result.decision += " Nothing to overwrite or destroy: the world is already in that state."
            checkpoint.verify(inv, journal)
            result.status = "succeeded"
        else:
            approval = request_approval(plan, auto_approve=auto_approve, timeout_s=approval_timeout_s)
            result.approval = approval
            if approval.timed_out:
                result.status = "timed_out"
            elif not approval.approved:
                result.status = "rejected"
            else:
                backup_dir = backup_dir_for(inv, checkpoint.name)
                checkpoint.backup(inv, plan, backup_dir, journal)
                checkpoint.act(inv, plan, journal)
                checkpoint.verify(inv, journal)
                result.status = "succeeded"
    except RecoveryError as exc:
        result.error = f"{type(exc).__name__}: {REDACTOR.redact(str(exc))}"
        logger.error("Checkpoint %s failed: %s", checkpoint.name, result.error)
    finally:
        result.actions, result.backups = journal.actions, journal.backups
        result.finished_at = datetime.now(UTC)
    return result


def path_in(directory: Path, name: str) -> Path:
    """A file in a backup directory (created 0700 on first use)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory / name
