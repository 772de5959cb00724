"""How the Bot API is switched on: the server option, the CLI flag, the pytest fixture."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from loopgram.cli import DEFAULT_BOT_API_PORT, build_parser
from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer
from loopgram.testing.server import ServerThread


def test_serve_has_the_bot_api_on_8081_by_default_and_0_picks_a_free_port() -> None:
    from loopgram.cli import _settings

    parser = build_parser()
    assert DEFAULT_BOT_API_PORT == 8081
    assert _settings(parser.parse_args(["serve"])).bot_api_port == 8081
    assert _settings(parser.parse_args(["serve", "--bot-api-port", "0"])).bot_api_port == 0


async def test_the_server_class_has_no_bot_api_unless_asked(
    loopgram_rsa_key: RsaPrivateKey,
) -> None:
    async with LoopgramServer(port=0, rsa_key=loopgram_rsa_key) as server:
        assert server.bot_api_url is None


async def test_a_free_port_is_picked_and_named_in_the_url(loopgram_rsa_key: RsaPrivateKey) -> None:
    async with LoopgramServer(port=0, bot_api_port=0, rsa_key=loopgram_rsa_key) as server:
        assert server.bot_api_port is not None and server.bot_api_port > 0
        assert server.bot_api_url == f"http://127.0.0.1:{server.bot_api_port}"
    assert server.bot_api_url is None


def test_the_pytest_fixture_serves_the_bot_api(loopgram_server: ServerThread) -> None:
    token = loopgram_server.create_bot("fixturebot")
    url = loopgram_server.bot_api_url
    assert url is not None
    with urllib.request.urlopen(f"{url}/bot{token}/getMe", timeout=10) as response:
        body = json.loads(response.read())
    assert body["ok"] is True and body["result"]["username"] == "fixturebot"


async def test_a_taken_bot_api_port_is_reported_as_such(loopgram_rsa_key: RsaPrivateKey) -> None:
    import socket

    from loopgram import LoopgramError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = LoopgramServer(port=0, bot_api_port=port, rsa_key=loopgram_rsa_key)
        with pytest.raises(LoopgramError, match=f"cannot serve the Bot API on 127.0.0.1:{port}"):
            await server.start()
        assert not server.running


async def test_the_data_directory_records_the_bot_api_url_for_loopgram_info(
    tmp_path: Path, loopgram_rsa_key: RsaPrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    from loopgram.cli import main

    async with LoopgramServer(
        data_dir=tmp_path, port=0, bot_api_port=0, rsa_key=loopgram_rsa_key
    ) as server:
        url = server.bot_api_url
        assert url is not None
        assert server.facts.bot_api_url == url
        assert f"bot api: {url}\n" in server.facts.describe()
    assert main(["info", "--data", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bot_api_url"] == url
    assert main(["info", "--data", str(tmp_path)]) == 0
    assert f"bot api: {url}\n" in capsys.readouterr().out

    # A later run without the Bot API leaves no stale URL behind.
    async with LoopgramServer(data_dir=tmp_path, port=0, rsa_key=loopgram_rsa_key):
        pass
    assert main(["info", "--data", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bot_api_url"] is None
