"""docs/cli.md and the argument parser stay in step, both ways.

Every command of ``ledhost`` has a ``## `ledhost <command>``` section, and each of its
long flags appears in that section (the flags every command shares may appear in the
page's introduction instead); every flag a section lists exists on its command, so a
renamed or removed flag cannot live on in the docs.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

from host.cli.main import build_parser

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
HEADING = re.compile(r"^## `ledhost ([a-z][a-z -]*)`$", re.MULTILINE)
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
#: A flag's own entry: a list item that starts with it.
ENTRY = re.compile(r"^- `(--[a-z][a-z-]*)", re.MULTILINE)


def commands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, set[str]]]:
    """``(command, its long flags)`` for every leaf command."""
    flags: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*prefix, name))
            return
        flags.update(o for o in action.option_strings if o.startswith("--"))
    yield " ".join(prefix), flags


def sections() -> tuple[str, dict[str, str]]:
    text = DOC.read_text()
    parts = HEADING.split(text)
    intro, rest = parts[0], parts[1:]
    return intro, dict(zip(rest[::2], rest[1::2], strict=True))


def test_every_command_and_flag_is_documented() -> None:
    intro, documented = sections()
    shared = set(FLAG.findall(intro))
    for command, flags in commands(build_parser()):
        assert command in documented, f"docs/cli.md has no section for `ledhost {command}`"
        named = set(FLAG.findall(documented[command]))
        missing = flags - named - shared
        assert not missing, f"docs/cli.md, `ledhost {command}`: undocumented {sorted(missing)}"


def test_the_docs_name_no_flag_or_command_that_does_not_exist() -> None:
    intro, documented = sections()
    real = dict(commands(build_parser()))
    assert set(documented) <= set(real), set(documented) - set(real)
    for command, text in documented.items():
        stale = set(ENTRY.findall(text)) - real[command]
        assert not stale, f"docs/cli.md, `ledhost {command}`: no such flag {sorted(stale)}"


def test_the_readme_links_the_reference() -> None:
    readme = (DOC.parent.parent / "README.md").read_text()
    assert "docs/cli.md" in readme
