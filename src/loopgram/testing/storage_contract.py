"""Testing: the storage contract suite, for every backend in or outside loopgram.

Every ``loopgram.storage.Storage`` backend must pass these tests unchanged: loopgram runs
them against memory, SQLite and PostgreSQL (``tests/storage/test_contract.py``), and a backend
written elsewhere runs them by subclassing ``StorageContract`` in its own suite and giving
it a ``storage`` fixture: a fresh, empty store whose clock is the ``clock`` fixture (a
``loopgram.clock.FakeClock`` starting at ``START``, which tests advance)::

    import pytest
    from loopgram.testing.storage_contract import StorageContract

    class TestMyBackend(StorageContract):
        @pytest.fixture
        def storage(self, clock):
            store = MyStorage(clock=clock)
            yield store
            store.close()

The class is not named ``Test...``, so pytest collects it only through such subclasses. Its
assertions are rewritten by pytest (the loopgram plugin registers this module) so that a
failure shows the values compared. ``loopgram.testing.postgres`` gives a throwaway
PostgreSQL schema per test.
"""

from __future__ import annotations

from typing import Final

import pytest

from loopgram.clock import FakeClock
from loopgram.storage import (
    FIRST_ACCOUNT_ID,
    UNSET,
    AccountNotFound,
    AuthKeyExists,
    AuthKeyNotFound,
    DeletedMessages,
    InlineMessage,
    InlineMessageExists,
    InlineMessageNotFound,
    MessageNotFound,
    PeerRef,
    PhoneTaken,
    RandomIdTaken,
    ServerSalt,
    SessionNotFound,
    SessionState,
    Storage,
    StorageClosed,
    StoredMessage,
    UnackedMessage,
    UpdateState,
    UsernameTaken,
    ValueTooLarge,
)
from loopgram.storage._common import MAX_VALUE_BYTES
from loopgram.tl import types as t
from loopgram.tl.abcs import KeyboardInlineButton

START: Final = 1_700_000_000
"""Where the ``clock`` fixture starts: the suite checks stored times against it."""

KEY = bytes(range(256))
NOW = START


def render_new(m: StoredMessage) -> bytes:
    return f"new {m.owner_id}/{m.id} pts={m.pts} {m.text}".encode()


def render_edit(m: StoredMessage) -> bytes:
    return f"edit {m.owner_id}/{m.id} pts={m.pts} {m.text}".encode()


def render_delete(d: DeletedMessages) -> bytes:
    return f"delete {d.owner_id} {list(d.ids)} pts={d.pts}/{d.pts_count}".encode()


def markup(*datas: bytes) -> bytes:
    buttons: list[KeyboardInlineButton] = [
        t.KeyboardInlineButton(text=d.decode(), type=t.InlineButtonTypeCallback(data=d))
        for d in datas
    ]
    return bytes(t.ReplyInlineMarkup(rows=[t.KeyboardInlineButtonRow(buttons=buttons)]))


def send(storage: Storage, sender: int, to: int, text: str = "hi") -> list[StoredMessage]:
    return [
        m
        for m, _ in storage.messages.send(
            sender_id=sender, peer=PeerRef.user(to), text=text, render_update=render_new
        )
    ]


def make_pair(storage: Storage) -> tuple[int, int]:
    bot = storage.accounts.create_bot("TestBot", "Test", "s3cret").id
    user = storage.accounts.create_user("15550001", "Alice", "A").id
    return bot, user


# -- reading scopes ---------------------------------------------------------------------------


SALTS = (ServerSalt(-1, NOW, NOW + 1800), ServerSalt(2**63 - 1, NOW + 1800, NOW + 3600))


def reference_history(
    ids_desc: list[int], offset_id: int, add_offset: int, limit: int
) -> list[int]:
    """Telegram's window, written out plainly: find the first message older than offset_id,
    move by add_offset, take limit; a start before the newest message is clamped."""
    if offset_id == 0:
        pos = 0
    else:
        pos = next((i for i, x in enumerate(ids_desc) if x < offset_id), len(ids_desc))
    start, end = pos + add_offset, pos + add_offset + limit
    return [x for i, x in enumerate(ids_desc) if max(start, 0) <= i < end]


