"""The Terraform backend for a user's own binary (``terraform`` or ``tofu``), via python-terraform.

python-terraform 0.10.1 predates Terraform 1.x, and three of its defaults break on a modern
binary; each is worked around here, on purpose and in one place:

* ``destroy()`` always passes ``-force`` (removed in Terraform 0.15: "flag provided but not
  defined") -- we pass ``force=IsNotFlagged`` and ``auto_approve=IsFlagged`` instead;
* ``output(name)`` indexes ``["value"]`` into what ``output -json NAME`` returns (the bare value),
  so it fails for every output -- we read ``output -json`` (all outputs) and pick the name;
* apply/plan/destroy add ``-var-file=`` of a temp file holding ``self.variables`` (logged at debug
  level, a leak for secrets) -- we pass ``var=None`` and give variables through ``TF_VAR_*``.

python-terraform takes no per-call environment (it copies ``os.environ``), so the backend's
environment is laid over ``os.environ`` under a module lock for the duration of each call and
restored after. Another thread starting a child process in that window would inherit those
variables: acceptable for a tool that runs one recovery at a time, and stated here so nobody is
surprised.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, IsNotFlagged, Terraform

from recovery.adapters.terraform_models import raise_for_failure
from recovery.errors import ConfigError, UnreachableError

from .terraform import TerraformBase

_ENV_LOCK = threading.Lock()


class CliTerraform(TerraformBase):
    """A terraform (or OpenTofu) binary found on PATH or given by path."""

    label = "terraform (cli)"

    def __init__(
        self, binary: str, working_dir: Path, *, env: Mapping[str, str] | None = None, timeout: float = 900.0
    ):
        found = shutil.which(binary)
        if found is None:
            raise ConfigError(
                f"terraform binary {binary!r} not found (set terraform.binary in the inventory)"
            )
        super().__init__(working_dir, env=env, timeout=timeout)
        self.binary = found
        self._tf = Terraform(working_dir=str(working_dir), terraform_bin_path=found)

    @contextmanager
    def _environment(self) -> Iterator[None]:
        with _ENV_LOCK:
            saved = {key: os.environ.get(key) for key in self._env}
            os.environ.update(self._env)
            try:
                yield
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value

    def _call(
        self, what: str, method: str, *args: Any, check: bool = True, **options: Any
    ) -> tuple[int, str, str]:
        """Call ``Terraform.<method>`` with our environment; raise mapped errors when asked to."""
        with self._environment():
            try:
                returncode, out, err = getattr(self._tf, method)(*args, **options)
            except OSError as exc:  # the binary vanished or is not executable
                raise UnreachableError(
                    f"{self.label} {what}: cannot run {self.binary}: {exc.strerror}"
                ) from None
        out, err = out or "", err or ""
        if check and returncode != 0:
            raise_for_failure(f"{self.label} {what} in {self.working_dir}", returncode, out, err)
        return returncode, out, err

    # -- primitives --------------------------------------------------------------------------------
    def _cmd_init(self) -> None:
        self._call("init", "init", var=None, reconfigure=IsNotFlagged)

    def _cmd_state_pull(self) -> str:
        return self._call("state pull", "cmd", "state pull")[1]

    def _cmd_state_list(self) -> tuple[int, str, str]:
        return self._call("state list", "cmd", "state list", check=False, no_color=IsFlagged)

    def _cmd_plan_destroy(self, planfile: Path, targets: Sequence[str]) -> None:
        self._call(
            "plan -destroy",
            "plan",
            destroy=IsFlagged,
            out=str(planfile),
            target=list(targets),
            var=None,
            detailed_exitcode=IsNotFlagged,  # the library's default makes "changes" exit 2
        )

    def _cmd_show_json(self, planfile: Path) -> str:
        return self._call("show -json", "cmd", "show", str(planfile), json=IsFlagged, no_color=IsFlagged)[1]

    def _cmd_destroy(self, targets: Sequence[str]) -> tuple[int, str, str]:
        return self._call(
            "destroy",
            "destroy",
            check=False,
            force=IsNotFlagged,  # workaround: python-terraform's default "-force" is gone since 0.15
            auto_approve=IsFlagged,
            json=IsFlagged,
            target=list(targets),
            var=None,
        )

    def _cmd_apply(self) -> str:
        return self._call("apply", "apply", skip_plan=True, json=IsFlagged, var=None)[1]

    def _cmd_outputs_json(self) -> str:
        # workaround: Terraform.output(name) is broken; "output -json" (all outputs) is not.
        return self._call("output", "output_cmd", json=IsFlagged)[1]
