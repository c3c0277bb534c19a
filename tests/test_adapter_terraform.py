"""The Terraform adapter against real Terraform (the embedded one, and a CLI binary when present)
and the real moto server: what a destroy previews, what it removes from state, and what is really
gone from "AWS" afterwards."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import boto3
import pytest
from pydantic import SecretStr

from recovery.adapters.terraform import DestroyPlan, terraform_for
from recovery.adapters.terraform_cli import CliTerraform
from recovery.adapters.terraform_embedded import EmbeddedTerraform
from recovery.errors import CommandError, ConfigError, ConflictError, NotFoundError, TransientError
from recovery.inventory import Terraform as TerraformSection
from recovery.inventory import TerraformBackend as BackendKind
from recovery.sandbox.terraform_world import TARGETS
from tests.fixtures.terraform import TfStacks

PREFIX = "/candlefish/"
MODULE_ADDRESSES = [
    "module.kms.terraform_data.aws_kms_alias",
    "module.kms.terraform_data.aws_kms_key",
    'module.secrets_manager.terraform_data.aws_secretsmanager_secret["managed/database"]',
    'module.secrets_manager.terraform_data.aws_secretsmanager_secret["managed/jwt-signing"]',
]
OTHER = "terraform_data.deploy_user_policy"
TF_BINARY = shutil.which("terraform")
needs_cli = pytest.mark.skipif(
    TF_BINARY is None,
    reason="no terraform binary on PATH: the CLI backend (python-terraform) has nothing to drive; "
    "the embedded backend is tested above",
)


def _aws(moto: str, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=moto, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


def _secret_names(moto: str) -> list[str]:
    return sorted(s["Name"] for s in _aws(moto, "secretsmanager").list_secrets()["SecretList"])


def _kms_picture(moto: str) -> tuple[list[str], list[str]]:
    kms = _aws(moto, "kms")
    aliases = sorted(a["AliasName"] for a in kms.list_aliases()["Aliases"] if "candlefish" in a["AliasName"])
    states = sorted(
        kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] for k in kms.list_keys()["Keys"]
    )
    return aliases, states


def _new_stack(tmp_path: Path, text: str) -> Path:
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "main.tf").write_text(text)
    return stack


# -- embedded backend ------------------------------------------------------------------------------
def test_init_prepares_a_fresh_stack_that_has_no_state_yet(tmp_path: Path, moto: str) -> None:
    from recovery.sandbox import terraform_world

    dirs = terraform_world.lay_out(tmp_path, moto_endpoint=moto)
    tf = EmbeddedTerraform(dirs["secrets-management"])
    tf.init()
    modules = json.loads((dirs["secrets-management"] / ".terraform/modules/modules.json").read_text())
    assert {m["Key"] for m in modules["Modules"]} >= {"kms", "secrets_manager"}
    assert tf.state_list() == []
    with pytest.raises(NotFoundError, match="no terraform state"):
        tf.state_pull(tmp_path / "backup.json")


def test_state_pull_writes_a_0600_backup_matching_the_live_state(applied_tf_stacks: TfStacks, tmp_path: Path):
    tf = EmbeddedTerraform(applied_tf_stacks.secrets)
    dest = tmp_path / "backups" / "terraform.state.backup.20250101-000000"
    backup = tf.state_pull(dest)

    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    live = json.loads((applied_tf_stacks.secrets / "terraform.tfstate").read_text())
    saved = json.loads(dest.read_bytes())
    assert backup.serial == live["serial"] == saved["serial"]
    assert backup.lineage == live["lineage"]
    assert backup.resource_count == len(tf.state_list()) == len(MODULE_ADDRESSES) + 1
    assert backup.sha256 == hashlib.sha256(dest.read_bytes()).hexdigest()
    with pytest.raises(ConflictError, match="already exists"):
        tf.state_pull(dest)


def test_state_list_names_every_module_address_and_the_rest(applied_tf_stacks: TfStacks) -> None:
    assert sorted(EmbeddedTerraform(applied_tf_stacks.secrets).state_list()) == sorted(
        [*MODULE_ADDRESSES, OTHER]
    )


def test_plan_destroy_previews_exactly_the_module_resources_and_changes_nothing(applied_tf_stacks: TfStacks):
    tf = EmbeddedTerraform(applied_tf_stacks.secrets)
    state_file = applied_tf_stacks.secrets / "terraform.tfstate"
    state_before, aws_before = (
        state_file.read_bytes(),
        (_secret_names(applied_tf_stacks.moto), _kms_picture(applied_tf_stacks.moto)),
    )

    plan = tf.plan_destroy(TARGETS)

    assert plan.addresses == sorted(MODULE_ADDRESSES)
    assert "module.kms.terraform_data.aws_kms_key" in plan.as_markdown()
    assert state_file.read_bytes() == state_before
    assert (_secret_names(applied_tf_stacks.moto), _kms_picture(applied_tf_stacks.moto)) == aws_before
    assert len(aws_before[0]) == 2  # both managed secrets were really there to keep


def test_targeted_destroy_removes_the_modules_from_state_and_their_secrets_from_aws(
    applied_tf_stacks: TfStacks,
):
    moto = applied_tf_stacks.moto
    _aws(moto, "secretsmanager").create_secret(Name="/other/keep-me", SecretString="unrelated")
    tf = EmbeddedTerraform(applied_tf_stacks.secrets)
    plan = tf.plan_destroy(TARGETS)

    result = tf.destroy(TARGETS, expect=plan)

    assert result.destroyed == result.reported == sorted(MODULE_ADDRESSES)
    assert result.count == 4
    assert tf.state_list() == result.remaining == [OTHER]
    assert [n for n in _secret_names(moto) if n.startswith(PREFIX)] == []
    assert _secret_names(moto) == ["/other/keep-me"]
    aliases, key_states = _kms_picture(moto)
    assert aliases == [] and key_states == ["PendingDeletion"]


def test_destroy_refuses_when_the_plan_differs_from_the_approved_one(applied_tf_stacks: TfStacks) -> None:
    tf = EmbeddedTerraform(applied_tf_stacks.secrets)
    approved = DestroyPlan(working_dir=tf.working_dir, targets=TARGETS, addresses=MODULE_ADDRESSES[:2])

    with pytest.raises(ConflictError, match="changed since it was approved"):
        tf.destroy(TARGETS, expect=approved)
    assert sorted(tf.state_list()) == sorted([*MODULE_ADDRESSES, OTHER])
    assert len(_secret_names(applied_tf_stacks.moto)) == 2


def test_full_destroy_of_the_vault_stack_empties_its_state_and_removes_the_deployment(
    applied_tf_stacks: TfStacks,
) -> None:
    markers = applied_tf_stacks.vault / "deployed"
    assert sorted(os.listdir(markers)) == ["vault_helm_release", "vault_namespace", "vault_raft_storage"]
    tf = EmbeddedTerraform(applied_tf_stacks.vault)

    result = tf.destroy()

    assert result.count == 3 and result.remaining == []
    assert tf.state_list() == []
    assert os.listdir(markers) == []
    assert len(_secret_names(applied_tf_stacks.moto)) == 2  # the parent stack is untouched


def test_a_broken_configuration_is_a_permanent_error_that_names_the_problem(tmp_path: Path) -> None:
    stack = _new_stack(tmp_path, 'resource "terraform_data" "x" {\n  input = terraform_data.missing.id\n}\n')
    tf = EmbeddedTerraform(stack)
    tf.init()

    with pytest.raises(CommandError) as caught:
        tf.apply()
    message = str(caught.value)
    assert "Reference to undeclared resource" in message and "main.tf" in message
    assert "\x1b[" not in message and "CLI configuration" not in message
    assert caught.value.returncode == 1


def test_a_held_state_lock_is_a_transient_error(applied_tf_stacks: TfStacks) -> None:
    tf = EmbeddedTerraform(applied_tf_stacks.vault)
    with open(applied_tf_stacks.vault / "terraform.tfstate", "r+b") as held:
        fcntl.lockf(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a concurrent terraform run holds
        with pytest.raises(TransientError, match="locked"):
            tf.destroy()
    assert len(tf.state_list()) == 3


TOKEN_STACK = """
variable "token" {
  type      = string
  sensitive = true
}

