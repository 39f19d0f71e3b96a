"""The control server's side of the preview bus (:mod:`host.ipc.previewbus`).

A :class:`control.PreviewOpen` request gets a read-only descriptor of the segment with its
reply. While at least one such connection stays open the bus is *attached*: the
compositor's next output buffer is the bus's next slot (:attr:`Compositor.next_out`), so
every frame is composed where the web process reads it, and publishing a pushed frame is
a checksum and four word stores (:meth:`PreviewWriter.publish_slot`): no copy, no comparison, no
syscall (the web process drops frames equal to the last it relayed). Once the last such
connection closes the compositor gets a buffer of its own back. The segment is made on
the first request, at the panel's size, and kept until the server closes.

Interface used by :class:`host.control.server.ControlServer`: :meth:`PreviewPublisher.open`
on a request, :meth:`~PreviewPublisher.publish` once per loop pass while attached,
:meth:`~PreviewPublisher.detach` when the last preview connection goes, and
:meth:`~PreviewPublisher.close`.
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
    """Owns the segment, and while attached the compositor's next output buffer."""

    def __init__(self) -> None:
        self.writer: PreviewWriter | None = None
        self._compositor: Any = None  # while attached
        self._frames_seen = -1
        self._slot: Any = None  # the slot the next frame is composed into

    def open(self, sock: socket.socket, request: control.PreviewOpen, compositor: Any,
             frames_shown: int) -> bytes:  # fmt: skip
        """Send the reply to ``request`` with a read-only descriptor on ``sock``, and
        attach to ``compositor`` (its frame on the panel is published at once).

        :returns: what the socket did not take yet (to be queued like any reply).
        :raises Refused: the connection has output waiting (the descriptor would not come
            with the reply's first byte), or the socket would not take the reply now.
        """
        height, width = compositor.out.shape[:2]
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
        if self._compositor is None:
            self._compositor = compositor
            self._frames_seen = frames_shown
            self._slot = compositor.next_out = writer.publish(compositor.out, time.time())
        return reply[sent:]

    def publish(self, frames_shown: int) -> None:
        """Publish the frame pushed since the last call, if one was (once per loop pass).

        A frame composed into the bus's slot is published as it is; one written to the
        compositor's buffer some other way (none is today) is copied there first.
        """
        if frames_shown == self._frames_seen or self._compositor is None:
            return
        self._frames_seen = frames_shown
        writer, compositor = self.writer, self._compositor
        assert writer is not None
        if compositor.out is self._slot:
            self._slot = compositor.next_out = writer.publish_slot(time.time())
        else:
            self._slot = compositor.next_out = writer.publish(compositor.out, time.time())

    def detach(self) -> None:
        """Give the compositor a buffer of its own again (the last preview went)."""
        compositor = self._compositor
        if compositor is not None:
            self._compositor = self._slot = None
            compositor.next_out = None
            compositor.out = compositor.out.copy()  # off the segment

    def close(self) -> None:
        self.detach()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
