"""The ``loopgram`` command line.

``loopgram tl encode NAME field=value ...`` serialises any TL constructor or function;
``loopgram tl decode HEX`` parses bytes back. Values are JSON where they parse as JSON
(numbers, true/false, nested ``{"_": ...}`` objects, lists), plain strings otherwise;
``bytes`` fields take ``hex:...``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from loopgram import LoopgramError


def _parse_value(text: str) -> Any:
    if text.startswith("hex:"):
        return bytes.fromhex(text[4:])
    try:
        return _decode_json(json.loads(text))
    except json.JSONDecodeError:
        return text


def _decode_json(v: Any) -> Any:
    if isinstance(v, str) and v.startswith("hex:"):
        return bytes.fromhex(v[4:])
    if isinstance(v, list):
        return [_decode_json(x) for x in v]
    if isinstance(v, dict):
        return {k: _decode_json(x) for k, x in v.items()}
    return v


def _json_default(v: Any) -> Any:
    if isinstance(v, bytes):
        return "hex:" + v.hex()
    raise TypeError(type(v).__name__)


def _tl_encode(args: argparse.Namespace) -> int:
    from loopgram.tl.names import from_dict

    fields: dict[str, Any] = {"_": args.name}
    for item in args.fields:
        key, eq, value = item.partition("=")
        if not eq:
            raise LoopgramError(f"expected field=value, got {item!r}")
        fields[key] = _parse_value(value)
    obj = from_dict(fields)
    print(bytes(obj).hex())
    if args.verbose:
        print(repr(obj), file=sys.stderr)
    return 0


def _tl_decode(args: argparse.Namespace) -> int:
    import loopgram.tl as tl

    obj = tl.read(bytes.fromhex("".join(args.hex)))
    plain = obj.to_dict() if isinstance(obj, tl.TLObject) else obj
    print(json.dumps(plain, indent=2, ensure_ascii=False, default=_json_default))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loopgram",
        description="Telegram's bot callback-answer system on one machine.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    tl_parser = sub.add_parser("tl", help="serialise and parse TL objects (layer 229)")
    tl_sub = tl_parser.add_subparsers(dest="tl_command", required=True)
    enc = tl_sub.add_parser("encode", help="serialise a constructor or function to hex")
    enc.add_argument("name", help="TL name, e.g. messages.setBotCallbackAnswer")
    enc.add_argument("fields", nargs="*", help="field=value (JSON, or a plain string)")
    enc.add_argument("-v", "--verbose", action="store_true", help="also print the object")
    enc.set_defaults(func=_tl_encode)
    dec = tl_sub.add_parser("decode", help="parse hex bytes and print the object as JSON")
    dec.add_argument("hex", nargs="+")
    dec.set_defaults(func=_tl_decode)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (LoopgramError, ValueError) as e:
        print(f"loopgram: {e}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
