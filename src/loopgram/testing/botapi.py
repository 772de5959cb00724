"""Point unmodified Bot API frameworks at a loopgram server's Bot API.

The server (``LoopgramServer(bot_api_port=...)``, or the pytest fixture ``loopgram_server``)
serves the Bot API at ``server.bot_api_url``; a framework needs only that base URL::

    from loopgram.testing.botapi import ptb_application_builder, aiogram_bot

    app = ptb_application_builder(server, token).build()    # python-telegram-bot 20+
    bot = aiogram_bot(server, token)                         # aiogram 3

By hand: python-telegram-bot ``ApplicationBuilder().token(t).base_url(f"{url}/bot")``;
aiogram ``Bot(t, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))``;
pyTelegramBotAPI ``telebot.apihelper.API_URL = url + "/bot{0}/{1}"``; grammY
``new Bot(t, {client: {apiRoot: url}})``; Telegraf ``new Telegraf(t, {telegram: {apiRoot:
url}})``.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["aiogram_bot", "bot_api_url", "ptb_application_builder"]


class BotApiServerLike(Protocol):
    """A ``LoopgramServer`` or ``ServerThread`` (anything with ``bot_api_url``)."""

    @property
    def bot_api_url(self) -> str | None: ...


def bot_api_url(server: BotApiServerLike | str) -> str:
    """The base URL, or an error that says how to switch the Bot API on."""
    url = server if isinstance(server, str) else server.bot_api_url
    if not url:
        raise RuntimeError(
            "the server does not serve the Bot API: start it with bot_api_port=0 "
            "(the loopgram_server fixture does)"
        )
    return url.rstrip("/")


def ptb_application_builder(server: BotApiServerLike | str, token: str) -> Any:
    """A python-telegram-bot ``ApplicationBuilder`` with the token and the server's URL."""
    from telegram.ext import ApplicationBuilder  # type: ignore[import-not-found,unused-ignore]

    url = bot_api_url(server)
    return ApplicationBuilder().token(token).base_url(f"{url}/bot")


def aiogram_bot(server: BotApiServerLike | str, token: str, **kwargs: Any) -> Any:
    """An aiogram 3 ``Bot`` talking to the server (``kwargs`` go to ``Bot``)."""
    from aiogram import Bot  # type: ignore[import-not-found,unused-ignore]
    from aiogram.client.session.aiohttp import (  # type: ignore[import-not-found,unused-ignore]
        AiohttpSession,
    )
    from aiogram.client.telegram import (  # type: ignore[import-not-found,unused-ignore]
        TelegramAPIServer,
    )

    session = AiohttpSession(api=TelegramAPIServer.from_base(bot_api_url(server)))
    return Bot(token, session=session, **kwargs)
