"""``GET /api/v1/events``: the host's event stream relayed to a browser as server-sent events.

The admin UI's live preview and its "what is showing" line come from here. Each stream is
one control-socket subscription (:class:`host.ipc.control.Subscribe`) held by one waitress
thread, so streams are capped (:data:`MAX_STREAMS`, 503 beyond it) to keep threads for the
rest of the API. Event format (one SSE event per host event)::

    event: frame   data: {"width": 64, "height": 32, "seq": 7, "rgb_zlib": "<base64>",
                          "at": 1796490000.25}
    event: state   data: <what GET /api/v1/status's "display" holds>
    event: log     data: {"instance": "clock", "level": "INFO", "text": "..."}

``rgb_zlib`` is zlib (RFC 1950) of the panel's RGB bytes, row-major, 3 bytes a pixel; a
stream relays only changed frames, at most one per frame the host shows; ``seq`` grows with
every frame the host pushes (it may skip numbers); ``at`` is the host's wall clock when it
published it. A comment line every :data:`KEEPALIVE` seconds lets waitress notice a client
that went away.

What a preview costs the host (issue 18: at most 1.1x its CPU without one) decides the
shape of a stream with frames. No frame travels as a message: the stream's connection asks
for the preview bus (:class:`host.ipc.control.PreviewOpen`, :mod:`host.ipc.previewbus`),
a shared-memory segment the host composes each frame into and this process may only
read. The stream's thread looks at it at its own pace (:data:`PACE`), so the host never
encodes, sends or wakes anyone for a frame; this process compresses and encodes each new
frame once, for every stream (:func:`encode` keeps the last one), and relays only frames
that differ from the last it relayed. Of several frames pushed within one pace only the
newest is seen (a browser would paint only that one): the preview runs at the panel's rate
up to 60 frames a second. After :data:`IDLE_LOOKS` looks without a new frame (a clock, a
still image) the stream waits on the socket for up to :data:`IDLE_PACE` between looks.

Back-pressure, end to end: a browser that stops reading fills waitress's bounded output
buffer, the stream's thread blocks on its write and stops reading the socket, and the host
drops that subscriber once its queue passes its cap; the host's loop never waits. The
stream then ends and the browser's ``EventSource`` reconnects.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any, Final

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue

from host.ipc import control
from host.ipc.control_client import ControlClient, HostNotRunning
from host.ipc.previewbus import PreviewReader
from web.errors import ApiError

bp = Blueprint("api_events", __name__, url_prefix="/api/v1")

#: Streams open at once; each holds one of waitress's threads (web/server.py).
MAX_STREAMS: Final = 3
#: Seconds between keep-alive comments when the host sends nothing.
KEEPALIVE: Final = 15.0
KINDS: Final = ("state", "frames", "logs")
#: Seconds between two reads of a stream that carries frames: a browser paints at most
#: 60 times a second, so waiting up to one paint for a frame loses nothing it would show.
PACE: Final = 1 / 60
#: Empty looks in a row after which a stream waits on the socket again (50 ms: the host
#: sends fewer than 20 frames a second then, and a wake-up per frame costs it little).
IDLE_LOOKS: Final = 3
#: Seconds between two looks at the preview bus once frames stopped: a still panel costs
#: this process 20 cheap looks a second, and a frame after a pause is at most this late.
IDLE_PACE: Final = 0.05

_slots = threading.BoundedSemaphore(MAX_STREAMS)


def encode(event: Any) -> str:
    """One host event as an SSE message (a frame is encoded once for all streams)."""
    if isinstance(event, control.FrameEvent):
        return _encode_frame(event)
    if isinstance(event, control.LogEvent):
        data: Any = {"instance": event.instance, "level": event.level, "text": event.text}
        name = "log"
    else:
        data = event.data
        name = "state"
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


_last_frame: tuple[tuple[int, float], str] | None = None


def _encode_frame(event: control.FrameEvent) -> str:
    """A frame as its SSE message; the newest is kept, since every stream sends it."""
    global _last_frame
    key = (event.seq, event.at)  # a host's seq and send time: its frame, whatever stream
    cached = _last_frame
    if cached is not None and cached[0] == key:
        return cached[1]
    data = {
        "width": event.width,
        "height": event.height,
        "seq": event.seq,
        "rgb_zlib": base64.b64encode(zlib.compress(event.rgb, 1)).decode("ascii"),
        "at": event.at,
    }
    text = f"event: frame\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
    _last_frame = (key, text)
    return text


def _kinds() -> list[str]:
    asked = [k for k in request.args.get("kinds", "state").split(",") if k]
    unknown = sorted(set(asked) - set(KINDS))
    if unknown or not asked:
        raise ApiError(400, "invalid", f"kinds: a comma-separated subset of {', '.join(KINDS)}")
    return list(dict.fromkeys(asked))


@bp.get("/events")
def events() -> ResponseReturnValue:
    """Stream ``kinds`` (``state``, ``frames``, ``logs``; default ``state``) as SSE."""
    kinds = _kinds()
    if not _slots.acquire(blocking=False):
        raise ApiError(
            503, "too_many_streams", f"at most {MAX_STREAMS} event streams at once; close one"
        )
    frames: _BusFrames | None = None
    try:
        client = ControlClient(current_app.config.get("LEDHOST_SOCKET"))
        try:
            if "frames" in kinds:  # the segment's reply must be the connection's first
                frames = _BusFrames(PreviewReader(client.open_preview()[1]))
            others = [k for k in kinds if k != "frames"]
            if others:
                client.request(control.Subscribe(kinds=others))  # type: ignore[arg-type]
        except BaseException:
            client.close()
            if frames is not None:
                frames.close()
            raise
    except BaseException:
        _slots.release()
        raise
    return Response(
        _stream(client, frames),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


class _BusFrames:
    """New frames on the preview bus, as the host's frame events would carry them."""

    def __init__(self, reader: PreviewReader) -> None:
        self.reader = reader
        self._last = b""

    def read(self) -> control.FrameEvent | None:
        """The newest frame if one came since the last look and differs from the last."""
        got = self.reader.read()
        if got is None or got[2] == self._last:
            return None
        gen, at, rgb = got
        self._last = rgb
        r = self.reader
        return control.FrameEvent(width=r.width, height=r.height, seq=gen, rgb=rgb, at=at)

    def close(self) -> None:
        self.reader.close()


