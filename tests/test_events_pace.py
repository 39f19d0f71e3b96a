"""The preview stream's pace (web/events.py): the newest of the frames that came within one
look, everything else in order, and a wait on the socket once frames stop.

The stream against a real host is in tests/test_web_pages.py (its frames equal frames the
host pushed); here a scripted connection stands in for the host, so that which events
arrive between two looks is exact rather than left to the machine's timing.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections import deque
from typing import Any

import pytest

from host.ipc import control
from host.ipc.previewbus import PreviewReader, PreviewWriter
from web import events


def _frame(seq: int) -> control.FrameEvent:
    return control.FrameEvent(width=2, height=1, seq=seq, rgb=bytes([seq] * 6), at=seq + 0.5)


class _Script:
    """What the host sent before each look; ``receive`` is a wait on the socket."""

    def __init__(self, looks: list[list[Any]], waited: list[Any]) -> None:
        self.looks = deque(looks)
        self.waited = deque(waited)
        self.calls: list[str] = []

    def drain(self) -> list[Any]:
        self.calls.append("drain")
        return self.looks.popleft() if self.looks else []

    def receive(self, timeout: float | None = None) -> Any:
        self.calls.append("receive")
        if not self.waited:
            raise events.HostNotRunning("gone")
        return self.waited.popleft()


def _sse(text: str) -> tuple[str, Any]:
    head, data = text.strip().split("\n")
    return head.removeprefix("event: "), json.loads(data.removeprefix("data: "))


def test_the_newest_frame_of_a_look_is_relayed_and_everything_else_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events.time, "sleep", lambda s: None)
    state = control.StateEvent(data={"showing": "a:fill"})
    looks = [[_frame(1), state, _frame(2), _frame(3)], [], [_frame(4)], [], [], []]
    script = _Script(looks, waited=[None, _frame(5)])
    out = []
    with pytest.raises(events.HostNotRunning):
        for message in events._paced(script):  # type: ignore[arg-type]
            out.append(message)
    relayed = [_sse(m) if m.startswith("event:") else ("comment", m) for m in out]
    assert [(kind, data.get("seq") if kind == "frame" else data) for kind, data in relayed] == [
        ("state", {"showing": "a:fill"}),
        ("frame", 3),
        ("frame", 4),
        ("comment", ": keepalive\n\n"),
        ("frame", 5),
    ]
    # After IDLE_LOOKS empty looks it waits on the socket (a keep-alive when that times out).
    assert script.calls[:7] == ["drain"] * 6 + ["receive"]
    kind, data = relayed[1]
    assert zlib.decompress(base64.b64decode(data["rgb_zlib"])) == bytes([3] * 6)
    assert (data["width"], data["height"], data["at"]) == (2, 1, 3.5)


def test_a_frame_is_encoded_once_for_every_stream() -> None:
    frame = _frame(7)
    again = control.FrameEvent(width=2, height=1, seq=7, rgb=frame.rgb, at=frame.at)
    assert events.encode(frame) is events.encode(again)
    assert events.encode(_frame(8)) != events.encode(frame)


def test_frames_from_the_preview_bus_newest_of_a_look_and_only_when_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the preview bus (a real segment) the frames come from shared memory: the newest
    written before a look, none when it equals the last relayed; after IDLE_LOOKS empty
    looks the stream waits on the socket for at most IDLE_PACE between looks."""
    monkeypatch.setattr(events.time, "sleep", lambda s: None)
    writer = PreviewWriter(2, 1)
    frames = events._BusFrames(PreviewReader(writer.reader_fd()))
    state = control.StateEvent(data={"showing": "a:fill"})
    # Before each look (a drain, or once idle a wait on the socket): the pixel values
    # the host pushes, and what the socket holds.
    plan = deque([([1, 2], [state]), ([2], []), ([], []), ([], []), ([3], [])])
    timeouts: list[float | None] = []

    class Host(_Script):
        def _next(self, call: str) -> list[Any]:
            self.calls.append(call)
            pushed, sent = plan.popleft() if plan else ([], [])
            for value in pushed:
                writer.publish(bytes([value] * 6), value + 0.5)
            return sent

        def drain(self) -> list[Any]:
            return self._next("drain")

        def receive(self, timeout: float | None = None) -> Any:
            timeouts.append(timeout)
            if len(timeouts) > 2:
                raise events.HostNotRunning("gone")
            sent = self._next("receive")
            return sent[0] if sent else None

    script = Host([], waited=[])
    out = []
    try:
        with pytest.raises(events.HostNotRunning):
            for message in events._paced(script, frames):  # type: ignore[arg-type]
                out.append(message)
    finally:
        frames.close()
        writer.close()
    relayed = [_sse(m) for m in out]
    assert [(kind, data.get("seq") if kind == "frame" else data) for kind, data in relayed] == [
        ("state", {"showing": "a:fill"}),
        ("frame", 2),  # the newest of frames 1 and 2; frame 3 repeats its pixels
        ("frame", 4),  # pushed while the stream waited on the socket
    ]
    kind, data = relayed[2]
    assert zlib.decompress(base64.b64decode(data["rgb_zlib"])) == bytes([3] * 6)
    assert (data["width"], data["height"], data["at"]) == (2, 1, 3.5)
    assert script.calls == ["drain"] * 4 + ["receive"] + ["drain"] * 3 + ["receive"]
    assert timeouts == [events.IDLE_PACE] * 3
