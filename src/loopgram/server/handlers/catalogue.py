"""Server layer: the list of methods loopgram serves, generated from the handler registry.

``loopgram methods`` prints it and ``docs/methods.md`` holds it (a test keeps the file equal
to ``render_markdown()``): whoever meets ``METHOD_NOT_IMPLEMENTED`` can see what is served
instead of guessing.
"""

from __future__ import annotations

from itertools import groupby

from loopgram import tl
from loopgram.server.handlers import Registry, default_registry

DOC_PATH = "docs/methods.md"
"""Where the generated list lives, relative to the repository root."""


def served_methods(registry: Registry | None = None) -> list[tuple[str, bool]]:
    """``(TL name, needs login)`` of every served method, sorted by name."""
    routes = registry if registry is not None else default_registry()
    return sorted((route.name, route.needs_account) for route in routes)


def render_text(registry: Registry | None = None) -> str:
    """One method a line, as ``loopgram methods`` prints them."""
    return "".join(f"{name}\n" for name, _ in served_methods(registry))


def render_markdown(registry: Registry | None = None) -> str:
    """The content of ``docs/methods.md``."""
    methods = served_methods(registry)
    lines = [
        "# Methods loopgram serves",
        "",
        "<!-- GENERATED from the handler registry by `loopgram methods --markdown > "
        f"{DOC_PATH}`; do not edit. -->",
        "",
        f"loopgram serves these {len(methods)} functions of API layer {tl.LAYER} (clients of "
        "layers 158, 198 and 227 call the same ones in their own layout). Any other function "
        "of the layer is answered `400 METHOD_NOT_IMPLEMENTED` and logged once at WARNING; "
        "an id that is no function at all `400 INPUT_METHOD_INVALID`. Methods marked "
        '"before login" also work on an auth key that has not signed in. The MTProto service '
        "calls (`ping`, `get_future_salts`, `destroy_session`, ...) and the wrappers "
        "(`invokeWithLayer`, `initConnection`, `invokeAfterMsg`, `invokeWithoutUpdates`, ...) "
        "are handled below this list.",
        "",
    ]
    for namespace, group in groupby(methods, key=lambda m: m[0].partition(".")[0]):
        lines += [f"## {namespace}", ""]
        for name, needs_account in group:
            lines.append(f"- `{name}`" + ("" if needs_account else " (before login)"))
        lines.append("")
    return "\n".join(lines)


__all__ = ["DOC_PATH", "render_markdown", "render_text", "served_methods"]
