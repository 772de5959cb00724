"""The loopgram pytest plugin (entry point ``pytest11``: ``loopgram``).

Installed with loopgram, it gives every test suite:

- ``loopgram_server`` -- a fresh server per test on a free loopback port below 32768 (some
  clients store the port in a signed 16-bit field), with a temporary
  data directory (SQLite, as ``loopgram serve`` uses), running on its own thread
  (:class:`~loopgram.testing.server.ServerThread`), so sync and async tests of any event
  loop can use it. Stopped after the test.
- ``loopgram_rsa_key`` -- one RSA key for the whole run (generating one costs ~0.1 s), used
  by every ``loopgram_server``.
- ``loopgram_cluster`` -- three ``loopgram serve`` processes on a throwaway PostgreSQL schema
  and Redis prefix (:class:`~loopgram.testing.cluster.ServerCluster`; needs
  ``LOOPGRAM_TEST_POSTGRES`` and ``LOOPGRAM_TEST_REDIS``), options from the marker
  ``@pytest.mark.loopgram_cluster(size=..., answer_timeout=...)``; the nodes' output in the
  report of a failing test.
- the marker ``@pytest.mark.loopgram(**options)``: options of
  :class:`~loopgram.node.LoopgramServer` for that test's server, e.g.
  ``answer_timeout=1.0`` (the callback-answer window), ``clock=FakeClock(...)``,
  ``config=ServerConfig(...)``, ``data_dir=None`` (memory only), ``capture_log=False`` (no
  server log in the report of a failure, nor its cost: a line per call).
- the server's log in the report of a failing test: what the server logged from its thread
  during the test (every RPC at INFO: ``#conn account method -> outcome (time)``) is shown
  as the section "Captured loopgram server log call" (or ``setup``/``teardown``).
- pytest rewrites the assertions of every module of a plugin's distribution, loopgram's
  generated TL code included (seconds on each run that writes no bytecode): the plugin
  leaves loopgram's modules to the plain import system (see :func:`pytest_addhooks`).

Example::

    import pytest
    from loopgram.testing.telethon import telethon_client

    @pytest.mark.loopgram(answer_timeout=2.0)
    async def test_button(loopgram_server):
        token = loopgram_server.create_bot("shopbot")
        bot = telethon_client(loopgram_server)
        await bot.start(bot_token=token)
        ...
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    # Imported lazily below: pytest loads this plugin in every run of every suite where
    # loopgram is installed, and should not pay for the server stack unless it is used.
    from loopgram.crypto import RsaPrivateKey
    from loopgram.testing.cluster import ServerCluster
    from loopgram.testing.server import ServerThread

__all__ = ["loopgram_cluster", "loopgram_rsa_key", "loopgram_server"]

_SERVERS = pytest.StashKey[list["ServerThread"]]()
"""The fixture's servers of a test item, whose log goes into its failure report."""
_CLUSTER = pytest.StashKey["ServerCluster"]()
"""The ``loopgram_cluster`` of a test item, whose nodes' output goes into its failure report."""
_SHOWN = pytest.StashKey[dict[int, int]]()
"""Per server (by ``id``): how many of its records a report of this item already showed."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Called as soon as pytest registers this plugin, before any conftest or test module is
    imported: undo pytest's marking of the whole ``loopgram`` distribution for assertion
    rewriting.

    pytest marks every top-level package of a distribution that has a ``pytest11`` entry
    point, whichever module the entry point names (a second top-level module would be
    marked beside ``loopgram``, not instead of it). Rewriting means parsing each module's
    source and compiling the tree, with no use of the bytecode pip compiled at install: for
    the generated TL modules that is seconds on every run that writes no bytecode
    (``PYTHONDONTWRITEBYTECODE``, read-only installs), for no gain -- loopgram's own code
    asserts nothing a user's test is about. pytest has no public way to unmark a name; when
    its hook is not the expected shape this does nothing (slower, never wrong).
    """
    hook = getattr(pluginmanager, "rewrite_hook", None)
    marked = getattr(hook, "_must_rewrite", None)
    cache = getattr(hook, "_marked_for_rewrite_cache", None)
    if isinstance(marked, set) and "loopgram" in marked:
        marked.discard("loopgram")
        if isinstance(cache, dict):
            cache.clear()
    # The storage contract suite is test code run by users' suites: keep its assertions
    # rewritten so that a failure shows the values compared.
    pytest.register_assert_rewrite("loopgram.testing.storage_contract")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "loopgram(**options): options of the LoopgramServer behind the loopgram_server fixture",
    )
    config.addinivalue_line(
        "markers",
        "loopgram_cluster(**options): options of the ServerCluster behind loopgram_cluster",
    )


