"""A real HTTP server on 127.0.0.1 that answers with recorded API responses.

Network plugins are tested against it instead of the internet (there is none in CI): each
test says what a path answers (a recorded payload from ``tests/recorded``, a status, a
broken body, a slow or hanging answer) and the plugin's ``base_url`` points here. It is
the server plugin authors get from :mod:`sdk.testing`, reading ``tests/recorded``.
"""

from __future__ import annotations

from pathlib import Path

from sdk import recorded
from sdk.recorded import Route, Seen

__all__ = ["RECORDED", "RecordedServer", "Route", "Seen"]

#: Recorded API answers, one folder per API; see ``tests/recorded/README.md``.
RECORDED = Path(__file__).parent / "recorded"


class RecordedServer(recorded.RecordedServer):
    """:class:`sdk.recorded.RecordedServer` reading recordings from ``tests/recorded``."""

    def __init__(self) -> None:
        super().__init__(RECORDED)
