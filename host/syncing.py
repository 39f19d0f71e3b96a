"""This sign's part in a set of synchronised signs (``[sync]``; docs/mqtt.md "Several signs").

The host never speaks MQTT: the MQTT bridge process (:mod:`host.mqtt.sync` in it) carries
sync messages between the broker and this host's control socket. Here, on the host's one
loop, is what each role does with them; the decisions are the pure ones of
:mod:`host.schedule.follow`:

- **leader**: :meth:`SyncRole.event` builds the rotation position the bridge publishes,
  at every change of what the rotation shows (a switch, a skip, a pin) and every
  ``[sync] period`` (the followers' sign of life), plus the notices started with
  ``sync_notify``; a notice starts here too, at the same instant as on the followers.
- **follower**: :meth:`SyncRole.hear` applies a position to the scheduler; the host's loop
  then switches by itself when the leader's turn ends (:meth:`SyncRole.next_wakeup`);
  :meth:`SyncRole.poll` notices when the leader goes silent (and logs it once) and starts
  notices when their instant comes.

Interface for the control handlers (:mod:`host.control.sync_ops`): ``hear``, ``notice``,
``notify``, ``status``; for the control server: ``event``; for the host loop:
``next_wakeup``, ``poll``.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import socket
from typing import Any, Final

import msgspec

from config.model import SyncConfig
from host.display.transitions import TransitionSpec, parse_transition
from host.errors import HostError
from host.ipc import syncwire
from host.schedule.follow import DueNotice, Follower, Notices, localize
from host.schedule.rotation import Slot

__all__ = ["SWITCHES_KEPT", "SyncRole", "sign_id"]

log = logging.getLogger("ledhost.sync")

#: Notices kept for the bridge while none takes them.
OUTBOX: Final = 16
#: Switches listed in the sync status (each with its wall-clock time, for comparing signs).
SWITCHES_KEPT: Final = 20


def sign_id(host_cfg: Any) -> str:
    """This sign's name in sync messages: its bridge's MQTT client id (the leader's pongs
    carry that id, and a follower takes only its own leader's)."""
    return str(host_cfg.mqtt.client_id_for(socket.gethostname()))


class SyncRole:
    """The ``[sync]`` role of one host run."""

    def __init__(self, host: Any, cfg: SyncConfig, sign: str | None = None) -> None:
        """:param host: the :class:`host.app.Host` of this run (typed loosely: the host
        imports this module, and the layers allow no cycle, not even for types)."""
        self.host = host
        self.cfg = cfg
        self.sign = sign or sign_id(host.cfg)
        #: Distinguishes this run's positions from an earlier run's (seq starts over).
        self.boot = secrets.token_hex(4)
        self.follower = Follower() if cfg.role == "follower" else None
        self.notices = Notices(cfg.group)
        #: The leader's clock minus ours, and the round trip it was measured in.
        self.offset = 0.0
        self.delay: float | None = None
        self._seq = itertools.count(1)
        self._notice_ids = itertools.count(1)
        #: Notices started here as leader, not yet handed to the bridge.
        self._outbox: list[syncwire.Notice] = []
        self._signature: tuple[Any, ...] | None = None
        #: When the leader's next position is due even if nothing changed (its sign of
        #: life), and whether one is due now (set by :meth:`poll`, sent by :meth:`event`).
        self._next_beat = 0.0
        self._beat_due = False
        self._was_following = False

    # -- leader ---------------------------------------------------------------------------

    def _position(self, now: float, wall_now: float) -> syncwire.Position:
        host = self.host
        status = host.scheduler.status(now)
        rotation, current, pin = status["rotation"], status["current"], status["pin"]
        key = rotation["key"]
        pin_left = None if pin is None or pin["remaining"] is None else pin["remaining"]
        slot = next((s for s in host.scheduler.slots if s.key == key), None)
        running = current is not None and current["reason"] == "rotation"
        after = next((s for s in host.scheduler.slots if s.key == rotation["next"]), None)
        transition = host.lineup.transition_into(slot) if slot is not None else None
        next_transition = host.lineup.transition_into(after) if after is not None else None
        return syncwire.Position(
            leader=self.sign,
            seq=next(self._seq),
            boot=self.boot,
            at=wall_now,
            key=key,
            left=max(0.0, rotation["left"] or 0.0),
            length=slot.duration if slot is not None else 0.0,
            running=running,
            next=rotation["next"],
            pin=None if pin is None else pin["key"],
            pin_left=None if pin_left is None else max(0.0, pin_left),
            transition=None if transition is None else transition.kind,
            transition_seconds=None if transition is None else transition.duration,
            next_transition=None if next_transition is None else next_transition.kind,
            next_transition_seconds=None if next_transition is None else next_transition.duration,
            period=self.cfg.period,
        )

    def _signature_at(self, now: float) -> tuple[Any, ...]:
        """What a follower must hear about at once when it changes (not time running on)."""
        status = self.host.scheduler.status(now)
        rotation, current, pin = status["rotation"], status["current"], status["pin"]
        running = current is not None and current["reason"] == "rotation"
        left = rotation["left"]
        # A running turn's end stays put while time runs; a paused turn's left does.
        end = None if left is None else round((now + left) if running else left, 3)
        return (rotation["key"], running, end, rotation["next"], pin and pin["key"])

    def event(self, now: float, wall_now: float) -> dict[str, Any] | None:
        """The leader's next sync event for its bridge, if one is due (else ``None``)."""
        if self.cfg.role != "leader":
            return None
        signature = self._signature_at(now)
        if signature == self._signature and not self._beat_due and not self._outbox:
            return None
        self._signature, self._beat_due = signature, False
        notices, self._outbox = self._outbox, []
        return {
            "position": msgspec.to_builtins(self._position(now, wall_now)),
            "notices": [msgspec.to_builtins(n) for n in notices],
        }

    def notify(self, request: Any, now: float, wall_now: float) -> dict[str, Any]:
        """Start a notification on every sign of ``request.group`` (all: ``None``).

        :raises HostError: this sign is not the leader, or the request is not one notice.
        """
        if self.cfg.role != "leader":
            raise HostError(
                f"only the leader sends synchronised notifications; this sign's [sync] role "
                f"is {self.cfg.role!r}"
            )
        if (request.text is None) == (request.mode is None):
            raise HostError("a notification needs exactly one of text and mode")
        notice = syncwire.Notice(
            leader=self.sign,
            id=f"{self.boot}-{next(self._notice_ids)}",
            start=wall_now + self.cfg.notify_lead,
            seconds=request.seconds,
            priority=request.priority,
            text=request.text,
            mode=request.mode,
            color=request.color,
            group=request.group,
        )
        verdict = self.notice(notice, 0.0, now, wall_now)
        self._outbox.append(notice)
        # With no bridge taking them (not started yet, restarting), keep only the latest:
        # older ones would start late anyway.
        del self._outbox[:-OUTBOX]
        return {"id": notice.id, "starts_in": self.cfg.notify_lead, "here": verdict}

    # -- follower -------------------------------------------------------------------------

    def hear(
        self, position: syncwire.Position, offset: float, delay: float | None,
        now: float, wall_now: float,
    ) -> dict[str, Any]:  # fmt: skip
        """Follow ``position`` (the leader's clock is ``offset`` ahead of ours).

        :raises HostError: this sign is not a follower.
        """
        if self.follower is None:
            raise HostError(f"this sign's [sync] role is {self.cfg.role!r}, not 'follower'")
        self.offset, self.delay = offset, delay
        taken = self.follower.hear(localize(position, offset, now, wall_now), now)
        if taken:
            if not self._was_following:
                log.info("sync: following %s", position.leader)
            self._was_following = True
            self.follower.apply(self.host.scheduler, self._slot_of, now)
            self.host.director.decide(now)  # what the leader shows, now
        return {"taken": taken, **self.follower.status(now)}

    def _slot_of(self, key: str) -> Slot | None:
        instance, _, mode = key.partition(":")
        handle = self.host.supervisor.handles.get(instance)
        if handle is None:
            return None
        duration = next((m["duration"] for m in handle.modes if m["name"] == mode), None)
        if mode not in handle.mode_names():
            return None
        return Slot(instance, mode, float(duration or self.host.cfg.rotation.default_duration))

    def transition_into(self, slot: Slot) -> TransitionSpec | None:
        """How to move to ``slot``: as the leader does while following it, else as this
        sign's own config says (:meth:`host.schedule.lineup.Lineup.transition_into`)."""
        own: TransitionSpec | None = self.host.lineup.transition_into(slot)
        follower = self.follower
        if follower is None or not self._was_following or follower.turn is None:
            return own
        leaders = follower.turn.transition_into(slot.key)
        if leaders is None:
            return own
        try:
            return parse_transition(*leaders)
        except ValueError:  # the wire checked the name's shape, not that we know it
            return own

    # -- notices (both roles) ---------------------------------------------------------------

    def notice(self, notice: syncwire.Notice, offset: float, now: float, wall_now: float) -> str:
        """Schedule ``notice`` here; its verdict (see :meth:`Notices.add`).

        A text is handed to the builtin text plugin at once, so that it is drawn when
        the notice starts.
        """
        if self.cfg.role == "off":
            raise HostError("this sign's [sync] role is 'off'")
        verdict = self.notices.add(notice, offset, now, wall_now)
        if verdict == "scheduled" and notice.text is not None:
            self._prepare_text(notice)
        return verdict

    def _prepare_text(self, notice: syncwire.Notice) -> None:
        from host.control.handlers import text_handle

        handle = text_handle(self.host)
        if handle is None:
            log.warning("sync: notice %s is a text, but no builtin text plugin runs here",
                        notice.id)  # fmt: skip
            return
        params: dict[str, Any] = {"text": notice.text}
        if notice.color is not None:
            params["color"] = notice.color
        self.host.supervisor.request_action(handle, "notify", params)

    def _start(self, due: DueNotice) -> None:
        from host.control.handlers import TEXT_MODE, text_handle

        notice = due.notice
        if notice.text is not None:
            handle = text_handle(self.host)
            if handle is None:
                return
            instance, mode = handle.instance_id, TEXT_MODE
        else:
            assert notice.mode is not None
            instance, _, mode = notice.mode.partition(":")
        try:
            self.host.director.notify(instance, mode, notice.priority, due.seconds)
        except HostError as exc:
            log.warning("sync: notice %s from %s not shown: %s", notice.id, notice.leader, exc)

    # -- the host loop ------------------------------------------------------------------------

    def next_wakeup(self) -> float | None:
        """When :meth:`poll` (or, as leader, :meth:`event`) has something to do."""
        if self.cfg.role == "off":
            return None
        times = [self.notices.next_due()]
        if self.follower is not None and self._was_following:
            times.append(self.follower.lost_at())
        if self.cfg.role == "leader":
            times.append(self._next_beat)
        return min((t for t in times if t is not None), default=None)

    def poll(self, now: float) -> None:
        """Start the notices whose instant came; notice a leader gone silent; as leader,
        make the next position due every period (whether a bridge takes it or not: a
        heartbeat nobody takes must not leave a deadline in the past, which would spin
        the loop)."""
        if self.cfg.role == "off":
            return
        if self.cfg.role == "leader" and now >= self._next_beat:
            self._beat_due, self._next_beat = True, now + self.cfg.period
        for due in self.notices.pop_due(now):
            self._start(due)
        follower = self.follower
        if follower is not None and self._was_following and not follower.following(now):
            self._was_following = False
            turn = follower.turn
            log.warning(
                "sync: nothing from the leader %s for %.1f s: carrying on with this sign's "
                "own rotation until it is back",
                None if turn is None else turn.leader,
                now - (follower.heard or now),
            )
            follower.lose(self.host.scheduler)

    def status(self, now: float, wall_now: float) -> dict[str, Any] | None:
        """``display.sync`` of a status, and the ``sync_state`` reply; ``None`` when off."""
        if self.cfg.role == "off":
            return None
        stats = self.host.stats
        shown = stats.modes_shown
        first = max(0, len(shown) - SWITCHES_KEPT)
        switches = [
            {"n": n, "key": s["mode"], "at": round(wall_now - (now - stats.started - s["at"]), 4)}
            for n, s in enumerate(shown[first:], start=first)
        ]
        follower = self.follower.status(now) if self.follower is not None else None
        return {
            "role": self.cfg.role,
            "sign": self.sign,
            "group": self.cfg.group or None,
            "offset": round(self.offset, 6),
            "delay": None if self.delay is None else round(self.delay, 6),
            "follower": follower,
            "notices_pending": self.notices.pending(),
            "switches": switches,
            "wall": self._wall_status(now),
        }

    def _wall_status(self, now: float) -> dict[str, Any] | None:
        """The wall this sign is part of: the canvas, this sign's slice (a follower's; the
        leader's display is the whole canvas) and, on a follower, the slices shown."""
        cfg = self.cfg
        if not cfg.wall:
            return None
        feed = getattr(self.host, "wall", None)
        entry: dict[str, Any] = {"width": cfg.wall_width, "height": cfg.wall_height}
        if cfg.role == "follower":
            display = self.host.cfg.display
            entry["slice"] = [cfg.wall_x, cfg.wall_y, display.width, display.height]
        else:
            entry["slice"] = [0, 0, cfg.wall_width, cfg.wall_height]
        entry["feed"] = feed.status(now) if feed is not None else None
        return entry
