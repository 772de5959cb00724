"""``loopgram.testing.loopgram``: loopgram's own client pointed at a test server -- logging
in as a bot and as a user, coming back with a saved session, waiting for replies."""

from __future__ import annotations

import pytest

from loopgram.client import RpcError
from loopgram.node import LoopgramServer
from loopgram.testing.loopgram import Inbox, bot_client, loopgram_client, user_client


async def test_clients_log_in_as_the_bot_and_the_user(server: LoopgramServer) -> None:
    token = server.create_bot("helperbot")
    server.create_user("+15550009", "Ada")
    async with bot_client(server, token) as bot, user_client(server, "+15550009") as user:
        assert bot.is_bot and bot.authorized
        me = await user.get_me()
        assert (me.first_name, me.phone, me.bot) == ("Ada", "15550009", False)
    assert not bot.connected and not user.connected


async def test_awaited_client_stays_connected_until_disconnected(server: LoopgramServer) -> None:
    user = await user_client(server, "+15550010")
    try:
        assert user.connected and user.authorized
    finally:
        await user.disconnect()


async def test_a_saved_session_comes_back_logged_in(server: LoopgramServer) -> None:
    async with user_client(server, "+15550011") as first:
        saved = first.export_session()
        me = first.me_id
    # The code is wrong on purpose: a session that is logged in already never uses it.
    async with user_client(server, "+15550011", saved, code="00000") as again:
        assert again.me_id == me


async def test_a_wrong_code_fails_and_leaves_no_connection(server: LoopgramServer) -> None:
    login = user_client(server, "+15550012", code="00000")
    with pytest.raises(RpcError, match="PHONE_CODE_INVALID"):
        await login
    assert not login.client.connected


async def test_unconnected_client_points_at_the_server(server: LoopgramServer) -> None:
    client = loopgram_client(server)
    assert (client.host, client.port) == ("127.0.0.1", server.port)
    assert not client.connected


async def test_inbox_returns_received_messages_only(server: LoopgramServer) -> None:
    token = server.create_bot("echohelperbot")
    async with bot_client(server, token) as bot, user_client(server, "+15550013") as user:
        bot_inbox = Inbox(bot)
        user_inbox = Inbox(user, timeout=5)
        await user.send_message("echohelperbot", "hello")
        heard = await bot_inbox.next()
        await heard.reply("hello yourself")
        reply = await user_inbox.next()
        assert (heard.text, reply.text) == ("hello", "hello yourself")
        assert len(bot_inbox) == 0, "the bot's own reply is not in its inbox"
