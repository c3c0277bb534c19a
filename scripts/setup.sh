#!/usr/bin/env bash
# Sets up everything candlefish-recovery needs on a fresh Debian machine: the Debian packages the
# rehearsal world uses, a virtualenv in .venv, and the package with its sandbox and test extras.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)   # Phase 4 rebuilds run npm; a test runs it offline
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "note: ${need_apt[*]} missing and not root; the sandbox falls back to fakeredis" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[sandbox,test]"
echo "setup done: activate with '. .venv/bin/activate'" >&2
