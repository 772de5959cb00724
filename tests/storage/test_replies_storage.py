"""Storage layer contract for replies (schema step 6): a message keeps the message it replies
to, and every owner reads it under its own box id.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from loopgram.storage import DeletedMessages, PeerRef, Storage, StoredMessage
from loopgram.storage.migrations import MIGRATIONS

from .test_contract import make_pair, render_new, send
from .test_sqlite import open_db


def render_delete(d: DeletedMessages) -> bytes:
    return f"delete {d.owner_id} {list(d.ids)}".encode()


def reply(storage: Storage, sender: int, to: int, target: StoredMessage) -> list[StoredMessage]:
    return [
        m
        for m, _ in storage.messages.send(
            sender_id=sender,
            peer=PeerRef.user(to),
            text="re",
            render_update=render_new,
            reply_to_id=target.global_id,
        )
    ]


def test_a_reply_names_the_replied_message_by_each_owners_box_id(storage: Storage) -> None:
    bot, user = make_pair(storage)
    send(storage, user, bot, "padding the bot's box")  # the boxes' numbering now differs
    storage.messages.send(
        sender_id=bot, peer=PeerRef.user(bot), text="self", render_update=render_new
    )
    user_copy, bot_copy = send(storage, user, bot, "question")
    assert bot_copy.id != user_copy.id
    answer_bot, answer_user = reply(storage, bot, user, bot_copy)
    assert (answer_bot.reply_to, answer_user.reply_to) == (bot_copy.id, user_copy.id)
    # Read back, each side still sees its own id.
    again_bot = storage.messages.get(bot, answer_bot.id)
    again_user = storage.messages.get(user, answer_user.id)
    assert again_bot is not None and again_user is not None
    assert (again_bot.reply_to, again_user.reply_to) == (bot_copy.id, user_copy.id)
    [newest] = storage.messages.history(user, PeerRef.user(bot), limit=1)
    assert newest.reply_to == user_copy.id


def test_a_plain_message_replies_to_nothing(storage: Storage) -> None:
    bot, user = make_pair(storage)
    for copy in send(storage, user, bot):
        assert copy.reply_to is None
        stored = storage.messages.get(copy.owner_id, copy.id)
        assert stored is not None and stored.reply_to is None


def test_the_reply_survives_an_edit(storage: Storage) -> None:
    bot, user = make_pair(storage)
    question_user, question = send(storage, user, bot)
    answer, _ = reply(storage, bot, user, question)
    edited = storage.messages.edit(bot, answer.id, render_update=render_new, text="edited")
    assert [c.reply_to for c, _ in edited] == [question.id, question_user.id]


def test_an_owner_without_the_replied_message_reads_no_reply(storage: Storage) -> None:
    bot, user = make_pair(storage)
    question_user, question_bot = send(storage, user, bot)
    answer_bot, answer_user = reply(storage, bot, user, question_bot)
    storage.messages.delete(user, [question_user.id], revoke=False, render_update=render_delete)
    mine = storage.messages.get(user, answer_user.id)
    theirs = storage.messages.get(bot, answer_bot.id)
    assert mine is not None and mine.reply_to is None
    assert theirs is not None and theirs.reply_to == question_bot.id


def test_step_6_adds_replies_to_a_database_written_before_it(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    before = tuple(m for m in MIGRATIONS if m.version < 6)
    with open_db(path, migrations=before) as s:
        bot, user = make_pair(s)
    # A message as the code before step 6 wrote it (it knew no reply column).
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "INSERT INTO messages (id, sender_id, peer_kind, peer_id, date, text) "
            "VALUES (1, ?, 'user', ?, 0, 'before the upgrade')",
            (user, bot),
        )
        conn.executemany(
            "INSERT INTO message_boxes (owner_id, box_id, message_id, peer_kind, peer_id, out, pts)"
            " VALUES (?, 1, 1, 'user', ?, ?, 1)",
            [(user, bot, 1), (bot, user, 0)],
        )
        conn.execute("UPDATE account_state SET pts = 1, last_box_id = 1")
    conn.close()
    with open_db(path) as s:
        old_bot = s.messages.get(bot, 1)
        assert old_bot is not None and old_bot.reply_to is None
        _, answer_user = reply(s, bot, user, old_bot)
    with open_db(path) as s:
        reread = s.messages.get(user, answer_user.id)
        assert reread is not None and reread.reply_to == 1
