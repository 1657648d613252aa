"""Loading the bot named by `bot:` in config.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmbot.config.settings import settings_from_mapping
from dmbot.engine.script import bot_from_settings, load_bot
from dmbot.errors import BotLoadError

REPO = Path(__file__).resolve().parents[1]


def test_script_path_is_found_beside_the_config_or_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("twitter:\n  consumer_secret: s\nbot: bots/echo.py\n")
    monkeypatch.chdir(REPO)
    from dmbot.config.settings import load_settings

    bot = bot_from_settings(load_settings(config))
    assert bot is not None and bot.name == "echo"


def test_module_attribute_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mybots.py").write_text("from dmbot import Bot\nsupport = Bot('support')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_bot("mybots:support").name == "support"


def test_missing_script_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(BotLoadError, match="does not exist"):
        load_bot(str(tmp_path / "nope.py"))


def test_script_without_a_bot(tmp_path: Path) -> None:
    script = tmp_path / "empty.py"
    script.write_text("x = 1\n")
    with pytest.raises(BotLoadError, match="no Bot named 'bot'"):
        load_bot(str(script))


def test_script_that_raises_names_file_and_line(tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text("from dmbot import Bot\n\nbot = Bot()\n1 / 0\n")
    with pytest.raises(BotLoadError, match=r"broken.py:4.*ZeroDivisionError"):
        load_bot(str(script))


def test_no_bot_configured() -> None:
    assert bot_from_settings(settings_from_mapping({"twitter": {"consumer_secret": "s"}})) is None
