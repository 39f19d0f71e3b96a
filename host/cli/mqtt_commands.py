"""``ledhost mqtt-bridge``: run the MQTT bridge (docs/mqtt.md) in the foreground.

``ledhost run`` starts it itself when ``[mqtt] enabled`` is true; run it by hand to watch
its log. paho-mqtt and the bridge are imported only inside the command, so no other
command (and never the host) loads them. The config is read without the plugins' secrets:
the bridge takes only the secrets file's ``[mqtt] password``, so a bug in it that an
attacker on the broker could reach exposes no plugin's keys. ``ledhost run`` starts it with
``--password-stdin`` and writes that password on its stdin (:mod:`host.system.webuser`):
the bridge may run as the ``ledhost`` user, which cannot read the secrets file.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import socket
import sys
from typing import Any

from host.cli.control_commands import socket_path


def add_mqtt_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``ledhost mqtt-bridge`` to the parser."""
    bridge = sub.add_parser(
        "mqtt-bridge", parents=[common], help="connect the sign to an MQTT broker (the bridge)"
    )
    bridge.add_argument("--config", help="config file (default: as the host)")
    bridge.add_argument("--socket", help="the host's control socket (default: as the host)")
    bridge.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the broker password from stdin, not the secrets file (as ledhost run does)",
    )


def cmd_mqtt_bridge(ns: argparse.Namespace) -> int:
    """Serve until the host that started it is gone, or SIGTERM/SIGINT."""
    from config import load_config
    from config.mqtt import PASSWORD_MAX
    from config.secrets import default_secrets_path, read_secrets
    from host.mqtt.bridge import Bridge

    logging.getLogger().setLevel(
        logging.DEBUG if ns.verbose else logging.WARNING if ns.quiet else logging.INFO
    )
    cfg = load_config(ns.config, secrets_path=False)
    password: object
    if ns.password_stdin:
        password = sys.stdin.buffer.read(PASSWORD_MAX + 1)[:PASSWORD_MAX].decode(errors="replace")
    else:
        _, host_secrets, _ = read_secrets(default_secrets_path(cfg.path, os.environ))
        password = host_secrets.get("mqtt", {}).get("password", "")
    mqtt = dataclasses.replace(cfg.mqtt, password=password if isinstance(password, str) else "")
    display = (cfg.display.width, cfg.display.height)
    bridge = Bridge(mqtt, socket_path(ns), socket.gethostname(), sync=cfg.sync, display=display)

    def stop(signum: int, frame: Any) -> None:
        bridge.stop()
        raise KeyboardInterrupt  # out of a blocking read; run()'s cleanup says goodbye

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return bridge.run()
