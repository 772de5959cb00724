"""Node layer: pushed ``updates`` written part by part (``node.links``), the shared parts once
per layer -- byte for byte what writing each ``Updates`` whole gives, in every shipped layer."""

from __future__ import annotations

import asyncio

import pytest

from loopgram.node.links import _encoder, _SharedParts
from loopgram.tl import abcs, layers, types

LAYERS = (158, 198, 227, layers.NEWEST)


def _fan_out_batches() -> list[types.Updates]:
    """Two members' batches of one channel message: one update object and one users list,
    each member's own channel (its access hash, its join date)."""
    message = types.Message(
        id=42,
        from_id=types.PeerUser(user_id=7),
        peer_id=types.PeerChannel(channel_id=900),
        date=1_700_000_000,
        message="vote now",
        entities=[types.MessageEntityBold(offset=0, length=4)],
        reply_markup=types.ReplyInlineMarkup(
            rows=[
                types.KeyboardInlineButtonRow(
                    buttons=[
                        types.KeyboardInlineButton(
                            text="Yes", type=types.InlineButtonTypeCallback(data=b"y")
                        )
                    ]
                )
            ]
        ),
    )
    update = types.UpdateNewChannelMessage(message=message, pts=5, pts_count=1)
    users: list[abcs.User] = [
        types.User(id=7, access_hash=11, first_name="Ann", status=types.UserStatusRecently())
    ]
    return [
        types.Updates(
            updates=[update],
            users=users,
            chats=[
                types.Channel(
                    megagroup=True,
                    id=900,
                    access_hash=1000 + viewer,
                    title="Votes",
                    photo=types.ChatPhotoEmpty(),
                    date=1_700_000_000 + viewer,
                    participants_count=3,
                )
            ],
            date=1_700_000_100,
            seq=0,
        )
        for viewer in (1, 2)
    ]


@pytest.mark.parametrize("layer", LAYERS)
async def test_shared_parts_write_what_the_whole_updates_writes_in_each_layer(layer: int) -> None:
    encode = _encoder(layer)
    shared = _SharedParts()
    batches = _fan_out_batches()
    written = [shared.encode(batch, encode) for batch in batches]
    assert written == [encode(batch) for batch in batches]
    assert written[0] != written[1]  # each member's own channel
    assert layers.read(written[1], layer).chats[0].access_hash == 1002


async def test_a_part_changed_after_the_loop_step_is_written_anew() -> None:
    encode = _encoder(None)
    shared = _SharedParts()
    batch = _fan_out_batches()[0]
    first = shared.encode(batch, encode)
    await asyncio.sleep(0)  # the memo lasts one step of the loop
    message = batch.updates[0].message  # type: ignore[attr-defined]
    message.message = "vote later"
    again = shared.encode(batch, encode)
    assert again != first and again == encode(batch)


async def test_other_update_containers_are_written_whole() -> None:
    encode = _encoder(158)
    short = types.UpdateShort(update=types.UpdateChannel(channel_id=900), date=5)
    assert _SharedParts().encode(short, encode) == encode(short)
