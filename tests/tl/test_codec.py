"""The TL codec: golden vectors, import paths, builtins and the generated classes' surface."""

from __future__ import annotations

import pytest

import loopgram.tl as tl
from loopgram.tl.functions.messages import GetBotCallbackAnswer, SetBotCallbackAnswer
from loopgram.tl.types import (
    InputPeerUser,
    UpdateBotCallbackQuery,
    Updates,
    User,
)
from loopgram.tl.types.messages import BotCallbackAnswer

SEED = SetBotCallbackAnswer(
    query_id=5130910,
    cache_time=3996368,
    alert=True,
    message="random string here",
    url="random string here",
)


@pytest.mark.parametrize(
    ("obj", "hex_bytes"),
    [
        (
            SEED,
            "0a138fd5070000009e4a4e00000000001272616e646f6d20737472696e672068657265001272616e"
            "646f6d20737472696e67206865726500d0fa3c00",
        ),
        (
            SetBotCallbackAnswer(query_id=1, cache_time=0),
            "0a138fd500000000010000000000000000000000",
        ),
        (
            BotCallbackAnswer(alert=True, message="hi", cache_time=5),
            "a45e5836030000000268690005000000",
        ),
    ],
)
def test_golden_vectors_match_three_client_libraries(obj: tl.TLObject, hex_bytes: str) -> None:
    assert bytes(obj).hex() == hex_bytes
    assert tl.read(bytes.fromhex(hex_bytes)) == obj


def test_functions_know_their_result_type() -> None:
    assert SEED.read_result(bytes.fromhex("b5757299")) is True
    assert SEED.read_result(bytes.fromhex("379779bc")) is False
    press = GetBotCallbackAnswer(peer=InputPeerUser(user_id=1, access_hash=2), msg_id=3)
    answer = BotCallbackAnswer(message="ok", cache_time=0)
    assert press.read_result(bytes(answer)) == answer


def test_generic_wrappers_delegate_the_result_type() -> None:
    from loopgram.tl.functions import InitConnection, InvokeWithLayer
    from loopgram.tl.functions.help import GetConfig

    wrapped = InvokeWithLayer(
        layer=229,
        query=InitConnection(
            api_id=1,
            device_model="d",
            system_version="s",
            app_version="a",
            system_lang_code="en",
            lang_pack="",
            lang_code="en",
            query=SetBotCallbackAnswer(query_id=1, cache_time=0),
        ),
    )
    assert tl.read(bytes(wrapped)) == wrapped
    assert wrapped.read_result(bytes.fromhex("b5757299")) is True
    assert GetConfig().CONSTRUCTOR_ID == 0xC4F9186B


def test_objects_have_slots_keyword_init_equality_repr_and_to_dict() -> None:
    a = BotCallbackAnswer(alert=True, message="hi", cache_time=5)
    assert not hasattr(a, "__dict__")
    with pytest.raises(TypeError):
        BotCallbackAnswer(True, "hi", 5)  # type: ignore[misc]
    assert a == BotCallbackAnswer(alert=True, message="hi", cache_time=5)
    assert a != BotCallbackAnswer(alert=False, message="hi", cache_time=5)
    assert repr(a) == (
        "BotCallbackAnswer(alert=True, has_url=False, native_ui=False, message='hi', url=None,"
        " cache_time=5)"
    )
    assert a.to_dict() == {
        "_": "messages.botCallbackAnswer",
        "alert": True,
        "has_url": False,
        "native_ui": False,
        "message": "hi",
        "url": None,
        "cache_time": 5,
    }


def test_python_keywords_and_self_get_a_trailing_underscore() -> None:
    u = User(id=7, self_=True, first_name="Ann")
    back = tl.read(bytes(u))
    assert back.self_ is True and back.first_name == "Ann"
    assert back.to_dict()["self_"] is True


def test_updates_with_callback_query_and_user_round_trip() -> None:
    from loopgram.tl.types import PeerUser

    upd = Updates(
        updates=[
            UpdateBotCallbackQuery(
                query_id=-5,
                user_id=42,
                peer=PeerUser(user_id=42),
                msg_id=10,
                chat_instance=-123456789,
                data=b"\x00\xffpress",
            )
        ],
        users=[User(id=42, first_name="Ann", username="ann", access_hash=-1)],
        chats=[],
        date=1_700_000_000,
        seq=0,
    )
    assert tl.read(bytes(upd)) == upd


def test_bare_read_of_a_class() -> None:
    from loopgram.tl.mtproto.types import FutureSalt, FutureSalts

    salts = FutureSalts(
        req_msg_id=1, now=2, salts=[FutureSalt(valid_since=1, valid_until=2, salt=-3)]
    )
    data = bytes(salts)
    assert data[:4] == (0xAE500895).to_bytes(4, "little")
    # future_salt inside the bare vector carries no constructor id: 8 + 4 + 4 + 16 bytes.
    assert len(data) == 4 + 8 + 4 + 4 + 16
    assert tl.read(data) == salts
    assert tl.read(data[4:], FutureSalts) == salts


def test_gzip_packed_is_inflated_transparently() -> None:
    body = bytes(BotCallbackAnswer(message="x" * 500, cache_time=1))
    packed = tl.GzipPacked.pack(body)
    assert len(packed) < len(body)
    assert tl.read(packed) == tl.read(body)


def test_rpc_result_keeps_its_body_raw_and_inflates_gzip() -> None:
    body = bytes(BotCallbackAnswer(message="y" * 300, cache_time=2))
    plain = tl.RpcResult(req_msg_id=99, result=body)
    assert tl.read(bytes(plain)) == plain
    zipped = bytes(tl.RpcResult(req_msg_id=99, result=tl.GzipPacked.pack(body)))
    got = tl.read(zipped)
    assert isinstance(got, tl.RpcResult) and got.result == body


def test_msg_container_round_trip() -> None:
    inner = [tl.ContainerMessage(msg_id=4 * i, seqno=2 * i + 1, body=bytes(SEED)) for i in range(3)]
    c = tl.MsgContainer(messages=inner)
    back = tl.read(bytes(c))
    assert back == c
    assert tl.read(back.messages[0].body) == SEED


def test_bool_reads_as_python_bool() -> None:
    assert tl.read(bytes.fromhex("b5757299")) is True
    assert tl.read(bytes.fromhex("379779bc")) is False
