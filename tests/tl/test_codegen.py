"""The generator: deterministic output, and the installed modules are its current output."""

from __future__ import annotations

from pathlib import Path

import loopgram.tl
from loopgram.tl.codegen import generate


def test_generation_is_deterministic() -> None:
    assert generate() == generate()


def test_installed_modules_are_the_generators_current_output() -> None:
    root = Path(loopgram.tl.__file__).parent
    for rel, text in generate().items():
        assert (root / rel).read_text(encoding="utf-8") == text, f"{rel} is stale: reinstall"
