"""Storage contract: bot command lists, dialog tops and read marks, contacts.

Runs against every backend of the ``storage`` fixture; the last tests reopen a SQLite file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loopgram.storage import PeerRef, SqliteStorage, Storage
from loopgram.storage.dialogs import ReadState
from loopgram.storage.errors import AccountNotFound
from loopgram.storage.models import StoredMessage

from .conftest import FakeClock, seeded_random


def _render(m: StoredMessage) -> bytes:
    return f"new {m.owner_id}/{m.id}".encode()


def test_command_lists_are_kept_per_scope_and_language(storage: Storage) -> None:
    bot = storage.accounts.create_bot("cmdbot", "Cmd", "s")
    repo = storage.bot_commands
    assert repo.get(bot.id, "default", "") is None
    repo.set(bot.id, "default", "", [("start", "Start"), ("help", "Hilfe ü")])
    repo.set(bot.id, "users", "de", [("start", "Los")])
    assert repo.get(bot.id, "default", "") == [("start", "Start"), ("help", "Hilfe ü")]
    assert repo.get(bot.id, "users", "de") == [("start", "Los")]
    assert repo.get(bot.id, "users", "") is None
    repo.set(bot.id, "default", "", [("only", "One")])
    assert repo.get(bot.id, "default", "") == [("only", "One")]


def test_an_empty_command_list_removes_the_list(storage: Storage) -> None:
    bot = storage.accounts.create_bot("cmdbot", "Cmd", "s")
    storage.bot_commands.set(bot.id, "default", "", [("start", "Start")])
    storage.bot_commands.set(bot.id, "default", "", [])
    assert storage.bot_commands.get(bot.id, "default", "") is None


def test_commands_of_an_unknown_bot_are_refused(storage: Storage) -> None:
    with pytest.raises(AccountNotFound):
        storage.bot_commands.set(12345, "default", "", [("start", "Start")])


def test_dialog_tops_are_the_newest_copy_per_peer_newest_first(storage: Storage) -> None:
    a = storage.accounts.create_user("1", "A")
    b = storage.accounts.create_user("2", "B")
    c = storage.accounts.create_user("3", "C")
    storage.messages.send(sender_id=a.id, peer=PeerRef.user(b.id), text="1", render_update=_render)
    storage.messages.send(sender_id=c.id, peer=PeerRef.user(a.id), text="2", render_update=_render)
    storage.messages.send(sender_id=b.id, peer=PeerRef.user(a.id), text="3", render_update=_render)
    assert storage.dialogs.tops(a.id) == [(PeerRef.user(b.id), 3), (PeerRef.user(c.id), 2)]
    assert storage.dialogs.tops(c.id) == [(PeerRef.user(a.id), 1)]
    assert storage.dialogs.tops(12345) == []


def test_unread_counts_incoming_copies_above_the_mark(storage: Storage) -> None:
    a = storage.accounts.create_user("1", "A")
    b = storage.accounts.create_user("2", "B")
    for text in ("x", "y", "z"):
        storage.messages.send(
            sender_id=b.id, peer=PeerRef.user(a.id), text=text, render_update=_render
        )
    storage.messages.send(sender_id=a.id, peer=PeerRef.user(b.id), text="o", render_update=_render)
    assert storage.dialogs.unread(a.id, PeerRef.user(b.id), 0) == 3
    assert storage.dialogs.unread(a.id, PeerRef.user(b.id), 2) == 1
    assert storage.dialogs.unread(b.id, PeerRef.user(a.id), 0) == 1


def test_read_marks_only_grow(storage: Storage) -> None:
    a = storage.accounts.create_user("1", "A")
    peer = PeerRef.user(99)
    assert storage.dialogs.read_state(a.id, peer) == ReadState(0, 0)
    assert storage.dialogs.mark_read(a.id, peer, inbox_max=5) == ReadState(5, 0)
    assert storage.dialogs.mark_read(a.id, peer, inbox_max=3, outbox_max=7) == ReadState(5, 7)
    assert storage.dialogs.read_state(a.id, peer) == ReadState(5, 7)
    with pytest.raises(AccountNotFound):
        storage.dialogs.mark_read(12345, peer, inbox_max=1)


def test_contacts_are_added_renamed_listed_and_deleted(storage: Storage) -> None:
    a = storage.accounts.create_user("1", "A")
    b = storage.accounts.create_user("2", "B")
    c = storage.accounts.create_user("3", "C")
    storage.contacts.put(a.id, c.id, "Cee", "")
    storage.contacts.put(a.id, b.id, "Bee", "X")
    storage.contacts.put(a.id, b.id, "Bea", "Y")
    assert [(x.contact_id, x.first_name, x.last_name) for x in storage.contacts.list(a.id)] == [
        (b.id, "Bea", "Y"),
        (c.id, "Cee", ""),
    ]
    assert storage.contacts.list(b.id) == []
    assert storage.contacts.delete(a.id, [b.id, b.id, 12345]) == [b.id]
    assert [x.contact_id for x in storage.contacts.list(a.id)] == [c.id]
    with pytest.raises(AccountNotFound):
        storage.contacts.put(a.id, 12345, "Nobody", "")


def test_commands_marks_and_contacts_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "everyday.db"
    clock = FakeClock()
    with SqliteStorage(path, clock=clock, random_bytes=seeded_random()) as s:
        bot = s.accounts.create_bot("cmdbot", "Cmd", "s")
        a = s.accounts.create_user("1", "A")
        s.bot_commands.set(bot.id, "peer:user:5", "en", [("start", "Start")])
        s.dialogs.mark_read(a.id, PeerRef.user(bot.id), inbox_max=4, outbox_max=2)
        s.contacts.put(a.id, bot.id, "Bot", "")
    with SqliteStorage(path, clock=clock, random_bytes=seeded_random()) as s:
        assert s.bot_commands.get(bot.id, "peer:user:5", "en") == [("start", "Start")]
        assert s.dialogs.read_state(a.id, PeerRef.user(bot.id)) == ReadState(4, 2)
        assert [x.contact_id for x in s.contacts.list(a.id)] == [bot.id]
