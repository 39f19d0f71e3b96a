"""The worker's render path: the active mode drawn as frames or as one strip.

When the host activates a mode, :meth:`Renderer.activate` asks the plugin for a strip
first (``render_strip``, for scrolling text the host moves itself) and sends it over the
control channel; a plugin without a strip renders frames (``render_frame``) into a
:class:`~sdk.canvas.Canvas`, handed over through the frame bus and scheduled from when
each frame fell due. Everything here runs on the worker's main thread.
"""

from __future__ import annotations

import math
import time

from host.errors import FrameError
from host.ipc import protocol
from host.ipc.channel import Channel
from host.ipc.framebus import FrameWriter
from host.worker.calls import HookCaller
from host.worker.canvases import CanvasKeeper
from sdk.canvas import Canvas
from sdk.context import PluginContext
from sdk.registration import MAX_STRIP_WIDTH
from sdk.strip import Strip

__all__ = ["Renderer"]


class Renderer:
    """Drawing the active mode: its size, a strip or frames, and the next frame's due time.

    :param display: ``(width, height)`` of the whole display.
    """

    def __init__(
        self,
        calls: HookCaller,
        channel: Channel[protocol.HostMessage],
        context: PluginContext,
        writer: FrameWriter,
        display: tuple[int, int],
    ) -> None:
        self.calls = calls
        self.channel = channel
        self.context = context
        self.writer = writer
        self.display = display
        #: The mode on screen, if any, and the token its frames and strips carry.
        self.active: str | None = None
        self.token = 0
        #: Whether the active mode feeds the host's ticker (``render_strip``'s ``ticker``).
        self.for_ticker = False
        #: ``(width, height)`` drawn for the current activation: the display or a region.
        self.size = display
        self.frame_index = 0
        #: When the next frame falls due (monotonic); ``None``: no frame wanted.
        self.next_due: float | None = None
        #: Whether the host got :attr:`next_due` on the last frame (so it times the next
        #: render itself); not after a dropped frame, an error, a new activation.
        self.published_due = False
        #: Frames only on :meth:`step` (a test harness's fake clock), never on a schedule.
        self.stepped = False
        #: The active mode is shown as a strip: :meth:`step` has no frame to draw.
        self.strip_shown = False
        #: The canvas every frame is drawn on, cleared in between.
        self.canvases = CanvasKeeper()

    def activate(self, message: protocol.Activate) -> None:
        """Show ``message.mode`` from now on, at the size asked for."""
        self.token = message.token
        self.for_ticker = message.ticker
        self.stepped = message.stepped
        width, height = self.display
        if message.size is not None and message.size[0] <= width and message.size[1] <= height:
            width, height = message.size
        self.size = (width, height)
        # A plugin that lays out by context.width/height then fits its region.
        self.context.width, self.context.height = width, height
        self.active = message.mode
        self.render_active(restart=True)

    def deactivate(self) -> None:
        self.active = None
        self.next_due = None
        self.published_due = False

    def render_active(self, *, restart: bool) -> None:
        """Start showing the active mode: a strip if the plugin draws one, else frames."""
        assert self.active is not None
        self.published_due = False
        self.strip_shown = False
        if restart:
            self.frame_index = 0
        if self.calls.implements("render_strip"):
            try:
                with self.calls.running("main", "render_strip"):
                    strip = self.calls.hook.render_strip(
                        context=self.context,
                        mode=self.active,
                        height=self.size[1],
                        ticker=self.for_ticker,
                    )
            except Exception as exc:
                self.calls.report_error("render_strip", exc)
                self.next_due = None
                return
            self.strip_shown = strip is not None
            if strip is not None:
                self.next_due = None
                try:
                    self._send_strip(strip)
                except Exception as exc:
                    self.calls.report_error("render_strip", exc)
                return
        if self.stepped:
            self.next_due = None  # the harness asks for each frame with its own time
            return
        self.next_due = time.monotonic()
        self.render_due()

    def step(self, now: float) -> None:
        """Render the next frame for ``now`` and say so (a ``stepped`` activation).

        Frames go through the same bus as always; the host takes each one before asking
        for the next, so none is dropped for want of a free slot.
        """
        ok, delay = self.strip_shown, None
        if self.active is not None and self.stepped and not self.strip_shown:
            canvas = self.canvases.blank(self.size)
            try:
                with self.calls.running("main", "render_frame"):
                    answer = self.calls.hook.render_frame(
                        context=self.context,
                        canvas=canvas,
                        mode=self.active,
                        frame=self.frame_index,
                        now=now,
                    )
                    full = self.size == self.display
                    pixels = self.canvases.frame(canvas, self.size)
                    if not self.writer.publish(pixels, self.token, None if full else self.size):
                        raise FrameError("no free frame slot: the host did not take the last")
                ok = True
                if isinstance(answer, int | float) and math.isfinite(answer) and answer >= 0:
                    delay = min(float(answer), 1e9)
                self.frame_index += 1
            except Exception as exc:
                self.calls.report_error("render_frame", exc)
        self.channel.send(protocol.Stepped(ok=ok, delay=delay))

    def _send_strip(self, strip: object) -> None:
        if not isinstance(strip, Strip) or not isinstance(strip.canvas, Canvas):
            raise TypeError(
                f"render_strip must return an sdk.Strip holding an sdk.Canvas or None, "
                f"not {type(strip).__name__}"
            )
        pixels = strip.canvas.to_array()
        height, width = pixels.shape[:2]
        if height != self.size[1] or not 1 <= width <= MAX_STRIP_WIDTH:
            raise FrameError(
                f"strip of {width}x{height}; it must be {self.size[1]} high and "
                f"1-{MAX_STRIP_WIDTH} wide"
            )
        assert self.active is not None
        speed = strip.speed
        message = protocol.Strip(
            mode=self.active,
            token=self.token,
            width=width,
            height=height,
            pixels=b"",  # checked without the pixels (their size is checked above)
            speed=float(speed) if isinstance(speed, int | float) else math.nan,
            gap=strip.gap,
        )
        try:
            protocol.validate(message)
        except ValueError as exc:
            raise ValueError(f"render_strip returned a bad Strip: {exc}") from None
        message.pixels = pixels.tobytes()
        self.channel.send(message)

    def render_due(self, *, scheduled: bool = False) -> None:
        """Render the frame that is due and schedule the next one.

        :param scheduled: the frame falls due as the last one published said, so the host
            times this call from that due time (``host.supervise.rules``) and the
            heartbeat is not woken for it.
        """
        assert self.active is not None
        canvas = self.canvases.blank(self.size)
        due = self.next_due or time.monotonic()
        now = time.time() + (due - time.monotonic())
        try:
            with self.calls.running("main", "render_frame", watch=not scheduled):
                delay = (self.calls.direct("render_frame") or self.calls.hook.render_frame)(
                    context=self.context,
                    canvas=canvas,
                    mode=self.active,
                    frame=self.frame_index,
                    now=now,
                )
                pixels = self.canvases.frame(canvas, self.size)
                full = self.size == self.display
                next_due = None
                if isinstance(delay, int | float) and math.isfinite(delay) and delay >= 0:
                    # Scheduled from when this frame was due, not from now: no drift.
                    next_due = max(due + max(float(delay), 0.001), time.monotonic() - 1.0)
                # The frame carries when the next one is due: the host expects it then.
                sent = self.writer.publish(
                    pixels, self.token, None if full else self.size, next_due
                )
        except Exception as exc:
            self.calls.report_error("render_frame", exc)
            self.next_due = None
            self.published_due = False
            return
        self.published_due = sent and next_due is not None
        self.frame_index += 1
        self.next_due = next_due
