"""A Kubernetes API server good enough for the official client: kmock's emulator, extended.

kmock's :class:`KubernetesEmulator` gives an in-memory object store, discovery (``/api``, ``/apis``)
and Kubernetes-shaped errors. The recovery flows also need what it lacks: the ``/api/v1/namespaces``
paths, label and field selectors, PUT, delete-collection, the ``scale``/``status``/``finalize``
subresources, namespace deletion that cascades to its contents, and finalizers that can hold a
namespace in ``Terminating`` (so the "delete, time out, force" path runs against a real server).
Resource requests are served here; everything else falls through to kmock.

Simplifications, on purpose: strategic-merge patches merge dicts and replace lists; workloads are
"ready" the moment they are written (status mirrors spec); watches are not served.
"""

from __future__ import annotations

import contextlib
import copy
import hmac
import json
import secrets
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
import kmock
from kmock._internal.dicts import json_patch_dict, merge_patch_dict

from recovery.sandbox.k8s_objects import (
    KINDS,
    ApiError,
    Kind,
    Route,
    apply_defaults,
    field_matcher,
    finalizers_of,
    labels_of,
    new_uid,
    not_found,
    now,
    object_body,
    parse_route,
    read_state,
    scale_view,
    selector_matcher,
    valid_name,
    write_state,
)

NAMESPACES = next(k for k in KINDS if k.plural == "namespaces")
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public")
HEALTH_PATHS = ("/healthz", "/readyz", "/livez")
HISTORY_KEPT = 5
Key = tuple[kmock.resource, str | None, str]


def _resource(kind: Kind) -> kmock.resource:
    return kmock.resource(kind.group, kind.version, kind.plural)


_KIND_OF = {_resource(k): k for k in KINDS}


