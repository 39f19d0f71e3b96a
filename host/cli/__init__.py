"""The ``ledhost`` commands: parse, call, print.

Owns argument parsing and the one-line reporting of failures (:mod:`host.cli.main`), the
``config`` subcommands (:mod:`host.cli.config_commands`) and the host's log set-up
(:mod:`host.cli.logsetup`). Thin by design: every decision lives in the packages below.

May import: every other ``host`` subpackage, :mod:`config`. Nothing imports this package
except ``python -m host`` and the console script.
"""
