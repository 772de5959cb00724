"""Server layer: Telegram's limits on what a client may store, checked before anything is.

Every value a client hands the server to keep -- message text and its formatting entities,
keyboards, names, the strings of ``initConnection`` -- passes one of these checks first, so
that a stored row is never larger than Telegram would keep and never too large for another
account's ``updates.getDifference`` or ``messages.getHistory`` to carry. The numbers are
``ServerConfig`` fields (Telegram's values by default); the MTProto handlers and the Bot API
front door reach these checks through the same services.

Choices where Telegram's rule needs a local reading:

- Entities past the 100th are dropped, as Telegram ignores them; entities of length 0 are
  dropped too (they format nothing). A negative offset or length, or an entity reaching past
  the text (counted in UTF-16 code units, as Telegram counts), is ENTITY_BOUNDS_INVALID.
- The entities' serialised size (their URLs, code languages, ...) is bounded as a whole,
  ENTITIES_TOO_LONG, as on Telegram; a text-URL entity's URL beyond ``url_length_max`` is
  ENTITIES_TOO_LONG too.
- ``initConnection``: ``device_model``, ``system_version`` and ``app_version`` are only shown,
  so longer ones are cut to ``client_string_max``; a ``lang_pack`` or language code longer than
  ``lang_code_max`` is CONNECTION_LANG_PACK_INVALID.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from loopgram.server.config import ServerConfig
from loopgram.server.errors import (
    CONNECTION_LANG_PACK_INVALID,
    ENTITIES_TOO_LONG,
    ENTITY_BOUNDS_INVALID,
    ENTITY_MENTION_USER_INVALID,
    FIRSTNAME_INVALID,
    INPUT_REQUEST_TOO_LONG,
    LASTNAME_INVALID,
    FloodWait,
    RpcError,
)
from loopgram.storage import Account, StorageBusy, StorageError, ValueTooLarge
from loopgram.tl import abcs, types
from loopgram.tl.core import write_vector_header

_UTF16: Final = "utf-16-le"


def utf16_length(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of entity offsets and lengths."""
    if text.isascii():
        return len(text)
    return len(text.encode(_UTF16, "surrogatepass")) // 2


ResolveUser = Callable[[abcs.InputUser], Account]


def pack_checked_entities(
    text: str,
    entities: Sequence[abcs.MessageEntity] | None,
    config: ServerConfig,
    resolve_user: ResolveUser | None = None,
) -> bytes | None:
    """The entities of ``text`` as stored (a serialised ``Vector<MessageEntity>``), or
    ``None`` for none; raises ENTITY_BOUNDS_INVALID or ENTITIES_TOO_LONG (see the module
    docstring). A mention by input user becomes ``messageEntityMentionName`` of the user
    ``resolve_user`` finds (ENTITY_MENTION_USER_INVALID if none)."""
    if not entities:
        return None
    text_length = utf16_length(text)
    size_max = config.entities_size_max
    url_max = config.url_length_max
    body = bytearray()
    kept = 0
    for entity in entities:
        if kept >= config.entities_max:
            break
        offset: int = getattr(entity, "offset", -1)
        length: int = getattr(entity, "length", -1)
        if offset < 0 or length < 0 or offset + length > text_length:
            raise ENTITY_BOUNDS_INVALID()
        if length == 0:
            continue
        if isinstance(entity, types.MessageEntityTextUrl) and len(entity.url.encode()) > url_max:
            raise ENTITIES_TOO_LONG()
        if isinstance(entity, types.InputMessageEntityMentionName) and resolve_user is not None:
            entity = _mention(entity, resolve_user)
        body += bytes(entity)
        if len(body) > size_max:
            raise ENTITIES_TOO_LONG()
        kept += 1
    if not kept:
        return None
    head = bytearray()
    write_vector_header(head, kept)
    return bytes(head + body)


def _mention(
    entity: types.InputMessageEntityMentionName, resolve_user: ResolveUser
) -> types.MessageEntityMentionName:
    try:
        user = resolve_user(entity.user_id)
    except RpcError:
        raise ENTITY_MENTION_USER_INVALID() from None
    return types.MessageEntityMentionName(
        offset=entity.offset, length=entity.length, user_id=user.id
    )


def check_first_name(name: str, config: ServerConfig) -> str:
    """A first name as stored: stripped, 1 to ``name_length_max`` characters."""
    name = name.strip()
    if not name or len(name) > config.name_length_max:
        raise FIRSTNAME_INVALID()
    return name


def check_last_name(name: str | None, config: ServerConfig) -> str | None:
    """A last name as stored (``None`` for none): at most ``name_length_max`` characters."""
    if name is None:
        return None
    name = name.strip()
    if len(name) > config.name_length_max:
        raise LASTNAME_INVALID()
    return name or None


def client_string(value: str, config: ServerConfig) -> str:
    """A descriptive ``initConnection`` string, cut to ``client_string_max`` characters."""
    return value[: config.client_string_max]


def lang_code(value: str, config: ServerConfig) -> str:
    """A language code or language pack name of ``initConnection``."""
    if len(value) > config.lang_code_max:
        raise CONNECTION_LANG_PACK_INVALID()
    return value


def storage_failure(error: StorageError) -> RpcError | None:
    """The answer a client gets when the storage refuses a write it asked for: a value the
    checks above let through but the backend cannot keep is INPUT_REQUEST_TOO_LONG, a
    database held by another process for longer than the busy timeout a one-second
    FLOOD_WAIT (clients retry those by themselves). ``None``: a server fault (500)."""
    if isinstance(error, ValueTooLarge):
        return INPUT_REQUEST_TOO_LONG()
    if isinstance(error, StorageBusy):
        return FloodWait(1)
    return None
