"""The ``loopgram`` command line.

- ``loopgram serve [--config FILE] [--set KEY=VALUE ...] [--host H] [--port N] [--data DIR]``
  runs the server (port 20443 and ``./loopgram-data`` by default; ``--port 0`` picks a free
  port below 32768) and prints what a client needs: host, port, DC id, the login code, the
  RSA public key (PEM) and its fingerprint, and the API layers it serves. ``--config`` reads
  a TOML file that may set every knob (``loopgram.configfile``, ``docs/configuration.md``);
  flags given on the command line win over it. Ctrl-C or SIGTERM stop it cleanly.
- ``loopgram demo [-v]`` runs the whole callback-query story in one process
  (``loopgram.demo``).
- ``loopgram info [--data DIR] [--json]`` prints the same facts for a data directory a
  server has run with (JSON: ``host``, ``port``, ``public_key_pem``, ``fingerprint`` and
  ``layers: {min, max, shipped}``).
- ``loopgram bot create NAME`` prints the new bot's token, alone on stdout; ``bot list``
  lists the bots; ``bot token NAME`` prints a bot's token again, ``--revoke`` replaces it and
  logs the bot out everywhere (Bot API and MTProto sessions, also of a running server);
  ``bot privacy NAME [on|off]`` switches (or prints) the bot's privacy mode in groups.
  ``loopgram user create PHONE`` prints the new user's id; ``user list`` lists the users.
  All work while the server runs on the same directory (SQLite in WAL mode lets both
  processes write).
- ``loopgram reset --data DIR --yes [--keep-key]`` deletes the database of a data
  directory (accounts, messages, keys); ``--keep-key`` keeps the RSA key, so clients that
  trust it need no change.
- ``loopgram tl encode NAME field=value ...`` serialises any TL constructor or function;
  ``loopgram tl decode HEX`` parses bytes back. Values are JSON where they parse as JSON
  (numbers, true/false, nested ``{"_": ...}`` objects, lists), plain strings otherwise;
  ``bytes`` fields take ``hex:...``.

Every error a user can make (a port in use, a data directory that is a file, a host that
does not resolve, a value of the wrong type) is one line on stderr saying what to do, and
exit status 2. Heavy imports (server, storage) happen inside the commands that need them, so
``tl`` stays quick.
"""

from __future__ import annotations

import argparse
import errno
import json
import socket
import struct
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopgram import LoopgramError, __version__

if TYPE_CHECKING:
    from loopgram.configfile import Settings
    from loopgram.storage import Account, Storage


def _parse_value(text: str) -> Any:
    if text.startswith("hex:"):
        return _hex(text[4:])
    try:
        return _decode_json(json.loads(text))
    except json.JSONDecodeError:
        return text


def _hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise LoopgramError(f"{text!r} is not hex: write bytes as hex:00ff...") from None


def _decode_json(v: Any) -> Any:
    if isinstance(v, str) and v.startswith("hex:"):
        return _hex(v[4:])
    if isinstance(v, list):
        return [_decode_json(x) for x in v]
    if isinstance(v, dict):
        return {k: _decode_json(x) for k, x in v.items()}
    return v


def _json_default(v: Any) -> Any:
    if isinstance(v, bytes):
        return "hex:" + v.hex()
    raise TypeError(type(v).__name__)


_EXAMPLES = {
    "int": "a number, e.g. 42",
    "float": "a number, e.g. 1.5",
    "bool": "true or false",
    "str": "text",
    "bytes": "hex:00ff",
}


def _fits(annotation: str, value: Any) -> bool:
    """Whether ``value`` can be written as a field annotated ``annotation`` (its generated
    class's annotation, a string such as ``int``, ``str | None``, ``list[int]``)."""
    from loopgram.tl import TLObject

    kind = annotation.removesuffix(" | None")
    if kind.startswith("list["):
        return isinstance(value, list) and all(_fits(kind[5:-1], v) for v in value)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "bytes":
        return isinstance(value, bytes)
    return isinstance(value, TLObject | dict)


