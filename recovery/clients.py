"""Adapters built from the inventory: the one place that knows which inventory field feeds which client.

Tasks call these instead of constructing clients themselves, so a flow never sees a token or a
credential: references are resolved here, just before use, into ``SecretStr``.
"""

from __future__ import annotations

from recovery.adapters.aws import AwsAdapter
from recovery.adapters.files import EnvFiles
from recovery.adapters.kubernetes import KubernetesAdapter
from recovery.adapters.terraform import TerraformBackend, terraform_for
from recovery.adapters.vault import VaultAdapter
from recovery.inventory import Inventory


def aws(inv: Inventory) -> AwsAdapter:
    return AwsAdapter.from_inventory(inv.aws)


def vault(inv: Inventory) -> VaultAdapter:
    return VaultAdapter(
        inv.vault.address, inv.vault.token.resolve(), timeout=inv.vault.timeout_seconds,
        kv_mount=inv.vault.kv_mount,
    )


def kubernetes(inv: Inventory) -> KubernetesAdapter:
    return KubernetesAdapter(inv.kubernetes.kubeconfig, inv.kubernetes.context)


def terraform(inv: Inventory, stack: str) -> TerraformBackend:
    return terraform_for(inv.terraform, inv.stack_dir(stack))


def files(inv: Inventory) -> EnvFiles:
    return EnvFiles(inv.project_root)
