"""Writes ``DIR/inventory.yaml`` for a running rehearsal world.

The file is an ordinary inventory (the same schema a real environment uses), so every command of the
product runs against the world unchanged: ``recovery --inventory DIR/inventory.yaml ...``. Secrets are
referenced by file (``DIR/secrets/*``, mode 0600), never written into it.
"""

from __future__ import annotations

import secrets as pysecrets
from pathlib import Path
from typing import Any

import yaml

from recovery.adapters.files import atomic_write
from recovery.inventory import load_inventory
from recovery.sandbox.procs import ProcessRecord
from recovery.sandbox.project_seed import ProjectSeed

ESCALATION: dict[str, Any] = {
    "contacts": {
        "platform_oncall": "tel:+1-555-PLATFORM",
        "security_oncall": "tel:+1-555-SECURITY",
        "platform_lead": "mailto:platform-lead@candlefish.ai",
        "security_lead": "mailto:security-lead@candlefish.ai",
        "cto": "mailto:cto@candlefish.ai",
    },
    "levels": [
        {"level": "L1", "condition": "service_degradation", "contacts": ["platform_oncall"],
         "response_minutes": 15},
        {"level": "L2", "condition": "multiple_services_down",
         "contacts": ["platform_lead", "security_oncall"], "response_minutes": 10},
        {"level": "L3", "condition": "security_breach", "contacts": ["cto", "security_lead"],
         "response_minutes": 5},
        {"level": "L4", "condition": "complete_system_failure", "contacts": ["all"], "response_minutes": 0},
    ],
}


def build_inventory(
    world_dir: Path,
    records: dict[str, ProcessRecord],
    project: ProjectSeed,
    services: list[tuple[str, str, str]],
) -> dict[str, Any]:
    """The inventory document for this world, as plain data."""
    service_docs = []
    for name, path, health in services:
        record = records[f"service:{name}"]
        service_docs.append(
            {
                "name": name,
                "path": path,
                "health_url": f"{record.address}{health}",
                "compose_service": name,
                "deployment": name,
            }
        )
    secrets = world_dir / "secrets"
    return {
        "project_root": str(project.project_root),
        "reports_dir": str(world_dir / "reports"),
        "compose_file": "docker-compose.yml",
        "services": service_docs,
        "backups": {
            "baseline_dir": str(project.baseline_dir),
            "emergency_dir": str(project.emergency_dir),
            "original_env": str(project.original_env),
            "store_dir": str(project.store_dir),
            "emergency_services": ["clos-api", "promoteros", "paintbox"],
        },
        "terraform": {
            "backend": "embedded",
            "stacks": {
                "secrets-management": {
                    "working_dir": "infrastructure/secrets-management",
                    "targets": ["module.secrets_manager", "module.kms"],
                },
                "vault": {"working_dir": "infrastructure/secrets-management/terraform/vault"},
            },
        },
        "aws": {
            "region": "us-east-1",
            "endpoint_url": records["aws"].address,
            "secret_prefix": "/candlefish/",
            "deploy_user": "candlefish-deploy",
            "kms_alias": "alias/candlefish",
            "credentials": {
                "access_key_id": {"file": str(secrets / "aws-access-key-id")},
                "secret_access_key": {"file": str(secrets / "aws-secret-access-key")},
            },
        },
        "vault": {
            "address": records["vault"].address,
            "token": {"file": str(secrets / "vault-token")},
            "namespace": "vault",
            "pv_label": "app=vault",
            "kv_mount": "secret",
        },
        "kubernetes": {
            "kubeconfig": records["kubernetes"].extra["kubeconfig"],
            "production_namespace": "production",
        },
        "databases": {
            "mongodb_url": records["mongodb"].address,
            "redis_url": records["redis"].address,
        },
        "escalation": ESCALATION,
        "notifications": {"channels": {}},
    }


def write_inventory(
    world_dir: Path,
    records: dict[str, ProcessRecord],
    project: ProjectSeed,
    services: list[tuple[str, str, str]],
) -> Path:
    """Write the world's inventory (and moto's fake credentials), validate it, return its path."""
    secrets = world_dir / "secrets"
    # moto accepts any credentials: random ones, kept in 0600 files as real ones would be.
    for name, prefix in (("aws-access-key-id", "AKIA"), ("aws-secret-access-key", "")):
        if not (secrets / name).exists():
            value = prefix + pysecrets.token_hex(10).upper() if prefix else pysecrets.token_urlsafe(30)
            atomic_write(secrets / name, value.encode(), mode=0o600)
    path = world_dir / "inventory.yaml"
    doc = build_inventory(world_dir, records, project, services)
    atomic_write(path, yaml.safe_dump(doc, sort_keys=False).encode(), mode=0o644)
    load_inventory(path)  # what we hand out must be valid
    return path
