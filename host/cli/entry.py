"""The ``ledhost`` console script and ``python -m host``: guard our names, then the CLI.

Kept apart from :mod:`host.cli.main` because that module imports ``config`` and the rest
when it is imported: by then it would be too late to make ``config`` mean ours
(:mod:`host.namesafe`), or to explain, rather than print a traceback for, an import of
ours that fails because a plugin pip-installed into ledhost's environment broke it
(:func:`host.cli.startcheck.explain_broken_import`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from host import namesafe


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``ledhost`` command; its exit status.

    As the program (``argv`` ``None``: the console script, ``python -m host``), a host that
    stopped ends the process here (:func:`_end`); called with arguments it returns.
    """
    namesafe.install()
    try:
        from host.cli import main as cli

        status = cli.main(argv)
        if argv is None and cli.host_stopped:
            _end(status)
        return status
    except ImportError as exc:
        from host.cli.startcheck import explain_broken_import

        return explain_broken_import(exc)


def _end(status: int) -> NoReturn:
    """End ``ledhost run``'s process once its host stopped: the exit handlers (logging's
    shutdown among them) and the standard streams, then ``os._exit``. The interpreter's
    finalization would only tear down every module and free every object of a process
    about to be gone: ~6-15 ms of CPU, as much as the host's whole shutdown (issue 15:
    clock + text's whole-tree CPU counts it). Workers and the zygote end this way already.
    """
    atexit._run_exitfuncs()
    with contextlib.suppress(Exception):  # a closed or broken stream must not hide the status
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(status)
