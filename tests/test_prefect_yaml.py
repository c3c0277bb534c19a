"""prefect.yaml names real flows, limits recoveries to one at a time and carries no secret."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml
from prefect import Flow

ROOT = Path(__file__).resolve().parent.parent


def test_every_deployment_entrypoint_is_a_flow_of_this_project() -> None:
    doc = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert doc["deployments"]
    for deployment in doc["deployments"]:
        module_path, name = deployment["entrypoint"].split(":")
        module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
        assert isinstance(getattr(module, name), Flow), deployment["name"]


def test_recovery_deployments_run_one_at_a_time_and_take_no_secret_parameter() -> None:
    doc = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    for deployment in doc["deployments"]:
        if deployment["entrypoint"].endswith(":recover"):
            assert deployment["concurrency_limit"] == 1
        assert not {"token", "password", "secret"} & {k.lower() for k in deployment.get("parameters", {})}
