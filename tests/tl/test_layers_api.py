"""TL layers: the public API, layer selection, lazy loading, identical layouts passing through,
result reading, what differs in the callback flow, and deterministic generation."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import loopgram.tl as tl
from loopgram.tl import layergen, layers
from loopgram.tl import types as t
from loopgram.tl.core import TRUE_BYTES
from loopgram.tl.functions import InitConnection, InvokeWithLayer
from loopgram.tl.functions import help as fh
from loopgram.tl.functions import messages as fm
from loopgram.tl.functions import updates as fu
from loopgram.tl.layers import LayerConversionError, UnsupportedLayerError
from loopgram.tl.mtproto.functions import Ping
from loopgram.tl.mtproto.types import Pong
from tests.tl.test_layers_oracle import OLD_LAYERS, Interp


def test_supported_window() -> None:
    assert layers.SUPPORTED == (158, 198, 227, 229)
    assert (layers.OLDEST, layers.NEWEST) == (158, 229)
    assert tl.LAYER == layers.NEWEST


@pytest.mark.parametrize(
    ("announced", "served"),
    [
        (158, 158),
        (159, 158),
        (197, 158),
        (198, 198),
        (200, 198),
        (226, 198),
        (227, 227),
        (228, 227),
        (229, 229),
        (230, 229),
        (10_000, 229),
    ],
)
def test_a_layer_is_served_as_the_nearest_shipped_layer_below(announced: int, served: int) -> None:
    assert layers.nearest_layer(announced) == served


@pytest.mark.parametrize("announced", [157, 100, 1, 0, -5])
def test_layers_below_the_window_are_refused(announced: int) -> None:
    with pytest.raises(UnsupportedLayerError, match="loopgram serves layers 158 to 229") as e:
        layers.nearest_layer(announced)
    assert e.value.layer == announced
    with pytest.raises(UnsupportedLayerError):
        layers.serialize(t.PeerUser(user_id=1), announced)
    with pytest.raises(UnsupportedLayerError):
        layers.read(bytes(t.PeerUser(user_id=1)), announced)


def test_only_ints_are_layers() -> None:
    for bad in (True, 158.0, "158"):
        with pytest.raises(UnsupportedLayerError):
            layers.nearest_layer(bad)  # type: ignore[arg-type]


def test_unsupported_layer_error_is_a_tl_error() -> None:
    assert issubclass(UnsupportedLayerError, tl.TLError)
    assert issubclass(LayerConversionError, tl.TLEncodeError)


def test_layer_229_is_the_object_models_own_layout() -> None:
    msg = t.Message(id=1, peer_id=t.PeerUser(user_id=2), date=3, message="x")
    assert layers.serialize(msg, 229) == bytes(msg)
    assert layers.serialize(msg, 240) == bytes(msg)
    assert layers.read(bytes(msg), 229) == msg
    o = bytearray(b"head")
    layers.write(msg, o, 229)
    assert bytes(o) == b"head" + bytes(msg)
    assert layers.module(229) is None and layers.writers(229) is None


@pytest.mark.parametrize("layer", OLD_LAYERS)
def test_identical_layouts_use_the_canonical_write(layer: int) -> None:
    table = layers.writers(layer)
    assert table is not None
    for cls in (t.UpdateBotCallbackQuery, t.PeerUser, t.DcOption, t.messages.BotCallbackAnswer):
        assert table[cls] is cls._write, cls
    for other in (t.User, t.ReplyInlineMarkup, t.Updates):
        assert table[other] is not other._write, other
    query = t.UpdateBotCallbackQuery(
        query_id=1, user_id=2, peer=t.PeerUser(user_id=3), msg_id=4, chat_instance=5, data=b"d"
    )
    assert layers.serialize(query, layer) == bytes(query)


@pytest.mark.parametrize("layer", OLD_LAYERS)
def test_mtproto_objects_are_the_same_in_every_layer(layer: int) -> None:
    ping = Ping(ping_id=7)
    assert layers.serialize(ping, layer) == bytes(ping)
    assert layers.read(bytes(ping), layer) == ping


@pytest.mark.parametrize("layer", OLD_LAYERS)
def test_gzip_packed_old_objects_are_read(layer: int) -> None:
    user = t.User(id=5, first_name="Z")
    packed = tl.GzipPacked.pack(layers.serialize(user, layer))
    assert layers.read(packed, layer) == user


@pytest.mark.parametrize("layer", OLD_LAYERS)
def test_a_wrapped_old_request_reads_into_canonical_objects(layer: int) -> None:
    """What a client sends first: invokeWithLayer(initConnection(query))."""
    query = fm.GetBotCallbackAnswer(peer=t.InputPeerSelf(), msg_id=3, data=b"x")
    wrapped = InvokeWithLayer(
        layer=layer,
        query=InitConnection(
            api_id=1,
            device_model="pc",
            system_version="linux",
            app_version="1.0",
            system_lang_code="en",
            lang_pack="",
            lang_code="en",
            query=query,
        ),
    )
    raw = layers.serialize(wrapped, layer)
    assert Interp(layer).decode(raw)["query"]["query"]["_"] == "messages.getBotCallbackAnswer"
    assert layers.read(raw, layer) == wrapped


@pytest.mark.parametrize("layer", OLD_LAYERS)
def test_results_are_read_in_the_old_layout(layer: int) -> None:
    answer = t.messages.BotCallbackAnswer(alert=True, message="Done", cache_time=30)
    fn = fm.GetBotCallbackAnswer(peer=t.InputPeerSelf(), msg_id=3, data=b"x")
    assert layers.read_result(fn, layers.serialize(answer, layer), layer) == answer
    # Through wrappers the result is the wrapped query's.
    wrapped = InvokeWithLayer(layer=layer, query=fn)
    assert layers.read_result(wrapped, layers.serialize(answer, layer), layer) == answer
    # An old-layout result that differs from 229: updates.getDifference -> updates.difference.
    user = t.User(id=9, first_name="Q")
    diff = t.updates.Difference(
        new_messages=[],
        new_encrypted_messages=[],
        other_updates=[],
        chats=[],
        users=[user],
        state=t.updates.State(pts=1, qts=0, date=2, seq=0, unread_count=0),
    )
    get = fu.GetDifference(pts=1, date=2, qts=0)
    assert layers.read_result(get, layers.serialize(diff, layer), layer) == diff
    # Bool results, and MTProto functions (the same in every layer).
    assert layers.read_result(fm.SetBotCallbackAnswer(query_id=1, cache_time=0), TRUE_BYTES, layer)
    pong = Pong(msg_id=1, ping_id=1)
    assert layers.read_result(Ping(ping_id=1), bytes(pong), layer) == pong
    config_fn = fh.GetConfig()
    assert layers.module(layer).RESULTS[config_fn.TL_NAME] is not None  # type: ignore[union-attr]


def test_a_229_only_function_has_no_result_in_an_old_layer() -> None:
    fn = fm.GetSavedDialogsByID(ids=[t.InputPeerSelf()])
    mod = layers.module(158)
    assert mod is not None and fn.TL_NAME in mod.NO_EQUIVALENT
    with pytest.raises(LayerConversionError, match="does not exist in layer 158"):
        layers.read_result(fn, b"", 158)


# What the server sends or receives in the callback flow, and whether it differs.
CALLBACK_FLOW_DIFFERENT = {
    158: {
        "user", "userFull", "message", "messageService", "messages.messages",
        "messages.messagesSlice", "peerSettings", "replyInlineMarkup", "replyKeyboardMarkup",
        "keyboardButton", "messages.sendMessage", "messages.editMessage",
        "messages.editInlineBotMessage", "updates.getDifference", "contacts.resolveUsername",
        "auth.signUp", "codeSettings", "emojiStatus", "messageReplyHeader", "messageFwdHeader",
        "channel", "dialog",
    },
    198: {
        "user", "userFull", "message", "messageService", "messages.messages",
        "messages.messagesSlice", "peerSettings", "replyInlineMarkup", "replyKeyboardMarkup",
        "keyboardButton", "messages.sendMessage", "messages.editMessage",
        "messages.editInlineBotMessage", "messageReplyHeader", "channel", "dialog",
    },
    227: {"user", "replyInlineMarkup", "replyKeyboardMarkup", "keyboardButton", "channel"},
}  # fmt: skip
CALLBACK_FLOW_SAME = {
    "updateBotCallbackQuery", "updateInlineBotCallbackQuery", "messages.botCallbackAnswer",
    "dcOption", "messages.getBotCallbackAnswer", "messages.setBotCallbackAnswer", "updates",
    "updates.getState", "updates.state", "auth.signIn", "auth.importBotAuthorization",
    "auth.sentCode", "auth.authorization", "help.getConfig", "config", "updateNewMessage",
    "updateShortSentMessage", "inputBotInlineMessageID", "inputBotInlineMessageID64",
}  # fmt: skip


@pytest.mark.parametrize("layer", OLD_LAYERS)
def test_what_differs_in_the_callback_flow(layer: int) -> None:
    mod = layers.module(layer)
    assert mod is not None
    assert CALLBACK_FLOW_DIFFERENT[layer] <= mod.DIFFERENT
    assert not CALLBACK_FLOW_SAME & mod.DIFFERENT
    # The same constructors may still hold differing ones (updates holds user): those are
    # rewritten, the others keep their own _write.
    assert "updates" in mod.REWRITTEN
    assert "updateBotCallbackQuery" not in mod.REWRITTEN


def run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    return out.stdout.strip()


def test_importing_the_package_loads_no_generated_module() -> None:
    out = run(
        """
        import sys
        import loopgram.tl.layers
        print(sorted(m for m in sys.modules if m.startswith("loopgram.tl.")
              and m.split(".")[2] in ("types", "functions", "_registry", "layers")))
        """
    )
    assert out == "['loopgram.tl.layers', 'loopgram.tl.layers.spec']"


def test_old_layer_modules_are_imported_on_first_use_only() -> None:
    out = run(
        """
        import sys
        from loopgram.tl import layers
        from loopgram.tl.types import PeerUser
        layers.serialize(PeerUser(user_id=1), 229)
        a = "loopgram.tl.layers._l158" in sys.modules
        layers.serialize(PeerUser(user_id=1), 170)
        b = "loopgram.tl.layers._l158" in sys.modules
        c = "loopgram.tl.layers._l198" in sys.modules
        print(a, b, c)
        """
    )
    assert out == "False True False"


def test_generation_is_deterministic() -> None:
    assert layergen.generate() == layergen.generate()


def test_installed_layer_modules_are_the_generators_current_output() -> None:
    root = Path(tl.__file__).parent
    for rel, text in layergen.generate().items():
        assert (root / rel).read_text(encoding="utf-8") == text, f"{rel} is stale: reinstall"


@pytest.mark.parametrize("layer", OLD_LAYERS)
def test_subclasses_of_generated_classes_are_written_as_their_constructor(layer: int) -> None:
    class Presser(t.User):
        __slots__ = ()

    plain = t.User(id=1, first_name="A", stories_max_id=t.RecentStory(max_id=2))
    sub = Presser(id=1, first_name="A", stories_max_id=t.RecentStory(max_id=2))
    assert layers.serialize(sub, layer) == layers.serialize(plain, layer)
    nested = t.Updates(updates=[], users=[sub], chats=[], date=1, seq=0)
    assert layers.read(layers.serialize(nested, layer), layer).users == [
        layers.read(layers.serialize(plain, layer), layer)
    ]
    with pytest.raises(LayerConversionError, match="cannot be written as an object"):
        layers.serialize(t.Updates(updates=[], users=[object()], chats=[], date=1, seq=0), layer)  # type: ignore[list-item]
