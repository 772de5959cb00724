"""``loopgram demo`` runs the whole story and exits 0 within a few seconds."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from loopgram.demo import main


def test_demo_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "Thanks for trying loopgram!" in out
    assert "url: https://t.me/loopgram_demo_bot?start=demo" in out
    assert "cache_time: 30 s" in out
    assert "answered from its own cache" in out
    assert "QueryIdInvalidError: 400 QUERY_ID_INVALID" in out
    assert out.rstrip().endswith("demo OK")


def test_demo_as_a_program() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "loopgram.demo"], capture_output=True, text=True, timeout=60
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert "demo OK" in done.stdout
    assert elapsed < 15, f"the demo took {elapsed:.1f} s"
