"""Command-line arguments several commands share: a panel size, a plugin's options file,
the plugin to run.

``render`` and ``dev`` (and any later command that runs one plugin) read them the same
way, so a ``--size`` or ``--config`` that works for one works for the other; ``check``,
``dev`` and ``harness`` take the same ``TARGET`` (:mod:`host.author.target`) and
``--plugin-path`` folders to find an id in (:func:`add_target_arguments`).
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from host.cli.config_commands import PLUGIN_PATH_HELP
from host.errors import HostError

if TYPE_CHECKING:
    from host.supervise.rules import WorkerRules

__all__ = [
    "TARGET_HELP",
    "UsageError",
    "add_target_arguments",
    "parse_size",
    "plugin_options",
    "plugin_paths",
    "read_plugin_options",
    "store_root",
    "worker_rules",
]


#: What ``check``, ``dev`` and ``harness`` run (one resolver: :mod:`host.author.target`).
TARGET_HELP: Final = "a plugin project folder (with pyproject.toml), a .whl, or an installed id"


class UsageError(HostError):
    """Bad command-line input; exits with status 2."""


def add_target_arguments(parser: argparse.ArgumentParser, *, default: str | None) -> None:
    """``TARGET`` (``ns.target``; optional when there is a ``default``) and ``--plugin-path``."""
    if default is None:
        parser.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    else:
        parser.add_argument(
            "target", nargs="?", default=default, metavar="TARGET",
            help=f"{TARGET_HELP} (default: {default})",
        )  # fmt: skip
    parser.add_argument(
        "--plugin-path", action="append", default=[], type=Path, help=PLUGIN_PATH_HELP
    )


def plugin_paths(ns: argparse.Namespace) -> tuple[str, ...]:
    """The ``--plugin-path`` folders, absolute (a worker does not share our cwd)."""
    return tuple(str(p.resolve()) for p in ns.plugin_path)


def parse_size(text: str) -> tuple[int, int]:
    """``"64x32"`` -> ``(64, 32)``; each side 1-1024."""
    try:
        width, height = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"size {text!r} should look like 64x32") from None
    if not (1 <= width <= 1024 and 1 <= height <= 1024):
        raise UsageError(f"size {text!r} is out of range (1-1024 each way)")
    return width, height


def read_plugin_options(path: Path, instance_id: str) -> tuple[str, dict[str, Any]]:
    """``(plugin id, options)`` from a TOML file (see :func:`plugin_options`)."""
    try:
        document = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: {exc}") from None
    return plugin_options(document, instance_id, path)


def plugin_options(
    document: dict[str, Any], instance_id: str, path: Path
) -> tuple[str, dict[str, Any]]:
    """``(plugin id, options)`` for one instance from a TOML document.

    The file is either a ledhost config (its ``[plugins.<instance>]`` section is used, so
    ``ledhost render news:message --config ledhost.toml`` shows what the panel would) or
    one bare plugin section.
    """
    from config import INSTANCE_SETTINGS

    plugins = document.get("plugins")
    if not isinstance(plugins, dict):
        return instance_id, document
    section = plugins.get(instance_id)
    if not isinstance(section, dict):
        known = ", ".join(sorted(k for k, v in plugins.items() if isinstance(v, dict)))
        raise UsageError(
            f"{path} has no [plugins.{instance_id}] section (it has: {known or 'none'})"
        )
    plugin_id = section.get("plugin") or instance_id
    if not isinstance(plugin_id, str):
        raise UsageError(f"{path}: plugins.{instance_id}.plugin must be a plugin id string")
    instance_keys = {setting.name for setting in INSTANCE_SETTINGS}
    return plugin_id, {k: v for k, v in section.items() if k not in instance_keys}


def store_root() -> Path:
    """The plugin store's folder, from the embedded config and ``LEDHOST_PATHS__DATA_DIR``."""
    from config import load_config
    from store.layout import StorePaths

    return StorePaths.for_data_dir(load_config(None, secrets_path=False).paths.data_dir).root


def worker_rules() -> WorkerRules:
    """Worker limits and user from the embedded config and ``LEDHOST_WORKERS__*``.

    ``plugins``, ``render`` and ``dev`` start workers too, and plugin code runs in them.
    """
    from config import load_config
    from host.app import checked_rules

    return checked_rules(load_config(None, secrets_path=False))