output "token" {
  value     = var.token
  sensitive = true
}

resource "terraform_data" "x" {
  input = "x"
  lifecycle {
    precondition {
      condition     = length(var.token) < 5
      error_message = "bad token ${nonsensitive(var.token)}"
    }
  }
}
"""


def test_variables_travel_by_environment_and_stay_out_of_messages_and_outputs(tmp_path: Path) -> None:
    token = "tok-" + os.urandom(8).hex()
    stack = _new_stack(tmp_path, TOKEN_STACK)
    tf = EmbeddedTerraform(stack, env={"TF_VAR_token": token})
    tf.init()
    with pytest.raises(CommandError) as caught:
        tf.apply()
    assert "bad token" in str(caught.value) and token not in str(caught.value)

    (stack / "main.tf").write_text((stack / "main.tf").read_text().replace("< 5", "> 5"))
    tf.apply()
    secret = tf.output("token")
    assert isinstance(secret, SecretStr) and secret.get_secret_value() == token
    with pytest.raises(NotFoundError):
        tf.output("nope")


def test_terraform_for_follows_the_inventory_backend(tmp_path: Path) -> None:
    assert isinstance(terraform_for(TerraformSection(), tmp_path), EmbeddedTerraform)
    with pytest.raises(ConfigError, match="not found"):
        terraform_for(TerraformSection(backend=BackendKind.cli, binary="no-such-terraform-binary"), tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        EmbeddedTerraform(tmp_path / "missing")


def test_building_the_stacks_twice_changes_nothing_the_second_time(tmp_path: Path, moto: str) -> None:
    from recovery.sandbox import terraform_world

    dirs = terraform_world.build_stacks(tmp_path, moto_endpoint=moto, secret_names=["managed/database"])
    secrets_state = dirs["secrets-management"] / "terraform.tfstate"
    serial = json.loads(secrets_state.read_text())["serial"]
    versions = _aws(moto, "secretsmanager").list_secrets()["SecretList"]

    again = terraform_world.apply_stack(dirs["secrets-management"])
    terraform_world.build_stacks(tmp_path, moto_endpoint=moto, secret_names=["managed/database"])

    assert (again.created, again.updated, again.deleted) == ([], [], [])
    assert json.loads(secrets_state.read_text())["serial"] == serial
    assert _aws(moto, "secretsmanager").list_secrets()["SecretList"] == versions
    assert dirs["vault"].parent.parent == dirs["secrets-management"]  # the seed's nesting
    assert not any("vault" in a for a in EmbeddedTerraform(dirs["secrets-management"]).state_list())


# -- CLI backend (python-terraform) ----------------------------------------------------------------
@needs_cli
def test_cli_backend_destroys_targets_without_the_removed_force_flag(
    tf_stacks: TfStacks, tmp_path: Path
) -> None:
    from python_terraform import Terraform

    assert TF_BINARY is not None
    tf = CliTerraform(TF_BINARY, tf_stacks.secrets)
    tf.init()
    assert len(tf.apply().created) == len(MODULE_ADDRESSES) + 1
    assert len(_secret_names(tf_stacks.moto)) == 2
    # The library's own destroy() still passes -force, which Terraform >= 0.15 rejects:
    rc, _, err = Terraform(working_dir=str(tf_stacks.secrets), terraform_bin_path=TF_BINARY).destroy(var=None)
    assert rc != 0 and "-force" in err
    backup = tf.state_pull(tmp_path / "state.backup")
    assert backup.resource_count == 5

    plan = tf.plan_destroy(TARGETS)
    result = tf.destroy(TARGETS, expect=plan)

    assert plan.addresses == result.destroyed == sorted(MODULE_ADDRESSES)
    assert tf.state_list() == [OTHER]
    assert _secret_names(tf_stacks.moto) == []


@needs_cli
def test_cli_backend_reads_an_output_by_name_where_python_terraform_cannot(tf_stacks: TfStacks) -> None:
    from python_terraform import Terraform

    assert TF_BINARY is not None
    tf = CliTerraform(TF_BINARY, tf_stacks.vault)
    tf.init()
    tf.apply()
    raw = Terraform(working_dir=str(tf_stacks.vault), terraform_bin_path=TF_BINARY)
    with pytest.raises(TypeError):
        raw.output("namespace")  # indexes ["value"] into the bare value "vault"

    assert tf.output("namespace") == "vault"
    assert tf.destroy().count == 3
    assert os.listdir(tf_stacks.vault / "deployed") == []