@attrs.define(kw_only=True)
class ClusterEmulator(kmock.KubernetesEmulator):
    """The sandbox's Kubernetes API server (see the module docstring for what it adds to kmock)."""

    token: str | None = None
    state_file: Path | None = None
    _revision: int = attrs.field(default=0, init=False)
    _faults: list[int] = attrs.field(factory=list, init=False)
    _fault_method: str = attrs.field(default="", init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        for kind in KINDS:
            self.resources[_resource(kind)] = kmock.ResourceInfo(
                namespaced=kind.namespaced,
                kind=kind.kind,
                singular=kind.kind.lower(),
                subresources=set(kind.subresources),
                verbs={"create", "delete", "deletecollection", "get", "list", "patch", "update"},
            )

    # --- HTTP entry point ---------------------------------------------------------------------

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        path = raw_request.path
        if path in HEALTH_PATHS:
            return aiohttp.web.Response(text="ok")
        try:
            self._authorize(raw_request)
            if path.startswith("/kmock-api/"):
                return await self._admin(raw_request)
            route = parse_route(path)
            if route is None:
                return await super().__call__(raw_request)
            if self._faults and self._fault_method in ("", raw_request.method):
                code = self._faults.pop(0)
                raise ApiError(code, "InjectedFault", f"fault injected by the sandbox (HTTP {code})")
            body = await raw_request.read()
            try:
                data = json.loads(body) if body else None
            except ValueError as exc:
                raise ApiError(400, "BadRequest", f"request body is not JSON: {exc}") from exc
            ctype = raw_request.headers.get("Content-Type", "")
            payload, status = self._dispatch(route, raw_request.method, dict(raw_request.query), data, ctype)
            if raw_request.method != "GET":
                self._reconcile()
                self._save()
            return aiohttp.web.json_response(payload, status=status)
        except ApiError as exc:
            return aiohttp.web.json_response(exc.status(), status=exc.code)

    def _authorize(self, raw_request: aiohttp.web.BaseRequest) -> None:
        if self.token is None:
            return
        given = raw_request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
            raise ApiError(401, "Unauthorized", "Unauthorized")

    async def _admin(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        """Sandbox-only controls: empty the cluster, or make the next N requests fail."""
        if raw_request.method != "POST":
            raise ApiError(405, "MethodNotAllowed", "POST only")
        if raw_request.path == "/kmock-api/reset":
            self.reset()
            self._save()
            return aiohttp.web.json_response({"reset": True})
        if raw_request.path == "/kmock-api/faults":
            spec = await raw_request.json()
            self._faults = [int(spec["status"])] * int(spec.get("count", 1))
            self._fault_method = str(spec.get("method", "")).upper()  # "" = any request
            return aiohttp.web.json_response({"faults": len(self._faults)})
        raise ApiError(404, "NotFound", f"no admin endpoint {raw_request.path}")

    # --- verbs --------------------------------------------------------------------------------

    def _dispatch(
        self, route: Route, method: str, query: dict[str, str], data: Any, ctype: str
    ) -> tuple[dict[str, Any], int]:
        kind, named = route.kind, route.name is not None
        if method == "GET" and query.get("watch") in ("true", "1"):
            raise ApiError(405, "MethodNotAllowed", "watch is not served by the sandbox emulator")
        if method == "GET" and not named:
            return self._list(route, query), 200
        if method == "GET":
            obj = self._get(route)
            return (scale_view(kind, obj) if route.subresource == "scale" else obj), 200
        if method == "POST" and not named:
            return self._create(route, data), 201
        if method == "PUT" and named:
            return self._write(route, self._get(route), object_body(data)), 200
        if method == "PATCH" and named:
            return self._patch(route, data, ctype), 200
        if method == "DELETE" and named and route.subresource is None:
            return self._delete(kind, self._get(route)), 200
        if method == "DELETE" and not named and (route.namespace is not None or not kind.namespaced):
            if kind is NAMESPACES:
                raise ApiError(405, "MethodNotAllowed", "namespaces do not support deletecollection")
            items = self._list(route, query)
            items["items"] = [self._delete(kind, obj) for obj in items["items"]]
            return items, 200
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on {kind.plural}")

    def _list(self, route: Route, query: dict[str, str]) -> dict[str, Any]:
        labels, fields = (
            selector_matcher(query.get("labelSelector")),
            field_matcher(query.get("fieldSelector")),
        )
        items = [
            obj
            for obj in self._all(route.kind)
            if route.namespace in (None, obj["metadata"].get("namespace"))
            and labels(labels_of(obj))
            and fields(obj)
        ]
        items.sort(key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"]))
        return {
            "apiVersion": route.kind.api_version,
            "kind": f"{route.kind.kind}List",
            "metadata": {"resourceVersion": str(self._revision)},
            "items": items,
        }

    def _get(self, route: Route) -> dict[str, Any]:
        assert route.name is not None
        obj = self._find(route.kind, route.namespace, route.name)
        if obj is None:
            raise not_found(route.kind, route.name)
        return obj

    def _create(self, route: Route, data: Any) -> dict[str, Any]:
        kind, obj = route.kind, copy.deepcopy(object_body(data))
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        name = meta.get("name") or ""
        if not valid_name(name):
            raise ApiError(
                422, "Invalid", f"{kind.kind} {name!r} is invalid: metadata.name must be a DNS name"
            )
        if kind.namespaced:
            self._check_namespace_open(route, meta)
        else:
            meta.pop("namespace", None)
        if self._find(kind, meta.get("namespace"), name) is not None:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{kind.plural} "{name}" already exists',
                {"name": name, "kind": kind.plural},
            )
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"):
            meta.pop(field, None)
        meta.update(uid=new_uid(), creationTimestamp=now(), generation=1)
        apply_defaults(kind, obj)
        return self._store(kind, obj)

    def _check_namespace_open(self, route: Route, meta: dict[str, Any]) -> None:
        if route.namespace is None:
            raise ApiError(
                405, "MethodNotAllowed", f"create {route.kind.plural} needs a namespace in the URL"
            )
        if meta.get("namespace") not in (None, route.namespace):
            raise ApiError(400, "BadRequest", "the namespace of the object does not match the request's")
        namespace = self._find(NAMESPACES, None, route.namespace)
        if namespace is None:
            raise not_found(NAMESPACES, route.namespace)
        if namespace["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {route.namespace} because it is being terminated",
            )
        meta["namespace"] = route.namespace

    def _patch(self, route: Route, data: Any, ctype: str) -> dict[str, Any]:
        if "apply-patch" in ctype:
            raise ApiError(415, "UnsupportedMediaType", "server-side apply is not served by the emulator")
        current = self._get(route)
        base = scale_view(route.kind, current) if route.subresource == "scale" else current
        try:
            if isinstance(data, list):
                patched = dict(json_patch_dict(base, data))
            elif isinstance(data, dict):
                patched = dict(merge_patch_dict(base, data))
            else:
                raise ApiError(400, "BadRequest", "a patch must be a JSON object or a JSON-patch list")
        except (ValueError, KeyError, TypeError) as exc:  # jsonpatch errors derive from these
            raise ApiError(422, "Invalid", f"the patch cannot be applied: {exc}") from exc
        return self._write(route, current, patched)

    def _write(self, route: Route, current: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
        """Replace ``current`` with ``incoming`` the way the API server's update strategies would."""
        kind, sub = route.kind, route.subresource
        new = copy.deepcopy(current)
        if sub == "scale":
            new["spec"]["replicas"] = int(incoming.get("spec", {}).get("replicas", 0))
        elif sub == "finalize":
            new.setdefault("spec", {})["finalizers"] = list(incoming.get("spec", {}).get("finalizers") or [])
        elif sub == "status":
            new["status"] = copy.deepcopy(incoming.get("status", {}))
        else:
            new = copy.deepcopy(incoming)
            if kind is NAMESPACES:  # like the real strategy: spec.finalizers only via /finalize
                new.setdefault("spec", {})["finalizers"] = current.get("spec", {}).get("finalizers", [])
            if "status" in kind.subresources:
                new["status"] = copy.deepcopy(current.get("status", {}))
        meta, old_meta = new.setdefault("metadata", {}), current["metadata"]
        given_version = meta.get("resourceVersion")
        if given_version and given_version != old_meta["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {kind.plural} "{route.name}": '
                "the object has been modified; please apply your changes to the "
                "latest version and try again",
            )
        for field in (
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ):
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        if new.get("spec") != current.get("spec"):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        apply_defaults(kind, new)
        stored = self._store(kind, new)
        return scale_view(kind, stored) if sub == "scale" else stored

    def _delete(self, kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
        """Delete now, or mark for deletion while finalizers hold the object (like the real server)."""
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return obj
        if finalizers_of(obj):
            new = copy.deepcopy(obj)
            new["metadata"].update(deletionTimestamp=now(), deletionGracePeriodSeconds=0)
            if kind is NAMESPACES:
                new.setdefault("status", {})["phase"] = "Terminating"
            return self._store(kind, new)
        self._remove(kind, obj)
        return obj

    # --- the namespace controller and the garbage collector -----------------------------------

    def _reconcile(self) -> None:
        """Finish what deletions started: empty terminating namespaces, drop released objects."""
        changed = True
        while changed:
            changed = False
            for namespace in self._all(NAMESPACES):
                if namespace["metadata"].get("deletionTimestamp"):
                    changed |= self._drain(namespace)
            for key, obj in list(self._raw_items()):
                if obj["metadata"].get("deletionTimestamp") and not finalizers_of(obj):
                    self._remove(_KIND_OF[key[0]], obj)
                    changed = True

    def _drain(self, namespace: dict[str, Any]) -> bool:
        name, changed = namespace["metadata"]["name"], False
        contents = [(key, obj) for key, obj in self._raw_items() if key[1] == name]
        for key, obj in contents:
            if not obj["metadata"].get("deletionTimestamp"):
                self._delete(_KIND_OF[key[0]], obj)
                changed = True
        finalizers = namespace["spec"].get("finalizers", [])
        if "kubernetes" in finalizers and not any(key[1] == name for key, _ in self._raw_items()):
            new = copy.deepcopy(namespace)
            new["spec"]["finalizers"] = [f for f in finalizers if f != "kubernetes"]
            self._store(NAMESPACES, new)
            changed = True
        return changed

    # --- storage over kmock's ObjectsArray ----------------------------------------------------

    def _key(self, kind: Kind, namespace: str | None, name: str) -> Key:
        return (_resource(kind), namespace if kind.namespaced else None, name)

    def _raw_items(self) -> list[tuple[Key, dict[str, Any]]]:
        return [(key, obj.raw) for key, obj in self.objects.items() if not obj.deleted]

    def _all(self, kind: Kind) -> list[dict[str, Any]]:
        res = _resource(kind)
        return [copy.deepcopy(obj) for key, obj in self._raw_items() if key[0] == res]

    def _find(self, kind: Kind, namespace: str | None, name: str) -> dict[str, Any] | None:
        key = self._key(kind, namespace, name)
        if key not in self.objects or self.objects[key].deleted:
            return None
        return copy.deepcopy(self.objects[key].raw)

    def _store(self, kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
        self._revision += 1
        obj["metadata"]["resourceVersion"] = str(self._revision)
        key = self._key(kind, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        if key in self.objects and not self.objects[key].deleted:
            history = self.objects[key].history
            history.append(copy.deepcopy(obj))
            del history[:-HISTORY_KEPT]
        else:
            self.objects[key] = copy.deepcopy(obj)
        return obj

    def _remove(self, kind: Kind, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        with contextlib.suppress(KeyError):
            del self.objects[self._key(kind, obj["metadata"].get("namespace"), name)]
        if kind is NAMESPACES:  # a forced finalize leaves orphans behind: purge them with it
            for key in [key for key, _ in self._raw_items() if key[1] == name]:
                del self.objects[key]
        self._revision += 1

    def reset(self) -> None:
        """Empty the cluster, keeping the namespaces every cluster has."""
        for key in list(self.objects):
            del self.objects[key]
        self._faults.clear()
        for name in SYSTEM_NAMESPACES:
            self._create(Route(NAMESPACES, None, None, None), {"metadata": {"name": name}})

    def load(self) -> None:
        """Start from the saved state when there is one, from an empty cluster otherwise."""
        saved = read_state(self.state_file) if self.state_file else None
        if saved is None:
            self.reset()
            return
        self._revision, objects = saved
        for kind, obj in objects:
            self.objects[self._key(kind, obj["metadata"].get("namespace"), obj["metadata"]["name"])] = obj

    def _save(self) -> None:
        if self.state_file is not None:
            write_state(self.state_file, self._revision, [obj for _, obj in self._raw_items()])
