"""Typed results of the Kubernetes adapter.

Kept apart from :mod:`recovery.adapters.kubernetes` so flows, reports and the domain layer can name
these shapes without importing the client. All of them are plain pydantic models, so a flow can
persist them (``model_dump_json``) and read them back after a crash -- the replica counts of a
scale-down above all: they are the only way back to the state before the rollback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from recovery.errors import ConfigError

#: A manifest: a YAML file's path, or documents already parsed.
Source = Path | str | Mapping[str, Any] | Sequence[Mapping[str, Any]]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeploymentInfo(_Frozen):
    """One Deployment as the playbook cares about it: its name and how many replicas it asks for."""

    name: str
    replicas: int
    ready_replicas: int = 0


class ScaleRecord(_Frozen):
    """The replica count of every Deployment of a namespace *before* a scale-down.

    ``kubectl scale --all --replicas=0`` forgets what was there; the playbook then restarts
    everything at 1. Persist this record before scaling and :meth:`KubernetesAdapter.restore_scale`
    puts back the exact counts instead.
    """

    namespace: str
    previous: dict[str, int] = Field(default_factory=dict, description="deployment name -> replicas before")
    target: int | None = Field(default=None, description="the count the namespace was scaled to, if it was")


class NamespaceDeletionOutcome(StrEnum):
    already_absent = "already_absent"  # nothing to do: the namespace was not there
    deleted = "deleted"  # gone within the timeout, the normal way
    forced = "forced"  # stuck in Terminating: finalizers were cleared (what `--force` is used for)


class NamespaceDeletion(_Frozen):
    """How a namespace deletion ended; an absent namespace is an outcome, not an error."""

    name: str
    outcome: NamespaceDeletionOutcome
    waited_seconds: float = 0.0
    stuck_on: list[str] = Field(default_factory=list, description="finalizers cleared on the forced path")


class PvInfo(_Frozen):
    """A PersistentVolume: enough to say which volumes a selector picks, and what they hold."""

    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    phase: str | None = None
    capacity: str | None = None
    claim: str | None = Field(default=None, description="namespace/name of the bound claim, if any")


class AppliedAction(StrEnum):
    created = "created"
    replaced = "replaced"


class AppliedObject(_Frozen):
    """One document of an applied manifest."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None
    action: AppliedAction


def pv_info(pv: Mapping[str, Any]) -> PvInfo:
    """A PersistentVolume's API JSON (camelCase) as the typed summary."""
    spec, claim = pv.get("spec", {}), pv.get("spec", {}).get("claimRef")
    capacity = (spec.get("capacity") or {}).get("storage")
    return PvInfo(
        name=pv["metadata"]["name"],
        labels=dict(pv["metadata"].get("labels") or {}),
        phase=pv.get("status", {}).get("phase"),
        capacity=str(capacity) if capacity is not None else None,
        claim=f"{claim.get('namespace')}/{claim.get('name')}" if claim else None,
    )


def manifest_documents(source: Source) -> list[Mapping[str, Any]]:
    """The documents of a manifest, ``kind: List`` items unfolded; bad input is a ConfigError."""
    if isinstance(source, (str, Path)):
        try:
            loaded = [doc for doc in yaml.safe_load_all(Path(source).read_text()) if doc]
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read manifest {source}: {type(exc).__name__}") from exc
    elif isinstance(source, Mapping):
        loaded = [source]
    else:
        loaded = list(source)
    docs: list[Mapping[str, Any]] = []
    for doc in loaded:
        if not isinstance(doc, Mapping):
            raise ConfigError("a manifest document must be a mapping")
        docs.extend(doc.get("items") or [] if str(doc.get("kind", "")).endswith("List") else [doc])
    return docs
