"""Server layer: stored records -> the TL objects clients see (users, messages, peers).

Every object is rendered for one viewer: ``self`` and the phone number only for the account
itself, ``out`` and ``peer_id`` from the owner's box. The stored markup, entities and media
are TL bytes (see ``loopgram.storage.models``), parsed back here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from loopgram import tl
from loopgram.server.services.extra import MessageExtra
from loopgram.storage import Account, PeerKind, PeerRef, Storage, StoredMessage
from loopgram.tl import abcs, types

DEFAULT_BOT_INFO_VERSION: Final = 1
# The ``bot`` flag and ``bot_info_version`` share flags.14 in ``user``: a bot always needs one.

_EMPTY_STRING: Final = b"\x00\x00\x00\x00"


def peer_user(user_id: int) -> types.PeerUser:
    return types.PeerUser(user_id=user_id)


def peer_of(ref: PeerRef) -> abcs.Peer:
    if ref.kind is PeerKind.USER:
        return types.PeerUser(user_id=ref.id)
    return types.PeerChat(chat_id=ref.id)


def render_user(account: Account, viewer_id: int) -> types.User:
    """``account`` as ``viewer_id`` sees it."""
    is_self = account.id == viewer_id
    return types.User(
        self_=is_self,
        bot=account.is_bot,
        # Bots join basic groups (``services.chats``): none is marked ``bot_nochats``.
        bot_nochats=False,
        id=account.id,
        access_hash=account.access_hash,
        first_name=account.first_name,
        last_name=account.last_name,
        username=account.username,
        phone=account.phone if is_self else None,
        status=None if account.is_bot else types.UserStatusRecently(),
        bot_info_version=(
            (account.bot_info_version or DEFAULT_BOT_INFO_VERSION) if account.is_bot else None
        ),
        bot_inline_placeholder=account.bot_inline_placeholder if account.is_bot else None,
    )


def render_users(accounts: Iterable[Account], viewer_id: int) -> list[abcs.User]:
    return [render_user(a, viewer_id) for a in accounts]


def render_user_ids(storage: Storage, ids: Iterable[int], viewer_id: int) -> list[abcs.User]:
    """The accounts behind ``ids`` (each once, ids that name no account skipped) for
    ``viewer_id``: the ``users`` vector of an answer or a pushed batch."""
    return render_users(storage.accounts.get_many(list(dict.fromkeys(ids))), viewer_id)


def parse_entities(data: bytes | None) -> list[abcs.MessageEntity] | None:
    if data is None:
        return None
    # A bare textWithEntities is a string and then the vector: an empty string in front
    # lets the generated reader parse (and bound-check) the stored vector.
    holder: types.TextWithEntities = tl.read(_EMPTY_STRING + data, types.TextWithEntities)
    return holder.entities


def parse_markup(data: bytes | None) -> abcs.ReplyMarkup | None:
    if data is None:
        return None
    markup: abcs.ReplyMarkup = tl.read(data)
    return markup


def parse_media(data: bytes | None) -> abcs.MessageMedia | None:
    if data is None:
        return None
    media: abcs.MessageMedia = tl.read(data)
    return media


def render_message(copy: StoredMessage) -> types.Message:
    """One box's copy as its owner sees it."""
    extra = MessageExtra.decode(copy.extra)
    return types.Message(
        out=copy.out,
        id=copy.id,
        from_id=peer_user(copy.sender_id),
        peer_id=peer_of(copy.peer),
        via_bot_id=extra.via_bot_id,
        fwd_from=None
        if extra.fwd_from_id is None
        else types.MessageFwdHeader(from_id=peer_user(extra.fwd_from_id), date=extra.fwd_date or 0),
        reply_to=None
        if copy.reply_to is None
        else types.MessageReplyHeader(reply_to_msg_id=copy.reply_to),
        date=copy.date,
        message=copy.text,
        media=parse_media(copy.media),
        reply_markup=parse_markup(copy.reply_markup),
        entities=parse_entities(copy.entities),
        edit_date=copy.edit_date,
    )


def render_any(copy: StoredMessage) -> abcs.Message:
    """One box's copy as its owner sees it: a ``messageService`` for a service message
    (its action is kept in ``extra``), else as ``render_message``."""
    extra = MessageExtra.decode(copy.extra)
    if extra.action is None:
        return render_message(copy)
    action: abcs.MessageAction = tl.read(extra.action)
    return types.MessageService(
        out=copy.out,
        id=copy.id,
        from_id=peer_user(copy.sender_id),
        peer_id=peer_of(copy.peer),
        date=copy.date,
        action=action,
    )


def message_user_ids(copy: StoredMessage) -> list[int]:
    """Accounts a client needs in ``users`` to show the copy."""
    ids = [copy.owner_id, copy.sender_id]
    if copy.peer.kind is PeerKind.USER:
        ids.append(copy.peer.id)
    extra = MessageExtra.decode(copy.extra)
    if extra.via_bot_id is not None:
        ids.append(extra.via_bot_id)
    if extra.fwd_from_id is not None:
        ids.append(extra.fwd_from_id)
    return ids
