"""Storage layer: argument checks and small rules shared by every backend.

Keeping them in one place is what makes the backends agree on the corner cases that the
contract suite pins down (value ranges, token parsing, the history window).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Sequence
from enum import Enum
from typing import Final, TypeVar

from loopgram.clock import Clock, RandomBytes
from loopgram.storage.errors import ValueTooLarge
from loopgram.storage.models import (
    AUTH_KEY_SIZE,
    PeerKind,
    PeerRef,
    SessionState,
)

T = TypeVar("T")

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
MAX_HISTORY_LIMIT: Final = 1000
"""Upper bound for one history or update-log page; callers clamp Telegram's own limits."""
MAX_VALUE_BYTES: Final = 4 * 1024 * 1024
"""Largest text or TL blob one message field may hold. The server's own limits keep values
far below it; this bound makes every backend refuse the same oversized value the same way
(``ValueTooLarge``) rather than each failing on its own driver's limit."""


class Unset(Enum):
    """Type of ``UNSET``: marks an update argument the caller did not pass (``None`` clears)."""

    UNSET = "UNSET"


UNSET: Final = Unset.UNSET


def passed(**fields: object) -> dict[str, object]:
    """The update arguments the caller passed (those not ``UNSET``), by name."""
    return {name: value for name, value in fields.items() if value is not UNSET}


def opt_bytes(value: bytes | None) -> bytes | None:
    return None if value is None else bytes(value)


def check_sizes(*values: str | bytes | Unset | None) -> None:
    """``ValueTooLarge`` if a text or blob passed for a message field exceeds the bound."""
    for value in values:
        if isinstance(value, str):
            # A UTF-8 character takes at most 4 bytes: encode only what might be too long.
            if len(value) * 4 > MAX_VALUE_BYTES and len(value.encode()) > MAX_VALUE_BYTES:
                raise ValueTooLarge(f"a text of {len(value)} characters is too large to store")
        elif isinstance(value, bytes | bytearray | memoryview) and len(value) > MAX_VALUE_BYTES:
            raise ValueTooLarge(f"a value of {len(value)} bytes is too large to store")


def check_int64(value: int, what: str) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{what} {value} does not fit in a signed 64-bit integer")
    return value


def check_key(key: bytes) -> bytes:
    if len(key) != AUTH_KEY_SIZE:
        raise ValueError(f"an auth key is {AUTH_KEY_SIZE} bytes, not {len(key)}")
    return bytes(key)


def check_session(auth_key_id: int, session_id: int) -> tuple[int, int]:
    check_int64(auth_key_id, "auth key id")
    check_int64(session_id, "session id")
    return auth_key_id, session_id


def check_session_state(state: SessionState) -> tuple[int, int]:
    key = check_session(state.auth_key_id, state.session_id)
    check_int64(state.last_msg_id, "msg_id")
    for s in state.salts:
        check_int64(s.salt, "salt")
    return key


def check_pts_count(pts_count: int) -> int:
    if pts_count < 1:
        raise ValueError(f"pts_count must be positive, not {pts_count}")
    return pts_count


def check_limit(limit: int) -> int:
    if limit < 0:
        raise ValueError(f"negative limit {limit}")
    return min(limit, MAX_HISTORY_LIMIT)


def now(clock: Clock) -> int:
    return int(clock())


def random_int64(random_bytes: RandomBytes) -> int:
    return int.from_bytes(random_bytes(8), "little", signed=True)


def username_key(username: str) -> str:
    # Telegram usernames are ASCII letters, digits and underscores, so lower() is a complete
    # case fold; the key is what the uniqueness rule compares.
    return username.lower()


def hash_bot_secret(secret: str) -> bytes:
    # The secret is cryptographically random, so a plain SHA-256 (no salt, no slow KDF) is
    # enough to make a leaked database useless for logging in as the bot.
    return hashlib.sha256(secret.encode()).digest()


def secret_matches(secret: str, stored_hash: bytes | None) -> bool:
    return stored_hash is not None and hmac.compare_digest(hash_bot_secret(secret), stored_hash)


def parse_bot_token(token: str) -> tuple[int, str] | None:
    """``"<bot_id>:<secret>"`` -> ``(bot_id, secret)``, or ``None`` if malformed."""
    bot_id, sep, secret = token.partition(":")
    # More than 19 digits is beyond int64 (and int() refuses thousands of them outright).
    if not sep or not secret or not bot_id.isdigit() or not bot_id.isascii() or len(bot_id) > 19:
        return None
    value = int(bot_id)
    if value > INT64_MAX:
        return None
    return value, secret


def check_secret(secret: str) -> str:
    if not secret or ":" in secret:
        raise ValueError("a bot token secret is non-empty and contains no ':'")
    return secret


IN_CHUNK: Final = 500
"""Most ids one ``IN (...)`` lookup names: a client's list of ids is looked up in chunks,
however long it is, below every SQL engine's limit on bound parameters."""


def chunks(ids: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def box_owners(
    sender_id: int, peer: PeerRef, member_ids: Iterable[int] | None
) -> list[tuple[int, PeerRef, bool]]:
    """Who gets a copy of a new message: ``(owner_id, peer as the owner sees it, out)``.

    A private message goes into the sender's box and the recipient's (one box when they are
    the same account: Saved Messages). A group message goes into every member's box.
    """
    if peer.kind is PeerKind.USER:
        if member_ids is not None:
            raise ValueError("member_ids is only for group messages")
        boxes = [(sender_id, peer, True)]
        if peer.id != sender_id:
            boxes.append((peer.id, PeerRef.user(sender_id), False))
        return boxes
    if member_ids is None:
        raise ValueError("a group message needs member_ids")
    members = list(dict.fromkeys(member_ids))
    if sender_id not in members:
        raise ValueError("the sender of a group message must be a member")
    return [(m, peer, m == sender_id) for m in members]


def history_window(
    newest_first: Sequence[T],
    ids: Sequence[int],
    offset_id: int,
    add_offset: int,
    limit: int,
) -> list[T]:
    """Telegram's ``messages.getHistory`` window over an already filtered, id-descending list.

    The window starts at the first message older than ``offset_id`` (0: the newest), moved
    by ``add_offset`` (negative values reach newer messages), and spans ``limit`` messages;
    a start before the newest message is clamped without moving the end.
    """
    pos = 0 if offset_id == 0 else sum(1 for i in ids if i >= offset_id)
    start = pos + add_offset
    end = start + limit
    return list(newest_first[max(start, 0) : max(end, 0)])
