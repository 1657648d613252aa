from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from textwrap import dedent

import pytest
import yaml

from dmbot.config import reader
from dmbot.config.settings import (
    AccountSettings,
    Settings,
    load_settings,
    parse_duration,
    settings_from_mapping,
    webhook_url_problem,
)
from dmbot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cr3t-Value-42"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory, so messages read "config.yaml:N: ..."."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load(text: str, env: dict[str, str] | None = None) -> Settings:
    Path("config.yaml").write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return load_settings("config.yaml", env=env or {})


def error(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(text, env)
    return str(info.value)


# ---- the example config.yaml ----


def test_example_config_loads_with_an_empty_environment() -> None:
    settings = load_settings(ROOT / "config.yaml", env={})

    assert settings.twitter.consumer_secret == "dev-consumer-secret"
    assert settings.twitter.api_url == "https://api.twitter.com"
    assert settings.twitter.user_id == "1000000000001"
    assert settings.account_ids == {"1000000000001"}
    assert settings.webhook.path == "/webhooks/twitter"
    assert webhook_url_problem(settings.webhook.url) is None
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8000)
    assert settings.bot_path == ROOT / "bots" / "pizza.py"
    assert settings.store == "sqlite:///dmbot.db"
    assert settings.engine.handoff == 1800
    assert settings.engine.claim_ttl == 7 * 86400
    assert settings.engine.reorder_window == pytest.approx(0.02)
    assert (settings.engine.max_queued, settings.engine.poll_interval) == (4096, 1.0)
    assert settings.sender.backoff_max == 300


def test_example_config_reads_secrets_and_overrides_from_the_environment() -> None:
    env = {
        "TWITTER_CONSUMER_SECRET": "real-secret",
        "TWITTER_ACCESS_TOKEN": "42-abc",
        "TWITTER_API_URL": "http://127.0.0.1:9999/",
        "DMBOT_PORT": "9001",
    }
    settings = load_settings(ROOT / "config.yaml", env=env)

    assert settings.twitter.consumer_secret == "real-secret"
    assert settings.twitter.api_url == "http://127.0.0.1:9999"
    assert settings.account_ids == {"42"}
    assert settings.server.port == 9001


def test_example_config_sets_and_comments_every_key() -> None:
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    assert isinstance(root, yaml.MappingNode)
    present: set[str] = set()
    for key, value in root.value:
        names = [(key, key.value)]
        if isinstance(value, yaml.MappingNode):
            names += [(k, f"{key.value}.{k.value}") for k, _ in value.value]
        for node, name in names:
            present.add(name)
            row = node.start_mark.line
            assert lines[row - 1].strip().startswith("#") or "#" in lines[row], name

    expected = {"accounts"}  # shown commented out, as an example
    for f in dataclasses.fields(Settings):
        if f.name in ("source", "accounts"):
            continue
        expected.add(f.name)
        if "section" in f.metadata:
            expected |= {f"{f.name}.{g.name}" for g in dataclasses.fields(f.metadata["section"])}
    assert expected - present == {"accounts"}
    assert "#   - user_id:" in text


# ---- finding the file ----


def test_default_path_is_config_yaml_in_the_current_directory(in_tmp: Path) -> None:
    (in_tmp / "config.yaml").write_text("twitter:\n  consumer_secret: s\n", encoding="utf-8")

    assert load_settings(env={}).source == "config.yaml"


def test_missing_file_says_where_it_looked_and_what_to_do(in_tmp: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={})

    assert str(info.value) == (
        f"config file config.yaml not found in {in_tmp}; "
        "copy the example from the README or pass --config PATH"
    )


def test_bot_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "bot.yaml"
    path.write_text("twitter: {consumer_secret: s}\nbot: bots/echo.py\n", encoding="utf-8")

    settings = load_settings(path, env={})

    assert settings.bot == "bots/echo.py"
    assert settings.bot_path == tmp_path / "conf" / "bots" / "echo.py"
    assert dataclasses.replace(settings, bot="app.bots:bot").bot_path is None


# ---- interpolation ----


