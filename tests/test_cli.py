"""The dmbot command: exit codes, one-line errors, `dmbot check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmbot.cli.main import build_parser, main

REPO = Path(__file__).resolve().parents[1]
BROKEN = REPO / "tests" / "flows" / "broken.yaml"


def test_check_passes_on_the_shipped_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "bots/pizza.py: ok (flows: order)" in out


def test_check_reports_every_flow_problem_with_file_and_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    assert main(["check", str(BROKEN)]) == 1
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "broken.yaml:" in line]
    assert len(lines) >= 25
    for fragment in [
        "broken.yaml:11: flow order, step size: unknown key 'optons'",
        "names no step or ending",
        "no path from the first step",
        "over X's limit of 36",
        "at most 20",
        "metadata",
    ]:
        assert any(fragment in line for line in lines), fragment


def test_check_reports_a_bot_script_that_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "bad.py"
    script.write_text("from dmbot import Bot\nbot = Bot()\nraise ValueError('oops')\n")
    config = tmp_path / "config.yaml"
    config.write_text(f"twitter:\n  consumer_secret: s\nbot: {script}\n")
    assert main(["check", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert f"{script}:3" in out and "ValueError: oops" in out


def test_bad_config_is_one_line_naming_key_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("twitter:\n  consumer_secret: s\nserver:\n  prot: 8000\n")
    assert main(["check", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "config.yaml:4" in err and "server.prot" in err and "server.port" in err
    assert "Traceback" not in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["no-such-command"])
    assert raised.value.code == 2


def test_config_before_the_subcommand_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "elsewhere.yaml"
    config.write_text("twitter:\n  consumer_secret: s\n")
    assert main(["--config", str(config), "check"]) == 0
    assert "elsewhere.yaml: ok" in capsys.readouterr().out


def test_a_bare_dmbot_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    for command in ("serve", "dev", "check", "emulator", "webhooks", "subscriptions", "doctor"):
        assert f"\n    {command} " in out, command


EVERY_COMMAND = [
    ["serve"],
    ["check"],
    ["dev"],
    ["emulator"],
    ["webhooks", "register"],
    ["webhooks", "list"],
    ["webhooks", "crc"],
    ["webhooks", "delete", "77"],
    ["subscriptions", "add"],
    ["subscriptions", "list"],
    ["subscriptions", "remove", "42"],
    ["subscriptions", "count"],
    ["accounts", "authorize"],
    ["send", "42", "hi"],
    ["doctor"],
    ["replay", "--from", "2h"],
]


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=" ".join)
def test_every_command_takes_config_and_debug_before_or_after_its_name(
    command: list[str],
) -> None:
    for argv in (
        ["--config", "c.yaml", "--debug", *command],
        [*command, "--config", "c.yaml", "--debug"],
        [command[0], "--config", "c.yaml", "--debug", *command[1:]],
    ):
        args = build_parser().parse_args(argv)
        assert (args.config, args.debug, callable(args.func)) == ("c.yaml", True, True), argv
    args = build_parser().parse_args(command)
    assert (args.config, args.debug) == ("config.yaml", False)


def test_check_warns_about_placeholders_sent_to_x(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "twitter:\n"
        "  consumer_key: dev-consumer-key\n"
        "  consumer_secret: your-secret-here\n"
        "  access_token: 1234-real-looking-token\n"
        "  access_token_secret: Zk3hQ9mPq\n"
        "webhook:\n  url: https://bot.example.com/webhooks/twitter\n"
    )
    assert main(["check", "--config", str(config)]) == 0  # warnings, not problems
    out = capsys.readouterr().out
    [keys] = [line for line in out.splitlines() if "placeholders" in line]
    assert keys.startswith("warning: twitter.consumer_key, twitter.consumer_secret look like")
    assert "twitter.access_token" not in keys and "points at X (https://api.twitter.com)" in keys
    assert "your-secret-here" not in out  # secrets are never quoted
    assert "warning: webhook.url https://bot.example.com/webhooks/twitter is an example" in out

    # The same dev keys against the emulator are what they are for: no warning.
    text = config.read_text().replace("webhook:", "  api_url: http://127.0.0.1:8081\nwebhook:")
    config.write_text(text.replace("bot.example.com", "bot.mydomain.net"))
    assert main(["check", "--config", str(config)]) == 0
    assert "warning" not in capsys.readouterr().out


def test_the_shipped_config_copied_as_is_says_what_to_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    for name in ("TWITTER_CONSUMER_KEY", "TWITTER_CONSUMER_SECRET", "TWITTER_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("WEBHOOK_URL", raising=False)
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "look like placeholders" in out and "is an example address" in out
