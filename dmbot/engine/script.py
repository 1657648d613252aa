"""Loading the bot: a script path (its ``bot`` object) or ``module:attribute``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from pathlib import Path

from dmbot.config.settings import Settings
from dmbot.engine.bot import Bot
from dmbot.errors import BotLoadError, DmbotError


def _where(exc: BaseException, path: Path | None) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if path is None or Path(frame.filename).resolve() == path:
            return f"{frame.filename}:{frame.lineno}"
    return str(path) if path else ""


def load_bot(spec: str, base: Path | None = None) -> Bot:
    """Import the bot named by ``spec``.

    ``spec`` is a script path (``bots/pizza.py``, relative to ``base``) whose
    module defines ``bot``, or ``package.module:attribute``.

    Raises:
        BotLoadError: the script is missing, fails to import, or has no Bot.
    """
    head, sep, attribute = spec.partition(":")
    if not sep or head.endswith(".py") or "/" in head:
        path = Path(head if head.endswith(".py") else spec)
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        return _load_script(path.resolve(), (attribute if head.endswith(".py") else "") or "bot")
    module_name = head
    try:
        module = importlib.import_module(module_name)
    except DmbotError:
        raise
    except Exception as exc:
        raise BotLoadError(
            f"cannot import bot module {module_name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    return _pick(module.__dict__, attribute or "bot", spec)


def _load_script(path: Path, attribute: str) -> Bot:
    if not path.is_file():
        raise BotLoadError(
            f"bot script {path} does not exist; fix `bot:` in config.yaml or pass the path"
        )
    name = f"dmbot_script_{path.stem}_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BotLoadError(f"cannot load {path} as a Python script")
    module = importlib.util.module_from_spec(spec)
    # Let the script import modules that sit beside it.
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except DmbotError as exc:
        raise BotLoadError(f"{path}: {exc}") from exc
    except Exception as exc:
        raise BotLoadError(
            f"{_where(exc, path)}: the bot script raised {type(exc).__name__}: {exc}"
        ) from exc
    return _pick(module.__dict__, attribute, str(path))


def _pick(namespace: dict[str, object], attribute: str, where: str) -> Bot:
    found = namespace.get(attribute)
    if isinstance(found, Bot):
        return found
    bots = [value for value in namespace.values() if isinstance(value, Bot)]
    if found is None and len(bots) == 1:
        return bots[0]
    raise BotLoadError(
        f"{where} defines no Bot named {attribute!r}; write `{attribute} = Bot()` in it"
    )


def bot_from_settings(settings: Settings) -> Bot | None:
    """The bot ``settings.bot`` names, or None when no bot is configured.

    A script path is looked up beside the config file first, then in the
    current directory (where ``dmbot serve`` runs).
    """
    if not settings.bot:
        return None
    path = settings.bot_path
    if path is None:
        return load_bot(settings.bot)
    if not path.is_file():
        beside_cwd = Path.cwd() / settings.bot
        if beside_cwd.is_file():
            path = beside_cwd.resolve()
    return load_bot(str(path))
