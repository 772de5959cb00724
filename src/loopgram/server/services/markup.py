"""Server layer: reply markups -- what a bot may attach to a message, and which button a
callback press hits.

Layer 229 writes an inline button as ``keyboardInlineButton`` with an ``InlineButtonType``
(``inlineButtonTypeCallback`` with ``data`` and maybe ``requires_password``,
``inlineButtonTypeGame``, ``inlineButtonTypeUrl``, ...). Bots send the input forms of URL-auth
and user-profile buttons; the stored markup holds their output forms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from loopgram.server.config import ServerConfig
from loopgram.server.errors import (
    BUTTON_DATA_INVALID,
    BUTTON_TEXT_INVALID,
    BUTTON_TYPE_INVALID,
    BUTTON_URL_INVALID,
    REPLY_MARKUP_INVALID,
    REPLY_MARKUP_TOO_LONG,
)
from loopgram.server.services.render import parse_markup
from loopgram.storage import Account
from loopgram.tl import abcs, types

ResolveUser = Callable[[abcs.InputUser], Account]

_URL_SCHEMES: Final = frozenset({"http", "https", "tg", "ton"})
_URL_LENGTH_MAX: Final = 2048
_REPLY_KEYBOARD_ROW_MAX: Final = 12


@dataclass(frozen=True, slots=True)
class PressTarget:
    """The button a press hit: a callback button (``data``) or a game button."""

    data: bytes | None
    game: bool
    requires_password: bool = False


def valid_button_url(url: str, max_length: int = _URL_LENGTH_MAX) -> bool:
    """An http(s) URL with a host (scheme optional, as Telegram accepts ``t.me/x``) or a
    ``tg://`` / ``ton://`` link, at most ``max_length`` bytes."""
    if not url or len(url.encode()) > max_length or any(c.isspace() for c in url):
        return False
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme.lower() not in _URL_SCHEMES:
        return False
    if parts.scheme.lower() in ("http", "https"):
        return "." in parts.netloc or parts.hostname == "localhost"
    return bool(parts.netloc or parts.path)


def inline_buttons(markup: abcs.ReplyMarkup | None) -> Iterator[types.KeyboardInlineButton]:
    if isinstance(markup, types.ReplyInlineMarkup):
        for row in markup.rows:
            if isinstance(row, types.KeyboardInlineButtonRow):
                for button in row.buttons:
                    if isinstance(button, types.KeyboardInlineButton):
                        yield button


_PRESS_INDEX_SIZE: Final = 4096


class PressTargets:
    """Which button a press hits, from the markup as stored (its TL bytes).

    Parsing a keyboard costs more than the rest of a press check, and a message is pressed
    many times between edits: each distinct stored markup is parsed once, into a table of
    its callback buttons by data (and its game button). The table is keyed by the bytes
    themselves, so an edited keyboard -- other bytes -- can never be answered from the
    table of the one it replaced. The oldest tables go first beyond ``size``.
    """

    def __init__(self, size: int = _PRESS_INDEX_SIZE) -> None:
        self._size = size
        self._tables: dict[bytes, dict[bytes | None, PressTarget]] = {}

    def find(self, stored: bytes | None, *, data: bytes | None, game: bool) -> PressTarget | None:
        """What ``find_press_target`` answers for the parsed ``stored`` markup."""
        if stored is None:
            return None
        table = self._tables.get(stored)
        if table is None:
            table = self._index(stored)
        if game:
            return table.get(None)
        return None if data is None else table.get(data)

    def _index(self, stored: bytes) -> dict[bytes | None, PressTarget]:
        table: dict[bytes | None, PressTarget] = {}
        for button in inline_buttons(parse_markup(stored)):
            kind = button.type
            # The first matching button wins, as in find_press_target.
            if isinstance(kind, types.InlineButtonTypeGame):
                table.setdefault(None, PressTarget(data=None, game=True))
            elif isinstance(kind, types.InlineButtonTypeCallback):
                table.setdefault(
                    kind.data,
                    PressTarget(
                        data=kind.data, game=False, requires_password=kind.requires_password
                    ),
                )
        tables = self._tables
        if len(tables) >= self._size:
            del tables[next(iter(tables))]
        tables[stored] = table
        return table


def find_press_target(
    markup: abcs.ReplyMarkup | None, *, data: bytes | None, game: bool
) -> PressTarget | None:
    """The button of ``markup`` a press with ``data`` (or the game flag) hits, if any."""
    for button in inline_buttons(markup):
        kind = button.type
        if game and isinstance(kind, types.InlineButtonTypeGame):
            return PressTarget(data=None, game=True)
        if (
            not game
            and data is not None
            and isinstance(kind, types.InlineButtonTypeCallback)
            and kind.data == data
        ):
            return PressTarget(data=data, game=False, requires_password=kind.requires_password)
    return None


def has_game_button(markup: abcs.ReplyMarkup | None) -> bool:
    return any(isinstance(b.type, types.InlineButtonTypeGame) for b in inline_buttons(markup))


