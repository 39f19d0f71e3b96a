"""One function per control request: check it, call the Host, say what happened.

A handler returns the reply's data, raises :class:`Refused` (a stable code and a message
naming the problem), or returns a :class:`Pending` whose ``poll`` the server calls each
loop until it yields the reply (a plugin action or a config write waits for workers; the
host loop never waits for them).

Handlers call only the Host's public methods and its supervisor's; what the host exposes
to them is the :class:`ControlledHost` protocol below.
"""

from __future__ import annotations

import time
from typing import Any, Final, Protocol

from host.control.handlers_base import Pending, Refused
from host.director import Director
from host.errors import HostError
from host.ipc import control
from host.supervise.supervisor import Supervisor

__all__ = ["ControlledHost", "Pending", "Refused", "handle", "text_handle"]

#: How long a plugin action may take before its request is answered with a timeout.
ACTION_TIMEOUT: Final = 30.0


class ControlledHost(Protocol):
    """What the control handlers need of :class:`host.app.Host`."""

    supervisor: Supervisor
    #: What shows, and the user's pins, skips, power and brightness.
    director: Director
    #: Instances that could not start at all, with their status entry.
    missing: dict[str, dict[str, Any]]
    #: What the MQTT bridge last reported (``mqtt_state``), None without one.
    mqtt_state: dict[str, Any] | None

    def status(self) -> dict[str, Any]: ...


def _handle_of(host: ControlledHost, instance: str) -> Any:
    handle = host.supervisor.handles.get(instance)
    if handle is None:
        known = ", ".join(sorted(host.supervisor.handles)) or "none"
        raise Refused("no_such_instance", f"no plugin instance {instance!r} (running: {known})")
    return handle


def _split_mode(target: str) -> tuple[str, str]:
    instance, sep, mode = target.partition(":")
    if not sep or not instance or not mode:
        raise Refused("bad_request", f"mode {target!r} is not 'instance:mode'")
    return instance, mode


def display(host: ControlledHost) -> dict[str, Any]:
    """The host's display status, with the user's on/off folded in."""
    shown = host.director.display_status()
    shown["powered"] = host.director.powered
    shown["on"] = bool(shown.get("on")) and host.director.powered
    return shown


def _status(host: ControlledHost) -> dict[str, Any]:
    # Without log tails: they are most of a status's size and have their own request, and
    # a status is what scripts poll (the benchmark's 50/s): not even built (log_tail=0).
    plugins: dict[str, Any] = dict(host.missing)
    plugins.update(host.supervisor.status(log_tail=0))
    for entry in plugins.values():
        entry.pop("recent_logs", None)
    return {"display": display(host), "plugins": plugins, "mqtt": host.mqtt_state}


def _plugin(host: ControlledHost, req: control.PluginOp, now: float) -> Any:
    if req.op in ("enable", "disable"):
        # A config change like any other: written to the file, applied by the reload path.
        change = control.ConfigSet(
            section=f"plugins.{req.instance}", values={"enabled": req.op == "enable"}, id=req.id
        )
        from host.control import config_ops  # the config writer: loaded on first use

        return config_ops.write_section(host, change)
    handle = _handle_of(host, req.instance)
    if req.op == "retry":
        try:
            host.supervisor.retry(handle, now)
        except ValueError as exc:
            raise Refused("conflict", str(exc)) from None
        return None
    # restart: a live worker is stopped and started again by the usual restart path
    if handle.process is None:
        host.supervisor.retry(handle, now)
    else:
        handle.terminate("restart requested through the control socket", now)
    return None


def _plugin_info(host: Any, req: control.PluginInfo) -> dict[str, Any]:
    """What the instance's worker announced, plus its config section (secrets as "set").

    Before the worker's hello (starting, quarantined before it ever ran) ``schema`` is None
    and ``modes`` empty: the UI says so instead of drawing an empty form.
    """
    from host.control import config_ops  # loaded on first use, as everywhere here

    handle = _handle_of(host, req.instance)
    try:
        config = config_ops.read_section(host.cfg, f"plugins.{req.instance}")
    except Refused:
        config = {}
    return {
        "instance": req.instance,
        "plugin": handle.spec.plugin_id,
        "version": handle.spec.version,
        "source": handle.spec.source,
        "modes": list(handle.modes),
        "actions": list(handle.actions),
        "schema": handle.schema,
        "config": config,
    }


def _safe_mode_next(host: Any, req: control.SafeModeNext) -> dict[str, Any]:
    """The one-shot flag file of :mod:`host.safemode`, written or removed by the host (the
    web process never touches the data folder)."""
    from host.safemode import flag_path

    path = flag_path(host.cfg.paths.data_dir)
    try:
        if req.on:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
        elif req.on is False:
            path.unlink(missing_ok=True)
    except OSError as exc:
        raise Refused("refused", f"cannot change {path}: {exc.strerror}") from None
    return {"next_start_safe": path.exists(), "safe_mode": bool(display(host).get("safe_mode"))}


def _action(host: ControlledHost, req: control.RunAction, now: float) -> Pending:
    handle = _handle_of(host, req.instance)
    if handle.process is None:
        raise Refused("not_running", f"plugin instance {req.instance!r} is not running")
    try:
        action_id = host.supervisor.request_action(handle, req.action, dict(req.args))
    except ValueError as exc:  # no such action: the message lists the ones it has
        raise Refused("no_such_action", str(exc)) from None
    deadline = now + ACTION_TIMEOUT

    def poll(now: float) -> control.Ok | control.Failed | None:
        result = handle.action_results.pop(action_id, None)
        if result is not None:
            if result.get("ok"):
                return control.Ok(id=req.id, data=result.get("result"))
            error = str(result.get("error") or "the action failed")[:4000]
            return control.Failed(code="action_failed", message=error, id=req.id)
        if now >= deadline:
            return control.Failed(
                code="timeout", message=f"action {req.action!r} gave no answer", id=req.id
            )
        return None

    return Pending(poll)


