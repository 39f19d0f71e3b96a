"""A layout on the panel: several instances at once, each drawing at its region's size.

No LED sign software does this; with a host that composites, it is a blit per region.
Each region's worker is activated with the region's size and hands over frames of that
size through its frame bus; the host copies the newest frame of each region into its
place. A region whose worker is down or has not drawn yet stays dark; the others go on.
Pure numpy on one preallocated buffer.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from config import Layout, Region
from host.framebus import Frame
from host.states import WorkerState
from host.worker_handle import WorkerHandle

Pixels = npt.NDArray[np.uint8]

#: The mode name of a layout's slot in the scheduler (the instance is ``"@<name>"``).
LAYOUT_MODE = "layout"


class LayoutShow:
    """One ``[layouts.<name>]`` as the host shows it."""

    def __init__(self, layout: Layout, width: int, height: int) -> None:
        self.layout = layout
        self.key = f"@{layout.name}"
        self.out: Pixels = np.zeros((height, width, 3), dtype=np.uint8)
        self._frames: dict[str, Frame] = {}
        #: Each region's mode once known (``Region.mode`` or the instance's first mode).
        self._modes: dict[str, str] = {}

    def instances(self) -> set[str]:
        return {region.instance for region in self.layout.regions}

    def region_of(self, instance: str) -> Region | None:
        return next((r for r in self.layout.regions if r.instance == instance), None)

    def mode_of(self, handle: WorkerHandle) -> str | None:
        """The mode ``handle``'s instance shows here, or ``None`` if it has no region."""
        region = self.region_of(handle.instance_id)
        if region is None or not handle.modes:
            return None
        mode = region.mode if region.mode is not None else handle.mode_names()[0]
        return mode if mode in handle.mode_names() else None

    def can_show(self, handles: Mapping[str, WorkerHandle]) -> bool:
        """Whether any region's worker runs and has content."""
        for region in self.layout.regions:
            handle = handles.get(region.instance)
            mode = self.mode_of(handle) if handle is not None else None
            if handle is not None and mode is not None and handle.has_content(mode):
                return True
        return False

    def to_activate(
        self, handles: Mapping[str, WorkerHandle]
    ) -> list[tuple[WorkerHandle, str, tuple[int, int]]]:
        """Regions whose running worker is not drawing its mode at its size."""
        wanted = []
        for region in self.layout.regions:
            handle = handles.get(region.instance)
            if handle is None or handle.state is not WorkerState.RUNNING:
                continue
            mode = self.mode_of(handle)
            size = (region.width, region.height)
            if mode is not None and (handle.active_mode, handle.active_size) != (mode, size):
                wanted.append((handle, mode, size))
        return wanted

    def set_frame(self, handle: WorkerHandle, frame: Frame) -> bool:
        """Keep ``frame`` as its region's newest; ``False`` if it does not belong here."""
        region = self.region_of(handle.instance_id)
        if region is None or frame.pixels.shape[:2] != (region.height, region.width):
            return False
        self._frames[region.instance] = frame
        return True

    def drop(self, instance: str) -> None:
        """The instance's worker is gone: its frame memory is no longer ours to read."""
        self._frames.pop(instance, None)

    def clear(self) -> None:
        self._frames.clear()

    def view(self) -> Pixels:
        """The panel: every region's newest frame in its place, the rest dark.

        :returns: :attr:`out`, overwritten by the next call.
        """
        self.out.fill(0)
        for region in self.layout.regions:
            frame = self._frames.get(region.instance)
            if frame is not None:
                x, y = region.x, region.y
                self.out[y : y + region.height, x : x + region.width] = frame.pixels
        return self.out
