"""Client layer: the base classes of the rpc error hierarchy, one per error code.

Telegram groups its errors by code (core.telegram.org/api/errors): a name the client has no
class for still gets the class of its code, so ``except BadRequestError`` catches every 400.
The per-name classes are generated into ``loopgram.client._errors`` from
``loopgram.errors_table``; ``loopgram.client.errors`` ties both together.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from loopgram import LoopgramError
from loopgram.tl import TLObject

__all__ = [
    "AuthKeyError",
    "BadRequestError",
    "FloodError",
    "ForbiddenError",
    "NotFoundError",
    "RpcError",
    "SeeOtherError",
    "ServerError",
    "TimedOutError",
    "UnauthorizedError",
    "UnexpectedResponseError",
    "expect",
]


T = TypeVar("T")


class UnexpectedResponseError(LoopgramError):
    """The server answered with a well-formed object of a type the call cannot use."""


def expect(value: Any, cls: type[T]) -> T:
    """``value`` as a ``cls``, or UnexpectedResponseError: checks what a server sent."""
    if not isinstance(value, cls):
        raise UnexpectedResponseError(
            f"expected {cls.__name__} from the server, got {type(value).__name__}"
        )
    return value


class RpcError(LoopgramError):
    """The server answered a query with ``rpc_error error_code error_message``.

    ``code`` and ``message`` are the server's; ``request`` the query that failed (when
    known). Subclasses exist per code (``BadRequestError``...) and per Telegram name
    (``QueryIdInvalidError``...); ``NAME`` is the table's name (``FLOOD_WAIT_X`` for a name
    carrying a number, whose value is ``value``).
    """

    CODE: ClassVar[int | None] = None
    NAME: ClassVar[str | None] = None
    DESCRIPTION: ClassVar[str | None] = None

    def __init__(self, code: int, message: str, *, request: TLObject | None = None) -> None:
        self.code = code
        self.message = message
        self.request = request
        self.value: int | None = None
        """The number of a ``*_X`` name (``FLOOD_WAIT_17`` -> 17)."""
        super().__init__(code, message)

    def __str__(self) -> str:
        method = getattr(self.request, "TL_NAME", None)
        what = f"{self.code} {self.message}"
        if self.DESCRIPTION:
            what += f": {self.DESCRIPTION}"
        return f"{what} (caused by {method})" if method else what

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.code, self.message))


class SeeOtherError(RpcError):
    """303: the request must go to another data centre (loopgram never sends it)."""

    CODE = 303


class BadRequestError(RpcError):
    """400: the query is wrong (bad arguments, an id that is not valid...)."""

    CODE = 400


class UnauthorizedError(RpcError):
    """401: the auth key is not logged in (or its login was revoked)."""

    CODE = 401


class ForbiddenError(RpcError):
    """403: the caller may not do this."""

    CODE = 403


class NotFoundError(RpcError):
    """404: the object or method does not exist."""

    CODE = 404


class AuthKeyError(RpcError):
    """406: a problem with the auth key that needs the user's attention."""

    CODE = 406


class FloodError(RpcError):
    """420: too many calls; ``FloodWaitError`` says how long to wait."""

    CODE = 420


class ServerError(RpcError):
    """500: the server failed; the query may succeed if sent again."""

    CODE = 500


class TimedOutError(RpcError):
    """-503: the server did not get the answer of an internal call in time."""

    CODE = -503


BY_CODE: dict[int, type[RpcError]] = {
    cls.CODE: cls
    for cls in (
        SeeOtherError,
        BadRequestError,
        UnauthorizedError,
        ForbiddenError,
        NotFoundError,
        AuthKeyError,
        FloodError,
        ServerError,
        TimedOutError,
    )
    if cls.CODE is not None
}
"""The class of each known error code."""
