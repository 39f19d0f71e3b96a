"""One rendered frame as the test helpers return it (:mod:`sdk.testing`).

.. versionadded:: 0.1
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Frame"]


@dataclass(frozen=True)
class Frame:
    """One rendered frame.

    .. versionadded:: 0.1
    """

    #: ``(height, width, 3)`` ``uint8`` pixels.
    pixels: npt.NDArray[np.uint8]
    #: What ``render_frame`` returned: seconds to the next frame, or ``None``.
    delay: float | None
    #: The ``now`` the frame was rendered for.
    now: float
