"""The README's and the guide's test snippets run as written: each ```python block marked
``<!-- readme-test: NAME -->`` is saved as a test module of its own, in an empty directory with
pytest's defaults (pytest-asyncio in its default, strict mode), and run by pytest against the
installed loopgram -- its plugin, fixture and client adapters, as a user's suite meets them.
The guide's list of methods served is checked against the server's handler table.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = (ROOT / "README.md", ROOT / "docs" / "guide.md")
MARKED = re.compile(
    r"^<!-- readme-test: (?P<name>[a-z0-9_]+) -->\n```python\n(?P<code>.*?)^```$", re.M | re.S
)
# The snippets the README shows for testing a bot with each client library: dropping a
# marker must not make its snippet silently untested.
EXPECTED = {"loopgram", "telethon", "pyrogram", "ptb", "serverthread"}


def snippets() -> dict[str, str]:
    found: dict[str, str] = {}
    for doc in DOCS:
        for match in MARKED.finditer(doc.read_text(encoding="utf-8")):
            name = match["name"]
            if name in found:
                raise ValueError(f"two snippets are marked {name!r}")
            found[name] = match["code"]
    return found


def test_the_readme_marks_its_test_snippets() -> None:
    assert EXPECTED <= set(snippets())


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, list[str]], str]:
    """One pytest run over every marked snippet: each snippet's test outcomes, and the run's
    output (for the message of a failure)."""
    suite = tmp_path_factory.mktemp("readme")
    (suite / "pytest.ini").write_text("[pytest]\n")  # the defaults, and no ini from above
    for name, code in snippets().items():
        (suite / f"test_readme_{name}.py").write_text(code, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "--junitxml=report.xml"],
        cwd=suite,
        capture_output=True,
        text=True,
        timeout=600,
    )
    found: dict[str, list[str]] = {}
    report = suite / "report.xml"
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            # "test_readme_NAME" or, for a test class, "test_readme_NAME.Class"
            module = case.get("classname", "").partition(".")[0]
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    outcome = child.tag
            found.setdefault(module.removeprefix("test_readme_"), []).append(outcome)
    return found, run.stdout + run.stderr


@pytest.mark.parametrize("name", sorted(snippets()))
def test_the_readme_snippet_passes_as_written(
    name: str, outcomes: tuple[dict[str, list[str]], str]
) -> None:
    results, output = outcomes
    assert results.get(name), f"the snippet {name!r} ran no test:\n{output}"
    assert set(results[name]) == {"passed"}, output


def test_the_guide_lists_every_method_the_server_serves() -> None:
    from loopgram.server.handlers import default_registry

    guide = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([a-z]+\.[a-zA-Z]+)`", guide))
    served = {route.name for route in default_registry()}
    assert served - listed == set(), "served, and missing from docs/guide.md"


def test_the_guide_lists_every_bot_api_method_served() -> None:
    from loopgram.botapi import IMPLEMENTED

    guide = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")
    listed = {name.lower() for name in re.findall(r"`([a-z][A-Za-z]+)`", guide)}
    assert set(IMPLEMENTED) - listed == set(), "served, and missing from docs/guide.md"
