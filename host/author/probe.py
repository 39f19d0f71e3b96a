"""``ledhost check``'s instrumentation, inside a real worker: timings, draws, a fake clock.

The check starts the plugin in the same worker the host runs (same boot, containment and
protocol), spawned with this module preloaded (:class:`host.supervise.spawner.
SpawnLauncher`'s ``preload``). :func:`install`, run before the worker's main, wraps two
things and changes nothing else:

- the worker's plugin manager gets pluggy's public hook-call monitoring: each
  ``setup``, ``refresh_data``, ``render_frame`` and ``render_strip`` call is timed (wall
  time, the thread's CPU time, and its time waiting for a CPU while runnable);
  ``render_frame`` gets a **fake clock** (``now`` starts at :data:`FAKE_EPOCH` each time a
  mode is activated and advances by the delay the plugin asked for, or a minute after a
  still frame) and its answer is shortened to :data:`FRAME_GAP` so the check collects
  several frames in a fraction of a second;
- :class:`sdk.canvas.Canvas`: ``text``, ``bitmap`` and the Pillow ``draw`` proxy note
  every draw that reaches outside the canvas (Pillow clips silently), and every line of
  text with its font's height and its colour's contrast against what was under it.

One JSON line per call is appended to ``.ledhost-check.jsonl`` in the instance's data
folder (written by the worker's own user, after it dropped privileges), which
:mod:`host.author.check` reads. What it cannot see: pixels a plugin writes through
``canvas.image`` directly (``paste``, its own ``ImageDraw``): Pillow clips those before
anyone can tell; ``paste_array`` refuses out-of-bounds arrays already.

This module runs plugin-side: a plugin can tamper with it, which only fools its own
author's check; the host never reads it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import pluggy

__all__ = ["FAKE_EPOCH", "FRAME_GAP", "REPORT", "contrast_ratio", "install"]

#: The fake clock's start: 2024-03-01 12:00:00 UTC, a weekday noon.
FAKE_EPOCH: Final = 1709294400.0
#: The delay the worker is told a frame asked for, at most (seconds of wall time).
FRAME_GAP: Final = 0.02
#: The report's file name in the instance's data folder.
REPORT: Final = ".ledhost-check.jsonl"
_TIMED: Final = frozenset({"setup", "refresh_data", "render_frame", "render_strip"})

_local = threading.local()
_clock: dict[str, float] = {}
_lock = threading.Lock()
_baseline_kb = 0


def _status_kb(field: str) -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _run_delay() -> float:
    """Seconds this thread has waited for a CPU while runnable (``/proc/thread-self/
    schedstat``: preempted on a busy machine, not blocked by the plugin); 0 where the
    kernel does not keep it."""
    try:
        with open("/proc/thread-self/schedstat") as schedstat:
            return int(schedstat.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def _luminance(rgb: Sequence[int]) -> float:
    def channel(value: int) -> float:
        c = value / 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(v)) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: Sequence[int], b: Sequence[int]) -> float:
    """The WCAG contrast ratio of two colours, 1 (none) to 21 (white on black)."""
    la, lb = _luminance(a), _luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


# -- draws ---------------------------------------------------------------------------------


def _note(kind: str, **data: Any) -> None:
    """Add one observation to the hook call running on this thread (if any)."""
    call = getattr(_local, "call", None)
    if call is not None and len(call["draws"]) < 200:
        call["draws"].append({"kind": kind, **data})


def _points(xy: Any) -> list[tuple[float, float]]:
    """Pillow's ``xy`` (pairs or a flat list) as points; ``[]`` if it is neither."""
    try:
        flat = list(xy)
        if flat and isinstance(flat[0], int | float):
            return [(float(flat[i]), float(flat[i + 1])) for i in range(0, len(flat) - 1, 2)]
        return [(float(p[0]), float(p[1])) for p in flat]
    except (TypeError, ValueError, IndexError):
        return []


