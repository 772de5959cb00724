"""Web layer: one browser tab as a client of the server.

A tab is an MTProto-less session like any other: it gets an auth key of its own in storage
and a ``SessionContext`` from ``ServerCore.open_session``, signs in with ``auth.sendCode`` /
``auth.signIn`` / ``auth.signUp``, and every action is a TL request through
``ServerCore.dispatch`` -- the same dispatcher, handlers, services, flood limits and callback
rules an MTProto client meets. Pushed ``Updates`` come from the hub through the session's
sink. Only the encoding differs: JSON over a WebSocket instead of TL over MTProto.
"""

from __future__ import annotations

import base64
import os
import struct
import time
from collections.abc import Callable
from typing import Any, Final

import loopgram.tl.functions.account as account_fn
import loopgram.tl.functions.auth as auth_fn
import loopgram.tl.functions.channels as channels_fn
import loopgram.tl.functions.contacts as contacts_fn
import loopgram.tl.functions.messages as messages_fn
from loopgram.server.core import ServerCore
from loopgram.tl import abcs, types
from loopgram.tl.types import auth as auth_types
from loopgram.tl.types import channels as channels_types
from loopgram.tl.types import contacts as contacts_types
from loopgram.tl.types import messages as msg_types
from loopgram.web.view import (
    CHANNEL_SHIFT,
    Json,
    chat_json,
    message_json,
    updates_events,
    user_json,
)

API_ID: Final = 4
"""What the tab reports as its api_id (loopgram accepts any)."""
HISTORY_LIMIT: Final = 100
_AUTH_KEY_BYTES: Final = 256
_LONG: Final = struct.Struct("<q")


