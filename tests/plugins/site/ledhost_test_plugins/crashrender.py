"""Boots fine, then dies hard (SIGABRT) on its first render: a crash while running."""

from __future__ import annotations

import os
from typing import Any

from sdk import hookimpl


@hookimpl
def register_modes(register: Any) -> None:
    register("boom")


@hookimpl
def render_frame() -> None:
    os.abort()
