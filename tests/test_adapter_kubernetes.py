"""The Kubernetes adapter against a real API server process (the extended kmock emulator).

Every test starts from the seeded world (see ``tests/fixtures/kubernetes.py``) and checks the
cluster itself through an independent official client, not only what the adapter returns.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from recovery.adapters.kubernetes import KubernetesAdapter
from recovery.adapters.kubernetes_models import AppliedAction, NamespaceDeletionOutcome, ScaleRecord
from recovery.errors import (
    ConfigError,
    NotFoundError,
    PermanentError,
    TransientError,
    UnreachableError,
)
from recovery.sandbox import k8s_server, procs
from recovery.sandbox.k8s_seed import SURVIVOR_PV, seed_kubernetes
from tests.fixtures.kubernetes import SEEDED_DEPLOYMENTS, K8sWorld


@pytest.fixture
def adapter(k8s: K8sWorld):
    with KubernetesAdapter(k8s.kubeconfig, poll_interval=0.05) as k8s_adapter:
        yield k8s_adapter


def plain(api: client.ApiClient, model: Any) -> Any:
    """A client model as the API's JSON (what the server really holds), for typed-free assertions."""
    return api.sanitize_for_serialization(model)


def names(api: client.ApiClient, listing: Any) -> list[str]:
    return sorted(item["metadata"]["name"] for item in plain(api, listing)["items"])


def replicas_in(api: client.ApiClient, namespace: str) -> dict[str, int]:
    found = plain(api, client.AppsV1Api(api).list_namespaced_deployment(namespace))
    return {d["metadata"]["name"]: d["spec"]["replicas"] for d in found["items"]}


def namespace_absent(api: client.ApiClient, name: str) -> bool:
    try:
        client.CoreV1Api(api).read_namespace(name)
    except ApiException as exc:
        return exc.status == 404
    return False


def test_scale_all_to_zero_records_each_previous_count_and_leaves_every_deployment_at_zero(
    adapter, k8s_client
):
    record = adapter.scale_all("production", 0)

    assert record.previous == SEEDED_DEPLOYMENTS
    assert record.target == 0
    assert replicas_in(k8s_client, "production") == {name: 0 for name in SEEDED_DEPLOYMENTS}


def test_restore_scale_from_a_persisted_record_puts_back_the_exact_counts(adapter, k8s_client):
    persisted = adapter.scale_all("production", 0).model_dump_json()

    adapter.restore_scale(ScaleRecord.model_validate_json(persisted))

    assert replicas_in(k8s_client, "production") == SEEDED_DEPLOYMENTS
    assert {d.name: d.ready_replicas for d in adapter.list_deployments("production")} == SEEDED_DEPLOYMENTS


def test_scale_all_retried_with_the_first_snapshot_still_remembers_the_original_counts(adapter, k8s_client):
    snapshot = adapter.snapshot_scale("production")
    adapter.scale_all("production", 0)  # a first attempt that "crashed" after scaling

    record = adapter.scale_all("production", 0, record=snapshot)
    adapter.restore_scale(record)

    assert replicas_in(k8s_client, "production") == SEEDED_DEPLOYMENTS


def test_restore_scale_restores_the_survivors_and_then_names_a_deleted_deployment(adapter, k8s_client):
    record = adapter.scale_all("production", 0)
    client.AppsV1Api(k8s_client).delete_namespaced_deployment("website", "production")

    with pytest.raises(NotFoundError, match="website"):
        adapter.restore_scale(record)

    expected = {name: count for name, count in SEEDED_DEPLOYMENTS.items() if name != "website"}
    assert replicas_in(k8s_client, "production") == expected


def test_scale_all_in_a_missing_namespace_raises_not_found(adapter):
    with pytest.raises(NotFoundError, match="staging"):
        adapter.scale_all("staging", 0)


def test_deleting_a_namespace_removes_it_with_its_statefulset_and_deployments(adapter, k8s_client):
    result = adapter.delete_namespace("vault", timeout_seconds=5)

    assert result.outcome is NamespaceDeletionOutcome.deleted
    assert namespace_absent(k8s_client, "vault")
    assert client.AppsV1Api(k8s_client).list_stateful_set_for_all_namespaces().items == []
    adapter.delete_namespace("production", timeout_seconds=5)
    assert client.AppsV1Api(k8s_client).list_deployment_for_all_namespaces().items == []


def test_namespace_held_by_a_finalizer_stays_terminating_until_the_forced_path_clears_it(adapter, k8s_client):
    core = client.CoreV1Api(k8s_client)
    held: Any = {"metadata": {"name": "held", "finalizers": ["sandbox/hold"]}}
    core.create_namespaced_config_map("vault", held)
    core.delete_namespace("vault")
    time.sleep(0.3)
    assert adapter.namespace_phase("vault") == "Terminating"

    started = time.monotonic()
    result = adapter.delete_namespace("vault", timeout_seconds=0.5)

    assert result.outcome is NamespaceDeletionOutcome.forced
    assert "kubernetes" in result.stuck_on
    assert 0.5 <= time.monotonic() - started < 10
    assert namespace_absent(k8s_client, "vault")
    assert not adapter.namespace_exists("vault")


def test_deleting_a_missing_namespace_reports_already_absent(adapter):
    result = adapter.delete_namespace("never-created")

    assert result.outcome is NamespaceDeletionOutcome.already_absent


def test_delete_pvs_by_label_removes_the_vault_volumes_and_spares_the_unlabelled_one(adapter, k8s_client):
    deleted = adapter.delete_pvs("app=vault")

    assert sorted(deleted) == ["vault-data-0", "vault-data-1", "vault-data-2"]
    assert names(k8s_client, client.CoreV1Api(k8s_client).list_persistent_volume()) == [SURVIVOR_PV]
    assert adapter.list_pvs("app=vault") == []
    assert adapter.delete_pvs("app=vault") == []


