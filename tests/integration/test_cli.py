"""The command line, as subprocesses: ``serve`` prints the facts and the layers it serves and
stops cleanly on SIGTERM and SIGINT; ``info`` reads them back; ``bot create`` and
``user create`` work while the server runs on the same data directory, and what they make
logs in with unmodified Telethon."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from telethon.errors import PhoneCodeInvalidError  # type: ignore[import-untyped]

from loopgram import cli, node
from loopgram.crypto import RsaPublicKey
from loopgram.node import ServerFacts
from loopgram.testing.telethon import telethon_client

from .support import start_bot, start_user, within

PEM_END = "-----END RSA PUBLIC KEY-----"


def loopgram(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loopgram.cli", *args, "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Serving:
    def __init__(self, process: subprocess.Popen[str], printed: str) -> None:
        self.process = process
        self.printed = printed

    def field(self, name: str) -> str:
        found = re.search(rf"^{name}: (.+)$", self.printed, re.MULTILINE)
        assert found, self.printed
        return found.group(1)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> tuple[int, str]:
        self.process.send_signal(sig)
        try:
            _, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        return self.process.returncode, err


@contextmanager
def serve(data: Path, *extra: str) -> Iterator[Serving]:
    """``loopgram serve --port 0`` on ``data`` until the block ends; ``extra`` arguments."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loopgram.cli",
            "serve",
            "--port",
            "0",
            "--bot-api-port",
            "0",
            "--data",
            str(data),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.strip() == PEM_END:
            break
    running = Serving(process, "".join(lines))
    try:
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Serving]:
    with serve(tmp_path) as running:
        yield running


def test_cli_defaults_match_the_server() -> None:
    assert (cli.DEFAULT_HOST, cli.DEFAULT_PORT, cli.DEFAULT_DATA_DIR) == (
        node.DEFAULT_HOST,
        node.DEFAULT_PORT,
        node.DEFAULT_DATA_DIR,
    )
    assert node.DEFAULT_PORT < 32768


async def test_serve_info_bot_and_user_create(serving: Serving, tmp_path: Path) -> None:
    port = int(serving.field("port"))
    assert serving.field("host") == "127.0.0.1"
    assert port > 0
    pem = serving.printed[serving.printed.index("-----BEGIN") :].strip()
    fingerprint = int(serving.field("fingerprint").split()[0])
    assert RsaPublicKey.from_pem(pem).fingerprint == fingerprint

    info = loopgram("info", "--json", data=tmp_path)
    assert info.returncode == 0, info.stderr
    facts = json.loads(info.stdout)
    window = facts.pop("layers")
    bot_api_url = serving.field("bot api")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", bot_api_url), bot_api_url
    assert facts == {
        "host": "127.0.0.1",
        "port": port,
        "public_key_pem": pem + "\n",
        "fingerprint": fingerprint,
        "bot_api_url": bot_api_url,
        "web_url": serving.field("web"),
    }
    assert window == {"min": 158, "max": 229, "shipped": [158, 198, 227, 229]}
    assert serving.field("layers") == "158 to 229 (shipped: 158, 198, 227, 229)"
    plain = loopgram("info", data=tmp_path)
    assert f"port: {port}" in plain.stdout
    assert f"bot api: {bot_api_url}" in plain.stdout
    assert "layers: 158 to 229 (shipped: 158, 198, 227, 229)" in plain.stdout

    made = loopgram("bot", "create", "examplebot", data=tmp_path)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert made.stdout == token + "\n"  # the token alone
    assert re.fullmatch(r"\d+:[A-Za-z0-9_-]{35}", token)
    again = loopgram("bot", "create", "examplebot", data=tmp_path)
    assert again.returncode != 0 and "USERNAME_OCCUPIED" in again.stderr

    user_made = loopgram("user", "create", "+15550177", data=tmp_path)
    assert user_made.returncode == 0, user_made.stderr
    user_id = int(user_made.stdout.strip())

    server = ServerFacts(**facts)
    bot = await start_bot(server, token)
    user = await start_user(server, "+15550177")
    try:
        assert (await bot.get_me()).username == "examplebot"
        assert (await user.get_me()).id == user_id  # the account made by the CLI
    finally:
        await bot.disconnect()
        await user.disconnect()

    code, err = serving.stop(signal.SIGTERM)
    assert code == 0, err
    assert "SIGTERM, shutting down" in err
    assert "logged in as bot" in err and "stopped" in err
    # The default level logs connections and every RPC with its outcome.
    assert "opened" in err
    assert "auth.importBotAuthorization -> ok" in err and "users.getUsers -> ok" in err


def test_sigint_stops_cleanly(serving: Serving) -> None:
    code, err = serving.stop(signal.SIGINT)
    assert code == 0, err
    assert "Traceback" not in err
    assert "stopped" in err


def one_line_failure(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "loopgram.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    return done.stderr


def test_a_port_already_taken_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        err = one_line_failure("serve", "--port", port, "--data", str(tmp_path))
    assert f"port {port} on 127.0.0.1 is already in use" in err and "--port" in err


def test_an_unresolvable_host_is_one_line(tmp_path: Path) -> None:
    err = one_line_failure("serve", "--host", "no-such-host.invalid", "--data", str(tmp_path))
    assert "cannot resolve host 'no-such-host.invalid'" in err


def test_a_data_directory_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    err = one_line_failure("serve", "--port", "0", "--data", str(afile))
    assert "is a file, not a directory" in err


async def test_serve_with_a_config_file_prints_dc_id_login_code_and_a_low_port(
    tmp_path: Path,
) -> None:
    config = tmp_path / "loopgram.toml"
    config.write_text('[server]\nlogin_code = "24680"\n\n[limits]\nmax_per_address = 50\n')
    data = tmp_path / "data"
    with serve(data, "--config", str(config)) as running:
        assert running.field("dc id") == "2"
        assert running.field("login code") == "24680"
        port = int(running.field("port"))
        assert 0 < port < 32768  # --port 0: a port every client can store
        # The server runs with the file's login code: the documented 12345 is refused.
        made = loopgram("bot", "create", "config_bot", data=data)
        token = made.stdout.strip()
        again = loopgram("bot", "token", "config_bot", data=data)
        assert again.stdout.strip() == token  # printed again while the server runs
        facts = ServerFacts(
            "127.0.0.1",
            port,
            running.printed[running.printed.index("-----BEGIN") :].strip() + "\n",
            int(running.field("fingerprint").split()[0]),
        )
        bot = await start_bot(facts, token)
        user = telethon_client(facts)
        try:
            assert (await bot.get_me()).username == "config_bot"
            await within(user.connect())
            sent = await user.send_code_request("+15550199")
            with pytest.raises(PhoneCodeInvalidError):
                await user.sign_in("+15550199", "12345", phone_code_hash=sent.phone_code_hash)
            me = await user.sign_in("+15550199", "24680", phone_code_hash=sent.phone_code_hash)
            assert me.phone == "15550199"
        finally:
            await bot.disconnect()
            await user.disconnect()
        code, err = running.stop()
        assert code == 0, err
