"""Bot API layer: reading a request as the official server does, without any I/O.

A request is ``/bot<token>/<method>`` or ``/bot<token>/test/<method>``, GET or POST, its
parameters the query string merged with the body (urlencoded, JSON or multipart; body
fields win over query fields of the same name). Method names are case-insensitive. In a JSON
body a top-level string is taken as it is and any other value as its JSON text, so
``reply_markup`` arrives as an object or as a string holding the same JSON. The HTTP driver
hands over the path, the query string, the content type and the body bytes (multipart is
already split by the HTTP library); everything else happens here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

from loopgram.botapi.errors import BotApiError, bad_request

_PATH: Final = re.compile(r"/bot(?P<token>[^/]*)/(?:(?P<test>test)/)?(?P<method>[^/]*)")
_FILE_PATH: Final = re.compile(r"/file/bot(?P<token>[^/]*)/(?P<path>.+)")

_TRUE: Final = frozenset({"true", "yes", "1"})
_FALSE: Final = frozenset({"false", "no", "0", ""})

INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Route:
    token: str
    method: str
    """Lower-cased, as the official server looks methods up."""
    test: bool
    name: str = ""
    """The method as the client spelled it (for messages)."""


def parse_path(path: str) -> Route | None:
    """The token and method of a Bot API path; ``None`` for any other path."""
    match = _PATH.fullmatch(path)
    if match is None:
        return None
    name = match["method"]
    return Route(match["token"], name.lower(), match["test"] is not None, name)


def parse_file_path(path: str) -> tuple[str, str] | None:
    """The token and file path of a download, ``/file/bot<token>/<file_path>``; ``None``
    for any other path."""
    match = _FILE_PATH.fullmatch(path)
    return None if match is None else (match["token"], match["path"])


def dumps(value: Any) -> str:
    """Compact JSON, non-ASCII as is: every body the Bot API writes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_field(value: Any) -> str:
    if isinstance(value, str):
        return value
    return dumps(value)


def parse_fields(
    query: str, content_type: str, body: bytes, form: Iterable[tuple[str, str]] = ()
) -> dict[str, str]:
    """The request's parameters as text (``form``: multipart fields the driver decoded)."""
    fields: dict[str, str] = {}
    if query:
        try:
            fields.update(parse_qsl(query, keep_blank_values=True, errors="strict"))
        except ValueError:
            raise bad_request("the query string is not valid UTF-8") from None
    if not body and not form:
        return fields
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        if body.strip():
            try:
                value = json.loads(body)
            except (ValueError, RecursionError):
                raise bad_request("can't parse JSON encoded request body") from None
            if not isinstance(value, dict):
                raise bad_request("the JSON encoded request body must be an object")
            fields.update((str(k), _json_field(v)) for k, v in value.items() if v is not None)
    elif kind == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
            fields.update(parse_qsl(text, keep_blank_values=True, errors="strict"))
        except ValueError:
            raise bad_request("the request body is not valid UTF-8") from None
    elif kind == "multipart/form-data":
        fields.update(form)
    elif body.strip() and kind:
        raise bad_request(f"unsupported Content-Type {kind}")
    return fields


class Params:
    """Typed access to a request's parameters, with Bot API errors for bad values."""

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, str]) -> None:
        self._fields = fields

    def __contains__(self, name: str) -> bool:
        return bool(self._fields.get(name))

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._fields.get(name)
        return default if not value else value

    def required_text(self, name: str) -> str:
        value = self._fields.get(name)
        if not value:
            raise bad_request(f'parameter "{name}" is required')
        return value

    def integer(
        self,
        name: str,
        default: int | None = None,
        *,
        low: int = INT64_MIN,
        high: int = INT64_MAX,
        clamp: bool = False,
    ) -> int | None:
        raw = self._fields.get(name)
        if not raw:
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise bad_request(f'parameter "{name}" must be an Integer') from None
        if clamp:
            return min(max(value, low), high)
        if not low <= value <= high:
            raise bad_request(f'parameter "{name}" is out of range')
        return value

    def required_integer(self, name: str, *, low: int = INT64_MIN, high: int = INT64_MAX) -> int:
        value = self.integer(name, low=low, high=high)
        if value is None:
            raise bad_request(f'parameter "{name}" is required')
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        raw = self._fields.get(name)
        if raw is None:
            return default
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise bad_request(f'parameter "{name}" must be a Boolean')

    def json(self, name: str, what: str) -> Any:
        """The parameter's JSON value (``None`` if absent); ``what`` names it in the error,
        as the official texts do ("can't parse reply keyboard markup JSON object")."""
        raw = self._fields.get(name)
        if not raw:
            return None
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise bad_request(f"can't parse {what} JSON object") from None


def check_body_size(size: int | None, limit: int) -> None:
    if size is not None and size > limit:
        raise BotApiError(413, f"Request Entity Too Large: the request body exceeds {limit} bytes")


__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "INT64_MAX",
    "INT64_MIN",
    "Params",
    "Route",
    "check_body_size",
    "dumps",
    "parse_fields",
    "parse_path",
]
