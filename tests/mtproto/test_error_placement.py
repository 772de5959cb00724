"""However the server batches its replies, an ``rpc_error`` never precedes another message in
one container: GramJS 2.26 throws out of its container loop at an error result and drops
the rest (with a MemorySession it sent users.getUsers and updates.getState together before
login, got both 401s in one container, never saw the second, and ``start()`` hung)."""

from __future__ import annotations

from typing import Any

from loopgram.crypto import AuthKey
from loopgram.mtproto.session import open_message
from loopgram.tl import ContainerMessage, MsgContainer, RpcResult, read
from loopgram.tl.functions.help import GetNearestDc
from loopgram.tl.mtproto.types import RpcError
from loopgram.tl.types import UpdatesTooLong
from loopgram.transport import Packet

from .test_session_checks import Setup

TRUE = b"\xb5\x75\x72\x99"


def packets(s: Setup, data: bytes) -> list[list[Any]]:
    """The objects of each packet the server sent, a container's messages in order."""
    out: list[list[Any]] = []
    key: AuthKey = s.key
    for frame in s.raw.codec.feed(data):
        assert isinstance(frame, Packet)
        body = open_message(key, frame.payload, 8)[4]
        obj = read(body)
        out.append([read(m.body) for m in obj.messages] if isinstance(obj, MsgContainer) else [obj])
    return out


def is_error(obj: Any) -> bool:
    return isinstance(obj, RpcResult) and isinstance(read(obj.result), RpcError)


def queries(s: Setup, n: int) -> list[int]:
    """``n`` queries in one container, all unanswered."""
    ids = [s.next_id() for _ in range(n)]
    inner = [
        ContainerMessage(msg_id=m, seqno=2 * i + 1, body=bytes(GetNearestDc()))
        for i, m in enumerate(ids)
    ]
    s.send(s.next_id(), 2 * n, bytes(MsgContainer(messages=inner)))
    return ids


def test_two_errors_answered_together_never_share_a_container() -> None:
    s = Setup()
    first, second = queries(s, 2)
    s.server.send_error(first, 401, "AUTH_KEY_UNREGISTERED")
    s.server.send_error(second, 401, "AUTH_KEY_UNREGISTERED")
    sent = packets(s, s.server.data_to_send(flush_acks=True))
    answered = [o.req_msg_id for packet in sent for o in packet if is_error(o)]
    assert answered == [first, second]
    for packet in sent:
        assert not any(is_error(o) for o in packet[:-1]), packet


def test_errors_results_and_updates_all_arrive_and_errors_end_their_containers() -> None:
    s = Setup()
    ids = queries(s, 5)
    s.server.send_error(ids[0], 400, "PEER_ID_INVALID")
    s.server.send_result(ids[1], TRUE)
    s.server.send_error(ids[2], 400, "PEER_ID_INVALID")
    s.server.send_error(ids[3], 420, "FLOOD_WAIT_3")
    s.server.send_update(UpdatesTooLong())
    s.server.send_result(ids[4], TRUE)
    sent = packets(s, s.server.data_to_send(flush_acks=True))
    for packet in sent:
        assert not any(is_error(o) for o in packet[:-1]), packet
    flat = [o for packet in sent for o in packet]
    # Nothing lost, nothing reordered.
    assert [o.req_msg_id for o in flat if isinstance(o, RpcResult)] == ids
    assert sum(isinstance(o, UpdatesTooLong) for o in flat) == 1
    # Results without errors still share containers: only errors split them.
    assert len(sent) < len(flat)
