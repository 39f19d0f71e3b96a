"""What the CLI does for its own start-up's sake leaves nothing behind (issue 15).

:func:`host.cli.main.build_parser` has argparse translate each message once while it
builds ledhost's ~40 parsers; afterwards argparse translates as it always does.
"""

from __future__ import annotations

import argparse
import gettext

from host.cli.main import build_parser


def test_the_parser_translates_as_argparse_does_and_puts_its_translator_back() -> None:
    parser = build_parser()
    assert argparse._ is gettext.gettext  # type: ignore[attr-defined]
    help_text = parser.format_help()
    assert "show this help message and exit" in help_text
    assert "options:" in help_text
    run = parser.parse_args(["run", "--launcher", "spawn"])
    assert (run.command, run.launcher) == ("run", "spawn")
