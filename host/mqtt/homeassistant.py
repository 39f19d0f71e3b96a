"""Home Assistant MQTT discovery for one sign: which entities, their config and states.

Pure: from the host's status (the control socket's ``status`` reply) and a CPU temperature
to the retained messages the bridge publishes. The bridge compares them with what it
published last and sends only what changed; an entity that went away (a plugin instance
removed, a temperature no longer readable) gets an empty retained config, which is how
Home Assistant is told to delete it.

The sign is one device (identifiers: the client id) with:

- ``light`` *display*, default schema: on/off is the panel's power (``set/power``),
  brightness 0-100 (``brightness_scale: 100``);
- ``select`` *pinned mode*: ``rotation`` (no pin) or any ``instance:mode`` the plugins
  offer, its options updated when they change;
- ``text`` *message*: what is sent is shown as a text notification (``set/notify``);
- ``button`` *next* and *previous*;
- ``sensor`` *showing* (the mode on screen), one diagnostic sensor per plugin instance
  (its worker state) and *CPU temperature* where the Pi's thermal zone is readable.

Every entity shares the availability topic, whose last will is ``offline``. Payloads
follow the options documented on Home Assistant's pages (linked from the JSON Schemas in
``tests/ha_schemas/``, which ``tests/test_mqtt.py`` validates every payload against).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, final

from host import __version__
from host.mqtt.commands import UNPIN_OPTION

__all__ = ["Topics", "discovery_messages", "node_id", "state_messages"]

_NOT_NODE: Final = re.compile(r"[^A-Za-z0-9_-]+")


def node_id(client_id: str) -> str:
    """The discovery topic's node id: Home Assistant takes ``[a-zA-Z0-9_-]`` only."""
    return _NOT_NODE.sub("_", client_id) or "ledhost"


@final
@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic of one sign, from its base topic and the discovery prefix."""

    base: str
    #: Home Assistant's discovery prefix; "" for no discovery.
    prefix: str
    node: str

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def commands(self) -> str:
        """The filter every command topic matches."""
        return f"{self.base}/set/+"

    def command(self, name: str) -> str:
        return f"{self.base}/set/{name}"

    def state(self, name: str) -> str:
        return f"{self.base}/state/{name}"

    def plugin_state(self, instance: str) -> str:
        return self.state(f"plugins/{instance}")

    def config(self, component: str, object_id: str) -> str:
        return f"{self.prefix}/{component}/{self.node}/{object_id}/config"

    @property
    def own_configs(self) -> str:
        """The filter matching every discovery config of this node (to find stale ones)."""
        return f"{self.prefix}/+/{self.node}/+/config"

    @property
    def ha_status(self) -> str:
        """Home Assistant's birth/last-will topic: ``online`` means "send discovery again"."""
        return f"{self.prefix}/status"


def _shown_modes(status: Mapping[str, Any]) -> list[str]:
    """Every ``instance:mode`` the plugins offer, in status order (what can be pinned)."""
    modes: list[str] = []
    for instance, entry in (status.get("plugins") or {}).items():
        for mode in entry.get("modes") or []:
            modes.append(f"{instance}:{mode}")
    return modes


def discovery_messages(
    topics: Topics, device_name: str, status: Mapping[str, Any], cpu_readable: bool
) -> dict[str, str]:
    """Discovery config topic -> JSON payload, for every entity the sign has now."""
    if not topics.prefix:
        return {}
    device = {
        "identifiers": [topics.node],
        "name": device_name,
        "manufacturer": "ledhost",
        "model": "HUB75 LED sign",
        "sw_version": __version__,
    }

    def entity(object_id: str, name: str, **options: Any) -> dict[str, Any]:
        return {
            "name": name,
            "unique_id": f"{topics.node}_{object_id}",
            "availability_topic": topics.availability,
            "device": device,
            **options,
        }

    configs: dict[tuple[str, str], dict[str, Any]] = {
        ("light", "display"): entity(
            "display",
            "Display",
            command_topic=topics.command("power"),
            state_topic=topics.state("power"),
            brightness_command_topic=topics.command("brightness"),
            brightness_state_topic=topics.state("brightness"),
            brightness_scale=100,
            payload_on="ON",
            payload_off="OFF",
        ),
        ("select", "pin"): entity(
            "pin",
            "Pinned mode",
            command_topic=topics.command("pin"),
            state_topic=topics.state("pin"),
            options=[UNPIN_OPTION, *_shown_modes(status)],
            icon="mdi:pin",
        ),
        ("text", "message"): entity(
            "message",
            "Message",
            command_topic=topics.command("notify"),
            state_topic=topics.state("message"),
            min=1,
            max=255,
            mode="text",
            icon="mdi:message-text",
        ),
        ("button", "next"): entity(
            "next", "Next", command_topic=topics.command("next"), icon="mdi:skip-next"
        ),
        ("button", "previous"): entity(
            "previous",
            "Previous",
            command_topic=topics.command("previous"),
            icon="mdi:skip-previous",
        ),
        ("sensor", "showing"): entity(
            "showing", "Showing", state_topic=topics.state("showing"), icon="mdi:television"
        ),
    }
    for instance in status.get("plugins") or {}:
        configs[("sensor", f"plugin_{instance}")] = entity(
            f"plugin_{instance}",
            f"Plugin {instance}",
            state_topic=topics.plugin_state(instance),
            entity_category="diagnostic",
            icon="mdi:puzzle",
        )
    if cpu_readable:
        configs[("sensor", "cpu_temperature")] = entity(
            "cpu_temperature",
            "CPU temperature",
            state_topic=topics.state("cpu_temperature"),
            device_class="temperature",
            state_class="measurement",
            unit_of_measurement="°C",
            entity_category="diagnostic",
        )
    return {
        topics.config(component, object_id): json.dumps(payload, sort_keys=True)
        for (component, object_id), payload in configs.items()
    }


def state_messages(
    topics: Topics, status: Mapping[str, Any], cpu_celsius: float | None, message: str | None
) -> dict[str, str]:
    """State topic -> payload (all retained) for what ``status`` shows."""
    display = status.get("display") or {}
    pin = display.get("pin") or {}
    showing = display.get("showing") if display.get("on") else None
    states = {
        topics.state("power"): "ON" if display.get("powered", True) else "OFF",
        topics.state("brightness"): str(int(display.get("brightness") or 0)),
        topics.state("pin"): pin.get("key") or UNPIN_OPTION,
        topics.state("showing"): showing or ("off" if not display.get("on") else "nothing"),
    }
    if message is not None:
        states[topics.state("message")] = message
    for instance, entry in (status.get("plugins") or {}).items():
        states[topics.plugin_state(instance)] = str(entry.get("state") or "unknown")
    if cpu_celsius is not None:
        states[topics.state("cpu_temperature")] = f"{cpu_celsius:.1f}"
    return states
