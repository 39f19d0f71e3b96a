"""Registers the same mode name twice: the worker must refuse it at boot."""

from __future__ import annotations

from collections.abc import Callable

from sdk import hookimpl


@hookimpl
def register_modes(register: Callable[..., None]) -> None:
    register("scores", title="Scores")
    register("scores", title="Scores again")
