"""The ``ledhost`` commands: parse, call, print.

Owns argument parsing and the one-line reporting of failures (:mod:`host.cli.main`), the
``config`` subcommands (:mod:`host.cli.config_commands`), the host's log set-up
(:mod:`host.cli.logsetup`) and :mod:`host.cli.probe`, which runs plugins in real workers
outside the display loop for ``ledhost plugins``, ``ledhost render`` and ``config check``.
Thin by design: every decision lives in the packages below.

May import: every other ``host`` subpackage, :mod:`config`. Nothing imports this package
except ``python -m host`` and the console script.
"""
