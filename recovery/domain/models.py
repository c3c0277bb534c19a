"""Typed records of a recovery run: what was decided, approved, done, backed up and verified.

Every flow returns a :class:`RecoveryResult` and persists it (``persist_result=True``), and the
report is rendered from it alone -- so these models must round-trip through JSON
(``model_dump_json`` / ``model_validate_json``) and must never hold a secret value: targets and
paths are names, checksums are digests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from recovery.domain.plan import Plan

Outcome = Literal["done", "already", "skipped", "planned", "failed"]
Status = Literal["succeeded", "failed", "rejected", "timed_out", "dry_run"]


class ActionRecord(BaseModel):
    """One step carried out (or only planned, in a dry run).

    ``already`` means the world was in the wanted state before we touched it (idempotent re-run);
    ``planned`` is what a dry run records instead of ``done``."""

    name: str
    target: str
    started_at: datetime
    duration_s: float = 0.0
    outcome: Outcome
    detail: str = ""


class BackupRecord(BaseModel):
    """A backup taken before something destructive, and whether it was read back and checked.

    ``serial`` is the terraform state serial (state backups); ``checksum`` a ``sha256:...`` digest."""

    kind: str
    path: str
    verified: bool = False
    checksum: str | None = None
    size: int | None = None
    serial: int | None = None
    detail: str = ""


class ApprovalRecord(BaseModel):
    """Who let a destructive plan run, and why -- or why it did not run.

    ``required`` is False when the plan needed no approval (nothing destructive, or a dry run).
    ``auto`` marks an approval given by a parameter (drills, ``auto_approve=True``), not a person."""

    required: bool
    approved: bool
    approver: str | None = None
    reason: str | None = None
    auto: bool = False
    timed_out: bool = False
    decided_at: datetime | None = None

    def summary(self) -> str:
        """One sentence for logs and the report header."""
        if not self.required:
            return "no approval required"
        if self.timed_out:
            return "approval timed out: nobody approved or rejected the plan in time"
        if self.auto:
            return f"auto-approved ({self.reason or 'auto_approve=True'})"
        verb = "approved" if self.approved else "rejected"
        return f"{verb} by {self.approver or 'unknown'}: {self.reason or 'no reason given'}"


class CheckResult(BaseModel):
    """One health check of the validation checklist (same field names as the health adapter's)."""

    component: str
    ok: bool
    latency_ms: float | None = None
    detail: str = ""


class ValidationReport(BaseModel):
    """The validation checklist's outcome. ``healthy`` and ``failing`` are derived from ``checks``
    so they can never disagree with them."""

    checks: list[CheckResult] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def failing(self) -> list[str]:
        return [check.component for check in self.checks if not check.ok]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def healthy(self) -> bool:
        return bool(self.checks) and not self.failing


class RecoveryResult(BaseModel):
    """Everything a recovery run did, as data. The report is a pure rendering of this."""

    run_id: str | None = None
    checkpoint: str
    dry_run: bool = False
    started_at: datetime
    finished_at: datetime | None = None
    decision: str = ""
    plan: Plan | None = None
    approval: ApprovalRecord | None = None
    actions: list[ActionRecord] = Field(default_factory=list)
    backups: list[BackupRecord] = Field(default_factory=list)
    validation: ValidationReport | None = None
    status: Status
    error: str | None = None

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
