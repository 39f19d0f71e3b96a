"""The ``[mqtt]`` table: how the MQTT bridge reaches a broker (issue 21).

The settings themselves are declared in :data:`config.settings.SETTINGS` like every other;
this module holds what a single value's declaration cannot check: the broker URL, the
MQTT topic rules of ``base_topic`` and ``discovery_prefix``, a client id a broker will
take, TLS files that only make sense with ``mqtts://``, and the password, which lives in
the secrets file (``[mqtt] password = "..."``, mode 0600), never in the config file.

Defaults that depend on the machine (the client id from the hostname, the base topic from
the client id) are resolved by :meth:`MqttConfig.client_id_for` and
:meth:`MqttConfig.base_topic_for`, given the hostname: this module stays pure (STYLE.md
rule 17), the bridge asks the OS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, final
from urllib.parse import urlsplit

from config.schema import KeyPath, describe_value

__all__ = [
    "DEFAULT_PORTS",
    "PASSWORD_MAX",
    "MqttConfig",
    "check_topic",
    "parse_mqtt",
    "safe_client_id",
]

#: The port each scheme uses when the URL names none (IANA: 1883 plain, 8883 TLS).
DEFAULT_PORTS: Final = {"mqtt": 1883, "mqtts": 8883}
#: Longest base topic or discovery prefix; topics built on it stay far below MQTT's 64 KiB.
MAX_TOPIC: Final = 128
#: Longest ``[mqtt] password`` (bytes): the host hands it to the bridge through a pipe.
PASSWORD_MAX: Final = 4096
_CLIENT_ID: Final = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")
_NOT_ID: Final = re.compile(r"[^A-Za-z0-9_-]+")


def check_topic(topic: str, *, allow_empty: bool = False) -> str | None:
    """What is wrong with ``topic`` as a prefix of published topics, or ``None``.

    MQTT forbids wildcards (``+``, ``#``) and NUL in a published topic; a leading ``/``
    makes an empty first level (a classic mistake that splits a home's topics in two); a
    leading ``$`` is reserved for the broker (``$SYS``); an empty level (``a//b``) or a
    trailing ``/`` would make topics that other clients cannot subscribe to as expected.
    """
    if topic == "":
        return None if allow_empty else "must not be empty"
    if len(topic) > MAX_TOPIC:
        return f"is longer than {MAX_TOPIC} characters"
    problems = (
        ("+" in topic or "#" in topic, "must not contain the wildcards '+' or '#'"),
        (topic.startswith("/"), "must not start with '/'"),
        (topic.endswith("/"), "must not end with '/'"),
        ("//" in topic, "must not contain an empty level ('//')"),
        (topic.startswith("$"), "must not start with '$' (reserved for the broker)"),
        (any(ord(c) < 32 or ord(c) == 127 for c in topic), "must not contain control characters"),
    )
    return next((message for bad, message in problems if bad), None)


def safe_client_id(text: str) -> str:
    """``text`` (a hostname) reduced to what every broker takes in a client id."""
    return _NOT_ID.sub("-", text).strip("-")[:40] or "sign"


@final
@dataclass(frozen=True, slots=True)
class MqttConfig:
    """The ``[mqtt]`` table, checked. Defaults as declared, so a config built by hand (or
    one without ``[mqtt]``) has the bridge off."""

    enabled: bool = False
    #: ``mqtt://host:port`` or ``mqtts://host:port``, as written.
    broker: str = "mqtt://127.0.0.1:1883"
    #: CA bundle to check the broker's certificate (mqtts); "" for the system's.
    ca_file: str = ""
    #: Client certificate and key (mqtts, both or neither); "" for none.
    client_cert: str = ""
    client_key: str = ""
    username: str = ""
    #: "" means ``ledhost-<hostname>``: see :meth:`client_id_for`.
    client_id: str = ""
    #: "" means ``ledhost/<client id>``: see :meth:`base_topic_for`.
    base_topic: str = ""
    keepalive: int = 60
    #: Home Assistant's discovery prefix; "" publishes no discovery.
    discovery_prefix: str = "homeassistant"
    device_name: str = "LED sign"
    #: From the secrets file's ``[mqtt]`` table; never shown (not in repr, not in to_dict).
    password: str = field(default="", repr=False)

    @property
    def tls(self) -> bool:
        return urlsplit(self.broker).scheme == "mqtts"

    @property
    def host(self) -> str:
        return urlsplit(self.broker).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.broker)
        return parts.port or DEFAULT_PORTS.get(parts.scheme, 1883)

    def client_id_for(self, hostname: str) -> str:
        """The client id: as configured, else ``ledhost-<hostname>`` made safe."""
        return self.client_id or f"ledhost-{safe_client_id(hostname)}"

    def base_topic_for(self, hostname: str) -> str:
        """The topic every state and command of this sign lives under."""
        return self.base_topic or f"ledhost/{self.client_id_for(hostname)}"


Add = Callable[[KeyPath, str], None]


def _check_broker(url: str, add: Add) -> None:
    key: KeyPath = ("mqtt", "broker")
    example = "e.g. mqtt://192.168.1.10:1883 or mqtts://broker.lan:8883"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        add(key, f"is not a broker URL ({exc}); {example}")
        return
    if parts.scheme not in DEFAULT_PORTS:
        add(key, f"must start with mqtt:// or mqtts://, found {describe_value(url)}; {example}")
    elif not parts.hostname:
        add(key, f"names no host; {example}")
    elif parts.username is not None or parts.password is not None:
        # Not quoted: the URL may hold a password.
        add(
            key,
            "must not hold a user name or password: set mqtt.username, and the password "
            'in the secrets file\'s [mqtt] table (password = "...")',
        )
    elif parts.path not in ("", "/") or parts.query or parts.fragment:
        add(key, f"must be only scheme, host and port; {example}")
    elif port == 0:
        add(key, "port 0 is not a port")


def _check_path(name: str, value: str, add: Add) -> None:
    if value and not (value.startswith("/") or value.startswith("~/")):
        add(("mqtt", name), f"expected an absolute path or one starting with '~/', found {value!r}")


def parse_mqtt(values: Mapping[str, Any], secrets: Mapping[str, Any], add: Add) -> MqttConfig:
    """Check ``[mqtt]`` (each value already checked against its declaration) as a whole.

    :param values: the section's values, defaults filled in.
    :param secrets: the secrets file's ``[mqtt]`` table (only ``password``).
    :param add: reports an issue at a key; every problem is reported, none stops the rest.
    :returns: the config (with the issues reported, the caller raises).
    """
    if not all(isinstance(v, str | bool | int) for v in values.values()):
        return MqttConfig()  # a value of the wrong type: already reported
    _check_broker(values["broker"], add)
    tls = urlsplit(values["broker"]).scheme == "mqtts"
    for name in ("ca_file", "client_cert", "client_key"):
        _check_path(name, values[name], add)
        if values[name] and not tls:
            add(("mqtt", name), "is used only with an mqtts:// broker; use mqtts:// or remove it")
    if bool(values["client_cert"]) != bool(values["client_key"]):
        add(("mqtt", "client_key"), "client_cert and client_key go together: set both or neither")
    client_id = values["client_id"]
    if client_id and not _CLIENT_ID.match(client_id):
        add(
            ("mqtt", "client_id"),
            f"{client_id!r} is not a client id every broker takes: use 1-64 ASCII letters, "
            "digits, '_', '.' or '-' (empty: ledhost-<hostname>)",
        )
    for name, allow_empty in (("base_topic", True), ("discovery_prefix", True)):
        problem = check_topic(values[name], allow_empty=allow_empty)
        if problem is not None:
            add(("mqtt", name), f"{values[name]!r} {problem}")
    name = values["device_name"].strip()
    if not name or len(name) > 64:
        add(("mqtt", "device_name"), "must be 1-64 characters")
    password = secrets.get("password", "")
    if not isinstance(password, str):
        add(("mqtt", "password"), "the secrets file's mqtt.password must be a string (not shown)")
        password = ""
    if len(password.encode(errors="replace")) > PASSWORD_MAX:
        # The host hands it to the bridge through a pipe it must never wait on.
        add(("mqtt", "password"), f"the secrets file's mqtt.password is over {PASSWORD_MAX} bytes")
        password = ""
    if password and not values["username"]:
        add(
            ("mqtt", "username"),
            "the secrets file sets mqtt.password but mqtt.username is empty: set the user name",
        )
    return MqttConfig(**values, password=password)