def _tl_encode(args: argparse.Namespace) -> int:
    from loopgram.tl.names import class_for, from_dict

    cls = class_for(args.name)
    annotations = {k: v for k, v in cls.__init__.__annotations__.items() if k != "return"}
    fields: dict[str, Any] = {"_": args.name}
    for item in args.fields:
        key, eq, value = item.partition("=")
        if not eq:
            raise LoopgramError(f"expected field=value, got {item!r}")
        parsed = _parse_value(value)
        annotation = annotations.get(key)
        if annotation is not None and not _fits(str(annotation), parsed):
            kind = str(annotation).removesuffix(" | None").rsplit(".", 1)[-1]
            example = _EXAMPLES.get(kind, 'an object, e.g. {"_": "inputPeerSelf"}')
            raise LoopgramError(
                f"{args.name}: field {key} is {kind}, not {value!r}: write {key}=<{example}>"
            )
        fields[key] = parsed
    obj = from_dict(fields)
    try:
        data = bytes(obj)
    except (struct.error, OverflowError) as e:
        if "not an integer" in str(e) or "must be" in str(e):
            raise LoopgramError(f"{args.name}: a nested value has the wrong type ({e})") from None
        raise LoopgramError(
            f"{args.name}: a number does not fit its TL type ({e}): int is 32-bit, long 64-bit"
        ) from None
    except (TypeError, AttributeError, ValueError) as e:
        raise LoopgramError(f"{args.name}: a nested value has the wrong type ({e})") from None
    print(data.hex())
    if args.verbose:
        print(repr(obj), file=sys.stderr)
    return 0


def _tl_decode(args: argparse.Namespace) -> int:
    import loopgram.tl as tl

    obj = tl.read(_hex("".join(args.hex)))
    plain = obj.to_dict() if isinstance(obj, tl.TLObject) else obj
    print(json.dumps(plain, indent=2, ensure_ascii=False, default=_json_default))
    return 0


# -- server commands ----------------------------------------------------------------------------

# The same values as loopgram.node's DEFAULT_*, repeated so that building the parser
# does not import the server (a test keeps them equal).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 20443
DEFAULT_DATA_DIR = "loopgram-data"
DEFAULT_BOT_API_PORT = 8081  # the official telegram-bot-api server's default


def _checked_data_dir(data: str) -> Path:
    path = Path(data).expanduser()
    if path.exists() and not path.is_dir():
        raise LoopgramError(
            f"--data {data} is a file, not a directory: give a directory "
            "(it is created if missing), e.g. --data ./loopgram-data"
        )
    return path


@contextmanager
def _storage(args: argparse.Namespace) -> Iterator[Storage]:
    from loopgram.storage import StorageError, open_storage

    if args.storage is None:
        with open_storage(_checked_data_dir(args.data)) as storage:
            yield storage
        return
    try:
        opened = open_storage(args.storage)
    except (StorageError, ValueError) as e:
        raise LoopgramError(f"cannot open storage {_redacted(args.storage)}: {e}") from None
    with opened as storage:
        yield storage


def _configure_logging(level_name: str) -> None:
    import logging

    level = getattr(logging, level_name.upper(), None)
    if not isinstance(level, int):
        raise LoopgramError(f"unknown log level {level_name!r}: use DEBUG, INFO or WARNING")
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


def _settings(args: argparse.Namespace) -> Settings:
    """Defaults, then the ``--config`` file, then ``--set``, then the flags given."""
    import dataclasses

    from loopgram.configfile import Settings, apply_setting, load_settings

    settings = Settings()
    if args.config is not None:
        settings = load_settings(args.config, settings)
    for assignment in args.set:
        settings = apply_setting(settings, assignment)
    flags = {
        name: getattr(args, name)
        for name in ("host", "port", "data", "storage", "bot_api_port")
        if getattr(args, name) is not None
    }
    server = settings.server
    if args.answer_timeout is not None:
        server = dataclasses.replace(server, callback_timeout=args.answer_timeout)
    if args.login_code is not None:
        server = dataclasses.replace(server, login_code=args.login_code)
    if args.no_flood_limits:
        server = dataclasses.replace(server, flood_enabled=False)
    try:
        return dataclasses.replace(settings, server=server, **flags)
    except ValueError as e:
        raise LoopgramError(str(e)) from None


