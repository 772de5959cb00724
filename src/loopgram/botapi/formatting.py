"""Bot API layer: ``parse_mode`` -- HTML, MarkdownV2 and (legacy) Markdown text into plain
text and TL message entities, with offsets in UTF-16 code units as Telegram counts them.

The syntax is the Bot API's (core.telegram.org/bots/api#formatting-options). Malformed
markup is a ``Bad Request: can't parse entities: ...`` as on the official server; the
wording after the prefix is loopgram's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Final

from loopgram.botapi.errors import BotApiError, bad_request
from loopgram.server.services.limits import utf16_length
from loopgram.tl import abcs, types

MDV2_RESERVED: Final = frozenset("_*[]()~`>#+-=|{}.!")


def _fail(reason: str) -> BotApiError:
    return bad_request(f"can't parse entities: {reason}")


@dataclass(slots=True)
class _Out:
    """Plain text being built, with its length in UTF-16 units."""

    parts: list[str] = field(default_factory=list)
    length: int = 0
    entities: list[tuple[int, int, abcs.MessageEntity]] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length += utf16_length(text)

    def entity(self, start: int, make: Callable[[int, int], abcs.MessageEntity]) -> None:
        length = self.length - start
        if length > 0:
            # Sorted by start later; outer entities (opened first) stay first on ties.
            self.entities.append((start, -length, make(start, length)))

    def add_pre(self, body: str) -> None:
        """A pre block of either Markdown; a first line without spaces names its language."""
        language, newline, rest = body.partition("\n")
        if newline and language and not any(ch.isspace() for ch in language):
            body = rest
        else:
            language = ""
        start = self.length
        self.add(body)
        self.entity(start, _pre(language))

    def result(self) -> tuple[str, list[abcs.MessageEntity]]:
        ordered = sorted(self.entities, key=lambda e: (e[0], e[1]))
        return "".join(self.parts), [e[2] for e in ordered]


def _simple(cls: type[abcs.MessageEntity]) -> Callable[[int, int], abcs.MessageEntity]:
    def make(offset: int, length: int) -> abcs.MessageEntity:
        return cls(offset=offset, length=length)  # type: ignore[call-arg]

    return make


def _text_link(url: str) -> Callable[[int, int], abcs.MessageEntity]:
    def make(offset: int, length: int) -> abcs.MessageEntity:
        return types.MessageEntityTextUrl(offset=offset, length=length, url=url)

    return make


def _pre(language: str) -> Callable[[int, int], abcs.MessageEntity]:
    def make(offset: int, length: int) -> abcs.MessageEntity:
        return types.MessageEntityPre(offset=offset, length=length, language=language)

    return make


def _quote(collapsed: bool) -> Callable[[int, int], abcs.MessageEntity]:
    def make(offset: int, length: int) -> abcs.MessageEntity:
        return types.MessageEntityBlockquote(offset=offset, length=length, collapsed=collapsed)

    return make


# -- HTML -------------------------------------------------------------------------------------

_HTML_SIMPLE: Final = {
    "b": types.MessageEntityBold,
    "strong": types.MessageEntityBold,
    "i": types.MessageEntityItalic,
    "em": types.MessageEntityItalic,
    "u": types.MessageEntityUnderline,
    "ins": types.MessageEntityUnderline,
    "s": types.MessageEntityStrike,
    "strike": types.MessageEntityStrike,
    "del": types.MessageEntityStrike,
    "tg-spoiler": types.MessageEntitySpoiler,
    "code": types.MessageEntityCode,
}


@dataclass(slots=True)
class _Open:
    tag: str
    start: int
    make: Callable[[int, int], abcs.MessageEntity] | None
    language: str = ""


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = _Out()
        self.stack: list[_Open] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        start = self.out.length
        make: Callable[[int, int], abcs.MessageEntity] | None
        if tag == "code" and self.stack and self.stack[-1].tag == "pre":
            # <pre><code class="language-x">: the language of the pre, no code entity.
            language = values.get("class", "")
            if language.startswith("language-"):
                self.stack[-1].language = language.removeprefix("language-")
            make = None
        elif tag in _HTML_SIMPLE:
            make = _simple(_HTML_SIMPLE[tag])
        elif tag == "span":
            if values.get("class") != "tg-spoiler":
                raise _fail('a span needs class="tg-spoiler"')
            make = _simple(types.MessageEntitySpoiler)
        elif tag == "a":
            href = values.get("href", "")
            if not href:
                raise _fail("a link needs an href")
            make = _text_link(href)
        elif tag == "pre":
            make = None  # made at the end tag, once the language is known
        elif tag == "blockquote":
            make = _quote("expandable" in values)
        else:
            raise _fail(f'unsupported start tag "{tag}"')
        self.stack.append(_Open(tag, start, make))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1].tag != tag:
            raise _fail(f'unmatched end tag "{tag}"')
        opened = self.stack.pop()
        make = _pre(opened.language) if tag == "pre" else opened.make
        if make is not None:
            self.out.entity(opened.start, make)

    def handle_data(self, data: str) -> None:
        self.out.add(data)


def parse_html(text: str) -> tuple[str, list[abcs.MessageEntity]]:
    parser = _Html()
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise _fail(f'can\'t find end tag corresponding to start tag "{parser.stack[-1].tag}"')
    return parser.out.result()


# -- MarkdownV2 -------------------------------------------------------------------------------

_MDV2_TOGGLES: Final = {
    "*": ("bold", types.MessageEntityBold),
    "_": ("italic", types.MessageEntityItalic),
    "__": ("underline", types.MessageEntityUnderline),
    "~": ("strikethrough", types.MessageEntityStrike),
    "||": ("spoiler", types.MessageEntitySpoiler),
}


def _until(text: str, i: int, stop: str, what: str) -> tuple[str, int]:
    """Read escaped text from ``i`` up to the unescaped ``stop``; returns it and the index
    after ``stop``."""
    chunk: list[str] = []
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            chunk.append(text[i + 1])
            i += 2
            continue
        if text.startswith(stop, i):
            return "".join(chunk), i + len(stop)
        chunk.append(c)
        i += 1
    raise _fail(f"can't find end of {what} entity")


def parse_markdown_v2(text: str) -> tuple[str, list[abcs.MessageEntity]]:
    out = _Out()
    open_: dict[str, int] = {}
    link_start: int | None = None
    quote_start: int | None = None
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        at_line_start = i == 0 or text[i - 1] == "\n"
        if c == "\\":
            if i + 1 < n:
                out.add(text[i + 1])
            i += 2
            continue
        if c == ">" and at_line_start:
            if quote_start is None:
                quote_start = out.length
            i += 1
            continue
        if c == "\n" and quote_start is not None and not text.startswith(">", i + 1):
            out.entity(quote_start, _quote(False))
            quote_start = None
        if c == "`":
            if text.startswith("```", i):
                body, i = _until(text, i + 3, "```", "pre")
                out.add_pre(body)
            else:
                body, i = _until(text, i + 1, "`", "code")
                start = out.length
                out.add(body)
                out.entity(start, _simple(types.MessageEntityCode))
            continue
        token = text[i : i + 2] if text[i : i + 2] in ("__", "||") else c
        if token in _MDV2_TOGGLES:
            _, cls = _MDV2_TOGGLES[token]
            if token in open_:
                out.entity(open_.pop(token), _simple(cls))
            else:
                open_[token] = out.length
            i += len(token)
            continue
        if c == "[":
            if link_start is not None:
                raise _fail("a link inside a link")
            link_start = out.length
            i += 1
            continue
        if c == "]" and link_start is not None:
            if not text.startswith("(", i + 1):
                raise _fail("a link's text must be followed by its URL in parentheses")
            url, i = _until(text, i + 2, ")", "URL")
            out.entity(link_start, _text_link(url))
            link_start = None
            continue
        if c in MDV2_RESERVED:
            raise _fail(f"character '{c}' is reserved and must be escaped with the preceding '\\'")
        out.add(c)
        i += 1
    if quote_start is not None:
        out.entity(quote_start, _quote(False))
    if open_ or link_start is not None:
        what = _MDV2_TOGGLES[next(iter(open_))][0] if open_ else "text link"
        raise _fail(f"can't find end of {what} entity")
    return out.result()


# -- Markdown (legacy) ------------------------------------------------------------------------

_MD_TOGGLES: Final = {
    "*": ("bold", types.MessageEntityBold),
    "_": ("italic", types.MessageEntityItalic),
}


def parse_markdown(text: str) -> tuple[str, list[abcs.MessageEntity]]:
    """The legacy Markdown: ``*bold*``, ``_italic_``, ```code```, ``[text](url)``, no
    nesting; ``\\`` escapes ``_*`[``."""
    out = _Out()
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if c in _MD_TOGGLES:
            name, cls = _MD_TOGGLES[c]
            end = text.find(c, i + 1)
            if end < 0:
                raise _fail(f"can't find end of {name} entity")
            start = out.length
            out.add(text[i + 1 : end])
            out.entity(start, _simple(cls))
            i = end + 1
            continue
        if c == "`":
            if text.startswith("```", i):
                end = text.find("```", i + 3)
                if end < 0:
                    raise _fail("can't find end of pre entity")
                out.add_pre(text[i + 3 : end])
                i = end + 3
            else:
                end = text.find("`", i + 1)
                if end < 0:
                    raise _fail("can't find end of code entity")
                start = out.length
                out.add(text[i + 1 : end])
                out.entity(start, _simple(types.MessageEntityCode))
                i = end + 1
            continue
        if c == "[":
            close = text.find("](", i + 1)
            end = text.find(")", close + 2) if close >= 0 else -1
            if close < 0 or end < 0:
                raise _fail("can't find end of text link entity")
            start = out.length
            out.add(text[i + 1 : close])
            out.entity(start, _text_link(text[close + 2 : end]))
            i = end + 1
            continue
        out.add(c)
        i += 1
    return out.result()


_PARSERS: Final = {
    "html": parse_html,
    "markdownv2": parse_markdown_v2,
    "markdown": parse_markdown,
}


def parse(text: str, mode: str) -> tuple[str, list[abcs.MessageEntity]]:
    """``text`` in ``parse_mode`` ``mode`` (any case) as plain text and entities."""
    parser = _PARSERS.get(mode.lower())
    if parser is None:
        raise bad_request("unsupported parse_mode")
    return parser(text)


__all__ = ["parse", "parse_html", "parse_markdown", "parse_markdown_v2"]
