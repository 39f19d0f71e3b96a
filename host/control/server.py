"""The control socket's server, inside the host's one loop.

Every fd is non-blocking and registered in the host's selector; nothing here waits. Each
client has a bounded input buffer (a request larger than :data:`control.MAX_REQUEST` is
refused and the client dropped) and a bounded output buffer: a client that does not read
its replies or events is dropped once :data:`MAX_BACKLOG` bytes wait for it, so a slow or
dead client never delays a frame. At most :data:`MAX_CLIENTS` clients at once; one more is
told so and closed.

Events go to subscribers from :meth:`ControlServer.tick`, called once per loop pass after
the push: a state event when the mode on screen or the panel's settings changed, a frame
event when a pushed frame differs from the last one sent (so at most the panel's rate; the
RGB bytes as they are: compressing them for a browser is the web process's work, off the
host's loop), and the new records of followed plugin logs. Nothing is computed when
nobody subscribes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from host.control import handlers
from host.control.handlers_base import Pending, Refused
from host.control.hostlog import HostLogRing
from host.control.listen import open_listener
from host.control.preview_bus import PreviewPublisher
from host.control.status_cache import StatusCache
from host.ipc import control

if TYPE_CHECKING:
    from host.control.store_ops import StoreRunner

__all__ = ["MAX_BACKLOG", "MAX_CLIENTS", "ControlServer"]

log = logging.getLogger(__name__)

#: Most clients connected at once (the web process keeps a few, the CLI one each).
MAX_CLIENTS: Final = 32
#: Unsent bytes toward one client before it counts as not reading and is dropped.
MAX_BACKLOG: Final = 1024 * 1024
#: Most bytes read from one client per wakeup.
READ_BUDGET: Final = 64 * 1024


def read_only(request: control.Request) -> bool:
    """Whether ``request`` changes nothing the host loop decides, shows or publishes.

    A wake-up of the loop that served only these needs no decision or push after it
    (:attr:`ControlServer.quiet_events`): a status poll costs the host the reply alone.
    """
    if isinstance(request, control.Logs):
        return not request.follow
    return isinstance(
        request,
        control.Status
        | control.ConfigGet
        | control.ConfigBackup
        | control.SecretList
        | control.SyncState
        | control.MqttState,  # shown in a status, never decided on
    )


def _peer_pid(sock: socket.socket) -> int | None:
    """The process at the other end of a Unix socket (``SO_PEERCRED``), when known."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    return struct.unpack("3i", raw)[0] or None


class _Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.kinds: set[str] = set()
        self.follow: dict[str, int] = {}  # instance -> last seq sent
        self.all_logs = False  # subscribed to every instance's log
        self.pending: list[Pending] = []
        self.preview = False  # holds the preview bus (control.PreviewOpen)
        self.closing = False  # close once the output is flushed
        self.writing = False