#: The builtin plugin and mode that show text notifications (``plugins_builtin.text``).
TEXT_PLUGIN: Final = "text"
TEXT_MODE: Final = "notification"


def text_handle(host: ControlledHost) -> Any:
    """The running builtin text instance that draws text notifications, if any."""
    return next(
        (
            h
            for h in host.supervisor.handles.values()
            if h.spec.plugin_id == TEXT_PLUGIN
            and TEXT_MODE in h.mode_names()
            and h.process is not None
        ),
        None,
    )


def _notify_text(host: ControlledHost, req: control.Notify, now: float) -> Pending:
    """Hand the text to a running builtin text instance, then interrupt with its mode.

    The host never draws plugin content itself: the text plugin, in its worker, draws it
    in its font and colour (or scrolls it when it does not fit), like any message.
    """
    handle = text_handle(host)
    if handle is None:
        raise Refused(
            "unsupported",
            "text notifications need a running instance of the builtin text plugin "
            "([plugins.text]); or send a mode ('instance:mode')",
        )
    params: dict[str, Any] = {"text": req.text}
    if req.color is not None:
        params["color"] = req.color
    action_id = host.supervisor.request_action(handle, "notify", params)
    deadline = now + ACTION_TIMEOUT

    def poll(now: float) -> control.Ok | control.Failed | None:
        result = handle.action_results.pop(action_id, None)
        if result is None:
            if now >= deadline:
                return control.Failed(code="timeout", message="the text plugin gave no answer",
                                      id=req.id)  # fmt: skip
            return None
        if not result.get("ok"):
            error = str(result.get("error") or "the text plugin refused it")[:4000]
            return control.Failed(code="refused", message=error, id=req.id)
        try:
            host.director.notify(handle.instance_id, TEXT_MODE, req.priority, req.seconds)
        except HostError as exc:
            return control.Failed(code="refused", message=str(exc), id=req.id)
        return control.Ok(id=req.id, data=display(host))

    return Pending(poll)


def _logs(host: ControlledHost, req: control.Logs) -> list[dict[str, Any]]:
    _handle_of(host, req.instance)
    ring = host.supervisor.logs[req.instance]
    return [log_record(r) for r in ring.records(limit=req.lines)] if req.lines else []


def log_record(record: Any) -> dict[str, Any]:
    """A ring record as the wire shows it (also used by the log event stream)."""
    import logging

    return {
        "seq": record.seq,
        "time": round(record.time, 3),
        "level": logging.getLevelName(record.level),
        "logger": record.logger,
        "message": record.message,
    }


def handle(host: Any, req: control.Request, now: float | None = None) -> Any:
    """Carry out ``req``; its reply's data, a :class:`Pending`, or :class:`Refused`."""
    now = time.monotonic() if now is None else now
    try:
        match req:
            case control.Status():
                return _status(host)
            case control.Next() | control.Previous():
                host.director.skip(back=isinstance(req, control.Previous))
                return display(host)
            case control.Pin():
                host.director.pin(req.instance, req.mode, req.seconds)
                return display(host)
            case control.Unpin():
                host.director.unpin()
                return display(host)
            case control.Brightness():
                host.director.set_brightness(req.value)
                return None
            case control.Power():
                host.director.power(req.on)
                return None
            case control.Notify():
                if (req.text is None) == (req.mode is None):
                    raise Refused("bad_request", "notify needs exactly one of text and mode")
                if req.text is not None:
                    return _notify_text(host, req, now)
                assert req.mode is not None
                instance, mode = _split_mode(req.mode)
                host.director.notify(instance, mode, req.priority, req.seconds)
                return display(host)
            case control.PluginOp():
                return _plugin(host, req, now)
            case control.RunAction():
                return _action(host, req, now)
            case control.PluginInfo():
                return _plugin_info(host, req)
            case control.RenderMode():
                from host.control.preview_ops import render_preview

                return render_preview(host, _handle_of(host, req.instance), req, now)
            case control.Restart():
                host.request_restart()
                return {"restarting": True}
            case control.SafeModeNext():
                return _safe_mode_next(host, req)
            case control.ConfigGet():
                from host.control import config_ops

                return config_ops.read_section(host.cfg, req.section)
            case control.ConfigSet():
                from host.control import config_ops

                return config_ops.write_section(host, req)
            case control.ConfigBackup():
                from host.control import config_ops

                return config_ops.backup_text(host)
            case control.ConfigRestore():
                from host.control import config_ops

                return config_ops.restore_file(host, req)
            case control.SecretList():
                from host.control import secret_ops

                return secret_ops.list_secrets(host)
            case control.SecretSet() | control.SecretDelete():
                from host.control import secret_ops

                return secret_ops.write_secret(host, req)
            case control.Logs():
                return _logs(host, req)
            case (
                control.SyncState() | control.SyncPosition() | control.SyncNotice()
                | control.SyncNotify() | control.WallFrame()
            ):  # fmt: skip
                from host.control.sync_ops import handle_sync

                return handle_sync(host, req, now)
            case _:
                raise Refused("bad_request", f"{type(req).__name__} is not handled here")
    except HostError as exc:
        raise Refused("refused", str(exc)) from None
