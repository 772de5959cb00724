"""The command line in process: `loopgram tl encode/decode` show the TL layer at work;
`loopgram info` prints the facts of a data directory and the API layers served."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopgram.cli import main

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


def test_info_prints_the_layer_window(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--data", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "layers: 158 to 229 (shipped: 158, 198, 227, 229)\n" in text
    assert "port: 20443\n" in text  # the connection facts are still all there

    assert main(["info", "--data", str(tmp_path), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["layers"] == {"min": 158, "max": 229, "shipped": [158, 198, 227, 229]}
    assert set(facts) == {"host", "port", "public_key_pem", "fingerprint", "layers"}
