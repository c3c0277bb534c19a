"""Benchmark: how long ``recovery sandbox up`` takes, cold (fresh directory) against warm (a second
``up`` on a running world, the baseline of pure checking and re-seeding), side by side.

Run on demand: ``python bench/sandbox_up.py [--rounds N]``. Prints one row per step, the median
seconds of each kind of run and their ratio. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from recovery.sandbox import world

STEP = re.compile(r"^(?P<name>.+?): ")


def timed_up(directory: Path) -> dict[str, float]:
    """Seconds spent before each progress message of one ``up`` (a step's own duration)."""
    times: dict[str, float] = {}
    last = began = time.perf_counter()

    def progress(message: str) -> None:
        nonlocal last
        now = time.perf_counter()
        match = STEP.match(message)
        times[match.group("name") if match else message] = now - last
        last = now

    world.up(directory, progress=progress)
    times["total"] = time.perf_counter() - began
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    cold: dict[str, list[float]] = defaultdict(list)
    warm: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            try:
                for step, seconds in timed_up(directory).items():
                    cold[step].append(seconds)
                for step, seconds in timed_up(directory).items():
                    warm[step].append(seconds)
            finally:
                world.down(directory)
    print(f"sandbox up, median of {rounds} round(s), seconds")
    print(f"{'step':<46} {'cold':>8} {'warm':>8} {'cold/warm':>10}")
    for step in cold:
        c = statistics.median(cold[step])
        w = statistics.median(warm.get(step, [float('nan')]))
        ratio = c / w if w else float("inf")
        print(f"{step[:46]:<46} {c:8.2f} {w:8.2f} {ratio:10.1f}")


if __name__ == "__main__":
    main()
