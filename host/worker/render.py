"""The worker's render path: the active mode drawn as frames or as one strip.

When the host activates a mode, :meth:`RenderMixin._render_active` asks the plugin for a
strip first (``render_strip``, for scrolling text the host moves itself) and sends it
over the control channel; a plugin without a strip renders frames (``render_frame``)
into a :class:`~sdk.canvas.Canvas`, handed over through the frame bus and scheduled
from when each frame fell due. Everything here runs on the worker's main thread.

Split from :mod:`host.worker.loop` (see :mod:`host.worker.core` for why as a mixin).
"""

from __future__ import annotations

import time
from typing import Any

from host.errors import FrameError
from host.ipc import protocol
from host.worker.core import WorkerCore
from sdk.registration import MAX_STRIP_WIDTH

__all__ = ["MAX_STRIP_WIDTH", "RenderMixin"]


class RenderMixin(WorkerCore):
    """Drawing the active mode: size, strip or frames, and the next frame's due time."""

    def _set_size(self, size: tuple[int, int] | None) -> None:
        """Draw at ``size`` (a layout region) until the next activation, else full size.

        ``context.width`` and ``context.height`` follow, so a plugin that lays out by
        them fits its region.
        """
        width, height = self.args.width, self.args.height
        if size is not None and 1 <= size[0] <= width and 1 <= size[1] <= height:
            width, height = size
        self.size = (width, height)
        if self.context is not None:
            self.context.width, self.context.height = width, height

    def _render_active(self, *, restart: bool) -> None:
        """Start showing the active mode: a strip if the plugin draws one, else frames."""
        assert self.active is not None
        if restart:
            self.frame_index = 0
        if self.pm.hook.render_strip.get_hookimpls():
            self._enter("main", "render_strip")
            try:
                strip = self.pm.hook.render_strip(
                    context=self.context,
                    mode=self.active,
                    height=self.size[1],
                    ticker=self.for_ticker,
                )
            except Exception as exc:
                self._leave("main")
                self.report_error("render_strip", exc)
                strip = None
                self.next_due = None
                return
            self._leave("main")
            if strip is not None:
                self.next_due = None
                try:
                    self._send_strip(strip)
                except Exception as exc:
                    self.report_error("render_strip", exc)
                return
        self.next_due = time.monotonic()
        self._render_frame()

    def _send_strip(self, strip: Any) -> None:
        from sdk.canvas import Canvas
        from sdk.strip import Strip

        if not isinstance(strip, Strip) or not isinstance(strip.canvas, Canvas):
            raise TypeError(
                f"render_strip must return an sdk.Strip holding an sdk.Canvas or None, "
                f"not {type(strip).__name__}"
            )
        pixels = strip.canvas.to_array()
        height, width = pixels.shape[:2]
        if height != self.size[1] or not 1 <= width <= MAX_STRIP_WIDTH:
            self.report_error(
                "render_strip",
                FrameError(
                    f"strip of {width}x{height}; it must be {self.size[1]} high and "
                    f"1-{MAX_STRIP_WIDTH} wide"
                ),
            )
            return
        speed, gap = strip.speed, strip.gap
        if not isinstance(speed, int | float) or not 0 <= speed <= 1e6:  # NaN fails too
            raise ValueError(f"Strip.speed must be pixels per second in [0, 1e6], got {speed!r}")
        if gap is not None and (
            not isinstance(gap, int) or isinstance(gap, bool) or not 0 <= gap <= MAX_STRIP_WIDTH
        ):
            raise ValueError(f"Strip.gap must be None or 0-{MAX_STRIP_WIDTH} pixels, got {gap!r}")
        assert self.active is not None
        self.channel.send(
            protocol.Strip(
                mode=self.active,
                token=self.token,
                width=width,
                height=height,
                pixels=pixels.tobytes(),
                speed=float(speed),
                gap=gap,
            )
        )

    def _render_frame(self) -> None:
        from sdk.canvas import Canvas

        assert self.active is not None and self.writer is not None
        canvas = Canvas(*self.size)
        due = self.next_due or time.monotonic()
        now = time.time() + (due - time.monotonic())
        self._enter("main", "render_frame")
        try:
            delay = self.pm.hook.render_frame(
                context=self.context,
                canvas=canvas,
                mode=self.active,
                frame=self.frame_index,
                now=now,
            )
            pixels = canvas.to_array()
            full = self.size == (self.args.width, self.args.height)
            self.writer.publish(pixels, self.token, None if full else self.size)
        except Exception as exc:
            self.report_error("render_frame", exc)
            self.next_due = None
            return
        finally:
            self._leave("main")
        self.frame_index += 1
        if isinstance(delay, int | float) and delay >= 0:
            # Schedule from when this frame was due, not from now, so timing doesn't drift.
            self.next_due = max(due + max(float(delay), 0.001), time.monotonic() - 1.0)
        else:
            self.next_due = None
