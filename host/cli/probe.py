"""Run plugins in real workers outside the display loop: describe them, render samples.

``ledhost plugins`` learns each plugin's modes from a worker started in describe mode (the
host never imports plugin code), and ``ledhost render`` shows one mode through a real
worker, exactly as the host would get it. Both drive the :class:`~host.supervise.supervisor.
Supervisor` with a small loop of their own.
"""

from __future__ import annotations

import logging
import selectors
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from host.discovery import PluginSpec
from host.display.compositor import Compositor
from host.errors import HostError, ProtocolError
from host.ipc import protocol
from host.ipc.channel import Channel
from host.ipc.framebus import FrameBus, Geometry
from host.ipc.strip import StripImage
from host.ipc.workerargs import WorkerArgs
from host.supervise.handle import WorkerHandle
from host.supervise.listener import FrameCollector
from host.supervise.rules import WorkerRules
from host.supervise.spawner import LaunchRequest, SpawnLauncher, ZygoteLauncher
from host.supervise.states import WorkerState
from host.supervise.supervisor import Supervisor

log = logging.getLogger(__name__)


def describe_plugins(
    specs: list[PluginSpec],
    *,
    timeout: float = 30.0,
    launcher: str = "spawn",
    rules: WorkerRules | None = None,
) -> dict[str, dict[str, Any]]:
    """Start every plugin in describe mode at once and collect its hello.

    Importing a plugin runs its code, so these workers are contained like any other:
    ``rules`` gives their limits and user (``None``: the defaults, as the host's user).

    :returns: per plugin id, ``{"modes", "hooks", "schema", "actions"}`` or ``{"error"}``.
    """
    import socket

    launch = ZygoteLauncher() if launcher == "zygote" else SpawnLauncher()
    rules = rules or WorkerRules()
    geometry = Geometry(1, 1, 1)
    pending: dict[str, tuple[Any, Channel[protocol.WorkerMessage], FrameBus]] = {}
    results: dict[str, dict[str, Any]] = {}
    selector = selectors.DefaultSelector()
    for spec in specs:
        refusal = rules.refusal(spec.source)
        if refusal is not None:
            results[spec.plugin_id] = {"error": refusal}
            continue
        host_sock, worker_sock = socket.socketpair()
        bus = FrameBus(spec.plugin_id, geometry)
        args = WorkerArgs(
            plugin_id=spec.plugin_id,
            instance_id=spec.plugin_id,
            control_fd=worker_sock.fileno(),
            frame_fds=bus.worker_fds(),
            width=1,
            height=1,
            slots=1,
            paths=spec.paths,
            distribution=spec.distribution,
            location=spec.location,
            entry_point=spec.value,
            version=spec.version,
            describe=True,
            network=False,  # describing needs no network: importing must not phone home
            **rules.containment(),
        )
        try:
            process = launch.launch(LaunchRequest(args, spec.python))
        except OSError as exc:
            results[spec.plugin_id] = {"error": f"could not start a worker: {exc}"}
            bus.close()
            host_sock.close()
            continue
        finally:
            worker_sock.close()
        channel: Channel[protocol.WorkerMessage] = Channel(
            host_sock, peer=spec.plugin_id, decode=protocol.decode_from_worker
        )
        pending[spec.plugin_id] = (process, channel, bus)
        selector.register(host_sock, selectors.EVENT_READ, spec.plugin_id)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for key, _ in selector.select(max(0.0, deadline - time.monotonic())):
            plugin_id = key.data
            process, channel, bus = pending[plugin_id]
            try:
                messages = channel.receive()
            except (EOFError, ProtocolError) as exc:
                messages = []
                results.setdefault(plugin_id, {"error": f"worker ended without hello ({exc})"})
                _finish(pending.pop(plugin_id), selector)
                continue
            for message in messages:
                if isinstance(message, protocol.Hello):
                    results[plugin_id] = {
                        "modes": msgspec.to_builtins(message.modes),
                        "hooks": list(message.hooks),
                        "schema": message.schema,
                        "actions": msgspec.to_builtins(message.actions),
                    }
                elif isinstance(message, protocol.Error):
                    results[plugin_id] = {"error": message.message}
            if plugin_id in results:
                _finish(pending.pop(plugin_id), selector)
    for plugin_id, item in list(pending.items()):
        results[plugin_id] = {"error": f"no answer within {timeout:.0f}s"}
        _finish(item, selector)
    launch.close()  # the zygote, if any: it would otherwise live as long as this process
    return results


