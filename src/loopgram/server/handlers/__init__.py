"""Server layer: one thin handler per TL method, grouped by namespace.

A handler turns the request's fields into a service call and returns the TL result; its
docstring is the TL line of the method. ``default_registry()`` is every handler loopgram
serves.
"""

from __future__ import annotations

from loopgram.server.handlers import (
    account,
    auth,
    bots,
    channels,
    chats,
    contacts,
    dialogs,
    help,
    messages,
    updates,
    users,
)
from loopgram.server.handlers.registry import Handler, Registry, Route


def default_registry() -> Registry:
    return auth.registry.merge(
        account.registry,
        users.registry,
        contacts.registry,
        help.registry,
        updates.registry,
        messages.registry,
        dialogs.registry,
        bots.registry,
        chats.registry,
        channels.registry,
    )


__all__ = ["Handler", "Registry", "Route", "default_registry"]
