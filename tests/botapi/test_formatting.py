"""``parse_mode``: HTML, MarkdownV2 and Markdown into text and entities (UTF-16 offsets)."""

from __future__ import annotations

import pytest

from loopgram.botapi.errors import BotApiError
from loopgram.botapi.formatting import parse
from loopgram.tl import types as t

from .conftest import Api, Chat


def test_html_nested_tags_links_and_pre_with_a_language() -> None:
    text, entities = parse(
        '<b>bold <i>it</i></b> &amp; <a href="https://e.x">l</a> '
        '<pre><code class="language-py">x=1</code></pre> <span class="tg-spoiler">s</span>',
        "HTML",
    )
    assert text == "bold it & l x=1 s"
    assert entities == [
        t.MessageEntityBold(offset=0, length=7),
        t.MessageEntityItalic(offset=5, length=2),
        t.MessageEntityTextUrl(offset=10, length=1, url="https://e.x"),
        t.MessageEntityPre(offset=12, length=3, language="py"),
        t.MessageEntitySpoiler(offset=16, length=1),
    ]


def test_offsets_count_utf16_units() -> None:
    text, entities = parse("😀<b>x</b>", "html")
    assert text == "😀x"
    assert entities == [t.MessageEntityBold(offset=2, length=1)]


def test_markdown_v2_entities_and_escapes() -> None:
    text, entities = parse(
        "*bold _it_* \\. [l](https://e.x) `c` __u__ ||s|| ~st~ ```py\nx\n```", "MarkdownV2"
    )
    assert text == "bold it . l c u s st x\n"
    assert entities == [
        t.MessageEntityBold(offset=0, length=7),
        t.MessageEntityItalic(offset=5, length=2),
        t.MessageEntityTextUrl(offset=10, length=1, url="https://e.x"),
        t.MessageEntityCode(offset=12, length=1),
        t.MessageEntityUnderline(offset=14, length=1),
        t.MessageEntitySpoiler(offset=16, length=1),
        t.MessageEntityStrike(offset=18, length=2),
        t.MessageEntityPre(offset=21, length=2, language="py"),
    ]


def test_markdown_v2_blockquote_lines() -> None:
    text, entities = parse(">one\n>two\nafter", "MarkdownV2")
    assert text == "one\ntwo\nafter"
    assert entities == [t.MessageEntityBlockquote(offset=0, length=7)]


def test_legacy_markdown() -> None:
    text, entities = parse("*b* _i_ `c` [t](http://a)", "Markdown")
    assert text == "b i c t"
    assert entities == [
        t.MessageEntityBold(offset=0, length=1),
        t.MessageEntityItalic(offset=2, length=1),
        t.MessageEntityCode(offset=4, length=1),
        t.MessageEntityTextUrl(offset=6, length=1, url="http://a"),
    ]


@pytest.mark.parametrize(
    ("text", "mode", "reason"),
    [
        ("<b>open", "HTML", 'can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", "HTML", 'unmatched end tag "i"'),
        ("<blink>x</blink>", "HTML", 'unsupported start tag "blink"'),
        ("1.5", "MarkdownV2", "character '.' is reserved"),
        ("*open", "MarkdownV2", "can't find end of bold entity"),
        ("[t]x", "MarkdownV2", "a link's text must be followed by its URL"),
        ("_open", "Markdown", "can't find end of italic entity"),
    ],
)
def test_malformed_markup_is_a_bad_request(text: str, mode: str, reason: str) -> None:
    with pytest.raises(BotApiError) as caught:
        parse(text, mode)
    assert caught.value.description.startswith(f"Bad Request: can't parse entities: {reason}")


def test_an_unknown_mode_is_a_bad_request() -> None:
    with pytest.raises(BotApiError, match="Bad Request: unsupported parse_mode"):
        parse("x", "rst")


async def test_send_message_with_parse_mode(api: Api, chat: Chat) -> None:
    sent = await api.ok(
        "sendMessage", chat_id=chat.user.id, text="<b>hi</b> there", parse_mode="HTML"
    )
    assert sent["text"] == "hi there"
    assert sent["entities"] == [{"type": "bold", "offset": 0, "length": 2}]
    status, body = await api.call(
        "sendMessage", chat_id=chat.user.id, text="a.b", parse_mode="MarkdownV2"
    )
    assert status == 400 and "can't parse entities" in body["description"]
