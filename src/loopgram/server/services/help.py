"""Server layer: what ``help.*`` tells a client about the server.

``help.getConfig`` advertises one data centre, ``this_dc`` = 2, with one IPv4 option: the
server's own host and port (``ServerInfo``). Clients then never try another address and are
never asked to migrate. The other fields carry Telegram's usual values.
"""

from __future__ import annotations

from typing import Final

from loopgram.clock import Clock
from loopgram.server.config import ServerConfig, ServerInfo
from loopgram.tl import types

CONFIG_TTL: Final = 3600
"""Seconds until a client should fetch the config again."""


class HelpService:
    def __init__(self, clock: Clock, info: ServerInfo, config: ServerConfig) -> None:
        self._clock = clock
        self._info = info
        self._config = config

    def config(self) -> types.Config:
        now = int(self._clock())
        return types.Config(
            date=now,
            expires=now + CONFIG_TTL,
            test_mode=False,
            this_dc=self._info.dc_id,
            dc_options=[
                types.DcOption(
                    id=self._info.dc_id, ip_address=self._info.host, port=self._info.port
                )
            ],
            dc_txt_domain_name="loopgram.invalid",
            chat_size_max=200,
            megagroup_size_max=200_000,
            forwarded_count_max=100,
            online_update_period_ms=210_000,
            offline_blur_timeout_ms=5_000,
            offline_idle_timeout_ms=30_000,
            online_cloud_timeout_ms=300_000,
            notify_cloud_delay_ms=30_000,
            notify_default_delay_ms=1_500,
            push_chat_period_ms=60_000,
            push_chat_limit=2,
            edit_time_limit=172_800,
            revoke_time_limit=2_147_483_647,
            revoke_pm_time_limit=2_147_483_647,
            rating_e_decay=2_419_200,
            stickers_recent_limit=200,
            channels_read_media_period=604_800,
            call_receive_timeout_ms=20_000,
            call_ring_timeout_ms=90_000,
            call_connect_timeout_ms=30_000,
            call_packet_timeout_ms=10_000,
            me_url_prefix="https://t.me/",
            caption_length_max=1024,
            message_length_max=self._config.message_length_max,
            webfile_dc_id=self._info.dc_id,
        )

    def nearest_dc(self) -> types.NearestDc:
        return types.NearestDc(country="ZZ", this_dc=self._info.dc_id, nearest_dc=self._info.dc_id)
