"""Server layer: every value a client stores gets Telegram's limit first -- entities (count,
bounds in UTF-16 code units, size, URLs), keyboards (rows, buttons, size, URLs), names,
``initConnection`` strings -- and a value the storage still refuses is answered with an
error, never a 500; the largest message allowed still travels through getDifference and
history on both sides."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

import loopgram.tl.functions as fn
import loopgram.tl.functions.auth as fauth
import loopgram.tl.functions.help as fhelp
import loopgram.tl.functions.messages as fmsg
import loopgram.tl.functions.updates as fupd
from loopgram.clock import FakeClock
from loopgram.server import ServerConfig, ServerCore
from loopgram.storage import Storage
from loopgram.storage._common import MAX_VALUE_BYTES
from loopgram.tl import abcs, types
from loopgram.tl.types import auth as auth_types
from loopgram.tl.types import messages as msg_types
from loopgram.tl.types import updates as upd_types

from .support import (
    Caller,
    answer,
    callback,
    history_request,
    keyboard,
    login_bot,
    login_user,
    make_core,
    new_message,
    open_chat,
    send,
    start_press,
    url_button,
)

_ids = iter(range(10_000, 1_000_000))


def bold(offset: int, length: int) -> types.MessageEntityBold:
    return types.MessageEntityBold(offset=offset, length=length)


def text_url(offset: int, length: int, url: str) -> types.MessageEntityTextUrl:
    return types.MessageEntityTextUrl(offset=offset, length=length, url=url)


def send_request(
    sender: Caller,
    to: Caller,
    text: str,
    entities: list[abcs.MessageEntity] | None = None,
    markup: abcs.ReplyMarkup | None = None,
) -> fmsg.SendMessage:
    return fmsg.SendMessage(
        peer=sender.input_peer(to),
        message=text,
        random_id=next(_ids),
        entities=entities,
        reply_markup=markup,
    )


async def pair(core: ServerCore) -> tuple[Caller, Caller]:
    """A bot and a user who started it: both at pts 1 and message id 1 (the "/start")."""
    bot, user = await login_bot(core, "limits_bot"), await login_user(core, "+1 555 0100")
    open_chat(core, user.me, bot.me)
    return bot, user


def pts_of(caller: Caller) -> int:
    return caller.core.storage.updates.state(caller.me.id).pts


# -- entities ------------------------------------------------------------------------------


async def test_entity_bounds_are_counted_in_utf16_code_units(core: ServerCore) -> None:
    bot, user = await pair(core)
    text = "\U0001f600a"  # two code points, three UTF-16 code units
    sent = await bot.call(send_request(bot, user, text, [bold(0, 2), bold(2, 1)]))
    assert new_message(sent).entities == [bold(0, 2), bold(2, 1)]
    error = await bot.fails(send_request(bot, user, text, [bold(2, 2)]))
    assert (error.code, error.message) == (400, "ENTITY_BOUNDS_INVALID")


@pytest.mark.parametrize(("offset", "length"), [(-1, 1), (0, -1), (5, 1), (0, 6), (2**31 - 1, 1)])
async def test_an_entity_outside_the_text_is_entity_bounds_invalid(
    core: ServerCore, offset: int, length: int
) -> None:
    bot, user = await pair(core)
    error = await bot.fails(send_request(bot, user, "hello", [bold(offset, length)]))
    assert (error.code, error.message) == (400, "ENTITY_BOUNDS_INVALID")
    assert pts_of(user) == 1


async def test_entities_past_the_hundredth_and_empty_ones_are_dropped(core: ServerCore) -> None:
    bot, user = await pair(core)
    entities: list[abcs.MessageEntity] = [bold(0, 0)] + [bold(i, 1) for i in range(150)]
    sent = await bot.call(send_request(bot, user, "x" * 150, entities))
    assert new_message(sent).entities == [bold(i, 1) for i in range(100)]


async def test_a_huge_url_entity_is_refused_and_nothing_is_stored(core: ServerCore) -> None:
    # The attack of issue 13: one small (gzipped) request, one 16 MiB URL.
    bot, user = await pair(core)
    huge = "https://example.com/" + "a" * (16 * 1024 * 1024)
    error = await bot.fails(send_request(bot, user, "click", [text_url(0, 5, huge)]))
    assert (error.code, error.message) == (400, "ENTITIES_TOO_LONG")
    assert pts_of(user) == 1 and pts_of(bot) == 1


async def test_a_text_url_longer_than_the_url_limit_is_entities_too_long(
    core: ServerCore,
) -> None:
    bot, user = await pair(core)
    url = "https://example.com/" + "a" * (core.config.url_length_max - 20)
    await bot.call(send_request(bot, user, "click", [text_url(0, 5, url)]))
    error = await bot.fails(send_request(bot, user, "click", [text_url(0, 5, url + "a")]))
    assert (error.code, error.message) == (400, "ENTITIES_TOO_LONG")


async def test_entities_larger_than_their_size_limit_are_entities_too_long(
    core: ServerCore,
) -> None:
    bot, user = await pair(core)
    url = "https://example.com/" + "a" * 1500
    entities: list[abcs.MessageEntity] = [text_url(i, 1, url) for i in range(7)]  # ~10.7 KB
    error = await bot.fails(send_request(bot, user, "x" * 7, entities))
    assert (error.code, error.message) == (400, "ENTITIES_TOO_LONG")
    await bot.call(send_request(bot, user, "x" * 6, entities[:6]))


async def test_an_edit_checks_its_entities_against_the_text_it_keeps(core: ServerCore) -> None:
    bot, user = await pair(core)
    msg_id = new_message(await send(bot, user, "short")).id
    error = await bot.fails(
        fmsg.EditMessage(peer=bot.input_peer(user), id=msg_id, entities=[bold(0, 6)])
    )
    assert (error.code, error.message) == (400, "ENTITY_BOUNDS_INVALID")
    edited = await bot.call(
        fmsg.EditMessage(peer=bot.input_peer(user), id=msg_id, entities=[bold(0, 5)])
    )
    assert new_message(edited).entities == [bold(0, 5)]


# -- keyboards -----------------------------------------------------------------------------


async def test_more_than_eight_buttons_in_a_row_is_reply_markup_too_long(
    core: ServerCore,
) -> None:
    bot, user = await pair(core)
    row = [callback(str(i), str(i).encode()) for i in range(9)]
    error = await bot.fails(send_request(bot, user, "pick", markup=keyboard(row)))
    assert (error.code, error.message) == (400, "REPLY_MARKUP_TOO_LONG")
    await bot.call(send_request(bot, user, "pick", markup=keyboard(row[:8])))


async def test_a_keyboard_larger_than_its_size_limit_is_reply_markup_too_long(
    core: ServerCore,
) -> None:
    bot, user = await pair(core)
    rows = [[callback("t" * 1500, f"{i}".encode())] for i in range(7)]  # ~10.5 KB
    error = await bot.fails(send_request(bot, user, "pick", markup=keyboard(*rows)))
    assert (error.code, error.message) == (400, "REPLY_MARKUP_TOO_LONG")
    await bot.call(send_request(bot, user, "pick", markup=keyboard(*rows[:6])))


async def test_a_million_empty_rows_are_reply_markup_too_long(core: ServerCore) -> None:
    bot, user = await pair(core)
    inline = types.ReplyInlineMarkup(rows=[types.KeyboardInlineButtonRow(buttons=[])] * 1_000)
    reply = types.ReplyKeyboardMarkup(rows=[types.KeyboardButtonRow(buttons=[])] * 1_000)
    for markup in (inline, reply):
        error = await bot.fails(send_request(bot, user, "pick", markup=markup))
        assert (error.code, error.message) == (400, "REPLY_MARKUP_TOO_LONG")


async def test_reply_keyboards_hold_twelve_a_row_and_three_hundred_in_all(
    core: ServerCore,
) -> None:
    bot, user = await pair(core)

    def reply_keyboard(rows: int, per_row: int) -> types.ReplyKeyboardMarkup:
        return types.ReplyKeyboardMarkup(
            rows=[
                types.KeyboardButtonRow(
                    buttons=[
                        types.KeyboardButton(text=f"{r}", type=types.ButtonTypeDefault())
                        for _ in range(per_row)
                    ]
                )
                for r in range(rows)
            ]
        )

    await bot.call(send_request(bot, user, "pick", markup=reply_keyboard(2, 12)))
    for rows, per_row in ((1, 13), (26, 12)):
        error = await bot.fails(
            send_request(bot, user, "pick", markup=reply_keyboard(rows, per_row))
        )
        assert (error.code, error.message) == (400, "REPLY_MARKUP_TOO_LONG")


async def test_a_button_url_longer_than_the_url_limit_is_button_url_invalid(
    core: ServerCore,
) -> None:
    bot, user = await pair(core)
    url = "https://example.com/" + "a" * (core.config.url_length_max - 20)
    await bot.call(send_request(bot, user, "go", markup=keyboard([url_button("Go", url)])))
    error = await bot.fails(
        send_request(bot, user, "go", markup=keyboard([url_button("Go", url + "a")]))
    )
    assert (error.code, error.message) == (400, "BUTTON_URL_INVALID")


async def test_a_game_answer_url_longer_than_the_url_limit_is_url_invalid(
    core: ServerCore,
) -> None:
    bot, user = await pair(core)
    user.pushed.clear()
    await bot.call(
        fmsg.SendMedia(
            peer=bot.input_peer(user),
            media=types.InputMediaGame(
                id=types.InputGameShortName(bot_id=types.InputUserSelf(), short_name="g")
            ),
            message="",
            random_id=next(_ids),
        )
    )
    (update,) = user.take(types.UpdateNewMessage)
    task = await start_press(user, bot, update.message.id, data=None, game=True)
    query_id = bot.updates_of(types.UpdateBotCallbackQuery)[-1].query_id
    url = "https://games.example.com/" + "a" * (core.config.url_length_max - 26)
    error = await bot.fails(
        fmsg.SetBotCallbackAnswer(query_id=query_id, url=url + "a", cache_time=0)
    )
    assert (error.code, error.message) == (400, "URL_INVALID")
    assert await answer(bot, query_id, url=url) is True
    result = await task
    assert result.url == url


# -- names -------------------------------------------------------------------------------


async def sign_up(core: ServerCore, first: str, last: str) -> Any:
    caller = Caller(core)
    sent = await caller.call(
        fauth.SendCode(
            phone_number="+1 555 0777", api_id=1, api_hash="x", settings=types.CodeSettings()
        )
    )
    assert isinstance(sent, auth_types.SentCode)
    return await caller.fails(
        fauth.SignUp(
            phone_number="+1 555 0777",
            phone_code_hash=sent.phone_code_hash,
            first_name=first,
            last_name=last,
        )
    )


async def test_names_longer_than_64_characters_are_refused(core: ServerCore) -> None:
    error = await sign_up(core, "A" * 65, "")
    assert (error.code, error.message) == (400, "FIRSTNAME_INVALID")
    error = await sign_up(core, "Ann", "B" * 65)
    assert (error.code, error.message) == (400, "LASTNAME_INVALID")
    assert core.storage.accounts.get_by_phone("15550777") is None


# -- initConnection ------------------------------------------------------------------------


def init(**fields: Any) -> fn.InvokeWithLayer[Any]:
    values: dict[str, Any] = {
        "api_id": 1,
        "device_model": "pc",
        "system_version": "linux",
        "app_version": "1.0",
        "system_lang_code": "en",
        "lang_pack": "",
        "lang_code": "en",
    }
    values.update(fields)
    return fn.InvokeWithLayer(layer=229, query=fn.InitConnection(**values, query=fhelp.GetConfig()))


async def test_init_connection_keeps_descriptive_strings_within_their_limit(
    core: ServerCore,
) -> None:
    caller = Caller(core)
    huge = "M" * 900_000
    await caller.call(init(device_model=huge, system_version=huge, app_version=huge))
    info = caller.session.client_info
    assert info is not None
    limit = core.config.client_string_max
    assert (info.device_model, info.system_version, info.app_version) == ("M" * limit,) * 3


@pytest.mark.parametrize("field", ["lang_pack", "lang_code", "system_lang_code"])
async def test_an_overlong_language_code_is_connection_lang_pack_invalid(
    core: ServerCore, field: str
) -> None:
    caller = Caller(core)
    error = await caller.fails(init(**{field: "x" * (core.config.lang_code_max + 1)}))
    assert (error.code, error.message) == (400, "CONNECTION_LANG_PACK_INVALID")
    assert caller.session.client_info is None


# -- what the storage still refuses ----------------------------------------------------------


async def test_a_value_the_storage_refuses_is_input_request_too_long_not_internal(
    storage: Storage, clock: FakeClock
) -> None:
    # Limits raised past the storage's own bound: the storage is the last line.
    config = replace(ServerConfig(), entities_size_max=2**40, url_length_max=2**40)
    core = make_core(storage, clock, config)
    bot, user = await pair(core)
    url = "https://example.com/" + "a" * MAX_VALUE_BYTES
    error = await bot.fails(send_request(bot, user, "click", [text_url(0, 5, url)]))
    assert (error.code, error.message) == (400, "INPUT_REQUEST_TOO_LONG")
    assert pts_of(user) == 1


# -- the largest message allowed -------------------------------------------------------------


def largest_message(config: ServerConfig, bot: Caller, user: Caller, n: int) -> fmsg.SendMessage:
    """A message at every limit at once: the longest text of 4-byte characters, the most
    entities of the largest total size, the largest inline keyboard."""
    text = "\U0001f600" * config.message_length_max
    per_entity = config.entities_size_max // config.entities_max - 16
    url = "https://e.co/" + "u" * (per_entity - 16)
    entities: list[abcs.MessageEntity] = [
        text_url(2 * i, 2, url) for i in range(config.entities_max)
    ]
    per_button = config.reply_markup_size_max // config.max_buttons - 24
    rows = [
        [callback("b" * (per_button - 8), f"{r}.{c}".encode()) for c in range(8)]
        for r in range(config.max_buttons // 8)
    ]
    return fmsg.SendMessage(
        peer=bot.input_peer(user),
        message=text,
        random_id=1_000 + n,
        entities=entities,
        reply_markup=keyboard(*rows),
    )


async def difference_messages(caller: Caller) -> tuple[list[abcs.Message], int]:
    """Every new message since pts 0 through getDifference, and how many calls it took."""
    messages: list[abcs.Message] = []
    pts, calls = 0, 0
    while True:
        calls += 1
        diff = await caller.call(fupd.GetDifference(pts=pts, date=0, qts=0))
        if isinstance(diff, upd_types.DifferenceSlice):
            messages += diff.new_messages
            assert isinstance(diff.intermediate_state, upd_types.State)
            pts = diff.intermediate_state.pts
        else:
            assert isinstance(diff, upd_types.Difference)
            messages += diff.new_messages
            return messages, calls


async def test_the_largest_messages_allowed_still_reach_both_sides(
    storage: Storage, clock: FakeClock
) -> None:
    config = replace(ServerConfig(), difference_size_max=100_000)
    core = make_core(storage, clock, config)
    bot, user = await pair(core)
    count = 8
    for n in range(count):
        sent = await bot.call(largest_message(config, bot, user, n))
        message = new_message(sent)
        assert len(message.entities or []) == config.entities_max
    for me, other in ((bot, user), (user, bot)):
        messages, calls = await difference_messages(me)
        # The "/start" first, then the bot's messages.
        assert [m.id for m in messages] == list(range(1, count + 2))
        assert calls > 1  # larger than one answer may carry: sliced
        history = await me.call(history_request(me.input_peer(other), limit=100))
        assert isinstance(history, msg_types.Messages)
        assert [m.id for m in history.messages] == list(range(count + 1, 0, -1))


# -- mentions and inline queries -------------------------------------------------------------


async def test_a_mention_by_input_user_is_stored_as_the_users_mention(core: ServerCore) -> None:
    bot, user = await pair(core)
    alice = user.me
    mention = types.InputMessageEntityMentionName(
        offset=0, length=5, user_id=types.InputUser(user_id=alice.id, access_hash=alice.access_hash)
    )
    sent = await bot.call(send_request(bot, user, "Alice", [mention]))
    assert new_message(sent).entities == [
        types.MessageEntityMentionName(offset=0, length=5, user_id=alice.id)
    ]
    wrong = types.InputMessageEntityMentionName(
        offset=0, length=5, user_id=types.InputUser(user_id=alice.id, access_hash=1)
    )
    error = await bot.fails(send_request(bot, user, "Alice", [wrong]))
    assert (error.code, error.message) == (400, "ENTITY_MENTION_USER_INVALID")


async def test_an_inline_query_reaches_the_bot_within_telegrams_sizes(core: ServerCore) -> None:
    bot, user = await pair(core)
    pending = core.services.inline.query(
        user.me,
        types.InputUser(user_id=bot.me.id, access_hash=bot.me.access_hash),
        types.InputPeerEmpty(),
        "q" * 10_000,
        "o" * 10_000,
    )
    (update,) = pending.update.updates
    assert isinstance(update, types.UpdateBotInlineQuery)
    assert (len(update.query), len(update.offset)) == (core.config.inline_query_length_max, 64)
