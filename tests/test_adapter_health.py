"""Health probes against real servers: the session's service apps, Redis and nx-27017, plus servers
that are down (a free port) or silent (accept, then never answer)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from recovery.adapters.health import ping_mongo, ping_redis, probe_http, strip_userinfo
from recovery.sandbox import local_servers, procs
from recovery.sandbox.procs import ProcessRecord
from tests.servers import SilentServer


def health_urls(apps: dict[str, ProcessRecord]) -> dict[str, str]:
    return {name: record.extra["health_url"] for name, record in apps.items()}


async def test_every_running_service_reports_ok(service_apps: dict[str, ProcessRecord]) -> None:
    results = await probe_http(health_urls(service_apps), timeout=5)

    assert [r.component for r in results] == list(service_apps)
    assert all(r.ok for r in results), results
    assert all(r.detail.endswith("HTTP 200") and r.latency_ms > 0 for r in results)


async def test_a_killed_service_is_reported_down_while_the_others_stay_ok(
    service_apps: dict[str, ProcessRecord], tmp_path: Path
) -> None:
    doomed = local_servers.start_service(tmp_path, "doomed", "/health")
    procs.stop(doomed.pid)
    urls = {**health_urls(service_apps), "doomed": doomed.extra["health_url"]}

    results = {r.component: r for r in await probe_http(urls, timeout=3)}

    assert not results["doomed"].ok
    assert "ConnectError" in results["doomed"].detail
    assert all(results[name].ok for name in service_apps)


async def test_a_service_answering_503_or_404_is_not_ok(tmp_path: Path) -> None:
    app = local_servers.start_service(tmp_path, "flaky", "/health")
    try:
        Path(app.extra["fail_file"]).touch()
        results = await probe_http(
            {"failing": app.extra["health_url"], "wrong-path": f"{app.address}/nope"}, timeout=3
        )
    finally:
        procs.stop(app.pid)

    assert [(r.ok, r.detail.rsplit(" ", 1)[-1]) for r in results] == [(False, "503"), (False, "404")]


async def test_a_service_that_never_answers_is_not_ok_within_its_timeout(
    service_apps: dict[str, ProcessRecord], silent: SilentServer
) -> None:
    urls = {"paintbox": service_apps["paintbox"].extra["health_url"],
            "hung": f"http://127.0.0.1:{silent.port}/health"}
    began = time.monotonic()

    results = {r.component: r for r in await probe_http(urls, timeout=0.5)}

    assert time.monotonic() - began < 2
    assert not results["hung"].ok and results["paintbox"].ok


async def test_probes_run_concurrently_so_three_hung_services_cost_one_timeout(silent: SilentServer) -> None:
    urls = {f"hung-{i}": f"http://127.0.0.1:{silent.port}/health?n={i}" for i in range(3)}
    began = time.monotonic()

    results = await probe_http(urls, timeout=1.0)

    assert time.monotonic() - began < 2.0
    assert [r.ok for r in results] == [False, False, False]


async def test_redis_ping_is_ok_on_a_running_server(redis_server: ProcessRecord) -> None:
    result = await ping_redis(redis_server.address, timeout=3)

    assert result.ok and result.component == "redis" and "PONG" in result.detail


async def test_redis_ping_on_a_closed_port_is_not_ok_and_never_shows_the_password() -> None:
    password = secrets.token_hex(16)
    url = f"redis://:{password}@127.0.0.1:{procs.free_port()}/0"

    result = await ping_redis(url, timeout=2)

    assert not result.ok and password not in result.detail
    assert "127.0.0.1" in result.detail


async def test_redis_ping_on_a_silent_server_gives_up_within_the_timeout(silent: SilentServer) -> None:
    began = time.monotonic()

    result = await ping_redis(f"redis://127.0.0.1:{silent.port}/0", timeout=0.5)

    assert not result.ok and time.monotonic() - began < 2


async def test_mongo_ping_is_ok_on_a_running_server(mongo_server: ProcessRecord) -> None:
    result = await ping_mongo(mongo_server.address, timeout=5)

    assert result.ok and result.component == "mongodb"


async def test_mongo_ping_on_a_closed_port_is_not_ok_and_never_shows_credentials() -> None:
    password = secrets.token_hex(16)
    url = f"mongodb://admin:{password}@127.0.0.1:{procs.free_port()}/?authSource=admin"

    result = await ping_mongo(url, timeout=1)

    assert not result.ok and password not in result.detail and "@" not in result.detail
    assert "ServerSelectionTimeoutError" in result.detail and "Errno 111" in result.detail


async def test_mongo_ping_on_a_silent_server_gives_up_within_the_timeout(silent: SilentServer) -> None:
    began = time.monotonic()

    result = await ping_mongo(f"mongodb://127.0.0.1:{silent.port}", timeout=0.5)

    assert not result.ok and time.monotonic() - began < 2


def test_strip_userinfo_removes_user_and_password_but_keeps_the_address() -> None:
    assert strip_userinfo("redis://:pw@10.0.0.5:6379/0") == "redis://10.0.0.5:6379/0"
    assert strip_userinfo("https://u:p@svc.example/health?x=1") == "https://svc.example/health?x=1"
    assert strip_userinfo("http://127.0.0.1:8000/health") == "http://127.0.0.1:8000/health"
