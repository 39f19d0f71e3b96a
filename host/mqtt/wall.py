"""A wall of panels over the broker: the bridge's half (docs/mqtt.md, "A wall of panels").

With ``[sync] wall_width`` / ``wall_height`` set, the leader's display is the whole canvas.
Its bridge subscribes to the host's ``frames`` events (each changed frame, raw RGB, as the
preview gets them), compresses the ones it sends (zlib level 1, here, off the host's loop)
and publishes them on ``<sync root>/wall``
at most ``[sync] wall_fps`` times a second (a frame held back by the cap goes out when the
cap allows, so the last frame of a burst is never lost), each stamped with the instant to
show it, ``wall_delay`` seconds after the leader's host pushed it, in the leader's clock;
the last frame again every ``[sync] period`` while nothing changes, so followers know the
leader is there. The whole canvas goes out once and each follower cuts its own slice: the
broker then sends every follower the whole frame, but the leader sends it once (measured
in benchmarks/sync.py).

A follower's bridge checks each message (:func:`decode_frame`: the header's size must be
the configured wall's; decompression is bounded to exactly that many bytes, so a zlib bomb
costs nothing), cuts this sign's slice and passes it to its host as ``wall_frame`` with the
clock offset its :class:`~host.mqtt.sync.SyncLink` measured. Only the newest slice waits
for the host; older ones are dropped (a slow host skips frames, never falls behind).

Payload: a 24-byte header, struct ``!4sHHdQ`` (``LHW1``, width, height, show-at as wall
clock seconds, sequence number), then zlib of the RGB bytes, row-major. QoS 0, not
retained (a lost frame is replaced by the next; a retained one could be a dead leader's).
"""

from __future__ import annotations

import logging
import struct
import threading
import time
import zlib
from collections.abc import Callable
from typing import Final

import numpy as np

from config.model import SyncConfig
from host.ipc import control
from host.ipc.control_client import ControlClient, ControlFailed, HostNotRunning
from host.mqtt.commands import OncePerKind
from host.mqtt.connection import Connection
from host.mqtt.hostlink import HostLink

__all__ = ["HEADER", "WallError", "WallLink", "decode_frame", "encode_frame"]

log = logging.getLogger(__name__)

HEADER: Final = struct.Struct("!4sHHdQ")
MAGIC: Final = b"LHW1"
#: Seconds between attempts to reach a host that does not answer.
HOST_RETRY: Final = 1.0
#: Least seconds between two slices passed to the host (60 a second at most).
SEND_GAP: Final = 1.0 / 60.0


class WallError(ValueError):
    """A wall payload that is not a frame of this wall; the text says why."""


def encode_frame(width: int, height: int, show_at: float, seq: int, rgb_zlib: bytes) -> bytes:
    return HEADER.pack(MAGIC, width, height, show_at, seq) + rgb_zlib


def decode_frame(payload: bytes, width: int, height: int) -> tuple[float, int, bytes]:
    """``(show_at, seq, rgb)`` of a frame of a ``width`` x ``height`` wall.

    :raises WallError: not ours, another size, an implausible time, or pixels that are not
        exactly ``width * height * 3`` bytes (decompression stops there).
    """
    if len(payload) < HEADER.size:
        raise WallError(f"{len(payload)} bytes is too short for a frame")
    magic, w, h, show_at, seq = HEADER.unpack_from(payload)
    if magic != MAGIC:
        raise WallError("not a wall frame (unknown magic)")
    if (w, h) != (width, height):
        raise WallError(f"a {w}x{h} frame for a {width}x{height} wall")
    if not 1e9 <= show_at <= 1e10:
        raise WallError("show-at is not a plausible wall-clock time")
    size = width * height * 3
    inflate = zlib.decompressobj()
    try:
        rgb = inflate.decompress(payload[HEADER.size :], size)
    except zlib.error as exc:
        raise WallError(f"bad zlib data: {exc}") from None
    if len(rgb) != size or inflate.unconsumed_tail or not inflate.eof:
        raise WallError(f"the pixels are not {size} bytes")
    return show_at, seq, rgb


