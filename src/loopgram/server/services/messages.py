"""Server layer: the message rules -- private chats, keyboards, edits, history.

A message lives in a box per participant (``loopgram.storage`` writes both copies and each
owner's ``updateNewMessage``/``updateEditMessage`` with its pts atomically). The caller gets
its own update in the answer and every other live session of every participant gets it
pushed through the hub. ``messages.sendMessage`` answers ``updates`` with ``updateMessageID``
and ``updateNewMessage``, not ``updateShortSentMessage``: the full message carries the
stored reply markup, and every client library maps it back to its request by random_id.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from loopgram import tl
from loopgram.clock import Clock
from loopgram.server.config import ServerConfig
from loopgram.server.errors import (
    GAME_BOT_INVALID,
    LIMIT_INVALID,
    MEDIA_INVALID,
    MESSAGE_AUTHOR_REQUIRED,
    MESSAGE_EMPTY,
    MESSAGE_ID_INVALID,
    MESSAGE_IDS_EMPTY,
    MESSAGE_NOT_MODIFIED,
    MESSAGE_TOO_LONG,
    PEER_ID_INVALID,
    RANDOM_ID_INVALID,
    REPLY_MESSAGE_ID_INVALID,
    USER_IS_BOT,
)
from loopgram.server.hub import UpdateHub
from loopgram.server.services.extra import MessageExtra
from loopgram.server.services.keys import ServerKeys
from loopgram.server.services.limits import pack_checked_entities
from loopgram.server.services.markup import MarkupRules
from loopgram.server.services.peers import Peers
from loopgram.server.services.render import (
    message_user_ids,
    parse_media,
    render_any,
    render_message,
    render_user_ids,
)
from loopgram.storage import (
    UNSET,
    Account,
    DeletedMessages,
    InlineMessage,
    MessageNotFound,
    PeerKind,
    PeerRef,
    RandomIdTaken,
    Storage,
    StoredMessage,
    StoredUpdate,
    Unset,
)
from loopgram.tl import abcs, types
from loopgram.tl.types import messages as msg_types

_GAME_SHORT_NAME: Final = re.compile(r"[A-Za-z0-9_]{1,64}")
_COPY_CACHE_SIZE: Final = 65_536
_HISTORY_PAGE: Final = 1000


class ChannelSource(Protocol):
    """Channels as a source of forwarded messages (``ChannelService``)."""

    def readable(self, viewer: Account, peer: abcs.InputPeer) -> int:
        """The id of the channel ``peer`` names, if ``viewer`` may read it (else the
        channel error)."""
        ...

    def originals(
        self, viewer: Account, channel_id: int, msg_ids: Sequence[int]
    ) -> list[StoredMessage]:
        """The channel's messages among ``msg_ids`` as ``viewer`` sees them, with the
        channel as ``peer``."""
        ...


@dataclass(frozen=True, slots=True)
class InlineSent:
    """A message sent via a bot's inline mode: the chat copy and its inline message id."""

    message: StoredMessage
    inline_id: types.InputBotInlineMessageID64
    updates: types.Updates
    """The sender's answer, as ``messages.sendMessage`` gives it."""
    repeated: bool = False
    """The send repeated an earlier one's ``random_id``: nothing new was written."""


