"""asyncio drivers: sockets in, bytes to a sans-I/O Connection, its bytes back out.

``loopgram.net.server`` runs one :class:`~loopgram.mtproto.server_connection.ServerConnection`
per accepted TCP connection (:class:`Link`) and hands the events it reports to an
application (:class:`LinkHandler`, implemented by ``loopgram.node.links``). Everything
protocol-shaped lives below this package; everything about accounts and rules above it.
"""

from __future__ import annotations

from loopgram.net.server import (
    LOW_PORTS,
    ConnectionFactory,
    Limits,
    Link,
    LinkHandler,
    Listener,
    open_file_limit,
    raise_open_file_limit,
)

__all__ = [
    "LOW_PORTS",
    "ConnectionFactory",
    "Limits",
    "Link",
    "LinkHandler",
    "Listener",
    "open_file_limit",
    "raise_open_file_limit",
]
