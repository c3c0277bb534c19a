"""Seed the rehearsal world's AWS (a moto server) with what the playbook acts on.

Why a seed: Checkpoint Charlie, the Phase 2 rollback and Break-glass 2 destroy or revoke real things
-- secrets under ``/candlefish/`` encrypted with a KMS key behind ``alias/candlefish``, and the deploy
user's access keys. A drill needs them present first. The seed goes through :class:`AwsAdapter` (the
only module that imports boto3) and is idempotent: run it again, after a drill or halfway through a
failed one, and it brings the world back to the same shape without duplicating anything -- a key
pending deletion is cancelled and re-enabled, a deleted secret restored, missing access keys re-made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SecretStr

from recovery.adapters.aws import AwsAdapter
from recovery.adapters.aws_models import KmsKey, SecretWriteOutcome
from recovery.errors import ConfigError, NotFoundError

#: moto accepts any credentials. These are fixed fakes, not secrets -- still, never printed.
FAKE_ACCESS_KEY_ID = "testing"
FAKE_SECRET_ACCESS_KEY = "testing"  # noqa: S105 -- a well-known moto placeholder
ACCESS_KEYS_PER_USER = 2  # the IAM quota, which moto enforces too


@dataclass
class AwsSeedResult:
    """What the seed left in place: enough for world.py to write the inventory and for tests to
    check outcomes. No secret value is kept here."""

    endpoint_url: str
    region: str
    prefix: str
    kms_alias: str
    kms_key_id: str
    kms_key_arn: str
    user: str
    secrets: dict[str, str] = field(default_factory=dict)  # full name -> ARN
    access_key_ids: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # what this run created or repaired


def sandbox_adapter(
    endpoint_url: str,
    region: str = "us-east-1",
    *,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
) -> AwsAdapter:
    """An adapter pointed at a local moto server with its fake credentials."""
    return AwsAdapter(
        region=region,
        endpoint_url=endpoint_url,
        access_key_id=SecretStr(FAKE_ACCESS_KEY_ID),
        secret_access_key=SecretStr(FAKE_SECRET_ACCESS_KEY),
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )


def seed_aws(
    endpoint_url: str,
    *,
    region: str = "us-east-1",
    prefix: str = "/candlefish/",
    user: str = "candlefish-deploy",
    kms_alias: str = "alias/candlefish",
    secrets: dict[str, SecretStr],
) -> AwsSeedResult:
    """Create (or repair) the KMS key + alias, the secrets under ``prefix`` encrypted with that key,
    and ``user`` with two access keys. ``secrets`` keys are names relative to ``prefix`` (a name that
    already starts with the prefix is used as is)."""
    if not prefix:
        raise ConfigError("the AWS secret prefix must not be empty")
    aws = sandbox_adapter(endpoint_url, region)
    created: list[str] = []
    key = _ensure_key(aws, kms_alias, created)
    names: dict[str, str] = {}
    for relative, value in secrets.items():
        name = relative if relative.startswith(prefix) else prefix + relative.lstrip("/")
        write = aws.create_or_update_secret(
            name, value, kms_key_id=key.key_id, description="seeded for recovery drills"
        )
        if write.outcome is not SecretWriteOutcome.unchanged or write.restored:
            created.append(f"secret {name} ({write.outcome.value}{', restored' if write.restored else ''})")
        names[name] = write.arn
    if aws.ensure_user(user):
        created.append(f"user {user}")
    keys = [k.key_id for k in aws.list_access_keys(user)]
    while len(keys) < ACCESS_KEYS_PER_USER:
        # The secret half is dropped on purpose: nothing in the drills signs requests with it.
        keys.append(aws.create_access_key(user).key.key_id)
        created.append(f"access key {keys[-1]}")
    return AwsSeedResult(
        endpoint_url=endpoint_url,
        region=region,
        prefix=prefix,
        kms_alias=kms_alias,
        kms_key_id=key.key_id,
        kms_key_arn=key.arn,
        user=user,
        secrets=names,
        access_key_ids=keys,
        created=created,
    )


def _ensure_key(aws: AwsAdapter, alias: str, created: list[str]) -> KmsKey:
    """The key behind ``alias``: reused when it exists (brought back from a pending deletion or a
    disabled state), else created and aliased."""
    try:
        key = aws.describe_key(alias)
    except NotFoundError:
        key = aws.create_key(description=f"candlefish secrets ({alias})")
        aws.create_alias(alias, key.key_id)
        created.append(f"kms key {key.key_id} as {alias}")
        return aws.describe_key(key.key_id)
    if key.state == "PendingDeletion":
        key = aws.cancel_key_deletion(key.key_id, enable=True)
        created.append(f"kms key {key.key_id} deletion cancelled")
    elif not key.enabled:
        key = aws.enable_key(key.key_id)
        created.append(f"kms key {key.key_id} re-enabled")
    return key
