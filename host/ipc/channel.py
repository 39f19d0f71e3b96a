"""The control channel: length-prefixed msgpack messages over a Unix stream socket.

Every message is one of the types declared in :mod:`host.ipc.protocol`; each end decodes
only what the other may send, and a message that does not match its declaration is a
:class:`ProtocolError`. Frames do not travel here (see :mod:`host.ipc.framebus`); strips,
logs and status do.

The host side is non-blocking: a worker that stops reading must never block the host, so
unsent bytes are buffered (bounded) and flushed when the socket becomes writable. The
worker side may block on send; it has nothing better to do.
"""

from __future__ import annotations

import errno
import select
import socket
import struct
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from host.errors import ProtocolError
from host.ipc import protocol

#: Largest message accepted, in bytes: room for a long strip (16384 x 64 x 3 = 3 MiB).
MAX_MESSAGE = 8 * 1024 * 1024
#: Most bytes read from one peer per call: a worker that writes without pause must not
#: keep the host loop reading its messages forever; the rest waits for the next turn.
READ_BUDGET = 1024 * 1024
#: Largest backlog of unsent bytes toward a peer before it counts as not reading.
MAX_BACKLOG = 4 * 1024 * 1024

_LEN = struct.Struct("!I")

#: What one end receives: worker messages on the host's side, host messages on a worker's.
M = TypeVar("M")


def encode(message: protocol.Message) -> bytes:
    """Serialise one message with its length prefix.

    :raises ProtocolError: the message is larger than :data:`MAX_MESSAGE`.
    :raises TypeError: a field holds something msgpack cannot carry.
    """
    payload = protocol.encode(message)
    if len(payload) > MAX_MESSAGE:
        tag = type(message).__struct_config__.tag
        raise ProtocolError(f"{tag!r} message of {len(payload)} bytes exceeds {MAX_MESSAGE}")
    return _LEN.pack(len(payload)) + payload


class Channel(Generic[M]):
    """One end of a control connection.

    :param sock: a connected ``AF_UNIX`` stream socket; the channel takes ownership.
    :param peer: a name for error messages (the instance id, or ``"host"``).
    :param decode: what the peer may send: :func:`protocol.decode_from_worker` on the
        host's side, :func:`protocol.decode_from_host` on the worker's.
    :param blocking_send: ``True`` on the worker side (send waits for room).
    """

    def __init__(
        self,
        sock: socket.socket,
        *,
        peer: str,
        decode: Callable[[bytes], M],
        blocking_send: bool = False,
    ) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.peer = peer
        self._decode = decode
        self._blocking_send = blocking_send
        self._inbuf = bytearray()
        self._outbuf = bytearray()
        # Worker threads (logging, data refresh) send concurrently with the main loop; the
        # lock is re-entrant because a log record may be emitted while a send is under way.
        self._lock = threading.RLock()
        self.closed = False

    def fileno(self) -> int:
        return self.sock.fileno()

    @property
    def backlog(self) -> int:
        """Bytes queued but not yet written to the socket."""
        return len(self._outbuf)

    def send(self, message: protocol.Message) -> None:
        """Queue ``message`` and write as much as the socket takes now.

        :raises ProtocolError: the peer let more than ``MAX_BACKLOG`` bytes pile up.
        :raises EOFError: the peer is gone.
        """
        data = encode(message)
        with self._lock:
            if self.closed:
                raise EOFError(f"control channel to {self.peer} is closed")
            self._outbuf += data
            self.flush()
            if self._blocking_send:
                while self._outbuf:
                    select.select([], [self.sock], [], 1.0)
                    self.flush()
            elif len(self._outbuf) > MAX_BACKLOG:
                raise ProtocolError(f"{self.peer} is not reading its control channel")

    def flush(self) -> None:
        """Write queued bytes without blocking."""
        with self._lock:
            while self._outbuf:
                try:
                    sent = self.sock.send(self._outbuf)
                except BlockingIOError:
                    return
                except OSError as exc:
                    if exc.errno in (errno.EPIPE, errno.ECONNRESET):
                        self.closed = True
                        raise EOFError(f"control channel to {self.peer} closed") from None
                    raise
                del self._outbuf[:sent]

    def receive(self) -> list[M]:
        """Read everything available now and return the complete messages.

        :raises EOFError: the peer closed the connection (a crash, or an exit).
        :raises ProtocolError: the peer sent garbage; the channel is unusable afterwards.
        """
        eof = False
        budget = READ_BUDGET
        while budget > 0:
            try:
                chunk = self.sock.recv(min(262144, budget))
            except BlockingIOError:
                break
            except ConnectionResetError:
                eof = True
                break
            if not chunk:
                eof = True
                break
            self._inbuf += chunk
            budget -= len(chunk)
        messages: list[M] = []
        while len(self._inbuf) >= _LEN.size:
            (length,) = _LEN.unpack_from(self._inbuf)
            if length > MAX_MESSAGE:
                raise ProtocolError(f"{self.peer} announced a {length}-byte message")
            if len(self._inbuf) < _LEN.size + length:
                break
            payload = bytes(self._inbuf[_LEN.size : _LEN.size + length])
            del self._inbuf[: _LEN.size + length]
            messages.append(self._decode(payload))
        if eof and not messages:
            self.closed = True
            raise EOFError(f"control channel to {self.peer} closed")
        return messages

    def receive_blocking(self, timeout: float) -> list[M]:
        """Wait up to ``timeout`` seconds for at least one message (worker side, handshake)."""
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return []
        return self.receive()

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self.sock.close()
