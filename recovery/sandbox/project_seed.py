"""The project tree of the rehearsal world, as the playbook finds it after a failed deployment.

``seed_project`` lays out, under ``WORLD``:

=====================================  ==============================================================
``project/``                            the Candlefish tree: a root ``.env``, one ``.env`` per
                                        service holding the *current, broken* values (the failed
                                        deployment switched them to the new secrets backend), a
                                        ``.env.backup`` per service (Phase 4), ``docker-compose.yml``,
                                        ``package.json``
``backups/<STAMP>/``                    Checkpoint Alpha's baseline: the *good* ``.env`` files at the
                                        same relative paths (``STAMP`` mirrors the seed's
                                        ``20250904-210000``)
``emergency/.env.new``                  Checkpoint Bravo's emergency credentials
``backups/.env.original``               Phase 1's original ``.env``
``backups/store/``                      empty: where the tool keeps the backups it takes
=====================================  ==============================================================

Every value is random (``secrets.token_hex``) and different per file and state, so a test can tell
*which* file ended up where by its bytes. Secret-holding files are 0600, their directories 0700.
Seeding is idempotent: an existing file is never rewritten, and the returned
:attr:`ProjectSeed.secret_values` is read back from the files, so a second run reports the same values.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from recovery.adapters.files import atomic_write

#: The five services of the seed playbook: (name, path in the project).
DEFAULT_SERVICES: tuple[tuple[str, str], ...] = (
    ("clos-api", "clos/api-server"),
    ("promoteros", "projects/promoterOS"),
    ("paintbox", "projects/paintbox"),
    ("brand-website", "brand/website"),
    ("collaboration-editor", "apps/collaboration-editor"),
)
BASELINE_STAMP = "20250904-210000"
SECRET_KEYS = ("DATABASE_PASSWORD", "JWT_SECRET", "API_KEY")

#: state -> (secrets backend the file points at, a line saying what the file is)
STATES: dict[str, tuple[str, str]] = {
    "broken": ("aws-secrets-manager", "current config after the failed secrets deployment"),
    "baseline": ("local", "last known good configuration (pre-deployment baseline)"),
    "emergency": ("local", "emergency credentials generated during the incident"),
    "original": ("local", "original configuration before emergency rotation"),
}

ValueFactory = Callable[[str], str]


@dataclass(frozen=True)
class ProjectSeed:
    """Where everything was seeded, and every secret value planted in those files."""

    world_dir: Path
    project_root: Path
    baseline_dir: Path
    emergency_dir: Path
    emergency_env: Path
    original_env: Path
    store_dir: Path
    compose_file: Path
    services: tuple[tuple[str, str], ...]
    secret_values: tuple[str, ...]

    def service_env(self, rel_path: str) -> Path:
        """The ``.env`` of a service in the project tree."""
        return self.project_root / rel_path / ".env"

    def baseline_env(self, rel_path: str) -> Path:
        """The good ``.env`` of a service (``""`` for the root) in the baseline backup."""
        return self.baseline_dir / rel_path / ".env" if rel_path else self.baseline_dir / ".env"


def _random_value(_label: str) -> str:
    return secrets.token_hex(24)


def env_text(service: str, state: str, values: ValueFactory, where: str) -> str:
    """The text of one ``.env`` file: a service, a state, fresh values for each secret key."""
    backend, what = STATES[state]
    lines = [
        f"# candlefish {service}: {what}",
        "NODE_ENV=production",
        f"SERVICE_NAME={service}",
        f"SECRETS_BACKEND={backend}",
    ]
    lines += [f"{key}={values(f'{state}:{where}:{key}')}" for key in SECRET_KEYS]
    return "\n".join(lines) + "\n"


def seed_project(
    world_dir: Path,
    services: Sequence[tuple[str, str]] = DEFAULT_SERVICES,
    values: ValueFactory | None = None,
    *,
    baseline_stamp: str = BASELINE_STAMP,
) -> ProjectSeed:
    """Create (or keep) the project tree, the baseline, the emergency and original ``.env`` files.

    ``values`` gets a label such as ``baseline:clos/api-server:JWT_SECRET`` and returns the value to
    plant (default: 48 random hex characters), so a test can choose values when it needs to.
    """
    make = values or _random_value
    project = world_dir / "project"
    backups = world_dir / "backups"
    baseline = backups / baseline_stamp
    emergency = world_dir / "emergency"
    store = backups / "store"
    for directory in (backups, baseline, emergency, store):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    project.mkdir(parents=True, exist_ok=True)

    env_files: list[Path] = []

    def secret_file(path: Path, text: str) -> None:
        env_files.append(path)
        if not path.exists():
            atomic_write(path, text.encode(), 0o600)

    secret_file(project / ".env", env_text("candlefish-ai", "broken", make, "."))
    secret_file(baseline / ".env", env_text("candlefish-ai", "baseline", make, "."))
    for name, rel in services:
        (project / rel).mkdir(parents=True, exist_ok=True)
        secret_file(project / rel / ".env", env_text(name, "broken", make, rel))
        secret_file(baseline / rel / ".env", env_text(name, "baseline", make, rel))
        # Phase 4's "*.env.backup": a copy of the good file, made before the failed deployment.
        secret_file(project / rel / ".env.backup", (baseline / rel / ".env").read_text())
    secret_file(emergency / ".env.new", env_text("candlefish-ai", "emergency", make, "emergency"))
    secret_file(backups / ".env.original", env_text("candlefish-ai", "original", make, "original"))
    for directory in (baseline, emergency):
        _private_tree(directory)

    compose = project / "docker-compose.yml"
    _plain_file(compose, _compose_text(services))
    _plain_file(project / "package.json", _package_json(services))
    _plain_file(project / ".gitignore", ".env\n*.env\n*.env.backup\n*.env.new\nnode_modules/\n")

    return ProjectSeed(
        world_dir=world_dir,
        project_root=project,
        baseline_dir=baseline,
        emergency_dir=emergency,
        emergency_env=emergency / ".env.new",
        original_env=backups / ".env.original",
        store_dir=store,
        compose_file=compose,
        services=tuple((n, r) for n, r in services),
        secret_values=tuple(sorted({v for path in env_files for v in read_secret_values(path)})),
    )


def read_secret_values(path: Path) -> list[str]:
    """The values of the secret keys in one ``.env`` file (for the world's canaries list)."""
    found = []
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in SECRET_KEYS and value.strip():
            found.append(value.strip())
    return found


def _private_tree(top: Path) -> None:
    """chmod 0700 every directory under ``top`` (``mkdir(parents=True)`` gives parents 0755)."""
    top.chmod(0o700)
    for directory in top.rglob("*"):
        if directory.is_dir() and not directory.is_symlink():
            directory.chmod(0o700)


def _plain_file(path: Path, text: str) -> None:
    if not path.exists():
        atomic_write(path, text.encode(), 0o644)


def _compose_text(services: Sequence[tuple[str, str]]) -> str:
    """A compose file naming each service with its env file (never a value: those stay in .env)."""
    lines = ["services:"]
    for name, rel in services:
        lines += [
            f"  {name}:",
            f"    image: candlefish/{name}:latest",
            f"    build: ./{rel}",
            "    env_file:",
            f"      - ./{rel}/.env",
            "    restart: unless-stopped",
        ]
    return "\n".join(lines) + "\n"


def _package_json(services: Sequence[tuple[str, str]]) -> str:
    """A dependency-free workspace root, so ``npm install`` / ``npm run build`` work offline."""
    doc = {
        "name": "candlefish-ai",
        "version": "1.0.0",
        "private": True,
        "description": "Candlefish platform (rehearsal world)",
        "services": {name: rel for name, rel in services},
        "scripts": {
            "build": "node -e \"console.log('build ok')\"",
            "test": "node -e \"console.log('tests ok')\"",
        },
    }
    return json.dumps(doc, indent=2) + "\n"
