"""The command adapter runs real processes. There is no Docker engine here, so a small ``docker``
script put first on PATH records what it was asked to do: a real executable, not a mock."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from recovery.adapters.commands import CommandRunner
from recovery.errors import CommandError, ConfigError, PermanentError, TransientError
from recovery.sandbox.project_seed import seed_project
from recovery.secrets import MASK, REDACTOR

FAKE_DOCKER = """#!/bin/sh
# Records its arguments (one per line), the names of its environment variables, and the value docker
# would copy for "-e JWT_SECRET" -- into files next to itself.
here=$(dirname "$0")
printf '%s\\n' "$@" > "$here/argv.txt"
env | cut -d= -f1 | sort > "$here/env-names.txt"
printf '%s' "${JWT_SECRET:-}" > "$here/jwt-seen.txt"
echo "fake docker: $1 done"
"""


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    return bin_dir


@pytest.fixture
def runner(tmp_path: Path, fake_bin: Path) -> CommandRunner:
    return CommandRunner(tmp_path, timeout=30, env={"PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}"})


def recorded_argv(fake_bin: Path) -> list[str]:
    return (fake_bin / "argv.txt").read_text().splitlines()


def test_compose_down_and_up_run_docker_compose_with_the_compose_file(
    runner: CommandRunner, fake_bin: Path, tmp_path: Path
) -> None:
    compose = tmp_path / "docker-compose.yml"

    runner.compose_down(compose)
    assert recorded_argv(fake_bin) == ["compose", "-f", str(compose), "down"]

    result = runner.compose_up(compose)
    assert recorded_argv(fake_bin) == ["compose", "-f", str(compose), "up", "-d"]
    assert result.ok and "fake docker: compose done" in result.stdout


def test_seed_style_docker_compose_binary_can_be_chosen(tmp_path: Path, fake_bin: Path) -> None:
    (fake_bin / "docker-compose").symlink_to(fake_bin / "docker")
    runner = CommandRunner(tmp_path, env={"PATH": str(fake_bin) + os.pathsep + os.environ["PATH"]},
                           compose=("docker-compose",))

    runner.compose_down(Path("docker-compose.yml"))

    assert recorded_argv(fake_bin) == ["-f", "docker-compose.yml", "down"]


def test_docker_run_passes_secrets_by_name_and_their_values_only_through_the_environment(
    runner: CommandRunner, fake_bin: Path
) -> None:
    jwt = "EMERGENCY_" + secrets.token_hex(32)

    runner.docker_run(
        "candlefish/emergency-api:latest",
        name="emergency-api",
        ports=["9999:8000"],
        env_secrets={"JWT_SECRET": SecretStr(jwt)},
    )

    argv = recorded_argv(fake_bin)
    assert argv == ["run", "-d", "--name", "emergency-api", "-p", "9999:8000", "-e", "JWT_SECRET",
                    "candlefish/emergency-api:latest"]
    assert jwt not in (fake_bin / "argv.txt").read_text()
    assert "JWT_SECRET" in (fake_bin / "env-names.txt").read_text().split()
    assert (fake_bin / "jwt-seen.txt").read_text() == jwt


def test_a_registered_secret_in_the_command_line_is_refused_before_anything_runs(
    runner: CommandRunner, fake_bin: Path
) -> None:
    token = secrets.token_hex(20)
    REDACTOR.register(token)

    with pytest.raises(ConfigError, match="argument 3 carries a secret") as caught:
        runner.run(["docker", "run", "-e", f"JWT_SECRET={token}", "image"])

    assert token not in str(caught.value)
    assert not (fake_bin / "argv.txt").exists()


def test_output_that_echoes_a_secret_is_redacted(runner: CommandRunner) -> None:
    token = secrets.token_hex(20)

    result = runner.run(["sh", "-c", 'echo "token is $API_TOKEN"; echo "again $API_TOKEN" >&2'],
                        env_secrets={"API_TOKEN": SecretStr(token)})

    assert result.stdout.strip() == f"token is {MASK}"
    assert result.stderr.strip() == f"again {MASK}"


def test_non_zero_exit_raises_command_error_with_code_and_redacted_tail(runner: CommandRunner) -> None:
    token = secrets.token_hex(20)
    script = 'echo "starting"; echo "failed to auth with $DB_PASSWORD" >&2; exit 3'

    with pytest.raises(CommandError) as caught:
        runner.run(["sh", "-c", script], env_secrets={"DB_PASSWORD": token})

    assert caught.value.returncode == 3
    assert "failed to auth with ***" in caught.value.output_tail
    assert token not in caught.value.output_tail and token not in str(caught.value)


def test_non_zero_exit_with_check_off_returns_the_result(runner: CommandRunner) -> None:
    result = runner.run(["sh", "-c", "exit 7"], check=False)

    assert result.returncode == 7 and not result.ok


def test_command_over_its_timeout_is_killed_with_its_children_and_is_transient(
    runner: CommandRunner, tmp_path: Path
) -> None:
    marker = tmp_path / "child-survived"
    began = time.monotonic()

    with pytest.raises(TransientError, match="within 0.5s"):
        runner.run(["sh", "-c", f"(sleep 2; touch {marker}) & sleep 30"], timeout=0.5)

    assert time.monotonic() - began < 5
    time.sleep(2.5)
    assert not marker.exists()


def test_missing_binary_is_a_permanent_error_naming_it(runner: CommandRunner) -> None:
    with pytest.raises(PermanentError, match="no-such-tool-xyz"):
        runner.run(["no-such-tool-xyz", "--version"])


def test_script_runs_a_project_script_and_refuses_a_non_executable_one(tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    check = scripts / "health-check.sh"
    check.write_text("#!/bin/sh\necho \"checked $1\"\n")
    runner = CommandRunner(tmp_path, timeout=10)

    with pytest.raises(PermanentError, match="not executable"):
        runner.script(Path("scripts/health-check.sh"), "all")
    check.chmod(0o755)
    assert runner.script(Path("scripts/health-check.sh"), "all").stdout.strip() == "checked all"
    with pytest.raises(PermanentError, match="does not exist"):
        runner.script(Path("scripts/deploy.sh"), "staging")


def test_git_stash_push_with_a_message_really_stashes_the_change(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    identity = {
        "GIT_AUTHOR_NAME": "Drill", "GIT_AUTHOR_EMAIL": "drill@example.invalid",
        "GIT_COMMITTER_NAME": "Drill", "GIT_COMMITTER_EMAIL": "drill@example.invalid",
        "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"), "GIT_CONFIG_NOSYSTEM": "1",
    }
    git = CommandRunner(repo, timeout=30, env=identity)
    git.git("init", "-q", "-b", "main")
    (repo / "app.js").write_text("v1\n")
    git.git("add", "app.js")
    git.git("commit", "-q", "-m", "baseline")
    (repo / "app.js").write_text("v2 (failed secrets integration)\n")

    git.git("stash", "push", "-m", "Failed secrets integration 20250904-213000")

    assert (repo / "app.js").read_text() == "v1\n"
    assert "Failed secrets integration 20250904-213000" in git.git("stash", "list").stdout
    assert git.git("rev-parse", "--abbrev-ref", "HEAD").stdout.strip() == "main"


def test_npm_run_build_works_in_the_seeded_project_offline(tmp_path: Path) -> None:
    project = seed_project(tmp_path / "world").project_root
    npm = CommandRunner(project, timeout=60, env={"npm_config_cache": str(tmp_path / "npm-cache")})

    result = npm.npm("run", "build")

    assert "build ok" in result.stdout
