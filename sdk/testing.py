"""Test a plugin with pytest: its hooks in-process, or the plugin in a real worker.

The worker calls a plugin's hooks through a pluggy manager of its own; this module does
the same in the test's process, with real Pillow drawing and no host, so a plugin author
can check frames as numpy arrays::

    from sdk.testing import render

    import my_plugin

    def test_shows_something():
        (frame,) = render(my_plugin, "main", size=(64, 32), config={"city": "Oslo"})
        assert frame.any()

For more than one call (configure, has_content, actions) use :class:`PluginRunner`.
Config defaults come from the plugin's ``config_schema`` and the result is validated
against it, as the host would do.

The same checks through the real worker the panel uses (its own process, containment,
shared memory; a fake clock passed in) are :class:`WorkerRunner`'s; golden images are
:func:`assert_matches_golden`'s, and recorded HTTP answers on 127.0.0.1 are
:class:`RecordedServer`'s. Every helper is documented with an example in
``docs/testing_plugins.md``.

.. versionadded:: 0.1
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import pluggy

from sdk import hookspecs
from sdk.canvas import Canvas
from sdk.context import PluginContext
from sdk.golden import UPDATE_ENV, assert_matches_golden, updating_golden
from sdk.recorded import FORMAT as RECORDING_FORMAT
from sdk.recorded import RecordedServer, Route
from sdk.registration import MAX_STRIP_WIDTH, ModeInfo, collect_actions, collect_modes
from sdk.rendered import Frame
from sdk.runnerbase import Runner
from sdk.strip import Strip
from sdk.worker_runner import DEFAULT_NOW, WorkerError, WorkerRunner

__all__ = [
    "DEFAULT_NOW",
    "RECORDING_FORMAT",
    "UPDATE_ENV",
    "Frame",
    "ModeInfo",
    "PluginRunner",
    "RecordedServer",
    "RecordingRequests",
    "Route",
    "WorkerError",
    "WorkerRunner",
    "assert_matches_golden",
    "default_config",
    "render",
    "updating_golden",
    "validated_config",
]


class RecordingRequests:
    """A :class:`sdk.context.Requests` that records what the plugin asked the host for.

    .. versionadded:: 0.1
    """

    def __init__(self) -> None:
        #: One entry per ``context.request_redraw(mode)``.
        self.redraws: list[str | None] = []
        #: ``(mode, priority, seconds)`` per ``context.request_interrupt``.
        self.interrupts: list[tuple[str, int, float]] = []
        #: One mode per ``context.release_interrupt``.
        self.releases: list[str] = []
        #: ``(mode, seconds)`` per ``context.request_more_time``.
        self.more_time: list[tuple[str, float]] = []

    def request_redraw(self, mode: str | None) -> None:
        self.redraws.append(mode)

    def request_interrupt(self, mode: str, priority: int, seconds: float) -> None:
        self.interrupts.append((mode, priority, seconds))

    def release_interrupt(self, mode: str) -> None:
        self.releases.append(mode)

    def request_more_time(self, mode: str, seconds: float) -> None:
        self.more_time.append((mode, seconds))


def default_config(
    schema: Mapping[str, Any] | None, config: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return ``config`` with every ``default`` of ``schema`` filled in where a key is absent.

    The host's own function (``config.plugin_schema.fill_defaults``): ``properties``
    into nested objects, array ``items``, ``allOf`` and local ``$ref``; values given in
    ``config`` always win, so a plugin's tests see exactly the config its worker gets.

    .. versionadded:: 0.1
    """
    # sdk.testing is a development harness, run where the whole ledhost distribution is
    # installed; the one module of the SDK that reaches into ``config``, so the host's
    # rules are the only ones (plugin code never imports this module at run time).
    from config.plugin_schema import fill_defaults

    return fill_defaults(schema or {}, dict(config or {}))


