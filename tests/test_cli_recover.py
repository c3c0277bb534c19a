"""The ``recovery`` command line's recovery commands, as an operator runs them: real subprocesses
(``python -m recovery.cli``) against the session's rehearsal world and a real Prefect API.

Every test asserts what happened in the world (file bytes, reports written, flow runs created) and
the exit code the CLI promises (0 ok, 1 failed/unhealthy, 2 bad input, 3 rejected/timed out,
4 another recovery running). Tests that change files start from ``world.reset`` so their order does
not matter. A recovery left paused by a failing test is killed and its lock broken in ``finally``,
so it cannot make the next test wait for the lock.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from prefect import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort

from flows.lock import break_lock
from recovery.sandbox import procs
from recovery.sandbox import world as sandbox
from tests.fixtures.world import World

CLI_TIMEOUT_S = 120
VALID = ("alpha", "bravo", "charlie", "delta", "auto-detect")


# -- helpers ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cli:
    """How to start the CLI: the world's inventory, the session's Prefect API, fast retries."""

    env: dict[str, str]
    inventory: Path
    cwd: Path

    def argv(self, *args: str, inventory: Path | None = None) -> list[str]:
        return [sys.executable, "-m", "recovery.cli", "--inventory", str(inventory or self.inventory), *args]

    def run(self, *args: str, inventory: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args, inventory=inventory), env=self.env, cwd=self.cwd,
                              capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False)

    def start(self, *args: str, log: Path) -> Background:
        out, err = log.with_suffix(".out"), log.with_suffix(".err")
        with open(out, "w") as stdout, open(err, "w") as stderr:
            process = subprocess.Popen(self.argv(*args), env=self.env, cwd=self.cwd, stdout=stdout,
                                       stderr=stderr, text=True)
        return Background(process, out, err)


@dataclass
class Background:
    """A CLI process running in the background; its output goes to files (no pipe can fill up)."""

    process: subprocess.Popen[str]
    out: Path
    err: Path

    def finish(self, timeout: float = CLI_TIMEOUT_S) -> tuple[int, str, str]:
        code = self.process.wait(timeout=timeout)
        return code, self.out.read_text(), self.err.read_text()

    def output(self) -> str:
        return f"stdout:\n{self.out.read_text()}\nstderr:\n{self.err.read_text()}"

    def stop(self) -> None:
        """Kill it if still running and free the recovery lock it may hold (a killed holder keeps
        its slot until someone breaks the lock: see flows/lock.py)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
            break_lock()


@pytest.fixture(scope="module")
def cli(world: World, prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    home = tmp_path_factory.mktemp("cli-prefect-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RECOVERY_"))}
    env |= {
        "PREFECT_API_URL": prefect_api,
        "PREFECT_HOME": str(home),  # persisted results of the CLI's flow runs land here, not in ~
        "RECOVERY_RETRY_DELAYS": "0.2,0.5",
    }
    return Cli(env=env, inventory=world.inventory_path, cwd=tmp_path_factory.mktemp("cli-cwd"))


@pytest.fixture
def fresh(world: World) -> World:
    """The world put back into its "after a failed deployment" state before the test."""
    sandbox.reset(world.dir)
    return world


def snapshot(*roots: Path) -> dict[str, str]:
    """sha256 of every file under ``roots``: the bytes of the world, to compare before/after."""
    hashes = {}
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            hashes[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def reports(world: World) -> set[Path]:
    return set(world.inventory.reports_dir.glob("recovery-report-*.md"))


def new_report(world: World, before: set[Path]) -> str:
    added = reports(world) - before
    assert len(added) == 1, f"expected exactly one new report, got {sorted(added)}"
    return added.pop().read_text()


def count_flow_runs() -> int:
    with get_client(sync_client=True) as client:
        return client.count_flow_runs()


def recover_run_ids() -> set[uuid.UUID]:
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["recover"])))
    return {run.id for run in runs}


def paused_recovery(background: Background, known: set[uuid.UUID], timeout_s: float = 60) -> uuid.UUID:
    """The newest flow run of flow "recover", started after ``known`` was read, once it is PAUSED."""
    deadline = time.monotonic() + timeout_s
    paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    while time.monotonic() < deadline:
        assert background.process.poll() is None, f"the recovery ended before pausing\n{background.output()}"
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["recover"])),
                                         flow_run_filter=paused, sort=FlowRunSort.START_TIME_DESC, limit=5)
        fresh_runs = [run for run in runs if run.id not in known]
        if fresh_runs:
            return fresh_runs[0].id
        time.sleep(0.5)
    raise AssertionError(f"no paused recovery within {timeout_s} s\n{background.output()}")


