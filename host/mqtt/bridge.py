"""``ledhost mqtt-bridge``: the sign on an MQTT broker, reaching the host only through its
control socket.

A process of its own, started and restarted by ``ledhost run`` like the web process
(:mod:`host.supervise.web_child`), so nothing the broker does (down, slow, refusing,
flooding) reaches the host's display loop: the host sees at most one more control
client. Three threads, none of which waits on another:

- the connection's (:mod:`host.mqtt.connection`): keeps the broker connection, takes
  commands (parsed at once, :mod:`host.mqtt.commands`, and queued) and republishes
  everything after each reconnect or when Home Assistant comes online;
- the command thread: sends each queued request to the host, one at a time, and reports
  the connection's state changes (``mqtt_state``, shown in the host's status);
- the main thread: a ``state`` subscription on the control socket; on each event, and at
  least every :data:`REFRESH` seconds (plugin states, the CPU temperature), it reads the
  host's status and publishes what changed (:mod:`host.mqtt.homeassistant`).

Input from the broker is never trusted: a payload that is not a command is logged once per
kind per minute (:class:`~host.mqtt.commands.OncePerKind`) and dropped; a command the host
refuses is logged the same way. The bridge exits when the host that started it is gone
(its parent changed), never because of the broker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from pathlib import Path
from typing import Any, Final

from config.model import SyncConfig
from config.mqtt import MqttConfig
from host.ipc import control
from host.ipc.control_client import ControlClient, ControlFailed, HostNotRunning
from host.mqtt.commands import CommandError, OncePerKind, parse_command
from host.mqtt.connection import Connection, ConnectionSettings, ConnectionState
from host.mqtt.homeassistant import Topics, discovery_messages, node_id, state_messages
from host.mqtt.hostlink import HostLink
from host.mqtt.sync import SyncLink, sync_root
from host.mqtt.wall import WallLink

__all__ = ["REFRESH", "THERMAL_ZONE", "Bridge", "read_cpu_celsius"]

log = logging.getLogger(__name__)

#: Longest the published states may lag the host's status (plugin states, temperature).
REFRESH: Final = 10.0
#: Seconds between attempts to reach a host that does not answer.
HOST_RETRY: Final = 2.0
#: Where the Pi's kernel shows the SoC temperature, in millidegrees Celsius.
THERMAL_ZONE: Final = Path("/sys/class/thermal/thermal_zone0/temp")


def read_cpu_celsius(path: Path) -> float | None:
    """The CPU temperature, or ``None`` where it is not readable (not a Pi, a container)."""
    try:
        text = path.read_text(encoding="ascii").strip()
        return int(text) / 1000.0
    except (OSError, ValueError, UnicodeDecodeError):
        return None


class Bridge:
    """One bridge between a host's control socket and a broker."""

    def __init__(
        self,
        cfg: MqttConfig,
        socket: str,
        hostname: str,
        thermal_zone: Path = THERMAL_ZONE,
        sync: SyncConfig | None = None,
        display: tuple[int, int] = (0, 0),
    ) -> None:
        """:param display: this sign's display size (a wall follower's slice)."""
        self.cfg = cfg
        self.socket = socket
        self.thermal_zone = thermal_zone
        client_id = cfg.client_id_for(hostname)
        self.topics = Topics(cfg.base_topic_for(hostname), cfg.discovery_prefix, node_id(client_id))
        settings = ConnectionSettings.from_config(cfg, hostname, self.topics.availability)
        self.connection = Connection(settings, on_state=self._on_connection_state)
        #: Requests for the host, and connection states to report; None ends the thread.
        self._queue: queue.Queue[control.Request | ConnectionState | None] = queue.Queue(256)
        self._quiet = OncePerKind()
        self._lock = threading.Lock()
        #: What is published now (retained), topic -> payload; guarded by _lock.
        self._published: dict[str, str] = {}
        self._status: dict[str, Any] | None = None
        self._message: str | None = None
        #: Discovery configs of this node seen on the broker that this run may not publish
        #: (left by an earlier run); cleared once a status says which are wanted.
        self._seen_configs: set[str] = set()
        self._parent = os.getppid()
        self._stop = threading.Event()
        #: Synchronised signs' topics (:mod:`host.mqtt.sync`), when ``[sync]`` is on.
        self.sync: SyncLink | None = None
        if sync is not None and sync.role != "off":
            root = sync_root(self.topics.base, sync.topic)
            self.sync = SyncLink(sync, self.connection, socket, root)
        #: A wall of panels' frames (:mod:`host.mqtt.wall`), when ``[sync]`` has a wall.
        self.wall: WallLink | None = None
        if sync is not None and sync.wall and self.sync is not None:
            offset = self.sync.offset
            self.wall = WallLink(sync, self.connection, socket, root, display, offset)

    # -- running --------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until the parent host is gone or :meth:`stop`; returns the exit status."""
        log.info(
            "MQTT bridge: %s as %s, topics under %s",
            self.cfg.broker,
            self.connection.settings.client_id,
            self.topics.base,
        )
        self.connection.subscribe(self.topics.commands, self._on_command)
        if self.topics.prefix:
            self.connection.subscribe(self.topics.ha_status, self._on_ha_status)
            self.connection.subscribe(self.topics.own_configs, self._on_own_config)
        self.connection.on_connected(self._republish)
        if self.sync is not None:
            self.sync.start()
        if self.wall is not None:
            self.wall.start()
        commands = threading.Thread(target=self._serve_commands, name="mqtt-commands", daemon=True)
        commands.start()
        self.connection.start()
        try:
            self._follow_host()
        finally:
            with contextlib.suppress(queue.Full):  # a full queue: the thread is a daemon
                self._queue.put(None, timeout=1.0)
            if self.sync is not None:
                self.sync.stop()
            if self.wall is not None:
                self.wall.stop()
            self.connection.stop()
            commands.join(5.0)
        return 0

    def stop(self) -> None:
        self._stop.set()

    def _host_gone(self) -> bool:
        return self._stop.is_set() or os.getppid() != self._parent

    def _follow_host(self) -> None:
        """Publish the host's state as it changes, for as long as the host is there."""
        while not self._host_gone():
            try:
                with ControlClient(self.socket) as events, ControlClient(self.socket) as asks:
                    events.request(control.Subscribe(kinds=["state"]))
                    while not self._host_gone():
                        self._refresh(asks.request(control.Status()))
                        # Any event or none for REFRESH seconds: read the status again.
                        events.receive(timeout=REFRESH)
            except (HostNotRunning, TimeoutError, ControlFailed, OSError) as exc:
                if self._host_gone():
                    return
                log.debug("the host does not answer (%s); trying again", exc)
                self._stop.wait(HOST_RETRY)

    # -- publishing -----------------------------------------------------------------------

    def _messages(self) -> tuple[dict[str, str], dict[str, str]]:
        """(discovery, states) for the last status read; needs _lock."""
        status = self._status or {}
        celsius = read_cpu_celsius(self.thermal_zone)
        configs = discovery_messages(self.topics, self.cfg.device_name, status, celsius is not None)
        return configs, state_messages(self.topics, status, celsius, self._message)

    def _refresh(self, status: dict[str, Any]) -> None:
        with self._lock:
            self._status = status
            self._publish_changes()

    def _publish_changes(self) -> None:
        """Publish what differs from what is published; clear what went away. Needs _lock."""
        if not self.connection.state.connected or self._status is None:
            return
        configs, states = self._messages()
        wanted = {**configs, **states}
        for topic in self._seen_configs - set(configs):
            self.connection.publish(topic, b"", retain=True)
        self._seen_configs.clear()
        for topic in [t for t in self._published if t not in wanted]:
            # An entity (or a plugin instance's state) that went away: an empty retained
            # message removes it from the broker and, for a config, from Home Assistant.
            if self.connection.publish(topic, b"", retain=True):
                del self._published[topic]
        # Configs before states: Home Assistant must know an entity to take its state.
        for topic, payload in wanted.items():
            if self._published.get(topic) != payload and self.connection.publish(
                topic, payload, retain=True
            ):
                self._published[topic] = payload

    def _republish(self) -> None:
        """After a (re)connect: the broker may have lost everything; send it all again."""
        with self._lock:
            kept = {t for t in self._published if t.startswith(self.topics.prefix + "/")}
            self._published = dict.fromkeys(kept, "")  # removed ones are still cleared
            self._publish_changes()

    # -- what arrives from the broker (on the connection's thread) ---------------------

    def _on_command(self, topic: str, payload: bytes, retained: bool) -> None:
        if retained:
            return  # a command left retained on the broker is not the user asking now
        command = topic.rsplit("/", 1)[-1]
        try:
            request = parse_command(command, payload)
        except CommandError as exc:
            self._complain(exc.kind, f"ignored an MQTT command: {exc}")
            return
        if isinstance(request, control.Notify) and request.text is not None:
            with self._lock:
                self._message = request.text[:255]
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            self._complain("flood", "ignored an MQTT command: too many waiting for the host")

    def _on_ha_status(self, topic: str, payload: bytes, retained: bool) -> None:
        if payload == b"online":  # Home Assistant (re)started: it asks for discovery again
            self._republish()

    def _on_own_config(self, topic: str, payload: bytes, retained: bool) -> None:
        """A discovery config of this node on the broker that this run did not publish
        (left by an earlier run: a plugin instance removed while the bridge was away, or
        put there by someone else): removed at the next publishing unless it is wanted."""
        if not payload:
            return
        with self._lock:
            if topic not in self._published:
                self._seen_configs.add(topic)
                self._publish_changes()

    def _on_connection_state(self, state: ConnectionState) -> None:
        try:
            self._queue.put_nowait(state)
        except queue.Full:
            pass  # the next change reports again

    def _complain(self, kind: str, message: str) -> None:
        self._quiet.warn(log, kind, message)

    # -- the command thread ---------------------------------------------------------------

    def _serve_commands(self) -> None:
        link = HostLink(self.socket, self._complain, timeout=40.0)
        while True:
            item = self._queue.get()
            if item is None:
                break
            if isinstance(item, ConnectionState):
                request: control.Request = control.MqttState(
                    connected=item.connected, error=(item.error or None) and item.error[:1024]
                )
            else:
                request = item
            # Once more on a fresh connection if the host restarted.
            link.send(request, "an MQTT command", attempts=2)
        link.close()
