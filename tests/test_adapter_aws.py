"""The AWS adapter against a real moto server: outcomes are checked in AWS itself, not in mocks."""

from __future__ import annotations

import hashlib
import json
import stat
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import SecretStr

from recovery.adapters.aws import MAX_ATTEMPTS, AwsAdapter
from recovery.adapters.aws_models import AccessKeyStatus, SecretWriteOutcome
from recovery.errors import (
    ConfigError,
    NotFoundError,
    PermanentError,
    TransientError,
    UnreachableError,
)
from recovery.inventory import Aws, AwsCredentials
from recovery.sandbox.aws_seed import sandbox_adapter, seed_aws
from recovery.sandbox.procs import free_port
from recovery.secrets import SecretRef
from tests.fixtures.aws import FlakyProxy

PREFIX = "/candlefish/"


@pytest.fixture
def aws(moto: str) -> AwsAdapter:
    return sandbox_adapter(moto)


def _create(aws: AwsAdapter, names: list[str]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: aws.create_or_update_secret(n, SecretStr(f"value-of-{n}")), names))


# -- Secrets Manager ---------------------------------------------------------------------------


def test_list_secrets_follows_every_page_and_keeps_only_names_under_the_prefix(flaky_moto: FlakyProxy):
    aws = sandbox_adapter(flaky_moto.address)
    inside = [f"{PREFIX}svc-{i:03d}" for i in range(120)]
    outside = ["/candlefish-other/x", "/other/candlefish/y", "candlefish/z", "/Candlefish/w"]
    _create(aws, inside + outside)
    flaky_moto.reset()

    found = aws.list_secrets(PREFIX, page_size=10)

    assert [s.name for s in found] == sorted(inside)
    assert flaky_moto.requests >= 12  # 120 secrets, 10 per page: the paginator really walked the pages
    assert all(s.arn.startswith("arn:aws:secretsmanager:") and s.last_changed for s in found)


def test_export_secrets_writes_a_0600_json_file_whose_checksum_matches(aws: AwsAdapter, tmp_path):
    key = aws.create_key("export test")
    aws.create_or_update_secret(f"{PREFIX}db", SecretStr("db-password-1"), kms_key_id=key.key_id)
    aws.create_or_update_secret(f"{PREFIX}api", SecretStr("api-token-2"))
    aws.create_or_update_secret("/elsewhere/x", SecretStr("not-exported"))
    dest = tmp_path / "backups" / "aws-secrets.json"

    info = aws.export_secrets(PREFIX, dest)

    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert info.path == dest and info.count == 2
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == info.sha256
    document = json.loads(dest.read_text())
    values = {s["name"]: s["secret_string"] for s in document["secrets"]}
    assert values == {f"{PREFIX}api": "api-token-2", f"{PREFIX}db": "db-password-1"}
    assert document["prefix"] == PREFIX
    assert [p.name for p in dest.parent.iterdir()] == ["aws-secrets.json"]  # no temporary left behind


def test_delete_secret_without_recovery_window_removes_it_at_once(aws: AwsAdapter):
    aws.create_or_update_secret(f"{PREFIX}gone", SecretStr("to-be-removed"))

    result = aws.delete_secret(f"{PREFIX}gone", recovery_window_days=None)

    assert result.forced
    with pytest.raises(NotFoundError):
        aws.describe_secret(f"{PREFIX}gone")
    assert aws.list_secrets(PREFIX, include_planned_deletion=True) == []


def test_delete_secret_with_recovery_window_schedules_it_and_hides_it_from_the_default_listing(
    aws: AwsAdapter,
):
    aws.create_or_update_secret(f"{PREFIX}later", SecretStr("kept-for-a-week"))

    aws.delete_secret(f"{PREFIX}later", recovery_window_days=7)

    described = aws.describe_secret(f"{PREFIX}later")
    assert described.deleted_date is not None
    assert aws.list_secrets(PREFIX) == []
    assert [s.name for s in aws.list_secrets(PREFIX, include_planned_deletion=True)] == [f"{PREFIX}later"]
    restored = aws.restore_secret(f"{PREFIX}later")
    assert restored.deleted_date is None
    assert aws.get_secret_value(f"{PREFIX}later").get_secret_value() == "kept-for-a-week"


def test_deleting_an_unknown_secret_raises_not_found_naming_it(aws: AwsAdapter):
    with pytest.raises(NotFoundError, match="/candlefish/nope"):
        aws.delete_secret(f"{PREFIX}nope", recovery_window_days=None)
    with pytest.raises(NotFoundError):
        aws.describe_secret(f"{PREFIX}nope")


