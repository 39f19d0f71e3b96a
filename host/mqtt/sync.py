"""Synchronised signs over the broker: the bridge's half (``[sync]``; docs/mqtt.md).

The bridge (:mod:`host.mqtt.bridge`) starts one :class:`SyncLink` when ``[sync] role`` is
not ``off``. It adds topics to the bridge's connection and passes messages between them and
the host's control socket; what a role *does* is decided in the host
(:mod:`host.syncing`).

Topics, under the sync root (:func:`sync_root`: ``[sync] topic`` beside the signs' own base
topics, so every sign of a set shares it whatever its own base topic is):

================  ============  ==========================================================
``position``      leader → all  where the leader's rotation is; QoS 0, not retained: one
                                comes every period, a lost one is replaced by the next,
                                and a retained one would make a new follower align to a
                                leader that may be gone (followers also drop positions
                                older than three periods)
``notice``        leader → all  a notification to start at the leader's instant; QoS 1 (a
                                lost one would be a sign that misses it; a duplicate starts
                                once: ids), not retained (a restarted sign must not replay
                                an old one)
``notify``        anyone → lead a notification request (JSON: ``text`` or ``mode``, ``group``,
                                ``priority``, ``seconds``, ``color``); the leader stamps
                                its start and sends it as a ``notice``; QoS 1
``ping``          follower → l  clock probe (:mod:`host.schedule.clockoffset`); QoS 0
``pong/<sign>``   leader → one  its answer, to that follower only; QoS 0: a lost sample is
                                just not used
================  ============  ==========================================================

Payloads are :mod:`host.ipc.syncwire` JSON; anything else is logged once per kind per
minute and dropped. Three threads beside the connection's, none waiting on another: the
host feed (a leader's ``sync`` event subscription), the sender (requests to the host, one
at a time), and a follower's pinger.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Final

import msgspec

from config.model import SyncConfig
from host.ipc import control, syncwire
from host.ipc.control_client import ControlClient, ControlFailed, HostNotRunning
from host.mqtt.commands import OncePerKind
from host.mqtt.connection import Connection
from host.mqtt.hostlink import HostLink
from host.schedule.clockoffset import OffsetEstimator, sample

__all__ = ["FIRST_PINGS", "SyncLink", "sync_root"]

log = logging.getLogger(__name__)

#: Pings sent quickly (every :data:`QUICK_PING` s) after a leader is first heard, so the
#: offset is good before the first switch; then one per period.
FIRST_PINGS: Final = 8
QUICK_PING: Final = 0.05
#: Seconds between attempts to reach a host that does not answer.
HOST_RETRY: Final = 1.0
#: Pings whose answer is still awaited, newest kept (older answers are dropped).
OUTSTANDING: Final = 16
#: Least seconds between two positions passed to the host: a leader sends a few a second;
#: whoever floods the topic gets the host at most this many decisions a second, and only
#: the newest position is passed on (the others are stale by then anyway).
POSITION_GAP: Final = 0.02
#: Stands in the sender's queue for "the newest position" (kept apart, coalesced).
_POSITION: Final = object()


def sync_root(base_topic: str, topic: str) -> str:
    """The sync topics' root: ``topic`` beside ``base_topic``'s last level.

    ``ledhost/kitchen`` (the default ``ledhost/<client id>``) and ``sync`` give
    ``ledhost/sync``; a one-level base topic gives ``topic`` alone.
    """
    parent, _, _ = base_topic.rpartition("/")
    return f"{parent}/{topic}" if parent else topic


class SyncLink:
    """One sign's sync traffic between the broker and its host."""

    def __init__(self, cfg: SyncConfig, connection: Connection, socket: str, root: str) -> None:
        self.cfg = cfg
        self.connection = connection
        self.socket = socket
        self.root = root
        self.sign = connection.settings.client_id
        self.estimator = OffsetEstimator()
        self._leader: str | None = None
        self._pings: dict[int, float] = {}
        #: Quick pings left before one per period (more after a change of leader).
        self._quick = FIRST_PINGS
        self._n = 0
        self._lock = threading.Lock()
        self._queue: queue.Queue[object] = queue.Queue(64)
        #: The newest position not yet passed to the host (guarded by _lock).
        self._position: control.SyncPosition | None = None
        self._quiet = OncePerKind()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- life -------------------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe (before the connection starts) and start the threads."""
        on = self.connection.subscribe
        if self.cfg.role == "leader":
            on(f"{self.root}/ping", self._on_ping)
            on(f"{self.root}/notify", self._on_notify, qos=1)
            self._spawn(self._feed, "sync-feed")
        else:
            on(f"{self.root}/position", self._on_position)
            on(f"{self.root}/notice", self._on_notice, qos=1)
            on(f"{self.root}/pong/{self.sign}", self._on_pong)
            self._spawn(self._pinger, "sync-ping")
        self._spawn(self._sender, "sync-send")

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        for thread in self._threads:
            thread.join(5.0)

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _complain(self, kind: str, message: str) -> None:
        self._quiet.warn(log, kind, f"sync: {message}")

    def _decode(self, topic: str, payload: bytes, retained: bool) -> syncwire.SyncMessage | None:
        if retained:
            return None  # nothing of ours is retained: a leftover is not the leader now
        try:
            return syncwire.decode(payload)
        except syncwire.SyncWireError as exc:
            self._complain(f"bad:{topic}", f"ignored a message on {topic}: {exc}")
            return None

    def _pass_on(self, request: object) -> None:
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            self._complain("flood", "dropped a sync message: too many waiting for the host")

    # -- leader ---------------------------------------------------------------------------

    def _feed(self) -> None:
        """Publish the host's sync events (positions, notices) for as long as it runs."""
        while not self._stop.is_set():
            try:
                with ControlClient(self.socket, timeout=10.0) as events:
                    events.request(control.Subscribe(kinds=["sync"]))
                    while not self._stop.is_set():
                        event = events.receive(timeout=max(5.0, 5 * self.cfg.period))
                        if isinstance(event, control.SyncEvent):
                            self._publish_event(event.data)
            except (HostNotRunning, TimeoutError, ControlFailed, OSError) as exc:
                log.debug("sync: the host does not answer (%s); trying again", exc)
                self._stop.wait(HOST_RETRY)

    def _publish_event(self, data: dict[str, Any]) -> None:
        position = data.get("position")
        if position is not None:
            self.connection.publish(f"{self.root}/position", msgspec.json.encode(position))
        for notice in data.get("notices") or ():
            self.connection.publish(f"{self.root}/notice", msgspec.json.encode(notice), qos=1)

    def _on_ping(self, topic: str, payload: bytes, retained: bool) -> None:
        t1 = time.time()
        ping = self._decode(topic, payload, retained)
        if not isinstance(ping, syncwire.Ping):
            if ping is not None:
                self._complain("misplaced", f"ignored a {type(ping).__name__} on {topic}")
            return
        pong = syncwire.Pong(
            sign=ping.sign, leader=self.sign, n=ping.n, t0=ping.t0, t1=t1, t2=time.time()
        )
        self.connection.publish(f"{self.root}/pong/{ping.sign}", syncwire.encode(pong))

    def _on_notify(self, topic: str, payload: bytes, retained: bool) -> None:
        if retained:
            return
        try:
            request = msgspec.json.decode(payload[: syncwire.MAX_PAYLOAD + 1], type=dict)
            notify = msgspec.convert({**request, "id": 0}, control.SyncNotify)
        except (msgspec.DecodeError, msgspec.ValidationError, TypeError) as exc:
            self._complain("bad:notify", f"ignored a notify on {topic}: {exc}")
            return
        self._pass_on(notify)

    # -- follower -------------------------------------------------------------------------

    def _pinger(self) -> None:
        while not self._stop.is_set():
            if self._leader is not None:
                with self._lock:
                    self._n += 1
                    t0 = time.time()
                    self._pings[self._n] = t0
                    while len(self._pings) > OUTSTANDING:
                        del self._pings[min(self._pings)]
                    ping = syncwire.Ping(sign=self.sign, n=self._n, t0=t0)
                self.connection.publish(f"{self.root}/ping", syncwire.encode(ping))
            wait = QUICK_PING if self._quick > 0 and self._leader is not None else self.cfg.period
            if self._leader is not None:
                self._quick -= 1
            self._stop.wait(wait)

    def _on_pong(self, topic: str, payload: bytes, retained: bool) -> None:
        t3 = time.time()
        pong = self._decode(topic, payload, retained)
        if not isinstance(pong, syncwire.Pong):
            return
        with self._lock:
            t0 = self._pings.pop(pong.n, None)
            # Only an answer to a ping of ours, with our own send time, from our leader.
            if t0 is None or t0 != pong.t0 or pong.leader != self._leader:
                return
            self.estimator.add(sample(t0, pong.t1, pong.t2, t3))

    def offset(self) -> float:
        """The leader's clock minus ours, as measured now (0 before any measurement)."""
        return self._offset()[0]

    def _offset(self) -> tuple[float, float | None]:
        with self._lock:
            best = self.estimator.best()
        return (0.0, None) if best is None else (best.offset, best.delay)

    def _on_position(self, topic: str, payload: bytes, retained: bool) -> None:
        position = self._decode(topic, payload, retained)
        if not isinstance(position, syncwire.Position):
            if position is not None:
                self._complain("misplaced", f"ignored a {type(position).__name__} on {topic}")
            return
        with self._lock:
            if position.leader != self._leader:
                if self._leader is not None:
                    log.info("sync: now following %s (was %s)", position.leader, self._leader)
                self._leader = position.leader
                self.estimator.clear()  # another machine, another clock
                self._quick = FIRST_PINGS
        offset, delay = self._offset()
        with self._lock:
            queued = self._position is not None
            self._position = control.SyncPosition(position=position, offset=offset, delay=delay)
        if not queued:
            self._pass_on(_POSITION)

    def _on_notice(self, topic: str, payload: bytes, retained: bool) -> None:
        notice = self._decode(topic, payload, retained)
        if not isinstance(notice, syncwire.Notice):
            return
        offset, _ = self._offset()
        self._pass_on(control.SyncNotice(notice=notice, offset=offset))

    # -- to the host ------------------------------------------------------------------------

    def _sender(self) -> None:
        link = HostLink(self.socket, self._complain)
        while True:
            item = self._queue.get()
            if item is None:
                break
            if item is _POSITION:
                with self._lock:
                    item, self._position = self._position, None
            if not isinstance(item, control.SyncPosition | control.SyncNotice | control.SyncNotify):
                continue
            link.send(item, "a sync message")
            if isinstance(item, control.SyncPosition):
                self._stop.wait(POSITION_GAP)  # newer ones meanwhile coalesce into one
        link.close()
