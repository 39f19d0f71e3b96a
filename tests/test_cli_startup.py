"""What the CLI does for its own start-up's sake leaves nothing behind (issue 15).

:func:`host.cli.entry.main` pauses the cyclic garbage collector while ledhost's modules
load, and :func:`host.cli.main.build_parser` has argparse translate each message once;
neither may outlast the start-up. ``tests/test_lean_host.py`` checks a real ``ledhost
run``: paused until the zygote's fork, running in the host, the zygote and workers.
"""

from __future__ import annotations

import argparse
import gc
import gettext

import pytest

from host.cli import entry
from host.cli.main import build_parser


def test_the_parser_translates_as_argparse_does_and_puts_its_translator_back() -> None:
    parser = build_parser()
    assert argparse._ is gettext.gettext  # type: ignore[attr-defined]
    assert "show this help message and exit" in parser.format_help()


def test_a_command_that_exits_early_leaves_the_collector_running(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        entry.main(["--version"])
    assert gc.isenabled()
    assert capsys.readouterr().out.startswith("ledhost ")


def test_a_one_shot_command_runs_with_the_collector(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import host.cli.main as cli

    seen: list[bool] = []

    def plugins(ns: argparse.Namespace) -> int:
        seen.append(gc.isenabled())
        return 0

    monkeypatch.setattr(cli, "cmd_plugins", plugins)
    assert entry.main(["plugins"]) == 0
    assert seen == [True]
