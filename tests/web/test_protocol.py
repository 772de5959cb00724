"""The page's server side without a browser: the WebSocket protocol, the access token off
loopback, the same-origin rule, and the feed that is free while nobody watches."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer
from loopgram.testing.server import ServerThread
from loopgram.web import COOKIE, is_loopback


class Tab:
    """A WebSocket client speaking the page's protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.pushed: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        message = await self.ws.receive(timeout=10)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        decoded: dict[str, Any] = json.loads(message.data)
        return decoded

    async def answer_to(self, ident: object) -> dict[str, Any]:
        while True:
            message = await self.receive()
            if message.get("id") == ident and "ok" in message:
                return message
            self.pushed.append(message)

    async def call(self, op: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        await self.ws.send_str(json.dumps({"id": self.next_id, "op": op, "params": params}))
        return await self.answer_to(self.next_id)

    async def ok(self, op: str, **params: Any) -> Any:
        answer = await self.call(op, **params)
        assert answer["ok"], answer
        return answer["result"]


def ws_url(server: LoopgramServer) -> str:
    assert server.bot_api_url is not None
    return server.bot_api_url.replace("http://", "ws://") + "/web/ws"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def open_tab(http: aiohttp.ClientSession, server: LoopgramServer) -> Tab:
    tab = Tab(await http.ws_connect(ws_url(server)))
    hello = await tab.receive()
    assert hello == {"type": "hello", "login_code": server.config.login_code}
    return tab


async def test_the_page_and_its_files_are_served_from_the_package(
    http: aiohttp.ClientSession, server: LoopgramServer
) -> None:
    assert server.web_url == f"{server.bot_api_url}/web/"
    async with http.get(server.web_url) as r:
        assert r.status == 200 and r.content_type == "text/html"
        assert 'src="static/app.js"' in await r.text()
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
        async with http.get(f"{server.web_url}static/{name}") as r:
            assert r.status == 200 and r.content_type == kind
    async with http.get(f"{server.web_url}static/..%2Fserver.py") as r:
        assert r.status == 404
    # The Bot API keeps every other path.
    async with http.get(f"{server.bot_api_url}/bot1:x/getMe") as r:
        assert r.status == 401


async def test_a_tab_signs_in_through_auth_and_is_bound_like_an_mtproto_key(
    http: aiohttp.ClientSession, server: LoopgramServer
) -> None:
    tab = await open_tab(http, server)
    refused = await tab.call("dialogs")
    assert refused["error"] == {"code": 401, "message": "AUTH_KEY_UNREGISTERED"}
    wrong = await tab.call("sign_in", phone="+999 66 5550001", code="99999")
    assert wrong["error"] == {"code": 400, "message": "PHONE_CODE_INVALID"}
    me = (await tab.ok("sign_in", phone="+999 66 5550001", code="12345"))["me"]
    assert me["phone"] == "999665550001" and not me["bot"]
    keys = server.storage.auth_keys.for_account(me["id"])
    assert len(keys) == 1
    await tab.ws.close()
    # The tab's key goes with the tab.
    for _ in range(500):
        if not server.storage.auth_keys.for_account(me["id"]):
            break
        await asyncio.sleep(0.01)
    assert server.storage.auth_keys.for_account(me["id"]) == []


async def test_bad_messages_get_an_error_answer_and_the_tab_stays_open(
    http: aiohttp.ClientSession, server: LoopgramServer
) -> None:
    tab = await open_tab(http, server)
    await tab.ws.send_str("{not json")
    assert (await tab.answer_to(None))["error"] == {"code": 400, "message": "bad JSON"}
    await tab.ws.send_str("[1, 2]")
    assert (await tab.answer_to(None))["error"]["code"] == 400
    assert (await tab.call("drop_tables"))["error"] == {
        "code": 400,
        "message": "unknown operation 'drop_tables'",
    }
    await tab.ok("create_user")
    assert (await tab.call("send", chat=12345, text="hi"))["error"]["message"] == (
        "PEER_ID_INVALID"
    )
    assert (await tab.call("send", chat="x", text="hi"))["error"]["message"] == "PEER_ID_INVALID"
    assert (await tab.call("resolve", username=7))["error"]["message"] == "USERNAME_INVALID"
    assert (await tab.ok("dialogs"))["dialogs"] == []


async def test_messages_are_sent_and_pushed_through_the_services(
    http: aiohttp.ClientSession, server: LoopgramServer
) -> None:
    alice, bob = await open_tab(http, server), await open_tab(http, server)
    a = (await alice.ok("sign_in", phone="+999 66 5550011", code="12345"))["me"]
    (await bob.ok("sign_in", phone="+999 66 5550012", code="12345"))["me"]
    server.storage.accounts.update(a["id"], username="alice_web")
    found = await bob.ok("resolve", username="@alice_web")
    sent = await bob.ok("send", chat=found["chat"], text="hello alice")
    assert sent["message"]["out"] and sent["message"]["text"] == "hello alice"
    push = await alice.receive()
    assert push["type"] == "update" and push["update"]["type"] == "message"
    assert push["update"]["message"]["text"] == "hello alice"
    assert not push["update"]["message"]["out"]


async def test_the_feed_is_listened_to_only_while_a_tab_watches(
    http: aiohttp.ClientSession, server: LoopgramServer
) -> None:
    tab = await open_tab(http, server)
    await tab.ok("create_user")
    assert not server.core.feed.listening
    await tab.ok("watch", on=True)
    assert server.core.feed.listening
    await tab.ok("dialogs")
    call = next(m for m in tab.pushed if m["type"] == "call")["call"]
    assert call["door"] == "web" and call["method"] == "messages.getDialogs"
    assert call["error"] is None and call["ms"] >= 0
    await tab.ok("watch", on=False)
    assert not server.core.feed.listening


async def test_a_websocket_from_another_origin_is_refused(
    http: aiohttp.ClientSession, server: LoopgramServer
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(ws_url(server), headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403
    same = server.bot_api_url
    assert same is not None
    ws = await http.ws_connect(ws_url(server), headers={"Origin": same})
    await ws.close()


def test_loopback_addresses_need_no_token_others_do() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.1.2.3")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("")


async def test_off_loopback_the_page_needs_the_token_printed_at_start(
    loopgram_rsa_key: RsaPrivateKey,
) -> None:
    # unsafe: keep cookies of IP-address hosts, as browsers do.
    jar = aiohttp.CookieJar(unsafe=True)
    async with (
        aiohttp.ClientSession(cookie_jar=jar) as http,
        LoopgramServer(host="0.0.0.0", port=0, bot_api_port=0, rsa_key=loopgram_rsa_key) as server,
    ):
        web_url = server.web_url
        assert web_url is not None and "?token=" in web_url
        assert f"web: {web_url}\n" in server.facts.describe()
        token = web_url.split("?token=")[1]
        base = web_url.split("?")[0]
        for path in ("", "static/app.js"):
            async with http.get(base + path) as r:
                assert r.status == 403
        async with http.get(f"{base}?token=wrong") as r:
            assert r.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(ws_url(server))
        async with http.get(web_url) as r:
            assert r.status == 200
            assert r.cookies[COOKIE].value == token
        # The cookie now opens the rest, the socket included.
        async with http.get(f"{base}static/app.js") as r:
            assert r.status == 200
        ws = await http.ws_connect(ws_url(server))
        assert json.loads((await ws.receive(timeout=10)).data)["type"] == "hello"
        await ws.close()


async def test_a_tab_that_stops_reading_is_closed_instead_of_queueing_forever() -> None:
    from loopgram.web.server import MAX_OUTBOX, Tab

    closed: list[int] = []

    class Socket:
        async def close(self, *, code: int, message: bytes) -> bool:
            closed.append(code)
            return True

    tab = Tab(Socket())  # type: ignore[arg-type]
    for i in range(MAX_OUTBOX + 5):
        tab.send({"n": i})
    await asyncio.sleep(0)
    assert tab.outbox.qsize() == MAX_OUTBOX
    assert tab.dropped and closed == [1008]


def test_the_pytest_fixture_serves_the_page(loopgram_server: ServerThread) -> None:
    url = loopgram_server.web_url
    assert url is not None and url == f"{loopgram_server.bot_api_url}/web/"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert b"<title>loopgram</title>" in response.read()


async def _next_update(tab: Tab, kind: str) -> dict[str, Any]:
    while True:
        message = await tab.receive()
        if message.get("type") == "update" and message["update"]["type"] == kind:
            return message


async def test_a_tab_sets_its_name_and_username_and_a_peer_tab_sees_the_rename(
    http: aiohttp.ClientSession, server: LoopgramServer
) -> None:
    alice, bob = await open_tab(http, server), await open_tab(http, server)
    await alice.ok("sign_in", phone="+999 66 5550021", code="12345")
    await bob.ok("sign_in", phone="+999 66 5550022", code="12345")
    bad = await alice.call("profile", first_name=" ")
    assert bad["error"] == {"code": 400, "message": "FIRSTNAME_INVALID"}
    bad = await alice.call("profile", first_name="Ada", username="no")
    assert bad["error"] == {"code": 400, "message": "USERNAME_INVALID"}
    me = (await alice.ok("profile", first_name="Ada", last_name="Lovelace", username="@ada_web"))[
        "me"
    ]
    assert (me["name"], me["username"], me["first_name"]) == ("Ada Lovelace", "ada_web", "Ada")
    found = await bob.ok("resolve", username="ada_web")
    assert found["users"][0]["name"] == "Ada Lovelace"
    await bob.ok("send", chat=found["chat"], text="hello Ada")
    await _next_update(alice, "message")

    await alice.ok("profile", first_name="Ada", last_name="King", username="ada_web")

    renamed = await _next_update(bob, "user")
    assert renamed["update"]["user"] == {
        "id": me["id"],
        "name": "Ada King",
        "username": "ada_web",
    }
    taken = await bob.call("profile", first_name="Bob", username="ada_web")
    assert taken["error"] == {"code": 400, "message": "USERNAME_OCCUPIED"}


async def test_a_group_is_created_by_usernames_listed_and_its_service_messages_shown(
    http: aiohttp.ClientSession, server: LoopgramServer
) -> None:
    alice, bob = await open_tab(http, server), await open_tab(http, server)
    await alice.ok("sign_in", phone="+999 66 5550031", code="12345")
    await bob.ok("sign_in", phone="+999 66 5550032", code="12345")
    await bob.ok("profile", first_name="Bob", username="bob_web")
    server.core.create_bot("club_bot")
    missing = await alice.call("create_group", title="Club", usernames=["nobody_here"])
    assert missing["error"]["message"] == "USERNAME_NOT_OCCUPIED"

    created = await alice.ok("create_group", title="Club", usernames=["@bob_web", "club_bot"])

    chat = created["chat"]
    assert chat < 0 and created["chats"][0]["title"] == "Club"
    assert created["chats"][0]["members"] == 3
    (service,) = created["messages"]
    assert service["chat"] == chat and service["out"]
    assert service["service"]["kind"] == "create" and service["service"]["title"] == "Club"
    pushed = await _next_update(bob, "message")
    assert pushed["update"]["message"]["service"]["kind"] == "create"
    assert pushed["chats"][0]["id"] == chat
    dialogs = await bob.ok("dialogs")
    assert [d["chat"] for d in dialogs["dialogs"]] == [chat]
    assert dialogs["chats"][0]["title"] == "Club"
    await bob.ok("send", chat=chat, text="hi all")
    said = await _next_update(alice, "message")
    assert said["update"]["message"]["text"] == "hi all"
    assert said["update"]["message"]["chat"] == chat
    history = await bob.ok("history", chat=chat)
    assert [m.get("service", {}).get("kind") for m in history["messages"]] == ["create", None]
    # A group id the tab never saw is refused, as an unknown peer is.
    assert (await alice.call("add_member", chat=-424242, username="bob_web"))["error"][
        "message"
    ] == "CHAT_ID_INVALID"


async def test_channels_and_supergroups_are_listed_and_opened_with_their_history(
    http: aiohttp.ClientSession, server: LoopgramServer
) -> None:
    tab = await open_tab(http, server)
    me = (await tab.ok("sign_in", phone="+999 66 5550041", code="12345"))["me"]
    account = server.storage.accounts.get(me["id"])
    assert account is not None
    channels = server.core.services.channels
    channels.create(account, "News", "", megagroup=False)
    channels.create(account, "Talk", "", megagroup=True)

    dialogs = await tab.ok("dialogs")

    shown = {c["title"]: c for c in dialogs["chats"]}
    assert shown["News"]["kind"] == "channel" and shown["Talk"]["kind"] == "supergroup"
    for chat in shown.values():
        # The Bot API's ids: -100 followed by the channel id.
        assert str(chat["id"]).startswith("-100")
        assert chat["creator"] and chat["admin"] and not chat["left"]
    assert sorted(d["chat"] for d in dialogs["dialogs"]) == sorted(c["id"] for c in shown.values())
    history = await tab.ok("history", chat=shown["News"]["id"])
    (created,) = history["messages"]
    assert created["service"] == {"kind": "create", "title": "News", "users": []}
    # A broadcast post speaks for the channel: no sender.
    assert created["from"] is None and created["chat"] == shown["News"]["id"]
    sent = await tab.ok("send", chat=shown["Talk"]["id"], text="first words")
    assert sent["message"]["chat"] == shown["Talk"]["id"] and sent["message"]["from"] == me["id"]
    # A channel id the tab never saw is refused, as an unknown peer is.
    unseen = await tab.call("history", chat=-(10**12 + 987654))
    assert unseen["error"]["message"] == "CHANNEL_INVALID"


async def test_channel_rules_reach_the_page_joining_posting_renaming_and_removing(
    http: aiohttp.ClientSession, server: LoopgramServer
) -> None:
    ada, bob = await open_tab(http, server), await open_tab(http, server)
    await ada.ok("sign_in", phone="+999 66 5550051", code="12345")
    await ada.ok("profile", first_name="Ada", username="ada_chan")
    bob_me = (await bob.ok("sign_in", phone="+999 66 5550052", code="12345"))["me"]
    await bob.ok("profile", first_name="Bob", username="bob_chan")
    server.core.create_bot("post_bot")
    created = await ada.ok("create_group", kind="channel", title="News", usernames=["post_bot"])
    news = created["chat"]
    assert created["chats"][0]["kind"] == "channel"
    # A bot added to a broadcast channel is one of its admins.
    members = (await ada.ok("members", chat=news))["members"]
    assert sorted(m["role"] for m in members) == ["admin", "creator"]

    await ada.ok("set_username", chat=news, username="news_web")
    found = await bob.ok("resolve", username="@news_web")
    assert found["chat"] == news and found["chats"][0]["left"]
    await bob.ok("history", chat=news)  # a public channel reads before joining
    await bob.ok("join", chat=news)
    refused = await bob.call("send", chat=news, text="may I?")
    assert refused["error"] == {"code": 400, "message": "CHAT_ADMIN_REQUIRED"}
    assert (await bob.call("rename", chat=news, title="Mine"))["error"][
        "message"
    ] == "CHAT_ADMIN_REQUIRED"
    post = await ada.ok("send", chat=news, text="Hello subscribers")
    pushed = await _next_update(bob, "message")
    assert pushed["update"]["message"]["id"] == post["message"]["id"]
    assert pushed["update"]["message"]["from"] is None

    renamed = await ada.ok("rename", chat=news, title="Daily news")
    assert renamed["chats"][0]["title"] == "Daily news"
    assert renamed["messages"][0]["service"] == {"kind": "title", "title": "Daily news"}
    seen = await _next_update(bob, "message")
    assert seen["chats"][0]["title"] == "Daily news"
    same = await ada.call("rename", chat=news, title="Daily news")
    assert same["error"]["message"] == "CHAT_NOT_MODIFIED"

    # Ada learns who Bob is from the member list, as the page's Manage dialog shows it.
    listed = await ada.ok("members", chat=news)
    assert {"user": bob_me["id"], "role": "member"} in listed["members"]
    await ada.ok("remove_member", chat=news, user=bob_me["id"])
    removed = await _next_update(bob, "chat")
    assert removed["update"]["chat"] == news and removed["chats"][0]["left"]
    assert (await bob.call("join", chat=news))["error"]["message"] == "CHANNEL_PRIVATE"

    talk = (await ada.ok("create_group", kind="supergroup", title="Talk", usernames=["bob_chan"]))[
        "chat"
    ]
    await bob.ok("leave", chat=talk)
    left = await _next_update(ada, "message")
    assert left["update"]["message"]["service"] == {"kind": "remove", "users": [bob_me["id"]]}
    pair = (await ada.ok("create_group", title="Pair", usernames=["bob_chan"]))["chat"]
    await _next_update(bob, "message")
    gone = await bob.ok("leave", chat=pair)
    assert gone["messages"][0]["service"] == {"kind": "remove", "users": [bob_me["id"]]}
    assert gone["chats"][0]["left"]
