"""Client layer: the high-level objects -- messages with buttons, callback queries, answers.

They wrap the raw TL objects (``.raw``) and know the client they came from, so that a user
can ``await message.press(0, 1)`` and a bot ``await query.answer("Done", alert=True)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loopgram.client._error_base import expect
from loopgram.client.errors import (
    AlreadyAnsweredError,
    MessageTooLongError,
    UrlInvalidError,
)
from loopgram.tl import abcs, types
from loopgram.tl.types import messages as msg_types

if TYPE_CHECKING:
    from loopgram.client.client import Client

__all__ = ["Button", "CallbackAnswer", "CallbackQuery", "Message", "keyboard"]


@dataclass(frozen=True, slots=True)
class Button:
    """One inline button: its label and what it does (``data`` for a callback button,
    ``url`` for a link, ``game`` for a game button).

    Build keyboards with ``Button.callback("Yes", b"yes")``, ``Button.url("Docs", "...")``.
    """

    text: str
    data: bytes | None = None
    url: str | None = None
    game: bool = False
    requires_password: bool = False

    @classmethod
    def callback(cls, text: str, data: bytes | str) -> Button:
        return cls(text, data=data.encode() if isinstance(data, str) else data)

    @classmethod
    def link(cls, text: str, url: str) -> Button:
        return cls(text, url=url)

    @classmethod
    def play(cls, text: str = "Play") -> Button:
        return cls(text, game=True)

    @property
    def is_callback(self) -> bool:
        return self.data is not None or self.game

    def to_tl(self) -> types.KeyboardInlineButton:
        kind: abcs.InlineButtonType
        if self.data is not None:
            kind = types.InlineButtonTypeCallback(
                data=self.data, requires_password=self.requires_password
            )
        elif self.url is not None:
            kind = types.InlineButtonTypeUrl(url=self.url)
        elif self.game:
            kind = types.InlineButtonTypeGame()
        else:
            raise ValueError(f"button {self.text!r} has neither data, url nor game")
        return types.KeyboardInlineButton(text=self.text, type=kind)

    @classmethod
    def from_tl(cls, button: abcs.KeyboardInlineButton) -> Button:
        button = expect(button, types.KeyboardInlineButton)
        kind = button.type
        if isinstance(kind, types.InlineButtonTypeCallback):
            return cls(button.text, data=kind.data, requires_password=kind.requires_password)
        if isinstance(kind, types.InlineButtonTypeUrl):
            return cls(button.text, url=kind.url)
        if isinstance(kind, types.InlineButtonTypeGame):
            return cls(button.text, game=True)
        return cls(button.text)


def keyboard(rows: Sequence[Sequence[Button]] | abcs.ReplyMarkup | None) -> abcs.ReplyMarkup | None:
    """An inline keyboard from rows of :class:`Button` (a ready ``ReplyMarkup`` passes)."""
    if rows is None or isinstance(rows, abcs.ReplyMarkup):
        return rows
    return types.ReplyInlineMarkup(
        rows=[types.KeyboardInlineButtonRow(buttons=[b.to_tl() for b in row]) for row in rows]
    )


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """What a user sees after pressing a callback button (``messages.botCallbackAnswer``).

    ``cached`` is true when the client answered from its cache (the bot's ``cache_time``
    had not run out) without asking the server.
    """

    alert: bool = False
    message: str | None = None
    url: str | None = None
    cache_time: int = 0
    has_url: bool = False
    native_ui: bool = False
    cached: bool = False

    @classmethod
    def from_tl(cls, answer: msg_types.BotCallbackAnswer) -> CallbackAnswer:
        return cls(
            alert=answer.alert,
            message=answer.message,
            url=answer.url,
            cache_time=answer.cache_time,
            has_url=answer.has_url,
            native_ui=answer.native_ui,
        )

    def describe(self) -> str:
        """How a Telegram app would show it, in one line."""
        parts = []
        if self.message:
            parts.append(f"{'alert' if self.alert else 'toast'}: {self.message!r}")
        if self.url:
            parts.append(f"open {self.url}")
        if not parts:
            parts.append("(nothing shown)")
        if self.cache_time:
            parts.append(f"cached for {self.cache_time} s")
        return ", ".join(parts)


class Message:
    """A message of a private chat, as the client's account sees it."""

    __slots__ = ("_client", "raw")

    def __init__(self, client: Client, raw: types.Message) -> None:
        self._client = client
        self.raw = raw

    def __repr__(self) -> str:
        return f"<Message {self.id} in {self.chat_id}: {self.text!r}>"

    @property
    def id(self) -> int:
        return self.raw.id

    @property
    def text(self) -> str:
        return self.raw.message

    @property
    def out(self) -> bool:
        """Sent by this account."""
        return self.raw.out

    @property
    def date(self) -> int:
        return self.raw.date

    @property
    def chat_id(self) -> int:
        """The other party of the private chat (the bot, for a user; the user, for a bot)."""
        peer = self.raw.peer_id
        return peer.user_id if isinstance(peer, types.PeerUser) else 0

    @property
    def sender_id(self) -> int:
        peer = self.raw.from_id
        if isinstance(peer, types.PeerUser):
            return peer.user_id
        return self._client.me_id if self.out else self.chat_id

    @property
    def buttons(self) -> list[list[Button]]:
        """The inline keyboard, row by row (empty without one)."""
        markup = self.raw.reply_markup
        if not isinstance(markup, types.ReplyInlineMarkup):
            return []
        return [
            [Button.from_tl(b) for b in row.buttons]
            for row in markup.rows
            if isinstance(row, types.KeyboardInlineButtonRow)
        ]

    def button(self, row: int, col: int) -> Button:
        return self.buttons[row][col]

    async def press(
        self,
        row: int | None = None,
        col: int | None = None,
        *,
        data: bytes | str | None = None,
        text: str | None = None,
    ) -> CallbackAnswer:
        """Press a callback button -- by position, by ``data`` or by label -- and return the
        bot's answer (``BotResponseTimeoutError`` if it does not answer in time).

        Pressing the same button again within the answer's ``cache_time`` returns the
        cached answer without asking the bot.
        """
        game = False
        if data is None:
            target: Button | None = None
            if row is not None:
                target = self.button(row, col or 0)
            elif text is not None:
                target = next((b for r in self.buttons for b in r if b.text == text), None)
                if target is None:
                    raise ValueError(f"no button labelled {text!r}")
            else:
                raise ValueError("press(row, col), press(data=...) or press(text=...)")
            if not target.is_callback:
                raise ValueError(f"button {target.text!r} is not a callback button")
            data, game = target.data, target.game
        raw = data.encode() if isinstance(data, str) else data
        return await self._client.press_button(self.chat_id, self.id, data=raw, game=game)

    async def reply(
        self,
        text: str,
        *,
        buttons: Sequence[Sequence[Button]] | abcs.ReplyMarkup | None = None,
    ) -> Message:
        """Send ``text`` to the same chat."""
        return await self._client.send_message(self.chat_id, text, buttons=buttons)

    async def edit(
        self,
        text: str | None = None,
        *,
        buttons: Sequence[Sequence[Button]] | abcs.ReplyMarkup | None = None,
    ) -> Message:
        """Edit this message (text and/or keyboard)."""
        return await self._client.edit_message(self.chat_id, self.id, text, buttons=buttons)


