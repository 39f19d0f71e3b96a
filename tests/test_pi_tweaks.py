"""The system tweaks (``host.system.tweaks``): each idempotent and exactly reversible;
``cmdline.txt`` stays one line; and the install asks before applying them."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from host.system.install import InstallOptions, Source
from host.system.install_steps import build_steps
from host.system.tweaks import ISOLCPUS, Isolcpus, SoundBlacklist, cmdline_path, tweaks_for

LINE = "console=tty1 root=PARTUUID=1-02 rootfstype=ext4 fsck.repair=yes rootwait"


def cmdline(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "boot" / "firmware" / "cmdline.txt"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


def test_isolcpus_is_added_once_and_undone_exactly(tmp_path: Path) -> None:
    path = cmdline(tmp_path, LINE + "\n")
    tweak = Isolcpus(path)
    assert not tweak.applied()
    tweak.apply()
    tweak.apply()
    assert path.read_text() == f"{LINE} {ISOLCPUS}\n"
    tweak.undo()
    assert path.read_text() == LINE + "\n"
    tweak.undo()  # twice: nothing more
    assert path.read_text() == LINE + "\n"


def test_cmdline_stays_one_line(tmp_path: Path) -> None:
    """Verify that a stray second line (ignored by the firmware) is not joined in."""
    path = cmdline(tmp_path, LINE + "\nquiet splash\n")
    Isolcpus(path).apply()
    assert path.read_text() == f"{LINE} {ISOLCPUS}\n"


def test_a_users_own_isolcpus_is_kept(tmp_path: Path) -> None:
    path = cmdline(tmp_path, LINE + " isolcpus=2,3\n")
    tweak = Isolcpus(path)
    assert tweak.applied()
    tweak.apply()
    tweak.undo()
    assert path.read_text() == LINE + " isolcpus=2,3\n"


def test_sound_blacklist_is_one_file_of_ours(tmp_path: Path) -> None:
    tweak = SoundBlacklist(tmp_path)
    tweak.apply()
    assert tweak.applied() and "blacklist snd_bcm2835" in tweak.path.read_text()
    tweak.undo()
    assert not tweak.path.exists()


def test_which_tweaks_apply(tmp_path: Path) -> None:
    assert cmdline_path(tmp_path) is None
    assert [t.name for t in tweaks_for(tmp_path, cores=4)] == ["sound-blacklist"]
    cmdline(tmp_path, LINE + "\n")
    assert [t.name for t in tweaks_for(tmp_path, cores=1)] == ["sound-blacklist"]
    assert [t.name for t in tweaks_for(tmp_path, cores=4)] == ["sound-blacklist", "isolcpus"]


class Terminal(io.StringIO):
    """Standard input that says it is a terminal, holding the user's answer."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "applies"), [("y\n", True), ("\n", False), ("no\n", False)])
def test_an_interactive_install_asks_and_only_yes_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    answer: str, applies: bool,
) -> None:  # fmt: skip
    cmdline(tmp_path, LINE + "\n")
    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    options = InstallOptions(root=tmp_path, source="ledhost==1.0", tweaks=None)
    steps = build_steps(options, tmp_path, Source("index", "ledhost==1.0", "1.0"), io.StringIO())
    assert "Apply them? [y/N]" in capsys.readouterr().out
    todos = [step.pending() for step in steps if step.name.startswith("tweak")]
    assert len(todos) == (2 if (os.cpu_count() or 1) >= 4 else 1)
    assert all(todo is not None and todo.skip is not applies for todo in todos)
