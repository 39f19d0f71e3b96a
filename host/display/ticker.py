"""The continuous ticker: several plugins' strips scrolled as one seamless band.

Each contributing mode draws a strip in its own worker (``render_strip``); the host only
lays them end to end with a separator between, and slides the result across the panel.
The band is a stream, not a fixed loop: items are appended at the far right as the
window moves, each time the next member's *latest* strip (a member with none yet is
skipped, never waited for), and nothing already appended is changed. So a plugin
updating its strip never makes the visible band jump; the new strip simply comes round
next time.

Pure numpy on preallocated buffers; the position ``x`` (pixels since the ticker started)
is passed in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Pixels = npt.NDArray[np.uint8]


class TickerStream:
    """The band of strips, appended on demand as the window ``[x, x + width)`` moves.

    :param members: the contributing modes' keys (``"instance:mode"``), in ticker order.
    :param spacer: what goes after every strip: gap, separator, gap (``height`` rows).
    """

    def __init__(self, width: int, height: int, members: Sequence[str], spacer: Pixels) -> None:
        if spacer.shape[0] != height or spacer.ndim != 3:
            raise ValueError(f"spacer must be {height} pixels high, got shape {spacer.shape}")
        self.width = width
        self.height = height
        self.members = list(members)
        self.spacer = spacer
        self.out: Pixels = np.zeros((height, width, 3), dtype=np.uint8)
        self._strips: dict[str, Pixels] = {}
        #: Appended items still (partly) ahead of the window: ``(x where it starts, pixels)``.
        self._items: deque[tuple[int, Pixels]] = deque()
        self._end = 0  # stream x where the next item will start
        self._next = 0  # index in members of the next item to append

    def set_members(self, members: Sequence[str]) -> None:
        """Change who contributes (plugins started or stopped), keeping the band running.

        The same stream object stays on screen; strips of remaining members are kept and
        what is already in the band is not touched.
        """
        self.members = list(members)
        self._strips = {k: v for k, v in self._strips.items() if k in self.members}
        self._next = self._next % len(self.members) if self.members else 0

    def set_strip(self, key: str, pixels: Pixels | None) -> None:
        """Use ``pixels`` for ``key`` from its next turn on (``None``: leave it out)."""
        if pixels is None:
            self._strips.pop(key, None)
        elif pixels.shape[0] != self.height or pixels.ndim != 3 or pixels.shape[1] == 0:
            raise ValueError(f"strip for {key} must be {self.height} pixels high")
        else:
            self._strips[key] = pixels

    def ready(self) -> bool:
        """Whether any member has a strip to show."""
        return any(key in self._strips for key in self.members)

    def _append(self) -> bool:
        """Append the next member that has a strip, then a spacer; ``False`` if none has."""
        for step in range(len(self.members)):
            key = self.members[(self._next + step) % len(self.members)]
            strip = self._strips.get(key)
            if strip is not None:
                self._next = (self._next + step + 1) % len(self.members)
                self._items.append((self._end, strip))
                self._end += strip.shape[1]
                if self.spacer.shape[1]:
                    self._items.append((self._end, self.spacer))
                    self._end += self.spacer.shape[1]
                return True
        return False

    def view(self, x: int) -> Pixels:
        """The panel at stream position ``x`` (which only ever grows).

        :returns: :attr:`out`, overwritten by the next call.
        """
        if not self.members:
            self.out.fill(0)
            return self.out
        if self._end < x:
            # Nothing to show for a while (no strips yet): the stream resumes here.
            self._items.clear()
            self._end = x
        while self._end < x + self.width and self._append():
            pass
        while self._items and self._items[0][0] + self._items[0][1].shape[1] <= x:
            self._items.popleft()
        self.out.fill(0)
        for start, pixels in self._items:
            if start >= x + self.width:
                break
            lo = max(start, x)
            hi = min(start + pixels.shape[1], x + self.width)
            self.out[:, lo - x : hi - x] = pixels[:, lo - start : hi - start]
        return self.out


def make_spacer(height: int, gap: int, separator: Pixels | None) -> Pixels:
    """``gap`` blank columns, the separator image (if any), ``gap`` blank columns."""
    parts = [np.zeros((height, gap, 3), dtype=np.uint8)]
    if separator is not None and separator.shape[1]:
        parts += [separator, np.zeros((height, gap, 3), dtype=np.uint8)]
    return np.ascontiguousarray(np.concatenate(parts, axis=1))


def draw_separator(text: str, height: int) -> Pixels | None:
    """``text`` in the largest bundled font that fits ``height``, grey, centred vertically.

    Drawn once when the ticker is set up, with the SDK's own fonts, so it matches what
    plugins draw.
    """
    if not text:
        return None
    from sdk.canvas import Canvas
    from sdk.fonts import font_names, load_font

    fonts = sorted((load_font(name) for name in font_names()), key=lambda f: f.height)
    fitting = [f for f in fonts if f.height <= height] or fonts[:1]
    font = fitting[-1]
    width, line = font.measure(text)
    if width == 0:
        return None
    canvas = Canvas(width, height)
    canvas.text(0, (height - line) // 2, text, font, (160, 160, 160))
    return canvas.to_array()
