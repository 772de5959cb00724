"""Storage contract: basic groups (chats, participants, version), group messages in every
member's box with each member's own pts, and bots' privacy flag.

Runs against every backend of the ``storage`` fixture; the last test reopens a SQLite file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loopgram.storage import PeerRef, SqliteStorage, Storage
from loopgram.storage.chats import FIRST_CHAT_ID, ChatNotFound
from loopgram.storage.errors import AccountNotFound
from loopgram.storage.models import StoredMessage

from .conftest import FakeClock, seeded_random


def _render(m: StoredMessage) -> bytes:
    return f"new {m.owner_id}/{m.id}/{m.pts}".encode()


def test_a_new_chat_holds_its_creator_as_admin_and_the_invited_members(storage: Storage) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    bob = storage.accounts.create_user("+1002", "Bob")
    chat, members = storage.chats.create(alice.id, "Club", [bob.id, bob.id], date=5)
    assert chat.id == FIRST_CHAT_ID
    assert (chat.title, chat.creator_id, chat.date, chat.version) == ("Club", alice.id, 5, 1)
    assert [(p.user_id, p.admin, p.inviter_id) for p in members] == [
        (alice.id, True, alice.id),
        (bob.id, False, alice.id),
    ]
    assert storage.chats.participants(chat.id) == members
    assert storage.chats.get(chat.id) == chat
    second, _ = storage.chats.create(bob.id, "Two", [], date=6)
    assert second.id == chat.id + 1
    assert storage.chats.get_many([second.id, 7, chat.id]) == [second, chat]
    assert storage.chats.chats_of(bob.id) == [chat.id, second.id]
    assert storage.chats.chats_of(alice.id) == [chat.id]


def test_creating_a_chat_with_an_unknown_account_stores_nothing(storage: Storage) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    with pytest.raises(AccountNotFound):
        storage.chats.create(alice.id, "Club", [424242], date=5)
    assert storage.chats.chats_of(alice.id) == []


def test_adding_and_removing_members_bumps_the_version_once_per_change(storage: Storage) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    bob = storage.accounts.create_user("+1002", "Bob")
    chat, _ = storage.chats.create(alice.id, "Club", [], date=5)
    assert storage.chats.add(chat.id, bob.id, alice.id, date=9).version == 2
    assert storage.chats.add(chat.id, bob.id, alice.id, date=10).version == 2
    member = storage.chats.participant(chat.id, bob.id)
    assert member is not None and (member.inviter_id, member.date) == (alice.id, 9)
    assert storage.chats.remove(chat.id, bob.id).version == 3
    assert storage.chats.remove(chat.id, bob.id).version == 3
    assert storage.chats.participant(chat.id, bob.id) is None
    assert storage.chats.chats_of(bob.id) == []
    assert storage.chats.set_title(chat.id, "Renamed").title == "Renamed"
    with pytest.raises(ChatNotFound):
        storage.chats.add(999, bob.id, alice.id, date=1)
    with pytest.raises(AccountNotFound):
        storage.chats.add(chat.id, 31337, alice.id, date=1)


def test_a_group_message_takes_each_members_own_box_id_and_pts(storage: Storage) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    bob = storage.accounts.create_user("+1002", "Bob")
    chat, members = storage.chats.create(alice.id, "Club", [bob.id], date=5)
    # Bob's box and pts are ahead: his copy must get his own numbers.
    storage.messages.send(
        sender_id=bob.id, peer=PeerRef.user(bob.id), text="note", render_update=_render
    )
    written = storage.messages.send(
        sender_id=alice.id,
        peer=PeerRef.chat(chat.id),
        text="hello",
        render_update=_render,
        member_ids=[p.user_id for p in members],
    )
    copies = {c.owner_id: (c, u) for c, u in written}
    assert copies[alice.id][0].out and not copies[bob.id][0].out
    assert copies[alice.id][0].peer == copies[bob.id][0].peer == PeerRef.chat(chat.id)
    assert (copies[alice.id][0].id, copies[bob.id][0].id) == (1, 2)
    assert [u.body for u in storage.updates.since(bob.id, 1)] == [f"new {bob.id}/2/2".encode()]
    assert storage.updates.state(alice.id).pts == 1


def test_bot_privacy_is_on_until_switched_off(storage: Storage) -> None:
    bot = storage.accounts.create_bot("privbot", "Priv", "s")
    assert storage.chats.bot_privacy(bot.id) is True
    storage.chats.set_bot_privacy(bot.id, False)
    assert storage.chats.bot_privacy(bot.id) is False
    storage.chats.set_bot_privacy(bot.id, True)
    assert storage.chats.bot_privacy(bot.id) is True
    with pytest.raises(AccountNotFound):
        storage.chats.set_bot_privacy(5, False)


def test_chats_and_privacy_survive_reopening_the_database(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "chats.db"
    with SqliteStorage(path, clock=clock, random_bytes=seeded_random()) as store:
        alice = store.accounts.create_user("+1001", "Alice")
        bot = store.accounts.create_bot("privbot", "Priv", "s")
        chat, _ = store.chats.create(alice.id, "Club", [bot.id], date=5)
        store.chats.set_bot_privacy(bot.id, False)
    with SqliteStorage(path, clock=clock, random_bytes=seeded_random()) as store:
        assert store.chats.get(chat.id) == chat
        assert [p.user_id for p in store.chats.participants(chat.id)] == [alice.id, bot.id]
        assert store.chats.bot_privacy(bot.id) is False


def test_making_a_member_admin_bumps_the_version_once(storage: Storage) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    bot = storage.accounts.create_bot("privbot", "Priv", "s")
    outsider = storage.accounts.create_user("+1003", "Out")
    chat, _ = storage.chats.create(alice.id, "Club", [bot.id], date=5)
    assert storage.chats.set_admin(chat.id, bot.id, True).version == 2
    assert storage.chats.set_admin(chat.id, bot.id, True).version == 2
    member = storage.chats.participant(chat.id, bot.id)
    assert member is not None and member.admin
    assert storage.chats.set_admin(chat.id, bot.id, False).version == 3
    with pytest.raises(AccountNotFound):
        storage.chats.set_admin(chat.id, outsider.id, True)


def test_a_migrated_chat_remembers_its_supergroup(storage: Storage) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    chat, _ = storage.chats.create(alice.id, "Club", [], date=5)
    assert chat.migrated_to is None
    moved = storage.chats.set_migrated_to(chat.id, 1_700_000_001)
    assert moved.migrated_to == 1_700_000_001
    found = storage.chats.get(chat.id)
    assert found is not None and found.migrated_to == 1_700_000_001
    with pytest.raises(ChatNotFound):
        storage.chats.set_migrated_to(chat.id + 1000, 1_700_000_001)