def test_interpolation_uses_the_environment_then_the_default(in_tmp: Path) -> None:
    text = """
        twitter:
          consumer_secret: ${SECRET:-fallback}
          env_name: ${ENV_NAME:-dev}
        store: redis://${REDIS_HOST:-localhost}:${REDIS_PORT:-6379}/0
        redis:
          prefix: price$$-${EMPTY:-x}
        """
    settings = load(text, env={"SECRET": "from-env", "REDIS_HOST": "cache.internal", "EMPTY": ""})

    assert settings.twitter.consumer_secret == "from-env"
    assert settings.twitter.env_name == "dev"
    assert settings.store == "redis://cache.internal:6379/0"
    assert settings.redis.prefix == "price$-x"


def test_missing_variable_names_it_with_key_line_and_fix(in_tmp: Path) -> None:
    text = """
        server:
          port: 8000
        twitter:
          consumer_key: ${TWITTER_CONSUMER_KEY:-k}
          consumer_secret: ${TWITTER_CONSUMER_SECRET}
        """
    assert error(text) == (
        "config.yaml:5: twitter.consumer_secret uses ${TWITTER_CONSUMER_SECRET}, which is not "
        "set; set TWITTER_CONSUMER_SECRET in the environment or write "
        "${TWITTER_CONSUMER_SECRET:-value}"
    )


def test_malformed_reference_is_an_error(in_tmp: Path) -> None:
    message = error("twitter:\n  consumer_secret: s\n  env_name: ${ENV\n")

    assert message.startswith("config.yaml:3: twitter.env_name has a malformed ${...}")


# ---- types ----


def test_strings_from_the_environment_become_numbers_and_booleans(in_tmp: Path) -> None:
    text = """
        twitter: {consumer_secret: s}
        server:
          port: ${PORT}
          access_log: ${ACCESS_LOG}
        engine:
          concurrency: "8"
          handoff: ${HANDOFF}
        """
    settings = load(text, env={"PORT": "8080", "ACCESS_LOG": "yes", "HANDOFF": "90"})

    assert settings.server.port == 8080
    assert settings.server.access_log is True
    assert settings.engine.concurrency == 8
    assert settings.engine.handoff == 90.0


def test_ids_written_as_numbers_keep_their_digits(in_tmp: Path) -> None:
    text = """
        twitter: {consumer_secret: s, app_id: 0123}
        accounts:
          - user_id: 98765432109876543210
            access_token: 98765432109876543210-tok
            access_token_secret: t
        """
    settings = load(text)

    assert settings.twitter.app_id == "0123"
    assert settings.accounts[0].user_id == "98765432109876543210"


def test_wrong_type_names_key_line_and_range(in_tmp: Path) -> None:
    text = """
        twitter:
          consumer_secret: s

        server:
          host: 0.0.0.0

          port: eighty
        """
    assert error(text) == (
        "config.yaml:7: server.port must be an integer from 1 to 65535 (got a string: 'eighty')"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("server: {port: 70000}", "server.port must be an integer from 1 to 65535 (got a number"),
        ("server: {access_log: maybe}", "server.access_log must be true or false"),
        ("server: [1, 2]", "server must be a mapping of keys to values (got a list)"),
        (
            "twitter: {consumer_secret: s, api: premum}",
            "twitter.api must be premium, enterprise, v2 or activity",
        ),
        ("twitter: {consumer_secret: s, send_api: v3}", "twitter.send_api must be v1.1 or v2"),
        ("twitter: {consumer_secret: s, api_url: ftp://x}", "twitter.api_url must be an absolute"),
        ("twitter: {consumer_secret: s, user_id: abc}", "twitter.user_id must be a numeric"),
        ("webhook: {path: hooks}", 'webhook.path must be a path starting with "/"'),
        ("webhook: {url: example.com/x}", "webhook.url must be an absolute http(s) URL"),
        ("logging: {level: loud}", "logging.level must be debug, info, warning or error"),
        ("sqlite: {synchronous: off}", "sqlite.synchronous must be normal or full"),
        ("engine: {concurrency: 0}", "engine.concurrency must be an integer of at least 1"),
        ("engine: {flow_expiry: 0}", "engine.flow_expiry must be longer than 0 seconds"),
        ("engine: {max_queued: 0}", "engine.max_queued must be an integer of at least 1"),
        ("engine: {poll_interval: 0}", "engine.poll_interval must be longer than 0 seconds"),
        ("redis: {lock_ttl: -5}", "redis.lock_ttl must not be negative"),
        ("bot: mybot", "bot must be a script path ending in .py"),
        ("store: postgres://db/x", "store must be memory://, sqlite:///PATH or redis://HOST:PORT"),
        ("store: sqlite://dmbot.db", "store must name a file after three slashes"),
        ("store: redis://localhost:6379/zero", "store must look like redis://HOST:PORT/DB"),
    ],
)
def test_each_wrong_value_is_reported_on_its_line(in_tmp: Path, line: str, expected: str) -> None:
    prefix = "# 1\n# 2\n" if line.startswith("twitter") else "twitter: {consumer_secret: s}\n\n"
    message = error(f"{prefix}{line}\n")

    assert message.startswith(f"config.yaml:3: {expected}"), message