class CallbackQuery:
    """A button press, as the bot receives it; answer it once with :meth:`answer`.

    ``message`` is the pressed message when the client knows it (it sent or fetched it in
    this process), else ``None`` -- :meth:`get_message` fetches it. Inline-mode messages
    have ``inline_message_id`` instead.
    """

    __slots__ = (
        "_answered",
        "_client",
        "chat_instance",
        "data",
        "game_short_name",
        "inline_message_id",
        "message",
        "msg_id",
        "query_id",
        "raw",
        "user_id",
    )

    def __init__(
        self,
        client: Client,
        raw: types.UpdateBotCallbackQuery | types.UpdateInlineBotCallbackQuery,
        message: Message | None,
    ) -> None:
        self._client = client
        self.raw = raw
        self.query_id = raw.query_id
        self.user_id = raw.user_id
        self.chat_instance = raw.chat_instance
        self.data = raw.data
        self.game_short_name = raw.game_short_name
        self.message = message
        if isinstance(raw, types.UpdateBotCallbackQuery):
            self.msg_id: int | None = raw.msg_id
            self.inline_message_id: abcs.InputBotInlineMessageID | None = None
        else:
            self.msg_id = None
            self.inline_message_id = raw.msg_id
        self._answered = False

    def __repr__(self) -> str:
        return f"<CallbackQuery {self.query_id} from {self.user_id}: {self.data!r}>"

    @property
    def answered(self) -> bool:
        return self._answered

    async def get_message(self) -> Message | None:
        """The pressed message, fetched from the server if the client does not have it."""
        if self.message is None and self.msg_id is not None:
            found = await self._client.get_messages(self.user_id, [self.msg_id])
            self.message = found[0] if found else None
        return self.message

    async def answer(
        self,
        text: str | None = None,
        *,
        alert: bool = False,
        url: str | None = None,
        cache_time: int = 0,
    ) -> bool:
        """Answer the press: ``text`` as a toast (an ``alert`` box if set), ``url`` to open
        (the bot's own ``t.me/<bot>?start=...`` link, or its game URL), and how many
        seconds the user's client may reuse this answer (``cache_time``).

        At most once: a second call raises :class:`AlreadyAnsweredError` without asking
        the server (which would answer ``QUERY_ID_INVALID``). An answer the server refuses
        for its content (``MESSAGE_TOO_LONG``, ``URL_INVALID``) leaves the query open, so
        a corrected answer may follow.
        """
        if self._answered:
            raise AlreadyAnsweredError(f"callback query {self.query_id} was already answered")
        self._answered = True
        try:
            return await self._client.answer_callback_query(
                self.query_id, text, alert=alert, url=url, cache_time=cache_time
            )
        except (MessageTooLongError, UrlInvalidError):
            self._answered = False
            raise
