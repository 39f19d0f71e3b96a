"""Golden images for plugin tests: a rendered frame compared with a reviewed PNG.

Part of :mod:`sdk.testing` (import it from there). After an intended change to how a
plugin looks, regenerate the images and review them::

    LEDHOST_UPDATE_GOLDEN=1 python -m pytest        # or: pytest --update-golden

A mismatch fails with the number of differing pixels and the first one, and writes the
actual frame and a diff image (changed pixels magenta on the dimmed golden image) under
``$TMPDIR/ledhost-golden/``, naming both in the failure.

.. versionadded:: 0.1
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["UPDATE_ENV", "assert_matches_golden", "updating_golden"]

#: Set to ``1`` to write frames as the new golden images instead of comparing them.
UPDATE_ENV = "LEDHOST_UPDATE_GOLDEN"


def updating_golden() -> bool:
    """Whether this run regenerates golden images (``LEDHOST_UPDATE_GOLDEN=1``)."""
    return os.environ.get(UPDATE_ENV) == "1"


def assert_matches_golden(
    pixels: npt.NDArray[np.uint8],
    golden: str | os.PathLike[str],
    *,
    tolerance: int = 0,
    name: str | None = None,
) -> None:
    """Check ``pixels`` (``(height, width, 3)`` uint8) against the PNG at ``golden``.

    :param golden: the reviewed image, usually beside the test:
        ``Path(__file__).parent / "golden" / "main_64x32.png"``.
    :param tolerance: the largest difference allowed in any channel of any pixel; 0 (the
        default) is pixel-exact. Bitmap fonts and integer drawing are exact; only
        resampled photos need more.
    :param name: what the failure and the diff files are called (default: the file's stem).
    :raises AssertionError: no golden image yet, another size, or pixels that differ.

    .. versionadded:: 0.1
    """
    from PIL import Image

    path = Path(golden)
    label = name or path.stem
    frame = np.ascontiguousarray(pixels)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise AssertionError(f"{label}: expected (height, width, 3) uint8 pixels, got "
                             f"{frame.shape} {frame.dtype}")  # fmt: skip
    if updating_golden():
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(frame).save(path, optimize=True)
        return
    if not path.exists():
        raise AssertionError(
            f"no golden image {path}; review the frame and create it with {UPDATE_ENV}=1"
        )
    expected = np.asarray(Image.open(path).convert("RGB"))
    if expected.shape != frame.shape:
        raise AssertionError(f"{label}: frame is {frame.shape}, golden image {expected.shape}")
    delta = np.abs(expected.astype(np.int16) - frame.astype(np.int16)).max(axis=2)
    bad = delta > tolerance
    if not bad.any():
        return
    out = Path(tempfile.gettempdir()) / "ledhost-golden" / label
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(f"{out}.actual.png")
    diff = (expected // 3).astype(np.uint8)
    diff[bad] = (255, 0, 255)
    Image.fromarray(diff).save(f"{out}.diff.png")
    ys, xs = np.nonzero(bad)
    raise AssertionError(
        f"{label}: {int(bad.sum())} pixels differ (first at x={xs[0]}, y={ys[0]}); "
        f"see {out}.actual.png and {out}.diff.png; if the change is intended, "
        f"regenerate with {UPDATE_ENV}=1"
    )
