#!/usr/bin/env bash
# Sets up (scripts/setup.sh), then runs every check CI runs: ruff, mypy, import-linter, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. .venv/bin/activate
ruff check .
mypy
lint-imports
python -m pytest "$@"
