"""The rehearsal world's local servers are real processes that answer, and stop when told."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import httpx
import pytest
import redis
from pymongo import MongoClient

from recovery.sandbox import local_servers, procs
from recovery.sandbox.procs import ProcessRecord


def test_redis_server_stores_and_returns_a_value(redis_server: ProcessRecord) -> None:
    client = redis.Redis.from_url(redis_server.address)
    try:
        client.set("drill", "ok")
        assert client.get("drill") == b"ok"
    finally:
        client.close()
    assert local_servers.healthy(redis_server)


def test_redis_falls_back_to_fakeredis_without_redis_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    record = local_servers.start_redis(tmp_path)
    try:
        assert record.extra["implementation"] == "fakeredis"
        assert local_servers.healthy(record)
    finally:
        procs.stop(record.pid)
    assert not local_servers.healthy(record)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="Debian's redis-server is not installed")
def test_redis_uses_debian_redis_server_when_it_is_installed(redis_server: ProcessRecord) -> None:
    assert redis_server.extra["implementation"] == "redis-server"


def test_mongo_server_stores_documents_in_the_world_directory(mongo_server: ProcessRecord) -> None:
    client: MongoClient[dict[str, object]] = MongoClient(mongo_server.address, serverSelectionTimeoutMS=3000)
    try:
        client.candlefish.incidents.insert_one({"kind": "drill"})
        assert client.candlefish.incidents.find_one({"kind": "drill"}) is not None
    finally:
        client.close()

    assert (Path(mongo_server.extra["data_dir"]) / "candlefish.db").exists()
    assert local_servers.healthy(mongo_server)


def test_service_app_answers_its_health_path_and_404_elsewhere(
    service_apps: dict[str, ProcessRecord],
) -> None:
    promoteros = service_apps["promoteros"]

    health = httpx.get(promoteros.extra["health_url"], timeout=3)

    assert promoteros.extra["health_url"].endswith("/api/health")
    assert health.status_code == 200 and health.json()["service"] == "promoteros"
    assert httpx.get(f"{promoteros.address}/health", timeout=3).status_code == 404


def test_service_app_fingerprints_the_env_it_started_with_and_fails_on_demand(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("JWT_SECRET=abc123abc123\n")
    record = local_servers.start_service(tmp_path, "paintbox", "/health", env_file=env)
    try:
        body = httpx.get(record.extra["health_url"], timeout=3).json()
        assert body["env_loaded"] and body["env_sha256"] == hashlib.sha256(env.read_bytes()).hexdigest()
        assert "abc123abc123" not in httpx.get(record.extra["health_url"], timeout=3).text

        Path(record.extra["fail_file"]).touch()
        assert httpx.get(record.extra["health_url"], timeout=3).status_code == 503
        assert not local_servers.healthy(record)
    finally:
        procs.stop(record.pid)
    assert not procs.pid_alive(record.pid)


def test_a_stopped_mongo_is_no_longer_healthy(tmp_path: Path) -> None:
    record = local_servers.start_mongo(tmp_path)
    assert local_servers.healthy(record)

    procs.stop(record.pid)

    assert not local_servers.healthy(record)
