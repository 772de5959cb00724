"""Server layer: a send that repeats its random_id stores nothing new and is answered with the
first send's message (Telegram keeps one message per sender and random_id), for
messages.sendMessage, sendMedia (games) and sendInlineBotResult alike."""

from __future__ import annotations

import loopgram.tl.functions.messages as fmsg
from loopgram.server import ServerCore
from loopgram.storage import PeerRef
from loopgram.tl import types

from .support import Caller, login_bot, login_user, new_message, open_chat
from .test_inline_mode import answered_query, article, send_result


def history_texts(caller: Caller, other: Caller) -> list[str]:
    found = caller.core.storage.messages.history(caller.me.id, PeerRef.user(other.me.id))
    return [m.text for m in found]


async def test_a_repeated_random_id_is_answered_with_the_first_message(
    core: ServerCore,
) -> None:
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")

    first = await alice.call(
        fmsg.SendMessage(peer=alice.input_peer(bob), message="hi", random_id=5)
    )
    bob.pushed.clear()
    again = await alice.call(
        fmsg.SendMessage(peer=alice.input_peer(bob), message="hi", random_id=5)
    )

    assert isinstance(first, types.Updates) and isinstance(again, types.Updates)
    assert again.updates == first.updates  # updateMessageID + the same message, same pts
    assert {u.id for u in again.users if isinstance(u, types.User)} == {alice.me.id, bob.me.id}
    assert history_texts(alice, bob) == ["hi"] and history_texts(bob, alice) == ["hi"]
    assert bob.pushed == []  # nothing new reached the recipient
    assert core.storage.updates.state(bob.me.id).pts == 1
    assert core.storage.updates.state(alice.me.id).pts == 1


async def test_the_repeat_shows_the_message_as_edited_since(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    first = await alice.call(
        fmsg.SendMessage(peer=alice.input_peer(bob), message="v1", random_id=9)
    )
    msg_id = new_message(first).id
    await alice.call(fmsg.EditMessage(peer=alice.input_peer(bob), id=msg_id, message="v2"))

    again = await alice.call(
        fmsg.SendMessage(peer=alice.input_peer(bob), message="v1", random_id=9)
    )

    assert isinstance(again, types.Updates)
    assert again.updates[0] == types.UpdateMessageID(id=msg_id, random_id=9)
    assert (new_message(again).id, new_message(again).message) == (msg_id, "v2")
    assert history_texts(bob, alice) == ["v2"]


async def test_random_ids_are_per_sender(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    await alice.call(fmsg.SendMessage(peer=alice.input_peer(bob), message="a", random_id=1))
    await bob.call(fmsg.SendMessage(peer=bob.input_peer(alice), message="b", random_id=1))
    await alice.call(fmsg.SendMessage(peer=alice.input_peer(bob), message="c", random_id=2))
    assert history_texts(alice, bob) == ["c", "b", "a"]


async def test_a_repeated_game_send_stores_one_message(core: ServerCore) -> None:
    bot = await login_bot(core, "games_bot")
    user = await login_user(core, "+1 555 0100")
    open_chat(core, user.me, bot.me)
    request = fmsg.SendMedia(
        peer=bot.input_peer(user),
        media=types.InputMediaGame(
            id=types.InputGameShortName(bot_id=types.InputUserSelf(), short_name="snake")
        ),
        message="",
        random_id=77,
    )
    first = await bot.call(request)
    again = await bot.call(request)
    assert isinstance(first, types.Updates) and isinstance(again, types.Updates)
    assert again.updates == first.updates
    assert history_texts(user, bot) == ["", "/start"]  # one game, after the user's start


async def test_a_repeated_inline_result_send_stores_one_message_and_tells_the_bot_once(
    core: ServerCore,
) -> None:
    bot = await login_bot(core, "inline_bot")
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    found = await answered_query(alice, bot, article("picked"))
    bot.pushed.clear()

    first = await alice.call(send_result(alice, bob, found.query_id, "a1", random_id=31))
    again = await alice.call(send_result(alice, bob, found.query_id, "a1", random_id=31))

    assert isinstance(first, types.Updates) and isinstance(again, types.Updates)
    assert again.updates == first.updates
    assert history_texts(bob, alice) == ["picked"]
    assert len(bot.updates_of(types.UpdateBotInlineSend)) == 1
    # Another random_id is another message.
    await alice.call(send_result(alice, bob, found.query_id, "a1", random_id=32))
    assert history_texts(bob, alice) == ["picked", "picked"]
