"""Build hook: generates the typed TL API from the shipped schemas at install time.

The generated modules (about 3 MB of Python) are not committed: they are a pure function of
the schema files and the generator, and generating them here keeps review diffs meaningful.
For an editable install they are written into ``src/loopgram/tl`` (ignored by git), so
mypy and the tests see them; for a wheel they go to a build directory and are included.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ROOT = Path(__file__).resolve().parent
TL_DIR = ROOT / "src" / "loopgram" / "tl"


def _generate(out_dir: Path) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    try:
        from loopgram.tl.codegen import generate, write_tree

        write_tree(out_dir, generate())
    finally:
        sys.path.remove(str(ROOT / "src"))
        for name in [m for m in sys.modules if m == "loopgram" or m.startswith("loopgram.")]:
            del sys.modules[name]


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        if version == "editable":
            _generate(TL_DIR)
            return
        out = Path(tempfile.mkdtemp(prefix="loopgram-tl-"))
        _generate(out)
        for path in sorted(out.rglob("*.py")):
            rel = path.relative_to(out).as_posix()
            build_data["force_include"][str(path)] = f"loopgram/tl/{rel}"