def _finish(
    item: tuple[Any, Channel[protocol.WorkerMessage], FrameBus], selector: selectors.BaseSelector
) -> None:
    process, channel, bus = item
    selector.unregister(channel.sock)
    channel.close()
    end = time.monotonic() + 5.0
    while process.poll() is None and time.monotonic() < end:
        time.sleep(0.005)
    process.signal_group(9)
    while process.poll() is None:
        time.sleep(0.005)
    process.close()
    bus.close()


def render_mode(
    spec: PluginSpec,
    mode: str | None,
    *,
    width: int,
    height: int,
    frames: int,
    options: dict[str, Any],
    data_dir: Path,
    fps: float = 30.0,
    timeout: float = 30.0,
    rules: WorkerRules | None = None,
    note: Callable[[str], None] = log.warning,
) -> tuple[list[np.ndarray], list[float]]:
    """Render ``frames`` frames of ``spec``'s ``mode`` through a real worker.

    A strip mode gives the whole strip for one frame, and for more frames the strip as the
    host would scroll it at ``fps``.

    A plugin with ``refresh_data`` is given until its first refresh has finished, so a
    network plugin shows its data rather than its "no data yet" frame.

    :param note: told of what the user should know about the result (the mode has no
        content right now, and why).
    :returns: the frames and each one's duration in seconds.
    :raises HostError: the plugin failed to start, has no such mode, or rendered nothing.
    """
    selector = selectors.DefaultSelector()
    collector = FrameCollector()
    sup = Supervisor(
        launcher=SpawnLauncher(),
        geometry=Geometry(width, height),
        selector=selector,
        listener=collector,
        data_dir=data_dir,
        rules=rules,
    )
    handle = WorkerHandle(instance_id=spec.plugin_id, spec=spec, options=options)
    sup.add(handle)
    sup.start(handle, time.monotonic())
    deadline = time.monotonic() + timeout
    try:
        _wait(sup, deadline, lambda: handle.state is not WorkerState.STARTING)
        if handle.state is not WorkerState.RUNNING:
            raise HostError(
                f"plugin {spec.plugin_id!r} did not start: {handle.last_error or handle.last_exit}"
            )
        names = handle.mode_names()
        chosen = mode or names[0]
        if chosen not in names:
            raise HostError(
                f"plugin {spec.plugin_id!r} has no mode {chosen!r} (modes: {', '.join(names)})"
            )
        if "refresh_data" in handle.hooks:
            # A network plugin's first frame before its first fetch would show "no data":
            # render what the panel shows once the data is in (or the fetch gave up).
            _wait(
                sup,
                deadline,
                lambda: handle.refreshes > 0 or handle.state is not WorkerState.RUNNING,
            )
        if not handle.content.get(chosen, True):
            note(
                f"plugin {spec.plugin_id!r} has no content for mode {chosen!r} right now; "
                "the rotation would skip it"
                + (f" (last error: {handle.last_error})" if handle.last_error else "")
            )
        sup.activate(handle, chosen)
        started = time.monotonic()
        _wait(
            sup,
            deadline,
            lambda: (
                collector.strip is not None
                or len(collector.frames) >= frames
                or handle.state is not WorkerState.RUNNING
                or (handle.last_error is not None and not collector.frames)
            ),
        )
        if collector.strip is not None:
            return _scroll(collector.strip, width, height, frames, fps)
        if not collector.frames:
            raise HostError(
                f"plugin {spec.plugin_id!r} rendered nothing: "
                f"{handle.last_error or handle.last_exit}"
            )
        elapsed = time.monotonic() - started
        per = elapsed / max(len(collector.frames), 1)
        return collector.frames[:frames], [per] * min(frames, len(collector.frames))
    finally:
        sup.stop_all(graceful_timeout=3.0)


def _wait(sup: Supervisor, deadline: float, done: Any) -> None:
    """Step the supervisor's loop until ``done()``, or every worker has ended."""
    while not done():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise HostError("the plugin's worker did not answer in time")
        sup.run_once(min(remaining, 0.2, max(0.0, sup.next_wakeup() - time.monotonic())))
        if all(
            h.state in (WorkerState.BACKOFF, WorkerState.QUARANTINED, WorkerState.EXITED)
            for h in sup.handles.values()
        ):
            return


def _scroll(
    strip: StripImage, width: int, height: int, frames: int, fps: float
) -> tuple[list[np.ndarray], list[float]]:
    if frames == 1:
        return [strip.pixels.copy()], [0.0]
    compositor = Compositor(width, height)
    out = []
    step = 1.0 / fps
    for i in range(frames):
        offset = int(i * step * strip.speed)
        out.append(compositor.compose_strip(strip, offset).copy())
    return out, [step] * frames


__all__ = ["describe_plugins", "render_mode"]
