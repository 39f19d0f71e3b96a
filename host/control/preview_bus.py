"""The control server's side of the preview bus (:mod:`host.ipc.previewbus`).

A :class:`control.PreviewOpen` request gets a read-only descriptor of the segment with its
reply; from then on, while that connection stays open, every frame the host pushes that
differs from the last one is copied into the segment (a copy and one ``pwrite``, no
message, no encoding), and the web process reads it at its own pace. The segment is made
on the first request, at the panel's size, and kept until the server closes.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from host.control.handlers_base import Refused
from host.ipc import control
from host.ipc.previewbus import PreviewWriter


class PreviewPublisher:
    """Owns the segment; :meth:`publish` runs once per loop pass that pushed a frame."""

    def __init__(self) -> None:
        self.writer: PreviewWriter | None = None
        self._frames_seen = -1
        self._last = b""

    def open(self, sock: socket.socket, request: control.PreviewOpen, out: Any) -> bytes:
        """Send the reply to ``request`` with a read-only descriptor on ``sock``.

        :returns: what the socket did not take yet (to be queued like any reply).
        :raises Refused: the connection has output waiting (the descriptor would not come
            with the reply's first byte), or the socket would not take the reply now.
        """
        height, width = out.shape[:2]
        if self.writer is None:
            self.writer = PreviewWriter(width, height)
        writer = self.writer
        data = {"width": writer.width, "height": writer.height, "slots": writer.slots}
        reply = control.frame(control.Ok(id=request.id, data=data))
        fd = writer.reader_fd()
        try:
            sent = socket.send_fds(sock, [reply], [fd])
        except BlockingIOError:
            raise Refused("busy", "the connection is not taking replies; try again") from None
        finally:
            os.close(fd)
        return reply[sent:]

    def publish(self, out: Any, frames_shown: int) -> None:
        """Copy the frame on the panel into the segment, if the host pushed one since and
        it differs from the last one written (scrolling text at 60 fps changes 24 times a
        second: the comparison costs a tenth of a write)."""
        if self.writer is not None and frames_shown != self._frames_seen:
            self._frames_seen = frames_shown
            rgb = out.tobytes()
            if rgb != self._last:
                self._last = rgb
                self.writer.publish(rgb, time.time())

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
