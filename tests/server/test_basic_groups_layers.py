"""Server layer: the basic-group objects (chat, chatFull, participants, messageService with
the chat actions, createChat's answer) reach clients of layers 158, 198, 227 and 229, each
written by the server's schema conversion and parsed back with that layer's own schema."""

from __future__ import annotations

from typing import Any, TypeVar

import pytest

import loopgram.tl.functions as fn
import loopgram.tl.functions.help as fhelp
import loopgram.tl.functions.messages as fmsg
import loopgram.tl.functions.updates as fupd
from loopgram.server import ServerCore
from loopgram.tl import TLFunction, layers, types
from loopgram.tl.abcs import Updates
from tests.tl.test_layers_oracle import Interp

from .support import Caller, history_request, login_user

R = TypeVar("R")


class LayerCaller(Caller):
    layer = 229

    def _receive(self, updates: Updates) -> None:
        raw = layers.serialize(updates, self.layer)
        Interp(self.layer).decode(raw)
        self.pushed.append(layers.read(raw, self.layer))

    async def call(self, request: TLFunction[R]) -> R:
        answer = await self.core.dispatch(self.session, request)
        if answer.error is not None:
            raise answer.error
        raw = answer.encode(lambda obj: layers.serialize(obj, self.layer))
        Interp(self.layer).decode(raw)
        return layers.read_result(request, raw, self.layer)


async def layer_session(core: ServerCore, phone: str, layer: int) -> LayerCaller:
    first = await login_user(core, phone)
    user = LayerCaller(core, auth_key_id=first.auth_key_id, session_id=2)
    user.layer = layer
    user.account = first.account
    init = fn.InitConnection(
        api_id=6,
        device_model="test",
        system_version="linux",
        app_version="1",
        system_lang_code="en",
        lang_pack="",
        lang_code="en",
        query=fhelp.GetConfig(),
    )
    await user.call(fn.InvokeWithLayer(layer=layer, query=init))
    return user


@pytest.mark.parametrize("layer", [158, 198, 227, 229])
async def test_group_objects_are_served_in_every_layer(core: ServerCore, layer: int) -> None:
    alice = await layer_session(core, "+1 555 0101", layer)
    bob = await layer_session(core, "+1 555 0102", layer)
    invite = types.InputUser(user_id=bob.me.id, access_hash=bob.me.access_hash)
    created: Any = await alice.call(fmsg.CreateChat(users=[invite], title="Club"))
    # Layer 158 predates messages.invitedUsers: createChat answers the bare Updates there.
    updates = created if layer == 158 else created.updates
    assert isinstance(updates, types.Updates)
    (chat,) = updates.chats
    assert isinstance(chat, types.Chat) and chat.title == "Club"
    chat_id = chat.id
    (pushed,) = bob.take(types.UpdateNewMessage)
    assert isinstance(pushed.message, types.MessageService)
    assert pushed.message.action == types.MessageActionChatCreate(
        title="Club", users=[alice.me.id, bob.me.id]
    )
    await bob.call(fmsg.EditChatTitle(chat_id=chat_id, title="Renamed"))
    sent: Any = await alice.call(
        fmsg.SendMessage(peer=types.InputPeerChat(chat_id=chat_id), message="hi", random_id=5)
    )
    assert isinstance(sent, types.Updates)
    full: Any = await bob.call(fmsg.GetFullChat(chat_id=chat_id))
    assert isinstance(full.full_chat, types.ChatFull)
    members = full.full_chat.participants.participants
    assert [type(p) for p in members] == [types.ChatParticipantCreator, types.ChatParticipant]
    chats: Any = await bob.call(fmsg.GetChats(id=[chat_id]))
    assert [c.title for c in chats.chats] == ["Renamed"]
    history: Any = await bob.call(history_request(types.InputPeerChat(chat_id=chat_id), limit=10))
    assert len(history.messages) == 3
    diff: Any = await bob.call(fupd.GetDifference(pts=0, date=0, qts=0))
    assert [type(m) for m in diff.new_messages] == [
        types.MessageService,
        types.MessageService,
        types.Message,
    ]
    await bob.call(fmsg.DeleteChatUser(chat_id=chat_id, user_id=types.InputUserSelf()))
