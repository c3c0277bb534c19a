"""The validation checklist's checks: every component at once, each under its own deadline.

:func:`run_checks` starts one check per component (each service's ``health_url``, MongoDB, Redis,
Vault, AWS Secrets Manager) concurrently and waits for all of them. Each check is wrapped in its
own ``asyncio.wait_for``, so a server that accepts the connection and then says nothing costs its
own check ``timeout_s`` and nothing more: the others report their real result meanwhile. A check
never raises -- a report that says "vault: sealed" next to "redis: ok" is worth more after an
incident than the first exception.

The Vault and AWS adapters are synchronous (hvac, boto3). They run in *daemon* threads rather than
``asyncio.to_thread``: a thread cannot be cancelled, and the default executor's threads are
joined when the event loop closes (``asyncio.run``), so one hung endpoint would hold the process
at exit long after its check had reported a timeout. Their clients also get ``timeout_s`` as their
own timeouts, so an abandoned thread ends soon anyway.

:func:`check_components` is the same as a Prefect task, so each validation shows in the UI.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from recovery.adapters.aws import AwsAdapter
from recovery.adapters.health import ping_mongo, ping_redis, probe_http, strip_userinfo
from recovery.adapters.vault import VaultAdapter
from recovery.domain.models import CheckResult, ValidationReport
from recovery.domain.validation import (
    AWS_SECRETS_MANAGER,
    MONGODB,
    REDIS,
    VAULT,
    failed,
    service_component,
    timeout_detail,
)
from recovery.errors import RecoveryError
from recovery.inventory import Inventory
from recovery.secrets import REDACTOR
from tasks.policy import inspect

T = TypeVar("T")

#: AWS attempts per check: one retry absorbs the occasional 500 moto gives under load.
AWS_ATTEMPTS = 2


async def run_checks(inv: Inventory, timeout_s: float = 5.0) -> ValidationReport:
    """Check every component of ``inv`` concurrently; the report lists them in checklist order
    (services as listed in the inventory, then MongoDB, Redis, Vault, AWS Secrets Manager)."""
    db = inv.databases
    checks: list[tuple[str, str, Callable[[], Awaitable[CheckResult]]]] = []
    for svc in inv.services:
        if svc.health_url:
            name = service_component(svc.name)
            checks.append((name, svc.health_url, _http_check(name, svc.health_url, timeout_s)))
    checks += [
        (MONGODB, db.mongodb_url, lambda: ping_mongo(db.mongodb_url, timeout_s, component=MONGODB)),
        (REDIS, db.redis_url, lambda: ping_redis(db.redis_url, timeout_s, component=REDIS)),
        (VAULT, inv.vault.address, lambda: _in_daemon_thread(_vault_check, inv, timeout_s)),
        (AWS_SECRETS_MANAGER, _aws_where(inv), lambda: _in_daemon_thread(_aws_check, inv, timeout_s)),
    ]
    bounded = (_bounded(name, target, timeout_s, check) for name, target, check in checks)
    results = await asyncio.gather(*bounded)
    return ValidationReport(checks=list(results))


@inspect(name="check-components")
async def check_components(inv: Inventory, timeout_s: float = 5.0) -> ValidationReport:
    """Prefect task around :func:`run_checks` (read-only, never cached: every run re-reads the world)."""
    return await run_checks(inv, timeout_s)


async def _bounded(
    component: str, target: str, timeout_s: float, check: Callable[[], Awaitable[CheckResult]]
) -> CheckResult:
    """Run one check under its own deadline; time it; turn a timeout or an error into ``ok=False``
    naming the address that did not answer (without userinfo: a Redis URL may hold a password)."""
    began = time.perf_counter()
    try:
        result = await asyncio.wait_for(check(), timeout_s)
    except TimeoutError:
        result = failed(component, REDACTOR.redact(f"{strip_userinfo(target)}: {timeout_detail(timeout_s)}"))
    except Exception as exc:  # a check reports, it never raises (module docstring)
        result = failed(component, _reason(exc))
    # The adapter's own timing (around the request alone) is the truer latency when it has one; the
    # outer clock also counts waiting for the event loop while the other checks build their clients.
    latency = result.latency_ms
    if latency is None:
        latency = round((time.perf_counter() - began) * 1000, 2)
    return result.model_copy(update={"component": component, "latency_ms": latency})


def _http_check(component: str, url: str, timeout_s: float) -> Callable[[], Awaitable[CheckResult]]:
    async def check() -> CheckResult:
        (result,) = await probe_http({component: url}, timeout_s)
        return result

    return check


def _vault_check(inv: Inventory, timeout_s: float) -> CheckResult:
    """``vault status``: ok only when initialised, unsealed and active; the detail is the state."""
    adapter = VaultAdapter(
        inv.vault.address,
        inv.vault.token.resolve(),
        timeout=min(timeout_s, inv.vault.timeout_seconds),
        kv_mount=inv.vault.kv_mount,
    )
    health = adapter.health()
    state = health.state.value
    extra = health.detail if health.detail and health.detail != state else ""
    version = f"v{health.version}" if health.version else ""
    detail = ", ".join(part for part in (state, extra, version) if part)
    return CheckResult(component=VAULT, ok=health.ok, detail=detail)


def _aws_check(inv: Inventory, timeout_s: float) -> CheckResult:
    """``aws secretsmanager list-secrets``: one cheap call; the detail is the error when it fails."""
    adapter = AwsAdapter.from_inventory(
        inv.aws, connect_timeout=timeout_s, read_timeout=timeout_s, max_attempts=AWS_ATTEMPTS
    )
    try:
        adapter.ping()
    except RecoveryError as exc:
        return failed(AWS_SECRETS_MANAGER, REDACTOR.redact(str(exc)))
    return CheckResult(component=AWS_SECRETS_MANAGER, ok=True, detail=f"{_aws_where(inv)}: list-secrets ok")


def _aws_where(inv: Inventory) -> str:
    return strip_userinfo(inv.aws.endpoint_url or f"region {inv.aws.region}")


def _reason(exc: BaseException) -> str:
    """A short, redacted reason (our errors never carry secrets; library errors might quote input)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return REDACTOR.redact(f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__)


async def _in_daemon_thread(fn: Callable[[Inventory, float], T], inv: Inventory, timeout_s: float) -> T:
    """``await fn(inv, timeout_s)`` run in a daemon thread that nobody waits for once abandoned."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(outcome: T | BaseException, error: bool) -> None:
        if future.done():  # the check already timed out and was abandoned
            return
        if error:
            future.set_exception(outcome)  # type: ignore[arg-type]
        else:
            future.set_result(outcome)  # type: ignore[arg-type]

    def work() -> None:
        try:
            outcome: T | BaseException = fn(inv, timeout_s)
            error = False
        except BaseException as exc:  # handed to the awaiting coroutine, not swallowed
            outcome, error = exc, True
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(deliver, outcome, error)

    threading.Thread(target=work, name=f"check-{fn.__name__}", daemon=True).start()
    return await future
