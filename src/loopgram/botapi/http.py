"""Bot API layer: the HTTP driver.

Thin: it reads the path, the query string, the content type and the body, hands them to
``loopgram.botapi.request`` and the gateway, and writes the JSON envelope with HTTP status =
``error_code`` (and ``Retry-After`` on 429).

The listener's connections start on ``loopgram.botapi.wire`` (httptools; plain method calls
answered in the read that brought them); what that hands over -- multipart bodies,
``Expect``, the web page and its WebSocket -- is served by the aiohttp application here,
whose catch-all route serves the Bot API too. ``LOOPGRAM_BOT_API_HTTP=aiohttp`` serves every
connection with aiohttp alone, as before the wire driver (benchmarks compare the two).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Final

import aiohttp
from aiohttp import web

from loopgram.botapi.errors import BotApiError, error
from loopgram.botapi.gateway import BotApiGateway
from loopgram.botapi.request import (
    check_body_size,
    parse_fields,
    parse_file_path,
    parse_path,
)
from loopgram.botapi.wire import WireConnections, error_body, result_body
from loopgram.clock import Clock

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT: Final = 5.0
WEBHOOK_TIMEOUT: Final = 60.0
"""Seconds a webhook has to answer one delivery."""
DEFAULT_MAX_BODY: Final = 1 << 20
"""1 MiB: far above any text request (no file uploads yet)."""


DRIVERS: Final = ("wire", "aiohttp")
SWEEP_INTERVAL: Final = 1.0
"""Seconds between checks of the wire connections' timeouts."""


