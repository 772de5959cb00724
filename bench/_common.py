"""What several benchmarks share: timing helpers, percentiles, a child process's CPU time
and the description of the machine.

The benchmarks import it as ``_common``: running ``python bench/<name>.py`` from the
repository root puts this directory first on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

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


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo``, or what :mod:`platform` knows without it."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return cpu


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by rank; NaN when nothing completed."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
