"""pytest switches for plugin authors' tests, loaded by pytest wherever ledhost is installed.

``--update-golden`` regenerates the golden images (:func:`sdk.testing.assert_matches_golden`)
instead of comparing them, the same as ``LEDHOST_UPDATE_GOLDEN=1``.

.. versionadded:: 0.1
"""

from __future__ import annotations

import os
from typing import Any

from sdk.golden import UPDATE_ENV


def pytest_addoption(parser: Any) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help=f"write rendered frames as the new golden images (same as {UPDATE_ENV}=1)",
    )


def pytest_configure(config: Any) -> None:
    if config.getoption("--update-golden", default=False):
        os.environ[UPDATE_ENV] = "1"
