"""What the sandbox Terraform stacks' ``local-exec`` provisioners run: small, idempotent AWS actions.

The rehearsal stacks are built from ``terraform_data`` resources (no provider download, works
offline); their create provisioners call ``python -m recovery.sandbox.tfhook <action> ...`` to make
the matching object in moto, and their ``when = destroy`` provisioners call it again to remove it.
That way a targeted ``terraform destroy`` really deletes secrets, as it would against AWS.

Rules this tool keeps:

* No secret value ever appears on its command line: secret values are generated here
  (:func:`secrets.token_hex`) and sent straight to Secrets Manager.
* It only talks to a *local* endpoint (``AWS_ENDPOINT_URL`` must name localhost / 127.0.0.1), so a
  mistaken variable can never touch a real AWS account.
* Every action is idempotent (create when present, delete when absent: both succeed), because
  Terraform may re-run a provisioner after a partial failure.

Sandbox tooling, not product code: that is why boto3 is used here directly.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
MANAGED_TAG = "candlefish:managed-by"


def _client(service: str) -> Any:
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if urlparse(endpoint).hostname not in LOCAL_HOSTS:
        raise SystemExit(f"tfhook: refusing to act on a non-local AWS endpoint {endpoint!r}")
    # moto accepts any credentials; fixed fake ones keep boto3 from searching for real ones.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    import boto3  # imported late: the marker actions do not need it

    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
    return boto3.client(service, endpoint_url=endpoint, region_name=region)


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def secret_create(name: str, kms_key_id: str | None) -> None:
    client = _client("secretsmanager")
    kwargs: dict[str, Any] = {"Name": name, "SecretString": secrets.token_hex(32)}
    if kms_key_id:
        kwargs["KmsKeyId"] = kms_key_id
    kwargs["Tags"] = [{"Key": MANAGED_TAG, "Value": "terraform"}]
    try:
        client.create_secret(**kwargs)
    except client.exceptions.ResourceExistsException:
        pass
    except client.exceptions.InvalidRequestException:
        # Scheduled for deletion by an earlier destroy: bring it back rather than fail.
        client.restore_secret(SecretId=name)


def secret_delete(name: str) -> None:
    client = _client("secretsmanager")
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def _keys_named(client: Any, name: str) -> list[str]:
    """Ids of the live (not pending deletion) keys tagged ``Name=name``."""
    found = []
    for page in client.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            meta = client.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if meta.get("KeyState") == "PendingDeletion":
                continue
            tags = client.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])
            if {"TagKey": "Name", "TagValue": name} in tags:
                found.append(key["KeyId"])
    return found


def kms_key_create(name: str) -> None:
    client = _client("kms")
    if _keys_named(client, name):
        return
    client.create_key(
        Description=f"{name} (sandbox terraform)",
        Tags=[{"TagKey": "Name", "TagValue": name}, {"TagKey": MANAGED_TAG, "TagValue": "terraform"}],
    )


def kms_key_delete(name: str) -> None:
    client = _client("kms")
    for key_id in _keys_named(client, name):
        client.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)


def kms_alias_create(alias: str, key_name: str) -> None:
    client = _client("kms")
    keys = _keys_named(client, key_name)
    if not keys:
        raise SystemExit(f"tfhook: no live KMS key named {key_name!r} for {alias}")
    try:
        client.create_alias(AliasName=alias, TargetKeyId=keys[0])
    except client.exceptions.AlreadyExistsException:
        client.update_alias(AliasName=alias, TargetKeyId=keys[0])


def kms_alias_delete(alias: str) -> None:
    client = _client("kms")
    with contextlib.suppress(client.exceptions.NotFoundException):
        client.delete_alias(AliasName=alias)


def marker(path: Path, present: bool) -> None:
    """The Vault stack's stand-in for real infrastructure: a file that exists while it is deployed."""
    if present:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("deployed\n")
    else:
        path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recovery.sandbox.tfhook")
    sub = parser.add_subparsers(dest="action", required=True)
    for action in ("secret-create", "secret-delete"):
        p = sub.add_parser(action)
        p.add_argument("--name", required=True)
        p.add_argument("--kms-key-id", default="")
    for action in ("kms-key-create", "kms-key-delete"):
        sub.add_parser(action).add_argument("--name", required=True)
    for action in ("kms-alias-create", "kms-alias-delete"):
        p = sub.add_parser(action)
        p.add_argument("--alias", required=True)
        p.add_argument("--key-name", default="")
    for action in ("marker-create", "marker-delete"):
        sub.add_parser(action).add_argument("--path", required=True, type=Path)
    args = parser.parse_args(argv)

    match args.action:
        case "secret-create":
            secret_create(args.name, args.kms_key_id or None)
        case "secret-delete":
            secret_delete(args.name)
        case "kms-key-create":
            kms_key_create(args.name)
        case "kms-key-delete":
            kms_key_delete(args.name)
        case "kms-alias-create":
            kms_alias_create(args.alias, args.key_name)
        case "kms-alias-delete":
            kms_alias_delete(args.alias)
        case "marker-create" | "marker-delete":
            marker(args.path, args.action == "marker-create")
    print(f"tfhook: {args.action} ok", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
