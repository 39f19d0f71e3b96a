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

#: Keys of a ``[plugins.<id>]`` table that are ledhost's, not the plugin's (config/model.py).
RESERVED_KEYS = frozenset({"plugin", "enabled", "memory_limit_mb"})

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


@display.get("/logs")
def host_logs() -> ResponseReturnValue:
    """The host's own last ``lines`` log records (0-500, default 100)."""
    lines = request.args.get("lines", "100")
    if not (lines.isascii() and lines.isdigit()):
        raise ApiError(400, "invalid", "lines must be a whole number 0-500")
    return call(control.HostLogs, lines=int(lines))


@display.post("/restart")
def restart() -> ResponseReturnValue:
    """Restart ledhost (the host stops cleanly and runs again; this process too)."""
    return call(control.Restart)


@display.get("/safe-mode")
def safe_mode() -> ResponseReturnValue:
    """Whether this run is in safe mode, and whether the next start will be."""
    return call(control.SafeModeNext)


@display.put("/safe-mode")
def safe_mode_next() -> ResponseReturnValue:
    """``{"next_start": true}``: the next start runs builtin plugins only (once)."""
    return call(control.SafeModeNext, on=body().get("next_start"))


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


@plugins.get("/<instance>")
def plugin_info(instance: str) -> ResponseReturnValue:
    """One instance: its modes, actions, config JSON Schema and config (secrets as set)."""
    return call(control.PluginInfo, instance=instance)


@plugins.get("/<instance>/modes/<mode>/preview.png")
def mode_preview(instance: str, mode: str) -> ResponseReturnValue:
    """One frame of the mode as it looks now, rendered through a real worker (PNG, one
    pixel per LED)."""
    from flask import Response

    from host.ipc.control_client import ControlClient

    try:
        message = msgspec.convert(
            {"t": "render_mode", "instance": instance, "mode": mode}, control.Request
        )
    except msgspec.ValidationError as exc:
        raise ApiError(400, "invalid", str(exc)) from exc
    with ControlClient(current_app.config.get("LEDHOST_SOCKET"), timeout=60.0) as client:
        data = client.request(message)
    return Response(data["png"], mimetype="image/png", headers={"Cache-Control": "no-store"})


@plugins.post("/<instance>/validate")
def plugin_validate(instance: str) -> ResponseReturnValue:
    """Check option values against the instance's schema, with the host's own validator.

    The admin UI's config form calls this as the user types, so a field shows the exact
    message the host would give on save; nothing is written.
    """
    from config.errors import ConfigError, PluginSchemaError
    from config.plugin_schema import validate_plugin_options

    info = current_app.extensions["ledhost.control"](control.PluginInfo(instance=instance))
    values = {k: v for k, v in body().items() if k not in RESERVED_KEYS}
    try:
        validate_plugin_options(info.get("schema"), values, where=f"plugins.{instance}")
    except ConfigError as exc:
        return jsonify(ok=False, issues=[i.to_dict() for i in exc.errors])
    except PluginSchemaError as exc:
        raise ApiError(409, "bad_schema", str(exc)) from exc
    return jsonify(ok=True, issues=[])


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
    if not (lines.isascii() and lines.isdigit()):
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


@config.get("/schema/<section>")
def config_schema(section: str) -> ResponseReturnValue:
    """The JSON Schema of a host section's settings (the admin UI draws forms from it)."""
    from web.settings_schema import section_schema

    try:
        return jsonify(data=section_schema(section))
    except KeyError:
        raise ApiError(404, "no_such_section", f"no host settings section [{section}]") from None


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
