"""The commands that talk to a running host over its control socket.

``ledhost status``, ``next``, ``previous``, ``pin MODE [--for S]``, ``unpin``,
``notify TEXT|--mode I:M [--priority P] [--for S] [--color C]``,
``plugin restart|retry|enable|disable ID``, ``logs ID [-f]``, ``brightness N``, ``on``,
``off``. Each finds the socket as the host does (``--socket``, else ``[control] socket`` of
``--config`` or ``$LEDHOST_CONTROL__SOCKET``, else the default path); without a running host
it says so in one line and exits 1. ``--json`` prints the reply's data as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Final

from host.cli.author_commands import add_plugin_new_arguments
from host.ipc import control
from host.ipc.control_client import ControlClient, ControlFailed, HostNotRunning

__all__ = ["COMMANDS", "add_control_parsers", "cmd_control"]

#: The subcommands defined here (``main`` sends these to :func:`cmd_control`).
COMMANDS: Final = frozenset(
    {"status", "next", "previous", "pin", "unpin", "notify", "plugin", "logs", "brightness",
     "on", "off"}
)  # fmt: skip


def add_control_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add the control commands to the ``ledhost`` parser."""
    ctl = argparse.ArgumentParser(add_help=False, parents=[common])
    ctl.add_argument("--socket", help="the host's control socket (default: as the host)")
    ctl.add_argument("--config", type=Path, help="read [control] socket from this config")
    ctl.add_argument("--json", action="store_true", help="print the reply as JSON")
    sub.add_parser("status", parents=[ctl], help="what the running host shows, and its plugins")
    sub.add_parser("next", parents=[ctl], help="skip to the next mode of the rotation")
    sub.add_parser("previous", parents=[ctl], help="go back to the previous mode")
    pin = sub.add_parser("pin", parents=[ctl], help="show INSTANCE:MODE until unpinned")
    pin.add_argument("mode", metavar="INSTANCE:MODE")
    pin.add_argument("--for", dest="seconds", type=float, help="only for this many seconds")
    sub.add_parser("unpin", parents=[ctl], help="end a pin; the rotation resumes")
    notify = sub.add_parser("notify", parents=[ctl], help="interrupt with a notification")
    notify.add_argument("text", nargs="?", help="the message (or give --mode)")
    notify.add_argument("--mode", metavar="INSTANCE:MODE", help="show this mode instead")
    notify.add_argument(
        "--priority", type=int, default=control.DEFAULT_PRIORITY,
        help="0-1000 (default 1000: above every plugin's interrupt, below a pin)",
    )  # fmt: skip
    notify.add_argument(
        "--for", dest="seconds", type=float, default=10.0, help="seconds on screen (default 10)"
    )
    notify.add_argument("--color", help="text colour: #rrggbb or a name")
    plugin = sub.add_parser(
        "plugin", parents=[ctl], help="restart, retry, enable or disable; new: a plugin project"
    )
    plugin.add_argument("op", choices=["restart", "retry", "enable", "disable", "new"])
    plugin.add_argument("instance", metavar="ID", help="an instance id; new: the plugin id")
    add_plugin_new_arguments(plugin)  # ``plugin new`` (host/cli/author_commands.py)
    logs = sub.add_parser("logs", parents=[ctl], help="a plugin instance's recent log")
    logs.add_argument("instance", metavar="ID")
    logs.add_argument("-f", "--follow", action="store_true", help="then print new records")
    logs.add_argument("-n", "--lines", type=int, default=100, help="how many (default 100)")
    bright = sub.add_parser("brightness", parents=[ctl], help="set the brightness, 0-100")
    bright.add_argument("value", type=int)
    sub.add_parser("on", parents=[ctl], help="turn the panel on")
    sub.add_parser("off", parents=[ctl], help="turn the panel off (plugins keep running)")


def socket_path(ns: argparse.Namespace) -> str:
    """Where the host listens, found as the host finds it."""
    if ns.socket:
        return str(ns.socket)
    if ns.config is not None:
        from config import load_config

        configured = load_config(ns.config, secrets_path=False).control.socket
        if configured:
            return os.path.expanduser(configured)
    env = os.environ.get("LEDHOST_CONTROL__SOCKET")
    return os.path.expanduser(env) if env else control.default_socket_path()


