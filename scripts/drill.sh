#!/usr/bin/env bash
# Sets up, starts the local rehearsal world, and runs a recovery drill against it:
# the validation checklist, a dry run of Checkpoint Alpha, then the real Checkpoint Alpha
# (auto-approved: this is the rehearsal world) with its report under .sandbox/reports/.
# Without PREFECT_API_URL the flows use Prefect's ephemeral API; set it to use your server.
# The world keeps running afterwards; stop it with: .venv/bin/recovery sandbox down --dir .sandbox
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. .venv/bin/activate
inventory=$(recovery sandbox up --dir .sandbox)
recovery sandbox status --dir .sandbox
export RECOVERY_INVENTORY="$inventory"
recovery validate || true
recovery run alpha --dry-run
recovery run alpha --auto-approve
echo "reports: $(ls -1t .sandbox/reports/recovery-report-*.md | head -2 | tr '\n' ' ')"
