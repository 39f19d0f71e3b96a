"""Errors of the host package.

A plugin's failure is never one of these reaching the top: plugin problems are recorded on
its worker handle and shown to the user, and the host goes on (STYLE.md rule 16). There is
no ``HaltHost`` (gunicorn's ``HaltServer``): nothing a plugin does may halt the host, and
the host's own fatal problems are :class:`HostError`, which the CLI reports in one line
with a non-zero exit status.
"""

from __future__ import annotations


class HostError(Exception):
    """A problem the host reports to the user as one line (bad CLI input, no backend)."""


class ProtocolError(Exception):
    """A peer sent something that is not a valid control message or frame."""


class FrameError(ProtocolError):
    """A frame whose header does not match the display (wrong size, type or slot)."""