def test_delete_pvs_refuses_an_empty_selector_and_deletes_nothing(adapter, k8s_client):
    with pytest.raises(ConfigError):
        adapter.delete_pvs("  ")

    assert len(client.CoreV1Api(k8s_client).list_persistent_volume().items) == 4


def test_apply_manifest_creates_every_document_then_replaces_them_on_the_second_apply(
    adapter, k8s_client, tmp_path
):
    manifest = tmp_path / "honeypot.yaml"
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "honeypot"}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "fake-vault", "namespace": "honeypot"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "fake-vault"}},
                "template": {
                    "metadata": {"labels": {"app": "fake-vault"}},
                    "spec": {"containers": [{"name": "trap", "image": "honeypot:1"}]},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "fake-vault", "namespace": "honeypot"},
            "spec": {"selector": {"app": "fake-vault"}, "ports": [{"port": 8200}]},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bait"}, "data": {"note": "v1"}},
    ]
    manifest.write_text(yaml.safe_dump_all(docs))

    first = adapter.apply_manifest(manifest, namespace="honeypot")
    docs[1]["spec"]["replicas"] = 5
    docs[3]["data"]["note"] = "v2"
    manifest.write_text(yaml.safe_dump_all(docs))
    second = adapter.apply_manifest(manifest, namespace="honeypot")

    assert [a.action for a in first] == [AppliedAction.created] * 4
    assert [a.action for a in second] == [AppliedAction.replaced] * 4
    core, apps = client.CoreV1Api(k8s_client), client.AppsV1Api(k8s_client)
    deployment = plain(k8s_client, apps.read_namespaced_deployment("fake-vault", "honeypot"))
    service = plain(k8s_client, core.read_namespaced_service("fake-vault", "honeypot"))
    assert deployment["spec"]["replicas"] == 5
    assert service["spec"]["ports"][0]["port"] == 8200
    assert core.read_namespaced_config_map("bait", "honeypot").data == {"note": "v2"}


def test_apply_manifest_with_an_invalid_name_is_a_permanent_error(adapter):
    with pytest.raises(PermanentError, match="422"):
        adapter.apply_manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_Valid"}})


def test_apply_manifest_of_an_unknown_kind_is_a_config_error(adapter):
    with pytest.raises(ConfigError, match="Honeypot"):
        adapter.apply_manifest(
            {"apiVersion": "traps.example.com/v1", "kind": "Honeypot", "metadata": {"name": "x"}}
        )


def test_a_malformed_secret_manifest_is_a_config_error_that_does_not_quote_the_secret(adapter):
    bad_secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db"},
        "stringData": {"password": ["s3cr3t-value-91"]},
    }

    with pytest.raises(ConfigError) as caught:
        adapter.apply_manifest(bad_secret)
    assert "s3cr3t-value-91" not in str(caught.value)


def test_unreachable_api_server_raises_unreachable_error_quickly(tmp_path):
    kubeconfig = k8s_server.write_kubeconfig(
        tmp_path / "kubeconfig", f"http://127.0.0.1:{procs.free_port()}", "t"
    )
    started = time.monotonic()

    with KubernetesAdapter(kubeconfig, connect_timeout=1) as unreachable, pytest.raises(UnreachableError):
        unreachable.namespace_exists("production")

    assert time.monotonic() - started < 5


@pytest.mark.parametrize("status", [503, 429])
def test_server_errors_and_throttling_are_transient(adapter, k8s, status):
    k8s_server.inject_faults(k8s.kubeconfig, status)

    with pytest.raises(TransientError, match=str(status)):
        adapter.list_pvs("app=vault")
    assert len(adapter.list_pvs("app=vault")) == 3  # the fault was one request long


def test_a_wrong_token_is_a_permanent_error_not_a_retry(k8s, tmp_path):
    kubeconfig = k8s_server.write_kubeconfig(tmp_path / "kubeconfig", k8s.address, "not-the-token")

    with KubernetesAdapter(kubeconfig) as intruder, pytest.raises(PermanentError, match="401") as caught:
        intruder.list_deployments("production")
    assert not isinstance(caught.value, TransientError)


def test_a_missing_kubeconfig_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        KubernetesAdapter(tmp_path / "absent.yaml")


def test_seeding_twice_brings_the_world_back_to_the_seeded_state_without_duplicates(adapter, k8s, k8s_client):
    adapter.scale_all("production", 0)
    adapter.delete_pvs("app=vault")

    seed_kubernetes(k8s.kubeconfig, deployments=SEEDED_DEPLOYMENTS)
    seed_kubernetes(k8s.kubeconfig, deployments=SEEDED_DEPLOYMENTS)

    assert replicas_in(k8s_client, "production") == SEEDED_DEPLOYMENTS
    vault_sets = plain(k8s_client, client.AppsV1Api(k8s_client).list_namespaced_stateful_set("vault"))
    assert [(s["metadata"]["name"], s["spec"]["replicas"]) for s in vault_sets["items"]] == [("vault", 3)]
    pvs = names(k8s_client, client.CoreV1Api(k8s_client).list_persistent_volume())
    assert pvs == [SURVIVOR_PV, "vault-data-0", "vault-data-1", "vault-data-2"]


def test_kubeconfig_written_by_the_world_is_private(k8s_world):
    assert (Path(k8s_world.kubeconfig).stat().st_mode & 0o777) == 0o600
