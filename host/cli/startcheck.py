"""What every ``ledhost`` command says at start about ledhost's own environment.

The checks are :mod:`store.selfcheck`'s; this module decides when each runs and how it
is told:

- every command: whether a package named like one of ledhost's would be found before
  ours (:func:`host.namesafe.shadowed`, a few path lookups); only then the diagnosis
  naming the distribution. ledhost itself keeps working (the entry point put
  :class:`host.namesafe.OwnPackagesFinder` first), so this is a warning to act on;
- ``run`` and ``config check``: every check, requirements included (10-120 ms; nearly
  nothing when the environment passed before and has not changed since, see
  :func:`store.selfcheck.check`);
  ``run`` logs each problem as an ERROR line, still starts, and exits 1 when it ends
  (:func:`exit_status`), so a run with a broken environment is never a silent success;
- an import of ours failing anyway (a wheel that wrote over our files, a Pillow too old
  to import): :func:`explain_broken_import`, from :mod:`host.cli.entry`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from host import namesafe

if TYPE_CHECKING:
    from store.selfcheck import Problem

log = logging.getLogger("ledhost.selfcheck")

#: Problems already told in this process, so a failure after them does not repeat them.
_told: list[str] = []


def check_at_start(
    command: str, subcommand: str | None = None, backend: str | None = None
) -> list[str]:
    """Run the checks ``command`` calls for and tell what they find.

    :param command: the ``ledhost`` subcommand (``run``, ``config``…).
    :param subcommand: its own subcommand (``check`` for ``config check``).
    :param backend: the backend asked for: ``emulator`` checks that extra's requirements.
    :returns: each problem as one line (empty when all is well).
    """
    full = command == "run" or (command == "config" and subcommand == "check")
    if not full and not namesafe.shadowed():
        return []  # the common case, for a few path lookups
    from store import selfcheck

    if full:
        extras = ("emulator",) if backend == "emulator" else ()
        problems = selfcheck.check(extras=extras, cache=selfcheck.default_cache())
    else:
        problems = selfcheck.check_names()
    lines = [str(p) for p in problems]
    _tell(problems, as_log=command == "run")
    return lines


def _tell(problems: Sequence[Problem], as_log: bool) -> None:
    for problem in problems:
        if as_log:
            log.error("%s", problem)
        else:
            print(f"ledhost: error: {problem}", file=sys.stderr)
        _told.append(str(problem))


def exit_status(status: int, problems: Sequence[str]) -> int:
    """``run``'s exit status: 1 when the self-check found problems, whatever the run did."""
    if status == 0 and problems:
        log.error(
            "ledhost ran with %d problem%s in its own environment (logged at start)",
            len(problems),
            "s" if len(problems) != 1 else "",
        )
        return 1
    return status


def explain_broken_import(exc: ImportError) -> int:
    """An import of ledhost's own code failed: say why and what to do; the exit status.

    :param exc: what was raised where ledhost imports its own modules or libraries.
    """
    print(f"ledhost: error: ledhost cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
    try:
        from store import selfcheck

        problems = selfcheck.check()
    except Exception as check_exc:  # noqa: BLE001 - the environment is broken already
        print(
            f"ledhost: error: the self-check failed too ({type(check_exc).__name__}: "
            f"{check_exc}); reinstall ledhost: {sys.executable} -m pip install "
            "--force-reinstall ledhost",
            file=sys.stderr,
        )
        return 1
    fresh = [p for p in problems if str(p) not in _told]
    _tell(fresh, as_log=False)
    if not problems:
        print(
            "ledhost: error: its own requirements look satisfied and no package hides "
            f"its own; reinstall ledhost: {sys.executable} -m pip install --force-reinstall "
            "ledhost",
            file=sys.stderr,
        )
    return 1
