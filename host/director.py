"""What the panel shows, and why: the one place that decides and switches.

Each turn of the host's loop asks the :class:`Director` to decide once: the display
schedule's verdict (on, off, dimmed, tinted), the user's power and brightness, then the
rotation's choice among the slots that can show now (a worker that said hello, inside its
``when`` window, not stalled). A change of slot deactivates the old plugins and activates
the new; nothing ever waits on a worker: until a new mode's first frame arrives, the panel
keeps what it shows.

The user's requests that change what shows (pin, skip, notify, power, brightness) come
here too, from the control socket and the sync follower, and decide at once.

It reads the rest of the running host through :class:`Stage`, a protocol rather than
:class:`host.app.Host` itself, so this module does not import the one that imports it.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from config import HostConfig
from host.display.color import TINTS, ColorSettings
from host.display.compositor import Compositor
from host.display.presenter import Presenter, TickerSource
from host.display.ticker_show import TickerShow
from host.display.transitions import TransitionSpec
from host.errors import HostError
from host.planning import RunOptions
from host.schedule.caps import admit_api_notification
from host.schedule.lineup import Lineup
from host.schedule.rotation import Decision, Scheduler, Slot
from host.schedule.timetable import Timetable
from host.stats import RunStats
from host.supervise.handle import WorkerHandle
from host.supervise.states import WorkerState
from host.supervise.supervisor import Supervisor

log = logging.getLogger("ledhost.host")

#: How long past its own declared delay a mode's next frame may be before the rotation
#: passes the mode over (seconds; a frame or two at any frame rate, far below the
#: ``render_timeout`` that ends a hung worker).
STALL_MARGIN = 0.5
#: The same for a mode's first frame after it became active, which may load fonts or
#: images first (a Pi Zero is slow); until it arrives the panel still shows what it showed.
FIRST_FRAME_GRACE = 2.0
#: At start, how long the rotation waits for its first mode's worker before skipping it:
#: workers boot in parallel, and the sign should open on the mode the user put first.
STARTUP_GRACE = 3.0


class Sync(Protocol):
    """What deciding needs of the sign's part in a set of synchronised signs."""

    def transition_into(self, slot: Slot) -> TransitionSpec | None: ...
    def status(self, now: float, wall_now: float) -> dict[str, Any] | None: ...


class Status(Protocol):
    """What :meth:`Director.display_status` reports of a config reload."""

    def status(self) -> dict[str, Any]: ...


class Stage(Protocol):
    """What the director reads of the running host (:class:`host.app.Host`)."""

    cfg: HostConfig
    compositor: Compositor
    scheduler: Scheduler
    timetable: Timetable
    lineup: Lineup
    stats: RunStats
    presenter: Presenter

    @property
    def options(self) -> RunOptions: ...
    @property
    def supervisor(self) -> Supervisor: ...
    @property
    def sync(self) -> Sync: ...
    @property
    def reconfigurer(self) -> Status: ...


def stall_deadline(handle: WorkerHandle) -> float | None:
    """When ``handle``'s running ``render_frame`` call makes its mode stalled, if one runs."""
    since = handle.render_running_since()
    if since is None:
        return None
    return since + (STALL_MARGIN if handle.frame is not None else FIRST_FRAME_GRACE)