def test_store_urls_that_are_accepted(in_tmp: Path) -> None:
    for store in ("memory://", "sqlite:///dmbot.db", "sqlite:////var/lib/dmbot.db", "redis://h"):
        assert load(f"twitter: {{consumer_secret: s}}\nstore: {store}\n").store == store


# ---- secrets ----


@pytest.mark.parametrize(
    "text",
    [
        f"twitter:\n  consumer_secret: [{SECRET}]\n",
        f"twitter:\n  consumer_secret: s\n  consumer_key: {{value: {SECRET}}}\n",
        f"twitter:\n  consumer_secret: s\n  bearer_token: [{SECRET}]\n",
        f"twitter:\n  consumer_secret: s\n  access_token: {SECRET}\n",
        f"twitter: {{consumer_secret: s}}\naccounts:\n  - access_token: [{SECRET}]\n",
        f"twitter: {{consumer_secret: s}}\naccounts:\n  - access_token: {SECRET}\n",
        f"twitter: {{consumer_secret: s}}\nstore: redis://:{SECRET}@cache:port/0\n",
    ],
)
def test_secret_values_never_appear_in_messages(in_tmp: Path, text: str) -> None:
    message = error(text)

    assert SECRET not in message
    assert message.startswith("config.yaml")


def test_wrong_typed_secret_says_what_type_it_got_without_the_value(in_tmp: Path) -> None:
    message = error(f"twitter:\n  consumer_secret: [{SECRET}]\n")

    assert message == "config.yaml:2: twitter.consumer_secret must be a string (got a list)"


def test_secrets_stay_out_of_repr() -> None:
    settings = settings_from_mapping(
        {
            "twitter": {
                "consumer_key": SECRET,
                "consumer_secret": SECRET,
                "access_token": f"7-{SECRET}",
                "access_token_secret": SECRET,
                "bearer_token": SECRET,
            },
            "accounts": [{"access_token": f"8-{SECRET}", "access_token_secret": SECRET}],
        },
        env={},
    )

    assert SECRET not in repr(settings)
    assert SECRET not in repr(settings.all_accounts)


# ---- unknown and missing keys ----


def test_unknown_key_suggests_the_close_one(in_tmp: Path) -> None:
    text = """
        twitter:
          consumer_secret: s
        webhook:
          url: https://bot.example.com/webhooks/twitter
          pth: /hooks
        """
    assert error(text) == "config.yaml:5: unknown key webhook.pth (did you mean webhook.path?)"


def test_unknown_key_in_the_wrong_section_names_its_home(in_tmp: Path) -> None:
    text = """
        twitter:
          consumer_secret: s
        port: 8000
        sevrer: {}
        """
    message = error(text)

    assert "config.yaml:3: unknown key port (did you mean server.port?)" in message
    assert "config.yaml:4: unknown key sevrer (did you mean server?)" in message


def test_unknown_key_far_from_any_has_no_suggestion(in_tmp: Path) -> None:
    assert (
        error("twitter: {consumer_secret: s}\nzzzqqq: 1\n") == "config.yaml:2: unknown key zzzqqq"
    )


def test_repeated_key_is_an_error(in_tmp: Path) -> None:
    message = error("twitter: {consumer_secret: s}\nserver:\n  port: 1\n  port: 2\n")

    assert message == "config.yaml:4: server.port is set twice (first at line 3); keep one"