class WallLink:
    """One sign's wall traffic between the broker and its host."""

    def __init__(
        self,
        cfg: SyncConfig,
        connection: Connection,
        socket: str,
        root: str,
        display: tuple[int, int],
        offset: Callable[[], float],
    ) -> None:
        """:param display: this sign's display (width, height): a follower's slice size.
        :param offset: the leader's clock minus ours, as measured now."""
        self.cfg = cfg
        self.connection = connection
        self.socket = socket
        self.topic = f"{root}/wall"
        self.display = display
        self.offset = offset
        self._quiet = OncePerKind()
        self._stop = threading.Event()
        self._cond = threading.Condition()
        #: The newest slice waiting for the host (guarded by _cond).
        self._slice: control.WallFrame | None = None
        self._threads: list[threading.Thread] = []
        #: Frames published (leader) or passed on (follower), and payload bytes sent.
        self.frames = 0
        self.bytes = 0

    def start(self) -> None:
        """Subscribe (before the connection starts) and start the thread."""
        if self.cfg.role == "leader":
            target = self._feed
        else:
            self.connection.subscribe(self.topic, self._on_frame)
            target = self._sender
        thread = threading.Thread(target=target, name="wall", daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(5.0)

    def _complain(self, kind: str, message: str) -> None:
        self._quiet.warn(log, kind, f"wall: {message}")

    # -- leader -----------------------------------------------------------------------------

    def _feed(self) -> None:
        """Publish the host's frames, capped, for as long as it runs."""
        gap = 1.0 / self.cfg.wall_fps
        while not self._stop.is_set():
            try:
                with ControlClient(self.socket, timeout=10.0) as events:
                    events.request(control.Subscribe(kinds=["frames"]))
                    self._publish_frames(events, gap)
            except (HostNotRunning, TimeoutError, ControlFailed, OSError) as exc:
                log.debug("wall: the host does not answer (%s); trying again", exc)
                self._stop.wait(HOST_RETRY)

    def _publish_frames(self, events: ControlClient, gap: float) -> None:
        last: control.FrameEvent | None = None
        packed: tuple[control.FrameEvent, bytes] | None = None  # ``last`` compressed
        held = False  # ``last`` not sent yet (the cap held it back)
        sent_at = -1e9
        while not self._stop.is_set():
            now = time.monotonic()
            wait = (sent_at + gap - now) if held else (sent_at + self.cfg.period - now)
            if wait > 0:
                event = events.receive(timeout=wait)  # None: the wait is over
                if isinstance(event, control.FrameEvent):
                    last, held = event, True
                    continue  # sent when the cap allows (at once if it does)
                now = time.monotonic()
            if last is None:
                sent_at = now  # nothing shown yet: wait for a frame
                continue
            # From the leader's push (its ``at``), not from now: the cap's wait and this
            # thread's own lateness must not delay the followers. A repeat of a still
            # frame is stamped anew (the picture is the same).
            pushed = last.at if held and last.at > 0 else time.time()
            show_at = pushed + self.cfg.wall_delay
            if packed is None or packed[0] is not last:
                packed = (last, zlib.compress(last.rgb, 1))  # once per frame, not per repeat
            payload = encode_frame(last.width, last.height, show_at, last.seq, packed[1])
            if self.connection.publish(self.topic, payload):
                self.frames += 1
                self.bytes += len(payload)
            held, sent_at = False, now

    # -- follower ---------------------------------------------------------------------------

    def _on_frame(self, topic: str, payload: bytes, retained: bool) -> None:
        if retained:
            return
        try:
            show_at, _, rgb = decode_frame(payload, self.cfg.wall_width, self.cfg.wall_height)
        except WallError as exc:
            self._complain("bad", f"ignored a message on {topic}: {exc}")
            return
        width, height = self.display
        x, y = self.cfg.wall_x, self.cfg.wall_y
        canvas = np.frombuffer(rgb, dtype=np.uint8).reshape(
            self.cfg.wall_height, self.cfg.wall_width, 3
        )
        cut = canvas[y : y + height, x : x + width].tobytes()
        frame = control.WallFrame(
            width=width, height=height, rgb=cut, show_at=show_at, offset=self.offset()
        )
        with self._cond:
            self._slice = frame
            self._cond.notify()

    def _sender(self) -> None:
        link = HostLink(self.socket, self._complain)
        while not self._stop.is_set():
            with self._cond:
                while self._slice is None and not self._stop.is_set():
                    self._cond.wait()
                frame, self._slice = self._slice, None
            if frame is None:
                break
            if link.send(frame, "a wall frame"):
                self.frames += 1
            # Whoever floods the topic gets the host at most this many frames a second; the
            # ones arriving meanwhile coalesce into the newest.
            self._stop.wait(SEND_GAP)
        link.close()
