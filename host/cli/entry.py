"""The ``ledhost`` console script and ``python -m host``: guard our names, then the CLI.

Kept apart from :mod:`host.cli.main` because that module imports ``config`` and the rest
when it is imported: by then it would be too late to make ``config`` mean ours
(:mod:`host.namesafe`), or to explain, rather than print a traceback for, an import of
ours that fails because a plugin pip-installed into ledhost's environment broke it
(:func:`host.cli.startcheck.explain_broken_import`).
"""

from __future__ import annotations

from collections.abc import Sequence

from host import namesafe


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``ledhost`` command; its exit status."""
    namesafe.install()
    try:
        from host.cli.main import main as cli_main

        return cli_main(argv)
    except ImportError as exc:
        from host.cli.startcheck import explain_broken_import

        return explain_broken_import(exc)
