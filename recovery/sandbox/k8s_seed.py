"""Seed the sandbox cluster with what the playbook's Kubernetes steps act on.

* namespace ``production`` with Deployments at *different* replica counts, so a scale-down and
  restore that silently resets everything to 1 (as the playbook's script does) is caught;
* namespace ``vault`` with the StatefulSet ``vault`` (3 replicas) and its PersistentVolumes
  labelled ``app=vault``;
* one PersistentVolume that is *not* labelled ``app=vault``: it must survive every Vault cleanup.

Seeding goes through the product's own adapter (so it works against any cluster a kubeconfig points
at) and is idempotent: running it twice leaves the same objects, at the seeded counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from recovery.adapters.kubernetes import KubernetesAdapter

DEFAULT_DEPLOYMENTS: dict[str, int] = {"api-server": 3, "promoteros": 2, "paintbox": 1, "website": 4}
SURVIVOR_PV = "shared-backups"


def _labels(selector: str) -> dict[str, str]:
    """``a=b,c=d`` -> {a: b, c: d} (the seed only needs equality selectors)."""
    pairs = (term.split("=", 1) for term in selector.split(",") if term.strip())
    return {key.strip(): value.strip() for key, value in pairs}


def _workload(
    kind: str, name: str, namespace: str, replicas: int, labels: Mapping[str, str]
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": dict(labels)},
        "template": {
            "metadata": {"labels": dict(labels)},
            "spec": {"containers": [{"name": name, "image": f"candlefish/{name}:stable"}]},
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": spec,
    }


def _pv(name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": f"/var/lib/sandbox/{name}"},
        },
    }


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def seed_kubernetes(
    kubeconfig: Path,
    *,
    production_namespace: str = "production",
    deployments: Mapping[str, int] | None = None,
    vault_namespace: str = "vault",
    pv_label: str = "app=vault",
    pv_count: int = 3,
) -> list[str]:
    """Create (or bring back to the seeded state) the cluster's objects; return what was applied.

    The names come back as ``Kind namespace/name`` strings, for the world's log.
    """
    deployments = dict(DEFAULT_DEPLOYMENTS if deployments is None else deployments)
    vault_labels = _labels(pv_label)
    docs: list[dict[str, Any]] = [_namespace(production_namespace), _namespace(vault_namespace)]
    docs += [
        _workload("Deployment", name, production_namespace, replicas, {"app": name})
        for name, replicas in sorted(deployments.items())
    ]
    docs.append(_workload("StatefulSet", "vault", vault_namespace, 3, vault_labels))
    docs += [_pv(f"vault-data-{index}", vault_labels) for index in range(pv_count)]
    docs.append(_pv(SURVIVOR_PV, {"app": "backups"}))
    with KubernetesAdapter(kubeconfig) as k8s:
        applied = k8s.apply_manifest(docs)
    return [f"{a.kind} {a.namespace + '/' if a.namespace else ''}{a.name}" for a in applied]