def test_required_secret_empty_after_interpolation(in_tmp: Path) -> None:
    text = """
        twitter:
          consumer_key: k
          consumer_secret: ${TWITTER_CONSUMER_SECRET:-}
        """
    message = error(text)

    assert message.startswith("config.yaml:3: twitter.consumer_secret is required: ")
    assert "TWITTER_CONSUMER_SECRET" in message


@pytest.mark.parametrize("text", ["", "null\n", "# nothing yet\n"])
def test_empty_file_asks_for_the_consumer_secret(in_tmp: Path, text: str) -> None:
    assert error(text).startswith("config.yaml:1: twitter.consumer_secret is required: ")


# ---- YAML: the one reader's booleans are YAML 1.2's ----


@pytest.mark.parametrize(
    ("scalar", "tag"),
    [
        *[(word, "bool") for word in ("true", "True", "TRUE", "false", "False", "FALSE")],
        *[(word, "str") for word in ("Yes", "No", "yes", "NO", "on", "Off", "y", "n", "tRUE")],
    ],
)
def test_only_true_and_false_are_booleans(scalar: str, tag: str) -> None:
    node = reader.compose(f"key: {scalar}\n")

    assert isinstance(node, yaml.MappingNode)
    assert node.value[0][1].tag == f"tag:yaml.org,2002:{tag}"


@pytest.mark.parametrize("word", ["Yes", "No", "on", "OFF", "y", "n"])
def test_config_reads_yes_no_on_off_as_strings(in_tmp: Path, word: str) -> None:
    text = f"""
        twitter: {{consumer_secret: s, env_name: {word}}}
        server: {{port: {word}}}
        """

    assert error(text) == (
        f"config.yaml:2: server.port must be an integer from 1 to 65535 (got a string: '{word}')"
    )
    assert load(text.replace(f"port: {word}", "port: 80")).twitter.env_name == word


@pytest.mark.parametrize(
    ("word", "value"),
    [("true", True), ("FALSE", False), ("yes", True), ("No", False), ("on", True), ("OFF", False)],
)
def test_a_flag_key_still_takes_yes_no_on_off_by_its_rule(
    in_tmp: Path, word: str, value: bool
) -> None:
    settings = load(f"twitter: {{consumer_secret: s}}\nserver: {{access_log: {word}}}\n")

    assert settings.server.access_log is value


def test_a_boolean_where_a_number_goes_names_it(in_tmp: Path) -> None:
    message = error("twitter: {consumer_secret: s}\nserver: {port: True}\n")

    assert message == (
        "config.yaml:2: server.port must be an integer from 1 to 65535 (got true/false: True)"
    )


def test_yaml_syntax_error_names_the_line(in_tmp: Path) -> None:
    message = error("twitter:\n  consumer_secret: s\nserver:\n  port: [8000\n")

    assert message.startswith("config.yaml:")
    assert "invalid YAML: expected ',' or ']'" in message


def test_several_problems_are_reported_at_once_in_file_order(in_tmp: Path) -> None:
    text = """
        twitter:
          consumer_key: k
        server:
          port: "80a"
        webhok: {}
        """
    assert error(text).splitlines() == [
        "config.yaml has 3 problems:",
        "config.yaml:1: twitter.consumer_secret is required: it is the API key secret of your X "
        "app (developer portal, Keys and tokens); write consumer_secret: "
        "${TWITTER_CONSUMER_SECRET} under twitter: and set TWITTER_CONSUMER_SECRET in the "
        "environment",
        "config.yaml:4: server.port must be an integer from 1 to 65535 (got a string: '80a')",
        "config.yaml:5: unknown key webhok (did you mean webhook?)",
    ]


# ---- durations ----


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("250ms", 0.25),
        ("10s", 10),
        ("30m", 1800),
        ("24h", 86400),
        ("7d", 604800),
        ("1h30m", 5400),
        ("1.5 H", 5400),
        ("45", 45),
        (0.02, 0.02),
        (3, 3),
    ],
)
def test_parse_duration(value: str | float, seconds: float) -> None:
    assert parse_duration(value, where="engine.handoff") == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["3 weeks", "10 s m", "-5s", "", "ms", float("nan"), True, -1])
