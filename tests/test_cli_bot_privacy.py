"""``loopgram bot privacy NAME [on|off]``: a bot's privacy mode in groups, from the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopgram.cli import main
from loopgram.storage import open_storage


def test_bot_privacy_is_switched_and_printed_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data", str(tmp_path)]
    assert main(["bot", "create", "group_bot", *data]) == 0
    capsys.readouterr()
    assert main(["bot", "privacy", "group_bot", *data]) == 0
    assert capsys.readouterr().out == "@group_bot: privacy on\n"
    assert main(["bot", "privacy", "@group_bot", "off", *data]) == 0
    assert capsys.readouterr().out == "@group_bot: privacy off\n"
    with open_storage(tmp_path) as storage:
        bot = storage.accounts.get_by_username("group_bot")
        assert bot is not None and storage.chats.bot_privacy(bot.id) is False
    assert main(["bot", "privacy", "group_bot", "on", *data]) == 0
    assert capsys.readouterr().out == "@group_bot: privacy on\n"
    assert main(["bot", "privacy", "nobody_bot", "off", *data]) == 2
    assert "no bot named 'nobody_bot'" in capsys.readouterr().err
