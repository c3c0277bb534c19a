"""Test configuration. Each outside system has its fixtures in ``tests/fixtures/<system>.py``;
servers are session-scoped so the suite starts each real server once."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.aws",
    "tests.fixtures.vault",
    "tests.fixtures.kubernetes",
    "tests.fixtures.terraform",
    "tests.fixtures.local",
    "tests.fixtures.prefect",
    "tests.fixtures.world",
]
