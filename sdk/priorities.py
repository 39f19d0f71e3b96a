"""The interrupt priority levels, defined once for plugins and the host alike.

Who may ask for the screen, weakest first: the rotation (priority 0), a plugin's
interrupt (``0`` to :data:`PLUGIN_MAX`), a notification sent through the control API
(:data:`NOTIFICATION`) and, above every priority, the user's pin. A plugin's ceiling sits
below what the API sends so that no plugin, however hostile, can hide a notification or a
pin: the host clamps a higher request from a plugin to :data:`PLUGIN_MAX`.
"""

from __future__ import annotations

from typing import Final

__all__ = ["NOTIFICATION", "PLUGIN_MAX", "PLUGIN_MIN", "ROTATION"]

#: The rotation itself; any interrupt beats it.
ROTATION: Final = 0
#: The lowest priority a plugin's interrupt may have.
PLUGIN_MIN: Final = 0
#: The highest priority a plugin's interrupt may have.
PLUGIN_MAX: Final = 100
#: What the control API's notifications use: above every plugin's interrupt.
NOTIFICATION: Final = 1000
