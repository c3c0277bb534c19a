#!/usr/bin/env bash
# Sets up, starts the local rehearsal world and runs a recovery drill against it.
# The world keeps running afterwards; stop it with: .venv/bin/recovery sandbox down --dir .sandbox
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. .venv/bin/activate
inventory=$(recovery sandbox up --dir .sandbox)
recovery sandbox status --dir .sandbox
export RECOVERY_INVENTORY="$inventory"
recovery validate || true
