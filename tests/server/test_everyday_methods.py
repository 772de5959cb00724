"""Server layer: the everyday methods around chats -- unserved methods named as such, the
served list, bot commands with scopes, dialogs with unread counts, read marks, typing and
contacts, in private chats; and every answer written in the older layers."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

import loopgram.tl.functions as fn
import loopgram.tl.functions.account as facc
import loopgram.tl.functions.bots as fbots
import loopgram.tl.functions.contacts as fcon
import loopgram.tl.functions.help as fhelp
import loopgram.tl.functions.messages as fmsg
import loopgram.tl.functions.updates as fupd
import loopgram.tl.functions.users as fusers
from loopgram.server import ServerCore
from loopgram.server.handlers import default_registry
from loopgram.server.handlers.catalogue import DOC_PATH, render_markdown, render_text
from loopgram.tl import TLFunction, layers, types
from loopgram.tl.types import contacts as contact_types
from loopgram.tl.types import messages as msg_types
from loopgram.tl.types import updates as upd_types

from .support import Caller, history_request, login_bot, login_user, send

ROOT = Path(__file__).resolve().parents[2]


def _init(query: TLFunction[Any], layer: int = 229, lang_code: str = "en") -> Any:
    return fn.InvokeWithLayer(
        layer=layer,
        query=fn.InitConnection(
            api_id=6,
            device_model="pytest",
            system_version="linux",
            app_version="1",
            system_lang_code=lang_code,
            lang_pack="",
            lang_code=lang_code,
            query=query,
        ),
    )


def _dialogs(limit: int = 100, offset_id: int = 0, offset_date: int = 0) -> fmsg.GetDialogs:
    return fmsg.GetDialogs(
        offset_date=offset_date,
        offset_id=offset_id,
        offset_peer=types.InputPeerEmpty(),
        limit=limit,
        hash=0,
    )


def _user_input(caller: Caller, other: Caller) -> types.InputUser:
    return types.InputUser(user_id=other.me.id, access_hash=other.me.access_hash)


# -- methods loopgram does not serve --------------------------------------------------------


async def test_an_unserved_function_is_method_not_implemented_logged_once(
    core: ServerCore, caplog: pytest.LogCaptureFixture
) -> None:
    user = await login_user(core, "+1 555 0100")
    with caplog.at_level(logging.WARNING, logger="loopgram.server.dispatch"):
        for _ in range(3):
            error = await user.fails(facc.GetWallPapers(hash=0))
            assert (error.code, error.message) == (400, "METHOD_NOT_IMPLEMENTED")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "account.getWallPapers is not implemented by loopgram (answered METHOD_NOT_IMPLEMENTED)"
    ]


async def test_a_constructor_that_is_no_function_stays_input_method_invalid(
    core: ServerCore,
) -> None:
    user = await login_user(core, "+1 555 0100")
    answer = await core.dispatch(user.session, types.InputPeerSelf())
    assert answer.error is not None
    assert (answer.error.code, answer.error.message) == (400, "INPUT_METHOD_INVALID")


def test_the_methods_doc_is_the_registry() -> None:
    doc = (ROOT / DOC_PATH).read_text(encoding="utf-8")
    assert doc == render_markdown(), "run: loopgram methods --markdown > docs/methods.md"


def test_the_methods_list_names_every_handler_once() -> None:
    listed = render_text().splitlines()
    assert sorted(listed) == listed
    assert set(listed) == {route.name for route in default_registry()}
    assert {"bots.setBotCommands", "messages.getDialogs", "contacts.importContacts"} <= set(listed)


def test_loopgram_methods_prints_the_list_and_the_doc(capsys: pytest.CaptureFixture[str]) -> None:
    from loopgram.cli import main

    assert main(["methods"]) == 0
    assert capsys.readouterr().out == render_text()
    assert main(["methods", "--markdown"]) == 0
    assert capsys.readouterr().out == render_markdown()


# -- bot commands ---------------------------------------------------------------------------


def _cmds(*names: str) -> list[types.BotCommand]:
    return [types.BotCommand(command=n, description=n.title()) for n in names]


async def test_bot_commands_are_set_read_and_reset_per_scope_and_language(
    core: ServerCore,
) -> None:
    bot = await login_bot(core, "cmdbot")
    user = await login_user(core, "+1 555 0101")
    await send(bot, user, "hello")
    default = types.BotCommandScopeDefault()
    users = types.BotCommandScopeUsers()
    peer = types.BotCommandScopePeer(peer=bot.input_peer(user))
    await bot.call(fbots.SetBotCommands(scope=default, lang_code="", commands=_cmds("start")))
    await bot.call(fbots.SetBotCommands(scope=users, lang_code="de", commands=_cmds("los")))
    await bot.call(fbots.SetBotCommands(scope=peer, lang_code="", commands=_cmds("mine")))
    assert await bot.call(fbots.GetBotCommands(scope=default, lang_code="")) == _cmds("start")
    assert await bot.call(fbots.GetBotCommands(scope=users, lang_code="de")) == _cmds("los")
    assert await bot.call(fbots.GetBotCommands(scope=users, lang_code="")) == []
    assert await bot.call(fbots.GetBotCommands(scope=peer, lang_code="")) == _cmds("mine")
    assert await bot.call(fbots.ResetBotCommands(scope=peer, lang_code="")) is True
    assert await bot.call(fbots.GetBotCommands(scope=peer, lang_code="")) == []


@pytest.mark.parametrize(
    ("commands", "lang_code", "error"),
    [
        ([types.BotCommand(command="Bad-Name", description="x")], "", "BOT_COMMAND_INVALID"),
        ([types.BotCommand(command="ok", description=" ")], "", "BOT_COMMAND_DESCRIPTION_INVALID"),
        (_cmds(*[f"c{i}" for i in range(101)]), "", "BOT_COMMANDS_TOO_MUCH"),
        ([], "deu", "LANG_CODE_INVALID"),
    ],
)
async def test_bad_bot_commands_get_telegrams_errors(
    core: ServerCore, commands: list[types.BotCommand], lang_code: str, error: str
) -> None:
    bot = await login_bot(core, "cmdbot")
    failed = await bot.fails(
        fbots.SetBotCommands(
            scope=types.BotCommandScopeDefault(), lang_code=lang_code, commands=commands
        )
    )
    assert (failed.code, failed.message) == (400, error)


async def test_changed_commands_move_the_bots_info_version(core: ServerCore) -> None:
    bot = await login_bot(core, "cmdbot")
    user = await login_user(core, "+1 555 0101")
    target = types.InputUser(user_id=bot.me.id, access_hash=bot.me.access_hash)

    async def version() -> int:
        (shown,) = await user.call(fusers.GetUsers(id=[target]))
        return int(shown.bot_info_version)

    def set_to(*names: str) -> fbots.SetBotCommands:
        scope = types.BotCommandScopeDefault()
        return fbots.SetBotCommands(scope=scope, lang_code="", commands=_cmds(*names))

    first = await version()
    await bot.call(set_to("start"))
    assert await version() == first + 1
    await bot.call(set_to("start"))  # the same list again: nothing to refetch
    assert await version() == first + 1
    await bot.call(fbots.ResetBotCommands(scope=types.BotCommandScopeDefault(), lang_code=""))
    assert await version() == first + 2


async def test_a_user_cannot_set_bot_commands(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0101")
    failed = await user.fails(
        fbots.SetBotCommands(
            scope=types.BotCommandScopeDefault(), lang_code="", commands=_cmds("x")
        )
    )
    assert failed.message == "USER_BOT_REQUIRED"


async def test_full_user_shows_the_commands_the_viewer_sees_in_its_language(
    core: ServerCore,
) -> None:
    bot = await login_bot(core, "cmdbot")
    de_user = await login_user(core, "+1 555 0101")
    other = await login_user(core, "+1 555 0102")
    await bot.call(
        fbots.SetBotCommands(
            scope=types.BotCommandScopeDefault(), lang_code="", commands=_cmds("start")
        )
    )
    await bot.call(
        fbots.SetBotCommands(
            scope=types.BotCommandScopeUsers(), lang_code="de", commands=_cmds("los")
        )
    )
    await send(bot, other, "hi")
    await bot.call(
        fbots.SetBotCommands(
            scope=types.BotCommandScopePeer(peer=bot.input_peer(other)),
            lang_code="",
            commands=_cmds("yours"),
        )
    )
    target = types.InputUser(user_id=bot.me.id, access_hash=bot.me.access_hash)

    async def seen(caller: Caller, lang: str) -> list[Any]:
        full = await caller.call(_init(fusers.GetFullUser(id=target), lang_code=lang))
        info = full.full_user.bot_info
        assert isinstance(info, types.BotInfo)
        return list(info.commands or [])

    assert await seen(de_user, "de") == _cmds("los")
    assert await seen(de_user, "en") == _cmds("start")
    assert await seen(other, "de") == _cmds("yours")


# -- dialogs and read state -----------------------------------------------------------------


async def test_dialogs_list_top_messages_and_unread_counts_newest_first(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0101")
    alice = await login_user(core, "+1 555 0102")
    bot = await login_bot(core, "dlgbot")
    await send(bot, user, "one")
    await send(bot, user, "two")
    await send(alice, user, "from alice")
    await send(user, alice, "reply")

    dialogs = await user.call(_dialogs())
    assert isinstance(dialogs, msg_types.Dialogs)
    first, second = dialogs.dialogs
    assert isinstance(first, types.Dialog) and isinstance(second, types.Dialog)
    assert first.peer == types.PeerUser(user_id=alice.me.id)
    assert (first.unread_count, first.read_inbox_max_id) == (1, 0)
    assert second.peer == types.PeerUser(user_id=bot.me.id)
    assert second.unread_count == 2
    tops = {m.id: m for m in dialogs.messages if isinstance(m, types.Message)}
    assert tops[first.top_message].message == "reply"
    assert tops[second.top_message].message == "two"
    assert {u.id for u in dialogs.users} >= {user.me.id, alice.me.id, bot.me.id}

    page = await user.call(_dialogs(limit=1))
    assert isinstance(page, msg_types.DialogsSlice)
    assert (page.count, len(page.dialogs)) == (2, 1)
    # All sent in the same second: the page after the first goes by id, as Telethon pages
    # with offset_id and offset_date together.
    top = next(m for m in dialogs.messages if m.id == first.top_message)
    rest = await user.call(_dialogs(offset_id=first.top_message, offset_date=top.date))
    assert [d.peer for d in rest.dialogs] == [types.PeerUser(user_id=bot.me.id)]
    assert (await user.call(_dialogs(offset_date=top.date))).dialogs == []


async def test_read_history_moves_both_marks_and_notifies_the_author(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0101")
    alice = await login_user(core, "+1 555 0102")
    await send(alice, user, "a")
    await send(alice, user, "b")
    await send(alice, user, "c")
    history = await user.call(history_request(user.input_peer(alice), limit=10))
    ids = sorted(m.id for m in history.messages)
    alice.pushed.clear()
    before = (await user.call(fupd.GetState())).pts
    affected = await user.call(fmsg.ReadHistory(peer=user.input_peer(alice), max_id=ids[1]))
    assert (affected.pts, affected.pts_count) == (before + 1, 1)

    (dialog,) = (await user.call(_dialogs())).dialogs
    assert (dialog.read_inbox_max_id, dialog.unread_count) == (ids[1], 1)
    (outbox,) = alice.take(types.UpdateReadHistoryOutbox)
    (alice_dialog,) = (await alice.call(_dialogs())).dialogs
    assert outbox.max_id == alice_dialog.read_outbox_max_id
    assert outbox.peer == types.PeerUser(user_id=user.me.id)
    # Alice's copy of "b" is the newest outgoing message read.
    alice_copies = await alice.call(fmsg.GetMessages(id=[types.InputMessageID(id=outbox.max_id)]))
    assert alice_copies.messages[0].message == "b"

    # Reading again up to the same point moves nothing.
    again = await user.call(fmsg.ReadHistory(peer=user.input_peer(alice), max_id=ids[1]))
    assert again.pts_count == 0
    # max_id 0 reads everything; getDifference replays the inbox update.
    await user.call(fmsg.ReadHistory(peer=user.input_peer(alice), max_id=0))
    (dialog,) = (await user.call(_dialogs())).dialogs
    assert (dialog.read_inbox_max_id, dialog.unread_count) == (ids[2], 0)
    diff = await user.call(fupd.GetDifference(pts=before, date=0, qts=0))
    inbox = [u for u in diff.other_updates if isinstance(u, types.UpdateReadHistoryInbox)]
    assert [u.max_id for u in inbox] == [ids[1], ids[2]]


async def test_peer_dialogs_answer_each_peer_asked(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0101")
    alice = await login_user(core, "+1 555 0102")
    bob = await login_user(core, "+1 555 0103")
    await send(alice, user, "hi")
    await send(user, bob, "hey")  # so that bob's access hash is known
    answer = await user.call(
        fmsg.GetPeerDialogs(
            peers=[
                types.InputDialogPeer(peer=user.input_peer(alice)),
                types.InputDialogPeer(peer=types.InputPeerSelf()),
            ]
        )
    )
    alice_dialog, saved = answer.dialogs
    assert (alice_dialog.unread_count, alice_dialog.top_message) == (1, answer.messages[0].id)
    assert saved.peer == types.PeerUser(user_id=user.me.id) and saved.top_message == 0
    assert isinstance(answer.state, upd_types.State)
    failed = await user.fails(
        fmsg.GetPeerDialogs(
            peers=[
                types.InputDialogPeer(peer=types.InputPeerUser(user_id=bob.me.id, access_hash=1))
            ]
        )
    )
    assert failed.message == "PEER_ID_INVALID"


async def test_typing_reaches_the_peer_as_update_user_typing(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0101")
    bot = await login_bot(core, "typebot")
    await send(bot, user, "hi")
    user.pushed.clear()
    assert await bot.call(
        fmsg.SetTyping(peer=bot.input_peer(user), action=types.SendMessageTypingAction())
    )
    (short,) = user.pushed
    assert isinstance(short, types.UpdateShort)
    assert short.update == types.UpdateUserTyping(
        user_id=bot.me.id, action=types.SendMessageTypingAction()
    )


# -- forwarding -----------------------------------------------------------------------------


def _forward(
    caller: Caller, source: Caller, ids: list[int], random_ids: list[int], to: Caller, **kw: Any
) -> fmsg.ForwardMessages:
    return fmsg.ForwardMessages(
        from_peer=caller.input_peer(source),
        id=ids,
        random_id=random_ids,
        to_peer=caller.input_peer(to),
        **kw,
    )


async def test_forwarding_copies_a_message_with_its_author_to_another_chat(
    core: ServerCore,
) -> None:
    user = await login_user(core, "+1 555 0101")
    alice = await login_user(core, "+1 555 0102")
    bot = await login_bot(core, "fwdbot")
    sent = await send(bot, user, "news")
    (bot_copy,) = [u for u in sent.updates if isinstance(u, types.UpdateNewMessage)]
    users_copy = (await user.call(_dialogs())).messages[0]
    alice.pushed.clear()

    answer = await user.call(_forward(user, bot, [users_copy.id], [501], alice))
    (mapped,) = [u for u in answer.updates if isinstance(u, types.UpdateMessageID)]
    (own,) = [u for u in answer.updates if isinstance(u, types.UpdateNewMessage)]
    assert mapped.random_id == 501 and mapped.id == own.message.id
    assert own.message.message == "news" and own.message.out
    assert own.message.fwd_from.from_id == types.PeerUser(user_id=bot.me.id)
    assert own.message.fwd_from.date == bot_copy.message.date
    assert own.message.reply_markup is None
    (pushed,) = alice.take(types.UpdateNewMessage)
    assert pushed.message.fwd_from.from_id == types.PeerUser(user_id=bot.me.id)
    assert pushed.message.from_id == types.PeerUser(user_id=user.me.id)

    # Forwarded on, the original author stays.
    again = await alice.call(_forward(alice, user, [pushed.message.id], [9], bot))
    (onward,) = [u for u in again.updates if isinstance(u, types.UpdateNewMessage)]
    assert onward.message.fwd_from.from_id == types.PeerUser(user_id=bot.me.id)


async def test_a_repeated_forward_random_id_answers_the_first_forward(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0101")
    alice = await login_user(core, "+1 555 0102")
    await send(alice, user, "x")
    msg_id = (await user.call(_dialogs())).messages[0].id
    first = await user.call(_forward(user, alice, [msg_id], [77], alice))
    alice.pushed.clear()
    second = await user.call(_forward(user, alice, [msg_id], [77], alice))
    ids = [
        [u.id for u in r.updates if isinstance(u, types.UpdateMessageID)] for r in (first, second)
    ]
    assert ids[0] == ids[1]
    assert alice.take(types.UpdateNewMessage) == []


@pytest.mark.parametrize(
    ("ids", "random_ids", "error"),
    [
        ([], [], "MESSAGE_IDS_EMPTY"),
        ([1], [1, 2], "RANDOM_ID_INVALID"),
        ([1, 1], [3, 3], "RANDOM_ID_INVALID"),
        ([999], [1], "MESSAGE_ID_INVALID"),
    ],
)
async def test_bad_forwards_get_telegrams_errors(
    core: ServerCore, ids: list[int], random_ids: list[int], error: str
) -> None:
    user = await login_user(core, "+1 555 0101")
    alice = await login_user(core, "+1 555 0102")
    await send(alice, user, "x")
    failed = await user.fails(_forward(user, alice, ids, random_ids, alice))
    assert (failed.code, failed.message) == (400, error)


async def test_drop_author_forwards_without_a_header(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0101")
    alice = await login_user(core, "+1 555 0102")
    await send(alice, user, "quiet")
    msg_id = (await user.call(_dialogs())).messages[0].id
    answer = await user.call(_forward(user, alice, [msg_id], [5], alice, drop_author=True))
    (own,) = [u for u in answer.updates if isinstance(u, types.UpdateNewMessage)]
    assert own.message.fwd_from is None and own.message.message == "quiet"


# -- contacts -------------------------------------------------------------------------------


async def test_contacts_import_list_search_resolve_and_delete(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0101")
    alice = await login_user(core, "+1 555 0102")
    imported = await user.call(
        fcon.ImportContacts(
            contacts=[
                types.InputPhoneContact(
                    client_id=7, phone="+1 555 0102", first_name="Ally", last_name="Cat"
                ),
                types.InputPhoneContact(
                    client_id=8, phone="+1 555 0999", first_name="Nobody", last_name=""
                ),
            ]
        )
    )
    assert imported.imported == [types.ImportedContact(user_id=alice.me.id, client_id=7)]
    assert imported.retry_contacts == [8]
    (shown,) = imported.users
    assert isinstance(shown, types.User) and shown.access_hash == alice.me.access_hash

    listed = await user.call(fcon.GetContacts(hash=0))
    assert isinstance(listed, contact_types.Contacts)
    assert listed.contacts == [types.Contact(user_id=alice.me.id, mutual=False)]

    found = await user.call(fcon.Search(q="all", limit=10))
    assert found.my_results == [types.PeerUser(user_id=alice.me.id)]
    assert (await user.fails(fcon.Search(q="  ", limit=10))).message == "SEARCH_QUERY_EMPTY"

    resolved = await user.call(fcon.ResolvePhone(phone="15550102"))
    assert resolved.peer == types.PeerUser(user_id=alice.me.id)
    assert (await user.fails(fcon.ResolvePhone(phone="15550999"))).message == "PHONE_NOT_OCCUPIED"

    await user.call(fcon.DeleteContacts(id=[_user_input(user, alice)]))
    assert (await user.call(fcon.GetContacts(hash=0))).contacts == []


async def test_contact_search_finds_bots_by_username(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0101")
    bot = await login_bot(core, "weatherbot")
    found = await user.call(fcon.Search(q="@weather", limit=5))
    assert found.results == [types.PeerUser(user_id=bot.me.id)]
    (shown,) = found.users
    assert isinstance(shown, types.User) and shown.bot


# -- older layers ---------------------------------------------------------------------------


@pytest.mark.parametrize("layer", [158, 198, 227])
async def test_everyday_answers_are_written_in_older_layers(core: ServerCore, layer: int) -> None:
    first = await login_user(core, "+1 555 0190")
    user = _LayerCaller(core, layer, auth_key_id=first.auth_key_id, session_id=2)
    user.account = first.account
    await user.call(_init(fhelp.GetConfig(), layer=layer))
    bot = await login_bot(core, "oldbot")
    alice = await login_user(core, "+1 555 0191")
    await send(bot, user, "hello")
    await send(alice, user, "hi")
    await bot.call(
        fbots.SetBotCommands(
            scope=types.BotCommandScopeDefault(), lang_code="", commands=_cmds("start")
        )
    )

    dialogs = await user.call(_dialogs())
    assert [d.unread_count for d in dialogs.dialogs] == [1, 1]
    peer_dialogs = await user.call(
        fmsg.GetPeerDialogs(peers=[types.InputDialogPeer(peer=user.input_peer(bot))])
    )
    assert peer_dialogs.dialogs[0].top_message == dialogs.dialogs[1].top_message
    full = await user.call(
        fusers.GetFullUser(id=types.InputUser(user_id=bot.me.id, access_hash=bot.me.access_hash))
    )
    assert [c.command for c in full.full_user.bot_info.commands] == ["start"]
    await user.call(
        fcon.ImportContacts(
            contacts=[
                types.InputPhoneContact(
                    client_id=1, phone="+1 555 0191", first_name="A", last_name=""
                )
            ]
        )
    )
    assert len((await user.call(fcon.GetContacts(hash=0))).contacts) == 1
    assert len((await user.call(fcon.Search(q="a", limit=5))).my_results) == 1
    await user.call(fmsg.ReadHistory(peer=user.input_peer(alice), max_id=0))

    # Forwarded messages, typing and the peer's read mark, in the old layout too.
    top = dialogs.messages[1].id
    forwarded = await user.call(_forward(user, bot, [top], [11], alice))
    (own,) = [u for u in forwarded.updates if isinstance(u, types.UpdateNewMessage)]
    assert own.message.fwd_from.from_id == types.PeerUser(user_id=bot.me.id)
    user.pushed.clear()
    await bot.call(
        fmsg.SetTyping(peer=bot.input_peer(user), action=types.SendMessageTypingAction())
    )
    await alice.call(fmsg.ReadHistory(peer=alice.input_peer(user), max_id=0))
    typing = [p.update for p in user.pushed if isinstance(p, types.UpdateShort)]
    assert [type(u) for u in typing] == [types.UpdateUserTyping]
    assert len(user.updates_of(types.UpdateReadHistoryOutbox)) == 1


class _LayerCaller(Caller):
    """A session whose client speaks ``layer``: what it gets is written and read in it."""

    def __init__(self, core: ServerCore, layer: int, **kwargs: Any) -> None:
        super().__init__(core, **kwargs)
        self.layer = layer

    def _receive(self, updates: Any) -> None:
        self.pushed.append(layers.read(layers.serialize(updates, self.layer), self.layer))

    async def call(self, request: TLFunction[Any]) -> Any:
        answer = await self.core.dispatch(self.session, request)
        if answer.error is not None:
            raise answer.error
        raw = answer.encode(lambda obj: layers.serialize(obj, self.layer))
        return layers.read_result(request, raw, self.layer)