def _start_failure(exc: OSError, settings: Settings) -> LoopgramError:
    """What to do about a server that could not listen."""
    where = f"{settings.host}:{settings.port}"
    if isinstance(exc, socket.gaierror):
        return LoopgramError(
            f"cannot resolve host {settings.host!r} ({exc.strerror}): give an IP address "
            "such as 127.0.0.1 or a name this machine resolves"
        )
    if exc.errno == errno.EADDRINUSE:
        if settings.port != 0 and not _port_free(settings.host, settings.port):
            return LoopgramError(
                f"port {settings.port} on {settings.host} is already in use (another loopgram "
                "serve?): stop that process, or pick another port with --port (0: any free one)"
            )
        if settings.port == 0 and "no free port" in str(exc):
            return LoopgramError("no free port found below 32768: give one with --port")
        return LoopgramError(
            f"the Bot API port {settings.bot_api_port} on {settings.host} is already in use: "
            "stop that process, or pick another with --bot-api-port (0: any free one)"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return LoopgramError(
            f"{settings.host} is not an address of this machine: use 127.0.0.1 or 0.0.0.0"
        )
    if exc.errno == errno.EACCES:
        return LoopgramError(
            f"not allowed to listen on {where} (ports below 1024 need privileges): "
            "use a port from 1024 up"
        )
    return LoopgramError(f"cannot listen on {where}: {exc.strerror or exc}")


def _port_free(host: str, port: int) -> bool:
    try:
        with socket.create_server((host, port)):
            return True
    except OSError:
        return False


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from loopgram.node import LOW_PORTS, LoopgramServer
    from loopgram.server.config import DC_ID

    settings = _settings(args)
    _configure_logging("DEBUG" if args.verbose else args.log_level)
    _checked_data_dir(settings.data)

    async def run() -> None:
        storage = None
        if settings.storage is not None:
            from loopgram.storage import StorageError, open_storage

            try:
                storage = open_storage(settings.storage)
            except (StorageError, ValueError) as e:
                where = _redacted(settings.storage)
                raise LoopgramError(f"cannot open storage {where}: {e}") from None
        try:
            await serve(storage)
        finally:
            if storage is not None:
                storage.close()

    async def serve(storage: Storage | None) -> None:
        server = LoopgramServer(
            None if storage is not None else settings.data,
            storage=storage,
            host=settings.host,
            # Port 0 would get one of the kernel's ephemeral ports (32768 and up), which
            # clients keeping the port in a signed 16-bit field cannot store.
            port=LOW_PORTS if settings.port == 0 else settings.port,
            advertised_host=settings.advertised_host,
            config=settings.server,
            limits=settings.limits,
            bot_api_port=settings.bot_api_port,
            redis_url=args.redis,
            redis_prefix=args.redis_prefix,
        )
        try:
            await server.start()
        except OSError as exc:
            raise _start_failure(exc, settings) from None
        loop = asyncio.get_running_loop()
        stopping: list[asyncio.Task[None]] = []

        def request_stop(name: str) -> None:
            if not stopping:
                print(f"loopgram: {name}, shutting down", file=sys.stderr, flush=True)
                stopping.append(loop.create_task(server.stop()))

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, request_stop, sig.name)
        try:
            where = settings.data if storage is None else _redacted(settings.storage or "")
            print(f"loopgram server listening, data in {where}")
            print(_describe_layers(), end="")
            print(f"dc id: {DC_ID}")
            print(f"login code: {settings.server.login_code}")
            print(server.facts.describe(), end="", flush=True)  # "bot api: <url>" included
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


