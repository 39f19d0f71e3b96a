"""Which plugins make up the ticker, and keeping their workers drawing for it.

The ticker (``"@ticker"`` in the rotation) is one slot on screen but several workers at
work: each contributing instance is activated on its mode and sends its strip, which
goes into the :class:`~host.display.ticker.TickerStream`. A member whose worker is down or has
no strip yet is simply left out of the band until it has one.
"""

from __future__ import annotations

from collections.abc import Mapping

from config import TICKER, TickerConfig
from host.display.ticker import TickerStream, draw_separator, make_spacer
from host.supervise.handle import WorkerHandle
from host.supervise.states import WorkerState

#: The ticker's slot in the scheduler: instance "@ticker", mode "band".
TICKER_MODE = "band"


class TickerShow:
    """The ticker's members and stream for one host.

    :param config: the ``[ticker]`` config.
    """

    def __init__(self, config: TickerConfig, width: int, height: int) -> None:
        self.config = config
        self.width = width
        self.height = height
        # Drawing the separator parses the fonts: only when there is a ticker at all.
        separator = draw_separator(config.separator, height) if config.entries else None
        self.spacer = make_spacer(height, config.gap, separator)
        #: ``(instance, mode)`` of each member, in ticker order.
        self.members: list[tuple[str, str]] = []
        self.stream = TickerStream(width, height, [], self.spacer)

    @staticmethod
    def is_ticker(instance: str) -> bool:
        return instance == TICKER

    def resolve(self, handles: Mapping[str, WorkerHandle]) -> list[str]:
        """Turn ``ticker.modes`` into members, now that modes are known.

        A worker renders one mode at a time, so an instance contributes one mode: the
        one named, or its first.

        :returns: warnings for entries that name nothing.
        """
        members: list[tuple[str, str]] = []
        warnings = []
        for entry in self.config.entries:
            handle = handles.get(entry.instance)
            if handle is None or not handle.modes:
                continue
            names = handle.mode_names()
            mode = entry.mode if entry.mode is not None else names[0]
            if mode not in names:
                warnings.append(
                    f"ticker.modes names {entry.instance}:{mode}, which the plugin does not "
                    f"offer ({', '.join(names)})"
                )
                continue
            if all(instance != entry.instance for instance, _ in members):
                members.append((entry.instance, mode))
        if members != self.members:
            # Members appear as their workers say hello: change the stream in place, as
            # the presenter may already be scrolling it.
            self.members = members
            self.stream.set_members([f"{i}:{m}" for i, m in members])
        return warnings

    def can_show(self, handles: Mapping[str, WorkerHandle]) -> bool:
        """Whether any member's worker runs and has content for its mode."""
        return any(
            (h := handles.get(instance)) is not None and h.has_content(mode)
            for instance, mode in self.members
        )

    def to_activate(self, handles: Mapping[str, WorkerHandle]) -> list[tuple[WorkerHandle, str]]:
        """Members whose running worker is not drawing its ticker mode (new or restarted)."""
        wanted = []
        for instance, mode in self.members:
            handle = handles.get(instance)
            if (
                handle is not None
                and handle.state is WorkerState.RUNNING
                and handle.active_mode != mode
            ):
                wanted.append((handle, mode))
        return wanted

    def member_mode(self, handle: WorkerHandle) -> str | None:
        """The ticker mode of ``handle``'s instance, or ``None`` if it is no member."""
        return next((m for i, m in self.members if i == handle.instance_id), None)

    def instances(self) -> set[str]:
        return {instance for instance, _ in self.members}
