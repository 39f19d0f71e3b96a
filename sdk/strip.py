"""A strip: moving content drawn once, which the host slides across the panel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sdk.canvas import Canvas

__all__ = ["Strip"]


@dataclass(frozen=True, slots=True)
class Strip:
    """What ``render_strip`` returns.

    The host scrolls ``canvas`` from right to left: it enters at the right edge, leaves at
    the left edge, and starts again after ``gap`` blank pixels.

    .. versionadded:: 0.1
    """

    #: The drawn strip. Its height must equal the ``height`` that ``render_strip`` was
    #: given: the height of the region the mode is shown in (the whole display, a layout
    #: region or the ticker band), not necessarily the display's. Its width is free.
    canvas: Canvas
    #: Scroll speed in pixels per second (the host moves whole pixels, smoothly).
    speed: float = 30.0
    #: Blank pixels between the end of the strip and its next start; ``None`` means one
    #: display width, so the text fully leaves before it comes back.
    gap: int | None = None