def env_files(world: World) -> dict[str, bytes]:
    inv = world.inventory
    paths = [inv.project_root / ".env", *(inv.service_env(s) for s in inv.services)]
    return {str(p.relative_to(inv.project_root)): p.read_bytes() for p in paths}


def assert_no_canary(world: World, *texts: str) -> None:
    for canary in world.canaries:
        for text in texts:
            assert canary not in text, "a secret value from the world appeared in the CLI's output"


# -- bad input: exit 2, nothing created, nothing changed ----------------------------------------------
def test_run_unknown_checkpoint_exits_2_names_every_valid_option_and_creates_no_flow_run(cli: Cli) -> None:
    runs_before = count_flow_runs()

    done = cli.run("run", "omega")

    assert done.returncode == 2, done.stderr
    assert "omega" in done.stderr
    for option in VALID:
        assert option in done.stderr
    assert count_flow_runs() == runs_before


def test_run_auto_detect_exits_2_saying_it_is_not_available_yet(cli: Cli, world: World) -> None:
    runs_before, reports_before = count_flow_runs(), reports(world)

    done = cli.run("run", "auto-detect")

    assert done.returncode == 2, done.stderr
    assert "not available yet" in done.stderr
    assert count_flow_runs() == runs_before
    assert reports(world) == reports_before  # no report of a made-up decision


def _bad_yaml(source: dict[str, object]) -> str:
    return "project_root: [unclosed\nservices: {\n"


def _missing_project_root(source: dict[str, object]) -> str:
    return yaml.safe_dump({k: v for k, v in source.items() if k != "project_root"})


@pytest.mark.parametrize(
    ("make", "problem"),
    [(_bad_yaml, "not valid YAML"), (_missing_project_root, "project_root")],
    ids=["bad-yaml", "missing-project-root"],
)
def test_run_with_malformed_inventory_exits_2_naming_the_problem_and_changes_nothing(
    cli: Cli, world: World, tmp_path: Path, make: Callable[[dict[str, object]], str], problem: str
) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(make(yaml.safe_load(world.inventory_path.read_text())))
    before, runs_before = snapshot(world.dir / "project", world.inventory.reports_dir), count_flow_runs()

    done = cli.run("run", "alpha", "--auto-approve", inventory=inventory)

    assert done.returncode == 2, done.stderr
    assert problem in done.stderr
    assert str(inventory) in done.stderr
    assert snapshot(world.dir / "project", world.inventory.reports_dir) == before
    assert count_flow_runs() == runs_before


# -- dry run --------------------------------------------------------------------------------------------
def test_run_alpha_dry_run_exits_0_changes_no_byte_and_reports_the_planned_overwrites(
    cli: Cli, fresh: World
) -> None:
    inv = fresh.inventory
    before, reports_before = snapshot(inv.project_root), reports(fresh)

    done = cli.run("run", "alpha", "--dry-run")

    assert done.returncode == 0, done.stderr
    assert "checkpoint alpha: dry_run" in done.stdout
    assert snapshot(inv.project_root) == before
    report = new_report(fresh, reports_before)
    assert "dry run — nothing was changed" in report
    baseline = inv.backups.baseline_dir
    planned = sorted(p.relative_to(baseline).as_posix() for p in baseline.rglob("*") if p.is_file())
    assert len(planned) == len(inv.services) + 1  # the root .env and one per service
    for relative in planned:
        assert f"| overwrite | {relative} | planned |" in report, relative
    assert_no_canary(fresh, done.stdout, done.stderr, report)


# -- approval: approve, reject, time out -------------------------------------------------------------
def test_run_bravo_paused_then_approved_by_alice_restores_the_emergency_credentials(
    cli: Cli, fresh: World, tmp_path: Path
) -> None:
    inv = fresh.inventory
    emergency = (inv.backups.emergency_dir / ".env.new").read_bytes()
    untouched = {s.name for s in inv.services} - {s.name for s in inv.bravo_services()}
    assert untouched, "the world should have services Bravo leaves alone"
    files_before, reports_before, known = env_files(fresh), reports(fresh), recover_run_ids()
    run = cli.start("run", "bravo", log=tmp_path / "run")
    try:
        run_id = paused_recovery(run, known)
        assert env_files(fresh) == files_before  # paused: nothing written yet

        decided = cli.run("approve", str(run_id), "--approver", "alice", "--reason", "drill")
        code, out, err = run.finish()
    finally:
        run.stop()

    assert decided.returncode == 0, decided.stderr
    assert f"approved run {run_id} as alice" in decided.stdout
    assert code == 0, err
    assert "checkpoint bravo: succeeded" in out
    assert (inv.project_root / ".env").read_bytes() == emergency
    for service in inv.bravo_services():
        assert inv.service_env(service).read_bytes() == emergency, service.name
    for service in inv.services:
        if service.name in untouched:
            relative = str(inv.service_env(service).relative_to(inv.project_root))
            assert inv.service_env(service).read_bytes() == files_before[relative], service.name
    report = new_report(fresh, reports_before)
    assert "**Approved** by **alice**" in report
    assert "Reason: drill" in report
    assert str(run_id) in report
    assert_no_canary(fresh, out, err, decided.stdout, decided.stderr, report)