def test_a_recovery_window_outside_7_to_30_days_is_refused_and_changes_nothing(aws: AwsAdapter):
    aws.create_or_update_secret(f"{PREFIX}stay", SecretStr("still-here"))

    with pytest.raises(ConfigError):
        aws.delete_secret(f"{PREFIX}stay", recovery_window_days=3)

    assert aws.describe_secret(f"{PREFIX}stay").deleted_date is None


def test_create_or_update_secret_creates_then_leaves_alone_then_updates(aws: AwsAdapter):
    name = f"{PREFIX}rotating"
    assert aws.create_or_update_secret(name, SecretStr("first-value")).outcome is SecretWriteOutcome.created
    assert aws.create_or_update_secret(name, SecretStr("first-value")).outcome is SecretWriteOutcome.unchanged
    assert aws.create_or_update_secret(name, SecretStr("second-value")).outcome is SecretWriteOutcome.updated
    assert aws.get_secret_value(name).get_secret_value() == "second-value"


# -- KMS -----------------------------------------------------------------------------------------


def test_list_keys_joins_each_key_with_its_aliases(aws: AwsAdapter):
    key = aws.create_key("candlefish")
    aws.create_alias("alias/candlefish", key.key_id)
    aws.create_alias("alias/candlefish-old", key.key_id)
    other = aws.create_key("unaliased")

    keys = {k.key_id: k for k in aws.list_keys()}

    assert keys[key.key_id].aliases == ("alias/candlefish", "alias/candlefish-old")
    assert keys[key.key_id].state == "Enabled"
    assert keys[other.key_id].aliases == ()
    assert aws.describe_key("alias/candlefish").key_id == key.key_id


def test_schedule_key_deletion_puts_the_key_in_pending_deletion_and_cancel_brings_it_back(aws: AwsAdapter):
    key = aws.create_key("doomed")

    pending = aws.schedule_key_deletion(key.key_id, pending_days=7)

    assert pending.state == "PendingDeletion" and pending.deletion_date is not None
    assert aws.describe_key(key.key_id).state == "PendingDeletion"
    back = aws.cancel_key_deletion(key.key_id)
    assert back.state == "Enabled" and back.enabled


@pytest.mark.parametrize("days", [0, 6, 31])
def test_a_pending_window_outside_7_to_30_days_is_refused_and_the_key_stays_enabled(aws: AwsAdapter, days):
    key = aws.create_key("safe")

    with pytest.raises(ConfigError, match=key.key_id):
        aws.schedule_key_deletion(key.key_id, pending_days=days)

    assert aws.describe_key(key.key_id).state == "Enabled"


def test_describing_an_unknown_kms_alias_raises_not_found(aws: AwsAdapter):
    with pytest.raises(NotFoundError, match="alias/missing"):
        aws.describe_key("alias/missing")


# -- IAM -----------------------------------------------------------------------------------------


def test_access_keys_can_be_listed_deactivated_and_deleted(aws: AwsAdapter):
    user = "candlefish-deploy"
    assert aws.ensure_user(user) is True
    assert aws.ensure_user(user) is False
    first = aws.create_access_key(user)
    second = aws.create_access_key(user)
    listed = aws.list_access_keys(user)
    assert {k.key_id for k in listed} == {first.key.key_id, second.key.key_id}
    assert all(k.status is AccessKeyStatus.active for k in listed)
    assert first.secret_access_key.get_secret_value() not in repr(listed)

    aws.deactivate_access_key(user, first.key.key_id)
    aws.delete_access_key(user, second.key.key_id)

    after = aws.list_access_keys(user)
    assert [(k.key_id, k.status) for k in after] == [(first.key.key_id, AccessKeyStatus.inactive)]


def test_iam_calls_on_an_unknown_user_or_key_raise_not_found(aws: AwsAdapter):
    with pytest.raises(NotFoundError, match="nobody"):
        aws.list_access_keys("nobody")
    aws.ensure_user("somebody")
    with pytest.raises(NotFoundError):
        aws.delete_access_key("somebody", "AKIAEXAMPLE000000000")


def test_a_third_access_key_is_a_permanent_conflict(aws: AwsAdapter):
    aws.ensure_user("u")
    aws.create_access_key("u")
    aws.create_access_key("u")
    with pytest.raises(PermanentError):
        aws.create_access_key("u")
    assert len(aws.list_access_keys("u")) == 2


# -- faults --------------------------------------------------------------------------------------


def test_an_endpoint_with_nothing_listening_raises_unreachable_quickly():
    aws = sandbox_adapter(f"http://127.0.0.1:{free_port()}", connect_timeout=0.5, read_timeout=1)
    started = time.monotonic()

    with pytest.raises(UnreachableError, match="ping"):
        aws.ping()

    assert time.monotonic() - started < 5