def test_parse_duration_rejects(value: str | float) -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration(value, where="config.yaml:7: engine.handoff")

    assert str(info.value).startswith("config.yaml:7: engine.handoff must ")


def test_durations_in_the_file(in_tmp: Path) -> None:
    text = """
        twitter: {consumer_secret: s}
        engine: {handoff: 0, flow_expiry: 2h, reorder_window: 50ms}
        sender: {deadline: 1d, backoff_base: 500ms, backoff_max: 1m}
        """
    settings = load(text)

    assert settings.engine.handoff == 0
    assert settings.engine.flow_expiry == 7200
    assert settings.engine.reorder_window == pytest.approx(0.05)
    assert (settings.sender.deadline, settings.sender.backoff_base) == (86400, 0.5)


def test_backoff_max_below_base_is_an_error(in_tmp: Path) -> None:
    message = error(
        "twitter: {consumer_secret: s}\nsender:\n  backoff_base: 10m\n  backoff_max: 1m\n"
    )

    assert message.startswith(
        "config.yaml:4: sender.backoff_max (60 s) is shorter than sender.backoff_base (600 s)"
    )


# ---- accounts ----


def test_account_ids_come_from_the_token_prefix(in_tmp: Path) -> None:
    text = """
        twitter:
          consumer_secret: s
          access_token: 111-aaa
          access_token_secret: x
        accounts:
          - access_token: 222-bbb
            access_token_secret: y
          - user_id: "333"
            access_token: no-prefix-token
            access_token_secret: z
        """
    settings = load(text)

    assert settings.twitter.user_id == "111"
    assert [a.user_id for a in settings.all_accounts] == ["111", "222", "333"]
    assert settings.all_accounts[1] == AccountSettings(
        user_id="222", access_token="222-bbb", access_token_secret="y"
    )
    assert settings.account_ids == frozenset({"111", "222", "333"})


def test_app_only_settings_have_no_accounts(in_tmp: Path) -> None:
    settings = load("twitter: {consumer_secret: s}\n")

    assert settings.all_accounts == ()
    assert settings.account_ids == frozenset()


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (
            "  - access_token: tok\n    access_token_secret: s\n",
            "accounts[0].user_id is required because accounts[0].access_token does not start",
        ),
        (
            "  - user_id: '5'\n    access_token: 6-tok\n    access_token_secret: s\n",
            "accounts[0].user_id 5 does not match the user id that accounts[0].access_token",
        ),
        ("  - user_id: '5'\n", "accounts[0].access_token is required: get the account's tokens"),
        ("  - 5\n", "accounts[0] must be a mapping with user_id, access_token and"),
        (
            "  - access_token: 9-tok\n    access_tokn_secret: s\n",
            "accounts[0].access_token_secret is required: get the account's tokens",
        ),
    ],
)
def test_account_problems(in_tmp: Path, item: str, expected: str) -> None:
    assert f"config.yaml:3: {expected}" in error(
        f"twitter: {{consumer_secret: s}}\naccounts:\n{item}"
    )


def test_unknown_key_in_an_account_item(in_tmp: Path) -> None:
    text = """
        twitter: {consumer_secret: s}
        accounts:
          - access_token: 9-t
            access_tokn_secret: s
        """

    assert (
        "config.yaml:4: unknown key accounts[0].access_tokn_secret (did you mean "
        "accounts[0].access_token_secret?)" in error(text)
    )


def test_the_same_account_twice_is_an_error(in_tmp: Path) -> None:
    text = """
        twitter: {consumer_secret: s, access_token: 7-a, access_token_secret: b}
        accounts:
          - {access_token: 7-c, access_token_secret: d}
        """
    assert error(text) == (
        "config.yaml:3: accounts[0] repeats account 7 (first at line 1); list each account once"
    )


def test_access_token_without_its_secret(in_tmp: Path) -> None:
    message = error("twitter:\n  consumer_secret: s\n  access_token: 7-a\n")

    assert message.startswith(
        "config.yaml:3: twitter.access_token_secret is required when twitter.access_token is set"
    )


# ---- webhook ----