class _DrawProxy:
    """Pillow's ``ImageDraw`` for one canvas, noting shapes that reach outside it."""

    _SHAPES: Final = frozenset(
        {"point", "line", "rectangle", "rounded_rectangle", "ellipse", "polygon", "arc",
         "chord", "pieslice"}
    )  # fmt: skip

    def __init__(self, draw: Any, size: tuple[int, int], image: Any) -> None:
        self._draw = draw
        self._size = size
        self._image = image

    def __setattr__(self, name: str, value: Any) -> None:
        # ``draw.font = ...``, ``draw.fontmode = "1"``: set on Pillow's object, as without
        # the proxy.
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._draw, name, value)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._draw, name)
        if name in self._SHAPES:
            return self._shape(name, attr)
        if name in ("text", "multiline_text"):
            return self._text(name, attr)
        return attr

    def _shape(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def shape(xy: Any, *args: Any, **kwargs: Any) -> Any:
            points = _points(xy)
            if points and not getattr(_local, "inside_text", False):
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                box = (min(xs), min(ys), max(xs) + 1, max(ys) + 1)
                if _outside(box, self._size):
                    _note("outside", what=f"draw.{name}", box=box)
            return method(xy, *args, **kwargs)

        return shape

    def _text(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def text(xy: Any, *args: Any, **kwargs: Any) -> Any:
            if not getattr(_local, "inside_text", False):
                try:
                    box = self._draw.textbbox(xy, *args[:1], **_bbox_kwargs(kwargs))
                except (TypeError, ValueError, AttributeError):
                    box = None
                if box is not None and _outside(box, self._size):
                    _note("outside", what=f"draw.{name}", box=tuple(box))
                if box is not None and args and isinstance(args[0], str):
                    self._note_text(box, args[0], args[1:], kwargs)
            return method(xy, *args, **kwargs)

        return text

    def _note_text(
        self, box: Sequence[float], text: str, rest: Sequence[Any], kwargs: dict[str, Any]
    ) -> None:
        """Pillow text: its size from the font's capital 'H', its colour from ``fill``."""
        fill = kwargs.get("fill", rest[0] if rest else None)
        if fill is None:
            fill = (255, 255, 255)  # Pillow's default on an RGB image
        try:
            cap = self._draw.textbbox((0, 0), "H", font=kwargs.get("font"))
        except (TypeError, ValueError, AttributeError):
            return
        _note_text(self._image, box, fill, int(cap[3] - cap[1]), text)


def _bbox_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("font", "anchor", "spacing", "align", "direction", "features", "language")
    return {k: v for k, v in kwargs.items() if k in keep}


def _outside(box: Sequence[float], size: tuple[int, int]) -> bool:
    x0, y0, x1, y1 = box
    return x0 < 0 or y0 < 0 or x1 > size[0] or y1 > size[1]


def _patch_canvas() -> None:
    from sdk import canvas as canvas_module

    cls = canvas_module.Canvas
    original_init = cls.__init__
    original_text = cls.text
    original_bitmap = cls.bitmap

    def __init__(self: Any, width: int, height: int) -> None:  # noqa: N807 - a wrapper
        original_init(self, width, height)
        self.draw = _DrawProxy(self.draw, (width, height), self.image)

    def text(self: Any, x: int, y: int, text: str, font: Any = "small", color: Any = (255,) * 3,
             *, scale: int = 1) -> int:  # fmt: skip
        face = canvas_module._font(font)
        ink = face.ink_box(text) if text else None
        if ink is not None:
            s = scale if isinstance(scale, int) and scale > 0 else 1
            box = (x + ink[0] * s, y + ink[1] * s, x + ink[2] * s, y + ink[3] * s)
            if _outside(box, self.size):
                _note("outside", what="text", box=box, text=text[:40])
            cap = face.ink_box("H")
            try:
                rgb = canvas_module.parse_color(color)
            except ValueError:
                rgb = None
            if rgb is not None:
                _note_text(self.image, box, rgb, (cap[3] - cap[1]) * s if cap else 0, text)
        _local.inside_text = True
        try:
            return int(original_text(self, x, y, text, font, color, scale=scale))
        finally:
            _local.inside_text = False

    def bitmap(self: Any, x: int, y: int, rows: Sequence[str], palette: Mapping[str, Any]) -> None:
        lit = [
            (x + dx, y + dy)
            for dy, row in enumerate(rows)
            for dx, char in enumerate(row)
            if char in palette
        ]
        if lit:
            box = (
                min(p[0] for p in lit),
                min(p[1] for p in lit),
                max(p[0] for p in lit) + 1,
                max(p[1] for p in lit) + 1,
            )
            if _outside(box, self.size):
                _note("outside", what="bitmap", box=box)
        original_bitmap(self, x, y, rows, palette)

    cls.__init__ = __init__  # type: ignore[method-assign]
    cls.text = text  # type: ignore[method-assign]
    cls.bitmap = bitmap  # type: ignore[method-assign]


def _note_text(image: Any, box: Sequence[float], color: Any, height: int, text: str) -> None:
    """Note a line of text: its capitals' height in pixels and its colour's contrast
    against the most common colour under it, before it is drawn."""
    from PIL import ImageColor

    try:
        rgb = ImageColor.getrgb(color) if isinstance(color, str) else tuple(color)[:3]
    except (ValueError, TypeError):
        return
    if isinstance(color, int | float) or len(rgb) < 3:
        return  # a single channel: not an RGB canvas's colour
    x0, y0 = max(int(box[0]), 0), max(int(box[1]), 0)
    x1, y1 = min(int(box[2]), image.width), min(int(box[3]), image.height)
    if x1 <= x0 or y1 <= y0:
        return
    under = image.crop((x0, y0, x1, y1)).getcolors(maxcolors=(x1 - x0) * (y1 - y0))
    background = max(under, key=lambda item: item[0])[1] if under else (0, 0, 0)
    if not isinstance(background, tuple):
        return
    _note(
        "text",
        text=text[:40],
        height=height,
        contrast=round(contrast_ratio(rgb, background), 2),
        color=list(rgb),
        background=list(background)[:3],
    )


# -- hook calls ----------------------------------------------------------------------------


def _before(hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    if hook_name not in _TIMED:
        return
    call: dict[str, Any] = {"hook": hook_name, "draws": [], "mode": kwargs.get("mode")}
    if hook_name == "render_frame" and isinstance(kwargs, dict):
        mode = str(kwargs.get("mode"))
        with _lock:
            if kwargs.get("frame") == 0 or mode not in _clock:
                _clock[mode] = FAKE_EPOCH
            kwargs["now"] = _clock[mode]
        call["now"] = kwargs["now"]
        call["frame"] = kwargs.get("frame")
        canvas = kwargs.get("canvas")
        call["size"] = list(getattr(canvas, "size", (0, 0)))
    if hook_name == "render_strip":
        call["height"] = kwargs.get("height")
    call["started"] = (time.perf_counter(), time.thread_time(), _run_delay())
    _local.call = call


def _after(outcome: Any, hook_name: str, hook_impls: Sequence[Any], kwargs: Any) -> None:
    call = getattr(_local, "call", None)
    if hook_name not in _TIMED or call is None:
        return
    _local.call = None
    wall0, cpu0, runq0 = call.pop("started")
    call["wall"] = time.perf_counter() - wall0
    call["cpu"] = time.thread_time() - cpu0
    call["runq"] = _run_delay() - runq0
    call["error"] = outcome.exception is not None
    if hook_name == "render_frame" and outcome.exception is None:
        delay = outcome.get_result()
        ok = isinstance(delay, int | float) and delay >= 0
        call["delay"] = float(delay) if ok else None
        with _lock:
            _clock[str(call["mode"])] = call["now"] + (float(delay) if ok else 60.0)
        outcome.force_result(min(float(delay), FRAME_GAP) if ok else FRAME_GAP)
    if hook_name == "render_strip" and outcome.exception is None:
        strip = outcome.get_result()
        size = getattr(getattr(strip, "canvas", None), "size", None)
        call["strip"] = list(size) if size else None
    call["rss_kb"] = _status_kb("VmRSS")
    call["hwm_kb"] = _status_kb("VmHWM")
    call["baseline_kb"] = _baseline_kb
    context = kwargs.get("context") if isinstance(kwargs, Mapping) else None
    folder = getattr(context, "data_dir", None)
    if isinstance(folder, Path):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # 0600 whatever the umask: the report is the worker's own, like its folder.
            fd = os.open(
                os.path.join(folder, REPORT), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600
            )
            with os.fdopen(fd, "a") as report:
                report.write(json.dumps(call, default=str) + "\n")
        except OSError:
            pass


def _patch_manager() -> None:
    from host.worker import loop

    make: Callable[[], pluggy.PluginManager] = getattr(loop, "make_plugin_manager")  # noqa: B009

    def make_monitored() -> pluggy.PluginManager:
        pm = make()
        pm.add_hookcall_monitoring(_before, _after)
        return pm

    setattr(loop, "make_plugin_manager", make_monitored)  # noqa: B010 - what the worker calls


def install() -> None:
    """Instrument this worker (see the module docstring); once, before its main."""
    global _baseline_kb
    _patch_canvas()
    _patch_manager()
    _baseline_kb = _status_kb("VmRSS")
