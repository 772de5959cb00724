"""Server layer: opaque 64-bit values derived from a server secret.

``chat_instance`` must be the same for every user of a chat and stable across restarts and
processes, yet reveal nothing about the chat; the access hashes of inline message ids and of
games must be unguessable yet recomputable. A keyed hash (HMAC-SHA256 with the secret stored
under ``CHAT_INSTANCE_SECRET``, created on first use) gives all three without storing them.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from loopgram.clock import RandomBytes
from loopgram.storage import CHAT_INSTANCE_SECRET, Storage

_MEMO_SIZE: Final = 65_536


class ServerKeys:
    def __init__(self, storage: Storage, random_bytes: RandomBytes) -> None:
        self._storage = storage
        self._random = random_bytes
        self._secret: bytes | None = None
        # Every press needs its chat's chat_instance, and every message to a supergroup each
        # member's access hash of it; the HMAC behind them never changes (the secret is
        # written once), so the values in use are computed once (bounded: oldest out first).
        self._memo: dict[str, int] = {}

    def _int64(self, label: str) -> int:
        if self._secret is None:
            self._secret = self._storage.settings.setdefault(CHAT_INSTANCE_SECRET, self._random(32))
        digest = hmac.new(self._secret, label.encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "little", signed=True)

    def private_chat_instance(self, a: int, b: int) -> int:
        """The ``chat_instance`` of the private chat between accounts ``a`` and ``b``."""
        low, high = (a, b) if a <= b else (b, a)
        return self._remembered(f"chat_instance:user:{low}:{high}")

    def group_chat_instance(self, chat_id: int) -> int:
        """The ``chat_instance`` of basic group ``chat_id``: one value for all its members."""
        return self._int64(f"chat_instance:chat:{chat_id}")

    def channel_chat_instance(self, channel_id: int) -> int:
        """The ``chat_instance`` of supergroup or channel ``channel_id``."""
        return self._remembered(f"chat_instance:channel:{channel_id}")

    def channel_access_hash(self, viewer_id: int, channel_id: int) -> int:
        """The access_hash of a channel as ``viewer_id`` sees it: one per viewer, as on
        Telegram, so a hash one account saw proves nothing for another."""
        return self._remembered(f"channel:{viewer_id}:{channel_id}")

    def _remembered(self, label: str) -> int:
        memo = self._memo
        value = memo.get(label)
        if value is None:
            value = self._int64(label)
            if len(memo) >= _MEMO_SIZE:
                del memo[next(iter(memo))]
            memo[label] = value
        return value

    def inline_access_hash(self, owner_id: int, msg_id: int) -> int:
        """The access_hash of the inline message id for message ``msg_id`` of ``owner_id``."""
        return self._int64(f"inline:{owner_id}:{msg_id}")

    def game_id(self, bot_id: int, short_name: str) -> tuple[int, int]:
        """``(id, access_hash)`` of the bot's game ``short_name``."""
        return (
            self._int64(f"game:id:{bot_id}:{short_name}"),
            self._int64(f"game:hash:{bot_id}:{short_name}"),
        )