class WebError(Exception):
    """An answer the page shows as an error: an rpc error's code and name, or a bad op."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


def _signed64(data: bytes) -> int:
    value: int = _LONG.unpack(data)[0]
    return value


class WebSession:
    """The server side of one tab: ``handle(op, params)`` -> result (or ``WebError``)."""

    def __init__(
        self,
        core: ServerCore,
        emit: Callable[[Json], None],
        *,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.core = core
        self._emit = emit
        self._random = random_bytes
        # A fresh auth key per tab: tabs are separate devices, and logging one out leaves
        # the others signed in.
        self.auth_key_id = _signed64(random_bytes(8))
        core.storage.auth_keys.put(self.auth_key_id, random_bytes(_AUTH_KEY_BYTES))
        self.session = core.open_session(
            self.auth_key_id, _signed64(random_bytes(8)), self._on_updates
        )
        self._hashes: dict[int, int] = {}
        self._chats: set[int] = set()
        """Ids of the basic groups this tab has seen (positive, as on the wire)."""
        self._channels: dict[int, int] = {}
        """Channel id -> this user's access hash, for the supergroups and channels seen."""
        self._kinds: dict[int, str] = {}
        """Channel id -> ``supergroup`` or ``channel``."""
        self._bots: set[int] = set()
        self._usernames: dict[str, int] = {}
        self.closed = False

    @property
    def me(self) -> int | None:
        account = self.session.account
        return None if account is None else account.id

    def close(self) -> None:
        """The tab is gone: its session and auth key go with it."""
        if self.closed:
            return
        self.closed = True
        self.session.close()
        self.core.storage.auth_keys.delete(self.auth_key_id)

    # -- calls --------------------------------------------------------------------------------

    async def call(self, request: object) -> Any:
        answer = await self.core.dispatch(self.session, request)
        if answer.error is not None:
            raise WebError(answer.error.code, answer.error.message)
        return answer.result

    def _remember(self, users: list[abcs.User]) -> list[Json]:
        out = []
        for user in users:
            if isinstance(user, types.User) and user.access_hash is not None:
                self._hashes[user.id] = user.access_hash
                if user.bot:
                    self._bots.add(user.id)
            shown = user_json(user)
            if shown is not None:
                out.append(shown)
        return out

    def _remember_chats(self, chats: list[abcs.Chat]) -> list[Json]:
        out = []
        for chat in chats:
            shown = chat_json(chat)
            if shown is not None:
                if shown["kind"] == "group":
                    self._chats.add(-shown["id"])
                elif isinstance(chat, types.Channel | types.ChannelForbidden):
                    self._kinds[chat.id] = shown["kind"]
                    if chat.access_hash is not None:
                        self._channels[chat.id] = chat.access_hash
                out.append(shown)
        return out

    def _input_user(self, user_id: int) -> types.InputUser:
        access_hash = self._hashes.get(user_id)
        if access_hash is None:
            raise WebError(400, "USER_ID_INVALID")
        return types.InputUser(user_id=user_id, access_hash=access_hash)

    def _group(self, chat: object) -> int:
        """The wire id of the group the page calls ``chat`` (negative)."""
        if not isinstance(chat, int) or isinstance(chat, bool) or -chat not in self._chats:
            raise WebError(400, "CHAT_ID_INVALID")
        return -chat

    def _channel(self, chat: object) -> types.InputChannel | None:
        """The supergroup or channel the page calls ``chat`` (``-(10**12 + id)``), if it is
        one this tab has seen; ``None`` for any other id."""
        if not isinstance(chat, int) or isinstance(chat, bool) or chat > -CHANNEL_SHIFT:
            return None
        channel_id = -chat - CHANNEL_SHIFT
        access_hash = self._channels.get(channel_id)
        if access_hash is None:
            raise WebError(400, "CHANNEL_INVALID")
        return types.InputChannel(channel_id=channel_id, access_hash=access_hash)

    def _peer(
        self, user_id: object
    ) -> types.InputPeerUser | types.InputPeerChat | types.InputPeerChannel:
        """The peer the page calls ``user_id``: a user, (negative) a basic group, or a
        supergroup or channel (``-(10**12 + id)``)."""
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise WebError(400, "PEER_ID_INVALID")
        channel = self._channel(user_id)
        if channel is not None:
            return types.InputPeerChannel(
                channel_id=channel.channel_id, access_hash=channel.access_hash
            )
        if user_id < 0 and -user_id in self._chats:
            return types.InputPeerChat(chat_id=-user_id)
        access_hash = self._hashes.get(user_id)
        if access_hash is None:
            raise WebError(400, "PEER_ID_INVALID")
        return types.InputPeerUser(user_id=user_id, access_hash=access_hash)

    def _on_updates(self, updates: abcs.Updates) -> None:
        me = self.me
        if me is None or self.closed:
            return
        if isinstance(updates, types.Updates | types.UpdatesCombined):
            self._remember(list(updates.users))
            self._remember_chats(list(updates.chats))
        events, users, chats = updates_events(updates, me)
        for event in events:
            self._emit({"type": "update", "update": event, "users": users, "chats": chats})

    # -- operations ---------------------------------------------------------------------------

    async def handle(self, op: str, params: dict[str, Any]) -> Any:
        handler = _OPS.get(op)
        if handler is None:
            raise WebError(400, f"unknown operation {op!r}")
        return await handler(self, params)

    async def sign_in(self, params: dict[str, Any]) -> Json:
        phone = _text(params, "phone")
        code = _text(params, "code")
        sent = await self.call(
            auth_fn.SendCode(
                phone_number=phone, api_id=API_ID, api_hash="web", settings=types.CodeSettings()
            )
        )
        if not isinstance(sent, auth_types.SentCode):
            raise WebError(500, "INTERNAL")
        result = await self.call(
            auth_fn.SignIn(
                phone_number=phone, phone_code_hash=sent.phone_code_hash, phone_code=code
            )
        )
        if isinstance(result, auth_types.AuthorizationSignUpRequired):
            # loopgram signs a new number up on its first signIn; a server that asks for
            # auth.signUp gets it, with the name Telegram's apps would ask for.
            result = await self.call(
                auth_fn.SignUp(
                    phone_number=phone,
                    phone_code_hash=sent.phone_code_hash,
                    first_name=f"User {phone[-4:]}",
                    last_name="",
                )
            )
        if not isinstance(result, auth_types.Authorization):
            raise WebError(500, "INTERNAL")
        me = self._remember([result.user])
        return {"me": me[0] if me else None}

    async def create_user(self, params: dict[str, Any]) -> Json:
        """One click: a new phone number (``+999 66`` and 7 random digits), signed in with
        the login code like any other."""
        digits = "".join(str(b % 10) for b in self._random(7))
        return await self.sign_in({"phone": f"+99966{digits}", "code": self.core.config.login_code})

    async def dialogs(self, params: dict[str, Any]) -> Json:
        result = await self.call(
            messages_fn.GetDialogs(
                offset_date=0, offset_id=0, offset_peer=types.InputPeerEmpty(), limit=100, hash=0
            )
        )
        if not isinstance(result, msg_types.Dialogs | msg_types.DialogsSlice):
            return {"dialogs": [], "users": [], "chats": []}
        users = self._remember(list(result.users))
        chats = self._remember_chats(list(result.chats))
        last: dict[tuple[int | None, int], Json] = {}
        for message in result.messages:
            shown = message_json(message)
            if shown is not None:
                last[(shown["chat"], shown["id"])] = shown
        dialogs = []
        for dialog in result.dialogs:
            if not isinstance(dialog, types.Dialog):
                continue
            if isinstance(dialog.peer, types.PeerUser):
                chat = dialog.peer.user_id
            elif isinstance(dialog.peer, types.PeerChat):
                chat = -dialog.peer.chat_id
            elif isinstance(dialog.peer, types.PeerChannel):
                chat = -(CHANNEL_SHIFT + dialog.peer.channel_id)
            else:
                continue
            dialogs.append(
                {
                    "chat": chat,
                    "top": last.get((chat, dialog.top_message)),
                    "unread": dialog.unread_count,
                }
            )
        return {"dialogs": dialogs, "users": users, "chats": chats}

    async def resolve(self, params: dict[str, Any]) -> Json:
        """A user, a bot or a public supergroup or channel by ``@username``."""
        username = _text(params, "username").strip().lstrip("@")
        result = await self.call(contacts_fn.ResolveUsername(username=username))
        if not isinstance(result, contacts_types.ResolvedPeer):
            raise WebError(400, "USERNAME_NOT_OCCUPIED")
        users = self._remember(list(result.users))
        chats = self._remember_chats(list(result.chats))
        if isinstance(result.peer, types.PeerUser):
            chat = result.peer.user_id
        elif isinstance(result.peer, types.PeerChannel):
            chat = -(CHANNEL_SHIFT + result.peer.channel_id)
        else:
            raise WebError(400, "USERNAME_NOT_OCCUPIED")
        return {"chat": chat, "users": users, "chats": chats}

    async def history(self, params: dict[str, Any]) -> Json:
        """The newest ``HISTORY_LIMIT`` messages of a chat, or those before ``offset_id``."""
        peer = self._peer(params.get("chat"))
        offset_id = params.get("offset_id", 0)
        if not isinstance(offset_id, int) or isinstance(offset_id, bool) or offset_id < 0:
            raise WebError(400, "OFFSET_ID_INVALID")
        result = await self.call(
            messages_fn.GetHistory(
                peer=peer,
                offset_id=offset_id,
                offset_date=0,
                add_offset=0,
                limit=HISTORY_LIMIT,
                max_id=0,
                min_id=0,
                hash=0,
            )
        )
        messages = getattr(result, "messages", [])
        users = self._remember(list(getattr(result, "users", [])))
        chats = self._remember_chats(list(getattr(result, "chats", [])))
        shown = [m for m in map(message_json, messages) if m is not None]
        shown.reverse()  # oldest first, as the page lays them out
        return {
            "messages": shown,
            "users": users,
            "chats": chats,
            "more": len(messages) >= HISTORY_LIMIT,
        }

    async def send(self, params: dict[str, Any]) -> Json:
        peer = self._peer(params.get("chat"))
        text = _text(params, "text")
        random_id = _signed64(self._random(8))
        result = await self.call(
            messages_fn.SendMessage(peer=peer, message=text, random_id=random_id)
        )
        me = self.me or 0
        if isinstance(result, types.UpdateShortSentMessage):
            message: Json = {
                "id": result.id,
                "chat": params["chat"],
                "from": me,
                "out": True,
                "text": text,
                "entities": [],
                "markup": None,
                "date": result.date,
                "edit_date": None,
                "via_bot": None,
            }
            return {"message": message}
        events, _, _ = updates_events(result, me)
        for event in events:
            if event["type"] == "message":
                return {"message": event["message"]}
        return {"message": None}

    async def press(self, params: dict[str, Any]) -> Json:
        peer = self._peer(params.get("chat"))
        msg_id = params.get("msg_id")
        if not isinstance(msg_id, int) or isinstance(msg_id, bool):
            raise WebError(400, "MESSAGE_ID_INVALID")
        try:
            data = base64.b64decode(_text(params, "data"), validate=True)
        except ValueError:
            raise WebError(400, "DATA_INVALID") from None
        started = time.perf_counter()
        result = await self.call(
            messages_fn.GetBotCallbackAnswer(peer=peer, msg_id=msg_id, data=data)
        )
        if not isinstance(result, msg_types.BotCallbackAnswer):
            raise WebError(500, "INTERNAL")
        return {
            "alert": bool(result.alert),
            "message": result.message,
            "url": result.url,
            "cache_time": result.cache_time,
            "server_ms": round((time.perf_counter() - started) * 1000, 3),
        }

    async def inline(self, params: dict[str, Any]) -> Json:
        """Inline mode: ``@bot query`` typed in chat ``chat`` -> the bot's results."""
        peer = self._peer(params.get("chat"))
        username = _text(params, "bot").lstrip("@").lower()
        bot_id = self._usernames.get(username)
        if bot_id is None:
            found = await self.resolve({"username": username})
            if found["chat"] <= 0:
                raise WebError(400, "BOT_INVALID")
            bot_id = self._usernames[username] = found["chat"]
        bot = types.InputUser(user_id=bot_id, access_hash=self._hashes[bot_id])
        result = await self.call(
            messages_fn.GetInlineBotResults(
                bot=bot, peer=peer, query=_text(params, "query"), offset=""
            )
        )
        if not isinstance(result, msg_types.BotResults):
            raise WebError(500, "INTERNAL")
        self._remember(list(result.users))
        shown = []
        for item in result.results:
            send = getattr(item, "send_message", None)
            shown.append(
                {
                    "id": getattr(item, "id", ""),
                    "title": getattr(item, "title", None),
                    "description": getattr(item, "description", None),
                    "text": send.message if isinstance(send, types.BotInlineMessageText) else None,
                }
            )
        return {"query_id": str(result.query_id), "bot": bot_id, "results": shown}

    async def send_inline(self, params: dict[str, Any]) -> Json:
        peer = self._peer(params.get("chat"))
        try:
            query_id = int(_text(params, "query_id"))
        except ValueError:
            raise WebError(400, "QUERY_ID_INVALID") from None
        result = await self.call(
            messages_fn.SendInlineBotResult(
                peer=peer,
                random_id=_signed64(self._random(8)),
                query_id=query_id,
                id=_text(params, "id"),
            )
        )
        events, _, _ = updates_events(result, self.me or 0)
        for event in events:
            if event["type"] == "message":
                return {"message": event["message"]}
        return {"message": None}

    async def profile(self, params: dict[str, Any]) -> Json:
        """The tab's own name (``account.updateProfile``) and, if given, its username
        (``account.updateUsername``; an empty one clears it)."""
        first = _text(params, "first_name")
        last = params.get("last_name", "")
        if not isinstance(last, str):
            raise WebError(400, "LASTNAME_INVALID")
        user = await self.call(account_fn.UpdateProfile(first_name=first, last_name=last))
        username = params.get("username")
        if username is not None:
            if not isinstance(username, str):
                raise WebError(400, "USERNAME_INVALID")
            username = username.strip().lstrip("@")
            if username != (getattr(user, "username", None) or ""):
                user = await self.call(account_fn.UpdateUsername(username=username))
        me = self._remember([user])
        return {"me": me[0] if me else None}

    def _answer_of(self, *results: object) -> Json:
        """What the page needs of group changes: the groups, and the service messages."""
        answer: Json = {"chats": [], "users": [], "messages": []}
        for result in results:
            # messages.invitedUsers and messages.chatInviteJoinResultOk wrap their Updates.
            updates = result if isinstance(result, types.Updates) else getattr(result, "updates", 0)
            if not isinstance(updates, types.Updates):
                raise WebError(500, "INTERNAL")
            answer["users"] += self._remember(list(updates.users))
            answer["chats"] += self._remember_chats(list(updates.chats))
            events, _, _ = updates_events(updates, self.me or 0)
            answer["messages"] += [e["message"] for e in events if e["type"] == "message"]
        return answer

    async def _users_named(self, names: object) -> list[types.InputUser]:
        if not isinstance(names, list):
            raise WebError(400, "USERS_INVALID")
        found: list[types.InputUser] = []
        for name in names:
            if not isinstance(name, str) or not name.strip():
                raise WebError(400, "USERNAME_INVALID")
            resolved = await self.resolve({"username": name.strip()})
            if resolved["chat"] <= 0:
                raise WebError(400, "USER_ID_INVALID")  # a channel's username
            found.append(self._input_user(resolved["chat"]))
        return found

    async def _invite(self, channel: types.InputChannel, users: list[types.InputUser]) -> Json:
        """Members into a supergroup (``channels.inviteToChannel``); into a broadcast
        channel, bots join as admins that may post (``channels.editAdmin``), as the apps
        add them, and people as subscribers."""
        if not users:
            return self._answer_of()
        broadcast = self._kind(channel) == "channel"
        bots = [u for u in users if broadcast and u.user_id in self._bots]
        people: list[abcs.InputUser] = [u for u in users if u not in bots]
        results: list[object] = []
        if people:
            results.append(
                await self.call(channels_fn.InviteToChannel(channel=channel, users=people))
            )
        for bot in bots:
            results.append(
                await self.call(
                    channels_fn.EditAdmin(
                        channel=channel, user_id=bot, admin_rights=_POSTING_BOT, rank=""
                    )
                )
            )
        return self._answer_of(*results)

    def _kind(self, channel: types.InputChannel) -> str:
        return self._kinds.get(channel.channel_id, "supergroup")

    async def create_group(self, params: dict[str, Any]) -> Json:
        """A basic group (``messages.createChat``), a supergroup or a broadcast channel
        (``channels.createChannel``, then the members invited) with the members named by
        ``@username``; ``kind`` is ``group`` (the default), ``supergroup`` or ``channel``."""
        kind = params.get("kind", "group")
        if kind not in ("group", "supergroup", "channel"):
            raise WebError(400, "KIND_INVALID")
        users = await self._users_named(params.get("usernames", []))
        title = _text(params, "title")
        if kind == "group":
            answer = self._answer_of(
                await self.call(messages_fn.CreateChat(users=list(users), title=title))
            )
        else:
            created = self._answer_of(
                await self.call(
                    channels_fn.CreateChannel(
                        title=title,
                        about="",
                        megagroup=kind == "supergroup",
                        broadcast=kind == "channel",
                    )
                )
            )
            channel = self._channel(created["chats"][0]["id"] if created["chats"] else None)
            if channel is None:
                raise WebError(500, "INTERNAL")
            invited = await self._invite(channel, users)
            answer = {key: created[key] + invited[key] for key in created}
        answer["chat"] = answer["chats"][0]["id"] if answer["chats"] else None
        return answer

    async def add_member(self, params: dict[str, Any]) -> Json:
        """One more member, by ``@username``: ``messages.addChatUser`` in a basic group,
        ``channels.inviteToChannel`` (or, for a bot in a channel, ``channels.editAdmin``)."""
        chat = params.get("chat")
        channel = self._channel(chat)
        (user,) = await self._users_named([_text(params, "username")])
        if channel is not None:
            return await self._invite(channel, [user])
        result = await self.call(
            messages_fn.AddChatUser(chat_id=self._group(chat), user_id=user, fwd_limit=0)
        )
        return self._answer_of(result)

    async def remove_member(self, params: dict[str, Any]) -> Json:
        """Remove (kick) a member: ``messages.deleteChatUser`` in a basic group,
        ``channels.editBanned`` with ``view_messages`` in a supergroup or channel (the
        apps' "remove": the user is out and cannot join again until unbanned)."""
        chat = params.get("chat")
        user = self._input_user(_int(params, "user", "USER_ID_INVALID"))
        channel = self._channel(chat)
        if channel is not None:
            peer = types.InputPeerUser(user_id=user.user_id, access_hash=user.access_hash)
            result = await self.call(
                channels_fn.EditBanned(
                    channel=channel,
                    participant=peer,
                    banned_rights=types.ChatBannedRights(view_messages=True, until_date=0),
                )
            )
        else:
            result = await self.call(
                messages_fn.DeleteChatUser(chat_id=self._group(chat), user_id=user)
            )
        return self._answer_of(result)

    async def rename(self, params: dict[str, Any]) -> Json:
        """A new title: ``messages.editChatTitle`` or ``channels.editTitle``."""
        chat = params.get("chat")
        title = _text(params, "title")
        channel = self._channel(chat)
        if channel is not None:
            result = await self.call(channels_fn.EditTitle(channel=channel, title=title))
        else:
            result = await self.call(
                messages_fn.EditChatTitle(chat_id=self._group(chat), title=title)
            )
        return self._answer_of(result)

    async def set_username(self, params: dict[str, Any]) -> Json:
        """``channels.updateUsername``: the creator makes a supergroup or channel public
        (found and joined by ``@username``), or private again with an empty one."""
        channel = self._channel(params.get("chat"))
        if channel is None:
            raise WebError(400, "CHANNEL_INVALID")
        username = _text(params, "username").strip().lstrip("@")
        await self.call(channels_fn.UpdateUsername(channel=channel, username=username))
        found = await self.call(channels_fn.GetChannels(id=[channel]))
        return {"chats": self._remember_chats(list(getattr(found, "chats", [])))}

    async def join(self, params: dict[str, Any]) -> Json:
        """``channels.joinChannel``: a public supergroup or channel found by username."""
        channel = self._channel(params.get("chat"))
        if channel is None:
            raise WebError(400, "CHANNEL_INVALID")
        return self._answer_of(await self.call(channels_fn.JoinChannel(channel=channel)))

    async def leave(self, params: dict[str, Any]) -> Json:
        """``channels.leaveChannel``, or ``messages.deleteChatUser`` of oneself."""
        chat = params.get("chat")
        channel = self._channel(chat)
        if channel is not None:
            result = await self.call(channels_fn.LeaveChannel(channel=channel))
        else:
            me = types.InputUserSelf()
            result = await self.call(
                messages_fn.DeleteChatUser(chat_id=self._group(chat), user_id=me)
            )
        return self._answer_of(result)

    async def members(self, params: dict[str, Any]) -> Json:
        """Who is in the group: ``messages.getFullChat``'s participants, or
        ``channels.getParticipants`` (the newest ``MEMBERS_LIMIT``). Each with its role:
        ``creator``, ``admin`` or ``member``."""
        chat = params.get("chat")
        channel = self._channel(chat)
        if channel is not None:
            found = await self.call(
                channels_fn.GetParticipants(
                    channel=channel,
                    filter=types.ChannelParticipantsRecent(),
                    offset=0,
                    limit=MEMBERS_LIMIT,
                    hash=0,
                )
            )
            if not isinstance(found, channels_types.ChannelParticipants):
                raise WebError(500, "INTERNAL")
            listed: list[object] = list(found.participants)
            users = found.users
        else:
            full = await self.call(messages_fn.GetFullChat(chat_id=self._group(chat)))
            participants = getattr(full.full_chat, "participants", None)
            listed = list(getattr(participants, "participants", []))
            users = full.users
        shown = self._remember(list(users))
        members = []
        for item in listed:
            user_id = getattr(item, "user_id", None)
            if not isinstance(user_id, int):
                continue  # a banned peer, not a member
            members.append({"user": user_id, "role": _ROLES.get(type(item), "member")})
        return {"members": members, "users": shown}

    async def log_out(self, params: dict[str, Any]) -> Json:
        await self.call(auth_fn.LogOut())
        return {}