def _error_response(exc: BotApiError) -> web.Response:
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return web.Response(
        status=exc.code,
        body=error_body(exc),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


class BotApiServer:
    """The Bot API over HTTP/1.1 on ``host:port`` (0 picks a free port)."""

    def __init__(
        self,
        gateway: BotApiGateway,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_body_size: int = DEFAULT_MAX_BODY,
        mount: Callable[[web.Application], None] | None = None,
        driver: str | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.gateway = gateway
        self.driver = driver or os.environ.get("LOOPGRAM_BOT_API_HTTP") or "wire"
        if self.driver not in DRIVERS:
            raise ValueError(f"unknown Bot API HTTP driver {self.driver!r}")
        self.clock = clock
        """The clock of the wire connections' idle and read timeouts."""
        self.connections: WireConnections | None = None
        self._listener: asyncio.Server | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        # Other handlers sharing this listener (the web page under /web/), added before the
        # Bot API's catch-all route.
        self.mount = mount
        self.host = host
        self.port = port
        self.max_body_size = max_body_size
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    async def _post(
        self, url: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str] | None]:
        """A webhook delivery: POST the update; the status and the answer's fields, read as
        a request's are (JSON, urlencoded, or multipart as aiogram answers), ``None`` for an
        answer that is empty or unreadable."""
        client = self._client
        if client is None:
            raise ConnectionError("the Bot API server is stopped")
        try:
            async with client.post(url, data=body, headers=dict(headers)) as response:
                return response.status, await self._answer_fields(response)
        except aiohttp.ServerTimeoutError:
            raise TimeoutError from None
        except aiohttp.ClientConnectorError as e:
            raise ConnectionError(e.strerror or "connection refused") from None
        except aiohttp.ClientError as e:
            raise ConnectionError(str(e) or type(e).__name__) from None

    async def _answer_fields(self, response: aiohttp.ClientResponse) -> dict[str, str] | None:
        if not 200 <= response.status < 300:
            return None
        if response.content_type == "multipart/form-data":
            fields: list[tuple[str, str]] = []
            size = 0
            reader = aiohttp.MultipartReader.from_response(response)
            async for part in reader:
                if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                    return None
                if part.filename is not None:
                    return None  # files: not supported yet
                value = await part.read(decode=True)
                size += len(value)
                if size > self.max_body_size:
                    return None
                fields.append((part.name, value.decode("utf-8", "replace")))
            return parse_fields("", "multipart/form-data", b"", fields)
        answer = await response.content.read(self.max_body_size + 1)
        if len(answer) > self.max_body_size:
            return None
        try:
            return parse_fields("", response.headers.get("Content-Type", ""), answer)
        except BotApiError:
            return None

    async def start(self) -> None:
        self._client = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT), auto_decompress=True
        )
        self.gateway.post = self._post
        app = web.Application(client_max_size=self.max_body_size)
        if self.mount is not None:
            self.mount(app)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # Long polls end when the gateway closes; the timeout only bounds a stuck handler.
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        try:
            server: asyncio.AbstractServer | None
            if self.driver == "wire":
                server = await self._listen(runner)
            else:
                site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
                await site.start()
                server = site._server
        except BaseException:
            await runner.cleanup()
            await self._client.close()
            raise
        self._runner = runner
        sockets = getattr(server, "sockets", None) or ()
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("Bot API listening on %s", self.url)
        self.gateway.start_webhooks()

    async def _listen(self, runner: web.AppRunner) -> asyncio.Server:
        web_server = runner.server
        if web_server is None:
            raise RuntimeError("the aiohttp runner is not set up")
        connections = WireConnections(
            self.gateway,
            web_server,
            max_body_size=self.max_body_size,
            mount=self.mount is not None,
            clock=self.clock,
        )
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            connections, self.host, self.port, reuse_address=True
        )
        self.connections = connections
        self._sweeper = loop.call_later(SWEEP_INTERVAL, self._sweep)
        return self._listener

    def _sweep(self) -> None:
        if self.connections is None:
            return
        self.expire_idle()
        self._sweeper = asyncio.get_running_loop().call_later(SWEEP_INTERVAL, self._sweep)

    def expire_idle(self) -> int:
        """Close the wire connections idle past their keep-alive timeout, or slower than the
        read timeout with a request (also run every second); returns how many."""
        return 0 if self.connections is None else self.connections.expire()

    async def stop(self) -> None:
        """Close the gateway (waiting long polls answer at once), then the listener."""
        self.gateway.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        listener, self._listener = self._listener, None
        connections, self.connections = self.connections, None
        if listener is not None and connections is not None:
            listener.close()
            connections.close_idle()
            # Long polls answer at once now that the gateway is closed; the timeout only
            # bounds a stuck request.
            tasks = [task for c in connections.open for task in c.tasks]
            if tasks:
                await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT)
            for connection in list(connections.open):
                connection.close()
            for task in tasks:
                task.cancel()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        route = parse_path(request.path)
        if route is None:
            download = parse_file_path(request.path)
            if download is None:
                return _error_response(BotApiError(404, "Not Found"))
            try:
                data = self.gateway.download(*download)
            except BotApiError as exc:
                return _error_response(exc)
            return web.Response(body=data, content_type="application/octet-stream")
        try:
            check_body_size(request.content_length, self.max_body_size)
            content_type = request.headers.get("Content-Type", "")
            form: list[tuple[str, str]] = []
            body = b""
            if request.content_type == "multipart/form-data":
                posted = await request.post()
                for name, value in posted.items():
                    if not isinstance(value, str):
                        raise error(400, "file uploads are not implemented by loopgram yet")
                    form.append((name, value))
            elif request.can_read_body:
                body = await request.read()
            fields = parse_fields(request.query_string, content_type, body, form)
            result = await self.gateway.call(route, fields)
        except BotApiError as exc:
            return _error_response(exc)
        except web.HTTPRequestEntityTooLarge:
            too_large = f"the request body exceeds {self.max_body_size} bytes"
            return _error_response(BotApiError(413, f"Request Entity Too Large: {too_large}"))
        except ValueError:
            return _error_response(error(400, "can't parse the request body"))
        return web.Response(
            body=result_body(result), content_type="application/json", charset="utf-8"
        )


__all__ = ["DEFAULT_MAX_BODY", "DRIVERS", "BotApiServer"]
