"""Bot API layer: the server's TL objects as Bot API JSON objects, and back.

Pure functions. Rendering takes the TL objects the services produce (a ``message`` from the
bot's box, the ``user`` objects rendered for the bot) and gives the dicts the frameworks'
models accept: ``User``, ``Chat`` (private chats and basic groups), ``ChatFullInfo`` and
``ChatMember`` of groups, ``ChatMemberUpdated``, ``Message`` (group service messages too),
``MessageEntity``, ``InlineKeyboardMarkup``, ``CallbackQuery`` (``id`` and ``chat_instance``
as decimal strings). Parsing goes the other way for what a bot sends:
entities and reply markups, with the official error texts for malformed ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from loopgram.botapi.errors import BotApiError, bad_request
from loopgram.server.services.limits import utf16_length
from loopgram.tl import abcs, types

JsonObject = dict[str, Any]

# -- entities ---------------------------------------------------------------------------------

_ENTITY_NAMES: Final[Mapping[type[abcs.MessageEntity], str]] = {
    types.MessageEntityMention: "mention",
    types.MessageEntityHashtag: "hashtag",
    types.MessageEntityCashtag: "cashtag",
    types.MessageEntityBotCommand: "bot_command",
    types.MessageEntityUrl: "url",
    types.MessageEntityEmail: "email",
    types.MessageEntityPhone: "phone_number",
    types.MessageEntityBold: "bold",
    types.MessageEntityItalic: "italic",
    types.MessageEntityUnderline: "underline",
    types.MessageEntityStrike: "strikethrough",
    types.MessageEntitySpoiler: "spoiler",
    types.MessageEntityCode: "code",
    types.MessageEntityPre: "pre",
    types.MessageEntityTextUrl: "text_link",
    types.MessageEntityMentionName: "text_mention",
    types.MessageEntityCustomEmoji: "custom_emoji",
    types.MessageEntityBlockquote: "blockquote",
}

_SIMPLE_ENTITIES: Final[Mapping[str, type[abcs.MessageEntity]]] = {
    name: cls
    for cls, name in _ENTITY_NAMES.items()
    if name not in ("pre", "text_link", "text_mention", "custom_emoji", "blockquote")
}

_COMMAND: Final = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


def detect_entities(text: str) -> list[abcs.MessageEntity]:
    """The entities Telegram's server finds in text sent without any: a bot command at the
    start (what the frameworks' command handlers look for)."""
    match = _COMMAND.match(text)
    if match is None:
        return []
    end = match.end()
    if end < len(text) and not text[end].isspace():
        return []
    return [types.MessageEntityBotCommand(offset=0, length=utf16_length(match.group()))]


def entity_to_api(entity: abcs.MessageEntity, users: Mapping[int, JsonObject]) -> JsonObject | None:
    name = _ENTITY_NAMES.get(type(entity))
    if name is None:
        return None  # kinds the Bot API has no name for are left out, as officially
    offset: int = getattr(entity, "offset", 0)
    length: int = getattr(entity, "length", 0)
    out: JsonObject = {"type": name, "offset": offset, "length": length}
    if isinstance(entity, types.MessageEntityPre) and entity.language:
        out["language"] = entity.language
    elif isinstance(entity, types.MessageEntityTextUrl):
        out["url"] = entity.url
    elif isinstance(entity, types.MessageEntityMentionName):
        out["user"] = users.get(entity.user_id, {"id": entity.user_id, "is_bot": False})
    elif isinstance(entity, types.MessageEntityCustomEmoji):
        out["custom_emoji_id"] = str(entity.document_id)
    elif isinstance(entity, types.MessageEntityBlockquote) and entity.collapsed:
        out["type"] = "expandable_blockquote"
    return out


def entities_from_api(value: Any) -> list[abcs.MessageEntity]:
    """A bot's ``entities`` (already JSON-decoded) as TL entities."""
    if not isinstance(value, list):
        raise bad_request("can't parse entities: expected an Array")
    out: list[abcs.MessageEntity] = []
    for item in value:
        if not isinstance(item, dict):
            raise bad_request("can't parse MessageEntity: expected an Object")
        kind, offset, length = item.get("type"), item.get("offset"), item.get("length")
        if not isinstance(kind, str):
            raise bad_request('can\'t parse MessageEntity: field "type" must be a String')
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise bad_request('can\'t parse MessageEntity: field "offset" must be a Number')
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise bad_request('can\'t parse MessageEntity: field "length" must be a Number')
        simple = _SIMPLE_ENTITIES.get(kind)
        if simple is not None:
            out.append(simple(offset=offset, length=length))  # type: ignore[call-arg]
        elif kind == "pre":
            language = item.get("language", "")
            out.append(
                types.MessageEntityPre(
                    offset=offset,
                    length=length,
                    language=language if isinstance(language, str) else "",
                )
            )
        elif kind == "text_link":
            url = item.get("url")
            if not isinstance(url, str) or not url:
                raise bad_request('can\'t parse MessageEntity: field "url" must be a String')
            out.append(types.MessageEntityTextUrl(offset=offset, length=length, url=url))
        elif kind in ("blockquote", "expandable_blockquote"):
            out.append(
                types.MessageEntityBlockquote(
                    offset=offset, length=length, collapsed=kind == "expandable_blockquote"
                )
            )
        else:
            raise bad_request(f"can't parse MessageEntity: unsupported entity type {kind!r}")
    return out


# -- keyboards --------------------------------------------------------------------------------


def _button_to_api(button: types.KeyboardInlineButton) -> JsonObject:
    out: JsonObject = {"text": button.text}
    kind = button.type
    if isinstance(kind, types.InlineButtonTypeCallback):
        out["callback_data"] = kind.data.decode("utf-8", "replace")
    elif isinstance(kind, types.InlineButtonTypeUrl):
        out["url"] = kind.url
    elif isinstance(kind, types.InlineButtonTypeGame):
        out["callback_game"] = {}
    elif isinstance(kind, types.InlineButtonTypeSwitchInline):
        key = "switch_inline_query_current_chat" if kind.same_peer else "switch_inline_query"
        out[key] = kind.query
    elif isinstance(kind, types.InlineButtonTypeBuy):
        out["pay"] = True
    elif isinstance(kind, types.InlineButtonTypeCopy):
        out["copy_text"] = {"text": kind.copy_text}
    elif isinstance(kind, types.InlineButtonTypeWebView):
        out["web_app"] = {"url": kind.url}
    return out


def markup_to_api(markup: abcs.ReplyMarkup | None) -> JsonObject | None:
    """A message's ``reply_markup`` as bots see it: inline keyboards only (reply keyboards
    are not shown back to the bot)."""
    if not isinstance(markup, types.ReplyInlineMarkup):
        return None
    rows = []
    for row in markup.rows:
        if isinstance(row, types.KeyboardInlineButtonRow):
            rows.append(
                [
                    _button_to_api(b)
                    for b in row.buttons
                    if isinstance(b, types.KeyboardInlineButton)
                ]
            )
    return {"inline_keyboard": rows}


_MARKUP_ERROR: Final = "reply keyboard markup"


def _inline_button(value: Any) -> types.KeyboardInlineButton:
    if not isinstance(value, dict):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    text = value.get("text")
    if not isinstance(text, str):
        raise bad_request(
            'can\'t parse inline keyboard button: field "text" must be of type String'
        )
    kind: abcs.InlineButtonType
    if "callback_data" in value:
        data = value["callback_data"]
        if not isinstance(data, str):
            raise bad_request(
                'can\'t parse inline keyboard button: field "callback_data" must be of type String'
            )
        kind = types.InlineButtonTypeCallback(data=data.encode("utf-8"))
    elif "url" in value:
        url = value["url"]
        if not isinstance(url, str):
            raise bad_request(
                'can\'t parse inline keyboard button: field "url" must be of type String'
            )
        kind = types.InlineButtonTypeUrl(url=url)
    elif "callback_game" in value:
        kind = types.InlineButtonTypeGame()
    elif "switch_inline_query" in value or "switch_inline_query_current_chat" in value:
        same = "switch_inline_query_current_chat" in value
        query = value["switch_inline_query_current_chat" if same else "switch_inline_query"]
        if not isinstance(query, str):
            raise bad_request(
                "can't parse inline keyboard button: switch inline query must be of type String"
            )
        kind = types.InlineButtonTypeSwitchInline(same_peer=same, query=query)
    elif "pay" in value:
        kind = types.InlineButtonTypeBuy()
    else:
        raise bad_request(
            "can't parse inline keyboard button: "
            "InlineKeyboardButton must have exactly one optional field"
        )
    return types.KeyboardInlineButton(text=text, type=kind)


def markup_from_api(value: Any) -> abcs.ReplyMarkup | None:
    """A bot's ``reply_markup`` (already JSON-decoded) as TL; the MTProto side's markup
    rules (button data length, URLs, sizes) then apply to it unchanged."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request(f"can't parse {_MARKUP_ERROR} JSON object")
    if "inline_keyboard" in value:
        rows = value["inline_keyboard"]
        if not isinstance(rows, list):
            raise bad_request(
                'can\'t parse reply keyboard markup: field "inline_keyboard" must be an Array'
            )
        parsed: list[abcs.KeyboardInlineButtonRow] = []
        for row in rows:
            if not isinstance(row, list):
                raise bad_request(
                    "can't parse reply keyboard markup: InlineKeyboardButton row must be an Array"
                )
            parsed.append(types.KeyboardInlineButtonRow(buttons=[_inline_button(b) for b in row]))
        return types.ReplyInlineMarkup(rows=parsed)
    if value.get("remove_keyboard") is True:
        return types.ReplyKeyboardHide(selective=bool(value.get("selective")))
    if value.get("force_reply") is True:
        placeholder = value.get("input_field_placeholder")
        return types.ReplyKeyboardForceReply(
            selective=bool(value.get("selective")),
            placeholder=placeholder if isinstance(placeholder, str) else None,
        )
    if "keyboard" in value:
        return _reply_keyboard(value)
    raise bad_request("can't parse reply keyboard markup: unknown kind of keyboard")


def _reply_button(value: Any) -> types.KeyboardButton:
    if isinstance(value, str):
        return types.KeyboardButton(text=value, type=types.ButtonTypeDefault())
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        raise bad_request('can\'t parse keyboard button: field "text" must be of type String')
    kind: abcs.ButtonType = types.ButtonTypeDefault()
    if value.get("request_contact") is True:
        kind = types.ButtonTypeRequestPhone()
    elif value.get("request_location") is True:
        kind = types.ButtonTypeRequestGeoLocation()
    elif isinstance(value.get("web_app"), dict) and isinstance(value["web_app"].get("url"), str):
        kind = types.ButtonTypeSimpleWebView(url=value["web_app"]["url"])
    return types.KeyboardButton(text=value["text"], type=kind)


def _reply_keyboard(value: JsonObject) -> types.ReplyKeyboardMarkup:
    rows = value["keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'can\'t parse reply keyboard markup: field "keyboard" must be an Array of Arrays'
        )
    placeholder = value.get("input_field_placeholder")
    return types.ReplyKeyboardMarkup(
        resize=value.get("resize_keyboard") is True,
        single_use=value.get("one_time_keyboard") is True,
        selective=value.get("selective") is True,
        persistent=value.get("is_persistent") is True,
        rows=[types.KeyboardButtonRow(buttons=[_reply_button(b) for b in row]) for row in rows],
        placeholder=placeholder if isinstance(placeholder, str) else None,
    )


# -- users, chats, messages, queries ----------------------------------------------------------


def user_to_api(user: abcs.User) -> JsonObject:
    if not isinstance(user, types.User):
        return {"id": getattr(user, "id", 0), "is_bot": False, "first_name": ""}
    out: JsonObject = {"id": user.id, "is_bot": bool(user.bot), "first_name": user.first_name or ""}
    if user.last_name:
        out["last_name"] = user.last_name
    if user.username:
        out["username"] = user.username
    if user.lang_code:
        out["language_code"] = user.lang_code
    return out


def private_chat(user: JsonObject) -> JsonObject:
    out: JsonObject = {
        "id": user["id"],
        "type": "private",
        "first_name": user.get("first_name", ""),
    }
    for key in ("last_name", "username"):
        if key in user:
            out[key] = user[key]
    return out


def me_to_api(user: abcs.User, *, privacy: bool = True) -> JsonObject:
    """``getMe``: the bot as a ``User`` with the capability flags bots get (``privacy``: the
    bot's privacy mode, which hides most group messages from it)."""
    out = user_to_api(user)
    out.update(
        # Users add any loopgram bot to groups (there is no @BotFather to forbid it).
        can_join_groups=True,
        can_read_all_group_messages=not privacy,
        # Every loopgram bot has inline mode (there is no @BotFather to switch it on).
        supports_inline_queries=True,
        can_connect_to_business=False,
        has_main_web_app=False,
    )
    return out


NO_GIFTS: Final[Mapping[str, bool]] = {
    "unlimited_gifts": False,
    "limited_gifts": False,
    "unique_gifts": False,
    "premium_subscription": False,
    "gifts_from_channels": False,
}
"""``accepted_gift_types`` of a chat that takes no gifts (every group, as officially)."""

MAX_REACTION_COUNT: Final = 11
"""``max_reaction_count`` of ``ChatFullInfo``: Telegram's default for every chat."""

_PERMISSIONS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    # Bot API permission, the chatBannedRights flags that take it away (any of them).
    ("can_send_messages", ("send_messages", "send_plain")),
    ("can_send_media_messages", ("send_messages", "send_media")),
    ("can_send_audios", ("send_messages", "send_audios")),
    ("can_send_documents", ("send_messages", "send_docs")),
    ("can_send_photos", ("send_messages", "send_photos")),
    ("can_send_videos", ("send_messages", "send_videos")),
    ("can_send_video_notes", ("send_messages", "send_roundvideos")),
    ("can_send_voice_notes", ("send_messages", "send_voices")),
    ("can_send_polls", ("send_messages", "send_polls")),
    ("can_send_other_messages", ("send_messages", "send_stickers", "send_gifs")),
    ("can_add_web_page_previews", ("send_messages", "embed_links")),
    ("can_react_to_messages", ("send_reactions",)),
    ("can_edit_tag", ("edit_rank",)),
    ("can_change_info", ("change_info",)),
    ("can_invite_users", ("invite_users",)),
    ("can_pin_messages", ("pin_messages",)),
    ("can_manage_topics", ("manage_topics",)),
)

GROUP_ADMIN_RIGHTS: Final[tuple[tuple[str, bool], ...]] = (
    # What an administrator of a basic group may do: one fixed set, as Telegram has it.
    ("can_manage_chat", True),
    ("can_change_info", True),
    ("can_delete_messages", True),
    ("can_invite_users", True),
    ("can_restrict_members", True),
    ("can_pin_messages", True),
    ("can_promote_members", False),
    ("can_manage_video_chats", True),
    ("can_post_stories", False),
    ("can_edit_stories", False),
    ("can_delete_stories", False),
    # Newer than the official server's sources read for the rest; aiogram 3.31 requires it.
    ("can_send_welcome_messages", False),
    ("can_manage_tags", True),
    ("is_anonymous", False),
)


def chat_permissions(chat: types.Chat) -> JsonObject:
    """A group's default ``ChatPermissions`` (none banned: every member may do everything,
    which is loopgram's basic-group rule)."""
    banned = chat.default_banned_rights
    return {
        name: banned is None or not any(getattr(banned, flag) for flag in flags)
        for name, flags in _PERMISSIONS
    }


def group_chat(chat: types.Chat) -> JsonObject:
    """A basic group as a ``Chat``: its id is the negated TL id, as on the official server
    (which also sends ``all_members_are_administrators`` and ``accepted_gift_types`` in every
    group's ``Chat``)."""
    permissions = chat_permissions(chat)
    return {
        "id": -chat.id,
        "title": chat.title,
        "type": "group",
        "all_members_are_administrators": all(permissions[name] for name, _ in _PERMISSIONS[:-1]),
        "accepted_gift_types": dict(NO_GIFTS),
    }


def group_full_info(chat: types.Chat) -> JsonObject:
    """``getChat`` of a basic group: ``ChatFullInfo`` with the fields the frameworks'
    models require."""
    out = group_chat(chat)
    full: JsonObject = {"id": out["id"], "title": out["title"], "type": "group"}
    full["permissions"] = chat_permissions(chat)
    full["all_members_are_administrators"] = out["all_members_are_administrators"]
    full["accepted_gift_types"] = out["accepted_gift_types"]
    full["max_reaction_count"] = MAX_REACTION_COUNT
    full["accent_color_id"] = chat.id % 7
    return full


CHANNEL_ID_BASE: Final = 1_000_000_000_000
"""A supergroup's or channel's Bot API id is ``-(CHANNEL_ID_BASE + channel_id)``: the
official ``-100...`` ids."""


def channel_chat_id(channel_id: int) -> int:
    return -(CHANNEL_ID_BASE + channel_id)


def channel_chat(chat: types.Channel | types.ChannelForbidden) -> JsonObject:
    """A supergroup or broadcast channel as a ``Chat``."""
    out: JsonObject = {"id": channel_chat_id(chat.id), "title": chat.title}
    if isinstance(chat, types.Channel) and chat.username:
        out["username"] = chat.username
    out["type"] = "supergroup" if chat.megagroup else "channel"
    return out


def channel_full_info(chat: types.Channel | types.ChannelForbidden, about: str) -> JsonObject:
    """``getChat`` of a supergroup or channel: ``ChatFullInfo``."""
    out = channel_chat(chat)
    if isinstance(chat, types.Channel) and chat.username:
        out["active_usernames"] = [chat.username]
    if about:
        out["description"] = about
    if chat.megagroup:
        banned = chat.default_banned_rights if isinstance(chat, types.Channel) else None
        rights = types.Chat(
            id=chat.id,
            title=chat.title,
            photo=types.ChatPhotoEmpty(),
            participants_count=0,
            date=0,
            version=0,
            default_banned_rights=banned,
        )
        out["permissions"] = chat_permissions(rights)
    out["accepted_gift_types"] = dict(NO_GIFTS)
    out["max_reaction_count"] = MAX_REACTION_COUNT
    out["accent_color_id"] = chat.id % 7
    return out


def admin_rights_to_api(rights: types.ChatAdminRights, *, megagroup: bool) -> JsonObject:
    """An administrator's rights in a supergroup or channel, with the fields of that chat
    type (as the official server writes them)."""
    out: JsonObject = {
        "can_manage_chat": bool(rights.other),
        "can_change_info": bool(rights.change_info),
    }
    if not megagroup:
        out["can_post_messages"] = bool(rights.post_messages)
        out["can_edit_messages"] = bool(rights.edit_messages)
    out["can_delete_messages"] = bool(rights.delete_messages)
    out["can_invite_users"] = bool(rights.invite_users)
    out["can_restrict_members"] = bool(rights.ban_users)
    if megagroup:
        out["can_pin_messages"] = bool(rights.pin_messages)
        out["can_manage_topics"] = bool(rights.manage_topics)
    out["can_promote_members"] = bool(rights.add_admins)
    out["can_manage_video_chats"] = bool(rights.manage_call)
    out["can_post_stories"] = bool(rights.post_stories)
    out["can_edit_stories"] = bool(rights.edit_stories)
    out["can_delete_stories"] = bool(rights.delete_stories)
    out["can_send_welcome_messages"] = bool(rights.manage_welcome_messages)
    if not megagroup:
        out["can_manage_direct_messages"] = bool(rights.manage_direct_messages)
    else:
        out["can_manage_tags"] = bool(rights.manage_ranks)
    out["is_anonymous"] = bool(rights.anonymous)
    return out


def chats_to_api(chats: Iterable[abcs.Chat]) -> dict[int, JsonObject]:
    """The ``chats`` of a TL answer as Bot API ``Chat`` objects, by Bot API id."""
    out: dict[int, JsonObject] = {}
    for chat in chats:
        if isinstance(chat, types.Chat):
            out[-chat.id] = group_chat(chat)
        elif isinstance(chat, types.Channel | types.ChannelForbidden):
            out[channel_chat_id(chat.id)] = channel_chat(chat)
    return out


def chat_member_to_api(
    user: JsonObject, status: str, rights: JsonObject | None = None
) -> JsonObject:
    """A ``ChatMember``: ``status`` is ``creator``, ``administrator``, ``member``, ``left``
    or ``kicked``; ``rights``: an administrator's (``admin_rights_to_api``), a basic
    group's fixed set when not given."""
    out: JsonObject = {"user": user, "status": status}
    if status == "creator":
        out["is_anonymous"] = False
    elif status == "administrator":
        # A bot edits no one's rights: in loopgram only a chat's creator promotes.
        out["can_be_edited"] = False
        out.update(GROUP_ADMIN_RIGHTS if rights is None else rights)
        out["can_manage_voice_chats"] = out["can_manage_video_chats"]
    elif status == "kicked":
        out["until_date"] = 0
    return out


def chat_member_updated_to_api(
    chat: JsonObject, actor: JsonObject, date: int, old: JsonObject, new: JsonObject
) -> JsonObject:
    """``my_chat_member`` / ``chat_member``: a member's status changed by ``actor``."""
    return {
        "chat": chat,
        "from": actor,
        "date": date,
        "old_chat_member": old,
        "new_chat_member": new,
    }


def _unknown_user(user_id: int) -> JsonObject:
    return {"id": user_id, "is_bot": False, "first_name": ""}


def _chat_to_api(
    peer: abcs.Peer, users: Mapping[int, JsonObject], chats: Mapping[int, JsonObject]
) -> JsonObject:
    if isinstance(peer, types.PeerUser):
        return private_chat(users.get(peer.user_id) or _unknown_user(peer.user_id))
    if isinstance(peer, types.PeerChat):
        found = chats.get(-peer.chat_id)
        return found if found is not None else {"id": -peer.chat_id, "type": "group", "title": ""}
    if isinstance(peer, types.PeerChannel):
        chat_id = channel_chat_id(peer.channel_id)
        found = chats.get(chat_id)
        return found if found is not None else {"id": chat_id, "type": "supergroup", "title": ""}
    raise BotApiError(500, "Internal Server Error: a message outside the chats the Bot API has")


def _head(
    message: types.Message | types.MessageService,
    users: Mapping[int, JsonObject],
    chats: Mapping[int, JsonObject],
) -> JsonObject:
    """``message_id``, the sender (``from``, or ``sender_chat`` for a channel's post) and
    ``chat``, ``date``: what every message starts with."""
    chat = _chat_to_api(message.peer_id, users, chats)
    out: JsonObject = {"message_id": message.id}
    peer = message.from_id
    if peer is None and isinstance(message.peer_id, types.PeerChannel):
        out["sender_chat"] = chat  # a broadcast post speaks for the channel
    else:
        if peer is None:
            # In a private chat the sender of an incoming message is the chat's other side.
            peer = message.peer_id
        if not isinstance(peer, types.PeerUser):
            raise BotApiError(500, "Internal Server Error: a message without a sending user")
        out["from"] = users.get(peer.user_id) or _unknown_user(peer.user_id)
    out["chat"] = chat
    out["date"] = message.date
    return out


_NO_CHATS: Final[Mapping[int, JsonObject]] = {}


def message_to_api(
    message: types.Message,
    users: Mapping[int, JsonObject],
    chats: Mapping[int, JsonObject] = _NO_CHATS,
) -> JsonObject:
    """A message of the bot's box; ``users`` holds every account it names, rendered, and
    ``chats`` its group (``chats_to_api``)."""
    out = _head(message, users, chats)
    if message.edit_date:
        out["edit_date"] = message.edit_date
    if message.via_bot_id is not None and message.via_bot_id in users:
        out["via_bot"] = users[message.via_bot_id]
    text = message.message
    entities = message.entities
    if entities is None and not message.out:
        entities = detect_entities(text)
    if text:
        out["text"] = text
        rendered = [e for e in (entity_to_api(x, users) for x in entities or ()) if e is not None]
        if rendered:
            out["entities"] = rendered
    markup = markup_to_api(message.reply_markup)
    if markup is not None:
        out["reply_markup"] = markup
    return out


def service_message_to_api(
    message: types.MessageService,
    users: Mapping[int, JsonObject],
    chats: Mapping[int, JsonObject],
    me_id: int,
) -> JsonObject | None:
    """A group's service message with the official fields of its action (``None`` for an
    action the Bot API does not show). ``me_id``: the bot, which ``new_chat_member`` names
    when it is among the added."""
    action = message.action
    out = _head(message, users, chats)
    if isinstance(action, types.MessageActionChatCreate):
        out["group_chat_created"] = True
    elif isinstance(action, types.MessageActionChannelCreate):
        # Officially never in an update (no bot is a member yet), but in reply_to_message.
        broadcast = out["chat"].get("type") == "channel"
        out["channel_chat_created" if broadcast else "supergroup_chat_created"] = True
    elif isinstance(action, types.MessageActionChatAddUser):
        if not action.users:
            return None
        added = [users.get(i) or _unknown_user(i) for i in action.users]
        chosen = added[action.users.index(me_id)] if me_id in action.users else added[0]
        # The single-member fields are the official server's, kept for old bots.
        out["new_chat_participant"] = chosen
        out["new_chat_member"] = chosen
        out["new_chat_members"] = added
    elif isinstance(action, types.MessageActionChatDeleteUser):
        left = users.get(action.user_id) or _unknown_user(action.user_id)
        out["left_chat_participant"] = left
        out["left_chat_member"] = left
    elif isinstance(action, types.MessageActionChatEditTitle):
        out["new_chat_title"] = action.title
    elif isinstance(action, types.MessageActionChatMigrateTo):
        out["migrate_to_chat_id"] = channel_chat_id(action.channel_id)
    elif isinstance(action, types.MessageActionChannelMigrateFrom):
        out["migrate_from_chat_id"] = -action.chat_id
    else:
        return None
    return out


def callback_query_to_api(
    update: types.UpdateBotCallbackQuery | types.UpdateInlineBotCallbackQuery,
    users: Mapping[int, JsonObject],
    message: JsonObject | None,
    inline_message_id: str | None = None,
) -> JsonObject:
    presser = users.get(update.user_id, {"id": update.user_id, "is_bot": False, "first_name": ""})
    out: JsonObject = {"id": str(update.query_id), "from": presser}
    if inline_message_id is not None:
        out["inline_message_id"] = inline_message_id
    elif message is not None:
        out["message"] = message
    out["chat_instance"] = str(update.chat_instance)
    if update.data is not None:
        out["data"] = update.data.decode("utf-8", "replace")
    if isinstance(update, types.UpdateBotCallbackQuery) and update.game_short_name is not None:
        out["game_short_name"] = update.game_short_name
    return out


_CHAT_TYPES: Final[Mapping[type[abcs.InlineQueryPeerType], str]] = {
    types.InlineQueryPeerTypeSameBotPM: "sender",
    types.InlineQueryPeerTypePM: "private",
    types.InlineQueryPeerTypeBotPM: "private",
    types.InlineQueryPeerTypeChat: "group",
    types.InlineQueryPeerTypeMegagroup: "supergroup",
    types.InlineQueryPeerTypeBroadcast: "channel",
}


def inline_query_to_api(
    update: types.UpdateBotInlineQuery, users: Mapping[int, JsonObject]
) -> JsonObject:
    out: JsonObject = {
        "id": str(update.query_id),
        "from": users.get(
            update.user_id, {"id": update.user_id, "is_bot": False, "first_name": ""}
        ),
        "query": update.query,
        "offset": update.offset,
    }
    if update.peer_type is not None:
        chat_type = _CHAT_TYPES.get(type(update.peer_type))
        if chat_type is not None:
            out["chat_type"] = chat_type
    return out


def chosen_inline_result_to_api(
    update: types.UpdateBotInlineSend,
    users: Mapping[int, JsonObject],
    inline_message_id: str | None,
) -> JsonObject:
    out: JsonObject = {
        "result_id": update.id,
        "from": users.get(
            update.user_id, {"id": update.user_id, "is_bot": False, "first_name": ""}
        ),
        "query": update.query,
    }
    if inline_message_id is not None:
        out["inline_message_id"] = inline_message_id
    return out


def inline_results_from_api(
    value: Any,
    parse_text: Callable[[str, str | None, Any], tuple[str, list[abcs.MessageEntity] | None]],
) -> list[abcs.InputBotInlineResult]:
    """A bot's ``results`` (JSON-decoded) for ``answerInlineQuery``: articles with text and,
    optionally, an inline keyboard; ``parse_text(text, parse_mode, entities)`` applies the
    formatting. Other kinds pass as TL results of their type, for the inline rules to refuse
    (``RESULT_TYPE_INVALID``) as they do for MTProto bots."""
    if not isinstance(value, list):
        raise bad_request("can't parse JSON encoded inline query results: expected an Array")
    out: list[abcs.InputBotInlineResult] = []
    for item in value:
        if not isinstance(item, dict):
            raise bad_request("can't parse inline query result: expected an Object")
        kind = item.get("type")
        result_id = item.get("id")
        if not isinstance(kind, str):
            raise bad_request('can\'t parse inline query result: field "type" must be a String')
        if not isinstance(result_id, str | int) or isinstance(result_id, bool):
            raise bad_request('can\'t parse inline query result: field "id" must be a String')
        content = item.get("input_message_content")
        send: abcs.InputBotInlineMessage
        markup = markup_from_api(item.get("reply_markup"))
        if isinstance(content, dict) and isinstance(content.get("message_text"), str):
            mode = content.get("parse_mode")
            text, entities = parse_text(
                content["message_text"],
                mode if isinstance(mode, str) else None,
                content.get("entities"),
            )
            send = types.InputBotInlineMessageText(
                message=text, entities=entities, reply_markup=markup
            )
        elif kind == "article":
            raise bad_request(
                'can\'t parse inline query result: field "input_message_content" must be an Object'
            )
        else:
            send = types.InputBotInlineMessageMediaAuto(message="", reply_markup=markup)
        title = item.get("title")
        description = item.get("description")
        url = item.get("url")
        out.append(
            types.InputBotInlineResult(
                id=str(result_id),
                type=kind,
                title=title if isinstance(title, str) else None,
                description=description if isinstance(description, str) else None,
                url=url if isinstance(url, str) else None,
                send_message=send,
            )
        )
    return out


__all__ = [
    "CHANNEL_ID_BASE",
    "GROUP_ADMIN_RIGHTS",
    "MAX_REACTION_COUNT",
    "NO_GIFTS",
    "JsonObject",
    "admin_rights_to_api",
    "callback_query_to_api",
    "channel_chat",
    "channel_chat_id",
    "channel_full_info",
    "chat_member_to_api",
    "chat_member_updated_to_api",
    "chat_permissions",
    "chats_to_api",
    "chosen_inline_result_to_api",
    "detect_entities",
    "entities_from_api",
    "entity_to_api",
    "group_chat",
    "group_full_info",
    "inline_query_to_api",
    "inline_results_from_api",
    "markup_from_api",
    "markup_to_api",
    "me_to_api",
    "message_to_api",
    "private_chat",
    "service_message_to_api",
    "user_to_api",
]