def test_webhook_path_defaults_to_the_path_of_the_url(in_tmp: Path) -> None:
    with_url = load("twitter: {consumer_secret: s}\nwebhook: {url: 'https://b.example/x/hook'}\n")
    without = load("twitter: {consumer_secret: s}\n")
    explicit = load(
        "twitter: {consumer_secret: s}\nwebhook: {url: 'https://b.example/x', path: /y}"
    )

    assert with_url.webhook.path == "/x/hook"
    assert without.webhook.path == "/webhooks/twitter"
    assert explicit.webhook.path == "/y"


def test_webhook_url_problem_refuses_http_with_port() -> None:
    problem = webhook_url_problem("http://127.0.0.1:8000/webhooks/twitter")

    assert problem is not None
    assert problem.startswith("X accepts only https webhook URLs without a port")
    assert '"https only, no port in the URL"' in problem
    assert (
        "http://127.0.0.1:8000/webhooks/twitter uses http and has port 8000; serve dmbot "
        "behind an https proxy or tunnel on port 443" in problem
    )


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("https://bot.example.com:443/webhooks", "has port 443"),
        ("https://bot.example.com:/webhooks", "has a port separator"),
        ("https://bot.example.com/" + "a" * 180, "is 204 characters long; choose a shorter path."),
        ("https:///webhooks", "has no host"),
        ("bot.example.com/webhooks", "has no https:// scheme"),
        ("https://[::1/x", "is not a valid URL"),
    ],
)
def test_webhook_url_problem_cases(url: str, fragment: str) -> None:
    problem = webhook_url_problem(url)

    assert problem is not None
    assert fragment in problem


@pytest.mark.parametrize(
    "url",
    [
        "https://bot.example.com/webhooks/twitter",
        "https://bot.example.com/webhooks?team=support",
        "https://[2001:db8::1]/hook",
        "https://bot.example.com/" + "a" * 176,
    ],
)
def test_webhook_url_problem_accepts(url: str) -> None:
    assert webhook_url_problem(url) is None


# ---- settings built in code ----


def test_settings_from_mapping_validates_like_the_file() -> None:
    settings = settings_from_mapping(
        {"twitter": {"consumer_secret": "s"}, "server": {"port": "9000"}, "bot": Path("b.py")},
        env={},
    )

    assert settings.server.port == 9000
    assert settings.source == "<settings>"
    assert settings.bot_path == Path.cwd() / "b.py"

    with pytest.raises(ConfigError) as info:
        settings_from_mapping({"twitter": {"consumer_secret": "s"}, "server": {"hots": 1}}, env={})
    assert str(info.value) == "<settings>: unknown key server.hots (did you mean server.host?)"


def test_settings_from_mapping_interpolates_and_accepts_dataclasses() -> None:
    base = settings_from_mapping({"twitter": {"consumer_secret": "${S}"}}, env={"S": "x"})
    again = settings_from_mapping({"twitter": base.twitter, "store": "memory://"}, env={})

    assert again.twitter == base.twitter
    assert again.twitter.consumer_secret == "x"


def test_settings_are_frozen_and_overridable() -> None:
    settings = settings_from_mapping({"twitter": {"consumer_secret": "s"}}, env={})

    moved = settings.with_overrides(host="0.0.0.0", port=9001)

    assert (moved.server.host, moved.server.port) == ("0.0.0.0", 9001)
    assert settings.server.port == 8000
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.store = "memory://"  # type: ignore[misc]
    with pytest.raises(ConfigError, match="--port must be an integer from 1 to 65535"):
        settings.with_overrides(port=0)


def test_config_module_stays_off_the_http_edges() -> None:
    tree = ast.parse((ROOT / "dmbot" / "config" / "settings.py").read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }

    assert not imported & {"starlette", "httpx"}


# ---- config is read by every stage and imports none ----


def test_config_imports_no_stage_of_dmbot_nor_its_edges() -> None:
    allowed = ("dmbot.config", "dmbot.errors", "dmbot.types")
    found = set()
    for path in sorted((ROOT / "dmbot" / "config").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            else:
                continue
            for name in names:
                inside = name.startswith("dmbot.") and not name.startswith(allowed)
                edge = name.split(".")[0] in ("starlette", "httpx", "uvicorn")
                if inside or edge or name.startswith(".."):
                    found.add(f"{path.name} imports {name}")
    assert found == set()
