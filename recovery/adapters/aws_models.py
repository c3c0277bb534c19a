"""Typed results of the AWS adapter (Secrets Manager, KMS, IAM).

Kept apart from :mod:`recovery.adapters.aws` so that flows, reports and the domain layer can name
these shapes without importing boto3. No model carries a secret value in clear: values travel as
``SecretStr`` and only the export file (0600) ever holds them in plain text.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SecretSummary(_Frozen):
    """What Secrets Manager says about a secret, without its value.

    ``deleted_date`` is set while the secret is scheduled for deletion (inside its recovery window):
    such a secret still exists and can be restored, but the default listing hides it.
    """

    name: str
    arn: str
    kms_key_id: str | None = None
    last_changed: datetime | None = None
    deleted_date: datetime | None = None

    @property
    def scheduled_for_deletion(self) -> bool:
        return self.deleted_date is not None


class SecretWriteOutcome(StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"


class SecretWrite(_Frozen):
    """Result of :meth:`AwsAdapter.create_or_update_secret`; ``restored`` says a pending deletion was
    cancelled first (so a rollback can report that it brought a secret back)."""

    name: str
    arn: str
    outcome: SecretWriteOutcome
    restored: bool = False


class DeletedSecret(_Frozen):
    """Result of a delete: ``forced`` means no recovery window, the secret is gone at once."""

    name: str
    arn: str
    deletion_date: datetime | None
    forced: bool


class ExportInfo(_Frozen):
    """Where an export landed and how to check it later (``sha256`` of the file's bytes)."""

    path: Path
    count: int
    sha256: str


class KmsKey(_Frozen):
    """A KMS key with the aliases pointing at it (joined from ``ListAliases``)."""

    key_id: str
    arn: str
    state: str
    enabled: bool
    aliases: tuple[str, ...] = ()
    description: str = ""
    key_manager: str = "CUSTOMER"
    deletion_date: datetime | None = None


class AccessKeyStatus(StrEnum):
    active = "Active"
    inactive = "Inactive"


class AccessKey(_Frozen):
    """An IAM access key's public half: its id and status. The secret half is never listed."""

    user: str
    key_id: str
    status: AccessKeyStatus
    created: datetime | None = None


class NewAccessKey(_Frozen):
    """A freshly created access key. AWS shows the secret half only once, hence the ``SecretStr``."""

    key: AccessKey
    secret_access_key: SecretStr
