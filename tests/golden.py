"""Golden images: rendered frames compared with reviewed PNGs in ``tests/golden``.

After an intended change to how something looks, regenerate the affected images and
review them (they are small PNGs; ``git diff --stat`` names the changed ones)::

    LEDHOST_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_plugin_weather.py

A mismatch writes the actual frame and a diff (changed pixels in magenta) next to each
other under ``$TMPDIR/ledhost-golden/`` and names them in the failure.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

#: Where golden PNGs live, one folder per plugin.
GOLDEN_DIR = Path(__file__).parent / "golden"
#: Set to 1 to write the frames as the new golden images instead of comparing.
UPDATE_ENV = "LEDHOST_UPDATE_GOLDEN"
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
        default) is pixel-exact. Frames are drawn with bitmap fonts and integer maths, so
        only resampled photos need more.
    """
    path = GOLDEN_DIR / f"{name}.png"
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(pixels)).save(path, optimize=True)
        return
    if not path.exists():
        raise AssertionError(
            f"no golden image {path.relative_to(GOLDEN_DIR.parent.parent)}; review the frame "
            f"and create it with {UPDATE_ENV}=1"
        )
    expected = np.asarray(Image.open(path).convert("RGB"))
    if expected.shape != pixels.shape:
        raise AssertionError(f"{name}: frame is {pixels.shape}, golden image {expected.shape}")
    delta = np.abs(expected.astype(np.int16) - pixels.astype(np.int16)).max(axis=2)
    bad = delta > tolerance
    if not bad.any():
        return
    out = Path(tempfile.gettempdir()) / "ledhost-golden" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(pixels)).save(f"{out}.actual.png")
    diff = (expected // 3).astype(np.uint8)
    diff[bad] = (255, 0, 255)
    Image.fromarray(diff).save(f"{out}.diff.png")
    ys, xs = np.nonzero(bad)
    raise AssertionError(
        f"{name}: {int(bad.sum())} pixels differ (first at x={xs[0]}, y={ys[0]}); "
        f"see {out}.actual.png and {out}.diff.png; if the change is intended, "
        f"regenerate with {UPDATE_ENV}=1"
    )
