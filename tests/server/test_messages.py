"""Server layer: private messages -- sending with keyboards, editing, history, lookups."""

from __future__ import annotations

import pytest

import loopgram.tl.functions.messages as fmsg
import loopgram.tl.functions.updates as fupd
from loopgram.server import ServerCore
from loopgram.storage import PeerRef
from loopgram.tl import abcs, types
from loopgram.tl.types import messages as msg_types
from loopgram.tl.types import updates as upd_types

from .support import (
    Caller,
    callback,
    game_button,
    history_request,
    keyboard,
    login_bot,
    login_user,
    new_message,
    open_chat,
    send,
    url_button,
)


async def test_send_message_answers_updates_with_message_id_and_new_message(
    core: ServerCore,
) -> None:
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")

    result = await alice.call(
        fmsg.SendMessage(peer=alice.input_peer(bob), message="hi Bob", random_id=99)
    )

    assert isinstance(result, types.Updates) and result.seq == 0
    id_update, new = result.updates
    assert id_update == types.UpdateMessageID(id=1, random_id=99)
    assert isinstance(new, types.UpdateNewMessage)
    assert (new.pts, new.pts_count) == (1, 1)
    message = new.message
    assert isinstance(message, types.Message)
    assert message.out and message.id == 1 and message.message == "hi Bob"
    assert message.peer_id == types.PeerUser(user_id=bob.me.id)
    assert message.from_id == types.PeerUser(user_id=alice.me.id)
    assert {u.id for u in result.users if isinstance(u, types.User)} == {alice.me.id, bob.me.id}


