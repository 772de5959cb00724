"""Cluster layer: live state several server processes share, kept in Redis.

The rules (``loopgram.server``) define the seams -- the pending-call table
(``loopgram.server.pending.PendingCalls``) among them -- with in-process implementations and
no network code; this package implements them over Redis so that identical ``loopgram
serve`` processes, on one machine or several, act as one server: a press arriving at one
process is answered by a bot connected to another. The update fan-out (``hub``), the
pending-call table (``pending``), the Bot API queues' signals (``queues``) and the flood
limits' shared buckets (``flood``) are here. The composition root wires it in when it
is given a Redis URL. It stands on ``server`` (and what ``server`` stands on), never on a
front door.
"""

from __future__ import annotations

from loopgram.cluster.flood import RedisFloodBuckets
from loopgram.cluster.hub import RedisHub
from loopgram.cluster.pending import RedisPendingCalls
from loopgram.cluster.queues import RedisQueueSignals

__all__ = ["RedisFloodBuckets", "RedisHub", "RedisPendingCalls", "RedisQueueSignals"]
