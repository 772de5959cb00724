"""Server layer: what the server keeps in a stored message's opaque ``extra`` field.

The storage keeps ``extra`` as bytes it never reads; the server writes a small JSON object
there for facts the message row has no column for: the bot a message was sent via,
whether it is an inline-mode message (its buttons then belong to an inline message id),
and which message a channel message replies to (a channel keeps one copy of a message, so
the reply's id needs no per-owner column as private chats' ``reply_to_id`` does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class MessageExtra:
    via_bot_id: int | None = None
    """The bot whose inline mode sent the message (``via_bot_id`` of ``message``)."""
    inline: bool = False
    """Sent in inline mode: button presses become ``updateInlineBotCallbackQuery``."""
    fwd_from_id: int | None = None
    """A forwarded message's original author (``fwd_from.from_id``)."""
    fwd_date: int | None = None
    """When the original was sent (``fwd_from.date``)."""
    action: bytes | None = None
    """A service message's serialised ``MessageAction`` (the message is ``messageService``)."""
    reply_to_id: int | None = None
    """A channel message's reply: the id (one for every member) of the message replied to."""

    def encode(self) -> bytes | None:
        fields: dict[str, Any] = {}
        if self.via_bot_id is not None:
            fields["via_bot_id"] = self.via_bot_id
        if self.inline:
            fields["inline"] = True
        if self.fwd_from_id is not None:
            fields["fwd_from_id"] = self.fwd_from_id
            fields["fwd_date"] = self.fwd_date or 0
        if self.action is not None:
            fields["action"] = self.action.hex()
        if self.reply_to_id is not None:
            fields["reply_to_id"] = self.reply_to_id
        return json.dumps(fields, sort_keys=True).encode() if fields else None

    @classmethod
    def decode(cls, data: bytes | None) -> MessageExtra:
        if not data:
            return _EMPTY
        fields = json.loads(data)
        via = fields.get("via_bot_id")
        fwd_from = fields.get("fwd_from_id")
        fwd_date = fields.get("fwd_date")
        action = fields.get("action")
        reply_to = fields.get("reply_to_id")
        return cls(
            via_bot_id=via if isinstance(via, int) else None,
            inline=fields.get("inline") is True,
            fwd_from_id=fwd_from if isinstance(fwd_from, int) else None,
            fwd_date=fwd_date if isinstance(fwd_date, int) else None,
            action=bytes.fromhex(action) if isinstance(action, str) else None,
            reply_to_id=reply_to if isinstance(reply_to, int) else None,
        )


_EMPTY = MessageExtra()
