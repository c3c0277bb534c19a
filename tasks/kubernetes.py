"""Tasks over Kubernetes: the Vault namespace and its persistent volumes (Checkpoint Delta)."""

from __future__ import annotations

from recovery import clients
from recovery.adapters.kubernetes_models import NamespaceDeletion, PvInfo
from recovery.inventory import Inventory
from tasks.policy import act, inspect


@inspect
def namespace_exists(inv: Inventory, name: str) -> bool:
    with clients.kubernetes(inv) as k8s:
        return k8s.namespace_exists(name)


@inspect
def list_pvs(inv: Inventory, selector: str) -> list[PvInfo]:
    with clients.kubernetes(inv) as k8s:
        return k8s.list_pvs(selector)


@act
def delete_namespace(inv: Inventory, name: str, timeout_s: int) -> NamespaceDeletion:
    """Delete and wait; after ``timeout_s`` take the forced path (grace 0, finalizers cleared)."""
    with clients.kubernetes(inv) as k8s:
        return k8s.delete_namespace(name, timeout_seconds=timeout_s)


@act
def delete_pvs(inv: Inventory, selector: str) -> list[str]:
    with clients.kubernetes(inv) as k8s:
        return k8s.delete_pvs(selector)
