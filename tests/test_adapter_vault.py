"""The Vault adapter against a real OpenBao server (raft storage), shared for the session."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import stat
import tarfile
from pathlib import Path

import hvac
import pytest
from pydantic import SecretStr

from recovery.adapters.vault import VaultAdapter, VaultState
from recovery.adapters.vault_snapshot import verify_snapshot
from recovery.errors import ConflictError, NotFoundError, PermanentError, TransientError, UnreachableError
from recovery.sandbox import procs, vault_server
from tests.fixtures.vault import SEED_DATA, VaultWorld


def _hvac(world: VaultWorld) -> hvac.Client:
    return hvac.Client(url=world.address, token=world.token.get_secret_value())


def _read(world: VaultWorld, path: str) -> dict[str, str]:
    answer = _hvac(world).secrets.kv.v2.read_secret_version(
        path=path, mount_point="secret", raise_on_deleted_version=True
    )
    return dict(answer["data"]["data"])


def _write(world: VaultWorld, path: str, data: dict[str, str]) -> None:
    _hvac(world).secrets.kv.v2.create_or_update_secret(path=path, secret=data, mount_point="secret")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- health --------------------------------------------------------------------------------------


def test_health_of_an_unsealed_active_vault_is_ok_with_its_version(vault_adapter: VaultAdapter) -> None:
    health = vault_adapter.health()
    assert health.state is VaultState.OK and health.ok
    assert health.version and health.version[0].isdigit()


def test_health_of_a_sealed_vault_is_sealed_and_unsealing_makes_it_ok_again(vault: VaultWorld) -> None:
    adapter = VaultAdapter(vault.address, vault.token)
    vault_server.seal(vault.address, vault.token)
    try:
        assert adapter.health().state is VaultState.SEALED
    finally:
        vault_server.unseal(vault.address, vault.world_dir)
        vault_server.wait_active(vault.address)
    assert adapter.health().state is VaultState.OK


def test_health_of_an_address_where_nothing_listens_is_unreachable_not_an_exception() -> None:
    adapter = VaultAdapter(f"http://127.0.0.1:{procs.free_port()}", SecretStr("unused"), timeout=1)
    health = adapter.health()
    assert health.state is VaultState.UNREACHABLE
    assert not health.ok


def test_health_of_a_fresh_server_is_uninitialised(tmp_path: Path) -> None:
    record = vault_server.start(tmp_path)
    try:
        adapter = VaultAdapter(record.address, SecretStr("unused"))
        assert adapter.health().state is VaultState.UNINITIALISED
    finally:
        procs.stop(record.pid)


def test_the_session_vault_started_and_initialised_within_a_few_seconds(vault_world: VaultWorld) -> None:
    assert vault_world.startup_seconds < 10


def test_initialise_twice_keeps_the_same_root_token_and_files_stay_private(vault: VaultWorld) -> None:
    before = vault_server.token_path(vault.world_dir).read_text()
    vault_server.initialise(vault.address, vault.world_dir)
    assert vault_server.token_path(vault.world_dir).read_text() == before
    assert _mode(vault_server.token_path(vault.world_dir)) == 0o600
    assert _mode(vault.world_dir / "vault" / "init.json") == 0o600


# -- snapshot and restore --------------------------------------------------------------------------


def test_snapshot_writes_a_private_non_empty_gzip_tar_whose_checksum_is_recorded(
    vault_adapter: VaultAdapter, tmp_path: Path
) -> None:
    dest = tmp_path / "snaps" / "vault.snap"
    info = vault_adapter.snapshot(dest)
    data = dest.read_bytes()
    assert info.size == len(data) > 0
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert _mode(dest) == 0o600
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        assert {"meta.json", "state.bin", "SHA256SUMS"} <= set(archive.getnames())
    assert info.raft_index > 0
    assert [p.name for p in dest.parent.iterdir()] == ["vault.snap"]  # no temp file left behind


def test_restore_brings_back_a_secret_changed_and_one_deleted_after_the_snapshot(
    vault: VaultWorld, vault_adapter: VaultAdapter, kv_prefix: str, tmp_path: Path
) -> None:
    _write(vault, f"{kv_prefix}/api", {"JWT_SECRET": "before-restore-1"})
    _write(vault, f"{kv_prefix}/gone", {"TOKEN": "before-restore-2"})
    snap = vault_adapter.snapshot(tmp_path / "before.snap").path

    _write(vault, f"{kv_prefix}/api", {"JWT_SECRET": "after-snapshot"})
    kv = _hvac(vault).secrets.kv.v2
    kv.delete_metadata_and_all_versions(path=f"{kv_prefix}/gone", mount_point="secret")
    assert _read(vault, f"{kv_prefix}/api") == {"JWT_SECRET": "after-snapshot"}

    vault_adapter.restore(snap)

    assert _read(vault, f"{kv_prefix}/api") == {"JWT_SECRET": "before-restore-1"}
    assert _read(vault, f"{kv_prefix}/gone") == {"TOKEN": "before-restore-2"}
    assert vault_adapter.health().state is VaultState.OK


def test_restore_from_a_file_that_is_not_a_snapshot_fails_permanently_and_changes_nothing(
    vault: VaultWorld, vault_adapter: VaultAdapter, kv_prefix: str, tmp_path: Path
) -> None:
    _write(vault, f"{kv_prefix}/api", {"JWT_SECRET": "untouched"})
    bogus = tmp_path / "not-a-snapshot.snap"
    bogus.write_text("JWT_SECRET=this is an env file, not a raft snapshot\n")

    with pytest.raises(PermanentError) as caught:
        vault_adapter.restore(bogus)

    assert not isinstance(caught.value, TransientError)
    assert _read(vault, f"{kv_prefix}/api") == {"JWT_SECRET": "untouched"}


def test_restore_from_a_tampered_snapshot_is_refused_before_it_reaches_the_server(
    vault: VaultWorld, vault_adapter: VaultAdapter, kv_prefix: str, tmp_path: Path
) -> None:
    good = vault_adapter.snapshot(tmp_path / "good.snap").path
    _write(vault, f"{kv_prefix}/api", {"JWT_SECRET": "newer-than-the-snapshot"})
    tampered = tmp_path / "tampered.snap"
    out = io.BytesIO()
    with tarfile.open(good, "r:gz") as src, tarfile.open(fileobj=out, mode="w:gz") as dst:
        for member in src:
            body = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "state.bin":
                body = body[:-1] + bytes([body[-1] ^ 0xFF])
            dst.addfile(member, io.BytesIO(body))
    tampered.write_bytes(out.getvalue())

    with pytest.raises(PermanentError, match="checksum"):
        vault_adapter.restore(tampered)
    assert _read(vault, f"{kv_prefix}/api") == {"JWT_SECRET": "newer-than-the-snapshot"}


def test_verify_snapshot_rejects_an_empty_file_and_plain_gzip(tmp_path: Path) -> None:
    empty = tmp_path / "empty.snap"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.snap"
    junk.write_bytes(gzip.compress(b"not a tar"))
    for path in (empty, junk):
        with pytest.raises(PermanentError):
            verify_snapshot(path)
    with pytest.raises(NotFoundError):
        verify_snapshot(tmp_path / "missing.snap")


# -- mounts, KV and export -----------------------------------------------------------------------


def test_list_mounts_includes_the_kv_v2_secret_mount(vault_adapter: VaultAdapter) -> None:
    mounts = {m.path: m for m in vault_adapter.list_mounts()}
    assert mounts["secret/"].type == "kv"
    assert mounts["secret/"].version == "2"


def test_list_kv_paths_walks_folders_recursively(
    vault_adapter: VaultAdapter, vault: VaultWorld, kv_prefix: str
) -> None:
    paths = ("a", "b/c", "b/d/e")
    for path in paths:
        _write(vault, f"{kv_prefix}/{path}", {"K": "v"})
    assert vault_adapter.list_kv_paths(prefix=kv_prefix) == [f"{kv_prefix}/{p}" for p in paths]
    assert set(SEED_DATA) <= set(vault_adapter.list_kv_paths())
    assert vault_adapter.list_kv_paths(prefix=f"{kv_prefix}/nothing-here") == []


def test_read_kv_returns_the_values_as_secret_strings(vault_adapter: VaultAdapter) -> None:
    values = vault_adapter.read_kv("candlefish/api")
    assert {k: v.get_secret_value() for k, v in values.items()} == SEED_DATA["candlefish/api"]
    assert all(isinstance(v, SecretStr) for v in values.values())
    assert SEED_DATA["candlefish/api"]["JWT_SECRET"] not in repr(values)


def test_read_kv_of_a_missing_path_is_not_found(vault_adapter: VaultAdapter, kv_prefix: str) -> None:
    with pytest.raises(NotFoundError):
        vault_adapter.read_kv(f"{kv_prefix}/does-not-exist")


def test_export_lists_mounts_and_paths_in_a_private_file_without_any_secret_value(
    vault_adapter: VaultAdapter, tmp_path: Path
) -> None:
    dest = tmp_path / "export" / "vault-secrets.json"
    info = vault_adapter.export(dest)
    text = dest.read_text()
    document = json.loads(text)

    assert "secret/" in [m["path"] for m in document["mounts"]]
    assert set(SEED_DATA) <= set(document["kv_paths"]["secret"])
    assert info.kv_paths >= len(SEED_DATA) and info.size == len(text.encode())
    assert _mode(dest) == 0o600
    for values in SEED_DATA.values():
        for value in values.values():
            assert value not in text


# -- errors ---------------------------------------------------------------------------------------


def test_operations_on_a_sealed_vault_raise_conflict_and_leave_no_snapshot_file(
    sealed_vault: VaultWorld, tmp_path: Path
) -> None:
    adapter = VaultAdapter(sealed_vault.address, sealed_vault.token)
    dest = tmp_path / "sealed.snap"
    for operation in (
        adapter.list_mounts,
        lambda: adapter.read_kv("candlefish/api"),
        lambda: adapter.list_kv_paths(),
        lambda: adapter.snapshot(dest),
    ):
        with pytest.raises(ConflictError, match="vault is sealed"):
            operation()
    assert list(tmp_path.iterdir()) == []


def test_operations_on_an_unreachable_vault_raise_unreachable_which_is_transient(tmp_path: Path) -> None:
    adapter = VaultAdapter(f"http://127.0.0.1:{procs.free_port()}", SecretStr("unused"), timeout=1)
    with pytest.raises(UnreachableError) as caught:
        adapter.snapshot(tmp_path / "x.snap")
    assert isinstance(caught.value, TransientError)
    assert list(tmp_path.iterdir()) == []


def test_a_token_vault_does_not_know_is_a_permanent_error_that_does_not_carry_the_token(
    vault: VaultWorld,
) -> None:
    bogus = "hvs.not-a-real-token-3f9c1d"
    adapter = VaultAdapter(vault.address, SecretStr(bogus))
    with pytest.raises(PermanentError) as caught:
        adapter.list_mounts()
    assert not isinstance(caught.value, NotFoundError)
    assert bogus not in str(caught.value)


def test_seeding_twice_with_the_same_data_writes_no_new_version(vault: VaultWorld, kv_prefix: str) -> None:
    data = {f"{kv_prefix}/svc": {"JWT_SECRET": "seeded-once"}}
    vault_server.seed(vault.address, vault.token, data)
    vault_server.seed(vault.address, vault.token, data)
    meta = _hvac(vault).secrets.kv.v2.read_secret_metadata(path=f"{kv_prefix}/svc", mount_point="secret")
    assert meta["data"]["current_version"] == 1
    assert _read(vault, f"{kv_prefix}/svc") == {"JWT_SECRET": "seeded-once"}
