"""The ``/api/v1`` blueprints, one per area; each call is one control-socket request.

The web process never imports the host: ``current_app.extensions["ledhost.control"]`` is a
callable taking a :mod:`host.ipc.control` request and returning the host's ``Ok.data``
(raising ``HostNotRunning``/``ControlFailed``, mapped to 503/4xx in :mod:`web.errors`).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from host.ipc import control
from web.auth import body
from web.errors import ApiError

display = Blueprint("api_display", __name__, url_prefix="/api/v1")
plugins = Blueprint("api_plugins", __name__, url_prefix="/api/v1/plugins")
config = Blueprint("api_config", __name__, url_prefix="/api/v1/config")
notifications = Blueprint("api_notifications", __name__, url_prefix="/api/v1")
secrets = Blueprint("api_secrets", __name__, url_prefix="/api/v1/secrets")
BLUEPRINTS = [display, plugins, config, notifications, secrets]

_HEX = re.compile(r"^#([0-9a-fA-F]{6})$")


def call(kind: type[Any], **fields: Any) -> ResponseReturnValue:
    """Build a control request from ``fields`` (400 when invalid) and send it."""
    try:
        message = msgspec.convert({"t": kind.__struct_config__.tag, **fields}, control.Request)
    except msgspec.ValidationError as exc:
        raise ApiError(400, "invalid", str(exc)) from exc
    return jsonify(data=current_app.extensions["ledhost.control"](message))


@display.get("/status")
def status() -> ResponseReturnValue:
    """What the panel shows and every instance's state."""
    return call(control.Status)


@display.post("/next")
def next_mode() -> ResponseReturnValue:
    """Skip to the next mode."""
    return call(control.Next)


@display.post("/previous")
def previous_mode() -> ResponseReturnValue:
    """Go back one mode."""
    return call(control.Previous)


@display.post("/pin")
def pin() -> ResponseReturnValue:
    """Pin ``instance``/``mode`` for ``seconds`` (or until unpinned)."""
    data = body()
    return call(
        control.Pin,
        instance=data.get("instance"),
        mode=data.get("mode"),
        seconds=data.get("seconds"),
    )


@display.delete("/pin")
def unpin() -> ResponseReturnValue:
    """End the pin."""
    return call(control.Unpin)


@display.put("/brightness")
def brightness() -> ResponseReturnValue:
    """Set brightness 0-100."""
    return call(control.Brightness, value=body().get("value"))


@display.put("/power")
def power() -> ResponseReturnValue:
    """Turn the panel on or off."""
    return call(control.Power, on=body().get("on"))


def parse_color(value: Any) -> str | None:
    """``"#rrggbb"`` or ``[r, g, b]`` (0-255 each) as ``"#rrggbb"``; 400 otherwise."""
    if value is None:
        return None
    if isinstance(value, str) and (m := _HEX.match(value)):
        return "#" + m.group(1).lower()
    if (
        isinstance(value, list)
        and len(value) == 3
        and all(type(c) is int and 0 <= c <= 255 for c in value)
    ):
        return "#{:02x}{:02x}{:02x}".format(*value)
    raise ApiError(400, "invalid_color", 'color must be "#rrggbb" or [r, g, b] with 0-255 each')


@notifications.post("/notify")
def notify() -> ResponseReturnValue:
    """A notification: ``text`` (or ``mode``), ``color``, ``icon``, ``duration``, ``priority``."""
    data = body()
    fields: dict[str, Any] = {"text": data.get("text"), "mode": data.get("mode")}
    if (color := parse_color(data.get("color"))) is not None:
        fields["color"] = color
    if "duration" in data:
        fields["seconds"] = data["duration"]
    if "priority" in data:
        fields["priority"] = data["priority"]
    if fields["text"] is None and fields["mode"] is None:
        raise ApiError(400, "invalid", "a notification needs text or mode")
    return call(control.Notify, **fields)


@plugins.get("")
def installed() -> ResponseReturnValue:
    """The installed plugin distributions with versions (read from package metadata only:
    the web process never imports plugin code)."""
    from importlib.metadata import entry_points

    found = {
        ep.name: {"name": ep.name, "distribution": ep.dist.name if ep.dist else None,
                  "version": ep.dist.version if ep.dist else None}
        for ep in entry_points(group="ledhost.plugins")
    }  # fmt: skip
    return jsonify(plugins=sorted(found.values(), key=lambda p: p["name"]))


@plugins.post("/<instance>/<op>")
def plugin_op(instance: str, op: str) -> ResponseReturnValue:
    """enable, disable, restart or retry one instance."""
    if op not in ("enable", "disable", "restart", "retry"):
        raise ApiError(404, "unknown_operation", f"no plugin operation {op!r}")
    return call(control.PluginOp, op=op, instance=instance)


@plugins.post("/<instance>/actions/<action>")
def plugin_action(instance: str, action: str) -> ResponseReturnValue:
    """Run a plugin action with the body as its arguments."""
    args = request.get_json(silent=True) or {}
    return call(control.RunAction, instance=instance, action=action, args=args)


@plugins.get("/<instance>/logs")
def plugin_logs(instance: str) -> ResponseReturnValue:
    """The instance's last ``lines`` log records."""
    lines = request.args.get("lines", "100")
    if not lines.isdigit():
        raise ApiError(400, "invalid", "lines must be a whole number 0-1000")
    return call(control.Logs, instance=instance, lines=int(lines))


@config.get("/backup")
def config_backup() -> ResponseReturnValue:
    """The config file as written, comments kept; secrets are never in it."""
    return call(control.ConfigBackup)


@config.post("/restore")
def config_restore() -> ResponseReturnValue:
    """Replace the config file with ``{"text": ...}``: all valid, or nothing changes."""
    return call(control.ConfigRestore, text=body().get("text"))


@config.get("/<section>")
def config_get(section: str) -> ResponseReturnValue:
    """One config section; secrets show as set/unset."""
    return call(control.ConfigGet, section=section)


@config.put("/<section>")
def config_set(section: str) -> ResponseReturnValue:
    """Replace keys of one section (validated, written atomically, applied live)."""
    return call(control.ConfigSet, section=section, values=body())


@secrets.get("")
def secrets_list() -> ResponseReturnValue:
    """Per instance: the keys its plugin declares secret and the keys set; never a value."""
    return call(control.SecretList)


@secrets.put("/<instance>/<key>")
def secret_set(instance: str, key: str) -> ResponseReturnValue:
    """Write one secret (``{"value": ...}``): checked by the plugin, then kept (0600)."""
    data = body()
    if "value" not in data:
        raise ApiError(400, "invalid", 'the body must be {"value": ...}')
    return call(control.SecretSet, instance=instance, key=key, value=data["value"])


@secrets.delete("/<instance>/<key>")
def secret_delete(instance: str, key: str) -> ResponseReturnValue:
    """Remove one secret from the secrets file."""
    return call(control.SecretDelete, instance=instance, key=key)
