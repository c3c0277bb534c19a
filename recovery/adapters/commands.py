"""Local commands: docker compose, docker run, git, npm and the project's own scripts.

The playbook shells out a lot (``docker-compose down``, ``git stash``, ``npm run build``,
``./scripts/health-check.sh``). Every such call goes through :class:`CommandRunner`, which makes the
rules hold in one place:

* **secrets only through the environment**: a process's argv is visible to every user of the host
  (``ps``, ``/proc/PID/cmdline``), its environment is not. ``run`` refuses to start a command whose
  argv holds any value registered with :data:`~recovery.secrets.REDACTOR`, and takes secrets as
  ``env_secrets`` instead (``docker run -e NAME`` then copies the value from docker's own environment);
* **output is redacted** before it lands in a result or an error;
* **errors are classified**: a timeout is a :class:`TransientError` (the next try may be quicker), a
  missing binary a :class:`PermanentError` naming it, a non-zero exit a :class:`CommandError` carrying
  the exit code and the redacted tail of the output;
* **timeouts kill the whole process group**, so a ``docker compose`` that spawned helpers leaves none.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from recovery.errors import CommandError, ConfigError, PermanentError, TransientError
from recovery.secrets import REDACTOR, secret_value

#: How much of a failed command's output an error carries (the end is where the reason usually is).
TAIL_CHARS = 2000


@dataclass(frozen=True)
class CommandResult:
    """A finished command. ``stdout``/``stderr`` are already redacted."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, chars: int = TAIL_CHARS) -> str:
        """The end of the combined output (stderr last: that is where tools say why they failed)."""
        joined = "\n".join(part for part in (self.stdout.strip(), self.stderr.strip()) if part)
        return joined[-chars:]


