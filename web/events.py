"""``GET /api/v1/events``: the host's event stream relayed to a browser as server-sent events.

The admin UI's live preview and its "what is showing" line come from here. Each stream is
one control-socket subscription (:class:`host.ipc.control.Subscribe`) held by one waitress
thread, so streams are capped (:data:`MAX_STREAMS`, 503 beyond it) to keep threads for the
rest of the API. Event format (one SSE event per host event)::

    event: frame   data: {"width": 64, "height": 32, "seq": 7, "rgb_zlib": "<base64>",
                          "at": 1796490000.25}
    event: state   data: <what GET /api/v1/status's "display" holds>
    event: log     data: {"instance": "clock", "level": "INFO", "text": "..."}

``rgb_zlib`` is zlib (RFC 1950) of the panel's RGB bytes, row-major, 3 bytes a pixel; the
host sends only changed frames, at most one per frame it shows; ``at`` is the host's wall
clock when it sent the frame. A comment line every
:data:`KEEPALIVE` seconds lets waitress notice a client that went away.

What a preview costs the host (issue 18: at most 1.1x its CPU without one) decides the
shape of a stream with frames. The host sends a frame's raw bytes; this process
compresses and encodes each frame once, for every stream (:func:`encode` keeps the last
one). The stream's thread reads the socket at its own pace (:data:`PACE`) instead of
sleeping on it while frames come: a wake-up is paid by the sender, so a reader asleep on
the socket made every frame cost the host's loop a wake-up of this process. Of several
frames that arrive within one pace only the newest is relayed (a browser would paint only
that one): the preview runs at the panel's rate up to 60 frames a second. When frames
stop coming (:data:`IDLE_LOOKS`), the stream waits on the socket again.

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
    try:
        client = ControlClient(current_app.config.get("LEDHOST_SOCKET"))
        client.request(control.Subscribe(kinds=kinds))  # type: ignore[arg-type]
    except BaseException:
        _slots.release()
        raise
    return Response(
        _stream(client, "frames" in kinds),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _stream(client: ControlClient, paced: bool) -> Iterator[str]:
    try:
        yield "retry: 2000\n\n"
        if paced:
            yield from _paced(client)  # until the host goes away
        while True:  # state and logs only: rare events, relayed as they come
            event = client.receive(timeout=KEEPALIVE)
            yield ": keepalive\n\n" if event is None else encode(event)
    except HostNotRunning:
        yield "event: closed\ndata: {}\n\n"
    finally:
        client.close()
        _slots.release()


def _paced(client: ControlClient) -> Iterator[str]:
    """The events that arrived since the last look, every :data:`PACE` while frames come;
    after :data:`IDLE_LOOKS` empty looks (slower than 20 frames a second: a clock, a still
    image) it waits on the socket for the next event instead, keeping alive meanwhile."""
    empty = 0
    while True:
        if empty >= IDLE_LOOKS:
            first = client.receive(timeout=KEEPALIVE)
            if first is None:
                yield ": keepalive\n\n"
                continue
            events = [first, *client.drain()]
        else:
            events = client.drain()
        newest = next((e for e in reversed(events) if isinstance(e, control.FrameEvent)), None)
        for event in events:
            if event is newest or not isinstance(event, control.FrameEvent):
                yield encode(event)
        empty = 0 if events else empty + 1
        time.sleep(PACE)
