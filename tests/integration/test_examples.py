"""The README's seed example: ``examples/seed.py`` run against a server prints exactly the
output the README shows next to it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from loopgram.testing.server import ServerThread

ROOT = Path(__file__).resolve().parents[2]


def readme_seed_output() -> str:
    readme = (ROOT / "README.md").read_text()
    found = re.search(
        r"<!-- seed-output:begin -->\n```\n(.*?)```\n<!-- seed-output:end -->", readme, re.DOTALL
    )
    assert found, "README.md lost its seed-output block"
    return found.group(1)


def test_readme_shows_the_code_of_the_example() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## The seed example") :]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "README.md lost the seed example's code"
    example = (ROOT / "examples" / "seed.py").read_text()
    # Formatting differs (the README's block is formatted at the top level): compare tokens.
    assert "".join(found.group(1).split()) in "".join(example.split())


def test_seed_example_prints_what_the_readme_shows(loopgram_server: ServerThread) -> None:
    token = loopgram_server.create_bot("seedbot")
    facts = loopgram_server.facts
    info = {
        "host": facts.host,
        "port": facts.port,
        "public_key_pem": facts.public_key_pem,
        "fingerprint": facts.fingerprint,
    }
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "seed.py"), token],
        input=json.dumps(info),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == readme_seed_output()
    assert "QUERY_ID_INVALID" in run.stdout