def _int(params: dict[str, Any], name: str, error: str) -> int:
    value = params.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise WebError(400, error)
    return value


MEMBERS_LIMIT: Final = 200
_ROLES: Final[dict[type[Any], str]] = {
    types.ChatParticipantCreator: "creator",
    types.ChatParticipantAdmin: "admin",
    types.ChannelParticipantCreator: "creator",
    types.ChannelParticipantAdmin: "admin",
}
_POSTING_BOT: Final = types.ChatAdminRights(
    post_messages=True, edit_messages=True, delete_messages=True
)
"""What a bot added to a broadcast channel may do: post, edit and delete posts."""


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str):
        raise WebError(400, f"{name.upper()}_INVALID")
    return value


_OPS: Final[dict[str, Callable[[WebSession, dict[str, Any]], Any]]] = {
    "sign_in": WebSession.sign_in,
    "create_user": WebSession.create_user,
    "dialogs": WebSession.dialogs,
    "resolve": WebSession.resolve,
    "history": WebSession.history,
    "send": WebSession.send,
    "press": WebSession.press,
    "inline": WebSession.inline,
    "send_inline": WebSession.send_inline,
    "profile": WebSession.profile,
    "create_group": WebSession.create_group,
    "add_member": WebSession.add_member,
    "remove_member": WebSession.remove_member,
    "rename": WebSession.rename,
    "set_username": WebSession.set_username,
    "join": WebSession.join,
    "leave": WebSession.leave,
    "members": WebSession.members,
    "log_out": WebSession.log_out,
}

__all__ = ["WebError", "WebSession"]
