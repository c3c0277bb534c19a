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

from recovery.errors import ConfigError, NotFoundError, RecoveryBusyError, RecoveryError
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

    run = sub.add_parser("run", help="run a recovery checkpoint, validate, write the report")
    run.add_argument("checkpoint", help="alpha | bravo | charlie | delta | auto-detect")
    run.add_argument("--dry-run", action="store_true", help="inspect and plan only; change nothing")
    run.add_argument("--auto-approve", action="store_true", help="do not pause for an approval")
    run.add_argument("--approval-timeout", type=_positive_int, default=3600, metavar="SECONDS",
                     help="how long to wait for an approval (default 3600)")

    sub.add_parser("validate", help="the recovery validation checklist (exit 0 healthy, 1 not)")

    for name, text in (("approve", "approve a paused recovery"), ("reject", "reject a paused recovery")):
        decide = sub.add_parser(name, help=text)
        decide.add_argument("run_id", metavar="RUN_ID")
        decide.add_argument("--approver", required=True)
        decide.add_argument("--reason", required=True)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be at least 1 second, got {value}")
    return value


VALID_CHECKPOINTS = ("alpha", "bravo", "charlie", "delta", "auto-detect")
STATUS_EXIT = {"succeeded": 0, "dry_run": 0, "failed": 1, "rejected": 3, "timed_out": 3}


def _run(args: argparse.Namespace) -> int:
    if args.checkpoint not in VALID_CHECKPOINTS:
        print(f"Unknown checkpoint: {args.checkpoint}", file=sys.stderr)
        print(f"Valid options: {', '.join(VALID_CHECKPOINTS)}", file=sys.stderr)
        return 2
    from recovery.inventory import load_inventory

    inventory = _inventory_path(args)
    load_inventory(inventory)  # a bad inventory is refused before any flow run is created
    from flows.recover import checkpoint_for, recover

    checkpoint_for(args.checkpoint)  # auto-detect: a clear "not available yet", exit 2
    state = recover(checkpoint=args.checkpoint, inventory=inventory, dry_run=args.dry_run,
                    auto_approve=args.auto_approve, approval_timeout_s=args.approval_timeout,
                    return_state=True)
    if state.is_failed() or state.is_crashed():
        exc = state.result(raise_on_failure=False)
        print(f"recovery failed: {REDACTOR.redact(str(exc))}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, RecoveryBusyError) else 1
    result = state.result()
    print(f"checkpoint {result.checkpoint}: {result.status}")
    if result.approval is not None:
        print(result.approval.summary())
    return STATUS_EXIT[result.status]


def _validate(args: argparse.Namespace) -> int:
    import asyncio

    from flows.validate import validate_recovery

    report = asyncio.run(validate_recovery(inventory=_inventory_path(args)))
    for check in report.checks:
        mark = "OK  " if check.ok else "FAIL"
        print(f"{mark} {check.component:<28} {check.latency_ms or 0:8.1f} ms  {check.detail}")
    print("healthy" if report.healthy else f"unhealthy: {', '.join(report.failing)}")
    return 0 if report.healthy else 1


def _decide(args: argparse.Namespace) -> int:
    from flows.approval import resume_decision

    approved = args.command == "approve"
    try:
        resume_decision(args.run_id, approved=approved, approver=args.approver, reason=args.reason)
    except NotFoundError as exc:  # an unknown run id is bad input: exit 2, like a malformed one
        raise ConfigError(str(exc)) from exc
    print(f"{'approved' if approved else 'rejected'} run {args.run_id} as {args.approver}")
    return 0


def _inventory_path(args: argparse.Namespace) -> str | None:
    """Flows get the inventory as a path (a reference), resolved so a worker elsewhere finds it."""
    chosen = args.inventory or os.environ.get("RECOVERY_INVENTORY")
    return str(Path(chosen).resolve()) if chosen else None


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
    handlers = {"sandbox": _sandbox, "inventory": _inventory, "run": _run, "validate": _validate,
                "approve": _decide, "reject": _decide}
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
