"""Pure helpers of the Kubernetes emulator: the resource table, URL routes, selectors, object defaults.

kmock keeps objects in memory and answers discovery, but it does not parse ``/api/v1/namespaces``
paths, label selectors, PUT, delete-collection or subresources -- exactly what the official client
and the recovery flows need. This module holds the parts of that extension that do no network I/O, so
they stay small and testable; :mod:`recovery.sandbox.k8s_emulator` wires them into the HTTP handler.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recovery.fsutil import atomic_write


@dataclass(frozen=True)
class Kind:
    """What the emulator knows about one resource: enough to route, default and discover it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    subresources: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


_SCALABLE = ("scale", "status")
KINDS: tuple[Kind, ...] = (
    Kind("", "v1", "namespaces", "Namespace", False, ("status", "finalize")),
    Kind("", "v1", "persistentvolumes", "PersistentVolume", False, ("status",)),
    Kind("", "v1", "nodes", "Node", False, ("status",)),
    Kind("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("status",)),
    Kind("", "v1", "pods", "Pod", True, ("status",)),
    Kind("", "v1", "services", "Service", True, ("status",)),
    Kind("", "v1", "configmaps", "ConfigMap", True),
    Kind("", "v1", "secrets", "Secret", True),
    Kind("", "v1", "serviceaccounts", "ServiceAccount", True),
    Kind("", "v1", "endpoints", "Endpoints", True),
    Kind("", "v1", "events", "Event", True),
    Kind("apps", "v1", "deployments", "Deployment", True, _SCALABLE),
    Kind("apps", "v1", "statefulsets", "StatefulSet", True, _SCALABLE),
    Kind("apps", "v1", "replicasets", "ReplicaSet", True, _SCALABLE),
    Kind("apps", "v1", "daemonsets", "DaemonSet", True, ("status",)),
    Kind("batch", "v1", "jobs", "Job", True, ("status",)),
    Kind("batch", "v1", "cronjobs", "CronJob", True, ("status",)),
    Kind("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True),
    Kind("networking.k8s.io", "v1", "ingresses", "Ingress", True, ("status",)),
    Kind("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Kind("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Kind("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Kind("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    Kind("storage.k8s.io", "v1", "storageclasses", "StorageClass", False),
)
_BY_PATH = {(k.group, k.version, k.plural): k for k in KINDS}
WORKLOADS = {"deployments", "statefulsets", "replicasets"}


class ApiError(Exception):
    """A Kubernetes ``Status`` failure: the handler renders it as the real API server would."""

    def __init__(self, code: int, reason: str, message: str, details: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = dict(details or {})

    def status(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "code": self.code,
            "reason": self.reason,
            "message": self.message,
            "details": self.details,
        }


def not_found(kind: Kind, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{kind.plural} "{name}" not found', {"name": name, "kind": kind.plural})


@dataclass(frozen=True)
class Route:
    """A parsed resource URL: ``/api[s]/{gv}[/namespaces/{ns}]/{plural}[/{name}[/{sub}]]``."""

    kind: Kind
    namespace: str | None
    name: str | None
    subresource: str | None


def parse_route(path: str) -> Route | None:
    """Parse a resource URL; None for discovery and other non-resource paths.

    ``/api/v1/namespaces/{name}`` and ``/api/v1/namespaces/{name}/finalize`` address the namespace
    itself (the part kmock's own parser gets wrong); ``.../namespaces/{ns}/{plural}/...`` a
    namespaced resource. Unknown plurals raise a 404 like the real server's.
    """
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace: str | None = None
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (group == "" and len(rest) == 3 and rest[2] in ("finalize", "status"))
    ):
        namespace, rest = rest[1], rest[2:]
    kind = _BY_PATH.get((group, version, rest[0]))
    if kind is None:
        raise ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")
    if len(rest) > 3:
        raise ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None and sub not in kind.subresources:
        raise ApiError(404, "NotFound", f"{kind.plural} has no subresource {sub!r}")
    if kind.namespaced and namespace is None and name is not None:
        raise ApiError(404, "NotFound", f"{kind.plural} is namespaced: the URL needs /namespaces/NAME/")
    if not kind.namespaced and namespace is not None:
        raise ApiError(404, "NotFound", f"{kind.plural} is cluster-scoped: no namespace in the URL")
    return Route(kind, namespace, name, sub)


# --- selectors ------------------------------------------------------------------------------------

_SET_RE = re.compile(r"^\s*([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
Matcher = Callable[[Mapping[str, str]], bool]


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside ``( … )`` (set-based terms hold commas)."""
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t.strip() for t in terms if t.strip()]


def _term(term: str) -> Matcher:
    if match := _SET_RE.match(term):
        key, op, values = match.group(1), match.group(2), {v.strip() for v in match.group(3).split(",")}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for op in ("!=", "==", "="):
        if op in term:
            key, value = (s.strip() for s in term.split(op, 1))
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if term.startswith("!"):
        key = term[1:].strip()
        return lambda labels: key not in labels
    if re.fullmatch(r"[A-Za-z0-9._/-]+", term):
        return lambda labels: term in labels
    raise ApiError(400, "BadRequest", f"unable to parse requirement: {term!r}")


def selector_matcher(selector: str | None) -> Matcher:
    """A predicate over a label map for a Kubernetes label selector (equality- and set-based)."""
    matchers = [_term(t) for t in _split_terms(selector or "")]
    return lambda labels: all(m(labels) for m in matchers)


def field_matcher(selector: str | None) -> Callable[[Mapping[str, Any]], bool]:
    """Field selectors over ``metadata.name`` / ``metadata.namespace`` (what clients really use)."""
    checks: list[Callable[[Mapping[str, Any]], bool]] = []
    for term in _split_terms(selector or ""):
        negate = "!=" in term
        key, value = (s.strip() for s in re.split(r"!=|==|=", term, maxsplit=1))
        if key not in ("metadata.name", "metadata.namespace"):
            raise ApiError(400, "BadRequest", f'field label not supported: "{key}"')
        field = key.split(".", 1)[1]

        def check(obj: Mapping[str, Any], f: str = field, v: str = value, n: bool = negate) -> bool:
            return (obj.get("metadata", {}).get(f) == v) != n

        checks.append(check)
    return lambda obj: all(c(obj) for c in checks)


# --- object defaults ------------------------------------------------------------------------------


def now() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def apply_defaults(kind: Kind, obj: dict[str, Any]) -> None:
    """What the API server's defaulting and the controllers would have done by the time you look.

    Workloads become "ready" at once (status mirrors spec.replicas), so scale-to-zero and restore
    are observable without a kubelet.
    """
    obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
    if kind.plural == "namespaces":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif kind.plural in WORKLOADS:
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        replicas = spec["replicas"]
        obj["status"] = {
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "updatedReplicas": replicas,
            "observedGeneration": obj["metadata"].get("generation", 1),
        }
    elif kind.plural == "persistentvolumes":
        obj.setdefault("status", {}).setdefault("phase", "Available")
    elif kind.plural == "pods":
        obj.setdefault("status", {}).setdefault("phase", "Running")
    elif kind.plural == "secrets" and "stringData" in obj:
        data = obj.setdefault("data", {})
        for key, value in obj.pop("stringData").items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def scale_view(kind: Kind, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The ``autoscaling/v1`` Scale object a workload's ``/scale`` subresource shows."""
    meta = obj["metadata"]
    labels = obj.get("spec", {}).get("selector", {}).get("matchLabels", {})
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in labels.items()),
        },
    }


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def finalizers_of(obj: Mapping[str, Any]) -> list[str]:
    """Every finalizer holding the object: metadata ones, plus a namespace's spec ones."""
    held = list(obj.get("metadata", {}).get("finalizers") or [])
    if obj.get("kind") == "Namespace":
        held += list(obj.get("spec", {}).get("finalizers") or [])
    return held


_DNS_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


def valid_name(name: str) -> bool:
    """An object name the API server accepts (a DNS subdomain)."""
    return len(name) <= 253 and bool(_DNS_NAME.fullmatch(name))


def object_body(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ApiError(400, "BadRequest", "the request body must be a JSON object")
    return data


# --- persistence (the cluster survives an emulator restart) ---------------------------------------


def read_state(path: Path) -> tuple[int, list[tuple[Kind, dict[str, Any]]]] | None:
    """The saved revision and objects, or None when nothing was saved yet."""
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    by_type = {(k.api_version, k.kind): k for k in KINDS}
    objects = [(by_type[(obj["apiVersion"], obj["kind"])], obj) for obj in saved["objects"]]
    return int(saved["revision"]), objects


def write_state(path: Path, revision: int, objects: list[dict[str, Any]]) -> None:
    """Save the cluster: it holds Secrets, so mode 0600 and an atomic replace."""
    atomic_write(path, json.dumps({"revision": revision, "objects": objects}).encode())