def test_a_failed_write_names_the_secret_but_never_its_value(flaky_moto: FlakyProxy):
    aws = sandbox_adapter(flaky_moto.address)
    # let the describe through, then fail the create_secret request (the one carrying the value)
    flaky_moto.fail_next(MAX_ATTEMPTS, after=1, code="InternalServiceError")

    with pytest.raises(TransientError) as caught:
        aws.create_or_update_secret(f"{PREFIX}x", SecretStr("hunter2-super-secret"))

    assert "create_secret" in str(caught.value) and f"{PREFIX}x" in str(caught.value)
    assert "hunter2-super-secret" not in str(caught.value)
    with pytest.raises(NotFoundError):
        aws.describe_secret(f"{PREFIX}x")


def test_503s_that_outlast_botocores_single_retry_surface_as_transient(flaky_moto: FlakyProxy):
    aws = sandbox_adapter(flaky_moto.address)
    aws.create_or_update_secret(f"{PREFIX}a", SecretStr("value-a"))
    flaky_moto.reset()
    flaky_moto.fail_next(MAX_ATTEMPTS)

    with pytest.raises(TransientError, match="503"):
        aws.list_secrets(PREFIX)

    assert flaky_moto.failed == MAX_ATTEMPTS  # botocore tried exactly MAX_ATTEMPTS times, no more
    assert [s.name for s in aws.list_secrets(PREFIX)] == [f"{PREFIX}a"]  # the next try (task retry) works


def test_a_single_503_is_absorbed_by_botocores_one_retry(flaky_moto: FlakyProxy):
    aws = sandbox_adapter(flaky_moto.address)
    flaky_moto.fail_next(1)

    aws.ping()

    assert flaky_moto.failed == 1 and flaky_moto.requests == 2


def test_iam_throttling_surfaces_as_transient(flaky_moto: FlakyProxy):
    aws = sandbox_adapter(flaky_moto.address)
    aws.ensure_user("throttled")
    flaky_moto.fail_next(MAX_ATTEMPTS, status=400, code="Throttling")

    with pytest.raises(TransientError, match="Throttling"):
        aws.list_access_keys("throttled")

    assert aws.list_access_keys("throttled") == []


# -- construction and seed -----------------------------------------------------------------------


def test_from_inventory_resolves_the_credential_references(moto: str, monkeypatch):
    monkeypatch.setenv("TEST_AWS_KEY_ID", "testing")
    monkeypatch.setenv("TEST_AWS_SECRET", "testing")
    section = Aws(
        endpoint_url=moto,
        credentials=AwsCredentials(
            access_key_id=SecretRef(env="TEST_AWS_KEY_ID"), secret_access_key=SecretRef(env="TEST_AWS_SECRET")
        ),
    )
    aws = AwsAdapter.from_inventory(section)
    aws.ping()
    assert aws.list_secrets(PREFIX) == []


def test_an_unknown_profile_is_a_config_error():
    with pytest.raises(ConfigError, match="no-such-profile"):
        AwsAdapter(region="us-east-1", profile="no-such-profile")


def test_seed_aws_twice_leaves_one_key_one_user_two_access_keys_and_the_same_secrets(moto: str):
    values = {"database-url": SecretStr("postgres://seed"), "jwt-secret": SecretStr("jwt-seed-value")}

    first = seed_aws(moto, secrets=values)
    second = seed_aws(moto, secrets=values)

    aws = sandbox_adapter(moto)
    assert second.created == []
    assert (second.kms_key_id, second.secrets, second.access_key_ids) == (
        first.kms_key_id,
        first.secrets,
        first.access_key_ids,
    )
    customer_keys = [k for k in aws.list_keys() if k.key_manager == "CUSTOMER"]
    assert [(k.key_id, k.aliases) for k in customer_keys] == [(first.kms_key_id, ("alias/candlefish",))]
    secrets = aws.list_secrets(PREFIX)
    assert [s.name for s in secrets] == ["/candlefish/database-url", "/candlefish/jwt-secret"]
    assert {s.kms_key_id for s in secrets} == {first.kms_key_id}
    assert len(aws.list_access_keys("candlefish-deploy")) == 2


def test_seed_aws_repairs_what_a_drill_destroyed(moto: str):
    values = {"api-key": SecretStr("seeded-api-key")}
    first = seed_aws(moto, secrets=values)
    aws = sandbox_adapter(moto)
    aws.schedule_key_deletion(first.kms_key_id, pending_days=7)
    aws.delete_secret("/candlefish/api-key", recovery_window_days=7)
    aws.delete_access_key("candlefish-deploy", first.access_key_ids[0])

    again = seed_aws(moto, secrets=values)

    assert again.kms_key_id == first.kms_key_id
    assert aws.describe_key(first.kms_key_id).state == "Enabled"
    assert aws.describe_secret("/candlefish/api-key").deleted_date is None
    assert aws.get_secret_value("/candlefish/api-key").get_secret_value() == "seeded-api-key"
    assert len(aws.list_access_keys("candlefish-deploy")) == 2
