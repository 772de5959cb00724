"""The command line in process: `loopgram tl encode/decode` show the TL layer at work;
`loopgram info` prints the facts of a data directory and the API layers served."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

import loopgram
from loopgram.cli import main
from loopgram.node import LAST_HOST, LAST_PORT, load_rsa_key
from loopgram.storage import open_storage

SEED_HEX = (
    "0a138fd5070000009e4a4e00000000001272616e646f6d20737472696e672068657265001272616e646f6d"
    "20737472696e67206865726500d0fa3c00"
)


def test_encode_the_seed_request(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "tl",
            "encode",
            "messages.setBotCallbackAnswer",
            "query_id=5130910",
            "alert=true",
            "message=random string here",
            "url=random string here",
            "cache_time=3996368",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.strip() == SEED_HEX


def test_decode_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tl", "decode", SEED_HEX]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["_"] == "messages.setBotCallbackAnswer"
    assert out["query_id"] == 5130910 and out["alert"] is True


def test_nested_objects_and_bytes(capsys: pytest.CaptureFixture[str]) -> None:
    peer = '{"_": "inputPeerUser", "user_id": 1, "access_hash": 2}'
    assert (
        main(
            [
                "tl",
                "encode",
                "messages.getBotCallbackAnswer",
                f"peer={peer}",
                "msg_id=3",
                "data=hex:00ff",
            ]
        )
        == 0
    )
    hex_out = capsys.readouterr().out.strip()
    assert main(["tl", "decode", hex_out]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["peer"] == {"_": "inputPeerUser", "user_id": 1, "access_hash": 2}
    assert out["data"] == "hex:00ff"


def test_unknown_name_and_bad_bytes_are_clear_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tl", "encode", "nope"]) == 2
    assert "no TL constructor or function is named 'nope'" in capsys.readouterr().err
    assert main(["tl", "decode", "deadbeef"]) == 2
    assert "unknown or unexpected constructor id 0xefbeadde" in capsys.readouterr().err


def served_once(data: Path, port: int = 20443) -> None:
    """What a server leaves in its data directory: its key and where it listened."""
    with open_storage(data) as storage:
        load_rsa_key(storage)
        storage.settings.set(LAST_HOST, b"127.0.0.1")
        storage.settings.set(LAST_PORT, str(port).encode())


def test_info_prints_the_layer_window(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    served_once(tmp_path)
    assert main(["info", "--data", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "layers: 158 to 229 (shipped: 158, 198, 227, 229)\n" in text
    assert "port: 20443\n" in text  # the connection facts are still all there

    assert main(["info", "--data", str(tmp_path), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["layers"] == {"min": 158, "max": 229, "shipped": [158, 198, 227, 229]}
    served = {"host", "port", "public_key_pem", "fingerprint", "bot_api_url", "web_url"}
    assert set(facts) == {*served, "layers"}
    assert facts["bot_api_url"] is None  # the server that ran served no Bot API


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("loopgram: "), err
    assert "Traceback" not in err
    return err


def test_info_where_no_server_ran_says_so_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = tmp_path / "fresh"
    assert main(["info", "--data", str(fresh)]) == 2
    assert "no loopgram server has run with data directory" in one_line_error(capsys)
    assert not fresh.exists()  # no new server identity made on the way
    # A directory with accounts made by the CLI, but no server run yet: the same.
    assert main(["user", "create", "+15550101", "--data", str(fresh)]) == 0
    capsys.readouterr()
    assert main(["info", "--data", str(fresh)]) == 2
    assert "no loopgram server has run" in one_line_error(capsys)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"loopgram {loopgram.__version__}\n"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (["query_id=abc", "cache_time=1"], "field query_id is int, not 'abc': write query_id=<"),
        (["query_id=1", "cache_time=true"], "field cache_time is int, not 'true'"),
        (["query_id=1", "cache_time=1", "alert=3"], "field alert is bool"),
        (["query_id=1", "cache_time=99999999999"], "does not fit its TL type"),
    ],
)
def test_a_wrong_value_type_in_tl_encode_is_one_line(
    fields: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tl", "encode", "messages.setBotCallbackAnswer", *fields]) == 2
    assert expected in one_line_error(capsys)


def test_a_nested_object_of_the_wrong_shape_is_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["tl", "encode", "messages.getBotCallbackAnswer", "peer=5", "msg_id=1"]) == 2
    assert "field peer is InputPeer" in one_line_error(capsys)
    peer = '{"_": "inputPeerUser", "user_id": "x", "access_hash": 1}'
    assert main(["tl", "encode", "messages.getBotCallbackAnswer", f"peer={peer}", "msg_id=1"]) == 2
    assert "wrong type" in one_line_error(capsys)


@pytest.mark.parametrize(
    "command",
    [
        ["info"],
        ["bot", "create", "examplebot"],
        ["bot", "list"],
        ["user", "list"],
        ["reset", "--yes"],
        ["serve", "--port", "0"],
    ],
)
def test_a_data_directory_that_is_a_file_is_one_line(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a directory")
    assert main([*command, "--data", str(afile)]) == 2
    assert "is a file, not a directory: give a directory" in one_line_error(capsys)
    assert afile.read_text() == "not a directory"


@pytest.mark.parametrize("value", ["-5", "0", "nan", "soon"])
def test_a_non_positive_answer_timeout_is_refused(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["serve", "--answer-timeout", value])
    assert done.value.code == 2
    assert "--answer-timeout" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["Foo", "example", "1stbot", "abot", "bad__namebot"])
def test_bot_create_says_why_a_name_is_invalid(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bot", "create", name, "--data", str(tmp_path)]) == 2
    err = one_line_error(capsys)
    assert "USERNAME_INVALID" in err and "ends in 'bot'" in err and "5 to 32" in err


def test_bots_and_users_are_listed_and_a_token_printed_again_or_revoked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data", str(tmp_path)]
    assert main(["bot", "list", *data]) == 0
    assert capsys.readouterr().out == ""
    assert main(["bot", "create", "example_bot", *data]) == 0
    token = capsys.readouterr().out.strip()
    assert main(["user", "create", "+15550123", "--first-name", "Ann", *data]) == 0
    user_id = int(capsys.readouterr().out)

    assert main(["bot", "list", *data]) == 0
    assert capsys.readouterr().out == f"{token.split(':')[0]}\t@example_bot\texample_bot\n"
    assert main(["user", "list", *data]) == 0
    assert capsys.readouterr().out == f"{user_id}\t+15550123\t-\tAnn\n"

    assert main(["bot", "token", "example_bot", *data]) == 0
    assert capsys.readouterr().out == token + "\n"
    assert main(["bot", "token", "@example_bot", "--revoke", *data]) == 0
    new = capsys.readouterr().out.strip()
    assert new != token and new.split(":")[0] == token.split(":")[0]
    assert main(["bot", "token", "example_bot", *data]) == 0
    assert capsys.readouterr().out == new + "\n"
    with open_storage(tmp_path) as storage:  # the old token no longer logs in
        assert storage.accounts.get_by_bot_token(token) is None
        assert storage.accounts.get_by_bot_token(new) is not None

    assert main(["bot", "token", "nobody_bot", *data]) == 2
    assert "no bot named 'nobody_bot'" in one_line_error(capsys)


def test_reset_asks_for_yes_then_deletes_everything_but_the_key_if_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data", str(tmp_path)]
    served_once(tmp_path, port=free_port())
    assert main(["bot", "create", "example_bot", *data]) == 0
    with open_storage(tmp_path) as storage:
        key = load_rsa_key(storage).to_pem()
    capsys.readouterr()

    assert main(["reset", *data]) == 2
    assert "run again with --yes" in one_line_error(capsys)
    assert main(["bot", "list", *data]) == 0
    assert "example_bot" in capsys.readouterr().out  # nothing deleted yet

    assert main(["reset", "--yes", "--keep-key", *data]) == 0
    assert main(["bot", "list", *data]) == 0
    assert capsys.readouterr().out.endswith("reset " + str(tmp_path) + " (RSA key kept)\n")
    with open_storage(tmp_path) as storage:
        assert load_rsa_key(storage).to_pem() == key

    assert main(["reset", "--yes", *data]) == 0
    with open_storage(tmp_path) as storage:
        assert load_rsa_key(storage).to_pem() != key  # a new identity


def test_reset_refuses_while_the_server_of_the_directory_listens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        served_once(tmp_path, port=listening.getsockname()[1])
        assert main(["reset", "--yes", "--data", str(tmp_path)]) == 2
        assert "stop it first" in one_line_error(capsys)
    assert (tmp_path / "loopgram.db").exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_bad_config_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[server]\ncallback_timeout = 'soon'\n")
    assert main(["serve", "--config", str(config), "--data", str(tmp_path)]) == 2
    assert "server.callback_timeout must be a number" in one_line_error(capsys)
    assert main(["serve", "--set", "limits.nope=1", "--data", str(tmp_path)]) == 2
    assert "unknown key 'limits.nope'" in one_line_error(capsys)
