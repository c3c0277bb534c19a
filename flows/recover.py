"""The seed's "One-Click Recovery Script" and its four checkpoints, as Prefect flows.

``recover(checkpoint)`` takes the recovery lock, runs the checkpoint (pausing for approval before
anything destructive), validates the world, and writes the recovery report. Each checkpoint is also a
flow of its own (``checkpoint-alpha`` ...) for the Prefect UI, sharing the same steps.

Flow parameters are references only (an inventory path, names): never a secret.
"""

from __future__ import annotations

from pathlib import Path

from prefect import Flow, flow, get_run_logger

from flows.checkpoint_files import ALPHA, BRAVO
from flows.checkpoint_infra import CHARLIE, DELTA
from flows.lock import recovery_lock
from flows.logging_setup import install_prefect_redaction
from flows.reporting import publish_report
from flows.runner import DEFAULT_APPROVAL_TIMEOUT_S, Checkpoint, run_checkpoint
from flows.validate import validate
from recovery.domain.models import RecoveryResult
from recovery.errors import ConfigError, RecoveryError
from recovery.inventory import Inventory, load_inventory

CHECKPOINTS: dict[str, Checkpoint] = {c.name: c for c in (ALPHA, BRAVO, CHARLIE, DELTA)}
VALID_CHOICES = [*CHECKPOINTS, "auto-detect"]
LOCK_WAIT_S = 10.0


class RecoveryFailed(RecoveryError):
    """The recovery ran and failed; the report (path in the message) says where and why."""

    def __init__(self, message: str, report: Path) -> None:
        super().__init__(message)
        self.report = report


def checkpoint_for(name: str) -> Checkpoint:
    """The checkpoint called ``name``; anything else is a clear error naming the valid ones."""
    if name == "auto-detect":
        raise ConfigError(
            "auto-detect (smart recovery) is not available yet: choose one of "
            + ", ".join(CHECKPOINTS)
        )
    try:
        return CHECKPOINTS[name]
    except KeyError:
        raise ConfigError(
            f"Unknown checkpoint: {name}. Valid options: {', '.join(VALID_CHOICES)}"
        ) from None


def _finish(result: RecoveryResult, inv: Inventory) -> RecoveryResult:
    report = publish_report(result, inv)
    get_run_logger().info("Recovery report: %s", report)
    if result.status == "failed":
        raise RecoveryFailed(f"checkpoint {result.checkpoint} failed: {result.error} (report: {report})",
                             report)
    return result


def _execute(
    name: str, inventory: str | None, *, dry_run: bool, auto_approve: bool, approval_timeout_s: int,
    validate_after: bool,
) -> RecoveryResult:
    install_prefect_redaction()
    checkpoint = checkpoint_for(name)
    inv = load_inventory(inventory)
    if dry_run:  # a dry run changes nothing, so it needs no lock and never waits for one
        return _finish(run_checkpoint(checkpoint, inv, dry_run=True, auto_approve=False), inv)
    with recovery_lock(wait_s=LOCK_WAIT_S):
        result = run_checkpoint(checkpoint, inv, dry_run=False, auto_approve=auto_approve,
                                approval_timeout_s=approval_timeout_s)
        if validate_after and result.status in ("succeeded", "failed"):
            result.validation = validate(inv)
        return _finish(result, inv)


@flow(name="recover", persist_result=True, log_prints=True)
def recover(
    checkpoint: str,
    inventory: str | None = None,
    dry_run: bool = False,
    auto_approve: bool = False,
    approval_timeout_s: int = DEFAULT_APPROVAL_TIMEOUT_S,
) -> RecoveryResult:
    """One-click recovery: run ``checkpoint`` (alpha | bravo | charlie | delta | auto-detect), then the
    validation checklist, then write the recovery report."""
    return _execute(checkpoint, inventory, dry_run=dry_run, auto_approve=auto_approve,
                    approval_timeout_s=approval_timeout_s, validate_after=True)


def _checkpoint_flow(name: str) -> Flow[..., RecoveryResult]:
    checkpoint = CHECKPOINTS[name]

    @flow(name=f"checkpoint-{name}", persist_result=True, log_prints=True,
          description=f"Checkpoint {name.capitalize()}: {checkpoint.purpose}.")
    def run(
        inventory: str | None = None,
        dry_run: bool = False,
        auto_approve: bool = False,
        approval_timeout_s: int = DEFAULT_APPROVAL_TIMEOUT_S,
    ) -> RecoveryResult:
        return _execute(name, inventory, dry_run=dry_run, auto_approve=auto_approve,
                        approval_timeout_s=approval_timeout_s, validate_after=False)

    return run


checkpoint_alpha = _checkpoint_flow("alpha")
checkpoint_bravo = _checkpoint_flow("bravo")
checkpoint_charlie = _checkpoint_flow("charlie")
checkpoint_delta = _checkpoint_flow("delta")