def _split(target: str) -> tuple[str, str]:
    instance, sep, mode = target.partition(":")
    if not sep:
        raise ValueError(f"{target!r} is not INSTANCE:MODE")
    return instance, mode


def _request(ns: argparse.Namespace) -> Any:
    match ns.command:
        case "status":
            return control.Status()
        case "next":
            return control.Next()
        case "previous":
            return control.Previous()
        case "pin":
            instance, mode = _split(ns.mode)
            return control.Pin(instance=instance, mode=mode, seconds=ns.seconds)
        case "unpin":
            return control.Unpin()
        case "notify":
            return control.Notify(
                text=ns.text, mode=ns.mode, priority=ns.priority, seconds=ns.seconds,
                color=ns.color,
            )  # fmt: skip
        case "plugin":
            return control.PluginOp(op=ns.op, instance=ns.instance)
        case "logs":
            return control.Logs(instance=ns.instance, lines=ns.lines, follow=ns.follow)
        case "brightness":
            return control.Brightness(value=ns.value)
        case _:
            return control.Power(on=ns.command == "on")


def _print_status(data: dict[str, Any]) -> None:
    display = data.get("display", {})
    state = "on" if display.get("on") else "off"
    print(f"panel {state}, brightness {display.get('brightness')}, showing "
          f"{display.get('showing') or 'nothing'}")  # fmt: skip
    for iid, entry in sorted(data.get("plugins", {}).items()):
        print(f"  {iid}: {entry.get('state', '?')}")
    mqtt = data.get("mqtt")
    if mqtt is not None:  # the MQTT bridge's connection (docs/mqtt.md)
        print("mqtt: connected" if mqtt.get("connected") else f"mqtt: {mqtt.get('error')}")
    sync = display.get("sync")
    if sync is not None:  # this sign's part in a set of synchronised signs (docs/mqtt.md)
        print(f"sync: {sync_line(sync)}")


def sync_line(sync: dict[str, Any]) -> str:
    """One line on a sign's sync role: ``follower of lead, following (offset +0.12 ms)``."""
    follower = sync.get("follower")
    if follower is None:
        return str(sync.get("role"))
    if not follower.get("following"):
        return "follower, alone (no leader heard)"
    offset = sync.get("offset") or 0.0
    return f"follower of {follower.get('leader')}, following (offset {offset * 1000:+.2f} ms)"


def _print_log(record: dict[str, Any]) -> None:
    print(f"{record.get('level', '?'):7} {record.get('message', '')}")


def cmd_control(ns: argparse.Namespace) -> int:
    """Run one control command; 0 on success, 1 when refused or no host is running."""
    try:
        request = _request(ns)
        # Fields are checked on the host too; checking here gives the same message sooner.
        request = control.decode_from_client(control.frame(request)[4:])
    except (ValueError, control.ControlProtocolError) as exc:
        print(f"ledhost: error: {exc}", file=sys.stderr)
        return 2
    try:
        with ControlClient(socket_path(ns)) as client:
            data = client.request(request)
            _show(ns, data)
            if ns.command == "logs" and ns.follow:
                while True:
                    event = client.receive(timeout=3600.0)
                    if isinstance(event, control.LogEvent):
                        _show(ns, {"level": event.level, "message": event.text}, one=True)
    except HostNotRunning as exc:
        print(f"ledhost: {exc}", file=sys.stderr)
        return 1
    except ControlFailed as exc:
        print(f"ledhost: error: {exc}", file=sys.stderr)
        return 1
    except TimeoutError as exc:
        print(f"ledhost: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


def _show(ns: argparse.Namespace, data: Any, one: bool = False) -> None:
    if ns.json:
        print(json.dumps(data, sort_keys=True), flush=True)
    elif ns.command == "status":
        _print_status(data)
    elif ns.command == "logs":
        for record in [data] if one else data:
            _print_log(record)
        sys.stdout.flush()
    elif data is not None and isinstance(data, dict) and "showing" in data:
        print(f"showing {data.get('showing') or 'nothing'}")
