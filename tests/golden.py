"""Golden images: rendered frames compared with reviewed PNGs in ``tests/golden``.

The comparison is the one plugin authors use (:func:`sdk.testing.assert_matches_golden`).
After an intended change to how something looks, regenerate the affected images and
review them (they are small PNGs; ``git diff --stat`` names the changed ones)::

    LEDHOST_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_plugin_weather.py

A mismatch writes the actual frame and a diff (changed pixels in magenta) next to each
other under ``$TMPDIR/ledhost-golden/`` and names them in the failure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from sdk.golden import UPDATE_ENV, assert_matches_golden

__all__ = ["GOLDEN_DIR", "PANEL_SIZES", "UPDATE_ENV", "assert_golden", "size_id"]

#: Where golden PNGs live, one folder per plugin.
GOLDEN_DIR = Path(__file__).parent / "golden"
#: The panel sizes every builtin plugin is checked at: one 64x32 panel, two chained, a
#: 128x64 (two rows of 64x32 or one 64x64 pair), and four 64x64 panels chained.
PANEL_SIZES: tuple[tuple[int, int], ...] = ((64, 32), (128, 32), (128, 64), (256, 64))


def size_id(size: tuple[int, int]) -> str:
    """``(64, 32)`` -> ``"64x32"``, for test ids and file names."""
    return f"{size[0]}x{size[1]}"


def assert_golden(name: str, pixels: npt.NDArray[np.uint8], *, tolerance: int = 0) -> None:
    """Check ``pixels`` against ``tests/golden/<name>.png``.

    :param name: e.g. ``"weather/current_64x32"`` (no suffix).
    :param tolerance: the largest difference allowed in any channel of any pixel; 0 (the
        default) is pixel-exact.
    """
    assert_matches_golden(pixels, GOLDEN_DIR / f"{name}.png", tolerance=tolerance, name=name)
