"""What several benchmarks share: timing helpers and the description of the machine.

The benchmarks import it as ``_common``: running ``python bench/<name>.py`` from the
repository root puts this directory first on ``sys.path``.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable

MIN_RUN_SECONDS = 0.05


def per_op_seconds(function: Callable[[], object], runs: int) -> float:
    """Median seconds per call over ``runs`` runs, each long enough to time reliably."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            function()
        if time.perf_counter() - start >= MIN_RUN_SECONDS or number >= 1 << 20:
            break
        number *= 4
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(number):
            function()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def interleaved(
    reference: Callable[[], object], candidate: Callable[[], object], runs: int
) -> tuple[list[float], list[float]]:
    """Seconds per call of ``reference`` and of ``candidate`` in each of ``runs`` runs, the
    two timed in alternation so that load from other processes hits both alike."""
    reference_s: list[float] = []
    candidate_s: list[float] = []
    for _ in range(runs):
        reference_s.append(per_op_seconds(reference, 1))
        candidate_s.append(per_op_seconds(candidate, 1))
    return reference_s, candidate_s


def print_machine() -> None:
    """The Python, platform and CPU lines every benchmark report starts with."""
    print(f"python   {platform.python_version()} ({platform.python_implementation()})")
    print(f"platform {platform.platform()}")
    print(f"cpu      {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs")
