"""Checkpoints Alpha-Delta through ``recover``, against the rehearsal world and a real Prefect API.

Each test starts from a freshly reset world (the playbook's "after a failed deployment") and checks
the world afterwards: file bytes, secrets, terraform state, namespace, PVs, Vault data.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
import yaml

from flows.approval import resume_decision
from flows.recover import recover
from recovery import clients
from recovery.domain.models import RecoveryResult
from recovery.inventory import Inventory
from recovery.sandbox import k8s_server
from recovery.sandbox import world as sandbox
from tests.fixtures.aws import FlakyProxy
from tests.fixtures.world import World
from tests.flow_helpers import fingerprint, newest_report, run_in_thread, wait_for_paused_run

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.timeout(300)]


@pytest.fixture
def fresh(world: World) -> Inventory:
    """The world reset to its seeded state; returns its inventory."""
    sandbox.reset(world.dir)
    return world.inventory


def _run(inv: Inventory, checkpoint: str, **options: object) -> RecoveryResult:
    path = str(_inventory_file(inv))
    result = recover(checkpoint=checkpoint, inventory=path, **options)
    assert isinstance(result, RecoveryResult)
    return result


def _inventory_file(inv: Inventory) -> Path:
    return Path(inv.reports_dir).parent / "inventory.yaml"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _decide(inv: Inventory, checkpoint: str, *, approved: bool, who: str) -> RecoveryResult:
    since = time.time()
    future = run_in_thread(recover, checkpoint=checkpoint, inventory=str(_inventory_file(inv)))
    run_id = wait_for_paused_run("recover", since)
    resume_decision(run_id, approved=approved, approver=who, reason="weekly drill")
    state = future.result(timeout=120)
    result = state.result()
    assert isinstance(result, RecoveryResult)
    return result


# -- Alpha ------------------------------------------------------------------------------------------
def test_alpha_approved_restores_every_env_file_to_the_baseline_bytes_after_backing_them_up(
    fresh: Inventory,
) -> None:
    before = {s.name: fresh.service_env(s).read_bytes() for s in fresh.services}
    result = _decide(fresh, "alpha", approved=True, who="alice")
    assert result.status == "succeeded", result.error
    assert result.approval and result.approval.approver == "alice"
    for service in fresh.services:
        baseline = fresh.backups.baseline_dir / service.path / ".env"
        assert fresh.service_env(service).read_bytes() == baseline.read_bytes()
    backup = Path(result.backups[0].path)
    for service in fresh.services:  # the overwritten bytes are kept
        assert (backup / service.path / ".env").read_bytes() == before[service.name]
    report = newest_report(fresh)
    assert "alice" in report and "weekly drill" in report and str(backup) in report


def test_alpha_rejected_changes_nothing_and_records_who_rejected(fresh: Inventory) -> None:
    before = fingerprint(fresh)
    result = _decide(fresh, "alpha", approved=False, who="bob")
    assert result.status == "rejected" and result.backups == []
    assert fingerprint(fresh) == before
    assert "bob" in newest_report(fresh)


def test_alpha_dry_run_changes_nothing_and_lists_the_plan(fresh: Inventory) -> None:
    before = fingerprint(fresh)
    store = sorted(fresh.backups.store_dir.iterdir()) if fresh.backups.store_dir.exists() else []
    result = _run(fresh, "alpha", dry_run=True)
    assert result.status == "dry_run"
    assert fingerprint(fresh) == before
    assert (sorted(fresh.backups.store_dir.iterdir()) if fresh.backups.store_dir.exists() else []) == store
    assert {a.outcome for a in result.actions} == {"planned"}
    assert "clos/api-server/.env" in newest_report(fresh)


def test_alpha_run_twice_says_the_second_time_that_everything_was_already_in_place(
    fresh: Inventory,
) -> None:
    assert _run(fresh, "alpha", auto_approve=True).status == "succeeded"
    again = _run(fresh, "alpha", auto_approve=True)
    assert again.status == "succeeded" and again.approval is None and again.backups == []
    assert [a.outcome for a in again.actions if a.name == "verify"][:-1] == ["already"] * 6


def test_alpha_without_a_baseline_fails_clearly_and_changes_nothing(
    fresh: Inventory, world: World, tmp_path: Path
) -> None:
    doc = yaml.safe_load(world.inventory_path.read_text())
    doc["backups"]["baseline_dir"] = str(tmp_path / "missing")
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(doc))
    before = fingerprint(fresh)
    state = recover(checkpoint="alpha", inventory=str(path), auto_approve=True, return_state=True)
    assert state.is_failed()
    assert "no baseline backup found" in str(state.result(raise_on_failure=False))
    assert fingerprint(fresh) == before


# -- Bravo ------------------------------------------------------------------------------------------
def test_bravo_writes_the_emergency_credentials_to_the_root_and_the_listed_services_only(
    fresh: Inventory,
) -> None:
    others = {s.name: _sha(fresh.service_env(s)) for s in fresh.services if s not in fresh.bravo_services()}
    result = _run(fresh, "bravo", auto_approve=True)
    assert result.status == "succeeded", result.error
    assert result.approval and result.approval.auto
    emergency = (fresh.backups.emergency_dir / ".env.new").read_bytes()
    assert (fresh.project_root / ".env").read_bytes() == emergency
    assert all(fresh.service_env(s).read_bytes() == emergency for s in fresh.bravo_services())
    assert {s.name: _sha(fresh.service_env(s)) for s in fresh.services if s.name in others} == others
    again = _run(fresh, "bravo", auto_approve=True)
    assert again.backups == [] and "already" in {a.outcome for a in again.actions}


def test_bravo_rejected_and_dry_run_change_nothing(fresh: Inventory) -> None:
    before = fingerprint(fresh)
    assert _run(fresh, "bravo", dry_run=True).status == "dry_run"
    assert _decide(fresh, "bravo", approved=False, who="carol").status == "rejected"
    assert fingerprint(fresh) == before


# -- Charlie ----------------------------------------------------------------------------------------
def test_charlie_destroys_the_aws_modules_and_leaves_no_secret_under_the_prefix(fresh: Inventory) -> None:
    aws = clients.aws(fresh)
    names = sorted(s.name for s in aws.list_secrets(fresh.aws.secret_prefix))
    result = _run(fresh, "charlie", auto_approve=True)
    assert result.status == "succeeded", result.error
    assert aws.list_secrets(fresh.aws.secret_prefix, include_planned_deletion=True) == []
    assert not [a for a in clients.terraform(fresh, "secrets-management").state_list()
                if a.startswith(("module.secrets_manager", "module.kms"))]
    kinds = {b.kind: b for b in result.backups}
    state = json.loads(Path(kinds["terraform-state"].path).read_text())
    assert state["serial"] == kinds["terraform-state"].serial
    exported = json.loads(Path(kinds["aws-secrets-export"].path).read_text())
    assert sorted(s["name"] for s in exported["secrets"]) == names
    planned = [a.target for a in result.plan.actions if a.kind == "destroy"] if result.plan else []
    assert any(a.startswith("module.kms") for a in planned)
    assert any(a.startswith("module.secrets_manager") for a in planned)
    again = _run(fresh, "charlie", auto_approve=True)
    assert again.status == "succeeded" and again.backups == []


def test_charlie_rejected_and_dry_run_change_nothing_and_list_the_destroy_addresses(
    fresh: Inventory,
) -> None:
    before = fingerprint(fresh)
    dry = _run(fresh, "charlie", dry_run=True)
    assert any(a.target.startswith("module.secrets_manager") for a in dry.actions)
    assert any(a.target.startswith("/candlefish/") for a in dry.actions)
    assert _decide(fresh, "charlie", approved=False, who="dave").status == "rejected"
    assert fingerprint(fresh) == before


def test_charlie_retries_an_aws_endpoint_that_fails_briefly_and_succeeds(
    fresh: Inventory, world: World, tmp_path: Path
) -> None:
    proxy = FlakyProxy(fresh.aws.endpoint_url or "")
    try:
        doc = yaml.safe_load(world.inventory_path.read_text())
        doc["aws"]["endpoint_url"] = proxy.address
        path = tmp_path / "inventory.yaml"
        path.write_text(yaml.safe_dump(doc))
        proxy.fail_next(3)  # more than botocore's own 2 attempts: the task itself must retry
        result = recover(checkpoint="charlie", inventory=str(path), auto_approve=True)
        assert result.status == "succeeded", result.error
        assert proxy.failed == 3
        assert clients.aws(fresh).list_secrets(fresh.aws.secret_prefix, include_planned_deletion=True) == []
    finally:
        proxy.close()


# -- Delta ------------------------------------------------------------------------------------------
def test_delta_snapshots_vault_then_removes_the_stack_the_namespace_and_the_vault_pvs(
    fresh: Inventory,
) -> None:
    vault = clients.vault(fresh)
    result = _run(fresh, "delta", auto_approve=True)
    assert result.status == "succeeded", result.error
    with clients.kubernetes(fresh) as k8s:
        assert not k8s.namespace_exists(fresh.vault.namespace)
        assert k8s.list_pvs(fresh.vault.pv_label) == []
        assert k8s.list_pvs("app=backups")  # a PV without the label survives
    assert clients.terraform(fresh, "vault").state_list() == []
    snapshot = next(b for b in result.backups if b.kind == "vault-raft-snapshot")
    assert Path(snapshot.path).stat().st_size == snapshot.size > 0
    # the snapshot really restores into the running OpenBao
    path = vault.list_kv_paths()[0]
    original = {k: v.get_secret_value() for k, v in vault.read_kv(path).items()}
    _overwrite_kv(fresh, path)
    vault.restore(Path(snapshot.path))
    assert {k: v.get_secret_value() for k, v in clients.vault(fresh).read_kv(path).items()} == original
    again = _run(fresh, "delta", auto_approve=True)
    assert again.status == "succeeded" and again.backups == []


def _overwrite_kv(inv: Inventory, path: str) -> None:
    import hvac

    client = hvac.Client(url=inv.vault.address, token=inv.vault.token.resolve().get_secret_value())
    client.secrets.kv.v2.create_or_update_secret(path=path, secret={"changed": "yes"}, mount_point="secret")


def test_delta_rejected_and_dry_run_change_nothing(fresh: Inventory) -> None:
    before = fingerprint(fresh)
    dry = _run(fresh, "delta", dry_run=True)
    assert {f"namespace/{fresh.vault.namespace}"} <= {a.target for a in dry.actions}
    assert _decide(fresh, "delta", approved=False, who="erin").status == "rejected"
    assert fingerprint(fresh) == before


def test_delta_with_a_permanent_kubernetes_fault_fails_with_the_reason_and_keeps_the_backups(
    fresh: Inventory,
) -> None:
    assert fresh.kubernetes.kubeconfig is not None
    # the namespace delete (the first DELETE, after the snapshot and the terraform destroy) is refused
    k8s_server.inject_faults(fresh.kubernetes.kubeconfig, status=403, count=1, method="DELETE")
    state = recover(checkpoint="delta", inventory=str(_inventory_file(fresh)), auto_approve=True,
                    return_state=True)
    assert state.is_failed()
    report = newest_report(fresh)
    assert "failed" in report and ("403" in report or "Forbidden" in report)
    for line in report.splitlines():
        if "vault-raft-snapshot" in line:
            snapshot = Path(line.split("|")[2].strip())
            assert snapshot.stat().st_size > 0
            break
    else:
        raise AssertionError("the report lists no snapshot")
