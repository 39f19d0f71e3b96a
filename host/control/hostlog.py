"""The host's own recent log records, kept in a ring for the control socket's ``host_logs``.

The admin UI's system page shows them: on a headless Pi the journal is out of reach of a
phone. Records are the host's log lines as its handlers format them (plugin records the
host forwards included), cleaned of terminal control characters like plugin records are,
and bounded (:data:`CAPACITY` records of at most :data:`MAX_TEXT` characters each).
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Final

from host.supervise.plugin_logs import sanitize

#: Records kept.
CAPACITY: Final = 500
#: Longest message kept, in characters.
MAX_TEXT: Final = 4000


class HostLogRing(logging.Handler):
    """A handler on the root logger keeping the last :data:`CAPACITY` records."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.ring: deque[dict[str, Any]] = deque(maxlen=CAPACITY)
        self.seq = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = sanitize(record.getMessage())[:MAX_TEXT]
        except Exception:  # noqa: BLE001 - a bad format string must not break logging
            message = sanitize(str(record.msg))[:MAX_TEXT]
        self.seq += 1
        self.ring.append(
            {
                "seq": self.seq,
                "time": round(record.created, 3),
                "level": record.levelname,
                "logger": record.name[:200],
                "message": message,
            }
        )

    def records(self, lines: int) -> list[dict[str, Any]]:
        """The last ``lines`` records, oldest first."""
        return list(self.ring)[-lines:] if lines else []

    def attach(self) -> None:
        logging.getLogger().addHandler(self)

    def detach(self) -> None:
        logging.getLogger().removeHandler(self)