async def test_recipient_gets_update_new_message_with_its_own_pts(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    carol = await login_user(core, "+1 555 0300")
    await send(carol, bob, "first")  # bob's pts moves to 1
    bob.pushed.clear()

    await send(alice, bob, "second")

    (batch,) = bob.pushed
    assert isinstance(batch, types.Updates) and batch.seq == 0 and batch.date
    (update,) = batch.updates
    assert isinstance(update, types.UpdateNewMessage)
    assert (update.pts, update.pts_count) == (2, 1)
    assert isinstance(update.message, types.Message)
    assert not update.message.out and update.message.id == 2
    assert update.message.peer_id == types.PeerUser(user_id=alice.me.id)
    assert alice.me.id in {u.id for u in batch.users if isinstance(u, types.User)}
    state = await bob.call(fupd.GetState())
    assert isinstance(state, upd_types.State) and state.pts == 2


async def test_senders_other_sessions_get_the_message_pushed(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0100")
    alice_phone = Caller(core, auth_key_id=alice.auth_key_id, session_id=2)
    bob = await login_user(core, "+1 555 0200")
    await send(alice, bob, "hi")
    assert alice.pushed == []  # the calling session has it in the answer
    (update,) = alice_phone.updates_of(types.UpdateNewMessage)
    assert isinstance(update.message, types.Message) and update.message.out


async def test_bot_sends_inline_keyboard(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    markup = keyboard(
        [callback("Buy", b"buy"), url_button("Site", "https://example.com")],
        [callback("Help", b"help")],
    )

    result = await send(bot, user, "menu", markup)

    assert new_message(result).reply_markup == markup
    (pushed,) = user.updates_of(types.UpdateNewMessage)
    assert isinstance(pushed.message, types.Message)
    assert pushed.message.reply_markup == markup


@pytest.mark.parametrize(
    ("button", "error"),
    [
        (callback("x", b"x" * 65), "BUTTON_DATA_INVALID"),
        (callback("x", b""), "BUTTON_DATA_INVALID"),
        (callback("", b"x"), "BUTTON_TEXT_INVALID"),
        (url_button("x", "not a url"), "BUTTON_URL_INVALID"),
        (url_button("x", "javascript:alert(1)"), "BUTTON_URL_INVALID"),
        (game_button(), "BUTTON_TYPE_INVALID"),
        (
            types.KeyboardInlineButton(text="x", type=types.InlineButtonTypeBuy()),
            "BUTTON_TYPE_INVALID",
        ),
    ],
)
async def test_invalid_keyboards_are_refused(
    core: ServerCore, button: types.KeyboardInlineButton, error: str
) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    open_chat(core, user.me, bot.me)
    failure = await bot.fails(
        fmsg.SendMessage(
            peer=bot.input_peer(user), message="x", random_id=1, reply_markup=keyboard([button])
        )
    )
    assert (failure.code, failure.message) == (400, error)
    assert user.pushed == []


async def test_callback_data_of_64_bytes_is_fine(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    await send(bot, user, "x", keyboard([callback("x", b"\xff" * 64)]))


async def test_too_many_buttons_is_reply_markup_too_long(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    open_chat(core, user.me, bot.me)
    rows = [[callback(str(i), str(i).encode())] for i in range(101)]
    failure = await bot.fails(
        fmsg.SendMessage(
            peer=bot.input_peer(user), message="x", random_id=1, reply_markup=keyboard(*rows)
        )
    )
    assert failure.message == "REPLY_MARKUP_TOO_LONG"


async def test_input_button_forms_are_stored_as_output_forms(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    markup = keyboard(
        [
            types.KeyboardInlineButton(
                text="Profile",
                type=types.InputInlineButtonTypeUserProfile(user_id=types.InputUserSelf()),
            ),
            types.KeyboardInlineButton(
                text="Login",
                type=types.InputInlineButtonTypeUrlAuth(url="https://example.com/login"),
            ),
        ]
    )
    stored = new_message(await send(bot, user, "x", markup)).reply_markup
    assert isinstance(stored, types.ReplyInlineMarkup)
    profile, login = stored.rows[0].buttons  # type: ignore[attr-defined]
    assert profile.type == types.InlineButtonTypeUserProfile(user_id=bot.me.id)
    assert login.type == types.InlineButtonTypeUrlAuth(url="https://example.com/login", button_id=2)


@pytest.mark.parametrize(("text", "error"), [("", "MESSAGE_EMPTY"), (" \n", "MESSAGE_EMPTY")])
async def test_empty_message(core: ServerCore, text: str, error: str) -> None:
    alice = await login_user(core, "+1 555 0100")
    failure = await alice.fails(
        fmsg.SendMessage(peer=types.InputPeerSelf(), message=text, random_id=1)
    )
    assert failure.message == error


async def test_message_too_long(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0100")
    await send(alice, alice.me, "x" * 4096)  # saved messages: a chat with oneself
    failure = await alice.fails(
        fmsg.SendMessage(peer=types.InputPeerSelf(), message="x" * 4097, random_id=1)
    )
    assert failure.message == "MESSAGE_TOO_LONG"


async def test_bot_cannot_message_another_bot(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    other = await login_bot(core, "other_bot")
    failure = await bot.fails(
        fmsg.SendMessage(peer=bot.input_peer(other), message="hi", random_id=1)
    )
    assert failure.message == "USER_IS_BOT"


async def test_unknown_peer_is_peer_id_invalid(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0100")
    failure = await alice.fails(
        fmsg.SendMessage(
            peer=types.InputPeerUser(user_id=12345, access_hash=0), message="hi", random_id=1
        )
    )
    assert failure.message == "PEER_ID_INVALID"


async def test_entities_round_trip(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    entities: list[abcs.MessageEntity] = [
        types.MessageEntityBold(offset=0, length=2),
        types.MessageEntityTextUrl(offset=3, length=2, url="https://example.com"),
    ]
    result = await alice.call(
        fmsg.SendMessage(
            peer=alice.input_peer(bob), message="hi yo", random_id=1, entities=entities
        )
    )
    assert new_message(result).entities == entities


# -- editing ------------------------------------------------------------------------------------


async def test_bot_edits_text_and_keyboard_and_the_user_gets_update_edit_message(
    core: ServerCore,
) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    sent = new_message(await send(bot, user, "pick", keyboard([callback("A", b"a")])))
    user.pushed.clear()
    new_markup = keyboard([callback("B", b"b")])

    result = await bot.call(
        fmsg.EditMessage(
            peer=bot.input_peer(user), id=sent.id, message="picked", reply_markup=new_markup
        )
    )

    edited = new_message(result)
    assert edited.message == "picked" and edited.reply_markup == new_markup
    assert edited.edit_date == int(core.clock())
    (update,) = user.updates_of(types.UpdateEditMessage)
    assert isinstance(update.message, types.Message)
    assert update.message.message == "picked" and update.message.reply_markup == new_markup
    assert update.pts_count == 1
    user_copy = core.storage.messages.get(user.me.id, update.message.id)
    assert user_copy is not None and user_copy.text == "picked"


async def test_bot_edits_only_the_keyboard(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    sent = new_message(await send(bot, user, "pick", keyboard([callback("A", b"a")])))
    result = await bot.call(
        fmsg.EditMessage(
            peer=bot.input_peer(user), id=sent.id, reply_markup=keyboard([callback("B", b"b")])
        )
    )
    assert new_message(result).message == "pick"
    # Without text and without markup the keyboard goes (editMessageReplyMarkup with none).
    result = await bot.call(fmsg.EditMessage(peer=bot.input_peer(user), id=sent.id))
    assert new_message(result).reply_markup is None


async def test_unchanged_edit_is_message_not_modified(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    markup = keyboard([callback("A", b"a")])
    sent = new_message(await send(bot, user, "pick", markup))
    failure = await bot.fails(
        fmsg.EditMessage(peer=bot.input_peer(user), id=sent.id, message="pick", reply_markup=markup)
    )
    assert failure.message == "MESSAGE_NOT_MODIFIED"


async def test_only_the_author_edits(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    await send(bot, user, "pick")
    (update,) = user.updates_of(types.UpdateNewMessage)
    assert isinstance(update.message, types.Message)
    failure = await user.fails(
        fmsg.EditMessage(peer=user.input_peer(bot), id=update.message.id, message="mine now")
    )
    assert failure.message == "MESSAGE_AUTHOR_REQUIRED"
    failure = await bot.fails(fmsg.EditMessage(peer=bot.input_peer(user), id=999, message="x"))
    assert failure.message == "MESSAGE_ID_INVALID"


async def test_user_edit_keeps_markup_and_changes_text(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    sent = new_message(await send(alice, bob, "helo"))
    result = await alice.call(
        fmsg.EditMessage(peer=alice.input_peer(bob), id=sent.id, message="hello")
    )
    assert new_message(result).message == "hello"
    assert bob.updates_of(types.UpdateEditMessage)


# -- reading ------------------------------------------------------------------------------------


async def test_get_history(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    for i in range(5):
        await send(alice if i % 2 == 0 else bob, bob if i % 2 == 0 else alice, f"m{i}")

    page = await bob.call(history_request(bob.input_peer(alice), limit=3))

    assert isinstance(page, msg_types.MessagesSlice) and page.count == 5
    texts = [m.message for m in page.messages if isinstance(m, types.Message)]
    assert texts == ["m4", "m3", "m2"]
    texts_ids = [m.id for m in page.messages if isinstance(m, types.Message)]
    assert {u.id for u in page.users if isinstance(u, types.User)} == {alice.me.id, bob.me.id}

    rest = await bob.call(history_request(bob.input_peer(alice), limit=10, offset_id=texts_ids[-1]))
    assert isinstance(rest, msg_types.MessagesSlice)
    assert [m.message for m in rest.messages if isinstance(m, types.Message)] == ["m1", "m0"]

    everything = await bob.call(history_request(bob.input_peer(alice), limit=100))
    assert isinstance(everything, msg_types.Messages) and len(everything.messages) == 5


async def test_get_messages_by_id_in_the_callers_box(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    await send(bot, user, "one", keyboard([callback("A", b"a")]))
    await send(bot, user, "two")
    own = core.storage.messages.history(user.me.id, PeerRef.user(bot.me.id), limit=2)

    result = await user.call(
        fmsg.GetMessages(
            id=[
                types.InputMessageID(id=own[1].id),
                types.InputMessageID(id=777),
                types.InputMessageID(id=own[0].id),
            ]
        )
    )

    assert isinstance(result, msg_types.Messages)
    first, missing, second = result.messages
    assert isinstance(first, types.Message) and first.message == "one"
    assert isinstance(first.reply_markup, types.ReplyInlineMarkup)
    assert missing == types.MessageEmpty(id=777)
    assert isinstance(second, types.Message) and second.message == "two"
    assert bot.me.id in {u.id for u in result.users if isinstance(u, types.User)}


async def test_read_history_takes_one_pts_for_the_read_mark(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    await send(alice, bob)
    affected = await bob.call(fmsg.ReadHistory(peer=bob.input_peer(alice), max_id=1))
    # pts 1 is the message, pts 2 updateReadHistoryInbox (tests/server/test_everyday_methods).
    assert affected == msg_types.AffectedMessages(pts=2, pts_count=1)


async def test_game_message_gets_a_default_play_button(core: ServerCore) -> None:
    bot = await login_bot(core, "games_bot")
    user = await login_user(core, "+1 555 0100")
    open_chat(core, user.me, bot.me)
    result = await bot.call(
        fmsg.SendMedia(
            peer=bot.input_peer(user),
            media=types.InputMediaGame(
                id=types.InputGameShortName(bot_id=types.InputUserSelf(), short_name="snake")
            ),
            message="",
            random_id=1,
        )
    )
    message = new_message(result)
    assert isinstance(message.media, types.MessageMediaGame)
    assert isinstance(message.media.game, types.Game)
    assert message.media.game.short_name == "snake"
    assert message.reply_markup == keyboard([game_button("Play snake")])


async def test_game_of_another_bot_is_game_bot_invalid(core: ServerCore) -> None:
    bot = await login_bot(core, "games_bot")
    other = await login_bot(core, "other_bot")
    user = await login_user(core, "+1 555 0100")
    failure = await bot.fails(
        fmsg.SendMedia(
            peer=bot.input_peer(user),
            media=types.InputMediaGame(
                id=types.InputGameShortName(bot_id=_input_user(other), short_name="snake")
            ),
            message="",
            random_id=1,
        )
    )
    assert failure.message == "GAME_BOT_INVALID"


def _input_user(caller: Caller) -> types.InputUser:
    return types.InputUser(user_id=caller.me.id, access_hash=caller.me.access_hash)
