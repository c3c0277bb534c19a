"""Health probes: HTTP services, Redis and MongoDB -- concurrently, each bounded by its own timeout.

The playbook's validation checklist curls each service, pipes into ``mongo`` and ``redis-cli``. Here
every probe returns a :class:`CheckResult` and **never raises** for a component that is down, slow or
refusing: a recovery report wants "paintbox: refused after 3 ms" next to "redis: ok", not the first
exception. Each probe runs under a hard ``asyncio`` deadline on top of the client's own timeouts, so a
server that accepts the connection and then says nothing still yields ``ok=False`` in time.

Details name addresses without their userinfo (``redis://:password@host`` would otherwise put a
password in a report) and pass through the redactor.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

import httpx
from pymongo import AsyncMongoClient
from redis import asyncio as aioredis

from recovery.domain.models import CheckResult
from recovery.secrets import REDACTOR

__all__ = ["CheckResult", "ping_mongo", "ping_redis", "probe_http", "strip_userinfo"]

_PYMONGO_NOISE = re.compile(r" \(configured timeouts:[^)]*\)")
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")


def strip_userinfo(url: str) -> str:
    """``scheme://user:pass@host/x`` -> ``scheme://host/x`` (also inside longer text)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO.sub(r"\g<scheme>", url)
    if parts.username is None and parts.password is None:
        return _USERINFO.sub(r"\g<scheme>", url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _clean(text: str) -> str:
    return REDACTOR.redact(_USERINFO.sub(r"\g<scheme>", text))


def _reason(exc: BaseException) -> str:
    """A short, credential-free reason for a failed probe."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    # pymongo appends its whole topology description and timeout settings: keep the reason only.
    message = _PYMONGO_NOISE.sub("", message.split(", Timeout: ")[0].split(", Topology Description")[0])
    kind = type(exc).__name__
    return _clean(f"{kind}: {message}"[:300] if message else kind)


async def _timed(
    component: str,
    target: str,
    timeout: float,
    probe: Callable[[], Awaitable[tuple[bool, str]]],
) -> CheckResult:
    """Run ``probe`` under a hard deadline and turn whatever happens into a CheckResult."""
    began = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            ok, detail = await probe()
    except TimeoutError:
        ok, detail = False, f"no answer within {timeout:g}s"
    except Exception as exc:  # a probe reports, it never raises: see the module docstring
        ok, detail = False, _reason(exc)
    latency = (time.perf_counter() - began) * 1000
    return CheckResult(
        component=component,
        ok=ok,
        latency_ms=round(latency, 2),
        detail=_clean(f"{strip_userinfo(target)}: {detail}"),
    )


# -- HTTP ---------------------------------------------------------------------------------------
async def probe_http(
    urls: Mapping[str, str],
    timeout: float = 5.0,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[CheckResult]:
    """GET every URL concurrently; ok means a status below 400 (what ``curl -f`` accepts).

    Results come back in the order of ``urls``. ``transport`` lets a caller route through a custom
    httpx transport (a proxy, a unix socket) without this module knowing about it.
    """
    limits = httpx.Timeout(timeout)
    async with httpx.AsyncClient(timeout=limits, transport=transport, follow_redirects=False) as client:
        return list(
            await asyncio.gather(*(_probe_url(client, name, url, timeout) for name, url in urls.items()))
        )


async def _probe_url(client: httpx.AsyncClient, name: str, url: str, timeout: float) -> CheckResult:
    async def probe() -> tuple[bool, str]:
        response = await client.get(url)
        return response.status_code < 400, f"HTTP {response.status_code}"

    return await _timed(name, url, timeout, probe)


# -- Redis --------------------------------------------------------------------------------------
async def ping_redis(url: str, timeout: float = 5.0, *, component: str = "redis") -> CheckResult:
    """``PING`` -> ``PONG`` (the seed's ``echo PING | redis-cli``)."""

    async def probe() -> tuple[bool, str]:
        client = aioredis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            answered = await client.ping()
        finally:
            await client.aclose()
        return bool(answered), "PONG" if answered else "no PONG"

    return await _timed(component, url, timeout, probe)


# -- MongoDB ------------------------------------------------------------------------------------
async def ping_mongo(url: str, timeout: float = 5.0, *, component: str = "mongodb") -> CheckResult:
    """The ``ping`` admin command (the seed pipes ``test`` into the ``mongo`` shell)."""
    # The client's own timeouts end before the hard deadline, so a refused connection reports
    # pymongo's reason rather than a bare "no answer". Server selection re-checks a dead server only
    # every 500 ms (minHeartbeatFrequencyMS), hence the margin.
    ms = max(100, int(timeout * 1000) - 550)

    async def probe() -> tuple[bool, str]:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
            url, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms, connect=False
        )
        try:
            answer = await client.admin.command("ping")
        finally:
            await client.close()
        ok = float(answer.get("ok", 0)) == 1.0  # type: ignore[arg-type]
        return ok, "ping ok" if ok else "ping answered not ok"

    return await _timed(component, url, timeout, probe)
