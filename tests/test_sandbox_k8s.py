"""The sandbox's Kubernetes API emulator behaves like the real API server where the flows rely on it.

Pure parts (routes, selectors) are tested directly; the rest through the official client against
the running emulator process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from recovery.adapters.kubernetes import KubernetesAdapter
from recovery.sandbox import k8s_server, procs
from recovery.sandbox.k8s_objects import ApiError, parse_route, selector_matcher
from recovery.sandbox.k8s_seed import seed_kubernetes
from tests.fixtures.kubernetes import K8sWorld


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("app=vault", {"app": "vault"}, True),
        ("app==vault", {"app": "web"}, False),
        ("app!=vault", {}, True),
        ("app in (vault, web),tier", {"app": "web", "tier": "db"}, True),
        ("app notin (vault)", {"app": "vault"}, False),
        ("!tier", {"app": "vault"}, True),
        ("", {"anything": "x"}, True),
    ],
)
def test_label_selectors_match_like_the_api_server(selector, labels, matches):
    assert selector_matcher(selector)(labels) is matches


def test_namespace_urls_address_the_namespace_itself_and_its_contents():
    assert parse_route("/api/v1/namespaces").kind.plural == "namespaces"  # type: ignore[union-attr]
    finalize = parse_route("/api/v1/namespaces/vault/finalize")
    assert finalize is not None and (finalize.name, finalize.subresource) == ("vault", "finalize")
    scale = parse_route("/apis/apps/v1/namespaces/prod/deployments/web/scale")
    assert scale is not None and (scale.namespace, scale.name, scale.subresource) == ("prod", "web", "scale")
    assert parse_route("/apis") is None
    with pytest.raises(ApiError):
        parse_route("/api/v1/widgets")


def status_of(call: Any, *args: Any) -> int:
    with pytest.raises(ApiException) as caught:
        call(*args)
    return int(caught.value.status)


def test_a_stale_resource_version_is_refused_with_409(k8s: K8sWorld, k8s_client: client.ApiClient):
    apps = client.AppsV1Api(k8s_client)
    stale: Any = k8s_client.sanitize_for_serialization(
        apps.read_namespaced_deployment("website", "production")
    )
    apps.patch_namespaced_deployment_scale("website", "production", {"spec": {"replicas": 7}})

    assert status_of(apps.replace_namespaced_deployment, "website", "production", stale) == 409


def test_nothing_new_can_be_created_in_a_terminating_namespace(k8s: K8sWorld, k8s_client: client.ApiClient):
    core = client.CoreV1Api(k8s_client)
    held: Any = {"metadata": {"name": "held", "finalizers": ["sandbox/hold"]}}
    core.create_namespaced_config_map("vault", held)
    core.delete_namespace("vault")

    fresh: Any = {"metadata": {"name": "fresh"}}
    assert status_of(core.create_namespaced_config_map, "vault", fresh) == 403
    released: Any = {"metadata": {"finalizers": None}}
    core.patch_namespaced_config_map("held", "vault", released)
    assert status_of(core.read_namespace, "vault") == 404  # the last finalizer let it finish


def test_delete_collection_with_a_set_selector_deletes_only_what_it_picks(
    k8s: K8sWorld, k8s_client: client.ApiClient
):
    core = client.CoreV1Api(k8s_client)
    core.delete_collection_persistent_volume(label_selector="app in (vault)")

    left: Any = k8s_client.sanitize_for_serialization(core.list_persistent_volume())
    assert [pv["metadata"]["labels"] for pv in left["items"]] == [{"app": "backups"}]


def test_a_restarted_emulator_still_holds_the_cluster_it_had(tmp_path: Path):
    first = k8s_server.start(tmp_path)
    try:
        seed_kubernetes(Path(first.extra["kubeconfig"]))
    finally:
        procs.stop(first.pid)
    assert not k8s_server.healthy(first)

    second = k8s_server.start(tmp_path)
    try:
        assert k8s_server.healthy(second)
        with KubernetesAdapter(Path(second.extra["kubeconfig"])) as k8s:
            assert [d.name for d in k8s.list_deployments("production")]
            assert len(k8s.list_pvs("app=vault")) == 3
        assert (tmp_path / "k8s" / "state.json").stat().st_mode & 0o777 == 0o600
    finally:
        procs.stop(second.pid)