class Director:
    """Decides what shows on the host's loop thread, and switches the panel to it."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        #: The slot on screen, if any.
        self.current: Slot | None = None
        #: Off by the user (``ledhost off``), whatever the schedule says.
        self.powered = True
        #: Brightness set by the user (``ledhost brightness``), over the config's.
        self.brightness_override: int | None = None
        #: The stall last logged (slot, start of the render call): one line per stall.
        self._stall_logged: tuple[Slot, float] | None = None

    # -- deciding ---------------------------------------------------------------------

    def decide(self, now: float) -> None:
        """Follow the schedule, then show what the rotation chooses among what can show."""
        stage = self.stage
        if not self.follow_schedule(now):
            return
        if self.current is None and self._first_mode_booting(now):
            return
        decision = stage.scheduler.decide(now, lambda slot: self._can_show(slot, now))
        if decision is None:
            if self.current is not None and not self._coming_back(self.current):
                self.switch_to(None, now)
            return
        if decision.slot != self.current or not self._activated(decision.slot):
            self.switch_to(decision, now)

    def follow_schedule(self, now: float, restyle: bool = False) -> bool:
        """Apply the display schedule; ``False`` while it says the panel is off.

        :param restyle: set the colours and redraw even if the schedule's verdict is the
            same (brightness or gamma were reconfigured).
        """
        stage = self.stage
        timetable = stage.timetable
        changed = timetable.refresh(time.time())
        if changed or restyle:
            state = timetable.state
            if changed:
                log.info("schedule: %s", state.reason)
            display = stage.cfg.display
            brightness = display.brightness if state.brightness is None else state.brightness
            stage.compositor.set_color(
                ColorSettings(
                    brightness if self.brightness_override is None else self.brightness_override,
                    display.gamma,
                    state.tint or TINTS["none"],
                )
            )
            stage.presenter.redraw(now)
            if not state.on and self.current is not None:
                self.switch_to(None, now, reason=f"schedule: {state.reason}")
        if not self.powered and self.current is not None:
            self.switch_to(None, now, reason="turned off through the control socket")
        if not timetable.state.on or not self.powered:
            # Let the scheduler see nothing can show, so the turn ends rather than
            # counting down in the dark (its rule for a display-off window).
            stage.scheduler.decide(now, lambda slot: False)
            return False
        return True

    def stall_wakeup(self, now: float) -> float | None:
        """When the slot on screen counts as stalled, if its plugin is drawing now
        (``None`` once that is past: the decision has moved on by then)."""
        if self.current is None:
            return None
        handle = self.stage.supervisor.handles.get(self.current.instance)
        deadline = None if handle is None else stall_deadline(handle)
        if deadline is None or deadline < now:
            return None
        return deadline + 0.001

    def settled_dark(self, now: float) -> bool:
        """Nothing on screen once the start-up grace is over: a dark panel on purpose."""
        return self.current is None and now - self.stage.stats.started > STARTUP_GRACE

    def _can_show(self, slot: Slot, now: float) -> bool:
        stage = self.stage
        return stage.lineup.can_show(
            slot, stage.supervisor.handles, stage.timetable
        ) and not self._stalled(slot, now)

    def _stalled(self, slot: Slot, now: float) -> bool:
        """Whether ``slot``'s plugin has been drawing its next frame for too long.

        The worker calls ``render_frame`` when the delay the plugin itself declared has
        passed, so a call running longer than :data:`STALL_MARGIN` is a frame overdue by
        its own delay plus that margin. The slot is then passed over at once, whatever
        ``render_timeout`` allows the worker; the supervisor deals with the worker, and
        the slot can show again as soon as a frame arrives.
        """
        handle = self.stage.supervisor.handles.get(slot.instance)
        deadline = None if handle is None else stall_deadline(handle)
        if deadline is None or now <= deadline:
            return False
        assert handle is not None
        if self._stall_logged != (slot, deadline):
            self._stall_logged = (slot, deadline)
            log.warning(
                "%s: its frame is overdue (render_frame running for %.1f s); showing "
                "something else meanwhile",
                slot.key,
                now - (handle.render_running_since() or now),
            )
        return True

    def _coming_back(self, slot: Slot) -> bool:
        """Whether the slot's worker failed and will be restarted soon.

        Then, with nothing else to show, the panel keeps the last good frame rather than
        going dark: a crash must not blank the display. A quarantined or stopped worker is
        not coming back, and a frozen frame would then mislead, so that blanks.
        """
        handle = self.stage.supervisor.handles.get(slot.instance)
        return handle is not None and handle.state in (WorkerState.BACKOFF, WorkerState.STARTING)

    def _activated(self, slot: Slot) -> bool:
        """Whether the slot's worker was asked to render it (a restarted one was not)."""
        stage = self.stage
        supervisor = stage.supervisor
        if TickerShow.is_ticker(slot.instance) or slot.instance in stage.lineup.layouts:
            # members that (re)started
            stage.lineup.activate_members(slot, supervisor.handles, supervisor.activate)
            return True
        handle = supervisor.handles.get(slot.instance)
        return handle is not None and handle.active_mode == slot.mode

    def _first_mode_booting(self, now: float) -> bool:
        """Whether nothing was shown yet and the first slot's worker is still booting."""
        stage = self.stage
        if stage.stats.modes_shown or now - stage.stats.started > STARTUP_GRACE:
            return False
        handles = stage.supervisor.handles
        # The first configured entry, not the first slot: slots exist only for workers that
        # said hello, so a fast second plugin would otherwise open the show.
        entries = [e.instance for e in stage.cfg.rotation.entries if e.instance in handles]
        entries = entries or list(handles)
        first = handles.get(entries[0]) if entries else None
        return first is not None and first.state is WorkerState.STARTING

    # -- switching --------------------------------------------------------------------

    def switch_to(
        self, decision: Decision | None, now: float, reason: str = "nothing to show"
    ) -> None:
        """Deactivate what showed (but members the new slot keeps), activate the new."""
        stage = self.stage
        supervisor, lineup, presenter = stage.supervisor, stage.lineup, stage.presenter
        previous = self.current
        if previous is not None:
            keep = lineup.instances_of(decision.slot) if decision is not None else set()
            for instance in lineup.instances_of(previous) - keep:
                old = supervisor.handles.get(instance)
                if old is not None:
                    supervisor.deactivate(old)
        if decision is None:
            self.current = None
            presenter.blank(now)
            stage.stats.record_switch(now, "", reason)
            return
        slot = decision.slot
        presenter.switched(stage.sync.transition_into(slot) if previous else None)
        self.current = slot
        stage.stats.record_switch(now, slot.key, decision.reason)
        log.info("showing %s (%s)", slot.key, decision.reason)
        if slot.instance in lineup.layouts:
            lineup.layouts[slot.instance].clear()
            lineup.activate_members(slot, supervisor.handles, supervisor.activate)
            return
        if TickerShow.is_ticker(slot.instance):
            lineup.activate_members(slot, supervisor.handles, supervisor.activate)
            if lineup.ticker.stream.ready():  # members already drawing: go on at once
                presenter.ticker(TickerSource(lineup.ticker.stream, stage.cfg.ticker.speed), now)
            return
        supervisor.activate(supervisor.handles[slot.instance], slot.mode)

    # -- what the user asks for (the control socket and the sync follower) -------------

    def pin(self, instance: str, mode: str, seconds: float | None) -> None:
        """Show ``instance:mode`` now, for ``seconds`` or until :meth:`unpin`.

        Nothing restarts: the other plugins keep running and the rotation resumes after.

        :raises HostError: no such instance or mode.
        """
        handles = self.stage.supervisor.handles
        handle = handles.get(instance)
        if handle is None or mode not in handle.mode_names():
            known = ", ".join(
                f"{h.instance_id}:{m}" for h in handles.values() for m in h.mode_names()
            )
            raise HostError(
                f"cannot pin {instance}:{mode}: no such mode (modes: {known or 'none'})"
            )
        duration = next(float(m["duration"] or 10.0) for m in handle.modes if m["name"] == mode)
        now = time.monotonic()
        until = None if seconds is None else now + seconds
        self.stage.scheduler.pin(Slot(instance, mode, duration), until)
        self.decide(now)

    def unpin(self) -> None:
        """End a pin; the rotation resumes."""
        self.stage.scheduler.unpin()
        self.decide(time.monotonic())

    def skip(self, back: bool = False) -> None:
        """Show the next (or previous) mode of the rotation now."""
        self.stage.scheduler.skip(back)
        self.decide(time.monotonic())

    def set_brightness(self, percent: int) -> None:
        """Set the brightness (0-100) until the host restarts; the schedule's dimming yields."""
        self.brightness_override = percent
        now = time.monotonic()
        self.follow_schedule(now, restyle=True)
        self.decide(now)

    def power(self, on: bool) -> None:
        """Turn the panel on or off; plugins keep running."""
        self.powered = on
        self.decide(time.monotonic())

    def notify(self, instance: str, mode: str, priority: int, seconds: float) -> None:
        """Interrupt with ``instance:mode`` as an API notification, capped as plugins' are.

        :raises HostError: no such instance or mode.
        """
        handle = self.stage.supervisor.handles.get(instance)
        if handle is None or mode not in handle.mode_names():
            raise HostError(f"cannot show {instance}:{mode}: no such mode")
        duration = next((m["duration"] for m in handle.modes if m["name"] == mode), None)
        rotation = self.stage.cfg.rotation
        slot = Slot(instance, mode, float(duration or rotation.default_duration))
        now = time.monotonic()
        admit_api_notification(
            self.stage.scheduler, slot, priority, seconds, now,
            max_seconds=rotation.interrupt_max_seconds,
        )  # fmt: skip
        self.decide(now)

    def display_status(self, now: float | None = None) -> dict[str, Any]:
        """What the panel shows and why: the schedule's verdict and the scheduler's state.

        Feeds ``--stats-json`` (key ``display``), the control socket's ``display`` and the
        admin UI.
        """
        stage = self.stage
        now = time.monotonic() if now is None else now
        state = stage.timetable.state
        scheduler: dict[str, Any] = dict(stage.scheduler.status(now))
        current = scheduler.get("current")
        if isinstance(current, dict):
            # Monotonic instants mean nothing outside this process: say how long instead.
            current = dict(current)
            since, ends = current.pop("since", None), current.pop("ends_at", None)
            current["shown_for"] = None if since is None else round(now - since, 3)
            current["ends_in"] = None if ends is None else round(ends - now, 3)
            scheduler["current"] = current
        return {
            "on": state.on,
            "brightness": stage.compositor.brightness,
            "tint": list(state.tint) if state.tint else None,
            "schedule": state.reason,
            "showing": self.current.key if self.current is not None else None,
            **scheduler,
            "config": stage.reconfigurer.status(),
            "safe_mode": stage.options.safe_mode,
            "sync": stage.sync.status(now, time.time()),
        }
