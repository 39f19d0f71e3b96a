"""The schedules as the host loop needs them: evaluated once per change, not per frame.

:mod:`host.schedule.windows` answers "is the panel on, how bright, may this mode show" for any
instant, which costs a time-zone conversion each time. The host loop asks many times a
second, so :class:`Timetable` keeps the answers until the next instant at which one of
them can change, and says when that is so the loop can sleep until then. Pure: the wall
time is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo

from config import ScheduleConfig, Window
from host.schedule.windows import DisplayState, display_state, mode_allowed, next_change, zone

#: Longest the answers are kept, in seconds: a Pi without a real-time clock jumps its
#: clock when network time arrives, and the schedule must follow within a minute.
RECHECK = 60.0


class Timetable:
    """The display schedule and every rotation entry's time windows, cached.

    :param schedule: the ``[schedule]`` config.
    :param windows: per slot key, the windows it may show in (empty: always).
    """

    def __init__(
        self, schedule: ScheduleConfig, windows: Mapping[str, Sequence[Window]] | None = None
    ) -> None:
        self.schedule = schedule
        self.tz: tzinfo | None = zone(schedule.timezone)
        self.windows: dict[str, tuple[Window, ...]] = {}
        self.state = DisplayState(True, None, None, "always on")
        self._allowed: dict[str, bool] = {}
        self._until = float("-inf")
        self._checked = float("-inf")
        self.set_windows(windows or {})

    def set_windows(self, windows: Mapping[str, Sequence[Window]]) -> None:
        """Replace the per-slot windows (the rotation was rebuilt); re-evaluate next time."""
        self.windows = {key: tuple(w) for key, w in windows.items() if w}
        self._until = float("-inf")

    def refresh(self, now: float) -> bool:
        """Re-evaluate if an answer may have changed by ``now`` (a POSIX time).

        :returns: whether the display state changed (on/off, brightness or tint).
        """
        if self._checked <= now < self._until:
            return False  # (a clock set back makes now < _checked: re-evaluate then too)
        self._checked = now
        before = self.state
        self.state = display_state(self.schedule, now, self.tz)
        self._allowed = {key: mode_allowed(w, now, self.tz) for key, w in self.windows.items()}
        every = [w for ws in self.windows.values() for w in ws]
        changes = [next_change(self.schedule, now, self.tz), next_change(every, now, self.tz)]
        self._until = min([t for t in changes if t is not None] + [now + RECHECK])
        return (before.on, before.brightness, before.tint) != (
            self.state.on,
            self.state.brightness,
            self.state.tint,
        )

    def allowed(self, key: str) -> bool:
        """Whether the slot ``key`` may show now (as of the last :meth:`refresh`)."""
        return self._allowed.get(key, True)

    @property
    def until(self) -> float:
        """The POSIX time of the next possible change (at most :data:`RECHECK` ahead)."""
        return self._until
