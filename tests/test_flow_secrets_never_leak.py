"""Recovery runs never put a planted secret into a run log, an artifact, a report or a result.

Alpha copies files full of secret values, Charlie exports every secret under the prefix with their
values, Delta snapshots Vault: this runs them for real, then reads back everything Prefect kept
(logs and artifacts of those runs, the persisted results) and the reports on disk, and looks for
every canary the world planted.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.sorting import LogSort

from flows.recover import recover
from recovery.sandbox import world as sandbox
from tests.fixtures.world import World

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.timeout(300)]


def test_canaries_never_reach_run_logs_artifacts_results_or_reports(world: World) -> None:
    sandbox.reset(world.dir)
    canaries = world.canaries
    inventory = str(world.inventory_path)
    states = [
        recover(checkpoint=name, inventory=inventory, auto_approve=True, return_state=True)
        for name in ("alpha", "bravo", "charlie", "delta")
    ]
    assert all(s.is_completed() for s in states), [s.message for s in states]
    results = [s.result() for s in states]
    run_ids = [r.run_id for r in results]
    assert all(run_ids)

    said: list[str] = [r.model_dump_json() for r in results]
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=run_ids)), sort=LogSort.TIMESTAMP_ASC
        )
        assert len(logs) > 20  # the runs really logged (plans, task states, report paths)
        said += [log.message for log in logs]
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=run_ids))
        )
        assert artifacts
        said += [str(a.data) + str(a.description) for a in artifacts]
    said += [p.read_text() for p in Path(world.inventory.reports_dir).glob("recovery-report-*.md")]

    text = "\n".join(said)
    assert [c for c in canaries if c in text] == []
    # the backups taken on the way do hold the values: that is where they belong
    export = next(b for b in results[2].backups if b.kind == "aws-secrets-export")
    assert any(c in Path(export.path).read_text() for c in canaries)
