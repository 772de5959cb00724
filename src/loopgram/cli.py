"""The ``loopgram`` command line.

- ``loopgram serve [--host H] [--port N] [--data DIR]`` runs the server (port 20443 and
  ``./loopgram-data`` by default) and prints what a client needs: host, port, the RSA public
  key (PEM) and its fingerprint, and the API layers it serves. Ctrl-C or SIGTERM stop it
  cleanly.
- ``loopgram demo [-v]`` runs the whole callback-query story in one process
  (``loopgram.demo``).
- ``loopgram info [--data DIR] [--json]`` prints the same facts for a data directory (JSON:
  ``host``, ``port``, ``public_key_pem``, ``fingerprint`` and
  ``layers: {min, max, shipped}``).
- ``loopgram bot create NAME [--data DIR]`` prints the new bot's token, alone on stdout;
  ``loopgram user create PHONE [--data DIR]`` the new user's id. Both work while the server
  runs on the same directory (SQLite in WAL mode lets both processes write).
- ``loopgram tl encode NAME field=value ...`` serialises any TL constructor or function;
  ``loopgram tl decode HEX`` parses bytes back. Values are JSON where they parse as JSON
  (numbers, true/false, nested ``{"_": ...}`` objects, lists), plain strings otherwise;
  ``bytes`` fields take ``hex:...``.

Heavy imports (server, storage) happen inside the commands that need them, so ``tl`` stays
quick.
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


# -- server commands ----------------------------------------------------------------------------

# The same values as loopgram.server.app's DEFAULT_*, repeated so that building the parser
# does not import the server (a test keeps them equal).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 20443
DEFAULT_DATA_DIR = "loopgram-data"


def _data_dir(args: argparse.Namespace) -> str:
    return str(args.data)


def _configure_logging(level_name: str) -> None:
    import logging

    level = getattr(logging, level_name.upper(), None)
    if not isinstance(level, int):
        raise LoopgramError(f"unknown log level {level_name!r}")
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if level > logging.DEBUG:
        # Libraries' chatter (asyncio's slow-callback notes...) stays out of INFO output.
        logging.getLogger("asyncio").setLevel(logging.WARNING)


def _layer_window() -> dict[str, Any]:
    """The API layers the server serves: announced layers ``min``..``max``, each spoken as the
    nearest ``shipped`` one at or below it."""
    from loopgram.tl import layers

    return {"min": layers.OLDEST, "max": layers.NEWEST, "shipped": list(layers.SUPPORTED)}


def _describe_layers() -> str:
    window = _layer_window()
    shipped = ", ".join(map(str, window["shipped"]))
    return f"layers: {window['min']} to {window['max']} (shipped: {shipped})\n"


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from loopgram.server.app import LoopgramServer

    _configure_logging("DEBUG" if args.verbose else args.log_level)
    if not 0 <= args.port <= 65535:
        raise LoopgramError(f"port {args.port} is out of range")

    async def run() -> None:
        server = LoopgramServer(
            args.data,
            host=args.host,
            port=args.port,
            answer_timeout=args.answer_timeout,
        )
        await server.start()
        loop = asyncio.get_running_loop()
        stopping: list[asyncio.Task[None]] = []

        def request_stop(name: str) -> None:
            if not stopping:
                print(f"loopgram: {name}, shutting down", file=sys.stderr, flush=True)
                stopping.append(loop.create_task(server.stop()))

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, request_stop, sig.name)
        try:
            print(f"loopgram server listening, data in {args.data}")
            print(_describe_layers(), end="")
            print(server.facts.describe(), end="", flush=True)
            await server.serve_forever()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            if not stopping:
                await server.stop()
            else:
                await stopping[0]

    asyncio.run(run())
    return 0


def _info(args: argparse.Namespace) -> int:
    from loopgram.server.app import load_facts
    from loopgram.storage import open_storage

    with open_storage(_data_dir(args)) as storage:
        facts = load_facts(storage)
    if args.json:
        print(json.dumps({**facts.to_dict(), "layers": _layer_window()}, indent=2))
    else:
        print(_describe_layers() + facts.describe(), end="")
    return 0


def _bot_create(args: argparse.Namespace) -> int:
    from loopgram.server import RpcError, ServerCore
    from loopgram.storage import open_storage

    with open_storage(_data_dir(args)) as storage:
        try:
            credentials = ServerCore(storage).create_bot(args.name, args.first_name)
        except RpcError as e:
            raise LoopgramError(f"cannot create bot {args.name!r}: {e.message}") from None
    print(credentials.token)
    return 0


def _user_create(args: argparse.Namespace) -> int:
    from loopgram.server import RpcError, ServerCore
    from loopgram.storage import open_storage

    with open_storage(_data_dir(args)) as storage:
        core = ServerCore(storage)
        try:
            account = core.create_user(args.phone, args.first_name, args.last_name)
        except RpcError as e:
            raise LoopgramError(f"cannot create user {args.phone!r}: {e.message}") from None
        code = core.config.login_code
    print(account.id)
    print(f"user {account.id} (+{account.phone}) signs in with code {code}", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from loopgram.demo import main as demo_main

    return demo_main(["--verbose"] if args.verbose else [])


def _add_data_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--data",
        default=default,
        metavar="DIR",
        help=f"data directory (SQLite database, RSA key); default ./{default}",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loopgram",
        description="Telegram's bot callback-answer system on one machine.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"default {DEFAULT_HOST}")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    _add_data_option(serve, DEFAULT_DATA_DIR)
    serve.add_argument(
        "--answer-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long a bot has to answer a callback query (default 15)",
    )
    serve.add_argument(
        "--log-level",
        default="INFO",
        help="INFO logs connections, logins and every RPC; WARNING only problems (default INFO)",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="same as --log-level DEBUG")
    serve.set_defaults(func=_serve)

    demo = sub.add_parser("demo", help="run the callback-query story against an embedded server")
    demo.add_argument("-v", "--verbose", action="store_true", help="log the server and clients")
    demo.set_defaults(func=_demo)

    info = sub.add_parser(
        "info", help="print host, port, public key, fingerprint and the API layers served"
    )
    _add_data_option(info, DEFAULT_DATA_DIR)
    info.add_argument("--json", action="store_true", help="as JSON")
    info.set_defaults(func=_info)

    bot = sub.add_parser("bot", help="manage bot accounts")
    bot_sub = bot.add_subparsers(dest="bot_command", required=True)
    bot_create = bot_sub.add_parser("create", help="create a bot and print its token")
    bot_create.add_argument("name", help="the bot's username, ending in 'bot'")
    bot_create.add_argument("--first-name", default=None, help="display name (default NAME)")
    _add_data_option(bot_create, DEFAULT_DATA_DIR)
    bot_create.set_defaults(func=_bot_create)

    user = sub.add_parser("user", help="manage user accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    user_create = user_sub.add_parser("create", help="create a user and print its id")
    user_create.add_argument("phone", help="any phone number, e.g. +15550001")
    user_create.add_argument("--first-name", default=None)
    user_create.add_argument("--last-name", default=None)
    _add_data_option(user_create, DEFAULT_DATA_DIR)
    user_create.set_defaults(func=_user_create)

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
