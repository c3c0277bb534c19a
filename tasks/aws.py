"""Tasks over AWS Secrets Manager: list by prefix, export (backup), force-delete."""

from __future__ import annotations

from pathlib import Path

from recovery import clients
from recovery.adapters.aws_models import DeletedSecret, ExportInfo, SecretSummary
from recovery.inventory import Inventory
from tasks.policy import act, inspect


@inspect
def list_secrets(inv: Inventory, include_planned_deletion: bool = True) -> list[SecretSummary]:
    """Every secret under the inventory's prefix (by default also those already scheduled for deletion,
    since they still exist and still hold values)."""
    return clients.aws(inv).list_secrets(
        inv.aws.secret_prefix, include_planned_deletion=include_planned_deletion
    )


@act
def export_secrets(inv: Inventory, dest: Path) -> ExportInfo:
    """Names and values under the prefix to a 0600 JSON file, checksummed after writing."""
    return clients.aws(inv).export_secrets(inv.aws.secret_prefix, dest)


@act
def force_delete_secret(inv: Inventory, name: str) -> DeletedSecret:
    """Delete one secret at once, without a recovery window (the export above is the way back)."""
    return clients.aws(inv).delete_secret(name, recovery_window_days=None)
