"""Web layer: TL objects as the JSON the page renders (messages, users, groups, keyboards).

Pure functions over TL: no I/O. Entity offsets stay in UTF-16 code units, which is what a
JavaScript string indexes, so the page slices the text exactly as Telegram's apps do.
"""

from __future__ import annotations

import base64
from typing import Any, Final

from loopgram.tl import abcs, types

Json = dict[str, Any]

_ENTITY_KINDS: dict[type[Any], str] = {
    types.MessageEntityBold: "bold",
    types.MessageEntityItalic: "italic",
    types.MessageEntityUnderline: "underline",
    types.MessageEntityStrike: "strike",
    types.MessageEntitySpoiler: "spoiler",
    types.MessageEntityCode: "code",
    types.MessageEntityPre: "pre",
    types.MessageEntityUrl: "url",
    types.MessageEntityTextUrl: "text_url",
    types.MessageEntityEmail: "email",
    types.MessageEntityMention: "mention",
    types.MessageEntityMentionName: "mention_name",
    types.MessageEntityHashtag: "hashtag",
    types.MessageEntityBotCommand: "bot_command",
    types.MessageEntityBlockquote: "blockquote",
    types.MessageEntityPhone: "phone",
    types.MessageEntityCashtag: "cashtag",
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def user_json(user: abcs.User) -> Json | None:
    if not isinstance(user, types.User):
        return None
    name = " ".join(p for p in (user.first_name, user.last_name) if p) or (
        user.username or str(user.id)
    )
    return {
        "id": user.id,
        "name": name,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "username": user.username,
        "bot": bool(user.bot),
        "phone": user.phone,
    }


def entities_json(entities: list[abcs.MessageEntity] | None) -> list[Json]:
    out: list[Json] = []
    for entity in entities or ():
        kind = _ENTITY_KINDS.get(type(entity))
        if kind is None:
            continue
        # Every constructor of the kinds above has offset and length; the abstract type
        # does not say so.
        offset: int = getattr(entity, "offset", 0)
        length: int = getattr(entity, "length", 0)
        item: Json = {"type": kind, "offset": offset, "length": length}
        if isinstance(entity, types.MessageEntityTextUrl):
            item["url"] = entity.url
        elif isinstance(entity, types.MessageEntityPre):
            item["language"] = entity.language
        out.append(item)
    return out


def _inline_button(button: abcs.KeyboardInlineButton) -> Json:
    if not isinstance(button, types.KeyboardInlineButton):
        return {"text": "?", "kind": "unsupported"}
    kind = button.type
    item: Json = {"text": button.text}
    if isinstance(kind, types.InlineButtonTypeCallback):
        item["kind"] = "callback"
        item["data"] = b64(kind.data or b"")
    elif isinstance(kind, types.InlineButtonTypeUrl | types.InlineButtonTypeWebView):
        item["kind"] = "url"
        item["url"] = kind.url
    elif isinstance(kind, types.InlineButtonTypeUrlAuth):
        item["kind"] = "url"
        item["url"] = kind.url
    elif isinstance(kind, types.InlineButtonTypeSwitchInline):
        item["kind"] = "switch_inline"
        item["query"] = kind.query
        item["same_peer"] = bool(kind.same_peer)
    elif isinstance(kind, types.InlineButtonTypeGame):
        item["kind"] = "game"
    elif isinstance(kind, types.InlineButtonTypeCopy):
        item["kind"] = "copy"
        item["copy"] = kind.copy_text
    else:
        item["kind"] = "unsupported"
    return item


def markup_json(markup: abcs.ReplyMarkup | None) -> Json | None:
    if isinstance(markup, types.ReplyInlineMarkup):
        rows = [
            [_inline_button(b) for b in row.buttons]
            for row in markup.rows
            if isinstance(row, types.KeyboardInlineButtonRow)
        ]
        return {"kind": "inline", "rows": rows}
    if isinstance(markup, types.ReplyKeyboardMarkup):
        rows = [
            [{"text": b.text} for b in row.buttons if isinstance(b, types.KeyboardButton)]
            for row in markup.rows
            if isinstance(row, types.KeyboardButtonRow)
        ]
        return {
            "kind": "reply",
            "rows": rows,
            "resize": bool(markup.resize),
            "single_use": bool(markup.single_use),
            "placeholder": markup.placeholder,
        }
    if isinstance(markup, types.ReplyKeyboardHide):
        return {"kind": "hide"}
    if isinstance(markup, types.ReplyKeyboardForceReply):
        return {"kind": "force_reply", "placeholder": markup.placeholder}
    return None


def _peer_id(peer: abcs.Peer | None) -> int | None:
    if isinstance(peer, types.PeerUser):
        return peer.user_id
    if isinstance(peer, types.PeerChat):
        return -peer.chat_id
    if isinstance(peer, types.PeerChannel):
        return -(CHANNEL_SHIFT + peer.channel_id)
    return None


CHANNEL_SHIFT: Final = 1_000_000_000_000
"""A channel's page id is ``-(CHANNEL_SHIFT + channel_id)``, the Bot API's ``-100...``."""


def chat_json(chat: abcs.Chat) -> Json | None:
    """A group or channel as the page lists it. Ids are the Bot API's: a basic group's is
    ``-chat_id``, a channel's or supergroup's ``-(10**12 + channel_id)``, so users, groups
    and channels never clash. ``kind`` is ``group``, ``supergroup`` or ``channel``."""
    if isinstance(chat, types.Chat):
        return {
            "id": -chat.id,
            "kind": "group",
            "title": chat.title,
            "members": chat.participants_count,
            "left": bool(chat.left),
            "creator": bool(chat.creator),
            "admin": bool(chat.creator) or chat.admin_rights is not None,
            "username": None,
        }
    if isinstance(chat, types.ChatForbidden):
        return {
            "id": -chat.id,
            "kind": "group",
            "title": chat.title,
            "members": 0,
            "left": True,
            "creator": False,
            "admin": False,
            "username": None,
        }
    if isinstance(chat, types.ChannelForbidden):
        return {
            "id": -(CHANNEL_SHIFT + chat.id),
            "kind": "supergroup" if chat.megagroup else "channel",
            "title": chat.title,
            "members": 0,
            "left": True,
            "creator": False,
            "admin": False,
            "username": None,
        }
    if isinstance(chat, types.Channel):
        return {
            "id": -(CHANNEL_SHIFT + chat.id),
            "kind": "supergroup" if chat.megagroup else "channel",
            "title": chat.title,
            "members": chat.participants_count or 0,
            "left": bool(chat.left),
            "creator": bool(chat.creator),
            # Who may post in a broadcast channel and manage members anywhere.
            "admin": bool(chat.creator) or chat.admin_rights is not None,
            "username": chat.username,
        }
    return None


def _action_json(action: abcs.MessageAction) -> Json:
    if isinstance(action, types.MessageActionChatCreate):
        return {"kind": "create", "title": action.title, "users": list(action.users)}
    if isinstance(action, types.MessageActionChatAddUser):
        return {"kind": "add", "users": list(action.users)}
    if isinstance(action, types.MessageActionChatDeleteUser):
        return {"kind": "remove", "users": [action.user_id]}
    if isinstance(action, types.MessageActionChatEditTitle):
        return {"kind": "title", "title": action.title}
    if isinstance(action, types.MessageActionChannelCreate):
        return {"kind": "create", "title": action.title, "users": []}
    if isinstance(action, types.MessageActionChannelMigrateFrom):
        return {"kind": "migrate", "title": action.title, "users": []}
    if isinstance(action, types.MessageActionChatJoinedByLink):
        return {"kind": "join", "users": []}
    return {"kind": "other", "name": type(action).__name__}


def message_json(message: abcs.Message) -> Json | None:
    """A message as the page shows it; ``chat`` is the other side of a private chat, or the
    group (negative). A service message (a group created, members added or removed, a new
    title) carries ``service`` and no text."""
    if isinstance(message, types.MessageService):
        return {
            "id": message.id,
            "chat": _peer_id(message.peer_id),
            "from": _peer_id(message.from_id),
            "out": bool(message.out),
            "text": "",
            "entities": [],
            "markup": None,
            "date": message.date,
            "edit_date": None,
            "via_bot": None,
            "service": _action_json(message.action),
        }
    if not isinstance(message, types.Message):
        return None
    return {
        "id": message.id,
        "chat": _peer_id(message.peer_id),
        "from": _peer_id(message.from_id),
        "out": bool(message.out),
        "text": message.message,
        "entities": entities_json(message.entities),
        "markup": markup_json(message.reply_markup),
        "date": message.date,
        "edit_date": message.edit_date,
        "via_bot": message.via_bot_id,
    }


def updates_events(updates: abcs.Updates, me: int) -> tuple[list[Json], list[Json], list[Json]]:
    """The page's events for pushed (or returned) ``Updates``, and the users and groups
    they name."""
    users: list[Json] = []
    chats: list[Json] = []
    inner: list[abcs.Update] = []
    if isinstance(updates, types.Updates | types.UpdatesCombined):
        inner = list(updates.updates)
        users = [u for u in map(user_json, updates.users) if u is not None]
        chats = [c for c in map(chat_json, updates.chats) if c is not None]
    elif isinstance(updates, types.UpdateShort):
        inner = [updates.update]
    elif isinstance(updates, types.UpdateShortMessage):
        message: Json = {
            "id": updates.id,
            "chat": updates.user_id,
            "from": me if updates.out else updates.user_id,
            "out": bool(updates.out),
            "text": updates.message,
            "entities": entities_json(updates.entities),
            "markup": None,
            "date": updates.date,
            "edit_date": None,
            "via_bot": updates.via_bot_id,
        }
        return [{"type": "message", "message": message}], users, chats
    events: list[Json] = []
    for update in inner:
        if isinstance(update, types.UpdateNewMessage):
            shown = message_json(update.message)
            if shown is not None:
                events.append({"type": "message", "message": shown})
        elif isinstance(update, types.UpdateEditMessage):
            shown = message_json(update.message)
            if shown is not None:
                events.append({"type": "edit", "message": shown})
        elif isinstance(update, types.UpdateNewChannelMessage):
            shown = message_json(update.message)
            if shown is not None:
                events.append({"type": "message", "message": shown})
        elif isinstance(update, types.UpdateEditChannelMessage):
            shown = message_json(update.message)
            if shown is not None:
                events.append({"type": "edit", "message": shown})
        elif isinstance(update, types.UpdateDeleteMessages):
            events.append({"type": "delete", "ids": list(update.messages)})
        elif isinstance(update, types.UpdateDeleteChannelMessages):
            # A channel's message ids are its own: the deletion names the channel.
            chat = -(CHANNEL_SHIFT + update.channel_id)
            events.append({"type": "delete", "ids": list(update.messages), "chat": chat})
        elif isinstance(update, types.UpdateChannel):
            # Membership or rights changed (joined, invited, removed, made admin): the
            # channel itself comes in the batch's ``chats``.
            events.append({"type": "chat", "chat": -(CHANNEL_SHIFT + update.channel_id)})
        elif isinstance(update, types.UpdateUserName):
            names = [u.username for u in update.usernames if isinstance(u, types.Username)]
            shown_name = " ".join(p for p in (update.first_name, update.last_name) if p)
            events.append(
                {
                    "type": "user",
                    "user": {
                        "id": update.user_id,
                        "name": shown_name or str(update.user_id),
                        "username": names[0] if names else None,
                    },
                }
            )
    return events, users, chats
