"""The lineup: what the rotation is made of, now that the plugins' modes are known.

Turns the configured rotation into scheduler slots -- plain modes, the ticker
(``"@ticker"``) and layouts (``"@<name>"``) -- and answers what the host needs per slot:
which plugin instances draw it, whether it can show, how the panel moves to it, and which
workers must be (re)activated to draw it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from config import HostConfig, RotationEntry
from host.display.layout_show import LAYOUT_MODE, LayoutShow
from host.display.ticker_show import TICKER_MODE, TickerShow
from host.display.transitions import TransitionSpec, parse_transition
from host.schedule.rotation import Slot
from host.supervise.handle import WorkerHandle

if TYPE_CHECKING:
    from host.schedule.timetable import Timetable

#: ``activate(handle, mode, size, ticker)``: the supervisor's, for members of groups (see
#: :meth:`host.supervise.supervisor.Supervisor.activate`).
Activate = Callable[[WorkerHandle, str, "tuple[int, int] | None", bool], None]


class Lineup:
    """The rotation's slots and the groups (ticker, layouts) among them."""

    def __init__(self, cfg: HostConfig, warn: Callable[[str], None]) -> None:
        self.cfg = cfg
        self.warn = warn
        display = cfg.display
        self.ticker = TickerShow(cfg.ticker, display.width, display.height)
        self.layouts = {
            f"@{name}": LayoutShow(layout, display.width, display.height)
            for name, layout in cfg.layouts.items()
        }
        #: The rotation entry each slot came from (transition, time windows).
        self.entries: dict[str, RotationEntry] = {}

    def build(self, handles: Mapping[str, WorkerHandle], only: bool) -> list[Slot]:
        """The slots for the modes the workers reported so far, in rotation order.

        :param only: the user picked the instances to run (``--plugins``): rotation
            entries naming others are left out, and with none left every mode shows.
        """
        entries = list(self.cfg.rotation.entries)
        if only:
            entries = [e for e in entries if e.instance in handles or e.instance.startswith("@")]
        if not entries:
            entries = [RotationEntry(iid, None, None) for iid in handles]
        slots: list[Slot] = []
        default = self.cfg.rotation.default_duration
        for warning in self.ticker.resolve(handles):
            self.warn(warning)
        for entry in entries:
            if self.is_group(entry.instance):
                if entry.instance in self.layouts or self.ticker.members:
                    name = LAYOUT_MODE if entry.instance in self.layouts else TICKER_MODE
                    slots.append(self._slot(entry, name, float(entry.duration or default)))
                continue
            handle = handles.get(entry.instance)
            if handle is None or not handle.modes:
                continue
            for mode in handle.modes:
                if entry.mode is None or entry.mode == mode["name"]:
                    duration = entry.duration or mode["duration"] or default
                    slots.append(self._slot(entry, mode["name"], float(duration)))
            if entry.mode is not None and entry.mode not in handle.mode_names():
                self.warn(
                    f"rotation names mode {entry.instance}:{entry.mode}, which "
                    f"the plugin does not offer ({', '.join(handle.mode_names())})"
                )
        return slots

    def _slot(self, entry: RotationEntry, mode: str, duration: float) -> Slot:
        slot = Slot(entry.instance, mode, duration)
        self.entries[slot.key] = entry
        return slot

    def is_group(self, instance: str) -> bool:
        return TickerShow.is_ticker(instance) or instance in self.layouts

    def instances_of(self, slot: Slot) -> set[str]:
        """The plugin instances a slot keeps drawing: one, or a ticker's or layout's."""
        if slot.instance in self.layouts:
            return self.layouts[slot.instance].instances()
        if TickerShow.is_ticker(slot.instance):
            return self.ticker.instances()
        return {slot.instance}

    def can_show(
        self, slot: Slot, handles: Mapping[str, WorkerHandle], timetable: Timetable
    ) -> bool:
        """Whether ``slot`` has something to show now, inside its time windows."""
        if not timetable.allowed(slot.key):
            return False
        if slot.instance in self.layouts:
            return self.layouts[slot.instance].can_show(handles)
        if TickerShow.is_ticker(slot.instance):
            return self.ticker.can_show(handles)
        handle = handles.get(slot.instance)
        return handle is not None and handle.has_content(slot.mode)

    def activate_members(
        self, slot: Slot, handles: Mapping[str, WorkerHandle], activate: Activate
    ) -> None:
        """Set every member of a ticker or layout drawing (again, after a restart)."""
        if slot.instance in self.layouts:
            for handle, mode, size in self.layouts[slot.instance].to_activate(handles):
                activate(handle, mode, size, False)
        elif TickerShow.is_ticker(slot.instance):
            for handle, mode in self.ticker.to_activate(handles):
                activate(handle, mode, None, True)

    def transition_into(self, slot: Slot) -> TransitionSpec | None:
        """How the panel moves to ``slot``: its rotation entry's choice, else the default."""
        entry = self.entries.get(slot.key)
        kind = entry.transition if entry is not None and entry.transition else None
        duration = entry.transition_duration if entry is not None else None
        try:
            return parse_transition(
                kind or self.cfg.transitions.kind,
                self.cfg.transitions.duration if duration is None else duration,
            )
        except ValueError as exc:  # the config layer checked it; be safe anyway
            self.warn(f"{slot.key}: {exc}")
            return None