class MarkupRules:
    """Validates a bot's reply markup and returns the form to store.

    Telegram's sizes: an inline keyboard holds at most 100 buttons, 8 a row; a reply
    keyboard 300, 12 a row; and either is REPLY_MARKUP_TOO_LONG past about 10 KB, which is
    what bounds button texts and the other strings a button carries.
    """

    def __init__(self, config: ServerConfig) -> None:
        self._config = config

    def check(
        self, markup: abcs.ReplyMarkup, *, resolve_user: ResolveUser, allow_game: bool
    ) -> abcs.ReplyMarkup:
        checked: abcs.ReplyMarkup
        if isinstance(markup, types.ReplyInlineMarkup):
            checked = self._inline(markup, resolve_user, allow_game)
        elif isinstance(markup, types.ReplyKeyboardMarkup):
            self._keyboard(markup)
            checked = markup
        elif isinstance(markup, types.ReplyKeyboardHide | types.ReplyKeyboardForceReply):
            checked = markup
        else:
            raise REPLY_MARKUP_INVALID()
        if len(bytes(checked)) > self._config.reply_markup_size_max:
            raise REPLY_MARKUP_TOO_LONG()
        return checked

    def _inline(
        self, markup: types.ReplyInlineMarkup, resolve_user: ResolveUser, allow_game: bool
    ) -> types.ReplyInlineMarkup:
        rows: list[abcs.KeyboardInlineButtonRow] = []
        count = 0
        if len(markup.rows) > self._config.max_buttons:
            raise REPLY_MARKUP_TOO_LONG()
        for row in markup.rows:
            if not isinstance(row, types.KeyboardInlineButtonRow):
                raise REPLY_MARKUP_INVALID()
            if len(row.buttons) > self._config.buttons_per_row_max:
                raise REPLY_MARKUP_TOO_LONG()
            buttons: list[abcs.KeyboardInlineButton] = []
            for button in row.buttons:
                if not isinstance(button, types.KeyboardInlineButton):
                    raise REPLY_MARKUP_INVALID()
                count += 1
                if count > self._config.max_buttons:
                    raise REPLY_MARKUP_TOO_LONG()
                if not button.text.strip():
                    raise BUTTON_TEXT_INVALID()
                kind = self._button_type(button.type, count, resolve_user, allow_game)
                if kind is not button.type:
                    button = types.KeyboardInlineButton(
                        style=button.style, text=button.text, type=kind
                    )
                buttons.append(button)
            if buttons:
                rows.append(types.KeyboardInlineButtonRow(buttons=buttons))
        return types.ReplyInlineMarkup(force_reply=markup.force_reply, rows=rows)

    def _button_type(
        self,
        kind: abcs.InlineButtonType,
        button_id: int,
        resolve_user: ResolveUser,
        allow_game: bool,
    ) -> abcs.InlineButtonType:
        if isinstance(kind, types.InlineButtonTypeCallback):
            if not 1 <= len(kind.data) <= self._config.callback_data_max:
                raise BUTTON_DATA_INVALID()
            return kind
        if isinstance(kind, types.InlineButtonTypeUrl | types.InlineButtonTypeWebView):
            if not valid_button_url(kind.url, self._config.url_length_max):
                raise BUTTON_URL_INVALID()
            return kind
        if isinstance(kind, types.InlineButtonTypeGame):
            # A game button only makes sense on a game message (messages.sendMedia with
            # inputMediaGame): that is where the game's short name comes from.
            if not allow_game:
                raise BUTTON_TYPE_INVALID()
            return kind
        if isinstance(kind, types.InputInlineButtonTypeUrlAuth):
            if not valid_button_url(kind.url, self._config.url_length_max):
                raise BUTTON_URL_INVALID()
            return types.InlineButtonTypeUrlAuth(
                fwd_text=kind.fwd_text, url=kind.url, button_id=button_id
            )
        if isinstance(kind, types.InputInlineButtonTypeUserProfile):
            return types.InlineButtonTypeUserProfile(user_id=resolve_user(kind.user_id).id)
        if isinstance(
            kind,
            types.InlineButtonTypeSwitchInline
            | types.InlineButtonTypeCopy
            | types.InlineButtonTypeUserProfile
            | types.InlineButtonTypeDisabled,
        ):
            return kind
        # Buy buttons need an invoice, URL-auth output forms are the server's to make.
        raise BUTTON_TYPE_INVALID()

    def _keyboard(self, markup: types.ReplyKeyboardMarkup) -> None:
        total_max = self._config.reply_keyboard_buttons_max
        if len(markup.rows) > total_max:
            raise REPLY_MARKUP_TOO_LONG()
        count = 0
        for row in markup.rows:
            if not isinstance(row, types.KeyboardButtonRow):
                raise REPLY_MARKUP_INVALID()
            count += len(row.buttons)
            if len(row.buttons) > _REPLY_KEYBOARD_ROW_MAX or count > total_max:
                raise REPLY_MARKUP_TOO_LONG()
            for button in row.buttons:
                if not isinstance(button, types.KeyboardButton) or not button.text.strip():
                    raise BUTTON_TEXT_INVALID()
