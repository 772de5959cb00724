"""The JavaScript Bot API frameworks of the tests (grammY, Telegraf): a pinned npm package
installed from the registry into ``.pytest-node/<package>-<version>`` under the rootdir
(gitignored) on first use, under a file lock so that parallel workers install it once, with
the bot script that drives it copied beside it; ``node_bot`` runs such a script, which
reports in JSON lines on stdout and stops when its stdin closes.

Node.js and npm are part of the test environment: without them, or when the package cannot
be installed, the test fails and says why (it does not skip).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from ..integration.support import within

Process = asyncio.subprocess.Process


def _installed(prefix: Path, package: str, version: str) -> bool:
    manifest = prefix / "node_modules" / package / "package.json"
    if not manifest.exists():
        return False
    return bool(json.loads(manifest.read_text())["version"] == version)


def install(rootdir: Path, package: str, version: str, scripts: Iterable[Path]) -> Path:
    """The directory holding ``package@version`` and ``scripts``; run ``node`` there."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        pytest.fail(f"{package} needs Node.js and npm on PATH, and this machine lacks them")
    root = rootdir / ".pytest-node"
    root.mkdir(exist_ok=True)
    prefix = root / f"{package}-{version}"
    with open(root / f"{prefix.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed(prefix, package, version):
            shutil.rmtree(prefix, ignore_errors=True)
            prefix.mkdir()
            flags = ["--no-audit", "--no-fund", "--ignore-scripts", "--fetch-retries", "1"]
            done = subprocess.run(
                [npm, "install", "--prefix", str(prefix), *flags, f"{package}@{version}"],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                pytest.fail(f"npm install {package}@{version} failed:\n{done.stdout}{done.stderr}")
            if not _installed(prefix, package, version):
                pytest.fail(f"{prefix} has no {package}@{version} after installing it")
        for script in scripts:
            shutil.copy(script, prefix / script.name)
    return prefix


@asynccontextmanager
async def node_bot(directory: Path, script: str, *args: str) -> AsyncIterator[Process]:
    """``node script args...`` in ``directory``; on exit its stdin is closed and it is given
    15 s to stop by itself (then killed)."""
    process = await asyncio.create_subprocess_exec(
        "node",
        script,
        *args,
        cwd=directory,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        yield process
    finally:
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()


async def json_line(process: Process) -> dict[str, Any]:
    """The bot's next report."""
    assert process.stdout is not None
    raw = await within(process.stdout.readline())
    if not raw:
        raise AssertionError("the bot exited")
    line: dict[str, Any] = json.loads(raw)
    return line
