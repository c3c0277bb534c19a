"""Checkpoints Charlie and Delta: take down the AWS secrets stack, or the Vault stack.

Charlie: ``terraform state pull`` and an export of every secret under the prefix, then a targeted
destroy of ``module.secrets_manager`` and ``module.kms``, then a force-delete of whatever is still
under the prefix (the playbook's manual clean-up), and a check that nothing is left.

Delta: a verified raft snapshot and a state pull, then ``terraform destroy`` of the Vault stack,
deletion of the ``vault`` namespace (forced after a grace period) and of the PVs labelled
``app=vault``, and a check that all three are gone. No snapshot (Vault sealed or down) -> no destroy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flows.runner import Checkpoint, Journal, path_in
from recovery.adapters.terraform_models import DestroyPlan
from recovery.domain.models import BackupRecord
from recovery.domain.plan import Plan, PlannedAction
from recovery.errors import NotFoundError, PermanentError
from recovery.inventory import Inventory
from tasks import aws as aws_tasks
from tasks import kubernetes as k8s_tasks
from tasks import terraform as tf_tasks
from tasks import vault as vault_tasks

AWS_STACK = "secrets-management"
VAULT_STACK = "vault"
NAMESPACE_GRACE_S = 60


def _targets(inv: Inventory, stack: str) -> list[str]:
    inv.stack_dir(stack)  # an unknown stack is a clear ConfigError here, before anything runs
    return list(inv.terraform.stacks[stack].targets)


def _destroy_actions(plan: DestroyPlan) -> list[PlannedAction]:
    return [PlannedAction(kind="destroy", target=a, detail=f"terraform, {plan.working_dir.name}")
            for a in plan.addresses]


def _approved(plan: Plan, inv: Inventory, stack: str) -> DestroyPlan:
    """The destroy the approver saw, so the task refuses to run if terraform now plans another one."""
    return DestroyPlan(working_dir=inv.stack_dir(stack), targets=_targets(inv, stack),
                       addresses=[a.target for a in plan.actions if a.kind == "destroy"])


def _backup_state(inv: Inventory, stack: str, directory: Path, journal: Journal) -> None:
    with journal.step("backup", f"terraform state of {stack}") as notes:
        state = tf_tasks.state_pull(inv, stack, path_in(directory, f"terraform.{stack}.tfstate.backup"))
        notes.append(f"serial {state.serial}, {state.resource_count} resource(s)")
    journal.backup(BackupRecord(kind="terraform-state", path=str(state.path), verified=True,
                                checksum=f"sha256:{state.sha256}", size=state.size_bytes, serial=state.serial,
                                detail=f"lineage {state.lineage}"))


def _destroy(inv: Inventory, stack: str, plan: Plan, journal: Journal) -> None:
    expect = _approved(plan, inv, stack)
    if not expect.addresses:
        return
    with journal.step("terraform destroy", f"{stack}: {', '.join(expect.targets) or 'whole stack'}") as notes:
        done = tf_tasks.destroy(inv, stack, expect.targets, expect)
        notes.append(f"{done.count} resource(s) destroyed")


def _nothing_left(inv: Inventory, stack: str) -> list[str]:
    return tf_tasks.plan_destroy(inv, stack, _targets(inv, stack)).addresses


def _verify_gone(journal: Journal, what: str, leftovers: Callable[[], list[str]], *, done: str) -> None:
    """The last step of a rollback: re-read the world and fail naming everything still there, so a
    "rolled back" journal is never written over a half-removed stack."""
    with journal.step("verify", what) as notes:
        left = leftovers()
        if left:
            raise PermanentError(f"still present after the rollback: {', '.join(left)}")
        notes.append(done)


# -- Charlie --------------------------------------------------------------------------------------------
def _charlie_inspect(inv: Inventory) -> Plan:
    tf = tf_tasks.plan_destroy(inv, AWS_STACK, _targets(inv, AWS_STACK))
    secrets = aws_tasks.list_secrets(inv)
    actions = _destroy_actions(tf) + [
        PlannedAction(kind="delete", target=s.name, detail="force, no recovery window") for s in secrets
    ]
    prefix = inv.aws.secret_prefix
    return Plan(title="Checkpoint Charlie: roll back AWS Secrets Manager and KMS",
                actions=actions or [PlannedAction(kind="verify", target=prefix,
                                                  detail="no terraform resource and no secret left")])


def _charlie_backup(inv: Inventory, plan: Plan, directory: Path, journal: Journal) -> None:
    _backup_state(inv, AWS_STACK, directory, journal)
    with journal.step("backup", f"every secret under {inv.aws.secret_prefix}") as notes:
        export = aws_tasks.export_secrets(inv, path_in(directory, "aws-secrets.json"))
        notes.append(f"{export.count} secret(s) exported")
    journal.backup(BackupRecord(kind="aws-secrets-export", path=str(export.path), verified=True,
                                checksum=f"sha256:{export.sha256}", size=export.path.stat().st_size,
                                detail=f"{export.count} secret(s), names and values, mode 0600"))


def _charlie_act(inv: Inventory, plan: Plan, journal: Journal) -> None:
    _destroy(inv, AWS_STACK, plan, journal)
    for secret in aws_tasks.list_secrets(inv):  # what terraform did not manage: the manual clean-up
        with journal.step("force-delete secret", secret.name) as notes:
            try:
                aws_tasks.force_delete_secret(inv, secret.name)
            except NotFoundError:
                notes.append("already")


def _charlie_verify(inv: Inventory, journal: Journal) -> None:
    _verify_gone(
        journal, f"nothing left under {inv.aws.secret_prefix}",
        lambda: [s.name for s in aws_tasks.list_secrets(inv)] + _nothing_left(inv, AWS_STACK),
        done="no secret under the prefix, no resource under the targets",
    )


CHARLIE = Checkpoint(
    name="charlie",
    purpose="roll back AWS Secrets Manager: destroy module.secrets_manager and module.kms",
    inspect=_charlie_inspect, backup=_charlie_backup, act=_charlie_act, verify=_charlie_verify,
)


# -- Delta ----------------------------------------------------------------------------------------------
def _delta_inspect(inv: Inventory) -> Plan:
    tf = tf_tasks.plan_destroy(inv, VAULT_STACK, _targets(inv, VAULT_STACK))
    actions = _destroy_actions(tf)
    namespace = inv.vault.namespace
    if k8s_tasks.namespace_exists(inv, namespace):
        actions.append(PlannedAction(kind="delete", target=f"namespace/{namespace}",
                                     detail=f"everything in it; forced after {NAMESPACE_GRACE_S} s"))
    actions += [PlannedAction(kind="delete", target=f"pv/{pv.name}", detail=f"label {inv.vault.pv_label}")
                for pv in k8s_tasks.list_pvs(inv, inv.vault.pv_label)]
    return Plan(title="Checkpoint Delta: roll back the Vault cluster",
                actions=actions or [PlannedAction(kind="verify", target=f"namespace/{namespace}",
                                                  detail="stack, namespace and PVs already gone")])


def _delta_backup(inv: Inventory, plan: Plan, directory: Path, journal: Journal) -> None:
    with journal.step("backup", f"vault raft snapshot of {inv.vault.address}") as notes:
        health = vault_tasks.vault_health(inv)
        if not health.ok:
            raise PermanentError(
                f"Vault is {health.state.value} ({health.detail}): no raft snapshot can be taken, "
                "so nothing is destroyed; unseal or restore Vault first"
            )
        snap = vault_tasks.raft_snapshot(inv, path_in(directory, "vault-raft.snap"))
        notes.append(f"{snap.size} bytes, raft index {snap.raft_index}")
    journal.backup(BackupRecord(kind="vault-raft-snapshot", path=str(snap.path), verified=True,
                                checksum=f"sha256:{snap.sha256}", size=snap.size,
                                detail="gzip tar, internal SHA256SUMS checked"))
    if any(a.kind == "destroy" for a in plan.actions):
        _backup_state(inv, VAULT_STACK, directory, journal)


def _delta_act(inv: Inventory, plan: Plan, journal: Journal) -> None:
    _destroy(inv, VAULT_STACK, plan, journal)
    namespace = inv.vault.namespace
    with journal.step("delete namespace", namespace) as notes:
        gone = k8s_tasks.delete_namespace(inv, namespace, NAMESPACE_GRACE_S)
        notes.append("already" if gone.outcome == "already_absent" else gone.outcome.value)
    with journal.step("delete PVs", inv.vault.pv_label) as notes:
        names = k8s_tasks.delete_pvs(inv, inv.vault.pv_label)
        notes.append(", ".join(names) if names else "already")


def _delta_verify(inv: Inventory, journal: Journal) -> None:
    def leftovers() -> list[str]:
        left = _nothing_left(inv, VAULT_STACK)
        if k8s_tasks.namespace_exists(inv, inv.vault.namespace):
            left.append(f"namespace/{inv.vault.namespace}")
        return left + [f"pv/{pv.name}" for pv in k8s_tasks.list_pvs(inv, inv.vault.pv_label)]

    _verify_gone(journal, "vault stack, namespace and PVs gone", leftovers, done="nothing left")


DELTA = Checkpoint(
    name="delta",
    purpose="roll back the Vault cluster: snapshot, destroy the stack, delete namespace and PVs",
    inspect=_delta_inspect, backup=_delta_backup, act=_delta_act, verify=_delta_verify,
)
