"""The validation checklist flow against the running rehearsal world and a real Prefect API.

Failures are made in the world itself -- a service answering 503 (its fail file), a sealed Vault,
a server that accepts connections and never answers -- and put back in a ``finally`` so the other
tests sharing the session's world find it healthy.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml
from prefect import flow, get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
from prefect.runtime import flow_run

from flows.validate import ARTIFACT_KEY, run_validation, validate, validate_recovery
from recovery.domain.models import CheckResult, ValidationReport
from recovery.domain.validation import log_line, markdown
from recovery.inventory import load_inventory
from recovery.sandbox import procs, vault_server
from tests.fixtures.world import World
from tests.servers import SilentServer

pytestmark = pytest.mark.usefixtures("prefect_api")

CORE = {"mongodb", "redis", "vault", "aws-secrets-manager"}


def expected_components(world: World) -> set[str]:
    return {f"service:{svc.name}" for svc in world.inventory.services} | CORE


async def run_flow(inventory: Path, timeout_s: float = 5.0) -> tuple[ValidationReport, UUID]:
    state = await validate_recovery(inventory=str(inventory), timeout_s=timeout_s, return_state=True)
    assert state.is_completed(), state
    report = await state.aresult()
    assert isinstance(report, ValidationReport)
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    return report, run_id


async def artifact_rows(run_id: UUID) -> list[dict[str, Any]]:
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[ARTIFACT_KEY]), flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])
            )
        )
    assert len(artifacts) == 1, artifacts
    assert artifacts[0].type == "table"
    data = artifacts[0].data
    rows: list[dict[str, Any]] = json.loads(data) if isinstance(data, str) else data  # type: ignore[assignment]
    return rows


async def test_healthy_world_validates_every_component_and_publishes_a_row_for_each(world: World) -> None:
    report, run_id = await run_flow(world.inventory_path)

    assert report.healthy, [c for c in report.checks if not c.ok]
    assert report.failing == []
    assert {c.component for c in report.checks} == expected_components(world)
    assert all(c.latency_ms is not None and c.latency_ms >= 0 for c in report.checks)
    vault = next(c for c in report.checks if c.component == "vault")
    assert vault.detail.startswith("ok")

    rows = await artifact_rows(run_id)
    assert [r["component"] for r in rows] == [c.component for c in report.checks]
    assert all(r["ok"] is True for r in rows)
    assert set(rows[0]) == {"component", "ok", "latency_ms", "detail"}


async def test_a_failing_service_and_a_sealed_vault_are_exactly_what_the_report_says_is_failing(
    world: World,
) -> None:
    inv = world.inventory
    records = procs.load_state(world.dir)
    victim = inv.services[1].name
    fail_file = Path(records[f"service:{victim}"].extra["fail_file"])
    vault_address = records["vault"].address
    try:
        fail_file.touch()
        vault_server.seal(vault_address, inv.vault.token.resolve())

        report, run_id = await run_flow(world.inventory_path)

        assert not report.healthy
        assert report.failing == [f"service:{victim}", "vault"]
        by_name = {c.component: c for c in report.checks}
        assert "HTTP 503" in by_name[f"service:{victim}"].detail
        assert by_name["vault"].detail.startswith("sealed")
        rows = {r["component"]: r for r in await artifact_rows(run_id)}
        assert rows["vault"]["ok"] is False and rows[f"service:{victim}"]["ok"] is False
    finally:
        fail_file.unlink(missing_ok=True)
        vault_server.unseal(vault_address, world.dir)
        vault_server.wait_active(vault_address)

    restored, _ = await run_flow(world.inventory_path)
    assert restored.healthy, restored.failing


def test_hung_servers_time_out_on_their_own_deadline_while_the_others_report_their_real_result(
    world: World, silent: SilentServer, tmp_path: Path
) -> None:
    # A copy of the world's inventory (secrets are referenced by file, so copying is safe) whose
    # second service, Vault and AWS point at a server that accepts and never answers.
    doc = yaml.safe_load(world.inventory_path.read_text())
    hung_service = doc["services"][1]["name"]
    doc["services"][1]["health_url"] = f"{silent.url}/health"
    doc["vault"]["address"] = silent.url
    doc["aws"]["endpoint_url"] = silent.url
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(doc))
    hung = {f"service:{hung_service}", "vault", "aws-secrets-manager"}
    timeout_s = 2.0

    began = time.monotonic()
    report = run_validation(str(inventory), timeout_s=timeout_s)  # what the CLI calls
    elapsed = time.monotonic() - began

    assert set(report.failing) == hung
    for check in report.checks:
        if check.component in hung:
            assert "no answer within 2s" in check.detail, check
            assert check.latency_ms is not None and check.latency_ms < (timeout_s + 1) * 1000
        else:
            assert check.ok, check
    # Not a benchmark: three hung checks one after the other (or waiting for their abandoned
    # threads at exit) would take several times the timeout.
    assert elapsed < timeout_s + 5, elapsed


def test_validate_inside_a_sync_flow_reports_under_that_flow_run(world: World) -> None:
    @flow(name="test-recover-like")
    def recover_like(inventory: str) -> tuple[ValidationReport, str]:
        return validate(load_inventory(inventory), timeout_s=5.0), str(flow_run.id)

    report, run_id = recover_like(str(world.inventory_path))

    assert report.healthy, report.failing
    assert {c.component for c in report.checks} == expected_components(world)
    rows = asyncio.run(artifact_rows(UUID(run_id)))
    assert len(rows) == len(report.checks)


def test_log_lines_and_markdown_say_which_component_failed_and_why() -> None:
    report = ValidationReport(
        checks=[
            CheckResult(component="redis", ok=True, latency_ms=3.2, detail="PONG"),
            CheckResult(component="vault", ok=False, latency_ms=12, detail="sealed | raft"),
        ]
    )
    assert log_line(report.checks[0]) == "✅ redis healthy (3 ms): PONG"
    assert log_line(report.checks[1]) == "❌ vault DOWN (12 ms): sealed | raft"
    text = markdown(report)
    assert text.startswith("1 of 2 components failing: vault")
    assert "sealed \\| raft" in text
