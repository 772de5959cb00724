"""Server layer: read marks -- the inbox and outbox marks ``messages.readHistory`` moves.

Private chats (``DialogService``) and basic groups (``ChatService``) move the marks the same
way and log the same updates; they differ in whose outbox a read reaches and in how the
logged update is pushed, which stays with each service.
"""

from __future__ import annotations

from dataclasses import dataclass

from loopgram.server.services.render import peer_of
from loopgram.storage import PeerRef, Storage, StoredUpdate
from loopgram.tl import types


@dataclass(frozen=True, slots=True)
class InboxRead:
    update: StoredUpdate
    """The logged ``updateReadHistoryInbox``."""
    upto: int
    """The new inbox mark."""
    before: int
    """The inbox mark before this read."""


def mark_inbox_read(
    storage: Storage, viewer_id: int, ref: PeerRef, max_id: int
) -> InboxRead | None:
    """Move ``viewer_id``'s inbox mark in ``ref`` up to ``max_id`` (0 or past the newest
    message: all of it) and log the update; ``None`` when that reads nothing new."""
    newest = storage.messages.history(viewer_id, ref, limit=1)
    if not newest:
        return None
    top = newest[0].id
    upto = top if max_id <= 0 or max_id > top else max_id
    before = storage.dialogs.read_state(viewer_id, ref)
    if upto <= before.inbox_max:
        return None
    storage.dialogs.mark_read(viewer_id, ref, inbox_max=upto)
    still = storage.dialogs.unread(viewer_id, ref, upto)
    inbox = storage.updates.append(
        viewer_id,
        pts_count=1,
        render=lambda pts, count: bytes(
            types.UpdateReadHistoryInbox(
                peer=peer_of(ref),
                max_id=upto,
                still_unread_count=still,
                pts=pts,
                pts_count=count,
            )
        ),
    )
    return InboxRead(update=inbox, upto=upto, before=before.inbox_max)


def mark_outbox_read(
    storage: Storage, author_id: int, ref: PeerRef, read_id: int
) -> StoredUpdate | None:
    """Move ``author_id``'s outbox mark in ``ref`` up to its message ``read_id`` and log the
    update; ``None`` when the mark is there already."""
    if read_id <= storage.dialogs.read_state(author_id, ref).outbox_max:
        return None
    storage.dialogs.mark_read(author_id, ref, outbox_max=read_id)
    return storage.updates.append(
        author_id,
        pts_count=1,
        render=lambda pts, count: bytes(
            types.UpdateReadHistoryOutbox(
                peer=peer_of(ref), max_id=read_id, pts=pts, pts_count=count
            )
        ),
    )