def test_run_bravo_rejected_by_bob_exits_3_and_changes_nothing(
    cli: Cli, fresh: World, tmp_path: Path
) -> None:
    before, reports_before, known = snapshot(fresh.inventory.project_root), reports(fresh), recover_run_ids()
    run = cli.start("run", "bravo", log=tmp_path / "run")
    try:
        run_id = paused_recovery(run, known)
        decided = cli.run("reject", str(run_id), "--approver", "bob", "--reason", "wrong incident")
        code, out, err = run.finish()
    finally:
        run.stop()

    assert decided.returncode == 0, decided.stderr
    assert f"rejected run {run_id} as bob" in decided.stdout
    assert code == 3, err
    assert "checkpoint bravo: rejected" in out
    assert snapshot(fresh.inventory.project_root) == before
    report = new_report(fresh, reports_before)
    assert "rejected at approval — nothing was changed" in report
    assert "**Rejected** by **bob**" in report
    assert "Reason: wrong incident" in report


def test_run_alpha_with_nobody_answering_times_out_exits_3_and_changes_nothing(
    cli: Cli, fresh: World
) -> None:
    before, reports_before = snapshot(fresh.inventory.project_root), reports(fresh)

    done = cli.run("run", "alpha", "--approval-timeout", "3")

    assert done.returncode == 3, done.stderr
    assert "checkpoint alpha: timed_out" in done.stdout
    assert "approval timed out" in done.stdout
    assert snapshot(fresh.inventory.project_root) == before
    report = new_report(fresh, reports_before)
    assert "approval timed out — nothing was changed" in report
    assert "**Timed out**" in report


# -- validate ---------------------------------------------------------------------------------------------
def test_validate_exits_0_on_a_healthy_world_and_1_naming_paintbox_when_it_fails(
    cli: Cli, fresh: World
) -> None:
    healthy = cli.run("validate")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert healthy.stdout.rstrip().endswith("healthy")

    fail_file = Path(procs.load_state(fresh.dir)["service:paintbox"].extra["fail_file"])
    fail_file.touch()
    try:
        unhealthy = cli.run("validate")
    finally:
        fail_file.unlink(missing_ok=True)

    assert unhealthy.returncode == 1, unhealthy.stdout + unhealthy.stderr
    assert "unhealthy: service:paintbox" in unhealthy.stdout
    failing = [line for line in unhealthy.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failing) == 1 and "service:paintbox" in failing[0], unhealthy.stdout


# -- approve / reject an unknown run -------------------------------------------------------------------
def test_approve_an_unknown_run_exits_2_naming_the_run_id(cli: Cli) -> None:
    run_id = uuid.uuid4()

    done = cli.run("approve", str(run_id), "--approver", "alice", "--reason", "drill")

    assert done.returncode == 2, done.stderr
    assert f"no flow run {run_id}" in done.stderr


def test_approve_a_malformed_run_id_exits_2_saying_a_uuid_is_expected(cli: Cli) -> None:
    done = cli.run("approve", "run-42", "--approver", "alice", "--reason", "drill")

    assert done.returncode == 2, done.stderr
    assert "run-42" in done.stderr and "UUID" in done.stderr


# -- one recovery at a time -----------------------------------------------------------------------------
def test_a_second_recovery_while_one_waits_for_approval_exits_4_and_changes_nothing(
    cli: Cli, fresh: World, tmp_path: Path
) -> None:
    before, known = snapshot(fresh.inventory.project_root), recover_run_ids()
    first = cli.start("run", "bravo", log=tmp_path / "first")
    try:
        run_id = paused_recovery(first, known)

        second = cli.run("run", "alpha", "--auto-approve")

        assert second.returncode == 4, second.stdout + second.stderr
        assert "another recovery is running" in second.stderr
        assert str(run_id) in second.stderr  # names the holder
        assert snapshot(fresh.inventory.project_root) == before

        decided = cli.run("reject", str(run_id), "--approver", "bob", "--reason", "lock test")
        assert decided.returncode == 0, decided.stderr
        code, _out, err = first.finish()
        assert code == 3, err
    finally:
        first.stop()
    assert snapshot(fresh.inventory.project_root) == before



def test_a_non_positive_approval_timeout_is_refused_before_anything_runs(cli: Cli) -> None:
    done = cli.run("run", "alpha", "--approval-timeout", "0")

    assert done.returncode == 2
    assert "must be at least 1 second" in done.stderr
