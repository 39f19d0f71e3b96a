"""One MQTT connection, kept up: settings, TLS, auth, reconnects, last will, pub/sub.

Nothing here knows Home Assistant or ledhost's topics: :mod:`host.mqtt.homeassistant` and
the bridge (:mod:`host.mqtt.bridge`) use it, and so can later parts (synchronised signs)
that add topics of their own without touching it. paho-mqtt does the protocol; this
module owns the policy around it.

Interface::

    conn = Connection(ConnectionSettings.from_config(cfg.mqtt, socket.gethostname(),
                                                     availability_topic="ledhost/x/availability"))
    conn.subscribe("ledhost/x/set/+", handler)   # handler(topic, payload: bytes, retained)
    conn.on_connected(callback)                  # after every (re)connect: republish state
    conn.start()                                 # its own thread; never raises
    conn.publish("ledhost/x/state/power", "ON", retain=True)   # False when not connected
    conn.state                                   # ConnectionState: connected, error, since
    conn.stop()                                  # "offline" published, then disconnect

- **Its own thread.** :meth:`Connection.start` runs the connect/loop/backoff cycle on a
  daemon thread; handlers and ``on_connected`` callbacks run on it, so they must be quick
  (hand work to a queue). :meth:`publish` may be called from any thread (paho locks) and
  never blocks: while disconnected it returns ``False`` and the message is dropped; what
  must survive a reconnect is republished by an ``on_connected`` callback.
- **Reconnects with backoff and jitter** (:func:`next_delay`): 1 s doubling to 60 s, plus up
  to 25 % at random so a fleet of signs does not hit a restarted broker in step. A refusal
  that waiting will not fix (bad credentials, not authorised, a TLS file that cannot be
  read) goes straight to the longest delay, logged once, and stays in :attr:`state` until
  a connection succeeds: the bridge never exits over it, so there is no restart loop.
- **Availability with a last will.** The broker publishes ``offline`` (retained) on the
  availability topic when the connection drops without a goodbye; on every connect the
  connection publishes ``online`` (retained) first, and :meth:`stop` publishes ``offline``.
- **Subscriptions are kept**: made again after each reconnect (the session is clean).
- **MQTT 5**, so the broker is told the largest packet we take (:data:`MAX_PACKET`).
"""

from __future__ import annotations

import logging
import os
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, final

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from config.mqtt import MqttConfig

__all__ = [
    "FIRST_DELAY",
    "MAX_DELAY",
    "OFFLINE",
    "ONLINE",
    "Connection",
    "ConnectionSettings",
    "ConnectionState",
    "Handler",
    "next_delay",
]

log = logging.getLogger(__name__)

#: First wait before a reconnect, and the longest one (seconds).
FIRST_DELAY: Final = 1.0
MAX_DELAY: Final = 60.0
#: Largest share of a delay added at random.
JITTER: Final = 0.25
#: Seconds a TCP connect (and TLS handshake) may take before it counts as failed.
CONNECT_TIMEOUT: Final = 5.0
#: Largest packet the broker may send us (MQTT 5's Maximum Packet Size, which the broker
#: honours by dropping bigger messages for this client): whoever may publish to a topic we
#: subscribe to must not make the bridge read megabytes. Commands are far smaller.
MAX_PACKET: Final = 64 * 1024
#: Seconds the broker may take to answer a connect (CONNACK) before it counts as down:
#: a broker that accepts TCP and then says nothing must not hold the bridge until the
#: keep-alive runs out.
CONNACK_TIMEOUT: Final = 10.0
#: Availability payloads (Home Assistant's defaults).
ONLINE: Final = "online"
OFFLINE: Final = "offline"

#: ``handler(topic, payload, retained)``, called on the connection's thread.
Handler = Callable[[str, bytes, bool], None]


def next_delay(
    failures: int, *, permanent: bool = False, rng: random.Random | None = None
) -> float:
    """Seconds to wait before the next attempt after ``failures`` failures in a row.

    Exponential (``FIRST_DELAY * 2**(failures-1)``, capped at :data:`MAX_DELAY`) with up to
    :data:`JITTER` added; a ``permanent`` refusal waits the longest at once.
    """
    base = MAX_DELAY if permanent else min(MAX_DELAY, FIRST_DELAY * 2 ** max(0, failures - 1))
    return base * (1.0 + JITTER * (rng or random).random())