def _redacted(url: str) -> str:
    """A storage URL without its password, for output."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _methods(args: argparse.Namespace) -> int:
    from loopgram.server.handlers.catalogue import render_markdown, render_text

    sys.stdout.write(render_markdown() if args.markdown else render_text())
    return 0


def _info(args: argparse.Namespace) -> int:
    from loopgram.node import ever_served, load_facts
    from loopgram.storage import DB_FILENAME

    never = LoopgramError(
        f"no loopgram server has run with data directory {args.data}: start one with "
        f"loopgram serve --data {args.data} (or give the right --data)"
    )
    if args.storage is not None:
        never = LoopgramError(
            f"no loopgram server has run with storage {_redacted(args.storage)}: start one "
            "with loopgram serve --storage URL"
        )
    # Opening the storage would create a database, and the key a new server identity.
    elif not (_checked_data_dir(args.data) / DB_FILENAME).is_file():
        raise never
    with _storage(args) as storage:
        if not ever_served(storage):
            raise never
        facts = load_facts(storage)
    if args.json:
        print(json.dumps({**facts.to_dict(), "layers": _layer_window()}, indent=2))
    else:
        print(_describe_layers() + facts.describe(), end="")
    return 0


_USERNAME_RULE = (
    "a bot's username is 5 to 32 letters, digits and underscores, starts with a letter, "
    "has no double or trailing underscore, and ends in 'bot' (e.g. example_bot)"
)


def _bot_create(args: argparse.Namespace) -> int:
    from loopgram.node import remember_bot_token
    from loopgram.server import RpcError, ServerCore

    with _storage(args) as storage:
        try:
            credentials = ServerCore(storage).create_bot(args.name, args.first_name)
        except RpcError as e:
            raise LoopgramError(_account_refusal(f"bot {args.name!r}", e)) from None
        remember_bot_token(storage, credentials.token)
    print(credentials.token)
    return 0


def _account_refusal(what: str, error: Exception) -> str:
    message = getattr(error, "message", str(error))
    reasons = {
        "USERNAME_INVALID": _USERNAME_RULE,
        "USERNAME_OCCUPIED": "an account already has this username: pick another",
        "PHONE_NUMBER_INVALID": "give 5 to 15 digits, e.g. +15550001",
        "PHONE_NUMBER_OCCUPIED": "a user already has this number (loopgram user list)",
        "FIRSTNAME_INVALID": "give a non-empty display name of at most 64 characters",
        "LASTNAME_INVALID": "give a last name of at most 64 characters",
    }
    reason = reasons.get(message)
    return f"cannot create {what}: {message}" + (f": {reason}" if reason else "")


def _find_bot(storage: Storage, name: str) -> Account:
    account = storage.accounts.get_by_username(name.removeprefix("@"))
    if account is None or not account.is_bot:
        raise LoopgramError(f"no bot named {name!r} in this data directory (loopgram bot list)")
    return account


def _bot_list(args: argparse.Namespace) -> int:
    with _storage(args) as storage:
        bots = storage.accounts.list_all(is_bot=True)
    for bot in bots:
        print(f"{bot.id}\t@{bot.username}\t{bot.first_name}")
    if not bots:
        print("no bots yet: loopgram bot create NAME", file=sys.stderr)
    return 0


def _bot_token(args: argparse.Namespace) -> int:
    from loopgram.node import recall_bot_token, remember_bot_token
    from loopgram.server import ServerCore

    with _storage(args) as storage:
        bot = _find_bot(storage, args.name)
        if args.revoke:
            token = ServerCore(storage).services.accounts.reset_bot_token(bot)
            remember_bot_token(storage, token)
        else:
            found = recall_bot_token(storage, bot.id)
            if found is None:
                raise LoopgramError(
                    f"the token of @{bot.username} was not kept (it was made before tokens "
                    f"were kept): make a new one with loopgram bot token {args.name} --revoke"
                )
            token = found
    print(token)
    return 0


def _bot_privacy(args: argparse.Namespace) -> int:
    with _storage(args) as storage:
        bot = _find_bot(storage, args.name)
        if args.mode is not None:
            storage.chats.set_bot_privacy(bot.id, args.mode == "on")
        enabled = storage.chats.bot_privacy(bot.id)
    print(f"@{bot.username}: privacy {'on' if enabled else 'off'}")
    return 0


def _user_create(args: argparse.Namespace) -> int:
    from loopgram.server import RpcError, ServerCore

    with _storage(args) as storage:
        core = ServerCore(storage)
        try:
            account = core.create_user(args.phone, args.first_name, args.last_name)
        except RpcError as e:
            raise LoopgramError(_account_refusal(f"user {args.phone!r}", e)) from None
        code = core.config.login_code
    print(account.id)
    print(f"user {account.id} (+{account.phone}) signs in with code {code}", file=sys.stderr)
    return 0


def _user_list(args: argparse.Namespace) -> int:
    with _storage(args) as storage:
        users = storage.accounts.list_all(is_bot=False)
    for user in users:
        name = " ".join(filter(None, (user.first_name, user.last_name)))
        username = f"@{user.username}" if user.username else "-"
        print(f"{user.id}\t+{user.phone}\t{username}\t{name}")
    if not users:
        print("no users yet: they appear when they sign in, or with loopgram user create")
    return 0


def _server_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _reset(args: argparse.Namespace) -> int:
    from loopgram.node import LAST_HOST, LAST_PORT
    from loopgram.storage import DB_FILENAME, RSA_PRIVATE_KEY_PEM, open_storage

    path = _checked_data_dir(args.data)
    files = [path / (DB_FILENAME + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    present = [f for f in files if f.exists()]
    if not present:
        print(f"nothing to reset: {args.data} holds no loopgram database")
        return 0
    with open_storage(path) as storage:
        key = storage.settings.get(RSA_PRIVATE_KEY_PEM)
        host, port = storage.settings.get(LAST_HOST), storage.settings.get(LAST_PORT)
    if host and port and _server_answers(host.decode(), int(port.decode())):
        raise LoopgramError(
            f"a server is listening on {host.decode()}:{port.decode()}, where the server of "
            f"{args.data} last ran: stop it first (Ctrl-C, or kill its process)"
        )
    if not args.yes:
        kept = " except the RSA key" if args.keep_key else ""
        raise LoopgramError(
            f"this deletes every account, message and key{kept} in {args.data}: "
            "run again with --yes to do it"
        )
    for f in present:
        f.unlink(missing_ok=True)
    if args.keep_key and key is not None:
        with open_storage(path) as storage:
            storage.settings.set(RSA_PRIVATE_KEY_PEM, key)
    print(f"reset {args.data}" + (" (RSA key kept)" if args.keep_key and key else ""))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from loopgram.demo import main as demo_main

    return demo_main(["--verbose"] if args.verbose else [])


def _add_data_option(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument(
        "--data",
        default=default,
        metavar="DIR",
        help=f"data directory (SQLite database, RSA key); default ./{DEFAULT_DATA_DIR}",
    )


def _add_storage_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="postgresql://user:password@host/db[?schema=NAME]: state in PostgreSQL, shared "
        "by every process given the same URL (default: SQLite in the data directory)",
    )


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be more than 0 seconds")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port (0 to 65535)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loopgram",
        description="Telegram's bot callback-answer system on one machine.",
    )
    parser.add_argument("--version", action="version", version=f"loopgram {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument(
        "--config", metavar="FILE", default=None, help="TOML file setting any knob (see docs)"
    )
    serve.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="set one knob, as in the config file (e.g. server.login_code=24680); repeatable",
    )
    serve.add_argument("--host", default=None, help=f"default {DEFAULT_HOST}")
    serve.add_argument(
        "--port",
        type=_port,
        default=None,
        help=f"default {DEFAULT_PORT}; 0 picks a free port below 32768",
    )
    _add_data_option(serve, None)
    _add_storage_option(serve)
    serve.add_argument(
        "--bot-api-port",
        type=_port,
        default=None,
        help=f"the Bot API over HTTP (default {DEFAULT_BOT_API_PORT}; 0 picks a free port)",
    )
    serve.add_argument(
        "--redis",
        metavar="URL",
        default=None,
        help="several processes: share pending calls and updates through Redis (redis://...)",
    )
    serve.add_argument(
        "--redis-prefix",
        metavar="PREFIX",
        default="loopgram:",
        help="the Redis keys and channels of this installation (default loopgram:)",
    )
    serve.add_argument(
        "--answer-timeout",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help="how long a bot has to answer a callback query (default 15)",
    )
    serve.add_argument(
        "--login-code", default=None, help="the code every phone number signs in with (12345)"
    )
    serve.add_argument(
        "--no-flood-limits",
        action="store_true",
        help="never answer FLOOD_WAIT (see docs/configuration.md for each limit)",
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
    _add_storage_option(info)
    info.add_argument("--json", action="store_true", help="as JSON")
    info.set_defaults(func=_info)

    methods = sub.add_parser("methods", help="list the API methods loopgram serves")
    methods.add_argument(
        "--markdown", action="store_true", help="as docs/methods.md (generated from the handlers)"
    )
    methods.set_defaults(func=_methods)

    bot = sub.add_parser("bot", help="manage bot accounts")
    bot_sub = bot.add_subparsers(dest="bot_command", required=True)
    bot_create = bot_sub.add_parser("create", help="create a bot and print its token")
    bot_create.add_argument("name", help="the bot's username, ending in 'bot'")
    bot_create.add_argument("--first-name", default=None, help="display name (default NAME)")
    _add_data_option(bot_create, DEFAULT_DATA_DIR)
    _add_storage_option(bot_create)
    bot_create.set_defaults(func=_bot_create)
    bot_list = bot_sub.add_parser("list", help="list the bots: id, @username, name")
    _add_data_option(bot_list, DEFAULT_DATA_DIR)
    _add_storage_option(bot_list)
    bot_list.set_defaults(func=_bot_list)
    bot_token = bot_sub.add_parser("token", help="print a bot's token again")
    bot_token.add_argument("name", help="the bot's username")
    bot_token.add_argument(
        "--revoke",
        action="store_true",
        help="make a new token; the old one stops working and the bot is logged out",
    )
    _add_data_option(bot_token, DEFAULT_DATA_DIR)
    _add_storage_option(bot_token)
    bot_token.set_defaults(func=_bot_token)
    bot_privacy = bot_sub.add_parser(
        "privacy", help="a bot's privacy mode in groups (as BotFather's /setprivacy)"
    )
    bot_privacy.add_argument("name", help="the bot's username")
    bot_privacy.add_argument(
        "mode",
        nargs="?",
        choices=("on", "off"),
        help="on: only commands and mentions; off: every message (default: print the mode)",
    )
    _add_data_option(bot_privacy, DEFAULT_DATA_DIR)
    _add_storage_option(bot_privacy)
    bot_privacy.set_defaults(func=_bot_privacy)

    user = sub.add_parser("user", help="manage user accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    user_create = user_sub.add_parser("create", help="create a user and print its id")
    user_create.add_argument("phone", help="any phone number, e.g. +15550001")
    user_create.add_argument("--first-name", default=None)
    user_create.add_argument("--last-name", default=None)
    _add_data_option(user_create, DEFAULT_DATA_DIR)
    _add_storage_option(user_create)
    user_create.set_defaults(func=_user_create)
    user_list = user_sub.add_parser("list", help="list the users: id, phone, @username, name")
    _add_data_option(user_list, DEFAULT_DATA_DIR)
    _add_storage_option(user_list)
    user_list.set_defaults(func=_user_list)

    reset = sub.add_parser(
        "reset", help="delete a data directory's accounts, messages and keys (stop the server)"
    )
    _add_data_option(reset, DEFAULT_DATA_DIR)
    reset.add_argument("--yes", action="store_true", help="really delete")
    reset.add_argument(
        "--keep-key", action="store_true", help="keep the RSA key (clients that trust it go on)"
    )
    reset.set_defaults(func=_reset)

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
    except OSError as e:
        # Files: a directory not writable, a disk full... the system's words and the path.
        where = f" ({e.filename})" if e.filename else ""
        print(f"loopgram: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
