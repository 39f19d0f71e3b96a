"""A strip as the host holds it once a worker sent it: pixels the display slides.

A value type of the wire (the pixels crossed the control channel), so both the supervisor,
which receives it, and the display, which scrolls it, can name it without importing each
other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["StripImage"]


@dataclass(frozen=True, slots=True)
class StripImage:
    """A strip received from a worker, ready for the compositor to slide."""

    mode: str
    token: int
    pixels: Any  # numpy (height, width, 3) uint8
    speed: float
    gap: int | None
