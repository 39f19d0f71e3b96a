"""The system tweaks a panel wants, applied only with the user's consent, each reversible.

- ``snd_bcm2835``: the Pi's on-board sound uses the same PWM hardware the panel driver
  times its output with; with the module loaded the panel flickers or the binding refuses
  to start (hzeller's README, "sound module"). A modprobe blacklist file of ours, removed
  to undo.
- ``isolcpus=3``: keeps the kernel's scheduler off the fourth core, which the binding's
  refresh thread then has to itself (less flicker on a busy Pi). One token added to the
  kernel command line, ``cmdline.txt``, which must stay a single line (the firmware reads
  only the first); undo removes exactly that token. Boards with fewer than four cores get
  nothing.

Each :class:`Tweak` says whether it is applied, applies, and undoes, and a second apply
changes nothing. They take effect at the next reboot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config.atomic import atomic_write

__all__ = ["BLACKLIST_NAME", "ISOLCPUS", "SoundBlacklist", "Isolcpus", "Tweak", "tweaks_for"]

BLACKLIST_NAME = "ledhost-blacklist-snd_bcm2835.conf"
BLACKLIST_TEXT = (
    "# Written by the ledhost installer (--tweaks): the on-board sound shares the PWM\n"
    "# hardware the LED panel driver needs. Delete this file to undo.\n"
    "blacklist snd_bcm2835\n"
)
ISOLCPUS = "isolcpus=3"


class Tweak:
    """One reversible change to the system."""

    name = ""
    #: What it does, for the dry run and the consent question.
    describe = ""

    def applied(self) -> bool:
        raise NotImplementedError

    def apply(self) -> None:
        raise NotImplementedError

    def undo(self) -> None:
        raise NotImplementedError


@dataclass
class SoundBlacklist(Tweak):
    root: Path
    name = "sound-blacklist"
    describe = "blacklist the snd_bcm2835 sound module (it disturbs the panel's timing)"

    @property
    def path(self) -> Path:
        return self.root / "etc" / "modprobe.d" / BLACKLIST_NAME

    def applied(self) -> bool:
        try:
            return self.path.read_text(encoding="utf-8") == BLACKLIST_TEXT
        except OSError:
            return False

    def apply(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, BLACKLIST_TEXT, mode=0o644)

    def undo(self) -> None:
        self.path.unlink(missing_ok=True)


def cmdline_path(root: Path) -> Path | None:
    """The kernel command line file: ``/boot/firmware`` (Bookworm) or ``/boot`` (older)."""
    for folder in ("boot/firmware", "boot"):
        path = root / folder / "cmdline.txt"
        if path.is_file():
            return path
    return None


@dataclass
class Isolcpus(Tweak):
    path: Path
    name = "isolcpus"
    describe = f"add {ISOLCPUS} to the kernel command line (a core of its own for the panel)"

    def _tokens(self) -> list[str]:
        # The firmware reads the first line only; anything after it is ignored, so it is
        # dropped rather than joined in (joining could enable options someone parked there).
        first = self.path.read_text(encoding="utf-8").splitlines()[:1]
        return first[0].split() if first else []

    def _write(self, tokens: list[str]) -> None:
        atomic_write(self.path, " ".join(tokens) + "\n")

    def applied(self) -> bool:
        # An isolcpus= of the user's own choice counts: theirs is never replaced.
        return any(t.startswith("isolcpus=") for t in self._tokens())

    def apply(self) -> None:
        if not self.applied():
            self._write([*self._tokens(), ISOLCPUS])

    def undo(self) -> None:
        tokens = self._tokens()
        if ISOLCPUS in tokens:
            self._write([t for t in tokens if t != ISOLCPUS])


def tweaks_for(root: Path, cores: int | None = None) -> list[Tweak]:
    """The tweaks that apply to the system under ``root``.

    :param cores: the board's CPU count (default: this machine's); ``isolcpus=3`` needs 4.
    """
    import os

    found: list[Tweak] = [SoundBlacklist(root)]
    cmdline = cmdline_path(root)
    if cmdline is not None and (cores if cores is not None else os.cpu_count() or 1) >= 4:
        found.append(Isolcpus(cmdline))
    return found