def _stream(client: ControlClient, frames: _BusFrames | None) -> Iterator[str]:
    try:
        yield "retry: 2000\n\n"
        if frames is not None:
            yield from _paced(client, frames)  # until the host goes away
        while True:  # state and logs only: rare events, relayed as they come
            event = client.receive(timeout=KEEPALIVE)
            yield ": keepalive\n\n" if event is None else encode(event)
    except HostNotRunning:
        yield "event: closed\ndata: {}\n\n"
    finally:
        client.close()
        if frames is not None:
            frames.close()
        _slots.release()


def _paced(client: ControlClient, frames: _BusFrames | None = None) -> Iterator[str]:
    """The events that arrived since the last look and the newest new frame, every
    :data:`PACE` while frames come; after :data:`IDLE_LOOKS` empty looks (slower than 20
    frames a second: a clock, a still image) it waits on the socket instead, for the next
    event or (with the preview bus) :data:`IDLE_PACE`, keeping alive meanwhile.

    Frames come from ``frames`` (the preview bus); frame events on the socket, as a host
    sends them to a ``frames`` subscriber, are relayed the same way (the newest of a look).
    """
    empty = 0
    silent_since = time.monotonic()
    while True:
        if empty >= IDLE_LOOKS:
            first = client.receive(timeout=KEEPALIVE if frames is None else IDLE_PACE)
            events = [] if first is None else [first, *client.drain()]
            if first is None and frames is None:
                yield ": keepalive\n\n"
                continue
        else:
            events = client.drain()
        frame = frames.read() if frames is not None else None
        newest = frame or next(
            (e for e in reversed(events) if isinstance(e, control.FrameEvent)), None
        )
        for event in events:
            if event is newest or not isinstance(event, control.FrameEvent):
                yield encode(event)
        if frame is not None:
            yield encode(frame)
        if events or frame is not None:
            empty, silent_since = 0, time.monotonic()
        else:
            empty += 1
            if time.monotonic() - silent_since >= KEEPALIVE:
                silent_since = time.monotonic()
                yield ": keepalive\n\n"
        if empty < IDLE_LOOKS:
            time.sleep(PACE)