@pytest.fixture(scope="session")
def loopgram_rsa_key() -> RsaPrivateKey:
    """The RSA key of every ``loopgram_server`` of the run."""
    from loopgram.crypto import RsaPrivateKey

    return RsaPrivateKey.generate()


@pytest.fixture
def loopgram_server(
    request: pytest.FixtureRequest, loopgram_rsa_key: RsaPrivateKey, tmp_path: Path
) -> Iterator[ServerThread]:
    """A running loopgram server for this test (see the module doc for its options)."""
    from loopgram.testing.server import ServerThread, start_on_a_free_low_port

    options: dict[str, Any] = {
        "data_dir": tmp_path / "loopgram-data",
        "rsa_key": loopgram_rsa_key,
        # The test process may be killed, never the machine: one fsync per write is waste.
        "synchronous": "NORMAL",
        "capture_log": True,
        # The Bot API on a free port beside MTProto, started when a test first reads
        # ``loopgram_server.bot_api_url`` (the HTTP stack's import alone costs most of the
        # fixture's budget); ``bot_api_port=...`` in the marker starts it with the server.
        "bot_api_on_demand": True,
    }
    marker = request.node.get_closest_marker("loopgram")
    if marker is not None:
        if marker.args:
            raise TypeError("@pytest.mark.loopgram takes keyword options only")
        options.update(marker.kwargs)
    if "port" in options:
        server = ServerThread(**options).start()
    else:
        server = start_on_a_free_low_port(**options)
    request.node.stash.setdefault(_SERVERS, []).append(server)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def loopgram_cluster(request: pytest.FixtureRequest) -> Iterator[ServerCluster]:
    """Three ``loopgram serve`` processes on a throwaway PostgreSQL schema and Redis prefix
    (:class:`~loopgram.testing.cluster.ServerCluster`; ``LOOPGRAM_TEST_POSTGRES`` and
    ``LOOPGRAM_TEST_REDIS`` name the services, the test fails without them). The marker
    ``@pytest.mark.loopgram_cluster(size=..., answer_timeout=...)`` sets its options."""
    from loopgram.testing.cluster import ServerCluster
    from loopgram.testing.postgres import MissingService

    marker = request.node.get_closest_marker("loopgram_cluster")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    cluster = ServerCluster(**options)
    try:
        cluster.start()
    except MissingService as e:
        pytest.fail(str(e), pytrace=False)
    request.node.stash[_CLUSTER] = cluster
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed phase of a test that used ``loopgram_server`` reports what the server logged
    since the last report of that test that showed it."""
    report = yield
    cluster = item.stash.get(_CLUSTER, None)
    if report.failed and cluster is not None:
        report.sections.append((f"loopgram cluster output {report.when}", cluster.output()))
    servers = item.stash.get(_SERVERS, None)
    if report.failed and servers:
        shown = item.stash.setdefault(_SHOWN, {})
        for number, server in enumerate(servers):
            text, shown[id(server)] = server.log.read(shown.get(id(server), 0))
            if not text:
                continue
            name = "loopgram server log" if len(servers) == 1 else f"loopgram server {number} log"
            report.sections.append((f"Captured {name} {report.when}", text))
    return report
