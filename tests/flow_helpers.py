"""Helpers for tests that run recovery flows: the world's fingerprint, paused runs, approvals."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import StateType

from recovery import clients
from recovery.inventory import Inventory


def fingerprint(inv: Inventory) -> dict[str, Any]:
    """Everything a checkpoint could change, as comparable data: file bytes (hashed), AWS secrets,
    terraform state, Kubernetes namespace and PVs, Vault KV paths."""
    files = {
        p.relative_to(inv.project_root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(inv.project_root.rglob("*"))
        if p.is_file() and ".terraform" not in p.parts
    }
    aws = sorted(s.name for s in clients.aws(inv).list_secrets(inv.aws.secret_prefix,
                                                              include_planned_deletion=True))
    state = {name: clients.terraform(inv, name).state_list() for name in inv.terraform.stacks}
    with clients.kubernetes(inv) as k8s:
        namespace = k8s.namespace_exists(inv.vault.namespace)
        pvs = sorted(pv.name for pv in k8s.list_pvs(inv.vault.pv_label))
    kv = clients.vault(inv).list_kv_paths()
    return {"files": files, "aws": aws, "state": state, "namespace": namespace, "pvs": pvs, "kv": kv}


def run_in_thread(fn: Any, **params: Any) -> Future[Any]:
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(fn, return_state=True, **params)
    pool.shutdown(wait=False)
    return future


def wait_for_paused_run(flow_name: str, since: float, timeout: float = 60) -> str:
    """The id of the newest run of ``flow_name`` that is PAUSED, waiting up to ``timeout``."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
                ),
            )
            for run in runs:
                flow = client.read_flow(run.flow_id)
                if flow.name == flow_name and run.created and run.created.timestamp() >= since - 5:
                    return str(run.id)
            time.sleep(0.3)
    raise AssertionError(f"no paused run of {flow_name} within {timeout}s")


def newest_report(inv: Inventory) -> str:
    reports = sorted(Path(inv.reports_dir).glob("recovery-report-*.md"), key=lambda p: p.stat().st_mtime)
    assert reports, f"no report in {inv.reports_dir}"
    return reports[-1].read_text()
