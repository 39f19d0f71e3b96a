"""A small synchronous client of the control socket, for the CLI and the web process.

Imports only the standard library, msgspec and :mod:`host.ipc.control`, so the web
process can use it without loading the host. One :class:`ControlClient` is one
connection; it is not thread-safe (the web process opens one per request or per stream).

Usage::

    with ControlClient(path) as client:
        status = client.request(control.Status())   # the Ok's data, or ControlFailed
        for event in client.subscribe(["state"]):    # until the host goes away
            ...
"""

from __future__ import annotations

import itertools
import os
import socket
from collections import deque
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from host.ipc import control

__all__ = ["ControlClient", "ControlFailed", "HostNotRunning", "request"]


class HostNotRunning(Exception):
    """No host answers on the control socket (not started, stopped, or another path)."""


class ControlFailed(Exception):
    """The host refused a request; ``code`` is stable, the message names the problem."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ControlClient:
    """One connection to the host's control socket.

    :param path: the socket's path (``[control] socket``, or
        :func:`control.default_socket_path`).
    :param timeout: seconds to wait for the host to answer one request.
    :raises HostNotRunning: nothing listens at ``path``.
    """

    def __init__(self, path: str | None = None, timeout: float = 5.0) -> None:
        self.path = path or control.default_socket_path()
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._buf = bytearray()
        self._pending: deque[bytes] = deque()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(self.path)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            self._sock.close()
            raise HostNotRunning(f"no ledhost host is running (nothing at {self.path})") from exc
        except PermissionError as exc:
            self._sock.close()
            raise HostNotRunning(
                f"cannot reach the host at {self.path}: permission denied "
                "(are you in the ledhost group?)"
            ) from exc

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def send(self, message: Any) -> int:
        """Send one request, giving it a fresh id; returns that id.

        :raises ControlFailed: ``invalid``, the request cannot be encoded (a number beyond
            64 bits, nesting too deep); nothing was sent.
        """
        message.id = next(self._ids)
        try:
            data = control.frame(message)
        except control.Unencodable as exc:
            raise ControlFailed("invalid", f"the request cannot be sent: {exc}") from None
        try:
            self._sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise HostNotRunning("the host closed the control connection") from exc
        return int(message.id)

    def receive(self, timeout: float | None = None) -> Any:
        """The next reply or event; ``None`` if ``timeout`` passes first.

        :raises HostNotRunning: the host closed the connection.
        """
        self._sock.settimeout(self.timeout if timeout is None else timeout)
        while True:
            self._pending.extend(control.split_frames(self._buf, control.MAX_MESSAGE))
            if self._pending:
                return control.decode_from_host(self._pending.popleft())
            try:
                chunk = self._sock.recv(262144)
            except TimeoutError:
                return None
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise HostNotRunning("the host closed the control connection")
            self._buf += chunk

    def drain(self) -> list[Any]:
        """Every reply or event the host has sent so far, without waiting for more.

        For a reader that keeps its own pace (the preview's stream, :mod:`web.events`):
        the host's send then finds nobody asleep on the socket to wake, and the wake-up,
        paid by the sender, stays out of the host's loop.

        :raises HostNotRunning: the host closed the connection.
        """
        self._sock.setblocking(False)
        try:
            while True:
                try:
                    chunk = self._sock.recv(262144)
                except (BlockingIOError, InterruptedError):
                    break
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    raise HostNotRunning("the host closed the control connection")
                self._buf += chunk
        finally:
            self._sock.settimeout(self.timeout)
        self._pending.extend(control.split_frames(self._buf, control.MAX_MESSAGE))
        out = [control.decode_from_host(p) for p in self._pending]
        self._pending.clear()
        return out

    def request(self, message: Any) -> Any:
        """Send ``message`` and return its reply's data.

        :raises ControlFailed: the host refused it.
        :raises TimeoutError: no reply within ``timeout``.
        """
        rid = self.send(message)
        while True:
            reply = self.receive()
            if reply is None:
                raise TimeoutError(f"the host did not answer within {self.timeout:g} s")
            if isinstance(reply, control.Failed):
                raise ControlFailed(reply.code, reply.message)
            if isinstance(reply, control.Ok) and reply.id == rid:
                return reply.data

    def open_preview(self) -> tuple[dict[str, Any], int]:
        """Ask for the preview bus (:class:`control.PreviewOpen`) as the first request on
        this connection: its reply's data and the read-only descriptor that came with it
        (the caller owns it; :class:`host.ipc.previewbus.PreviewReader` reads it).

        :raises ControlFailed: the host refused, or sent no descriptor.
        """
        if self._buf or self._pending:
            raise ControlFailed("busy", "open the preview on a connection of its own")
        rid = self.send(control.PreviewOpen())
        fds: list[int] = []
        try:
            while not self._pending:
                try:
                    chunk, got, _flags, _addr = socket.recv_fds(self._sock, 65536, 4)
                except TimeoutError as exc:
                    why = f"the host did not answer within {self.timeout:g} s"
                    raise TimeoutError(why) from exc
                fds += got
                if not chunk:
                    raise HostNotRunning("the host closed the control connection")
                self._buf += chunk
                self._pending.extend(control.split_frames(self._buf, control.MAX_MESSAGE))
            reply = control.decode_from_host(self._pending.popleft())
            if isinstance(reply, control.Failed):
                raise ControlFailed(reply.code, reply.message)
            if not isinstance(reply, control.Ok) or reply.id != rid or len(fds) != 1:
                why = "the host's preview reply came without its segment"
                raise ControlFailed("bad_reply", why)
            return reply.data, fds.pop()
        finally:
            for fd in fds:
                os.close(fd)

    def events(self, first: Any, idle: float | None = None) -> Iterator[Any]:
        """Send ``first`` (a :class:`control.Subscribe` or a following :class:`control.Logs`)
        and yield the events that follow until the host closes the connection.

        :param idle: stop after this many seconds without an event (``None``: never).
        """
        self.request(first)
        while True:
            event = self.receive(timeout=idle if idle is not None else 3600.0)
            if event is None:
                if idle is not None:
                    return
                continue
            yield event

    def subscribe(self, kinds: list[str], idle: float | None = None) -> Iterator[Any]:
        """Yield events of ``kinds`` (``"state"``, ``"frames"``, ``"logs"``)."""
        return self.events(control.Subscribe(kinds=kinds), idle)  # type: ignore[arg-type]


def request(message: Any, path: str | None = None, timeout: float = 5.0) -> Any:
    """One request on a fresh connection: its reply's data."""
    with ControlClient(path, timeout) as client:
        return client.request(message)