class ControlServer:
    """Serve the control socket at ``path`` for ``host`` (see :mod:`host.control.handlers`).

    :param selector: the host's selector; the server registers its fds with callables as
        data, which the host's loop calls with the ready event mask.
    """

    def __init__(self, host: Any, path: str, selector: selectors.BaseSelector) -> None:
        self.host = host
        self.path = path
        self.selector = selector
        self.listener = open_listener(path)
        self.clients: dict[int, _Client] = {}
        #: The host's recent log records, for ``host_logs``.
        self.host_log = HostLogRing()
        self.host_log.attach()
        #: Store commands run as children (host/control/store_ops.py): made, and the
        #: store's code loaded, by the first store or update request (see :attr:`store`).
        self._store: StoreRunner | None = None
        self.dropped = 0  # clients dropped for not reading (for tests and status)
        #: Client fd events that only served :func:`read_only` requests (or flushed): the
        #: host loop skips its decision and push after a wake-up made of these alone.
        self.quiet_events = 0
        self._loud = False
        self._state_key: object = None
        #: Clients with replies pending; subscribers by kind (see :meth:`_regroup`).
        self._waiting: set[_Client] = set()
        self._state_subs: list[_Client] = []
        self._frame_subs: list[_Client] = []
        self._sync_subs: list[_Client] = []
        self._followers: list[_Client] = []
        self._preview_subs: list[_Client] = []
        self._subscribed = False  # any event subscriber or log follower (see step)
        self.preview = PreviewPublisher()
        self._frames_seen = -1
        self._last_frame: bytes | None = None
        self._seq = 0
        #: The status reply, built once for every poller until something changes.
        self.status_cache = StatusCache(lambda: handlers.handle(host, control.Status()))
        selector.register(self.listener, selectors.EVENT_READ, self._on_accept)

    # -- connections -------------------------------------------------------------------

    @property
    def store(self) -> StoreRunner:
        """The store's children and jobs, made on first use: a sign that never asks the
        store for anything never loads its code (issue 15)."""
        if self._store is None:
            from host.control.store_ops import StoreRunner

            self._store = StoreRunner(self.host)
        return self._store

    def _on_accept(self, events: int) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            sock.setblocking(False)
            client = _Client(sock)
            if len(self.clients) >= MAX_CLIENTS:
                with contextlib.suppress(OSError):
                    busy = control.Failed(code="busy", message="too many clients")
                    sock.send(control.frame(busy))
                sock.close()
                continue
            self.clients[sock.fileno()] = client
            self.selector.register(sock, selectors.EVENT_READ, self._callback(client))

    def _callback(self, client: _Client) -> Callable[[int], None]:
        def on_event(events: int) -> None:
            self._loud = False
            if events & selectors.EVENT_WRITE:
                self._flush(client)
            if events & selectors.EVENT_READ and client.sock.fileno() in self.clients:
                self._read(client)
            if not self._loud:
                self.quiet_events += 1

        return on_event

    def _drop(self, client: _Client) -> None:
        self._loud = True
        fd = client.sock.fileno()
        if self.clients.pop(fd, None) is None:
            return
        self._waiting.discard(client)
        self._regroup()
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(client.sock)
        client.sock.close()

    def close(self) -> None:
        """Drop every client and remove the socket."""
        self.host_log.detach()
        self.preview.close()
        for client in list(self.clients.values()):
            self._drop(client)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(self.listener)
        self.listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    # -- input -------------------------------------------------------------------------

    def _read(self, client: _Client) -> None:
        try:
            chunk = client.sock.recv(READ_BUDGET)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(client)
            return
        if client.closing:
            return  # out of step: what it sends now is ignored until it is closed
        payloads: list[bytes] | None = None
        if not client.inbuf:  # the usual case: one whole request, taken as it came
            payloads = control.single_frame(chunk)
        if payloads is None:
            client.inbuf += chunk
            try:
                payloads = control.split_frames(client.inbuf, control.MAX_REQUEST)
            except control.ControlProtocolError as exc:
                self._refuse_and_close(client, f"request too large: {exc}")
                return
        for payload in payloads:
            try:
                request = control.decode_from_client(payload)
            except control.ControlProtocolError as exc:
                self._refuse_and_close(client, str(exc))
                return
            except Exception:  # whatever a client sends, the host loop goes on
                log.exception("control socket: undecodable request")
                self._refuse_and_close(client, "bad request")
                return
            self._serve(client, request)

    def _refuse_and_close(self, client: _Client, message: str) -> None:
        self._send(client, control.Failed(code="bad_request", message=message[:4000]))
        client.closing = True
        client.inbuf.clear()
        if client.sock.fileno() in self.clients and not client.outbuf:
            self._drop(client)

    def _serve(self, client: _Client, request: control.Request) -> None:
        if type(request) is control.Status:  # the one request pollers repeat: no detours
            status = self.status_cache.get(self.host, time.monotonic())
            self._send(client, control.Ok(id=request.id, data=status))
            return
        self.status_cache.clear()  # it may change what a status shows
        if not read_only(request):
            self._loud = True
        try:
            data: Any
            if isinstance(request, control.Subscribe):
                client.kinds.update(request.kinds)
                if "logs" in request.kinds:
                    client.all_logs = True
                    for iid, ring in self.host.supervisor.logs.items():
                        client.follow[iid] = int(ring.stats()["last_seq"])
                self._regroup()
                data = None
            elif isinstance(request, control.PreviewOpen):
                if client.outbuf:
                    raise Refused("busy", "open the preview on a connection of its own")
                host = self.host
                rest = self.preview.open(client.sock, request, host.compositor,
                                         host.stats.frames_shown)  # fmt: skip
                client.preview = True
                self._regroup()
                if rest:
                    self._send_bytes(client, rest)
                return
            elif isinstance(request, control.MqttState):
                self.host.bridge_reported(request.connected, request.error, _peer_pid(client.sock))
                data = None
            elif isinstance(request, control.HostLogs):
                data = self.host_log.records(request.lines)
            elif isinstance(request, (control.StoreSearch, control.StoreList)):
                data = self.store.browse(request, time.monotonic())
            elif isinstance(request, control.StoreChange):
                data = self.store.start(request, time.monotonic())
            elif isinstance(request, control.StoreUpload):
                data = self.store.upload(request, time.monotonic())
            elif isinstance(request, control.StoreJob):
                data = self.store.job(request)
            elif isinstance(request, control.UpdateCheck):
                from host.control import update_ops

                data = update_ops.check(self.host, request, time.monotonic())
            elif isinstance(request, control.UpdateStart):
                from host.control import update_ops

                data = update_ops.start(self.store, request, time.monotonic())
            elif isinstance(request, control.Logs) and request.follow:
                data = handlers.handle(self.host, request)
                ring = self.host.supervisor.logs[request.instance]
                client.follow[request.instance] = int(ring.stats()["last_seq"])
                self._regroup()
            else:
                data = handlers.handle(self.host, request)
        except Refused as exc:
            self._send(client, control.Failed(code=exc.code, message=str(exc), id=request.id))
            return
        except Exception:  # a bug of ours must not take the host down with it
            log.exception("control request %s failed", type(request).__name__)
            self._send(
                client,
                control.Failed(code="internal", message="the host failed to carry it out",
                               id=request.id),
            )  # fmt: skip
            return
        if isinstance(data, Pending):
            client.pending.append(data)
            self._waiting.add(client)
            return
        self._state_key = None  # a request may change what subscribers see
        try:
            self._send(client, control.Ok(id=request.id, data=data))
        except control.Unencodable:
            log.exception("control reply to %s cannot be encoded", type(request).__name__)
            self._send(client, control.Failed(code="internal", message="unencodable reply",
                                              id=request.id))  # fmt: skip

    # -- output ------------------------------------------------------------------------

    def _send(self, client: _Client, message: Any) -> None:
        self._send_bytes(client, control.frame(message))

    def _send_bytes(self, client: _Client, data: bytes) -> None:
        """Send one framed message; what the socket does not take now waits in a buffer."""
        if client.sock.fileno() not in self.clients:
            return
        if not client.outbuf:  # the usual case: straight to the socket, no buffer copies
            try:
                sent = client.sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._drop(client)
                return
            if sent == len(data):
                if client.closing:
                    self._drop(client)
                return
            data = data[sent:]
        client.outbuf += data
        self._flush(client)
        if client.sock.fileno() in self.clients and len(client.outbuf) > MAX_BACKLOG:
            log.warning("control socket: dropping a client that does not read")
            self.dropped += 1
            self._drop(client)

    def _flush(self, client: _Client) -> None:
        while client.outbuf:
            try:
                sent = client.sock.send(client.outbuf)
            except BlockingIOError:
                break
            except OSError:
                self._drop(client)
                return
            del client.outbuf[:sent]
        if client.closing and not client.outbuf:
            self._drop(client)
            return
        want_write = bool(client.outbuf)
        if want_write != client.writing:
            client.writing = want_write
            mask = selectors.EVENT_READ | (selectors.EVENT_WRITE if want_write else 0)
            self.selector.modify(client.sock, mask, self._callback(client))

    # -- events ------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Finish pending replies and send subscribers what changed (once per loop pass).

        Runs after every push: at 60 frames a second with a preview open, its Python is
        most of what the preview costs the host (issue 18), so the subscribers are sorted
        by kind when they change (:meth:`_regroup`), not here, and a frame is encoded once.
        """
        store = self._store
        if store is not None and store.jobs:
            store.tick(now)
        for client in list(self._waiting):
            for pending in list(client.pending):
                reply = pending.poll(now)
                if reply is not None:
                    client.pending.remove(pending)
                    self._send(client, reply)
            if not client.pending:
                self._waiting.discard(client)
        if self._state_subs:
            self._publish_state()
        if self._frame_subs and self.host.stats.frames_shown != self._frames_seen:
            self._publish_frame()
        if self._preview_subs:
            self.preview.publish(self.host.stats.frames_shown)
        if self._sync_subs:
            self._publish_sync()
        for client in self._followers:
            if client.all_logs:
                for iid in self.host.supervisor.logs:
                    client.follow.setdefault(iid, 0)  # a new instance: all of it is new
            for iid in list(client.follow):
                if client.sock.fileno() in self.clients:
                    self._publish_logs(client, iid)

    @property
    def steps_alone(self) -> bool:
        """Whether a scroll step leaves this server nothing but the preview bus's frame
        (:meth:`step`): no reply pending, no event subscriber, no log follower. The host's
        scroll steps may then glide past its loop (``Host._glide`` calls :meth:`step`)."""
        return not (self._waiting or self._subscribed)

    def step(self, now: float) -> None:
        """A push-only turn's share (a scroll step): the whole :meth:`tick` only if a reply
        is pending or a client subscribed to events; else only the preview bus's frame
        (issue 18: a tick per step cost a preview's host as much as publishing did)."""
        if self._waiting or self._subscribed:
            self.tick(now)
        elif self._preview_subs:
            self.preview.publish(self.host.stats.frames_shown)

    def _regroup(self) -> None:
        """Sort the subscribers by what they asked for (after a subscription or a drop)."""
        clients = list(self.clients.values())
        self._state_subs = [c for c in clients if "state" in c.kinds]
        self._frame_subs = [c for c in clients if "frames" in c.kinds]
        self._sync_subs = [c for c in clients if "sync" in c.kinds]
        self._followers = [c for c in clients if c.all_logs or c.follow]
        self._preview_subs = [c for c in clients if c.preview]
        subs = (self._state_subs, self._frame_subs, self._sync_subs, self._followers)
        self._subscribed = any(subs)
        if not self._preview_subs:
            self.preview.detach()

    def _publish_state(self) -> None:
        host = self.host
        key = (len(host.stats.modes_shown), host.compositor.brightness, host.director.powered)
        if key != self._state_key:
            self._state_key = key
            data = control.frame(control.StateEvent(data=handlers.display(host)))
            for client in self._state_subs:
                self._send_bytes(client, data)

    def _publish_sync(self) -> None:
        sync = self.host.sync.event(time.monotonic(), time.time())
        if sync is not None:
            data = control.frame(control.SyncEvent(data=sync))
            for client in self._sync_subs:
                self._send_bytes(client, data)

    def _publish_frame(self) -> None:
        self._frames_seen = self.host.stats.frames_shown
        out = self.host.compositor.out
        rgb = out.tobytes()
        if rgb == self._last_frame:
            return
        self._last_frame = rgb
        self._seq += 1
        height, width = out.shape[:2]
        event = control.FrameEvent(width=width, height=height, seq=self._seq, rgb=rgb,
                                   at=time.time())  # fmt: skip
        data = control.frame(event)
        for client in self._frame_subs:
            self._send_bytes(client, data)

    def _publish_logs(self, client: _Client, instance: str) -> None:
        ring = self.host.supervisor.logs.get(instance)
        if ring is None:
            return
        for record in ring.records(since_seq=client.follow[instance]):
            self._send(
                client,
                control.LogEvent(
                    instance=instance,
                    level=handlers.log_record(record)["level"],
                    text=record.message[:65536],
                ),
            )
            client.follow[instance] = record.seq


def start_control(host: Any) -> ControlServer | None:
    """Open the control socket of ``host``'s config; ``None`` (logged) if it cannot be.

    The panel matters more than its remote: a socket that cannot be opened (another host
    on the same path, an unsafe folder) is one error line, and the host runs on without it.
    """
    from host.errors import HostError

    path = host.cfg.control.socket or control.default_socket_path()
    try:
        return ControlServer(host, os.path.expanduser(path), host.selector)
    except HostError as exc:
        log.error("%s; running without a control socket", exc)
        return None
