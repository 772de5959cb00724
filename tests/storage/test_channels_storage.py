"""Storage contract: supergroups and channels -- channel rows and usernames, participants
with roles and read marks, messages with per-channel ids, and the per-channel pts log.

Runs against every backend of the ``storage`` fixture; the last test reopens a SQLite file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loopgram.storage import SqliteStorage, Storage, UsernameTaken
from loopgram.storage.channels import (
    FIRST_CHANNEL_ID,
    ChannelMessage,
    ChannelNotFound,
    ChannelRandomIdTaken,
    ChannelRole,
)
from loopgram.storage.errors import AccountNotFound, MessageNotFound

from .conftest import FakeClock, seeded_random


def _new(m: ChannelMessage) -> bytes:
    return f"new {m.channel_id}/{m.id}/{m.pts}/{m.text}".encode()


def _deleted(ids: tuple[int, ...], pts: int, count: int) -> bytes:
    return f"del {ids} {pts} {count}".encode()


def test_a_new_channel_holds_its_creator(storage: Storage) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    channel = storage.channels.create(alice.id, "News", about="daily", megagroup=False, date=5)
    assert channel.id == FIRST_CHANNEL_ID
    assert (channel.title, channel.about, channel.megagroup, channel.creator_id) == (
        "News",
        "daily",
        False,
        alice.id,
    )
    assert (channel.pts, channel.last_message_id, channel.username) == (0, 0, None)
    (creator,) = storage.channels.members(channel.id)
    assert (creator.user_id, creator.role, creator.is_admin) == (
        alice.id,
        ChannelRole.CREATOR,
        True,
    )
    second = storage.channels.create(alice.id, "Chat", about="", megagroup=True, date=6)
    assert second.id == channel.id + 1 and second.megagroup
    assert storage.channels.get_many([second.id, 3, channel.id, second.id]) == [second, channel]
    assert storage.channels.channels_of(alice.id) == [channel.id, second.id]
    with pytest.raises(AccountNotFound):
        storage.channels.create(424242, "x", about="", megagroup=True, date=1)


def test_members_have_roles_and_banned_ones_are_not_present(storage: Storage) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    bob = storage.accounts.create_user("+1002", "Bob")
    bot = storage.accounts.create_bot("helper_bot", "Helper", "s3cret")
    channel = storage.channels.create(alice.id, "Chat", about="", megagroup=True, date=5)
    storage.channels.put_member(
        channel.id, bob.id, role=ChannelRole.MEMBER, inviter_id=alice.id, date=6
    )
    storage.channels.put_member(
        channel.id, bot.id, role=ChannelRole.ADMIN, inviter_id=alice.id, date=7, rights=b"r"
    )
    assert [m.user_id for m in storage.channels.members(channel.id)] == [alice.id, bob.id, bot.id]
    admins = storage.channels.members(channel.id, [ChannelRole.CREATOR, ChannelRole.ADMIN])
    assert [(m.user_id, m.rights) for m in admins] == [(alice.id, None), (bot.id, b"r")]
    assert storage.channels.count(channel.id) == 3
    storage.channels.put_member(
        channel.id, bob.id, role=ChannelRole.BANNED, inviter_id=alice.id, date=8
    )
    banned = storage.channels.member(channel.id, bob.id)
    assert banned is not None and not banned.present
    assert storage.channels.count(channel.id) == 2
    assert storage.channels.channels_of(bob.id) == []
    assert storage.channels.remove_member(channel.id, bob.id) is True
    assert storage.channels.remove_member(channel.id, bob.id) is False
    assert storage.channels.member(channel.id, bob.id) is None
    with pytest.raises(ChannelNotFound):
        storage.channels.put_member(
            999, bob.id, role=ChannelRole.MEMBER, inviter_id=alice.id, date=1
        )
    with pytest.raises(AccountNotFound):
        storage.channels.put_member(
            channel.id, 424242, role=ChannelRole.MEMBER, inviter_id=alice.id, date=1
        )


def test_usernames_are_unique_case_insensitively(storage: Storage) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    one = storage.channels.create(alice.id, "One", about="", megagroup=False, date=5)
    two = storage.channels.create(alice.id, "Two", about="", megagroup=False, date=5)
    assert storage.channels.update(one.id, username="DailyNews").username == "DailyNews"
    found = storage.channels.get_by_username("dailynews")
    assert found is not None and found.id == one.id
    with pytest.raises(UsernameTaken):
        storage.channels.update(two.id, username="DAILYNEWS")
    storage.channels.update(one.id, username=None, title="Renamed")
    assert storage.channels.get_by_username("dailynews") is None
    assert storage.channels.update(two.id, username="dailynews").username == "dailynews"
    renamed = storage.channels.get(one.id)
    assert renamed is not None and renamed.title == "Renamed"


def test_messages_take_per_channel_ids_and_pts(storage: Storage) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    one = storage.channels.create(alice.id, "One", about="", megagroup=True, date=5)
    two = storage.channels.create(alice.id, "Two", about="", megagroup=True, date=5)
    first, logged = storage.channels.post(one.id, sender_id=alice.id, text="a", render_update=_new)
    assert (first.id, first.pts) == (1, 1)
    assert logged.body == f"new {one.id}/1/1/a".encode() and logged.pts_count == 1
    other, _ = storage.channels.post(two.id, sender_id=alice.id, text="x", render_update=_new)
    assert (other.id, other.pts) == (1, 1)
    second, _ = storage.channels.post(
        one.id, sender_id=alice.id, text="b", render_update=_new, reply_markup=b"kb", date=99
    )
    assert (second.id, second.pts, second.date, second.reply_markup) == (2, 2, 99, b"kb")
    record = storage.channels.get(one.id)
    assert record is not None and (record.pts, record.last_message_id) == (2, 2)
    assert storage.channels.message(one.id, 2) == second
    assert storage.channels.messages(one.id, [2, 7, 1]) == [second, first]
    assert [m.id for m in storage.channels.history(one.id)] == [2, 1]
    with pytest.raises(ChannelNotFound):
        storage.channels.post(12, sender_id=alice.id, text="a", render_update=_new)


def test_a_repeated_random_id_stores_nothing(storage: Storage) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    channel = storage.channels.create(alice.id, "One", about="", megagroup=True, date=5)
    first, _ = storage.channels.post(
        channel.id, sender_id=alice.id, text="a", render_update=_new, random_id=7
    )
    with pytest.raises(ChannelRandomIdTaken) as taken:
        storage.channels.post(
            channel.id, sender_id=alice.id, text="b", render_update=_new, random_id=7
        )
    assert taken.value.existing == first
    record = storage.channels.get(channel.id)
    assert record is not None and record.pts == 1
    storage.channels.delete(channel.id, [first.id], render_update=_deleted)
    again, _ = storage.channels.post(
        channel.id, sender_id=alice.id, text="c", render_update=_new, random_id=7
    )
    assert again.id == 2  # ids are never reused


def test_history_pages_like_get_history(storage: Storage) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    channel = storage.channels.create(alice.id, "One", about="", megagroup=True, date=5)
    for i in range(10):
        storage.channels.post(channel.id, sender_id=alice.id, text=str(i), render_update=_new)

    def ids(**kw: int) -> list[int]:
        return [m.id for m in storage.channels.history(channel.id, **kw)]

    assert ids(limit=3) == [10, 9, 8]
    assert ids(offset_id=5, limit=3) == [4, 3, 2]
    assert ids(offset_id=5, add_offset=1, limit=2) == [3, 2]
    assert ids(offset_id=5, add_offset=-2, limit=4) == [6, 5, 4, 3]
    assert ids(max_id=4, min_id=1) == [3, 2]
    assert ids(limit=0) == []


def test_message_count_counts_what_the_channel_holds(storage: Storage) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    channel = storage.channels.create(alice.id, "One", about="", megagroup=True, date=5)
    assert storage.channels.message_count(channel.id) == 0
    for i in range(4):
        storage.channels.post(channel.id, sender_id=alice.id, text=str(i), render_update=_new)
    storage.channels.delete(channel.id, [2], render_update=_deleted)
    assert storage.channels.message_count(channel.id) == 3
    assert storage.channels.message_count(channel.id + 1) == 0


def test_edits_and_deletions_take_the_next_pts(storage: Storage) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    channel = storage.channels.create(alice.id, "One", about="", megagroup=True, date=5)
    for text in ("a", "b", "c"):
        storage.channels.post(channel.id, sender_id=alice.id, text=text, render_update=_new)
    edited, logged = storage.channels.edit(
        channel.id, 2, render_update=_new, text="B", reply_markup=None, edit_date=50
    )
    assert (edited.text, edited.edit_date, edited.pts, logged.pts) == ("B", 50, 4, 4)
    with pytest.raises(MessageNotFound):
        storage.channels.edit(channel.id, 9, render_update=_new, text="x")
    result = storage.channels.delete(channel.id, [1, 3, 1, 42], render_update=_deleted)
    assert result is not None
    gone, update = result
    assert gone == (1, 3) and (update.pts, update.pts_count) == (6, 2)
    assert update.body == b"del (1, 3) 6 2"
    assert storage.channels.delete(channel.id, [1], render_update=_deleted) is None
    assert [u.pts for u in storage.channels.updates_since(channel.id, 0)] == [1, 2, 3, 4, 6]
    assert [u.pts for u in storage.channels.updates_since(channel.id, 3, limit=1)] == [4]
    assert storage.channels.trim_updates(channel.id, 3) == 3
    assert [u.pts for u in storage.channels.updates_since(channel.id, 0)] == [4, 6]
    assert [m.id for m in storage.channels.history(channel.id)] == [2]


def test_read_marks_and_unread_counts(storage: Storage) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    bob = storage.accounts.create_user("+1002", "Bob")
    channel = storage.channels.create(alice.id, "Chat", about="", megagroup=True, date=5)
    storage.channels.put_member(
        channel.id, bob.id, role=ChannelRole.MEMBER, inviter_id=alice.id, date=6
    )
    for sender in (alice, alice, bob, alice):
        storage.channels.post(channel.id, sender_id=sender.id, text="m", render_update=_new)
    assert storage.channels.unread_count(channel.id, bob.id) == 3
    assert storage.channels.unread_count(channel.id, alice.id) == 1
    assert storage.channels.mark_read(channel.id, bob.id, 2) == 2
    assert storage.channels.mark_read(channel.id, bob.id, 1) is None
    assert storage.channels.unread_count(channel.id, bob.id) == 1
    assert storage.channels.mark_read(channel.id, bob.id, 1000) == 4
    assert storage.channels.unread_count(channel.id, bob.id) == 0
    assert storage.channels.mark_read(channel.id, 424242, 3) is None
    # A role change keeps the read mark.
    storage.channels.put_member(
        channel.id, bob.id, role=ChannelRole.ADMIN, inviter_id=alice.id, date=6
    )
    member = storage.channels.member(channel.id, bob.id)
    assert member is not None and member.read_max_id == 4


def test_channels_survive_reopening_sqlite(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "channels.db"
    with SqliteStorage(path, clock=clock, random_bytes=seeded_random()) as store:
        alice = store.accounts.create_user("+1001", "Alice")
        channel = store.channels.create(alice.id, "One", about="", megagroup=False, date=5)
        store.channels.post(channel.id, sender_id=alice.id, text="a", render_update=_new)
        store.channels.update(channel.id, username="onechan")
    with SqliteStorage(path, clock=clock, random_bytes=seeded_random()) as store:
        again = store.channels.get_by_username("OneChan")
        assert again is not None and (again.pts, again.last_message_id) == (1, 1)
        (logged,) = store.channels.updates_since(channel.id, 0)
        assert logged.body == f"new {channel.id}/1/1/a".encode()


def test_a_supergroup_remembers_the_group_it_was_made_from(storage: Storage) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    assert storage.channels.migrated_from(100_001) is None
    made = storage.channels.create(
        alice.id, "Club", about="", megagroup=True, date=5, migrated_from=100_001
    )
    assert made.migrated_from == 100_001
    assert storage.channels.migrated_from(100_001) == made


def test_a_member_joins_caught_up_and_its_catch_up_mark_only_moves_forward(
    storage: Storage,
) -> None:
    alice = storage.accounts.create_user("+1001", "Alice")
    bob = storage.accounts.create_user("+1002", "Bob")
    channel = storage.channels.create(alice.id, "Chat", about="", megagroup=True, date=5)
    for _ in range(3):
        storage.channels.post(channel.id, sender_id=alice.id, text="m", render_update=_new)
    joined = storage.channels.put_member(
        channel.id, bob.id, role=ChannelRole.MEMBER, inviter_id=alice.id, date=6
    )
    assert joined.caught_up_pts == 3
    storage.channels.post(channel.id, sender_id=alice.id, text="m", render_update=_new)
    storage.channels.set_caught_up(channel.id, bob.id, 4)
    storage.channels.set_caught_up(channel.id, bob.id, 2)
    # A role change keeps the mark; a non-member has none to move.
    storage.channels.put_member(
        channel.id, bob.id, role=ChannelRole.ADMIN, inviter_id=alice.id, date=6
    )
    member = storage.channels.member(channel.id, bob.id)
    assert member is not None and member.caught_up_pts == 4
    storage.channels.set_caught_up(channel.id, 424242, 9)
    assert storage.channels.member(channel.id, 424242) is None
