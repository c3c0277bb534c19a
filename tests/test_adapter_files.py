"""The env-files adapter against real directories: bytes, checksums, modes, confinement."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from recovery.adapters.files import MANIFEST, EnvFiles, atomic_write, new_backup_dir, sha256_file
from recovery.errors import ConflictError, NotFoundError, PathEscapeError, PermanentError
from recovery.sandbox.project_seed import ProjectSeed, seed_project


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every regular file under root with its bytes: to prove that nothing was written."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def world(tmp_path: Path) -> ProjectSeed:
    return seed_project(tmp_path / "world")


# -- backup and verify --------------------------------------------------------------------------
def test_backup_copies_files_at_their_relative_paths_with_a_verified_manifest(world: ProjectSeed) -> None:
    files = EnvFiles(world.project_root)
    rels = [".env", "clos/api-server/.env", "projects/paintbox/.env"]
    dest = new_backup_dir(world.store_dir, "pre-alpha")

    backup = files.backup(rels, dest)

    for rel in rels:
        assert (dest / rel).read_bytes() == (world.project_root / rel).read_bytes()
        assert mode(dest / rel) == 0o600
    assert mode(dest) == 0o700 and mode(dest / "clos") == 0o700 and mode(dest / "clos/api-server") == 0o700
    manifest = json.loads((dest / MANIFEST).read_text())
    by_path = {e["path"]: e for e in manifest["entries"]}
    expected_sha = sha256_file(world.project_root / "clos/api-server/.env")
    assert by_path["clos/api-server/.env"]["sha256"] == expected_sha
    assert by_path[".env"]["mode"] == 0o600
    assert [e.path for e in backup.present] == sorted(rels)


def test_tampered_backup_fails_verification_and_restores_nothing(world: ProjectSeed) -> None:
    files = EnvFiles(world.project_root)
    dest = world.store_dir / "tampered"
    files.backup([".env", "brand/website/.env"], dest)
    (dest / "brand/website/.env").write_text("JWT_SECRET=attacker\n")
    (world.project_root / ".env").write_text("changed since the backup\n")
    before = snapshot(world.project_root)

    with pytest.raises(PermanentError, match="brand/website/.env does not match"):
        files.verify(dest)
    with pytest.raises(PermanentError):
        files.restore_backup(dest)
    assert snapshot(world.project_root) == before


def test_backup_with_a_deleted_copy_fails_verification(world: ProjectSeed) -> None:
    files = EnvFiles(world.project_root)
    dest = world.store_dir / "deleted"
    files.backup(["projects/paintbox/.env"], dest)
    (dest / "projects/paintbox/.env").unlink()

    with pytest.raises(PermanentError, match="missing"):
        files.verify(dest)


def test_directory_without_manifest_is_not_a_backup(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        EnvFiles(tmp_path).verify(tmp_path)


def test_backup_refuses_to_merge_into_a_non_empty_directory(world: ProjectSeed) -> None:
    files = EnvFiles(world.project_root)
    dest = world.store_dir / "taken"
    files.backup([".env"], dest)

    with pytest.raises(ConflictError):
        files.backup([".env"], dest)


def test_restore_backup_puts_back_exact_bytes_and_removes_files_that_were_absent(world: ProjectSeed) -> None:
    files = EnvFiles(world.project_root)
    original = (world.project_root / ".env").read_bytes()
    dest = world.store_dir / "undo"
    backup = files.backup([".env", "clos/api-server/.env.local"], dest)
    assert [e.present for e in backup.entries] == [True, False]
    (world.project_root / ".env").write_text("overwritten by a failed step\n")
    (world.project_root / "clos/api-server/.env.local").write_text("created by a failed step\n")

    restored = files.restore_backup(dest)

    assert (world.project_root / ".env").read_bytes() == original
    assert mode(world.project_root / ".env") == 0o600
    assert not (world.project_root / "clos/api-server/.env.local").exists()
    actions = {r.path.as_posix(): r.action for r in restored}
    assert actions == {".env": "updated", "clos/api-server/.env.local": "removed"}


def test_backup_of_another_project_is_not_restored_here(world: ProjectSeed, tmp_path: Path) -> None:
    other = tmp_path / "other-project"
    (other / "clos/api-server").mkdir(parents=True)
    (other / ".env").write_text("OTHER=1\n")
    dest = world.store_dir / "other"
    EnvFiles(other).backup([".env"], dest)
    before = snapshot(world.project_root)

    with pytest.raises(ConflictError, match="was taken from"):
        EnvFiles(world.project_root).restore_backup(dest)
    assert snapshot(world.project_root) == before


# -- Checkpoint Alpha: restore_tree ------------------------------------------------------------
def test_restore_tree_puts_every_baseline_env_file_back_at_its_relative_path(world: ProjectSeed) -> None:
    files = EnvFiles(world.project_root)

    restored = files.restore_tree(world.baseline_dir)

    expected = {".env"} | {f"{rel}/.env" for _name, rel in world.services}
    assert {r.path.as_posix() for r in restored} == expected
    for rel in expected:
        assert (world.project_root / rel).read_bytes() == (world.baseline_dir / rel).read_bytes()
        assert mode(world.project_root / rel) == 0o600
    assert all(r.action == "updated" for r in restored)


def test_second_restore_tree_reports_every_file_already_in_place(world: ProjectSeed) -> None:
    files = EnvFiles(world.project_root)
    files.restore_tree(world.baseline_dir)

    again = files.restore_tree(world.baseline_dir)

    assert again and all(not r.changed and r.action == "unchanged" for r in again)
    assert all(r.sha256_before == r.sha256_after for r in again)


def test_plan_restore_tree_reports_what_would_change_and_writes_nothing(world: ProjectSeed) -> None:
    files = EnvFiles(world.project_root)
    before = snapshot(world.project_root)

    plan = files.plan_restore_tree(world.baseline_dir)

    assert snapshot(world.project_root) == before
    assert plan == files.restore_tree(world.baseline_dir)


def test_env_pattern_matches_dot_env_and_named_env_files_like_find(tmp_path: Path) -> None:
    backup, project = tmp_path / "backup", tmp_path / "project"
    for name in (".env", "prod.env", ".env.new", "env", "notes.txt"):
        atomic_write(backup / "svc" / name, f"{name}\n".encode())
    (project / "svc").mkdir(parents=True)

    restored = EnvFiles(project).restore_tree(backup)

    assert sorted(r.path.name for r in restored) == [".env", "prod.env"]
    assert sorted(p.name for p in (project / "svc").iterdir()) == [".env", "prod.env"]


def test_restore_tree_without_the_backup_directory_fails_clearly(world: ProjectSeed) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        EnvFiles(world.project_root).restore_tree(world.world_dir / "backups" / "19990101-000000")


def test_restore_tree_into_a_missing_service_directory_writes_nothing_unless_asked(tmp_path: Path) -> None:
    backup, project = tmp_path / "backup", tmp_path / "project"
    atomic_write(backup / ".env", b"A=1\n")
    atomic_write(backup / "gone/service/.env", b"B=2\n")
    project.mkdir()

    with pytest.raises(NotFoundError, match="gone/service"):
        EnvFiles(project).restore_tree(backup)
    assert not (project / ".env").exists()

    EnvFiles(project).restore_tree(backup, create_dirs=True)
    assert (project / "gone/service/.env").read_bytes() == b"B=2\n"


def test_restore_tree_with_strip_suffix_restores_env_backup_files_in_place(world: ProjectSeed) -> None:
    files = EnvFiles(world.project_root)

    restored = files.restore_tree(world.project_root, "*.env.backup", strip_suffix=".backup")

    assert {r.path.as_posix() for r in restored} == {f"{rel}/.env" for _n, rel in world.services}
    for _name, rel in world.services:
        restored_bytes = (world.project_root / rel / ".env").read_bytes()
        assert restored_bytes == (world.baseline_dir / rel / ".env").read_bytes()


# -- Checkpoint Bravo / Phase 1: restore_file ---------------------------------------------------
def test_restore_files_copies_the_emergency_env_to_the_root_and_listed_services(world: ProjectSeed) -> None:
    files = EnvFiles(world.project_root)
    targets = [".env", "clos/api-server/.env", "projects/promoterOS/.env", "projects/paintbox/.env"]

    restored = files.restore_files(world.emergency_env, targets)

    emergency = world.emergency_env.read_bytes()
    for rel in targets:
        assert (world.project_root / rel).read_bytes() == emergency
        assert mode(world.project_root / rel) == 0o600
    assert (world.project_root / "brand/website/.env").read_bytes() != emergency
    assert [r.changed for r in restored] == [True] * 4
    assert files.restore_file(world.emergency_env, ".env").action == "unchanged"


def test_plan_restore_file_writes_nothing(world: ProjectSeed) -> None:
    files = EnvFiles(world.project_root)
    before = snapshot(world.project_root)

    planned = files.plan_restore_file(world.original_env, "brand/website/.env")

    assert planned.changed and planned.sha256_after == sha256_file(world.original_env)
    assert snapshot(world.project_root) == before


def test_restore_file_from_a_missing_source_fails_with_not_found(world: ProjectSeed) -> None:
    with pytest.raises(NotFoundError):
        EnvFiles(world.project_root).restore_file(world.emergency_dir / "nope", ".env")


# -- confinement ----------------------------------------------------------------------------------
@pytest.mark.parametrize("escape", ["../outside.env", "clos/../../outside.env", "/etc/outside.env"])
def test_destination_climbing_out_of_the_root_is_refused_and_nothing_is_written(
    world: ProjectSeed, escape: str
) -> None:
    files = EnvFiles(world.project_root)
    before = snapshot(world.world_dir)

    with pytest.raises(PathEscapeError):
        files.restore_files(world.emergency_env, [".env", escape])
    assert snapshot(world.world_dir) == before
    assert not (world.world_dir / "outside.env").exists()


def test_symlinked_directory_leading_out_of_the_root_is_refused_and_nothing_is_written(
    world: ProjectSeed, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, world.project_root / "linked")
    files = EnvFiles(world.project_root)

    with pytest.raises(PathEscapeError):
        files.restore_files(world.emergency_env, [".env", "linked/.env"])
    assert list(outside.iterdir()) == []
    assert (world.project_root / ".env").read_bytes() != world.emergency_env.read_bytes()


def test_symlinked_file_leading_out_of_the_root_is_refused_and_its_target_untouched(
    world: ProjectSeed, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("do not overwrite\n")
    target = world.project_root / "clos/api-server/.env"
    target.unlink()
    os.symlink(victim, target)

    with pytest.raises(PathEscapeError):
        EnvFiles(world.project_root).restore_tree(world.baseline_dir)
    assert victim.read_text() == "do not overwrite\n"
    assert target.is_symlink()


def test_symlink_pointing_inside_the_root_is_not_written_through(world: ProjectSeed) -> None:
    target = world.project_root / "projects/paintbox/.env"
    target.unlink()
    os.symlink(world.project_root / ".env", target)

    with pytest.raises(PathEscapeError, match="symlink"):
        EnvFiles(world.project_root).restore_file(world.original_env, "projects/paintbox/.env")
    assert target.is_symlink()


def test_backup_source_symlink_leading_out_of_the_root_is_refused(world: ProjectSeed, tmp_path: Path) -> None:
    secret_elsewhere = tmp_path / "elsewhere.env"
    secret_elsewhere.write_text("NOT_OURS=1\n")
    os.symlink(secret_elsewhere, world.project_root / "stolen.env")
    dest = world.store_dir / "b"

    with pytest.raises(PathEscapeError):
        EnvFiles(world.project_root).backup(["stolen.env"], dest)
    assert not dest.exists()


def test_baseline_file_symlinked_out_of_the_backup_is_refused(world: ProjectSeed, tmp_path: Path) -> None:
    elsewhere = tmp_path / "host.env"
    elsewhere.write_text("HOST_SECRET=1\n")
    os.symlink(elsewhere, world.baseline_dir / "clos" / "extra.env")
    before = snapshot(world.project_root)

    with pytest.raises(PathEscapeError):
        EnvFiles(world.project_root).restore_tree(world.baseline_dir)
    assert snapshot(world.project_root) == before


# -- atomic_write -------------------------------------------------------------------------------
def test_atomic_write_replaces_the_file_with_mode_0600_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "secret.env"
    atomic_write(path, b"first\n")
    path.chmod(0o644)

    atomic_write(path, b"second\n")

    assert path.read_bytes() == b"second\n"
    assert mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret.env"]
