"""The seed example written with loopgram: a bot answers a callback query it never received.

Against a running server (``loopgram serve --data lg`` in another terminal)::

    TOKEN=$(loopgram bot create seedbot --data lg)
    loopgram info --data lg --json | python examples/seed.py "$TOKEN"

The server's address and RSA key are read from ``loopgram info --json`` on stdin; against
Telegram itself, give ``Client`` Telegram's address and public key instead.
"""

from __future__ import annotations

import asyncio
import json
import sys

from loopgram.client import Client, QueryIdInvalidError
from loopgram.tl.functions.messages import SetBotCallbackAnswer


async def main(token: str) -> None:
    info = json.load(sys.stdin)
    async with Client(
        host=info["host"], port=info["port"], public_key=info["public_key_pem"]
    ) as bot:
        await bot.sign_in_bot(token)
        try:
            ok = await bot.invoke(
                SetBotCallbackAnswer(
                    query_id=5130910,
                    alert=True,
                    message="random string here",
                    url="random string here",
                    cache_time=3996368,
                )
            )
            print("answered:", ok)
        except QueryIdInvalidError as e:
            print(f"{type(e).__name__}: {e}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
