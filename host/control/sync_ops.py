"""The control requests of synchronised signs: what a bridge passes on, and the state.

``sync_position`` and ``sync_notice`` come from this sign's MQTT bridge (a follower's,
with the clock offset it measured); ``sync_notify`` starts a notification on every sign
from the leader; ``sync_state`` is ``display.sync`` of a status; ``wall_frame`` (a wall
follower's bridge) queues this sign's slice of the leader's frame. The host does the work
(:mod:`host.syncing`, :mod:`host.display.wall`); here each request is checked and turned
into a call.
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
            case control.WallFrame():
                if host.wall is None:
                    raise Refused("refused", "this sign is no wall follower ([sync] wall_width)")
                # The offset is the leader's clock minus ours: its instant in our clocks.
                at = now + (req.show_at - req.offset - wall_now)
                return {"verdict": host.wall.add(req.rgb, req.width, req.height, at, now)}
            case _:
                raise Refused("bad_request", f"{type(req).__name__} is not a sync request")
    except HostError as exc:
        raise Refused("refused", str(exc)) from None
