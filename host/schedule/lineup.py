"""The lineup: what the rotation is made of, now that the plugins' modes are known.

Turns the configured rotation into scheduler slots -- plain modes, the ticker
(``"@ticker"``) and layouts (``"@<name>"``) -- and answers what the host needs per slot:
which plugin instances draw it, whether it can show, how the panel moves to it, which
workers must be (re)activated to draw it, and where a frame or strip a worker sends goes:
to the presenter if its mode is on screen, into a layout's region, or into the ticker band.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from config import HostConfig, RotationEntry
from host.display.layout_show import LAYOUT_MODE, LayoutShow
from host.display.ticker_show import TICKER_MODE, TickerShow
from host.display.transitions import TransitionSpec, parse_transition
from host.schedule.refs import shown_instances, unknown_mode_issues
from host.schedule.rotation import Slot
from host.supervise.handle import WorkerHandle

if TYPE_CHECKING:
    from host.display.presenter import Presenter
    from host.ipc.framebus import Frame
    from host.ipc.strip import StripImage
    from host.schedule.timetable import Timetable

#: ``activate(handle, mode, size, ticker)``: the supervisor's, for members of groups (see
#: :meth:`host.supervise.supervisor.Supervisor.activate`).
log = logging.getLogger(__name__)

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
        self._noted: set[str] = set()

    def build(self, handles: Mapping[str, WorkerHandle], only: bool) -> list[Slot]:
        """The slots for the modes the workers reported so far, in rotation order.

        :param only: the user picked the instances to run (``--plugins``) and means "show
            exactly these": rotation entries naming others are left out, and each picked
            instance the rotation never shows gets its modes appended (with a note).
        """
        entries = list(self.cfg.rotation.entries)
        if only:
            entries = [e for e in entries if e.instance in handles or e.instance.startswith("@")]
            shown = shown_instances(self.cfg, handles) if entries else set(handles)
            for iid in handles:
                if iid not in shown:
                    entries.append(RotationEntry(iid, None, None))
                    self._note(
                        f"--plugins: {iid!r} is in no rotation entry, ticker or layout; "
                        "its modes are shown after the rotation's, for the default duration"
                    )
        if not entries:
            entries = [RotationEntry(iid, None, None) for iid in handles]
        slots: list[Slot] = []
        default = self.cfg.rotation.default_duration
        for warning in self.ticker.resolve(handles):
            self.warn(warning)
        modes = {iid: h.mode_names() for iid, h in handles.items() if h.modes}
        for ref, message in unknown_mode_issues(self.cfg, modes):
            self.warn(f"{ref.key} {message}")
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
        return slots

    def _note(self, text: str) -> None:
        if text not in self._noted:
            self._noted.add(text)
            log.info("%s", text)

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

    # -- where what workers send goes ------------------------------------------------------

    @staticmethod
    def _shows(current: Slot | None, handle: WorkerHandle) -> bool:
        return (
            current is not None
            and current.instance == handle.instance_id
            and handle.active_mode == current.mode
        )

    def deliver_frame(
        self,
        current: Slot | None,
        handle: WorkerHandle,
        frame: Frame,
        presenter: Presenter,
        now: float,
    ) -> None:
        """A frame arrived: on screen, or into the region of the layout on screen."""
        if self._shows(current, handle):
            presenter.frame(handle, frame, now)
        elif current is not None and current.instance in self.layouts:
            show = self.layouts[current.instance]
            if show.mode_of(handle) == handle.active_mode and show.set_frame(handle, frame):
                presenter.layout(show, now)

    def deliver_strip(
        self,
        current: Slot | None,
        handle: WorkerHandle,
        strip: StripImage,
        presenter: Presenter,
        now: float,
    ) -> None:
        """A strip arrived: on screen, into a layout's region, or into the ticker band."""
        from host.display.presenter import TickerSource

        if self._shows(current, handle):
            presenter.strip(handle, strip, now)
        elif current is not None and current.instance in self.layouts:
            show = self.layouts[current.instance]
            if show.mode_of(handle) == strip.mode and show.set_strip(handle, strip, now):
                presenter.layout(show, now)
        elif (
            current is not None
            and TickerShow.is_ticker(current.instance)
            and self.ticker.member_mode(handle) == strip.mode
        ):
            self.ticker.stream.set_strip(f"{handle.instance_id}:{strip.mode}", strip.pixels)
            source = presenter.source
            if source is None or not isinstance(source[1], TickerSource):
                presenter.ticker(TickerSource(self.ticker.stream, self.cfg.ticker.speed), now)

    def forget(self, handle: WorkerHandle, presenter: Presenter) -> None:
        """``handle``'s worker is gone: nothing of it may be shown or read any more."""
        presenter.drop(handle)
        mode = self.ticker.member_mode(handle)
        if mode is not None:  # out of the band until its worker sends a strip again
            self.ticker.stream.set_strip(f"{handle.instance_id}:{mode}", None)
        for show in self.layouts.values():
            show.drop(handle.instance_id)
