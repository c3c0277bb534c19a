"""Test configuration. Each outside system has its fixtures in ``tests/fixtures/<system>.py``;
servers are session-scoped so the suite starts each real server once."""

from __future__ import annotations

import os

# Task retries back off for seconds in production; tests keep the same count with short delays.
# Set before any test module imports the tasks (their retry options are fixed at import).
os.environ.setdefault("RECOVERY_RETRY_DELAYS", "0.2,0.5")

pytest_plugins = [
    "tests.fixtures.aws",
    "tests.fixtures.vault",
    "tests.fixtures.kubernetes",
    "tests.fixtures.terraform",
    "tests.fixtures.local",
    "tests.fixtures.prefect",
    "tests.fixtures.world",
]
