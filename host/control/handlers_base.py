"""What a control handler gives back besides data: a refusal, or a reply that comes later."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from host.ipc import control

__all__ = ["Pending", "Refused"]


class Refused(Exception):
    """A request the host will not carry out; ``code`` is stable for scripts."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Pending:
    """A reply that comes later: ``poll(now)`` returns it once ready, else ``None``."""

    poll: Callable[[float], control.Ok | control.Failed | None]