class StorageContract:
    """The storage contract: subclass as ``Test...`` where a ``storage`` fixture exists
    (in the subclass or a conftest): a fresh store on the ``clock`` fixture's time."""

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock(START)

    # -- reading scopes -------------------------------------------------------------------

    def test_reads_in_a_reading_scope_see_the_scopes_own_writes_at_once(
        self, storage: Storage
    ) -> None:
        bot, user = make_pair(storage)
        with storage.reading():
            account = storage.accounts.get(bot)
            assert account is not None and account.username == "TestBot"
            renamed = storage.accounts.update(bot, username="OtherBot")
            assert storage.accounts.get(bot) == renamed
            _, theirs = send(storage, bot, user, "one")
            assert storage.messages.get(user, theirs.id) == theirs
            with storage.reading():
                assert storage.accounts.get(user) is not None
        assert storage.accounts.get(bot) == renamed

    # -- settings ------------------------------------------------------------------------------

    def test_settings_round_trip(self, storage: Storage) -> None:
        s = storage.settings
        assert s.get("k") is None
        s.set("k", b"v1")
        assert s.get("k") == b"v1"
        s.set("k", b"v2")
        assert s.get("k") == b"v2"
        assert s.setdefault("k", b"other") == b"v2"
        assert s.setdefault("fresh", b"first") == b"first"
        assert s.setdefault("fresh", b"second") == b"first"
        assert s.items() == {"fresh": b"first", "k": b"v2"}
        s.delete("k")
        s.delete("never")
        assert s.get("k") is None
        assert s.items() == {"fresh": b"first"}

    # -- auth keys -----------------------------------------------------------------------------

    def test_auth_key_put_get(self, storage: Storage) -> None:
        record = storage.auth_keys.put(-5, KEY)
        assert (record.id, record.key, record.created_at) == (-5, KEY, NOW)
        assert (record.account_id, record.layer, record.expires_at) == (None, None, None)
        assert not record.is_temporary
        assert storage.auth_keys.get(-5) == record
        assert storage.auth_keys.get(6) is None
        top = storage.auth_keys.put(2**63 - 1, KEY, expires_at=NOW + 60)
        assert top.is_temporary
        assert storage.auth_keys.get(2**63 - 1) == top

    def test_auth_key_rules(self, storage: Storage) -> None:
        storage.auth_keys.put(1, KEY)
        with pytest.raises(AuthKeyExists):
            storage.auth_keys.put(1, bytes(256))
        kept = storage.auth_keys.get(1)
        assert kept is not None and kept.key == KEY
        with pytest.raises(ValueError):
            storage.auth_keys.put(2, KEY[:255])
        with pytest.raises(ValueError):
            storage.auth_keys.put(2**63, KEY)
        with pytest.raises(AuthKeyNotFound):
            storage.auth_keys.set_layer(2, 229)
        with pytest.raises(AuthKeyNotFound):
            storage.auth_keys.bind_account(2, None)

    def test_auth_key_bind_layer_delete(self, storage: Storage) -> None:
        _, user = make_pair(storage)
        storage.auth_keys.put(7, KEY)
        assert storage.auth_keys.bind_account(7, user).account_id == user
        assert storage.auth_keys.set_layer(7, 229).layer == 229
        got = storage.auth_keys.get(7)
        assert got is not None and (got.account_id, got.layer) == (user, 229)
        assert storage.auth_keys.for_account(user) == [got]
        with pytest.raises(AccountNotFound):
            storage.auth_keys.bind_account(7, 12345)
        assert storage.auth_keys.bind_account(7, None).account_id is None
        assert storage.auth_keys.for_account(user) == []
        assert storage.auth_keys.delete(7) is True
        assert storage.auth_keys.delete(7) is False
        assert storage.auth_keys.get(7) is None

    def test_auth_key_for_account_oldest_first(self, storage: Storage, clock: FakeClock) -> None:
        _, user = make_pair(storage)
        for key_id in (30, 10, 20):
            storage.auth_keys.put(key_id, KEY)
            storage.auth_keys.bind_account(key_id, user)
            clock.advance(1)
        assert [k.id for k in storage.auth_keys.for_account(user)] == [30, 10, 20]

    def test_delete_expired_temp_keys(self, storage: Storage) -> None:
        storage.auth_keys.put(1, KEY)
        storage.auth_keys.put(2, KEY, expires_at=NOW + 10)
        storage.auth_keys.put(3, KEY, expires_at=NOW + 100)
        storage.sessions.save(SessionState(2, 1))
        assert storage.auth_keys.delete_expired(NOW + 10) == 1
        assert storage.auth_keys.get(2) is None
        assert storage.sessions.load(2, 1) is None
        assert storage.auth_keys.get(1) is not None
        assert storage.auth_keys.get(3) is not None

    # -- sessions ------------------------------------------------------------------------------

    def test_session_save_load(self, storage: Storage) -> None:
        storage.auth_keys.put(1, KEY)
        assert storage.sessions.load(1, 99) is None
        state = SessionState(
            1, -99, last_msg_id=7_000_000_000_000_000_000, out_seqno=5, salts=SALTS
        )
        storage.sessions.save(state)
        assert storage.sessions.load(1, -99) == state
        newer = SessionState(1, -99, last_msg_id=7_000_000_000_000_000_004, out_seqno=7)
        storage.sessions.save(newer)
        assert storage.sessions.load(1, -99) == newer
        storage.sessions.save(SessionState(1, 5))
        assert storage.sessions.session_ids(1) == [-99, 5]
        assert storage.sessions.session_ids(2) == []

    def test_session_needs_its_auth_key(self, storage: Storage) -> None:
        with pytest.raises(AuthKeyNotFound):
            storage.sessions.save(SessionState(1, 1))
        with pytest.raises(SessionNotFound):
            storage.sessions.add_unacked(1, 1, [UnackedMessage(1, 1, b"x")])

    def test_unacked_round_trip(self, storage: Storage) -> None:
        storage.auth_keys.put(1, KEY)
        storage.sessions.save(SessionState(1, 2))
        assert storage.sessions.unacked(1, 2) == []
        batch = [
            UnackedMessage(13, 3, b"c"),
            UnackedMessage(5, 1, b"a" * 5000),
            UnackedMessage(9, 2, b""),
        ]
        storage.sessions.add_unacked(1, 2, batch)
        assert storage.sessions.unacked(1, 2) == sorted(batch, key=lambda m: m.msg_id)
        storage.sessions.add_unacked(1, 2, [UnackedMessage(9, 4, b"again")])
        assert storage.sessions.unacked(1, 2)[1] == UnackedMessage(9, 4, b"again")
        assert storage.sessions.remove_unacked(1, 2, [5, 9, 9, 404]) == 2
        assert storage.sessions.unacked(1, 2) == [UnackedMessage(13, 3, b"c")]
        assert storage.sessions.remove_unacked(1, 2, []) == 0

    def test_session_save_keeps_unacked(self, storage: Storage) -> None:
        storage.auth_keys.put(1, KEY)
        storage.sessions.save(SessionState(1, 2))
        storage.sessions.add_unacked(1, 2, [UnackedMessage(5, 1, b"a")])
        storage.sessions.save(SessionState(1, 2, last_msg_id=8))
        assert storage.sessions.unacked(1, 2) == [UnackedMessage(5, 1, b"a")]

    def test_destroy_session_drops_unacked(self, storage: Storage) -> None:
        storage.auth_keys.put(1, KEY)
        storage.sessions.save(SessionState(1, 2))
        storage.sessions.save(SessionState(1, 3))
        storage.sessions.add_unacked(1, 2, [UnackedMessage(5, 1, b"a")])
        storage.sessions.add_unacked(1, 3, [UnackedMessage(6, 1, b"b")])
        assert storage.sessions.delete(1, 2) is True
        assert storage.sessions.delete(1, 2) is False
        assert storage.sessions.load(1, 2) is None
        storage.sessions.save(SessionState(1, 2))
        assert storage.sessions.unacked(1, 2) == []
        assert storage.sessions.unacked(1, 3) == [UnackedMessage(6, 1, b"b")]

    def test_deleting_auth_key_deletes_sessions(self, storage: Storage) -> None:
        storage.auth_keys.put(1, KEY)
        storage.auth_keys.put(2, KEY)
        for key_id in (1, 2):
            storage.sessions.save(SessionState(key_id, 2))
            storage.sessions.add_unacked(key_id, 2, [UnackedMessage(5, 1, b"a")])
        storage.auth_keys.delete(1)
        assert storage.sessions.load(1, 2) is None
        assert storage.sessions.unacked(1, 2) == []
        assert storage.sessions.session_ids(1) == []
        assert storage.sessions.unacked(2, 2) == [UnackedMessage(5, 1, b"a")]

    # -- accounts ------------------------------------------------------------------------------

    def test_create_user(self, storage: Storage) -> None:
        alice = storage.accounts.create_user("15550001", "Alice", "Smith")
        bob = storage.accounts.create_user("15550002", "Bob")
        assert alice.id == FIRST_ACCOUNT_ID and bob.id == FIRST_ACCOUNT_ID + 1
        assert (alice.first_name, alice.last_name, alice.phone) == ("Alice", "Smith", "15550001")
        assert (bob.last_name, alice.username, alice.is_bot, alice.created_at) == (
            None,
            None,
            False,
            NOW,
        )
        assert alice.bot_info_version is None and alice.bot_inline_placeholder is None
        assert -(2**63) <= alice.access_hash < 2**63 and alice.access_hash != bob.access_hash
        assert storage.accounts.get(alice.id) == alice
        assert storage.accounts.get_by_phone("15550002") == bob
        assert storage.accounts.get_by_phone("15550003") is None
        assert storage.accounts.get(1) is None

    def test_phone_is_unique(self, storage: Storage) -> None:
        first = storage.accounts.create_user("15550001", "Alice")
        with pytest.raises(PhoneTaken):
            storage.accounts.create_user("15550001", "Mallory")
        # A failed create leaves no trace, not even a used id.
        assert storage.accounts.create_user("15550002", "Bob").id == first.id + 1
        assert len(storage.accounts.list_all()) == 2

    def test_create_bot_and_token(self, storage: Storage) -> None:
        bot = storage.accounts.create_bot("TestBot", "Test", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
        assert bot.is_bot and bot.username == "TestBot" and bot.phone is None
        assert bot.bot_info_version == 1
        token = f"{bot.id}:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
        assert storage.accounts.get_by_bot_token(token) == bot
        for wrong in (
            f"{bot.id}:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsax",
            f"{bot.id}:",
            f"{bot.id + 1}:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
            "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
            f"-{bot.id}:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
            f"{2**70}:x",
            "",
        ):
            assert storage.accounts.get_by_bot_token(wrong) is None, wrong
        user = storage.accounts.create_user("15550001", "Alice")
        assert storage.accounts.get_by_bot_token(f"{user.id}:anything") is None
        with pytest.raises(ValueError):
            storage.accounts.create_bot("OtherBot", "Other", "has:colon")

    def test_bot_secret_rotation(self, storage: Storage) -> None:
        bot = storage.accounts.create_bot("TestBot", "Test", "old")
        storage.accounts.set_bot_secret(bot.id, "new")
        assert storage.accounts.get_by_bot_token(f"{bot.id}:old") is None
        assert storage.accounts.get_by_bot_token(f"{bot.id}:new") == bot
        user = storage.accounts.create_user("15550001", "Alice")
        with pytest.raises(AccountNotFound):
            storage.accounts.set_bot_secret(user.id, "x")

    def test_usernames_are_case_insensitive(self, storage: Storage) -> None:
        bot = storage.accounts.create_bot("TestBot", "Test", "s")
        for spelling in ("testbot", "TESTBOT", "tEsTbOt"):
            assert storage.accounts.get_by_username(spelling) == bot
            with pytest.raises(UsernameTaken):
                storage.accounts.create_bot(spelling, "Copy", "s")
        assert storage.accounts.get_by_username("otherbot") is None
        user = storage.accounts.create_user("15550001", "Alice")
        with pytest.raises(UsernameTaken):
            storage.accounts.update(user.id, username="TESTbot")
        # Renaming one's own username to another case is not a conflict.
        assert storage.accounts.update(bot.id, username="testBOT").username == "testBOT"
        assert storage.accounts.get_by_username("TestBot") == storage.accounts.get(bot.id)

    def test_update_account(self, storage: Storage) -> None:
        user = storage.accounts.create_user("15550001", "Alice", "Smith")
        changed = storage.accounts.update(user.id, first_name="Al", username="alice")
        assert (changed.first_name, changed.last_name, changed.username) == ("Al", "Smith", "alice")
        assert storage.accounts.get(user.id) == changed
        assert storage.accounts.update(user.id) == changed
        cleared = storage.accounts.update(user.id, last_name=None, username=None)
        assert (cleared.last_name, cleared.username) == (None, None)
        assert storage.accounts.get_by_username("alice") is None
        # The freed username is available to others.
        storage.accounts.create_bot("Alice", "Bot", "s")
        bot = storage.accounts.get_by_username("alice")
        assert bot is not None and bot.is_bot
        bot = storage.accounts.update(
            bot.id, bot_inline_placeholder="Search...", bot_info_version=2
        )
        assert (bot.bot_inline_placeholder, bot.bot_info_version) == ("Search...", 2)
        assert storage.accounts.update(bot.id, first_name=UNSET).first_name == "Bot"
        with pytest.raises(AccountNotFound):
            storage.accounts.update(5, first_name="x")

    def test_get_many_and_list(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        other = storage.accounts.create_user("15550002", "Bob").id
        got = storage.accounts.get_many([other, 404, bot, other])
        assert [a.id for a in got] == [other, bot]
        assert storage.accounts.get_many([]) == []
        assert [a.id for a in storage.accounts.list_all()] == [bot, user, other]
        assert [a.id for a in storage.accounts.list_all(is_bot=True)] == [bot]
        assert [a.id for a in storage.accounts.list_all(is_bot=False)] == [user, other]

    # -- messages ------------------------------------------------------------------------------

    def test_private_message_gets_a_copy_in_each_box(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        kb = markup(b"yes", b"no")
        sent = storage.messages.send(
            sender_id=bot,
            peer=PeerRef.user(user),
            text="Pick one",
            reply_markup=kb,
            entities=b"\x15\xc4\xb5\x1c\x00\x00\x00\x00",
            render_update=render_new,
        )
        (mine, my_update), (theirs, their_update) = sent
        assert (mine.owner_id, mine.id, mine.out, mine.peer) == (bot, 1, True, PeerRef.user(user))
        assert (theirs.owner_id, theirs.id, theirs.out, theirs.peer) == (
            user,
            1,
            False,
            PeerRef.user(bot),
        )
        assert mine.global_id == theirs.global_id
        for m in (mine, theirs):
            assert (m.sender_id, m.text, m.date, m.edit_date, m.pts) == (
                bot,
                "Pick one",
                NOW,
                None,
                1,
            )
            assert m.reply_markup == kb and m.media is None and m.extra is None
            assert m.entities == b"\x15\xc4\xb5\x1c\x00\x00\x00\x00"
        assert my_update.body == render_new(mine) and my_update.account_id == bot
        assert (their_update.pts, their_update.pts_count, their_update.date) == (1, 1, NOW)
        assert storage.messages.get(bot, 1) == mine
        assert storage.messages.get(user, 1) == theirs
        assert storage.messages.get(user, 2) is None
        assert storage.messages.get(404, 1) is None

    def test_markup_parses_back(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        kb = markup(b"a", b"b")
        (m, _), _ = storage.messages.send(
            sender_id=bot,
            peer=PeerRef.user(user),
            text="x",
            reply_markup=kb,
            render_update=render_new,
        )
        stored = storage.messages.get(user, 1)
        assert stored is not None
        parsed = stored.markup()
        assert isinstance(parsed, t.ReplyInlineMarkup)
        assert bytes(parsed) == kb
        row = parsed.rows[0]
        assert isinstance(row, t.KeyboardInlineButtonRow)
        button = row.buttons[1]
        assert isinstance(button, t.KeyboardInlineButton)
        assert isinstance(button.type, t.InlineButtonTypeCallback) and button.type.data == b"b"
        assert m.markup() == parsed
        plain = send(storage, bot, user)[0]
        assert plain.markup() is None

    def test_box_ids_are_per_account_and_sequential(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        bot2 = storage.accounts.create_bot("SecondBot", "Second", "s").id
        assert [m.id for m in send(storage, bot, user)] == [1, 1]
        assert [m.id for m in send(storage, bot2, user)] == [1, 2]
        assert [m.id for m in send(storage, user, bot)] == [3, 2]
        assert [m.id for m in send(storage, bot, user)] == [3, 4]
        assert [m.id for m in send(storage, bot2, user)] == [2, 5]
        globals_ = {
            m.global_id
            for owner in (bot, bot2, user)
            for m in storage.messages.get_many(owner, range(1, 6))
        }
        assert len(globals_) == 5

    def test_saved_messages_have_one_copy(self, storage: Storage) -> None:
        _, user = make_pair(storage)
        [(m, u)] = storage.messages.send(
            sender_id=user, peer=PeerRef.user(user), text="note", render_update=render_new
        )
        assert (m.owner_id, m.id, m.out, m.peer, u.pts) == (user, 1, True, PeerRef.user(user), 1)

    def test_group_message_fans_out_to_members(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        other = storage.accounts.create_user("15550002", "Bob").id
        send(storage, bot, user)
        chat = PeerRef.chat(4242)
        sent = storage.messages.send(
            sender_id=user,
            peer=chat,
            member_ids=[bot, user, other],
            text="hello all",
            render_update=render_new,
        )
        got = {m.owner_id: (m.id, m.out, m.peer) for m, _ in sent}
        assert got == {bot: (2, False, chat), user: (2, True, chat), other: (1, False, chat)}
        assert len({m.global_id for m, _ in sent}) == 1
        assert [m.id for m in storage.messages.history(other, chat)] == [1]
        with pytest.raises(ValueError):
            storage.messages.send(
                sender_id=bot, peer=chat, member_ids=[user], text="x", render_update=render_new
            )
        with pytest.raises(ValueError):
            storage.messages.send(sender_id=bot, peer=chat, text="x", render_update=render_new)

    def test_send_is_atomic(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        send(storage, bot, user)
        before = (storage.updates.state(bot), storage.updates.state(user))
        with pytest.raises(AccountNotFound):
            storage.messages.send(
                sender_id=bot, peer=PeerRef.user(404), text="x", render_update=render_new
            )
        with pytest.raises(AccountNotFound):
            storage.messages.send(
                sender_id=bot,
                peer=PeerRef.chat(1),
                member_ids=[bot, user, 404],
                text="x",
                render_update=render_new,
            )

        def explode(m: StoredMessage) -> bytes:
            if m.owner_id == user:
                raise RuntimeError("renderer failed")
            return b"ok"

        with pytest.raises(RuntimeError):
            storage.messages.send(
                sender_id=bot, peer=PeerRef.user(user), text="x", render_update=explode
            )
        assert (storage.updates.state(bot), storage.updates.state(user)) == before
        assert storage.messages.get(bot, 2) is None and storage.messages.get(user, 2) is None
        assert len(storage.updates.since(bot, 0)) == 1
        assert [m.id for m in send(storage, bot, user)] == [2, 2]

    def test_get_many_keeps_order(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        for i in range(4):
            send(storage, bot, user, f"m{i}")
        got = storage.messages.get_many(user, [3, 99, 1, 3])
        assert [(m.id, m.text) for m in got] == [(3, "m2"), (1, "m0")]
        assert storage.messages.get_many(user, []) == []

    def test_history_window(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        other = storage.accounts.create_bot("OtherBot", "Other", "s").id
        # The user's box interleaves two dialogs: ids with the bot are the odd ones.
        for i in range(10):
            send(storage, bot, user, f"b{i}")
            send(storage, other, user, f"o{i}")
        ids = [m.id for m in storage.messages.history(user, PeerRef.user(bot), limit=100)]
        assert ids == list(range(19, 0, -2))
        assert [m.text for m in storage.messages.history(user, PeerRef.user(bot), limit=2)] == [
            "b9",
            "b8",
        ]
        for offset_id in (0, 1, 2, 7, 8, 19, 20, 50):
            for add_offset in (-12, -5, -3, -1, 0, 1, 4, 11):
                for limit in (0, 1, 3, 10):
                    got = storage.messages.history(
                        user,
                        PeerRef.user(bot),
                        offset_id=offset_id,
                        add_offset=add_offset,
                        limit=limit,
                    )
                    want = reference_history(ids, offset_id, add_offset, limit)
                    assert [m.id for m in got] == want, (offset_id, add_offset, limit)

    def test_history_min_max_and_peer(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        for i in range(6):
            send(storage, bot, user, f"b{i}")
        peer = PeerRef.user(bot)
        assert [m.id for m in storage.messages.history(user, peer, max_id=5)] == [4, 3, 2, 1]
        assert [m.id for m in storage.messages.history(user, peer, min_id=4)] == [6, 5]
        got = storage.messages.history(user, peer, min_id=1, max_id=6, offset_id=5, limit=10)
        assert [m.id for m in got] == [4, 3, 2]
        assert storage.messages.history(user, PeerRef.user(user)) == []
        assert storage.messages.history(user, PeerRef.chat(bot)) == []
        assert storage.messages.history(bot, PeerRef.user(user), limit=1)[0].out is True
        with pytest.raises(ValueError):
            storage.messages.history(user, peer, limit=-1)

    def test_edit_bumps_pts_in_every_box(self, storage: Storage, clock: FakeClock) -> None:
        bot, user = make_pair(storage)
        kb = markup(b"old")
        storage.messages.send(
            sender_id=bot,
            peer=PeerRef.user(user),
            text="v1",
            reply_markup=kb,
            render_update=render_new,
        )
        send(storage, user, bot, "unrelated")  # pts 2 for both
        clock.advance(30)
        new_kb = markup(b"new")
        edited = storage.messages.edit(
            user, 1, text="v2", reply_markup=new_kb, render_update=render_edit
        )
        assert [(m.owner_id, m.id, m.pts) for m, _ in edited] == [(user, 1, 3), (bot, 1, 3)]
        for m, update in edited:
            assert (m.text, m.reply_markup, m.edit_date, m.date) == ("v2", new_kb, NOW + 30, NOW)
            assert (update.pts, update.pts_count, update.date) == (3, 1, NOW + 30)
            assert update.body == render_edit(m)
            assert storage.messages.get(m.owner_id, m.id) == m
        assert storage.updates.state(bot).pts == 3 and storage.updates.state(user).pts == 3
        # UNSET leaves a field alone; None clears it.
        [(m, _), _] = storage.messages.edit(
            bot, 1, reply_markup=None, edit_date=NOW + 99, render_update=render_edit
        )
        assert (m.text, m.reply_markup, m.edit_date, m.pts) == ("v2", None, NOW + 99, 4)
        with pytest.raises(MessageNotFound):
            storage.messages.edit(user, 99, text="x", render_update=render_edit)
        assert storage.updates.state(user).pts == 4

    def test_edit_is_atomic(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        send(storage, bot, user, "v1")

        def explode(m: StoredMessage) -> bytes:
            raise RuntimeError("renderer failed")

        with pytest.raises(RuntimeError):
            storage.messages.edit(bot, 1, text="v2", render_update=explode)
        m = storage.messages.get(user, 1)
        assert m is not None and (m.text, m.edit_date, m.pts) == ("v1", None, 1)
        assert storage.updates.state(user).pts == 1

    def test_delete_own_copy_and_revoke(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        for i in range(4):
            send(storage, bot, user, f"m{i}")
        deleted = storage.messages.delete(
            user, [1, 2, 2, 99], revoke=False, render_update=render_delete, date=NOW + 5
        )
        [(d, update)] = deleted
        assert d == DeletedMessages(user, (1, 2), 6, 2)
        assert (update.pts, update.pts_count, update.date, update.body) == (
            6,
            2,
            NOW + 5,
            render_delete(d),
        )
        assert storage.messages.get(user, 1) is None
        assert storage.messages.get(bot, 1) is not None  # the bot's copy stays
        revoked = storage.messages.delete(bot, [1, 3], revoke=True, render_update=render_delete)
        assert [d for d, _ in revoked] == [
            DeletedMessages(bot, (1, 3), 6, 2),
            DeletedMessages(user, (3,), 7, 1),
        ]
        assert storage.messages.get(bot, 1) is None and storage.messages.get(user, 3) is None
        assert [m.id for m in storage.messages.history(user, PeerRef.user(bot))] == [4]
        assert (
            storage.messages.delete(user, [1, 404], revoke=True, render_update=render_delete) == []
        )
        assert storage.messages.delete(user, [], revoke=True, render_update=render_delete) == []
        assert storage.updates.state(user).pts == 7
        # Box ids are never reused.
        assert [m.id for m in send(storage, bot, user)] == [5, 5]

    def test_a_repeated_random_id_stores_nothing_and_names_the_first_message(
        self,
        storage: Storage,
    ) -> None:
        bot, user = make_pair(storage)
        first = storage.messages.send(
            sender_id=user,
            peer=PeerRef.user(bot),
            text="once",
            render_update=render_new,
            random_id=7,
        )
        with pytest.raises(RandomIdTaken) as taken:
            storage.messages.send(
                sender_id=user,
                peer=PeerRef.user(bot),
                text="twice",
                render_update=render_new,
                random_id=7,
            )
        assert taken.value.existing == first[0][0]
        assert (taken.value.sender_id, taken.value.random_id) == (user, 7)
        assert [m.text for m in storage.messages.history(user, PeerRef.user(bot))] == ["once"]
        assert [m.text for m in storage.messages.history(bot, PeerRef.user(user))] == ["once"]
        assert storage.updates.state(user).pts == 1 and storage.updates.state(bot).pts == 1
        # The id is the sender's: the other side may use it, and so may the sender elsewhere.
        storage.messages.send(
            sender_id=bot,
            peer=PeerRef.user(user),
            text="bot",
            render_update=render_new,
            random_id=7,
        )
        # The repeat is answered with the message as it is now.
        storage.messages.edit(user, 1, text="edited", render_update=render_edit)
        with pytest.raises(RandomIdTaken) as again:
            storage.messages.send(
                sender_id=user,
                peer=PeerRef.user(bot),
                text="x",
                render_update=render_new,
                random_id=7,
            )
        assert (again.value.existing.id, again.value.existing.text) == (1, "edited")

    def test_a_random_id_is_free_again_once_the_senders_copy_is_deleted(
        self, storage: Storage
    ) -> None:
        bot, user = make_pair(storage)
        storage.messages.send(
            sender_id=user, peer=PeerRef.user(bot), text="a", render_update=render_new, random_id=-1
        )
        storage.messages.delete(user, [1], revoke=False, render_update=render_delete)
        [(copy, _), _] = storage.messages.send(
            sender_id=user, peer=PeerRef.user(bot), text="b", render_update=render_new, random_id=-1
        )
        assert copy.text == "b"
        with pytest.raises(RandomIdTaken):
            storage.messages.send(
                sender_id=user,
                peer=PeerRef.user(bot),
                text="c",
                render_update=render_new,
                random_id=-1,
            )

    def test_sends_without_random_id_are_never_deduplicated(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        send(storage, user, bot, "same")
        send(storage, user, bot, "same")
        assert len(storage.messages.history(user, PeerRef.user(bot))) == 2

    def test_a_value_too_large_to_store_is_refused_before_anything_is_written(
        self,
        storage: Storage,
    ) -> None:
        bot, user = make_pair(storage)
        big = b"\x00" * (MAX_VALUE_BYTES + 1)
        with pytest.raises(ValueTooLarge):
            storage.messages.send(
                sender_id=bot,
                peer=PeerRef.user(user),
                text="t",
                render_update=render_new,
                entities=big,
            )
        with pytest.raises(ValueTooLarge):
            storage.messages.send(
                sender_id=bot,
                peer=PeerRef.user(user),
                text="x" * (MAX_VALUE_BYTES // 2 + 1) + "\u00e9" * (MAX_VALUE_BYTES // 4),
                render_update=render_new,
            )
        assert storage.updates.state(user).pts == 0
        send(storage, bot, user)
        with pytest.raises(ValueTooLarge):
            storage.messages.edit(bot, 1, reply_markup=big, render_update=render_edit)
        with pytest.raises(ValueTooLarge):
            storage.inline_messages.put(
                InlineMessage(
                    id=b"big", bot_id=bot, text="t", entities=None, reply_markup=big, date=1
                )
            )
        assert storage.inline_messages.get(b"big") is None
        assert storage.updates.state(user).pts == 1

    def test_a_bot_token_with_thousands_of_digits_is_just_wrong(self, storage: Storage) -> None:
        storage.accounts.create_bot("TestBot", "Test", "s3cret")
        assert storage.accounts.get_by_bot_token("9" * 5000 + ":s3cret") is None
        assert storage.accounts.get_by_bot_token("9" * 20 + ":s3cret") is None

    def test_get_many_takes_any_number_of_ids(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        for i in range(3):
            send(storage, bot, user, f"m{i}")
        wanted = [3, *range(100, 300_000), 1]
        assert [m.id for m in storage.messages.get_many(user, wanted)] == [3, 1]
        assert [a.id for a in storage.accounts.get_many([user, *range(2, 300_000), bot])] == [
            user,
            bot,
        ]

    # -- updates -------------------------------------------------------------------------------

    def test_update_state_and_pts_monotonic(self, storage: Storage, clock: FakeClock) -> None:
        bot, user = make_pair(storage)
        assert storage.updates.state(user) == UpdateState(pts=0, qts=0, seq=0, date=0)
        seen = []
        for i in range(5):
            clock.advance(1)
            sent = storage.messages.send(
                sender_id=bot, peer=PeerRef.user(user), text=str(i), render_update=render_new
            )
            seen.append(sent[1][1].pts)
        assert seen == [1, 2, 3, 4, 5]
        assert storage.updates.state(user) == UpdateState(pts=5, qts=0, seq=0, date=NOW + 5)
        with pytest.raises(AccountNotFound):
            storage.updates.state(404)

    def test_get_difference_slice(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        send(storage, bot, user, "seen")
        known = storage.updates.state(user).pts
        for i in range(5):
            send(storage, bot, user, f"missed{i}")
        storage.messages.edit(user, 2, text="missed0 edited", render_update=render_edit)
        missed = storage.updates.since(user, known)
        assert [u.pts for u in missed] == [2, 3, 4, 5, 6, 7]
        assert missed[0].body == b"new " + f"{user}/2 pts=2 missed0".encode()
        assert missed[-1].body.startswith(b"edit ")
        assert all(u.account_id == user and u.pts_count == 1 for u in missed)
        assert [u.pts for u in storage.updates.since(user, known, limit=2)] == [2, 3]
        assert storage.updates.since(user, 7) == []
        assert [u.pts for u in storage.updates.since(bot, 0)] == [1, 2, 3, 4, 5, 6, 7]
        assert storage.updates.since(404, 0) == []

    def test_append_update(self, storage: Storage) -> None:
        _, user = make_pair(storage)
        send(storage, user, user)
        calls: list[tuple[int, int]] = []

        def render(pts: int, pts_count: int) -> bytes:
            calls.append((pts, pts_count))
            return b"read history"

        update = storage.updates.append(user, pts_count=2, render=render, date=NOW + 3)
        assert calls == [(3, 2)]
        assert (update.pts, update.pts_count, update.date, update.body) == (
            3,
            2,
            NOW + 3,
            b"read history",
        )
        assert storage.updates.state(user).pts == 3
        assert storage.updates.since(user, 1) == [update]
        with pytest.raises(AccountNotFound):
            storage.updates.append(404, pts_count=1, render=render)
        with pytest.raises(ValueError):
            storage.updates.append(user, pts_count=0, render=render)

    def test_trim_update_log(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        for _ in range(4):
            send(storage, bot, user)
        assert storage.updates.trim(user, 2) == 2
        assert [u.pts for u in storage.updates.since(user, 0)] == [3, 4]
        assert storage.updates.state(user).pts == 4
        assert [u.pts for u in storage.updates.since(bot, 0)] == [1, 2, 3, 4]

    # -- inline messages -----------------------------------------------------------------------

    def test_inline_messages(self, storage: Storage) -> None:
        bot, _ = make_pair(storage)
        kb = markup(b"go")
        message = InlineMessage(b"\x01" * 20, bot, "inline", None, kb, NOW)
        storage.inline_messages.put(message)
        assert storage.inline_messages.get(b"\x01" * 20) == message
        assert storage.inline_messages.get(b"\x02") is None
        with pytest.raises(InlineMessageExists):
            storage.inline_messages.put(message)
        with pytest.raises(AccountNotFound):
            storage.inline_messages.put(InlineMessage(b"\x03", 404, "x", None, None, NOW))
        edited = storage.inline_messages.edit(b"\x01" * 20, reply_markup=None, edit_date=NOW + 1)
        assert (edited.text, edited.reply_markup, edited.edit_date) == ("inline", None, NOW + 1)
        edited = storage.inline_messages.edit(b"\x01" * 20, text="changed", reply_markup=kb)
        assert (edited.text, edited.edit_date) == ("changed", NOW)
        assert edited.markup() is not None
        assert storage.inline_messages.get(b"\x01" * 20) == edited
        with pytest.raises(InlineMessageNotFound):
            storage.inline_messages.edit(b"\x02", text="x")
        assert storage.inline_messages.delete(b"\x01" * 20) is True
        assert storage.inline_messages.delete(b"\x01" * 20) is False

    # -- reads after writes (a backend may keep rows it has read) ------------------------------

    def test_reads_after_writes_see_the_writes(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        sent, _ = storage.messages.send(
            sender_id=bot,
            peer=PeerRef.user(user),
            text="pick",
            render_update=render_new,
            reply_markup=markup(b"a"),
        )[1]
        # Read first, so that a backend keeping what it read has the old rows at hand.
        assert storage.messages.get(user, sent.id) == sent
        assert storage.accounts.get(bot) is not None

        storage.messages.edit(bot, 1, render_update=render_edit, reply_markup=markup(b"b"))
        edited = storage.messages.get(user, sent.id)
        assert edited is not None and edited.reply_markup == markup(b"b")
        assert edited.pts == sent.pts + 1

        renamed = storage.accounts.update(bot, username="OtherBot", first_name="Other")
        assert storage.accounts.get(bot) == renamed
        assert renamed.username == "OtherBot"

        storage.messages.delete(user, [sent.id], revoke=False, render_update=render_delete)
        assert storage.messages.get(user, sent.id) is None
        assert storage.messages.get(bot, 1) is not None  # the bot's copy stays
        storage.messages.delete(bot, [1], revoke=True, render_update=render_delete)
        assert storage.messages.get(bot, 1) is None

    def test_refused_writes_leave_reads_alone(self, storage: Storage) -> None:
        bot, user = make_pair(storage)
        other = storage.accounts.create_bot("OtherBot", "Other", "s3cret")
        before = storage.accounts.get(bot)
        with pytest.raises(UsernameTaken):
            storage.accounts.update(bot, username="otherbot", first_name="Changed")
        assert storage.accounts.get(bot) == before
        assert storage.accounts.get(other.id) == other
        (mine, _) = send(storage, bot, user)
        with pytest.raises(MessageNotFound):
            storage.messages.edit(bot, mine.id + 5, render_update=render_edit, text="x")
        assert storage.messages.get(bot, mine.id) == mine

    # -- lifecycle -----------------------------------------------------------------------------

    def test_closed_storage_refuses_calls(self, storage: Storage) -> None:
        storage.settings.set("k", b"v")
        with storage as same:
            assert same is storage
        with pytest.raises(StorageClosed):
            storage.settings.get("k")
        with pytest.raises(StorageClosed):
            storage.accounts.create_user("1", "x")
        storage.close()  # closing twice is harmless