@final
@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Everything one connection needs; built from ``[mqtt]`` by :meth:`from_config`."""

    host: str
    port: int
    client_id: str
    keepalive: int = 60
    tls: bool = False
    ca_file: str = ""
    client_cert: str = ""
    client_key: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    #: Where ``online``/``offline`` go (retained); "" for no availability or last will.
    availability_topic: str = ""
    #: See :data:`CONNACK_TIMEOUT`.
    connack_timeout: float = CONNACK_TIMEOUT

    @classmethod
    def from_config(
        cls, cfg: MqttConfig, hostname: str, availability_topic: str = ""
    ) -> ConnectionSettings:
        expand = os.path.expanduser
        return cls(
            host=cfg.host,
            port=cfg.port,
            client_id=cfg.client_id_for(hostname),
            keepalive=cfg.keepalive,
            tls=cfg.tls,
            ca_file=expand(cfg.ca_file) if cfg.ca_file else "",
            client_cert=expand(cfg.client_cert) if cfg.client_cert else "",
            client_key=expand(cfg.client_key) if cfg.client_key else "",
            username=cfg.username,
            password=cfg.password,
            availability_topic=availability_topic,
        )


@final
@dataclass(frozen=True, slots=True)
class ConnectionState:
    """Whether the connection is up, and why not."""

    connected: bool = False
    #: The last failure, as a sentence naming the broker; None once connected.
    error: str | None = None
    #: Wall-clock time of the last change.
    since: float = 0.0
    #: Whether the failure is one waiting will not fix (credentials, TLS files).
    permanent: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"connected": self.connected, "error": self.error, "since": round(self.since, 3)}


class _Refused(Exception):
    """A failure to connect; ``permanent`` when retrying soon cannot help."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Connection:
    """One kept-up connection to the broker (see the module docstring)."""

    def __init__(
        self,
        settings: ConnectionSettings,
        on_state: Callable[[ConnectionState], None] | None = None,
    ) -> None:
        self.settings: Final = settings
        self.state = ConnectionState(since=time.time())
        self._on_state = on_state
        self._handlers: dict[str, tuple[Handler, int]] = {}
        self._on_connected: list[Callable[[], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._refusal: _Refused | None = None
        self._client = self._make_client()

    # -- the interface --------------------------------------------------------------------

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 0) -> None:
        """Call ``handler`` for each message matching ``topic_filter``, across reconnects."""
        with self._lock:
            self._handlers[topic_filter] = (handler, qos)
        self._client.message_callback_add(topic_filter, self._dispatcher(handler))
        if self.state.connected:
            self._client.subscribe(topic_filter, qos)

    def on_connected(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every successful connect (on the connection's thread)."""
        self._on_connected.append(callback)

    def publish(
        self, topic: str, payload: str | bytes, *, retain: bool = False, qos: int = 0
    ) -> bool:
        """Publish; ``False`` (dropped) while not connected. Never blocks."""
        if not self.state.connected:
            return False
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def start(self) -> None:
        """Connect, and keep connecting, on a thread of its own."""
        self._thread = threading.Thread(target=self._run, name="mqtt-connection", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Say ``offline`` (a clean goodbye: the last will is not sent), then disconnect."""
        if self.state.connected and self.settings.availability_topic:
            info = self._client.publish(
                self.settings.availability_topic, OFFLINE, qos=1, retain=True
            )
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                # The loop thread, still running, sends it; wait for the broker's ack,
                # briefly: without it the last will says the same.
                info.wait_for_publish(timeout=min(timeout, 2.0))
        self._stop.set()
        self._client.disconnect()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the cycle ------------------------------------------------------------------------

    def _make_client(self) -> paho.Client:
        s = self.settings
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            # MQTT 5 (Mosquitto >= 1.6, 2019): for Maximum Packet Size (MAX_PACKET).
            protocol=paho.MQTTv5,
            reconnect_on_failure=False,  # our loop reconnects, with jitter
        )
        client.connect_timeout = CONNECT_TIMEOUT
        if s.username:
            client.username_pw_set(s.username, s.password or None)
        if s.availability_topic:
            client.will_set(s.availability_topic, OFFLINE, qos=1, retain=True)
        client.on_connect = self._connected
        # Every write happens on the connection's thread: paho writes to the socket from
        # the publishing thread unless an "external event loop" is registered, and two
        # threads writing could interleave the bytes of two packets on a partial write.
        # With this callback set, publish() only queues and wakes our loop() (paho's
        # socket pair), which writes.
        client.on_socket_register_write = _no_op
        return client

    def _tls(self) -> None:
        """Load the TLS files now, so a missing or unreadable one is named, not a traceback."""
        s = self.settings
        try:
            context = ssl.create_default_context(cafile=s.ca_file or None)
            if s.client_cert:
                context.load_cert_chain(s.client_cert, s.client_key or None)
        except (OSError, ssl.SSLError) as exc:
            which = "ca_file" if not s.client_cert or s.ca_file in str(exc) else "client_cert"
            reason = getattr(exc, "strerror", None) or str(exc)
            raise _Refused(f"cannot use mqtt.{which} for TLS: {reason}", True) from None
        self._client.tls_set_context(context)

    def _run(self) -> None:
        failures = 0
        tls_ready = False
        where = f"{self.settings.host}:{self.settings.port}"
        while not self._stop.is_set():
            self._refusal = None
            try:
                if self.settings.tls and not tls_ready:
                    self._tls()
                    tls_ready = True
                # paho's Properties has no annotations; the call is as documented
                limits = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                limits.MaximumPacketSize = MAX_PACKET
                self._client.connect(
                    self.settings.host,
                    self.settings.port,
                    self.settings.keepalive,
                    clean_start=True,
                    properties=limits,
                )
                deadline = time.monotonic() + self.settings.connack_timeout
                while not self._stop.is_set():
                    rc = self._client.loop(timeout=1.0)
                    if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                        break
                    if not self.state.connected and time.monotonic() > deadline:
                        if self._refusal is not None:
                            break
                        self._client.disconnect()
                        raise _Refused(
                            f"the broker at {where} did not answer the connect within "
                            f"{self.settings.connack_timeout:g} s",
                            False,
                        )
                if self._refusal is not None:
                    raise self._refusal
                if self.state.connected or self._stop.is_set():
                    failures = 0
                    reason = "the connection to the broker was lost"
                else:
                    reason = "the broker closed the connection"
                raise _Refused(f"{reason} ({where})", False)
            except _Refused as exc:
                error, permanent = str(exc), exc.permanent
            except ssl.SSLCertVerificationError as exc:
                error = (
                    f"TLS with the broker at {where} failed: the broker's certificate is not "
                    f"trusted ({exc.verify_message}); set mqtt.ca_file to the CA that signed it"
                )
                permanent = True
            except ssl.SSLError as exc:
                error, permanent = (
                    f"TLS with the broker at {where} failed: {exc.reason or exc}",
                    True,
                )
            except (OSError, ValueError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
                error, permanent = f"cannot reach the broker at {where}: {reason}", False
            if self._stop.is_set():
                break
            failures += 1
            self._set_state(ConnectionState(False, error, time.time(), permanent))
            self._stop.wait(next_delay(failures, permanent=permanent))
        self._set_state(ConnectionState(False, None, time.time()))

    def _connected(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            hint = (
                " (check mqtt.username and the password in the secrets file's [mqtt] table)"
                if reason.value in (4, 5, 134, 135)
                else ""
            )
            where = f"{self.settings.host}:{self.settings.port}"
            self._refusal = _Refused(
                f"the broker at {where} refused the connection: {reason}{hint}", True
            )
            return
        if self.settings.availability_topic:
            client.publish(self.settings.availability_topic, ONLINE, qos=1, retain=True)
        with self._lock:
            subscriptions = list(self._handlers.items())
        for topic_filter, (_, qos) in subscriptions:
            client.subscribe(topic_filter, qos)
        self._set_state(ConnectionState(True, None, time.time()))
        for callback in self._on_connected:
            try:
                callback()
            except Exception:  # a caller's bug must not end the connection's thread
                log.exception("an on_connected callback failed")

    def _dispatcher(self, handler: Handler) -> Callable[[paho.Client, Any, paho.MQTTMessage], None]:
        def dispatch(client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
            try:
                handler(message.topic, bytes(message.payload), bool(message.retain))
            except Exception:  # input must never end the connection's thread
                log.exception("the handler of %r failed", message.topic[:200])

        return dispatch

    def _set_state(self, state: ConnectionState) -> None:
        old, self.state = self.state, state
        if (old.connected, old.error) == (state.connected, state.error):
            return
        if state.connected:
            log.info("connected to the broker at %s:%d", self.settings.host, self.settings.port)
        elif state.error is not None and state.error != old.error:
            # Once per distinct failure, not once per retry.
            log.error("%s; retrying with backoff", state.error)
        if self._on_state is not None:
            try:
                self._on_state(state)
            except Exception:
                log.exception("the connection's state callback failed")


def _no_op(*args: Any) -> None:
    """paho's ``on_socket_register_write``: see :meth:`Connection._make_client`."""
