"""The rehearsal world's Terraform: the two stacks of the playbook, applied against moto.

``build_stacks`` lays the templates of ``recovery/sandbox/stacks`` out where the seed expects them
(``infrastructure/secrets-management`` and, inside it, ``terraform/vault``), writes their
(non-secret) variables to ``terraform.tfvars.json``, then inits and applies both with the embedded
Terraform, keeping local state next to them. Running it again is a no-op: the files are the same
and ``apply`` finds nothing to change.

Nesting is safe: Terraform never reads ``.tf`` files of sub-directories, and the parent stack's
module sources point only at its own ``modules/`` directory.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from recovery.adapters.terraform import ApplyResult
from recovery.adapters.terraform_embedded import EmbeddedTerraform

STACKS = Path(__file__).parent / "stacks"
SECRETS_STACK = Path("infrastructure/secrets-management")
VAULT_STACK = SECRETS_STACK / "terraform/vault"
#: what the inventory's ``terraform.stacks`` call them
NAMES = {"secrets-management": SECRETS_STACK, "vault": VAULT_STACK}
DEFAULT_SECRET_NAMES = ("managed/database", "managed/jwt-signing", "managed/api-gateway")
TARGETS = ["module.secrets_manager", "module.kms"]


def _package_root() -> Path:
    """The directory holding the ``recovery`` package (tfhook runs as ``python -m`` from it)."""
    return Path(__file__).resolve().parents[2]


def lay_out(
    project_root: Path,
    *,
    moto_endpoint: str,
    prefix: str = "/candlefish/",
    secret_names: Sequence[str] = DEFAULT_SECRET_NAMES,
    kms_alias: str = "alias/candlefish-terraform",
    region: str = "us-east-1",
    python: str = sys.executable,
) -> dict[str, Path]:
    """Copy the stack templates into ``project_root`` and write their variables. No terraform run."""
    dirs = {name: project_root / rel for name, rel in NAMES.items()}
    _copy_template(STACKS / "secrets-management", dirs["secrets-management"])
    _copy_template(STACKS / "vault", dirs["vault"])
    common = {"python": python, "pythonpath": str(_package_root())}
    _write_vars(
        dirs["secrets-management"],
        {
            **common,
            "aws_endpoint": moto_endpoint,
            "aws_region": region,
            "prefix": prefix,
            "secret_names": list(secret_names),
            "kms_alias": kms_alias,
        },
    )
    _write_vars(dirs["vault"], {**common, "marker_dir": str(dirs["vault"] / "deployed")})
    return dirs


def build_stacks(
    project_root: Path,
    *,
    moto_endpoint: str,
    prefix: str = "/candlefish/",
    secret_names: Sequence[str] = DEFAULT_SECRET_NAMES,
    kms_alias: str = "alias/candlefish-terraform",
    region: str = "us-east-1",
    fresh: bool = False,
) -> dict[str, Path]:
    """Lay out, init and apply both stacks; return ``{stack name: directory}``.

    ``fresh=True`` forgets earlier local state first: use it when the AWS side was reset (a new
    moto server), since ``terraform_data`` cannot notice that its objects vanished."""
    dirs = lay_out(
        project_root,
        moto_endpoint=moto_endpoint,
        prefix=prefix,
        secret_names=secret_names,
        kms_alias=kms_alias,
        region=region,
    )
    for directory in dirs.values():
        if fresh:
            for name in ("terraform.tfstate", "terraform.tfstate.backup"):
                (directory / name).unlink(missing_ok=True)
        apply_stack(directory)
    return dirs


def apply_stack(directory: Path) -> ApplyResult:
    """``init`` + ``apply`` one laid-out stack with the embedded Terraform."""
    tf = EmbeddedTerraform(directory)
    tf.init()
    return tf.apply()


def _copy_template(source: Path, dest: Path) -> None:
    """Copy the template's ``.tf`` files (and module directories), leaving state and ``.terraform``
    of an earlier build alone; unchanged files are not rewritten."""
    for path in source.rglob("*.tf"):
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != path.read_bytes():
            shutil.copyfile(path, target)


def _write_vars(directory: Path, values: dict[str, object]) -> None:
    text = json.dumps(values, indent=2, sort_keys=True) + "\n"
    path = directory / "terraform.tfvars.json"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