class MessageService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        hub: UpdateHub,
        peers: Peers,
        keys: ServerKeys,
        config: ServerConfig,
        dc_id: int,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._hub = hub
        self._peers = peers
        self._keys = keys
        self._config = config
        self._dc_id = dc_id
        self._markup = MarkupRules(config)
        self.channels: ChannelSource | None = None
        """Where channel messages come from when forwarded (``services.channels``, wired
        after both services exist)."""
        # (owner, global id) -> box id of the copies written by this process: a press finds
        # the bot's copy of a message here; after a restart ``find_copy`` searches the box.
        self._copies: OrderedDict[tuple[int, int], int] = OrderedDict()
        self._started_chats: set[tuple[int, int]] = set()

    # -- sending ----------------------------------------------------------------------------

    def send_message(
        self,
        sender: Account,
        peer: abcs.InputPeer,
        text: str,
        *,
        random_id: int,
        reply_markup: abcs.ReplyMarkup | None = None,
        entities: list[abcs.MessageEntity] | None = None,
        reply_to: int | None = None,
        origin: Hashable = None,
    ) -> types.Updates:
        """``messages.sendMessage`` to a private chat; ``reply_to`` is the sender's id of
        the message replied to."""
        recipient = self._recipient(sender, peer)
        self.check_text(text, allow_empty=False)
        packed = pack_checked_entities(text, entities, self._config, self._resolver(sender))
        markup = self.bot_markup(sender, reply_markup, allow_game=False)
        replied = self.reply_target(sender, PeerRef.user(recipient.id), reply_to)
        return self._send(sender, recipient, text, random_id, markup, packed, None, origin, replied)

    def reply_target(self, sender: Account, chat: PeerRef, reply_to: int | None) -> int | None:
        """The ``global_id`` of the message ``reply_to`` (the sender's box id) in the
        sender's ``chat``; ``REPLY_MESSAGE_ID_INVALID`` if the chat holds no such message."""
        if reply_to is None:
            return None
        target = self._storage.messages.get(sender.id, reply_to)
        if target is None or target.peer != chat:
            raise REPLY_MESSAGE_ID_INVALID()
        return target.global_id

    def send_game(
        self,
        sender: Account,
        peer: abcs.InputPeer,
        media: abcs.InputMedia,
        *,
        text: str = "",
        random_id: int,
        reply_markup: abcs.ReplyMarkup | None = None,
        entities: list[abcs.MessageEntity] | None = None,
        origin: Hashable = None,
    ) -> types.Updates:
        """``messages.sendMedia`` with ``inputMediaGame``: a bot sends one of its games.

        loopgram has no game registry: any short name of letters, digits and underscores
        is a game of the bot that names itself in ``inputGameShortName``. Without a
        keyboard the message gets Telegram's default one, a single "Play" game button.
        """
        short_name = self.game_short_name(sender, media)
        recipient = self._recipient(sender, peer)
        self.check_text(text, allow_empty=True)
        packed = pack_checked_entities(text, entities, self._config, self._resolver(sender))
        stored_media, markup = self.game_media(sender, short_name, reply_markup)
        return self._send(
            sender,
            recipient,
            text,
            random_id,
            markup,
            packed,
            stored_media,
            origin,
        )

    def game_short_name(self, sender: Account, media: abcs.InputMedia) -> str:
        """The short name of the game a bot sends with ``inputMediaGame`` (its own game);
        ``MEDIA_INVALID`` / ``GAME_BOT_INVALID`` otherwise."""
        if not isinstance(media, types.InputMediaGame):
            raise MEDIA_INVALID()
        if not sender.is_bot:
            raise MEDIA_INVALID()
        game = media.id
        if not isinstance(game, types.InputGameShortName):
            raise MEDIA_INVALID()
        if self._peers.user(sender, game.bot_id).id != sender.id:
            raise GAME_BOT_INVALID()
        if not _GAME_SHORT_NAME.fullmatch(game.short_name):
            raise MEDIA_INVALID()
        return game.short_name

    def game_media(
        self, sender: Account, short_name: str, reply_markup: abcs.ReplyMarkup | None
    ) -> tuple[bytes, abcs.ReplyMarkup | None]:
        """The stored ``messageMediaGame`` of the bot's game and the message's keyboard
        (without one, Telegram's default single "Play" button)."""
        game_id, access_hash = self._keys.game_id(sender.id, short_name)
        stored_media = types.MessageMediaGame(
            game=types.Game(
                id=game_id,
                access_hash=access_hash,
                short_name=short_name,
                title=short_name,
                description="",
                photo=types.PhotoEmpty(id=0),
            )
        )
        markup: abcs.ReplyMarkup | None
        if reply_markup is None:
            markup = types.ReplyInlineMarkup(
                rows=[
                    types.KeyboardInlineButtonRow(
                        buttons=[
                            types.KeyboardInlineButton(
                                text=f"Play {short_name}", type=types.InlineButtonTypeGame()
                            )
                        ]
                    )
                ]
            )
        else:
            markup = self.bot_markup(sender, reply_markup, allow_game=True)
        return bytes(stored_media), markup

    def send_inline(
        self,
        bot: Account,
        sender: Account,
        peer: Account,
        text: str,
        *,
        reply_markup: abcs.ReplyMarkup | None = None,
        entities: list[abcs.MessageEntity] | None = None,
        random_id: int | None = None,
        origin: Hashable = None,
    ) -> InlineSent:
        """A message ``sender`` sent to ``peer`` via ``bot``'s inline mode.

        What ``messages.sendInlineBotResult`` writes (``InlineService.send``): a chat message
        with ``via_bot_id``, and an inline message record holding its text and keyboard
        under an ``inputBotInlineMessageID64`` (owner = the sender, id = the sender's box
        id), which the bot edits with ``messages.editInlineBotMessage`` and receives in
        ``updateInlineBotCallbackQuery``. With a ``random_id`` the sender's answer carries
        ``updateMessageID`` for it.
        """
        if not bot.is_bot or sender.is_bot:
            raise PEER_ID_INVALID()
        self.check_text(text, allow_empty=False)
        entity_bytes = pack_checked_entities(text, entities, self._config, self._resolver(bot))
        markup = self.bot_markup(bot, reply_markup, allow_game=False)
        markup_bytes = None if markup is None else bytes(markup)
        extra = MessageExtra(via_bot_id=bot.id, inline=True)
        try:
            copies = self._write(
                sender, peer, text, markup_bytes, entity_bytes, None, extra, random_id
            )
        except RandomIdTaken as taken:
            first = taken.existing
            return InlineSent(
                first,
                self.inline_id(sender.id, first.id),
                self._repeat(sender, first, taken.random_id),
                repeated=True,
            )
        own = copies[0][0]
        inline_id = self.inline_id(sender.id, own.id)
        self._storage.inline_messages.put(
            InlineMessage(
                id=bytes(inline_id),
                bot_id=bot.id,
                text=text,
                entities=entity_bytes,
                reply_markup=markup_bytes,
                date=own.date,
            )
        )
        users = copies_users(copies)
        for copy, update in copies:
            self.publish(copy.owner_id, [update], users, origin)
        own_update = copies[0][1]
        answer: list[abcs.Update] = [own_update]
        if random_id is not None:
            answer.insert(0, types.UpdateMessageID(id=own.id, random_id=random_id))
        updates = types.Updates(
            updates=answer,
            users=self._render_ids(sender.id, users),
            chats=[],
            date=own.date,
            seq=0,
        )
        return InlineSent(own, inline_id, updates)

    def forward_messages(
        self,
        sender: Account,
        from_peer: abcs.InputPeer,
        ids: Sequence[int],
        random_ids: Sequence[int],
        to_peer: abcs.InputPeer,
        *,
        drop_author: bool = False,
        origin: Hashable = None,
    ) -> types.Updates:
        """``messages.forwardMessages`` between private chats.

        Each message becomes a new message of the sender in ``to_peer`` whose ``fwd_from``
        names the original author (an earlier forward's author is kept; none with
        ``drop_author``). Keyboards stay behind: their buttons belong to the original chat.
        A repeated ``random_id`` answers with the first forward's copy, as sendMessage does.
        """
        source = self.forward_source(sender, from_peer)
        recipient = self._recipient(sender, to_peer)
        plan = self.forward_plan(sender, source, ids, random_ids, drop_author=drop_author)
        answer: list[abcs.Update] = []
        new: list[abcs.Update] = []
        user_ids: list[int] = []
        for original, extra, random_id in plan:
            try:
                copies = self._write(
                    sender,
                    recipient,
                    original.text,
                    None,
                    original.entities,
                    original.media,
                    extra,
                    random_id,
                )
            except RandomIdTaken as taken:
                first = taken.existing
                answer.append(types.UpdateMessageID(id=first.id, random_id=random_id))
                new.append(
                    types.UpdateNewMessage(
                        message=render_message(first), pts=first.pts, pts_count=1
                    )
                )
                user_ids += message_user_ids(first)
                continue
            written = copies_users(copies)
            user_ids += written
            for copy, update in copies:
                self.publish(copy.owner_id, [update], written, origin)
            own, own_update = copies[0]
            answer.append(types.UpdateMessageID(id=own.id, random_id=random_id))
            new.append(own_update)
        return types.Updates(
            updates=answer + new,
            users=self._render_ids(sender.id, user_ids),
            chats=[],
            date=int(self._clock()),
            seq=0,
        )

    def forward_source(self, sender: Account, from_peer: abcs.InputPeer) -> PeerRef:
        """The chat forwarded from: a private chat, or a basic group (whose messages must be
        in the sender's box, which only a member or former member has), or a channel the
        sender may read."""
        if isinstance(from_peer, types.InputPeerChat):
            return PeerRef.chat(from_peer.chat_id)
        if isinstance(from_peer, types.InputPeerChannel) and self.channels is not None:
            return PeerRef(PeerKind.CHANNEL, self.channels.readable(sender, from_peer))
        return PeerRef.user(self._peers.peer(sender, from_peer).id)

    def forward_plan(
        self,
        sender: Account,
        source: PeerRef,
        ids: Sequence[int],
        random_ids: Sequence[int],
        *,
        drop_author: bool,
    ) -> list[tuple[StoredMessage, MessageExtra | None, int]]:
        """Each message to forward with the ``fwd_from`` it gets and its random_id:
        ``MESSAGE_ID_INVALID`` for a message not in ``source`` or a service message."""
        if not ids:
            raise MESSAGE_IDS_EMPTY()
        if len(random_ids) != len(ids) or len(set(random_ids)) != len(random_ids):
            raise RANDOM_ID_INVALID()
        if source.kind is PeerKind.CHANNEL and self.channels is not None:
            originals = self.channels.originals(sender, source.id, ids)
        else:
            originals = self._storage.messages.get_many(sender.id, ids)
        found = {m.id: m for m in originals}
        plan: list[tuple[StoredMessage, MessageExtra | None, int]] = []
        for msg_id, random_id in zip(ids, random_ids, strict=True):
            original = found.get(msg_id)
            if original is None or original.peer != source:
                raise MESSAGE_ID_INVALID()
            before = MessageExtra.decode(original.extra)
            if before.action is not None:
                raise MESSAGE_ID_INVALID()
            extra = None
            if not drop_author:
                author = before.fwd_from_id or original.sender_id
                when = before.fwd_date if before.fwd_from_id is not None else original.date
                extra = MessageExtra(fwd_from_id=author, fwd_date=when)
            plan.append((original, extra, random_id))
        return plan

    # -- editing ----------------------------------------------------------------------------

    def edit_message(
        self,
        editor: Account,
        peer: abcs.InputPeer,
        msg_id: int,
        *,
        text: str | None = None,
        reply_markup: abcs.ReplyMarkup | None = None,
        entities: list[abcs.MessageEntity] | None = None,
        media: abcs.InputMedia | None = None,
        origin: Hashable = None,
    ) -> types.Updates:
        """``messages.editMessage``: the author edits the text and (bots) the keyboard.

        As on Telegram, a bot's edit replaces the keyboard: an edit without ``reply_markup``
        removes it. A user's edit leaves the markup alone.
        """
        chat = self._peers.peer(editor, peer)
        copy = self._storage.messages.get(editor.id, msg_id)
        if copy is None or copy.peer != PeerRef.user(chat.id):
            raise MESSAGE_ID_INVALID()
        if copy.sender_id != editor.id:
            raise MESSAGE_AUTHOR_REQUIRED()
        if media is not None:
            raise MEDIA_INVALID()
        new_text, new_entities = self._edited_text(editor, copy.text, text, entities)
        new_markup: bytes | Unset | None = UNSET
        if editor.is_bot:
            allow_game = isinstance(parse_media(copy.media), types.MessageMediaGame)
            markup = self.bot_markup(editor, reply_markup, allow_game=allow_game)
            new_markup = None if markup is None else bytes(markup)
        if (
            new_text == copy.text
            and (new_entities is UNSET or new_entities == copy.entities)
            and (new_markup is UNSET or new_markup == copy.reply_markup)
        ):
            raise MESSAGE_NOT_MODIFIED()
        updates = self._storage.messages.edit(
            editor.id,
            msg_id,
            render_update=_render_edit,
            text=new_text,
            entities=new_entities,
            reply_markup=new_markup,
        )
        return self._fan_out_edit(editor.id, updates, origin)

    def edit_inline(
        self,
        bot: Account,
        inline_id: abcs.InputBotInlineMessageID,
        *,
        text: str | None = None,
        reply_markup: abcs.ReplyMarkup | None = None,
        entities: list[abcs.MessageEntity] | None = None,
        media: abcs.InputMedia | None = None,
    ) -> None:
        """``messages.editInlineBotMessage``: the bot edits its inline message and the chat
        copies follow (``updateEditMessage`` to the chat's participants)."""
        if not bot.is_bot:
            raise MESSAGE_ID_INVALID()
        record = self._storage.inline_messages.get(bytes(inline_id))
        if record is None or record.bot_id != bot.id:
            raise MESSAGE_ID_INVALID()
        if media is not None:
            raise MEDIA_INVALID()
        new_text, new_entities = self._edited_text(bot, record.text, text, entities)
        markup = self.bot_markup(bot, reply_markup, allow_game=False)
        new_markup = None if markup is None else bytes(markup)
        if (
            new_text == record.text
            and (new_entities is UNSET or new_entities == record.entities)
            and new_markup == record.reply_markup
        ):
            raise MESSAGE_NOT_MODIFIED()
        self._storage.inline_messages.edit(
            bytes(inline_id), text=new_text, entities=new_entities, reply_markup=new_markup
        )
        if isinstance(inline_id, types.InputBotInlineMessageID64):
            try:
                updates = self._storage.messages.edit(
                    inline_id.owner_id,
                    inline_id.id,
                    render_update=_render_edit,
                    text=new_text,
                    entities=new_entities,
                    reply_markup=new_markup,
                )
            except MessageNotFound:
                return  # the chat copy was deleted; the inline record still changed
            self._fan_out_edit(None, updates, None)

    # -- reading ----------------------------------------------------------------------------

    def history(
        self,
        viewer: Account,
        peer: abcs.InputPeer,
        *,
        offset_id: int = 0,
        add_offset: int = 0,
        limit: int = 100,
        max_id: int = 0,
        min_id: int = 0,
    ) -> abcs.messages.Messages:
        """``messages.getHistory`` of a private chat (``offset_date`` is not supported)."""
        chat = self._peers.peer(viewer, peer)
        if limit < 0:
            raise LIMIT_INVALID()
        limit = min(limit, self._config.history_limit_max)
        ref = PeerRef.user(chat.id)
        found = self._storage.messages.history(
            viewer.id,
            ref,
            offset_id=offset_id,
            add_offset=add_offset,
            limit=limit,
            max_id=max_id,
            min_id=min_id,
        )
        total = self._count(viewer.id, ref)
        users = self._users_of(viewer.id, found, extra_ids=[chat.id])
        messages: list[abcs.Message] = [render_message(m) for m in found]
        if total <= len(found):
            return msg_types.Messages(messages=messages, topics=[], chats=[], users=users)
        return msg_types.MessagesSlice(
            count=total, messages=messages, topics=[], chats=[], users=users
        )

    def get_messages(self, viewer: Account, ids: Sequence[abcs.InputMessage]) -> msg_types.Messages:
        """``messages.getMessages`` from the caller's box; unknown ids are ``messageEmpty``.

        ``inputMessageCallbackQuery`` names the message by the id in the caller's box, which
        is what the bot got in the query. Replies and pins are not stored: ``messageEmpty``.
        """
        # (id to answer with, id to look up or None)
        wanted: list[tuple[int, int | None]] = []
        for item in ids:
            if isinstance(item, types.InputMessageID | types.InputMessageCallbackQuery):
                wanted.append((item.id, item.id))
            elif isinstance(item, types.InputMessageReplyTo):
                wanted.append((item.id, None))
            else:
                wanted.append((0, None))
        lookup = [i for _, i in wanted if i is not None]
        found = {m.id: m for m in self._storage.messages.get_many(viewer.id, lookup)}
        messages: list[abcs.Message] = []
        for msg_id, key in wanted:
            copy = None if key is None else found.get(key)
            if copy is None:
                messages.append(types.MessageEmpty(id=msg_id))
            else:
                messages.append(render_any(copy))
        users = self._users_of(viewer.id, found.values())
        return msg_types.Messages(messages=messages, topics=[], chats=[], users=users)

    # -- deleting ---------------------------------------------------------------------------

    def delete_messages(
        self,
        owner: Account,
        msg_ids: Sequence[int],
        *,
        revoke: bool,
        origin: Hashable = None,
    ) -> msg_types.AffectedMessages:
        """``messages.deleteMessages`` (and the Bot API's ``deleteMessage(s)``): delete from
        the owner's box, with ``revoke`` from the other side of each private chat too. Every
        account that lost messages gets ``updateDeleteMessages`` with its pts; ids that are
        not in the owner's box are ignored, as on Telegram.

        In a basic group only the author or an admin revokes a message for everyone;
        another member's ``revoke`` deletes it from its own box only."""
        own_only: list[int] = []
        if revoke:
            own_only = [
                c.id
                for c in self._storage.messages.get_many(owner.id, msg_ids)
                if c.peer.kind is PeerKind.CHAT
                and c.sender_id != owner.id
                and not self._chat_admin(c.peer.id, owner.id)
            ]
        written = []
        if own_only:
            written += self._storage.messages.delete(
                owner.id, own_only, revoke=False, render_update=_render_delete
            )
            kept = set(own_only)
            msg_ids = [i for i in msg_ids if i not in kept]
        if msg_ids:
            written += self._storage.messages.delete(
                owner.id, msg_ids, revoke=revoke, render_update=_render_delete
            )
        for deleted, stored in written:
            self.publish(deleted.owner_id, [_logged(stored)], [], origin)
        own = [deleted for deleted, _ in written if deleted.owner_id == owner.id]
        if own:
            return msg_types.AffectedMessages(
                pts=own[-1].pts, pts_count=sum(d.pts_count for d in own)
            )
        state = self._storage.updates.state(owner.id)
        return msg_types.AffectedMessages(pts=state.pts, pts_count=0)

    def _chat_admin(self, chat_id: int, account_id: int) -> bool:
        member = self._storage.chats.participant(chat_id, account_id)
        return member is not None and member.admin

    # -- helpers the callback rules use -------------------------------------------------------

    def find_copy(self, owner_id: int, peer: PeerRef, global_id: int) -> StoredMessage | None:
        """``owner_id``'s copy of message ``global_id`` in its chat with ``peer``."""
        box_id = self._copies.get((owner_id, global_id))
        if box_id is not None:
            copy = self._storage.messages.get(owner_id, box_id)
            if copy is not None and copy.global_id == global_id:
                return copy
        # Box ids and global ids grow together within one box, so the copy can be found by
        # bisecting the chat's box ids with one-message history pages.
        newest = self._storage.messages.history(owner_id, peer, limit=1)
        if not newest:
            return None
        low, high = 1, newest[0].id
        while low <= high:
            mid = (low + high) // 2
            page = self._storage.messages.history(owner_id, peer, offset_id=mid + 1, limit=1)
            if not page:
                low = mid + 1
                continue
            found = page[0]
            if found.global_id == global_id:
                self._remember(found)
                return found
            if found.global_id < global_id:
                low = mid + 1
            else:
                high = found.id - 1
        return None

    def inline_id(self, owner_id: int, msg_id: int) -> types.InputBotInlineMessageID64:
        return types.InputBotInlineMessageID64(
            dc_id=self._dc_id,
            owner_id=owner_id,
            id=msg_id,
            access_hash=self._keys.inline_access_hash(owner_id, msg_id),
        )

    def inline_record(
        self, copy: StoredMessage
    ) -> tuple[InlineMessage, abcs.InputBotInlineMessageID] | None:
        """The inline message behind a chat copy sent via inline mode, if any."""
        if not MessageExtra.decode(copy.extra).inline:
            return None
        if copy.sender_id == copy.owner_id:
            sender_copy: StoredMessage | None = copy
        else:
            sender_copy = self.find_copy(
                copy.sender_id, PeerRef.user(copy.owner_id), copy.global_id
            )
        if sender_copy is None:
            return None
        inline_id = self.inline_id(sender_copy.owner_id, sender_copy.id)
        record = self._storage.inline_messages.get(bytes(inline_id))
        if record is None:
            return None
        return record, inline_id

    # -- internals --------------------------------------------------------------------------

    def _recipient(self, sender: Account, peer: abcs.InputPeer) -> Account:
        recipient = self._peers.peer(sender, peer)
        if sender.is_bot and recipient.id != sender.id:
            if recipient.is_bot:
                raise USER_IS_BOT()
            if not self._started(sender, recipient):
                # What Telegram answers a bot writing first (the Bot API's 403 "bot can't
                # initiate conversation with a user" is TDLib's rewording of it).
                raise PEER_ID_INVALID()
        return recipient

    def _started(self, bot: Account, user: Account) -> bool:
        """Whether ``user`` has opened the private chat with ``bot``: the bot's box holds a
        message of that chat (the user's first one, or the bot's answers after it). Once
        true it stays true in this process, as on Telegram clearing the chat does not
        undo a start."""
        key = (bot.id, user.id)
        if key in self._started_chats:
            return True
        if not self._storage.messages.history(bot.id, PeerRef.user(user.id), limit=1):
            return False
        if len(self._started_chats) >= _COPY_CACHE_SIZE:
            self._started_chats.clear()
        self._started_chats.add(key)
        return True

    def check_text(self, text: str, *, allow_empty: bool) -> None:
        """A message text's own limits: not blank (unless ``allow_empty``), not too long."""
        if not text.strip() and not allow_empty:
            raise MESSAGE_EMPTY()
        if len(text) > self._config.message_length_max:
            raise MESSAGE_TOO_LONG()

    def bot_markup(
        self, sender: Account, markup: abcs.ReplyMarkup | None, *, allow_game: bool
    ) -> abcs.ReplyMarkup | None:
        """The keyboard to store with ``sender``'s new message, checked."""
        # Users cannot attach keyboards; Telegram drops theirs silently.
        if markup is None or not sender.is_bot:
            return None
        return self._markup.check(
            markup, resolve_user=lambda u: self._peers.user(sender, u), allow_game=allow_game
        )

    def _edited_text(
        self,
        editor: Account,
        old_text: str,
        text: str | None,
        entities: list[abcs.MessageEntity] | None,
    ) -> tuple[str, bytes | Unset | None]:
        resolve = self._resolver(editor)
        if text is None:
            if entities is None:
                return old_text, UNSET
            return old_text, pack_checked_entities(old_text, entities, self._config, resolve)
        self.check_text(text, allow_empty=False)
        # New text resets the formatting: the old offsets mean nothing in it.
        return text, pack_checked_entities(text, entities, self._config, resolve)

    def _resolver(self, viewer: Account) -> Callable[[abcs.InputUser], Account]:
        return lambda user: self._peers.user(viewer, user)

    def _write(
        self,
        sender: Account,
        recipient: Account,
        text: str,
        markup: bytes | None,
        entities: bytes | None,
        media: bytes | None,
        extra: MessageExtra | None = None,
        random_id: int | None = None,
        reply_to_id: int | None = None,
    ) -> list[tuple[StoredMessage, abcs.Update]]:
        """Store the message (``RandomIdTaken`` if ``random_id`` repeats an earlier one)."""
        written = self._storage.messages.send(
            sender_id=sender.id,
            peer=PeerRef.user(recipient.id),
            text=text,
            render_update=_render_new,
            entities=entities,
            reply_markup=markup,
            media=media,
            extra=None if extra is None else extra.encode(),
            random_id=random_id,
            reply_to_id=reply_to_id,
        )
        for copy, _ in written:
            self._remember(copy)
        # The logged body is the update getDifference will replay: push exactly that.
        return [(copy, _logged(stored)) for copy, stored in written]

    def _send(
        self,
        sender: Account,
        recipient: Account,
        text: str,
        random_id: int,
        markup: abcs.ReplyMarkup | None,
        entities: bytes | None,
        media: bytes | None,
        origin: Hashable,
        reply_to_id: int | None = None,
    ) -> types.Updates:
        markup_bytes = None if markup is None else bytes(markup)
        try:
            copies = self._write(
                sender,
                recipient,
                text,
                markup_bytes,
                entities,
                media,
                random_id=random_id,
                reply_to_id=reply_to_id,
            )
        except RandomIdTaken as taken:
            return self._repeat(sender, taken.existing, random_id)
        users = copies_users(copies)
        own_copy, own_update = copies[0]
        for copy, update in copies:
            self.publish(copy.owner_id, [update], users, origin)
        return types.Updates(
            updates=[types.UpdateMessageID(id=own_copy.id, random_id=random_id), own_update],
            users=self._render_ids(sender.id, users),
            chats=[],
            date=own_copy.date,
            seq=0,
        )

    def _repeat(self, sender: Account, first: StoredMessage, random_id: int) -> types.Updates:
        """The answer to a send that repeats ``random_id``: the first send's message, as
        its own answer gave it (Telegram keeps one message per sender and random_id). The
        message is the sender's copy as it is now; nothing is pushed to anyone."""
        update = types.UpdateNewMessage(message=render_message(first), pts=first.pts, pts_count=1)
        return types.Updates(
            updates=[types.UpdateMessageID(id=first.id, random_id=random_id), update],
            users=self._render_ids(sender.id, message_user_ids(first)),
            chats=[],
            date=first.date,
            seq=0,
        )

    def _fan_out_edit(
        self,
        editor_id: int | None,
        written: list[tuple[StoredMessage, StoredUpdate]],
        origin: Hashable,
    ) -> types.Updates:
        updates = [(copy, _logged(stored)) for copy, stored in written]
        users = [i for copy, _ in updates for i in message_user_ids(copy)]
        for copy, update in updates:
            self.publish(copy.owner_id, [update], users, origin)
        own_copy, own_update = updates[0]
        return types.Updates(
            updates=[own_update],
            users=self._render_ids(editor_id or own_copy.owner_id, users),
            chats=[],
            date=int(self._clock()),
            seq=0,
        )

    def publish(
        self, account_id: int, updates: list[abcs.Update], user_ids: list[int], origin: Hashable
    ) -> None:
        """Push already-logged ``updates`` to ``account_id``'s live sessions but ``origin``."""
        if not self._hub.online(account_id):
            return  # nobody to push to: the update is in the log for getDifference
        self._hub.publish(
            account_id,
            types.Updates(
                updates=updates,
                users=self._render_ids(account_id, user_ids),
                chats=[],
                date=int(self._clock()),
                seq=0,
            ),
            exclude=origin,
        )

    def _render_ids(self, viewer_id: int, ids: Iterable[int]) -> list[abcs.User]:
        return render_user_ids(self._storage, ids, viewer_id)

    def _users_of(
        self, viewer_id: int, copies: Iterable[StoredMessage], extra_ids: Iterable[int] = ()
    ) -> list[abcs.User]:
        ids = [viewer_id, *extra_ids]
        for copy in copies:
            ids.extend(message_user_ids(copy))
        return self._render_ids(viewer_id, ids)

    def _count(self, owner_id: int, peer: PeerRef) -> int:
        total = 0
        offset = 0
        while True:
            page = self._storage.messages.history(
                owner_id, peer, offset_id=offset, limit=_HISTORY_PAGE
            )
            total += len(page)
            if len(page) < _HISTORY_PAGE:
                return total
            offset = page[-1].id

    def _remember(self, copy: StoredMessage) -> None:
        key = (copy.owner_id, copy.global_id)
        self._copies[key] = copy.id
        self._copies.move_to_end(key)
        if len(self._copies) > _COPY_CACHE_SIZE:
            self._copies.popitem(last=False)


def copies_users(copies: Iterable[tuple[StoredMessage, abcs.Update]]) -> list[int]:
    return [i for copy, _ in copies for i in message_user_ids(copy)]


def _render_new(copy: StoredMessage) -> bytes:
    return bytes(types.UpdateNewMessage(message=render_message(copy), pts=copy.pts, pts_count=1))


def _render_edit(copy: StoredMessage) -> bytes:
    return bytes(types.UpdateEditMessage(message=render_message(copy), pts=copy.pts, pts_count=1))


def _render_delete(deleted: DeletedMessages) -> bytes:
    return bytes(
        types.UpdateDeleteMessages(
            messages=list(deleted.ids), pts=deleted.pts, pts_count=deleted.pts_count
        )
    )


def _logged(stored: StoredUpdate) -> abcs.Update:
    update: abcs.Update = tl.read(stored.body)
    return update
