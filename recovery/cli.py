"""The ``recovery`` command line.

Exit codes are part of the interface:

* 0 -- success (a recovery succeeded, the world is healthy, the sandbox is up);
* 1 -- the operation ran and failed (a recovery failed, validation found unhealthy components);
* 2 -- bad input, nothing changed (unknown checkpoint, malformed inventory, unknown run id);
* 3 -- a recovery was rejected by its approver or the approval timed out (nothing destructive ran);
* 4 -- another recovery is already running.

This is the only module of the core package allowed to import the Prefect flows (lazily, so
``recovery sandbox`` and ``recovery inventory check`` start fast).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from recovery.errors import ConfigError, RecoveryError
from recovery.secrets import REDACTOR

DEFAULT_SANDBOX_DIR = Path(os.environ.get("RECOVERY_SANDBOX_DIR", ".sandbox"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recovery",
        description="Disaster recovery and rollback for the Candlefish secrets-management platform.",
    )
    parser.add_argument("--inventory", metavar="FILE", help="inventory YAML (default: $RECOVERY_INVENTORY)")
    sub = parser.add_subparsers(dest="command", required=True)

    sandbox = sub.add_parser("sandbox", help="the local rehearsal world of real servers")
    sandbox.add_argument("action", choices=["up", "status", "down"])
    sandbox.add_argument("--dir", type=Path, default=DEFAULT_SANDBOX_DIR, help="world directory")
    sandbox.add_argument("--json", action="store_true", help="status as JSON")

    inventory = sub.add_parser("inventory", help="inventory tools")
    inventory.add_argument("action", choices=["check"])
    return parser


def _sandbox(args: argparse.Namespace) -> int:
    from recovery.sandbox import world

    if args.action == "up":
        path = world.up(args.dir, progress=lambda m: print(f"  {m}", file=sys.stderr, flush=True))
        print(path)
        return 0
    if args.action == "status":
        rows = world.status(args.dir)
        if args.json:
            print(json.dumps([r.as_dict() for r in rows], indent=2))
        else:
            width = max(len(r.name) for r in rows)
            for r in rows:
                print(f"{r.name:<{width}}  {r.state:<9}  {r.address}")
        return 0 if all(r.state == "healthy" for r in rows) else 1
    stopped = world.down(args.dir)
    print(f"stopped {len(stopped)} process(es): {', '.join(stopped) or 'none'}")
    return 0


def _inventory(args: argparse.Namespace) -> int:
    from recovery.inventory import load_inventory

    inv = load_inventory(args.inventory)
    print(f"inventory OK: {len(inv.services)} services, project root {inv.project_root}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "botocore", "urllib3", "kubernetes"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from recovery.secrets import install_redaction

    install_redaction()
    args = _parser().parse_args(argv)
    handlers = {"sandbox": _sandbox, "inventory": _inventory}
    try:
        return handlers[args.command](args)
    except ConfigError as exc:
        print(f"error: {REDACTOR.redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except RecoveryError as exc:
        print(f"error: {REDACTOR.redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
