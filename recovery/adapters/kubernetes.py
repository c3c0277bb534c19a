"""Kubernetes adapter: the playbook's ``kubectl`` lines, over the official Python client.

What the flows need from a cluster is small and destructive, so each operation is explicit about
what it leaves behind:

* ``kubectl scale deployment --all --replicas=0`` -> :meth:`KubernetesAdapter.scale_all`, which
  *records* every previous count (:class:`ScaleRecord`) so :meth:`restore_scale` can put back the
  exact numbers (the playbook's restart at ``--replicas=1`` would lose them).
* ``kubectl delete namespace vault --timeout=60s || … --grace-period=0 --force`` ->
  :meth:`delete_namespace`: delete, wait; if still Terminating, clear the finalizers through the
  namespace ``finalize`` endpoint (what ``--force`` is actually used for) and wait again.
* ``kubectl delete pv -l app=vault`` -> :meth:`delete_pvs` (refuses an empty selector).
* ``kubectl apply -f honeypot.yaml`` -> :meth:`apply_manifest` (create, or replace what exists).

Library errors never leave this module: see :func:`_boundary`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException, OpenApiException
from kubernetes.config.config_exception import ConfigException
from pydantic import ValidationError

from recovery.adapters.kubernetes_models import (
    AppliedAction,
    AppliedObject,
    DeploymentInfo,
    NamespaceDeletion,
    NamespaceDeletionOutcome,
    PvInfo,
    ScaleRecord,
    Source,
    manifest_documents,
    pv_info,
)
from recovery.errors import (
    ConfigError,
    ConflictError,
    NotFoundError,
    PermanentError,
    TransientError,
    UnreachableError,
)

T = TypeVar("T")
_SNAKE_1, _SNAKE_2 = re.compile(r"(.)([A-Z][a-z]+)"), re.compile(r"([a-z0-9])([A-Z])")


@contextmanager
def _boundary(operation: str) -> Iterator[None]:
    """Map client errors to ours: nobody answered / 429 / 5xx retry, the rest stop the run.

    Messages carry the operation, the HTTP status and the API server's ``reason`` -- names of
    things, never bodies of Secrets.
    """
    try:
        yield
    except ApiException as exc:
        raise _from_api_exception(exc, operation) from exc
    except (ValidationError, OpenApiException) as exc:
        # Rejected by the client before sending. Only field locations go into the message: the
        # library's own text quotes the input, which may be a Secret's data.
        where = (
            [".".join(str(p) for p in e["loc"]) for e in exc.errors()][:5]
            if isinstance(exc, ValidationError)
            else []
        )
        raise ConfigError(f"Kubernetes {operation}: invalid request {where or type(exc).__name__}") from exc
    except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
        raise UnreachableError(
            f"Kubernetes {operation}: API server did not answer ({type(exc).__name__})"
        ) from exc


def _from_api_exception(exc: ApiException, operation: str) -> Exception:
    status, reason = int(exc.status or 0), exc.reason or ""
    where = f"Kubernetes {operation}: HTTP {status} {reason}".rstrip()
    if status == 0:
        return UnreachableError(f"{where} (no HTTP answer)")
    if status == 429 or status >= 500:
        return TransientError(where)
    if status == 404:
        return NotFoundError(where)
    if status == 409:
        return ConflictError(where)
    return PermanentError(where)  # 400, 401, 403, 405, 415, 422, …


class KubernetesAdapter:
    """A small, typed face of one cluster (one kubeconfig context), with its own ApiClient."""

    def __init__(
        self,
        kubeconfig: Path | None = None,
        context: str | None = None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        poll_interval: float = 0.25,
    ) -> None:
        configuration = client.Configuration()
        try:
            if kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ:
                config.load_incluster_config(client_configuration=configuration)
            else:
                config.load_kube_config(
                    config_file=str(kubeconfig) if kubeconfig else None,
                    context=context,
                    client_configuration=configuration,
                    persist_config=False,
                )
        except (ConfigException, OSError, yaml.YAMLError) as exc:
            raise ConfigError(
                f"cannot load Kubernetes config {kubeconfig or '(default)'}: {type(exc).__name__}"
            ) from exc
        # No hidden urllib3 retries: the task layer retries TransientError with backoff.
        configuration.retries = False
        self._api = client.ApiClient(configuration)
        self._core = client.CoreV1Api(self._api)
        self._apps = client.AppsV1Api(self._api)
        self._timeout = (connect_timeout, read_timeout)
        self._poll = poll_interval

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> KubernetesAdapter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, operation: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with _boundary(operation):
            return fn(*args, _request_timeout=self._timeout, **kwargs)

    # --- namespaces ---------------------------------------------------------------------------

    def namespace_exists(self, name: str) -> bool:
        """True while the namespace exists, including while it is Terminating."""
        return self.namespace_phase(name) is not None

    def namespace_phase(self, name: str) -> str | None:
        """``Active``, ``Terminating``, or None when there is no such namespace."""
        try:
            namespace = self._call(f"read namespace {name!r}", self._core.read_namespace, name)
        except NotFoundError:
            return None
        return (namespace.status.phase if namespace.status else None) or "Active"

    def _require_namespace(self, name: str) -> None:
        if not self.namespace_exists(name):
            raise NotFoundError(f"Kubernetes namespace {name!r} does not exist")

    def delete_namespace(self, name: str, timeout_seconds: float = 60) -> NamespaceDeletion:
        """Delete a namespace and wait until it is gone; force it if it stays Terminating.

        The forced path is what ``kubectl delete --grace-period=0 --force`` is reached for: delete
        again with grace period 0, then empty ``spec.finalizers`` through the ``finalize``
        subresource (and ``metadata.finalizers`` by patch), so the API server lets it go even
        though something inside never finished. ``timeout_seconds=0`` goes straight to it.
        """
        started = time.monotonic()
        try:
            self._call(f"delete namespace {name!r}", self._core.delete_namespace, name)
        except NotFoundError:
            return NamespaceDeletion(name=name, outcome=NamespaceDeletionOutcome.already_absent)
        if self._wait_gone(name, timeout_seconds):
            return NamespaceDeletion(
                name=name,
                outcome=NamespaceDeletionOutcome.deleted,
                waited_seconds=round(time.monotonic() - started, 3),
            )
        stuck_on = self._force_namespace(name)
        if not self._wait_gone(name, max(5.0, min(timeout_seconds, 30.0))):
            raise TransientError(
                f"Kubernetes namespace {name!r} still exists after its finalizers were cleared"
            )
        outcome = NamespaceDeletionOutcome.forced if stuck_on else NamespaceDeletionOutcome.deleted
        return NamespaceDeletion(
            name=name, outcome=outcome, stuck_on=stuck_on, waited_seconds=round(time.monotonic() - started, 3)
        )

    def _force_namespace(self, name: str) -> list[str]:
        """Clear what holds a Terminating namespace; return the finalizers removed ([] if it left)."""
        try:
            self._call(
                f"force-delete namespace {name!r}", self._core.delete_namespace, name, grace_period_seconds=0
            )
            namespace = self._call(f"read namespace {name!r}", self._core.read_namespace, name)
        except NotFoundError:
            return []
        body: dict[str, Any] = self._api.sanitize_for_serialization(namespace)
        spec_finalizers = list(body.get("spec", {}).get("finalizers") or [])
        meta_finalizers = list(body.get("metadata", {}).get("finalizers") or [])
        try:
            if meta_finalizers:
                self._call(
                    f"clear finalizers of namespace {name!r}",
                    self._core.patch_namespace,
                    name,
                    [{"op": "remove", "path": "/metadata/finalizers"}],
                )
            if spec_finalizers:
                body.setdefault("spec", {})["finalizers"] = []
                body["metadata"].pop("resourceVersion", None)
                self._call(f"finalize namespace {name!r}", self._core.replace_namespace_finalize, name, body)
        except NotFoundError:
            pass  # it finished by itself meanwhile
        return meta_finalizers + spec_finalizers

    def _wait_gone(self, name: str, timeout_seconds: float) -> bool:
        deadline = time.monotonic() + timeout_seconds
        while True:
            if not self.namespace_exists(name):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(self._poll)

    # --- deployments --------------------------------------------------------------------------

    def list_deployments(self, namespace: str) -> list[DeploymentInfo]:
        """Every Deployment of an existing namespace (a missing namespace is NotFoundError, not [])."""
        self._require_namespace(namespace)
        found = self._call(
            f"list deployments in {namespace!r}", self._apps.list_namespaced_deployment, namespace
        )
        infos = []
        for item in found.items:
            plain = self._plain(item)
            infos.append(
                DeploymentInfo(
                    name=plain["metadata"]["name"],
                    replicas=plain.get("spec", {}).get("replicas") or 0,
                    ready_replicas=plain.get("status", {}).get("readyReplicas") or 0,
                )
            )
        return sorted(infos, key=lambda d: d.name)

    def snapshot_scale(self, namespace: str) -> ScaleRecord:
        """The current replica count of every Deployment: persist it *before* scaling down."""
        counts = {d.name: d.replicas for d in self.list_deployments(namespace)}
        return ScaleRecord(namespace=namespace, previous=counts)

    def scale_all(self, namespace: str, replicas: int, record: ScaleRecord | None = None) -> ScaleRecord:
        """Scale every Deployment of ``namespace`` to ``replicas``; return the counts from before.

        Pass the ``record`` a flow persisted with :meth:`snapshot_scale` when retrying: a second
        snapshot taken after a partial scale-down would remember zeros.
        """
        if replicas < 0:
            raise ConfigError(f"replicas must be >= 0, not {replicas}")
        before = record or self.snapshot_scale(namespace)
        if record is not None:
            self._require_namespace(namespace)
        for name in self._deployment_names(namespace):
            self._set_replicas(namespace, name, replicas)
        return before.model_copy(update={"target": replicas})

    def restore_scale(self, record: ScaleRecord) -> None:
        """Put every recorded Deployment back at its previous count.

        All that still exist are restored first; the missing ones are then reported together.
        """
        missing = []
        for name, replicas in sorted(record.previous.items()):
            try:
                self._set_replicas(record.namespace, name, replicas)
            except NotFoundError:
                missing.append(name)
        if missing:
            raise NotFoundError(
                f"Kubernetes deployments {missing} in {record.namespace!r} no longer exist; "
                "the others were restored"
            )

    def _deployment_names(self, namespace: str) -> list[str]:
        return [d.name for d in self.list_deployments(namespace)]

    def _set_replicas(self, namespace: str, name: str, replicas: int) -> None:
        self._call(
            f"scale deployment {namespace}/{name}",
            self._apps.patch_namespaced_deployment_scale,
            name,
            namespace,
            {"spec": {"replicas": replicas}},
        )

    # --- persistent volumes -------------------------------------------------------------------

    def list_pvs(self, label_selector: str) -> list[PvInfo]:
        found = self._call(
            f"list persistent volumes {label_selector!r}",
            self._core.list_persistent_volume,
            label_selector=label_selector,
        )
        return sorted((pv_info(self._plain(pv)) for pv in found.items), key=lambda pv: pv.name)

    def _plain(self, model: Any) -> dict[str, Any]:
        """A client model as the API's own JSON (camelCase keys): one typed way to read any object."""
        plain: dict[str, Any] = self._api.sanitize_for_serialization(model)
        return plain

    def delete_pvs(self, label_selector: str) -> list[str]:
        """Delete the PersistentVolumes the selector picks; return their names.

        An empty selector would pick every volume of the cluster, so it is refused.
        """
        if not label_selector.strip():
            raise ConfigError("refusing to delete every PersistentVolume: give a label selector")
        deleted = []
        for pv in self.list_pvs(label_selector):
            try:
                self._call(
                    f"delete persistent volume {pv.name!r}", self._core.delete_persistent_volume, pv.name
                )
            except NotFoundError:
                continue  # already gone: the goal state
            deleted.append(pv.name)
        return deleted

    # --- manifests ----------------------------------------------------------------------------

    def apply_manifest(self, source: Source, namespace: str | None = None) -> list[AppliedObject]:
        """Create each document of a manifest, or replace it when it already exists.

        ``source`` is a YAML file (one or more documents, ``kind: List`` too) or already-parsed
        documents. ``namespace`` is used for namespaced documents that name none (else ``default``).
        """
        return [self._apply_one(doc, namespace) for doc in manifest_documents(source)]

    def _apply_one(self, doc: Mapping[str, Any], default_namespace: str | None) -> AppliedObject:
        api_version, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
        name = str(doc.get("metadata", {}).get("name", ""))
        if not (api_version and kind and name):
            raise ConfigError("a manifest document needs apiVersion, kind and metadata.name")
        api, snake = self._api_for(api_version, kind)
        body = dict(doc)
        namespaced = hasattr(api, f"create_namespaced_{snake}")
        target = f"{kind} {name!r}"
        if namespaced:
            ns = doc.get("metadata", {}).get("namespace") or default_namespace or "default"
            body["metadata"] = {**doc["metadata"], "namespace": ns}
            scope: tuple[str, ...] = (ns,)
            target = f"{kind} {ns}/{name}"
            create, read, replace = (
                getattr(api, f"{verb}_namespaced_{snake}") for verb in ("create", "read", "replace")
            )
        else:
            ns, scope = None, ()
            create, read, replace = (
                getattr(api, f"{verb}_{snake}") for verb in ("create", "read", "replace")
            )
        try:
            self._call(f"create {target}", create, *scope, body)
            action = AppliedAction.created
        except ConflictError:
            current = self._call(f"read {target}", read, name, *scope)
            body["metadata"] = {**body["metadata"], "resourceVersion": current.metadata.resource_version}
            self._call(f"replace {target}", replace, name, *scope, body)
            action = AppliedAction.replaced
        return AppliedObject(api_version=api_version, kind=kind, name=name, namespace=ns, action=action)

    def _api_for(self, api_version: str, kind: str) -> tuple[Any, str]:
        """The typed API class and method suffix for a kind, as ``kubectl``'s mapping would pick."""
        group, _, version = api_version.partition("/")
        if not version:
            group, version = "core", group
        prefix = "".join(part.capitalize() for part in group.removesuffix(".k8s.io").split("."))
        api_class = getattr(client, f"{prefix}{version.capitalize()}Api", None)
        snake = _SNAKE_2.sub(r"\1_\2", _SNAKE_1.sub(r"\1_\2", kind)).lower()
        if (
            api_class is None
            or not hasattr(api_class, f"read_namespaced_{snake}")
            and not hasattr(api_class, f"read_{snake}")
        ):
            raise ConfigError(f"the Kubernetes client does not know {kind} in {api_version}")
        return api_class(self._api), snake
