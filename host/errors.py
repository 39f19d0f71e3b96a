"""Errors of the host package.

A plugin's failure is never one of these reaching the top: plugin problems are recorded on
its worker handle and shown to the user, and the host goes on (STYLE.md rule 16).
"""

from __future__ import annotations


class HostError(Exception):
    """A problem the host reports to the user as one line (bad CLI input, no backend)."""


class ProtocolError(Exception):
    """A peer sent something that is not a valid control message or frame."""


class FrameError(ProtocolError):
    """A frame whose header does not match the display (wrong size, type or slot)."""


class HaltHost(BaseException):
    """Stop the host now; a ``BaseException`` so no ``except Exception`` can swallow it.

    :param reason: one line for the log and the user.
    :param exit_status: the process exit status.
    """

    def __init__(self, reason: str, exit_status: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_status = exit_status
