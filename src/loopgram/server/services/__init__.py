"""Server layer: the services that hold the rules, and ``Services``, the bundle handlers use.

Each service is plain synchronous logic over the storage, the injected clock and randomness
and the update hub; none of them needs an event loop. ``Services.create`` wires them.
"""

from __future__ import annotations

from dataclasses import dataclass

from loopgram.clock import Clock, RandomBytes
from loopgram.server.config import ServerConfig, ServerInfo
from loopgram.server.hub import UpdateHub
from loopgram.server.pending import LocalPendingCalls, PendingCalls
from loopgram.server.services.accounts import AccountService, BotCredentials
from loopgram.server.services.callbacks import CallbackService, PendingPress
from loopgram.server.services.channels import ChannelService
from loopgram.server.services.chats import ChatService
from loopgram.server.services.commands import BotCommandService
from loopgram.server.services.dialogs import ContactService, DialogService
from loopgram.server.services.help import HelpService
from loopgram.server.services.inline import InlineService, PendingInlineQuery
from loopgram.server.services.keys import ServerKeys
from loopgram.server.services.messages import InlineSent, MessageService
from loopgram.server.services.peers import Peers
from loopgram.server.services.updates import UpdateService
from loopgram.server.services.users import UserService
from loopgram.storage import Storage


@dataclass(frozen=True, slots=True)
class Services:
    storage: Storage
    clock: Clock
    config: ServerConfig
    info: ServerInfo
    hub: UpdateHub
    calls: PendingCalls
    """Pending callback presses and inline queries (in-process, or shared between processes)."""
    keys: ServerKeys
    peers: Peers
    accounts: AccountService
    users: UserService
    messages: MessageService
    callbacks: CallbackService
    inline: InlineService
    updates: UpdateService
    help: HelpService
    commands: BotCommandService
    dialogs: DialogService
    contacts: ContactService
    chats: ChatService
    channels: ChannelService

    @classmethod
    def create(
        cls,
        storage: Storage,
        *,
        clock: Clock,
        random_bytes: RandomBytes,
        hub: UpdateHub,
        config: ServerConfig | None = None,
        info: ServerInfo | None = None,
        calls: PendingCalls | None = None,
    ) -> Services:
        config = config or ServerConfig()
        calls = calls if calls is not None else LocalPendingCalls()
        info = info or ServerInfo()
        keys = ServerKeys(storage, random_bytes)
        peers = Peers(storage)
        messages = MessageService(storage, clock, hub, peers, keys, config, info.dc_id)
        commands = BotCommandService(storage, peers)
        channels = ChannelService(storage, clock, hub, peers, messages, keys, config)
        messages.channels = channels  # forwarding out of channels
        return cls(
            storage=storage,
            clock=clock,
            config=config,
            info=info,
            hub=hub,
            calls=calls,
            keys=keys,
            peers=peers,
            accounts=AccountService(storage, clock, random_bytes, config, hub),
            users=UserService(storage, peers, commands),
            messages=messages,
            callbacks=CallbackService(
                storage, clock, random_bytes, peers, messages, keys, config, calls
            ),
            inline=InlineService(storage, clock, random_bytes, hub, peers, messages, config, calls),
            updates=UpdateService(storage, clock, config, channels),
            help=HelpService(clock, info, config),
            commands=commands,
            dialogs=DialogService(storage, clock, hub, peers, messages, channels),
            contacts=ContactService(storage, peers),
            chats=ChatService(storage, clock, hub, peers, messages, config, keys),
            channels=channels,
        )


__all__ = [
    "AccountService",
    "BotCommandService",
    "BotCredentials",
    "CallbackService",
    "ChannelService",
    "ChatService",
    "ContactService",
    "DialogService",
    "HelpService",
    "InlineSent",
    "InlineService",
    "MessageService",
    "Peers",
    "PendingInlineQuery",
    "PendingPress",
    "ServerKeys",
    "Services",
    "UpdateService",
    "UserService",
]
