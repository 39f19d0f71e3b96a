"""The control requests of synchronised signs: what a bridge passes on, and the state.

``sync_position`` and ``sync_notice`` come from this sign's MQTT bridge (a follower's,
with the clock offset it measured); ``sync_notify`` starts a notification on every sign
from the leader; ``sync_state`` is ``display.sync`` of a status. The host does the work
(:mod:`host.syncing`); here each request is checked and turned into a call.
"""

from __future__ import annotations

import time
from typing import Any

from host.control.handlers_base import Refused
from host.errors import HostError
from host.ipc import control

__all__ = ["handle_sync"]


def handle_sync(host: Any, req: control.Request, now: float) -> Any:
    """Carry out one sync request; its reply's data, or :class:`Refused`."""
    wall_now = time.time()
    sync = host.sync
    try:
        match req:
            case control.SyncState():
                return sync.status(now, wall_now) or {"role": "off"}
            case control.SyncPosition():
                return sync.hear(req.position, req.offset, req.delay, now, wall_now)
            case control.SyncNotice():
                return {"verdict": sync.notice(req.notice, req.offset, now, wall_now)}
            case control.SyncNotify():
                return sync.notify(req, now, wall_now)
            case _:
                raise Refused("bad_request", f"{type(req).__name__} is not a sync request")
    except HostError as exc:
        raise Refused("refused", str(exc)) from None
