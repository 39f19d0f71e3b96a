"""Implements a hook that does not exist: the worker must refuse it at boot."""

from __future__ import annotations

from typing import Any

from sdk import hookimpl


@hookimpl
def register_modes(register: Any) -> None:
    register("oops")


@hookimpl
def render_frmae(canvas: Any) -> None:
    pass
