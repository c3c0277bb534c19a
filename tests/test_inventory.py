"""The inventory: the example mirrors the seed, bad files fail naming the field, paths stay inside."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from recovery.errors import ConfigError, PathEscapeError
from recovery.inventory import confine, load_inventory

ROOT = Path(__file__).resolve().parent.parent


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _example() -> dict:
    return yaml.safe_load((ROOT / "inventory.example.yaml").read_text())


def test_the_example_inventory_mirrors_the_seed_playbook() -> None:
    inv = load_inventory(ROOT / "inventory.example.yaml")
    assert [s.path.as_posix() for s in inv.services] == [
        "clos/api-server",
        "projects/promoterOS",
        "projects/paintbox",
        "brand/website",
        "apps/collaboration-editor",
    ]
    assert inv.aws.secret_prefix == "/candlefish/"
    assert inv.aws.deploy_user == "candlefish-deploy"
    assert inv.terraform.stacks["secrets-management"].targets == ["module.secrets_manager", "module.kms"]
    assert inv.vault.namespace == "vault" and inv.vault.pv_label == "app=vault"
    assert [lvl.response_minutes for lvl in inv.escalation.levels] == [15, 10, 5, 0]
    assert inv.vault.token.env == "VAULT_TOKEN"  # a reference, never the token


def test_an_inventory_is_found_through_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECOVERY_INVENTORY", str(_write(tmp_path, _example())))
    assert load_inventory().aws.region == "us-east-1"


def test_environment_variables_override_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOVERY_VAULT__ADDRESS", "http://127.0.0.1:9")
    monkeypatch.setenv("RECOVERY_AWS__REGION", "eu-west-1")
    inv = load_inventory(_write(tmp_path, _example()))
    assert inv.vault.address == "http://127.0.0.1:9"
    assert inv.aws.region == "eu-west-1"
    assert inv.vault.namespace == "vault"  # the rest of the nested section still comes from the file


def test_relative_paths_are_resolved_against_the_inventory_file(tmp_path: Path) -> None:
    doc = _example()
    doc["project_root"] = "project"
    doc["backups"]["store_dir"] = "store"
    doc["vault"]["token"] = {"file": "secrets/token"}
    inv = load_inventory(_write(tmp_path, doc))
    assert inv.project_root == tmp_path / "project"
    assert inv.backups.store_dir == tmp_path / "store"
    assert inv.vault.token.file == tmp_path / "secrets/token"
    assert inv.reports_dir.is_absolute()


def test_a_missing_required_field_is_named_in_the_error(tmp_path: Path) -> None:
    doc = _example()
    del doc["vault"]["token"]
    with pytest.raises(ConfigError, match=r"vault\.token: Field required"):
        load_inventory(_write(tmp_path, doc))


def test_a_wrongly_typed_field_is_named_in_the_error(tmp_path: Path) -> None:
    doc = _example()
    doc["escalation"]["levels"][0]["response_minutes"] = "soon"
    with pytest.raises(ConfigError, match=r"escalation\.levels\.0\.response_minutes"):
        load_inventory(_write(tmp_path, doc))


def test_an_unknown_field_is_rejected_rather_than_ignored(tmp_path: Path) -> None:
    doc = _example()
    doc["vault"]["tokn"] = "typo"
    with pytest.raises(ConfigError, match=r"vault\.tokn: Extra inputs are not permitted"):
        load_inventory(_write(tmp_path, doc))


@pytest.mark.parametrize(
    ("section", "value", "what"),
    [
        ("service", "../../etc", "service path escapes the project root"),
        ("service", "/etc", "must be relative to project_root"),
        ("stack", "infrastructure/../../outside", "terraform working_dir escapes the project root"),
    ],
)
def test_paths_that_escape_the_project_root_are_rejected(
    tmp_path: Path, section: str, value: str, what: str
) -> None:
    doc = _example()
    if section == "service":
        doc["services"][0]["path"] = value
    else:
        doc["terraform"]["stacks"]["vault"]["working_dir"] = value
    with pytest.raises(ConfigError, match=what):
        load_inventory(_write(tmp_path, doc))


def test_a_symlink_that_leaves_the_project_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "escape").symlink_to(tmp_path.parent)
    with pytest.raises(PathEscapeError):
        confine(root, "escape/x")
    assert confine(root, "svc/.env") == root.resolve() / "svc/.env"


def test_a_secret_reference_needs_exactly_one_source(tmp_path: Path) -> None:
    doc = _example()
    doc["vault"]["token"] = {"env": "A", "file": "/b"}
    with pytest.raises(ConfigError, match="exactly one of 'env' or 'file'"):
        load_inventory(_write(tmp_path, doc))


def test_escalation_levels_may_only_name_known_contacts(tmp_path: Path) -> None:
    doc = _example()
    doc["escalation"]["levels"][0]["contacts"] = ["nobody"]
    with pytest.raises(ConfigError, match="L1 names unknown contacts: nobody"):
        load_inventory(_write(tmp_path, doc))


def test_duplicate_service_names_are_rejected(tmp_path: Path) -> None:
    doc = _example()
    doc["services"][1]["name"] = doc["services"][0]["name"]
    with pytest.raises(ConfigError, match="duplicate service names: clos-api"):
        load_inventory(_write(tmp_path, doc))


@pytest.mark.parametrize(
    ("content", "message"),
    [("services: [unclosed", "not valid YAML"), ("- a list\n", "must be a mapping")],
)
def test_a_malformed_file_gets_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_inventory(path)


def test_a_missing_file_or_no_inventory_at_all_gets_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="inventory file not found"):
        load_inventory(tmp_path / "nope.yaml")
    monkeypatch.delenv("RECOVERY_INVENTORY", raising=False)
    with pytest.raises(ConfigError, match="RECOVERY_INVENTORY"):
        load_inventory(None)
