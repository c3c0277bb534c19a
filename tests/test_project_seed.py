"""The seeded project tree looks like the playbook's world after a failed deployment."""

from __future__ import annotations

import stat
from pathlib import Path

from recovery.sandbox.project_seed import DEFAULT_SERVICES, read_secret_values, seed_project


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_seed_lays_out_project_baseline_emergency_original_and_an_empty_store(tmp_path: Path) -> None:
    seed = seed_project(tmp_path)

    assert seed.baseline_dir == tmp_path / "backups" / "20250904-210000"
    for _name, rel in DEFAULT_SERVICES:
        assert seed.service_env(rel).is_file() and seed.baseline_env(rel).is_file()
        assert (seed.project_root / rel / ".env.backup").read_bytes() == seed.baseline_env(rel).read_bytes()
    assert (seed.project_root / ".env").is_file() and seed.baseline_env("").is_file()
    assert seed.emergency_env == tmp_path / "emergency" / ".env.new" and seed.emergency_env.is_file()
    assert seed.original_env == tmp_path / "backups" / ".env.original" and seed.original_env.is_file()
    assert seed.store_dir.is_dir() and list(seed.store_dir.iterdir()) == []
    assert "clos/api-server/.env" in seed.compose_file.read_text()
    assert (seed.project_root / "package.json").is_file()


def test_current_env_files_differ_from_the_good_baseline(tmp_path: Path) -> None:
    seed = seed_project(tmp_path)

    for _name, rel in DEFAULT_SERVICES:
        current, good = seed.service_env(rel).read_text(), seed.baseline_env(rel).read_text()
        assert "SECRETS_BACKEND=aws-secrets-manager" in current and "SECRETS_BACKEND=local" in good
        now, before = read_secret_values(seed.service_env(rel)), read_secret_values(seed.baseline_env(rel))
        assert not set(now) & set(before)


def test_every_secret_file_is_0600_and_backup_directories_0700(tmp_path: Path) -> None:
    seed = seed_project(tmp_path)

    env_like = [p for p in tmp_path.rglob("*") if p.is_file() and ".env" in p.name]
    assert len(env_like) == 1 + 3 * len(DEFAULT_SERVICES) + 1 + 1 + 1
    assert all(mode(p) == 0o600 for p in env_like)
    backup_dirs = [seed.baseline_dir, seed.emergency_dir, seed.store_dir,
                   *[p for p in seed.baseline_dir.rglob("*") if p.is_dir()]]
    assert all(mode(d) == 0o700 for d in backup_dirs)


def test_every_planted_value_is_listed_and_all_values_are_distinct(tmp_path: Path) -> None:
    seed = seed_project(tmp_path)

    env_like = [p for p in tmp_path.rglob("*") if p.is_file() and ".env" in p.name]
    planted = [value for path in env_like for value in read_secret_values(path)]
    assert set(planted) == set(seed.secret_values)
    # root (current, baseline) + each service (current, baseline) + emergency + original; .env.backup repeats
    assert len(seed.secret_values) == 3 * (2 + 2 * len(DEFAULT_SERVICES) + 2)


def test_seeding_twice_changes_no_file_and_reports_the_same_values(tmp_path: Path) -> None:
    first = seed_project(tmp_path)
    before = all_files(tmp_path)

    second = seed_project(tmp_path)

    assert all_files(tmp_path) == before
    assert second.secret_values == first.secret_values


def test_values_can_be_chosen_by_label(tmp_path: Path) -> None:
    seed = seed_project(tmp_path, [("paintbox", "projects/paintbox")], values=lambda label: f"V[{label}]")

    baseline = seed.baseline_env("projects/paintbox").read_text()
    assert "JWT_SECRET=V[baseline:projects/paintbox:JWT_SECRET]" in baseline
    assert seed.services == (("paintbox", "projects/paintbox"),)