class CommandRunner:
    """Runs commands in ``cwd`` with a default ``timeout`` (seconds) and extra environment ``env``.

    ``env`` holds ordinary settings (``PATH``, ``COMPOSE_PROJECT_NAME``); secrets go per call in
    ``env_secrets`` so they are registered for redaction and never kept on the runner.
    ``compose`` is the compose command: ``("docker", "compose")`` or the seed's ``("docker-compose",)``.
    """

    def __init__(
        self,
        cwd: Path,
        timeout: float = 300.0,
        env: Mapping[str, str] | None = None,
        *,
        compose: Sequence[str] = ("docker", "compose"),
    ) -> None:
        self.cwd = cwd
        self.timeout = timeout
        self.env = dict(env or {})
        self.compose = tuple(compose)

    # -- the one way to run something ----------------------------------------------------------
    def run(
        self,
        argv: Sequence[str],
        *,
        env_secrets: Mapping[str, SecretStr | str] | None = None,
        check: bool = True,
        timeout: float | None = None,
        cwd: Path | None = None,
    ) -> CommandResult:
        """Run ``argv`` (no shell) and wait for it. See the module docstring for the error rules."""
        argv = [str(a) for a in argv]
        if not argv:
            raise ConfigError("empty command")
        secret_env = {name: secret_value(value) for name, value in (env_secrets or {}).items()}
        self._refuse_secrets_in_argv(argv)
        env = {**os.environ, **self.env, **secret_env}
        workdir = cwd or self.cwd
        if not workdir.is_dir():
            raise PermanentError(f"cannot run {argv[0]}: working directory {workdir} does not exist")
        program = self._locate(argv[0], env.get("PATH", ""), workdir)
        limit = self.timeout if timeout is None else timeout
        began = time.monotonic()
        try:
            proc = subprocess.Popen(
                [program, *argv[1:]],
                cwd=str(workdir),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group: a timeout kills its children too
            )
        except FileNotFoundError as exc:
            raise PermanentError(f"cannot run {argv[0]}: {exc.strerror}") from None
        except PermissionError:
            raise PermanentError(f"cannot run {argv[0]}: permission denied") from None
        try:
            out, err = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise TransientError(
                f"{_describe(argv)} did not finish within {limit:g}s (stopped it and its children)"
            ) from None
        result = CommandResult(
            argv=tuple(argv),
            returncode=proc.returncode,
            stdout=REDACTOR.redact(out.decode(errors="replace")),
            stderr=REDACTOR.redact(err.decode(errors="replace")),
            duration=time.monotonic() - began,
        )
        if check and result.returncode != 0:
            raise CommandError(
                f"{_describe(argv)} exited with {result.returncode}",
                returncode=result.returncode,
                output_tail=result.tail(),
            )
        return result

    # -- helpers for the playbook's commands -----------------------------------------------------
    def compose_down(self, compose_file: Path, *, check: bool = True) -> CommandResult:
        """``docker compose -f FILE down`` (Phase 1, step 1)."""
        return self.run([*self.compose, "-f", str(compose_file), "down"], check=check)

    def compose_up(self, compose_file: Path, *, detach: bool = True, check: bool = True) -> CommandResult:
        """``docker compose -f FILE up -d`` (Phase 1, step 3)."""
        detached = ["-d"] if detach else []
        return self.run([*self.compose, "-f", str(compose_file), "up", *detached], check=check)

    def docker_run(
        self,
        image: str,
        *,
        name: str | None = None,
        env_file: Path | None = None,
        ports: Sequence[str] = (),
        env_secrets: Mapping[str, SecretStr | str] | None = None,
        detach: bool = True,
        extra: Sequence[str] = (),
    ) -> CommandResult:
        """``docker run``. Secrets are passed as ``-e NAME`` (no value on the command line): docker
        copies each value from its own environment, which is where ``env_secrets`` puts it."""
        argv = ["docker", "run"]
        if detach:
            argv.append("-d")
        if name:
            argv += ["--name", name]
        if env_file is not None:
            argv += ["--env-file", str(env_file)]
        for mapping in ports:
            argv += ["-p", mapping]
        for key in sorted(env_secrets or {}):
            argv += ["-e", key]
        return self.run([*argv, *extra, image], env_secrets=env_secrets)

    def git(self, *args: str, check: bool = True) -> CommandResult:
        return self.run(["git", *args], check=check)

    def npm(self, *args: str, check: bool = True) -> CommandResult:
        return self.run(["npm", *args], check=check)

    def script(
        self, path: Path, *args: str, env_secrets: Mapping[str, SecretStr | str] | None = None
    ) -> CommandResult:
        """Run one of the project's scripts (``./scripts/health-check.sh``), relative to ``cwd``."""
        script = path if path.is_absolute() else self.cwd / path
        if not script.is_file():
            raise PermanentError(f"script {path} does not exist in {self.cwd}")
        if not os.access(script, os.X_OK):
            raise PermanentError(f"script {path} is not executable")
        return self.run([str(script), *args], env_secrets=env_secrets)

    # -- internals -------------------------------------------------------------------------------
    @staticmethod
    def _refuse_secrets_in_argv(argv: Sequence[str]) -> None:
        for index, arg in enumerate(argv):
            if REDACTOR.redact(arg) != arg:
                raise ConfigError(
                    f"refusing to run {os.path.basename(argv[0])}: argument {index} carries a secret value "
                    "(command lines are visible to every user; pass it through env_secrets)"
                )

    @staticmethod
    def _locate(program: str, path: str, cwd: Path) -> str:
        """The executable to start, or PermanentError naming the missing binary."""
        if os.sep in program:
            candidate = Path(program) if Path(program).is_absolute() else cwd / program
            if not candidate.exists():
                raise PermanentError(f"cannot run {program}: no such file")
            return str(candidate)
        found = shutil.which(program, path=path)
        if found is None:
            raise PermanentError(f"cannot run {program}: not found on PATH")
        return found


def _describe(argv: Sequence[str]) -> str:
    """A short, redacted name for a command in messages: the program and its first arguments."""
    shown = " ".join([os.path.basename(argv[0]), *argv[1:3]])
    return REDACTOR.redact(shown + (" ..." if len(argv) > 3 else ""))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the command's process group and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=5)
