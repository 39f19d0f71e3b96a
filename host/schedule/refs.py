"""Mode references: which modes the config names, and which of them a plugin really has.

The config names modes in three places -- ``rotation.modes``, ``ticker.modes`` and the
layouts' regions -- as ``instance`` or ``instance:mode``. The config layer can check the
instance (it is in ``[plugins]``) but not the mode: modes are what a plugin registers, and
only its worker knows them. A typo there used to pass ``config check`` and leave the panel
dark with one warning. These pure functions let ``config check`` (which learns modes from
describe workers) and ``run`` (from the workers' hellos) say the same thing, with a
did-you-mean, and tell an enabled instance that nothing can ever show from one that shows.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from config import TICKER, HostConfig


@dataclass(frozen=True, slots=True)
class ModeRef:
    """One place in the config that names an instance, and maybe one of its modes."""

    #: Where, as a key path the user can find: ``rotation.modes[2]``.
    key: str
    instance: str
    #: ``None``: every mode of the instance (the first, in a layout region).
    mode: str | None

    @property
    def text(self) -> str:
        return self.instance if self.mode is None else f"{self.instance}:{self.mode}"


def mode_refs(cfg: HostConfig) -> list[ModeRef]:
    """Every mode reference of the config, in file order (rotation, ticker, layouts)."""
    refs = [
        ModeRef(f"rotation.modes[{i}]", e.instance, e.mode)
        for i, e in enumerate(cfg.rotation.entries)
        if not e.instance.startswith("@")
    ]
    refs += [
        ModeRef(f"ticker.modes[{i}]", e.instance, e.mode) for i, e in enumerate(cfg.ticker.entries)
    ]
    for name, layout in cfg.layouts.items():
        refs += [
            ModeRef(f"layouts.{name}.regions[{i}]", r.instance, r.mode)
            for i, r in enumerate(layout.regions)
        ]
    return refs


def unknown_mode_issues(
    cfg: HostConfig, modes: Mapping[str, Sequence[str]]
) -> list[tuple[ModeRef, str]]:
    """``(reference, message)`` for each reference to a mode its instance does not offer.

    :param modes: the mode names of each instance whose plugin is known (described or
        said hello); references to other instances are not judged here.
    """
    issues = []
    for ref in mode_refs(cfg):
        offered = modes.get(ref.instance)
        if ref.mode is None or offered is None or ref.mode in offered:
            continue
        close = difflib.get_close_matches(ref.mode, list(offered), n=1, cutoff=0.6)
        hint = f" (did you mean {ref.instance}:{close[0]}?)" if close else ""
        listing = ", ".join(offered) or "none"
        plugin = cfg.plugins[ref.instance].plugin_id if ref.instance in cfg.plugins else "?"
        issues.append(
            (
                ref,
                f"names mode {ref.text}, which plugin {plugin!r} does not offer{hint}; "
                f"its modes: {listing}",
            )
        )
    return issues


def shown_instances(cfg: HostConfig, running: Iterable[str]) -> set[str]:
    """The instances among ``running`` that the rotation can ever put on the panel.

    An empty rotation shows every mode of every instance. Otherwise an instance shows
    when a rotation entry names it, or it is a member of the ticker or of a layout that
    the rotation names (``@ticker``, ``@<layout>``).
    """
    running = set(running)
    entries = cfg.rotation.entries
    if not entries:
        return running
    named = {e.instance for e in entries}
    shown = named & running
    if TICKER in named:
        shown |= {e.instance for e in cfg.ticker.entries} & running
    for name, layout in cfg.layouts.items():
        if f"@{name}" in named:
            shown |= {r.instance for r in layout.regions} & running
    return shown


def unshown_message(instance: str) -> str:
    """The one warning for an enabled instance nothing shows: what to do about it."""
    return (
        f"plugin instance {instance!r} is enabled but no rotation entry, ticker or layout "
        f"shows it: add {instance!r} to rotation.modes, or set plugins.{instance}.enabled "
        "= false"
    )