def validated_config(
    schema: Mapping[str, Any] | None,
    config: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    *,
    plugin_id: str = "plugin",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate and fill ``config`` and ``secrets`` exactly as the host does for a worker.

    :returns: ``(options, secrets)`` as the worker's ``context.config`` and
        ``context.secrets`` would hold them: a key the schema marks ``writeOnly`` is a
        secret, moved out of the options.
    :raises ValueError: every problem, one ``plugins.<id>.<key>: ...`` line each (the
        host's ``ConfigError``).

    .. versionadded:: 0.1
    """
    from config.plugin_schema import validate_plugin_config

    result = validate_plugin_config(
        schema, dict(config or {}), dict(secrets or {}), where=f"plugins.{plugin_id}"
    )
    return dict(result.options), dict(result.secrets)


class PluginRunner(Runner):
    """One plugin, loaded into a fresh pluggy manager and set up, ready to render.

    Use it as a context manager: entering calls ``setup`` and one ``refresh_data``,
    leaving calls ``teardown``. Hooks run synchronously in the calling thread.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        plugin: object,
        *,
        size: tuple[int, int] = (64, 32),
        config: Mapping[str, Any] | None = None,
        secrets: Mapping[str, Any] | None = None,
        plugin_id: str | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self.width, self.height = size
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        name = plugin_id or str(getattr(plugin, "__name__", "plugin")).rpartition(".")[2]
        self.pm.register(plugin, name=name)
        self.name = name
        # Misspelled hooks fail here, as they fail the worker's boot.
        self.pm.check_pending()
        #: Registered modes by name.
        self.modes: dict[str, ModeInfo] = self._collect_modes()
        #: Registered action names.
        self.actions: list[str] = self._collect_actions()
        #: The plugin's config schema (or ``None``).
        self.schema: dict[str, Any] | None = self.pm.hook.config_schema()
        #: What the plugin asked the host for.
        self.requests = RecordingRequests()
        filled, own_secrets = validated_config(self.schema, config, secrets, plugin_id=name)
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="ledhost-plugin-")
            data_dir = Path(self._tempdir.name)
        #: The context every hook receives.
        self.context = PluginContext(
            plugin_id=name,
            instance_id=name,
            width=self.width,
            height=self.height,
            config=filled,
            secrets=MappingProxyType(own_secrets),
            data_dir=data_dir,
            requests_to_host=self.requests,
        )
        self._started = False

    @property
    def config(self) -> Mapping[str, Any]:
        """The current config, defaults filled in."""
        return self.context.config

    def start(self) -> None:
        """Call ``setup`` and then ``refresh_data`` once, as the worker does at boot."""
        if not self._started:
            self.pm.hook.setup(context=self.context)
            self._started = True
            self.refresh()

    def refresh(self) -> float | None:
        """Call ``refresh_data`` now; return the shortest delay any answer asked for."""
        answers = self.pm.hook.refresh_data(context=self.context)
        delays = [float(d) for d in answers if isinstance(d, int | float)]
        return min(delays) if delays else None

    def configure(self, config: Mapping[str, Any]) -> Mapping[str, Any]:
        """Give the plugin a new config (defaults filled in, validated) via ``configure``."""
        filled, own_secrets = validated_config(
            self.schema, config, dict(self.context.secrets), plugin_id=self.name
        )
        self.context.config = filled
        self.context.secrets = MappingProxyType(own_secrets)
        self.pm.hook.configure(context=self.context, config=filled)
        return filled

    def has_content(self, mode: str) -> bool:
        """What the host would conclude from ``has_content``: only ``False`` means no."""
        self._check_mode(mode)
        return self.pm.hook.has_content(context=self.context, mode=mode) is not False

    def render_strip(self, mode: str, *, ticker: bool = False) -> Strip | None:
        """Call ``render_strip`` and check the strip as the host does.

        :param ticker: as the host passes it when the mode feeds the ticker.
        """
        self._check_mode(mode)
        strip = self.pm.hook.render_strip(
            context=self.context, mode=mode, height=self.height, ticker=ticker
        )
        if strip is None:
            return None
        if not isinstance(strip, Strip):
            raise TypeError(f"render_strip returned {type(strip).__name__}, not sdk.Strip")
        width, height = strip.canvas.size
        if height != self.height or not 1 <= width <= MAX_STRIP_WIDTH:
            raise ValueError(
                f"strip of {width}x{height}; it must be {self.height} high "
                f"and 1-{MAX_STRIP_WIDTH} wide"
            )
        return strip

    def render_frame(self, mode: str, *, now: float | None = None, frame: int = 0) -> Frame:
        """Call ``render_frame`` on a fresh black canvas of the display size."""
        self._check_mode(mode)
        when = time.time() if now is None else now
        canvas = Canvas(self.width, self.height)
        delay = self.pm.hook.render_frame(
            context=self.context, canvas=canvas, mode=mode, frame=frame, now=when
        )
        if delay is not None and (not isinstance(delay, int | float) or delay < 0):
            raise TypeError(f"render_frame returned {delay!r}; expected seconds >= 0 or None")
        return Frame(
            pixels=canvas.to_array(),
            delay=None if delay is None else float(delay),
            now=when,
        )

    def action(self, name: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call ``handle_action`` for a registered action; return its result."""
        if name not in self.actions:
            raise ValueError(f"no action {name!r}; the plugin registered {self.actions}")
        return self.pm.hook.handle_action(
            context=self.context, name=name, params=dict(params or {})
        )

    def close(self) -> None:
        """Call ``teardown`` (if set up), close the context and remove the temp data dir."""
        try:
            if self._started:
                self._started = False
                self.pm.hook.teardown(context=self.context)
        finally:
            self.context.close()
            if self._tempdir is not None:
                self._tempdir.cleanup()
                self._tempdir = None

    def _check_mode(self, mode: str) -> None:
        if mode not in self.modes:
            raise ValueError(f"no mode {mode!r}; the plugin registered {sorted(self.modes)}")

    def _collect_modes(self) -> dict[str, ModeInfo]:
        modes = collect_modes(lambda register: self.pm.hook.register_modes(register=register))
        return {m.name: m for m in modes}

    def _collect_actions(self) -> list[str]:
        actions = collect_actions(lambda register: self.pm.hook.register_actions(register=register))
        return [a.name for a in actions]


def render(
    plugin: object,
    mode: str,
    *,
    size: tuple[int, int] = (64, 32),
    config: Mapping[str, Any] | None = None,
    now: float | None = None,
    frames: int = 1,
) -> list[npt.NDArray[np.uint8]]:
    """Load ``plugin``, set it up and render ``mode``; return the pixels.

    If the plugin draws the mode as a strip (``render_strip``), the one strip image is
    returned (``(height, strip width, 3)``). Otherwise ``frames`` frames come from
    ``render_frame``, the first at ``now`` (default: the current time) and each next one
    at the time the previous one asked for; after a still frame (``None``) the time stays.

    .. versionadded:: 0.1
    """
    if frames < 1:
        raise ValueError(f"frames must be at least 1, got {frames}")
    with PluginRunner(plugin, size=size, config=config) as runner:
        strip = runner.render_strip(mode)
        if strip is not None:
            return [strip.canvas.to_array()]
        when = time.time() if now is None else now
        pixels: list[npt.NDArray[np.uint8]] = []
        for index in range(frames):
            frame = runner.render_frame(mode, now=when, frame=index)
            pixels.append(frame.pixels)
            when += frame.delay or 0.0
        return pixels
