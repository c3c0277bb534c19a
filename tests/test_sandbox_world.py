"""``recovery sandbox up|status|down`` through the real command line, in a world of its own."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from recovery.inventory import load_inventory
from recovery.sandbox import procs

pytestmark = pytest.mark.timeout(240)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recovery.cli", *args], capture_output=True, text=True, timeout=180
    )


@pytest.fixture(scope="module")
def cli_world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    directory = tmp_path_factory.mktemp("cli-world")
    first = _cli("sandbox", "up", "--dir", str(directory))
    yield directory, first
    _cli("sandbox", "down", "--dir", str(directory))


def test_up_prints_the_path_of_a_valid_inventory_for_the_world(cli_world) -> None:  # type: ignore[no-untyped-def]
    directory, first = cli_world
    assert first.returncode == 0, first.stderr
    path = Path(first.stdout.strip())
    assert path == directory / "inventory.yaml"
    inv = load_inventory(path)
    assert len(inv.services) == 5
    assert inv.vault.token.file is not None and stat.S_IMODE(inv.vault.token.file.stat().st_mode) == 0o600
    assert stat.S_IMODE((directory / "vault" / "init.json").stat().st_mode) == 0o600


def test_status_reports_every_component_healthy_as_json(cli_world) -> None:  # type: ignore[no-untyped-def]
    directory, _ = cli_world
    result = _cli("sandbox", "status", "--dir", str(directory), "--json")
    assert result.returncode == 0, result.stdout
    rows = json.loads(result.stdout)
    assert {r["name"] for r in rows} >= {"aws", "vault", "kubernetes", "redis", "mongodb"}
    assert sum(r["name"].startswith("service:") for r in rows) == 5
    assert all(r["state"] == "healthy" and r["address"] for r in rows), rows


def test_running_up_twice_keeps_the_same_servers_and_world(cli_world) -> None:  # type: ignore[no-untyped-def]
    directory, first = cli_world
    before = procs.load_state(directory)
    canaries_before = (directory / "secrets" / "canaries.json").read_bytes()
    again = _cli("sandbox", "up", "--dir", str(directory))
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    after = procs.load_state(directory)
    assert {n: r.pid for n, r in after.items()} == {n: r.pid for n, r in before.items()}
    assert (directory / "secrets" / "canaries.json").read_bytes() == canaries_before


def test_status_notices_a_component_that_died(cli_world) -> None:  # type: ignore[no-untyped-def]
    directory, _ = cli_world
    record = procs.load_state(directory)["service:paintbox"]
    procs.stop(record.pid)
    result = _cli("sandbox", "status", "--dir", str(directory), "--json")
    assert result.returncode == 1
    states = {r["name"]: r["state"] for r in json.loads(result.stdout)}
    assert states["service:paintbox"] == "stopped"
    assert _cli("sandbox", "up", "--dir", str(directory)).returncode == 0  # up repairs it
    assert _cli("sandbox", "status", "--dir", str(directory)).returncode == 0


def test_down_stops_every_process_up_started_and_nothing_else(
    tmp_path_factory: pytest.TempPathFactory, cli_world  # type: ignore[no-untyped-def]
) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        directory = tmp_path_factory.mktemp("short-world")
        assert _cli("sandbox", "up", "--dir", str(directory)).returncode == 0
        pids = [r.pid for r in procs.load_state(directory).values()]
        result = _cli("sandbox", "down", "--dir", str(directory))
        assert result.returncode == 0 and "stopped 10 process(es)" in result.stdout
        assert [p for p in pids if procs.pid_alive(p)] == []
        assert bystander.poll() is None  # not ours to stop
        other = procs.load_state(cli_world[0])
        assert all(procs.pid_alive(r.pid) for r in other.values())  # another world untouched
    finally:
        bystander.kill()


def test_down_on_a_directory_with_no_world_is_a_clear_error(tmp_path: Path) -> None:
    result = _cli("sandbox", "down", "--dir", str(tmp_path / "nothing-here"))
    assert result.returncode == 2
    assert "no sandbox world" in result.stderr


def test_world_secret_files_are_private(cli_world) -> None:  # type: ignore[no-untyped-def]
    directory, _ = cli_world
    for path in (directory / "secrets").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    project = load_inventory(directory / "inventory.yaml").project_root
    for env in project.rglob(".env"):
        assert stat.S_IMODE(os.stat(env).st_mode) == 0o600, env
