"""AWS over boto3: Secrets Manager, KMS and IAM, as the playbook needs them.

Why a class over three clients: the flows (Checkpoint Charlie, Phase 2 rollback, Break-glass 2,
validation) ask questions in playbook terms -- "which secrets are under ``/candlefish/``", "schedule
this key's deletion", "revoke the deploy user's keys" -- and must get typed answers and one of our two
error kinds, never a botocore exception. Every call goes through
:func:`recovery.adapters.aws_errors.boundary`, the one place library errors become
:class:`TransientError` (retry) or :class:`PermanentError` (stop and explain).

Retries: botocore runs in ``standard`` mode with ``total_max_attempts=2`` (one quick retry, jittered
under a second). The task layer owns the real backoff; keeping botocore's own retries this low means a
fault that lasts two attempts (e.g. two 503s in a row) surfaces as :class:`TransientError` quickly
instead of being hidden behind botocore's default of up to 3 attempts with growing sleeps.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore import exceptions as bx
from botocore.config import Config
from pydantic import SecretStr

from recovery.adapters.aws_errors import boundary
from recovery.adapters.aws_export import write_export
from recovery.adapters.aws_models import (
    AccessKey,
    AccessKeyStatus,
    DeletedSecret,
    ExportInfo,
    KmsKey,
    NewAccessKey,
    SecretSummary,
    SecretWrite,
    SecretWriteOutcome,
)
from recovery.errors import ConfigError, NotFoundError
from recovery.inventory import Aws
from recovery.secrets import REDACTOR, secret_value

__all__ = ["AwsAdapter", "MAX_ATTEMPTS", "KMS_PENDING_DAYS"]

#: botocore's total attempts per call (1 try + 1 retry); see the module docstring.
MAX_ATTEMPTS = 2
#: The deletion window KMS accepts, in days. Checked before any call: moto accepts anything.
KMS_PENDING_DAYS = range(7, 31)

# What Secrets Manager accepts as a ``name`` filter value; anything else is filtered client-side only.
_FILTER_VALUE = re.compile(r"^[a-zA-Z0-9 :_@/+=.\-]{1,512}$")


class AwsAdapter:
    """Secrets Manager, KMS and IAM for one account/region (a moto server in the rehearsal world).

    Credentials: explicit keys win; else ``profile``; else boto3's usual chain. Building the adapter
    makes no network call; :meth:`ping` is the cheap "is it there" check.
    """

    def __init__(
        self,
        region: str,
        endpoint_url: str | None = None,
        access_key_id: SecretStr | None = None,
        secret_access_key: SecretStr | None = None,
        profile: str | None = None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        if (access_key_id is None) != (secret_access_key is None):
            raise ConfigError("AWS credentials need both access_key_id and secret_access_key")
        self.region = region
        self.endpoint_url = endpoint_url
        config = Config(
            region_name=region,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "total_max_attempts": max_attempts},
        )
        with boundary("session", profile or region):
            session = boto3.session.Session(
                profile_name=profile if access_key_id is None else None,
                aws_access_key_id=access_key_id.get_secret_value() if access_key_id else None,
                aws_secret_access_key=secret_access_key.get_secret_value() if secret_access_key else None,
                region_name=region,
            )
            self._sm: Any = session.client("secretsmanager", endpoint_url=endpoint_url, config=config)
            self._kms: Any = session.client("kms", endpoint_url=endpoint_url, config=config)
            self._iam: Any = session.client("iam", endpoint_url=endpoint_url, config=config)

    @classmethod
    def from_inventory(cls, aws: Aws, **options: Any) -> AwsAdapter:
        """Build from the inventory's ``aws`` section, resolving its secret references now."""
        creds = aws.credentials
        return cls(
            region=aws.region,
            endpoint_url=aws.endpoint_url,
            access_key_id=creds.access_key_id.resolve() if creds else None,
            secret_access_key=creds.secret_access_key.resolve() if creds else None,
            profile=aws.profile,
            **options,
        )

    def ping(self) -> None:
        """One cheap Secrets Manager call; raises :class:`UnreachableError` when nobody answers."""
        with boundary("secretsmanager ping", self.endpoint_url or self.region):
            self._sm.list_secrets(MaxResults=1)

    # -- Secrets Manager -----------------------------------------------------------------------
    def list_secrets(
        self, prefix: str, *, include_planned_deletion: bool = False, page_size: int = 100
    ) -> list[SecretSummary]:
        """Every secret whose name starts with ``prefix``, across all pages, sorted by name.

        The server-side ``name`` filter narrows the transfer when the prefix is a legal filter value;
        the ``startswith`` check below is what decides, so a server whose filter matches loosely
        (by words, case-insensitively) cannot add strangers to the result.
        """
        args: dict[str, Any] = {"IncludePlannedDeletion": include_planned_deletion}
        if prefix and _FILTER_VALUE.match(prefix):
            args["Filters"] = [{"Key": "name", "Values": [prefix]}]
        found: list[SecretSummary] = []
        with boundary("secretsmanager list_secrets", prefix):
            pages = self._sm.get_paginator("list_secrets").paginate(
                **args, PaginationConfig={"PageSize": page_size}
            )
            for page in pages:
                for item in page.get("SecretList", []):
                    if item["Name"].startswith(prefix):
                        found.append(_summary(item))
        return sorted(found, key=lambda s: s.name)

    def describe_secret(self, name: str) -> SecretSummary:
        """One secret's metadata, including ``deleted_date`` while it awaits deletion."""
        with boundary("secretsmanager describe_secret", name):
            return _summary(self._sm.describe_secret(SecretId=name))

    def get_secret_value(self, name: str) -> SecretStr:
        """The current value (``SecretString``; a binary secret comes back base64-encoded)."""
        with boundary("secretsmanager get_secret_value", name):
            reply = self._sm.get_secret_value(SecretId=name)
        if "SecretString" in reply:
            raw = reply["SecretString"]
        else:
            raw = base64.b64encode(reply.get("SecretBinary", b"")).decode()
        REDACTOR.register(raw)
        return SecretStr(raw)

    def export_secrets(self, prefix: str, dest: Path) -> ExportInfo:
        """Names and values of every live secret under ``prefix`` to a JSON file at ``dest``
        (0600, atomic), re-read and checksummed -- the backup taken before anything is destroyed."""
        records: list[dict[str, Any]] = []
        for summary in self.list_secrets(prefix):
            records.append(
                {
                    "name": summary.name,
                    "arn": summary.arn,
                    "kms_key_id": summary.kms_key_id,
                    "secret_string": self.get_secret_value(summary.name).get_secret_value(),
                }
            )
        document = {
            "format": "candlefish-aws-secrets/1",
            "exported_at": datetime.now(UTC).isoformat(),
            "region": self.region,
            "prefix": prefix,
            "secrets": records,
        }
        count, digest = write_export(dest, document)
        return ExportInfo(path=dest, count=count, sha256=digest)

    def delete_secret(self, secret_id: str, recovery_window_days: int | None) -> DeletedSecret:
        """Delete a secret: ``None`` forces deletion without recovery, a number (7..30) schedules it.

        The secret is described first so an unknown id raises :class:`NotFoundError` -- AWS itself
        answers success to a forced delete of a secret that never existed, which would hide typos.
        """
        current = self.describe_secret(secret_id)
        if recovery_window_days is None:
            args: dict[str, Any] = {"ForceDeleteWithoutRecovery": True}
        elif 7 <= recovery_window_days <= 30:
            args = {"RecoveryWindowInDays": recovery_window_days}
        else:
            raise ConfigError(f"recovery window must be 7..30 days, got {recovery_window_days}")
        with boundary("secretsmanager delete_secret", secret_id):
            reply = self._sm.delete_secret(SecretId=current.arn, **args)
        return DeletedSecret(
            name=current.name,
            arn=current.arn,
            deletion_date=reply.get("DeletionDate"),
            forced=recovery_window_days is None,
        )

    def restore_secret(self, secret_id: str) -> SecretSummary:
        """Cancel a scheduled deletion (a rollback of a windowed delete)."""
        with boundary("secretsmanager restore_secret", secret_id):
            self._sm.restore_secret(SecretId=secret_id)
        return self.describe_secret(secret_id)

    def create_or_update_secret(
        self, name: str, value: SecretStr, *, kms_key_id: str | None = None, description: str = ""
    ) -> SecretWrite:
        """Make ``name`` hold ``value`` (encrypted with ``kms_key_id`` when given), idempotently:
        a secret pending deletion is restored first, an identical value is left alone."""
        raw = secret_value(value)
        try:
            current = self.describe_secret(name)
        except NotFoundError:
            args: dict[str, Any] = {"Name": name, "SecretString": raw, "Description": description}
            if kms_key_id:
                args["KmsKeyId"] = kms_key_id
            with boundary("secretsmanager create_secret", name):
                reply = self._sm.create_secret(**args)
            return SecretWrite(name=name, arn=reply["ARN"], outcome=SecretWriteOutcome.created)
        restored = current.scheduled_for_deletion
        if restored:
            self.restore_secret(current.arn)
        same_key = kms_key_id is None or kms_key_id == current.kms_key_id
        if same_key and self.get_secret_value(current.arn).get_secret_value() == raw:
            return SecretWrite(
                name=name, arn=current.arn, outcome=SecretWriteOutcome.unchanged, restored=restored
            )
        update: dict[str, Any] = {"SecretId": current.arn, "SecretString": raw}
        if kms_key_id:
            update["KmsKeyId"] = kms_key_id
        with boundary("secretsmanager update_secret", name):
            self._sm.update_secret(**update)
        return SecretWrite(name=name, arn=current.arn, outcome=SecretWriteOutcome.updated, restored=restored)

    # -- KMS -----------------------------------------------------------------------------------
    def list_keys(self) -> list[KmsKey]:
        """Every key with its state and aliases (one ``DescribeKey`` per key, aliases joined)."""
        aliases = self._aliases_by_key()
        keys: list[KmsKey] = []
        with boundary("kms list_keys"):
            for page in self._kms.get_paginator("list_keys").paginate():
                for item in page.get("Keys", []):
                    keys.append(self._describe_key(item["KeyId"], aliases))
        return keys

    def describe_key(self, key_id: str) -> KmsKey:
        """One key by id, ARN or ``alias/NAME``; :class:`NotFoundError` when unknown."""
        return self._describe_key(key_id, self._aliases_by_key())

    def create_key(self, description: str = "") -> KmsKey:
        with boundary("kms create_key", description):
            meta = self._kms.create_key(Description=description)["KeyMetadata"]
        return _kms_key(meta, ())

    def create_alias(self, alias: str, key_id: str) -> None:
        """Point ``alias`` (``alias/NAME``) at ``key_id``; re-pointing an existing alias is fine."""
        if not alias.startswith("alias/"):
            raise ConfigError(f"KMS alias must start with 'alias/', got {alias!r}")
        with boundary("kms create_alias", alias):
            try:
                self._kms.create_alias(AliasName=alias, TargetKeyId=key_id)
            except bx.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "AlreadyExistsException":
                    raise
                self._kms.update_alias(AliasName=alias, TargetKeyId=key_id)

    def schedule_key_deletion(self, key_id: str, pending_days: int = 7) -> KmsKey:
        """Schedule deletion after ``pending_days`` (7..30, checked here first: nothing is sent
        for a bad value). Returns the key, now ``PendingDeletion``."""
        if pending_days not in KMS_PENDING_DAYS:
            raise ConfigError(f"KMS pending window must be 7..30 days, got {pending_days} for {key_id}")
        with boundary("kms schedule_key_deletion", key_id):
            self._kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=pending_days)
        return self.describe_key(key_id)

    def cancel_key_deletion(self, key_id: str, *, enable: bool = True) -> KmsKey:
        """Cancel a scheduled deletion. AWS leaves the key *Disabled* afterwards; ``enable`` turns
        it back on so secrets encrypted with it can be read again."""
        with boundary("kms cancel_key_deletion", key_id):
            self._kms.cancel_key_deletion(KeyId=key_id)
        return self.enable_key(key_id) if enable else self.describe_key(key_id)

    def enable_key(self, key_id: str) -> KmsKey:
        with boundary("kms enable_key", key_id):
            self._kms.enable_key(KeyId=key_id)
        return self.describe_key(key_id)

    def _aliases_by_key(self) -> dict[str, list[str]]:
        by_key: dict[str, list[str]] = {}
        with boundary("kms list_aliases"):
            for page in self._kms.get_paginator("list_aliases").paginate():
                for alias in page.get("Aliases", []):
                    if alias.get("TargetKeyId"):
                        by_key.setdefault(alias["TargetKeyId"], []).append(alias["AliasName"])
        return by_key

    def _describe_key(self, key_id: str, aliases: dict[str, list[str]]) -> KmsKey:
        with boundary("kms describe_key", key_id):
            meta = self._kms.describe_key(KeyId=key_id)["KeyMetadata"]
        return _kms_key(meta, tuple(sorted(aliases.get(meta["KeyId"], []))))

    # -- IAM -----------------------------------------------------------------------------------
    def ensure_user(self, user: str) -> bool:
        """Create the IAM user unless it exists; True when it was created."""
        with boundary("iam create_user", user):
            try:
                self._iam.create_user(UserName=user)
            except bx.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "EntityAlreadyExists":
                    raise
                return False
        return True

    def list_access_keys(self, user: str) -> list[AccessKey]:
        """The user's access keys: id, status, creation time -- the secret half is never listed."""
        keys: list[AccessKey] = []
        with boundary("iam list_access_keys", user):
            for page in self._iam.get_paginator("list_access_keys").paginate(UserName=user):
                for item in page.get("AccessKeyMetadata", []):
                    keys.append(_access_key(item))
        return sorted(keys, key=lambda k: (k.created or datetime.min.replace(tzinfo=UTC), k.key_id))

    def create_access_key(self, user: str) -> NewAccessKey:
        """A new key for ``user`` (AWS allows two per user: :class:`ConflictError` beyond that)."""
        with boundary("iam create_access_key", user):
            item = self._iam.create_access_key(UserName=user)["AccessKey"]
        secret = item.pop("SecretAccessKey")
        REDACTOR.register(secret)
        return NewAccessKey(key=_access_key(item), secret_access_key=SecretStr(secret))

    def deactivate_access_key(self, user: str, key_id: str) -> None:
        self._set_key_status(user, key_id, AccessKeyStatus.inactive)

    def activate_access_key(self, user: str, key_id: str) -> None:
        """Undo a deactivation (rolling back a break-glass revoke)."""
        self._set_key_status(user, key_id, AccessKeyStatus.active)

    def delete_access_key(self, user: str, key_id: str) -> None:
        with boundary("iam delete_access_key", f"{user}/{key_id}"):
            self._iam.delete_access_key(UserName=user, AccessKeyId=key_id)

    def _set_key_status(self, user: str, key_id: str, status: AccessKeyStatus) -> None:
        with boundary("iam update_access_key", f"{user}/{key_id}"):
            self._iam.update_access_key(UserName=user, AccessKeyId=key_id, Status=status.value)


def _summary(item: dict[str, Any]) -> SecretSummary:
    return SecretSummary(
        name=item["Name"],
        arn=item["ARN"],
        kms_key_id=item.get("KmsKeyId"),
        last_changed=item.get("LastChangedDate"),
        deleted_date=item.get("DeletedDate"),
    )


def _kms_key(meta: dict[str, Any], aliases: tuple[str, ...]) -> KmsKey:
    return KmsKey(
        key_id=meta["KeyId"],
        arn=meta["Arn"],
        state=meta.get("KeyState", "Unknown"),
        enabled=bool(meta.get("Enabled", False)),
        aliases=aliases,
        description=meta.get("Description") or "",
        key_manager=meta.get("KeyManager", "CUSTOMER"),
        deletion_date=meta.get("DeletionDate"),
    )


def _access_key(item: dict[str, Any]) -> AccessKey:
    return AccessKey(
        user=item["UserName"],
        key_id=item["AccessKeyId"],
        status=AccessKeyStatus(item["Status"]),
        created=item.get("CreateDate"),
    )
