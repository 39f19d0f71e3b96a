"""Safe mode: a run with ledhost's builtin plugins only, to recover from a bad plugin.

Asked for with ``ledhost run --safe``, or once by the flag file ``<data_dir>/safe-mode``
(what the web UI, or a user at a shell, creates when a plugin makes the host unusable:
the next start is in safe mode, and the file is removed as it is read, so the start after
is normal again). In safe mode discovery looks at ledhost's own distribution alone: no
plugin paths, no plugin pip-installed beside ledhost, none from the store. The config is
untouched; instances of other plugins are listed as not started, with the reason, and
``safe_mode`` is true in the status (``display.safe_mode``) and the stats.

Interface for the store and the web UI: :data:`FLAG_NAME` (create the file to ask),
:func:`flag_path`, and :attr:`host.planning.RunOptions.safe_mode` (a store source of
plugins must offer nothing when it is set).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # not at run time: the CLI imports this module for every command
    from host.planning import RunOptions

log = logging.getLogger("ledhost.host")

#: The one-shot flag file's name, in the data folder.
FLAG_NAME: Final = "safe-mode"
#: ``--safe``'s help text.
SAFE_HELP: Final = (
    f"start only builtin plugins (also once, after <data_dir>/{FLAG_NAME} is created)"
)
#: Why an instance of a third-party plugin is not running in safe mode.
NOT_IN_SAFE_MODE: Final = "not started: safe mode runs builtin plugins only"


def flag_path(data_dir: Path) -> Path:
    """Where the one-shot flag file is."""
    return data_dir / FLAG_NAME


def take_flag(data_dir: Path) -> bool:
    """Whether the flag file was there; removes it, so only this start is in safe mode.

    A flag that cannot be removed still counts (it was asked for), with a warning: every
    start will be in safe mode until it is gone.
    """
    path = flag_path(data_dir)
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        if not os.path.lexists(path):
            return False
        log.warning(
            "could not remove %s (%s): every start will be in safe mode until it is removed",
            path,
            exc.strerror or exc,
        )
    return True


def safe_mode_asked(flag: bool, data_dir: Path) -> bool:
    """Whether this run is in safe mode: ``--safe``, or the flag file (consumed either way).

    Logs which of the two asked, as a WARNING: the panel will not show what the config
    says, and the log must say why.
    """
    from_file = take_flag(data_dir)
    if flag or from_file:
        why = "--safe" if flag else f"{flag_path(data_dir)} was there (removed)"
        log.warning("safe mode (%s): only builtin plugins start", why)
        return True
    return False


def restricted(options: RunOptions) -> RunOptions:
    """``options`` with discovery limited to the builtins when they ask for safe mode."""
    if not options.safe_mode:
        return options
    return dataclasses.replace(options, plugin_paths=(), environment_plugins=False)


def explain_missing(
    options: RunOptions, missing: list[tuple[str, str, str]]
) -> list[tuple[str, str, str]]:
    """``missing`` from :func:`host.planning.plan_instances`, with safe mode as the reason.

    In safe mode discovery sees only the builtins, so "no plugin named X is installed"
    would send the user looking for an uninstall that never happened.
    """
    if not options.safe_mode:
        return missing
    return [(iid, plugin, NOT_IN_SAFE_MODE) for iid, plugin, _ in missing]
