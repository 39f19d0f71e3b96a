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
from host.ipc.framebus import Frame
from host.ipc.strip import StripImage
from host.supervise.handle import WorkerHandle
from host.supervise.states import WorkerState

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
        #: Regions showing a strip: the strip, when it started, its band (built once).
        self._strips: dict[str, tuple[StripImage, float, Pixels]] = {}
        #: The strip offset each sliding region showed in the last view.
        self._shown: dict[str, int] = {}
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

    def set_strip(self, handle: WorkerHandle, strip: StripImage, now: float) -> bool:
        """A region's mode draws a strip (long text): slide it through the region."""
        region = self.region_of(handle.instance_id)
        if region is None or strip.pixels.shape[0] != region.height:
            return False
        # The band: a blank region's width, then the strip, repeated once more than needed,
        # so every position is a plain slice (as the compositor does for the whole panel).
        width = region.width
        period = strip.pixels.shape[1] + width
        cycle = np.zeros((region.height, period, 3), dtype=np.uint8)
        cycle[:, width:] = strip.pixels
        band = np.ascontiguousarray(np.tile(cycle, (1, 2, 1))[:, : period + width])
        self._frames.pop(region.instance, None)
        self._strips[region.instance] = (strip, now, band)
        self._shown.pop(region.instance, None)
        return True

    def next_step(self, now: float) -> float | None:
        """When a sliding region next moves past what was last shown; ``None`` if none
        slides. It may be in the past: then a push is due."""
        steps = [
            t0 + (self._shown.get(instance, -1) + 1) / strip.speed
            for instance, (strip, t0, _) in self._strips.items()
        ]
        return min(steps) if steps else None

    def drop(self, instance: str) -> None:
        """The instance's worker is gone: its frame memory is no longer ours to read."""
        self._frames.pop(instance, None)
        self._strips.pop(instance, None)

    def clear(self) -> None:
        self._frames.clear()
        self._strips.clear()

    def view(self, now: float = 0.0) -> Pixels:
        """The panel at ``now``: every region's newest frame, or its strip's position, in
        its place; the rest dark.

        :returns: :attr:`out`, overwritten by the next call.
        """
        self.out.fill(0)
        for region in self.layout.regions:
            x, y, w, h = region.x, region.y, region.width, region.height
            frame = self._frames.get(region.instance)
            if frame is not None:
                self.out[y : y + h, x : x + w] = frame.pixels
                continue
            sliding = self._strips.get(region.instance)
            if sliding is not None:
                strip, t0, band = sliding
                offset = int((now - t0) * strip.speed)
                self._shown[region.instance] = offset
                start = offset % (band.shape[1] - w)
                self.out[y : y + h, x : x + w] = band[:, start : start + w]
        return self.out
