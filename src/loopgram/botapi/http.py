"""Bot API layer: the HTTP driver, on aiohttp.

Thin: it reads the path, the query string, the content type and the body (aiohttp parses
HTTP/1.x and multipart, and enforces the body size limit), hands them to
``loopgram.botapi.request`` and the gateway, and writes the JSON envelope with HTTP status =
``error_code`` (and ``Retry-After`` on 429).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Final

import aiohttp
from aiohttp import web

from loopgram.botapi.errors import BotApiError, error
from loopgram.botapi.gateway import BotApiGateway, RawJson
from loopgram.botapi.request import (
    check_body_size,
    dumps,
    parse_fields,
    parse_file_path,
    parse_path,
)

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT: Final = 5.0
WEBHOOK_TIMEOUT: Final = 60.0
"""Seconds a webhook has to answer one delivery."""
DEFAULT_MAX_BODY: Final = 1 << 20
"""1 MiB: far above any text request (no file uploads yet)."""


_OK_TRUE: Final = '{"ok":true,"result":true}'
"""The answer of most methods, written once."""


def _error_response(exc: BotApiError) -> web.Response:
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return web.Response(
        status=exc.code,
        text=dumps(exc.to_dict()),
        content_type="application/json",
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
    ) -> None:
        self.gateway = gateway
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
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            await self._client.close()
            raise
        self._runner = runner
        server = site._server
        sockets = getattr(server, "sockets", None) or ()
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("Bot API listening on %s", self.url)
        self.gateway.start_webhooks()

    async def stop(self) -> None:
        """Close the gateway (waiting long polls answer at once), then the listener."""
        self.gateway.close()
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
        if result is True:
            text = _OK_TRUE
        elif isinstance(result, RawJson):
            text = f'{{"ok":true,"result":{result}}}'
        else:
            text = dumps({"ok": True, "result": result})
        return web.Response(text=text, content_type="application/json")


__all__ = ["DEFAULT_MAX_BODY", "BotApiServer"]
