"""Configuration files (``loopgram serve --config``): every field of ``ServerConfig``,
``Limits`` and the command's own settings can be set, with its type checked; unknown keys
and wrong types are one-line errors; docs/configuration.md lists exactly these fields."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from loopgram.configfile import ConfigError, Settings, apply_setting, load_settings
from loopgram.configfile import reference_table as table
from loopgram.net import Limits
from loopgram.server.config import Rate, ServerConfig

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"

FULL = """
host = "0.0.0.0"
port = 0
data = "elsewhere"
advertised_host = "10.0.0.5"
bot_api_port = 0

[server]
login_code = "24680"
callback_timeout = 5
min_layer = 198
flood_enabled = true
flood_default = "50/s burst 200"
bot_chat_rate = "off"
bot_group_rate = {per_second = 0.5, burst = 3}

[server.flood_limits]
"messages.sendMessage" = "30/s"
"messages.setTyping" = "off"

[limits]
max_per_address = 8
idle_timeout = 60.5
fd_reserve = 16
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "loopgram.toml"
    path.write_text(text)
    return path


def test_a_file_sets_knobs_of_every_section_and_type(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, FULL))
    assert (settings.host, settings.port, settings.data) == ("0.0.0.0", 0, "elsewhere")
    assert (settings.advertised_host, settings.bot_api_port) == ("10.0.0.5", 0)
    server = settings.server
    assert server.login_code == "24680"
    assert server.callback_timeout == 5.0 and isinstance(server.callback_timeout, float)
    assert server.min_layer == 198
    assert server.flood_default == Rate(per_second=50.0, burst=200)
    assert server.bot_chat_rate is None
    assert server.bot_group_rate == Rate(per_second=0.5, burst=3)
    assert dict(server.flood_limits) == {
        "messages.sendMessage": Rate(per_second=30.0, burst=30),
        "messages.setTyping": None,
    }
    assert server.rate_for("messages.setTyping") is None
    # What the file does not name keeps its default.
    assert server.message_length_max == ServerConfig().message_length_max
    assert settings.limits == Limits(max_per_address=8, idle_timeout=60.5, fd_reserve=16)


def test_every_field_can_be_set(tmp_path: Path) -> None:
    """Each field, set to a value of its type that differs from the default, round-trips:
    a new field is configurable the day it is added (or this test names it)."""
    for section, cls in (("server", ServerConfig), ("limits", Limits)):
        for f in dataclasses.fields(cls):
            default = getattr(cls(), f.name)
            if isinstance(default, bool):
                text, expected = str(not default).lower(), not default
            elif isinstance(default, int):
                text, expected = str(default + 1), default + 1
            elif isinstance(default, float):
                text, expected = str(default + 1.5), default + 1.5
            elif isinstance(default, str):
                text, expected = '"x9"', "x9"
            elif isinstance(default, Rate) or default is None:
                text, expected = '"7/s burst 9"', Rate(7.0, 9)
                if f.name == "max_per_address":
                    text, expected = "5", 5
            else:
                text, expected = '{"help.getConfig" = "2/s"}', {"help.getConfig": Rate(2.0, 2)}
            settings = apply_setting(Settings(), f"{section}.{f.name}={text}")
            assert getattr(getattr(settings, section), f.name) == expected, f.name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 1", "unknown key 'colour'"),
        ("[server]\nlogin_cod = '1'", "unknown key 'server.login_cod'"),
        ("[limits]\nmax_conections = 1", "unknown key 'limits.max_conections'"),
        ("[server]\ncallback_timeout = 'soon'", "server.callback_timeout must be a number"),
        ("[server]\nlogin_code = 12345", "server.login_code must be a string"),
        ("[server]\nflood_enabled = 1", "server.flood_enabled must be true or false"),
        ("[limits]\nmax_connections = 1.5", "limits.max_connections must be a whole number"),
        ("[server]\nbot_chat_rate = 'fast'", "server.bot_chat_rate: 'fast' is not a rate"),
        ("[server.flood_limits]\n'messages.sendMessage' = 3", "must be a rate such as"),
        ("server = 3", "server must be a table"),
        ("port = 70000", "port 70000 is not a port"),
        ("[limits]\nmax_connections = 0", "connection limits must be at least 1"),
        ("port = ", "not valid TOML"),
    ],
)
def test_unknown_keys_and_wrong_types_are_one_line_errors(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as failed:
        load_settings(path)
    assert message in str(failed.value)
    assert str(failed.value).startswith(f"{path}: ")
    assert "\n" not in str(failed.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "nope.toml")


def test_set_takes_toml_values_or_bare_strings() -> None:
    settings = apply_setting(Settings(), "server.login_code=24680")
    assert settings.server.login_code == "24680"  # a bare word: a string
    settings = apply_setting(settings, "server.bot_chat_rate=5/s")
    assert settings.server.bot_chat_rate == Rate(5.0, 5)
    settings = apply_setting(settings, "port=0")
    assert settings.port == 0 and settings.server.login_code == "24680"
    with pytest.raises(ConfigError, match="write KEY=VALUE"):
        apply_setting(settings, "server.login_code")


def test_the_documentation_lists_every_key_as_the_dataclasses_define_them() -> None:
    text = DOC.read_text()
    assert text.endswith(table()), (
        "docs/configuration.md is out of date: "
        "python -m loopgram.configfile --update docs/configuration.md"
    )
    for prefix, cls in (("server.", ServerConfig), ("limits.", Limits)):
        for f in dataclasses.fields(cls):
            assert f"| `{prefix}{f.name}` |" in text


def test_the_command_lines_defaults_are_the_files_defaults() -> None:
    from loopgram import cli

    defaults = Settings()
    assert (defaults.host, defaults.port, defaults.data, defaults.bot_api_port) == (
        cli.DEFAULT_HOST,
        cli.DEFAULT_PORT,
        cli.DEFAULT_DATA_DIR,
        cli.DEFAULT_BOT_API_PORT,
    )
