"""The pytest plugin as installed: what it costs a test run, and what a failing test shows.

Runs of pytest inside the test (``pytester``) see the plugin as a user's suite does: loaded
from loopgram's ``pytest11`` entry point.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# A test signing a bot in through loopgram's own client: the server logs the login and each
# RPC. Synchronous (asyncio.run), so that it runs under any pytest-asyncio mode.
SIGN_IN = """
    import asyncio

    from loopgram.client import Client


    def sign_in(server, username):
        token = server.create_bot(username)

        async def main():
            async with Client(
                host=server.host, port=server.port, public_key=server.public_key_pem
            ) as bot:
                await bot.sign_in_bot(token)

        asyncio.run(main())
"""

# pytest-asyncio warns in every run that does not set it.
QUIET_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def test_importing_the_plugin_imports_no_server_or_generated_code() -> None:
    """pytest imports the plugin in every run of every suite where loopgram is installed."""
    code = "import sys, loopgram.testing.plugin; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    heavy = ("loopgram.tl", "loopgram.server", "loopgram.botapi", "loopgram.client", "aiohttp")
    loaded = out.split()
    assert "loopgram.testing.plugin" in loaded
    assert [m for m in loaded if m.startswith(heavy)] == []


def test_pytest_leaves_loopgram_modules_to_the_plain_import_system(
    pytester: pytest.Pytester,
) -> None:
    """A wheel install lists ``loopgram/__init__.py`` in its RECORD, so pytest marks the whole
    package for assertion rewriting (an editable install lists none). A stand-in distribution
    reproduces that marking; the plugin must undo it for loopgram's modules."""
    dist = pytester.path / "lgprobe-0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: lgprobe\nVersion: 0\n")
    (dist / "RECORD").write_text("loopgram/__init__.py,,\nlgprobe.py,,\n")
    (dist / "entry_points.txt").write_text("[pytest11]\nlgprobe = lgprobe\n")
    pytester.makepyfile(lgprobe="")
    pytester.makepyfile(
        test_probe="""
        import sys

        import lgprobe


        def test_loaders(loopgram_server):
            # The stand-in's own module shows that the marking happened.
            assert type(lgprobe.__loader__).__name__ == "AssertionRewritingHook"
            for name in ("loopgram.tl.types", "loopgram.node.server", "loopgram.testing.server"):
                assert type(sys.modules[name].__loader__).__name__ == "SourceFileLoader", name
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_failing_test_reports_the_servers_log(pytester: pytest.Pytester) -> None:
    pytester.makeini(QUIET_INI)
    pytester.makepyfile(
        test_story=textwrap.dedent(SIGN_IN)
        + textwrap.dedent(
            """
            def test_fails(loopgram_server):
                sign_in(loopgram_server, "failbot")
                assert False, "the bot said the wrong thing"


            def test_passes(loopgram_server):
                sign_in(loopgram_server, "passbot")
            """
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_fails _*",
            "*- Captured loopgram server log call -*",
            "* INFO    loopgram.server: listening on 127.0.0.1:*",
            "* INFO    loopgram.rpc: #1 * auth.importBotAuthorization -> ok (*ms)",
            "*short test summary info*",
        ]
    )
    out = result.stdout.str()
    # Only the failure shows the server's log, and only once: the lowered level does not
    # leak the server's INFO lines into pytest's own log capture.
    assert out.count("Captured loopgram server log") == 1
    assert "@passbot" not in out
    assert "Captured log" not in out


def test_the_marker_turns_the_capture_off(pytester: pytest.Pytester) -> None:
    pytester.makeini(QUIET_INI)
    pytester.makepyfile(
        test_story=textwrap.dedent(SIGN_IN)
        + textwrap.dedent(
            """
            import pytest


            @pytest.mark.loopgram(capture_log=False)
            def test_fails(loopgram_server):
                sign_in(loopgram_server, "quietbot")
                assert False
            """
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert "Captured loopgram server log" not in result.stdout.str()
