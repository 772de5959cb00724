"""Server layer: the table from TL function class to handler.

Each handler module owns a ``Registry`` and registers its handlers with ``@registry.method``;
``loopgram.server.handlers.default_registry`` merges them. A route says whether the method
needs a logged-in account (the dispatcher answers ``401 AUTH_KEY_UNREGISTERED`` before
login otherwise). The dispatcher answers a storage refusal a handler lets through with
Telegram's error where it can (``services.limits.storage_failure``) rather than a bare 500.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from loopgram.server.context import RequestContext
from loopgram.tl import TLObject

Req = TypeVar("Req", bound=TLObject)
Res = TypeVar("Res")

Handler = Callable[[RequestContext, Any], Coroutine[Any, Any, object]]
"""A coroutine function: the dispatcher steps it by hand (see ``Dispatcher.start``)."""


@dataclass(frozen=True, slots=True)
class Route:
    function: type[TLObject]
    handler: Handler
    needs_account: bool

    @property
    def name(self) -> str:
        return self.function.TL_NAME


class Registry:
    def __init__(self) -> None:
        self._routes: dict[type[TLObject], Route] = {}

    def method(
        self, function: type[Req], *, needs_account: bool = True
    ) -> Callable[
        [Callable[[RequestContext, Req], Coroutine[Any, Any, Res]]],
        Callable[[RequestContext, Req], Coroutine[Any, Any, Res]],
    ]:
        """Register the decorated coroutine function as the handler of ``function``."""

        def register(
            handler: Callable[[RequestContext, Req], Coroutine[Any, Any, Res]],
        ) -> Callable[[RequestContext, Req], Coroutine[Any, Any, Res]]:
            if function in self._routes:
                raise ValueError(f"{function.TL_NAME} already has a handler")
            self._routes[function] = Route(function, handler, needs_account)
            return handler

        return register

    def get(self, function: type[TLObject]) -> Route | None:
        return self._routes.get(function)

    def merge(self, *others: Registry) -> Registry:
        """A registry with this one's routes and the others' (no method twice)."""
        merged = Registry()
        for registry in (self, *others):
            for route in registry:
                if route.function in merged._routes:
                    raise ValueError(f"{route.name} already has a handler")
                merged._routes[route.function] = route
        return merged

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes.values())

    def __len__(self) -> int:
        return len(self._routes)

    def __contains__(self, function: object) -> bool:
        return function in self._routes
