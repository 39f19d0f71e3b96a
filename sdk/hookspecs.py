"""Every hook a ledhost plugin can implement, in one place.

All plugin hooks run in the plugin's own **worker process**, never in the host. Arguments
and return values are plain data (str, int, float, dict, list) or worker-local objects
(:class:`sdk.PluginContext`, :class:`sdk.Canvas`), because what crosses to the host goes
through msgpack or shared memory. An implementation may accept fewer arguments than the
spec names (pluggy matches them by name), so new arguments can be added without breaking
existing plugins.

The reference with examples is ``docs/plugin_hooks.md``; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from sdk.canvas import Canvas
    from sdk.context import PluginContext
    from sdk.strip import Strip

#: The pluggy project name; also the marker namespace of every hook implementation.
PROJECT_NAME = "ledhost"
#: The entry-point group a plugin distribution declares itself in.
ENTRY_POINT_GROUP = "ledhost.plugins"
#: The entry-point group a plugin declares what it needs beyond drawing: an entry point
#: named after the plugin id whose value is ``"network"`` keeps its worker on the
#: network. Without it the worker runs in an empty network namespace (when the host can
#: make one). Read from metadata before any plugin code runs, so a plugin cannot grant
#: itself the network by running code.
PERMISSIONS_GROUP = "ledhost.permissions"
#: The permissions :data:`PERMISSIONS_GROUP` may grant.
PERMISSIONS = frozenset({"network"})

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Decorate a plugin function with ``@hookimpl`` to implement the hook of the same name.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_modes(register: Callable[..., None]) -> None:
    """Declare the display modes this plugin offers.

    Called once, in the worker, right after the plugin is loaded and before ``setup``.

    :param register: call ``register(name, title=None, duration=None)`` once per mode.
        ``name`` is a short id (1-32 of ``a-z0-9_-``, unique within the plugin), ``title``
        is what the UI shows, ``duration`` the seconds the mode prefers to stay on screen
        in the rotation (``None``: the user's ``rotation.default_duration``; the user's
        rotation entry overrides either). A duplicate or malformed mode stops the plugin
        at boot with an error naming it.
    :return: nothing; the return value is ignored.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def config_schema() -> dict[str, Any] | None:
    """Return the JSON Schema of this plugin's config section.

    Called once, in the worker, at boot. The host validates the user's config against it
    and fills in every ``default`` before ``setup`` sees it. Only the first non-``None``
    answer counts.

    :return: a JSON Schema (draft 2020-12) object, or ``None`` for a plugin with no options.

    .. versionadded:: 0.1
    """


@hookspec
def setup(context: PluginContext) -> None:
    """Prepare the plugin: open files, build caches, read ``context.config``.

    Called once, in the worker, after the host has sent the validated config and before any
    render. Raising here is a boot failure: the host reports it and keeps going without
    this plugin.

    :param context: the worker-local :class:`sdk.PluginContext`.
    :return: nothing.

    .. versionadded:: 0.1
    """


@hookspec
def configure(context: PluginContext, config: dict[str, Any]) -> None:
    """React to a changed config without a restart.

    Called in the worker when the user changed this plugin's section; ``config`` is the
    new, validated section with defaults filled in (also already in ``context.config``).
    The worker renders the active mode again afterwards.

    :param context: the worker-local context.
    :param config: the new config section.
    :return: nothing.

    .. versionadded:: 0.1
    """


@hookspec
def refresh_data(context: PluginContext) -> float | None:
    """Fetch or compute the data the plugin shows (a web API, a file, a sensor).

    Called in the worker on a background thread, never on the render path: once after
    ``setup`` and then on the plugin's own schedule. Slow I/O belongs here, not in
    ``render_frame``. Call ``context.request_redraw()`` when new data should be shown.

    :param context: the worker-local context.
    :return: seconds until the next refresh, or ``None`` to not be called again until the
        config changes.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def has_content(context: PluginContext, mode: str) -> bool | None:
    """Say whether ``mode`` has something to show right now.

    Called in the worker after ``setup``, after every ``refresh_data`` and after every
    ``configure``; the host skips modes without content in the rotation. Call
    ``context.request_redraw()`` from elsewhere if content appears for another reason.

    :param context: the worker-local context.
    :param mode: a mode name from ``register_modes``.
    :return: ``False`` to be skipped; ``True`` or ``None`` (the default) to be shown.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def render_strip(context: PluginContext, mode: str, height: int, ticker: bool) -> Strip | None:
    """Draw moving content that is only a translation of one image, once.

    Called in the worker when ``mode`` becomes active, and again after
    ``context.request_redraw()``. A scrolling message is drawn once as a strip as wide as
    it needs; the host slides it across the panel at ``Strip.speed`` pixels per second.
    That costs the worker one render instead of one per pixel of motion.

    :param context: the worker-local context.
    :param mode: the mode being shown.
    :param height: the strip's height in pixels: the display's, or the layout region's
        when the mode is shown in a layout.
    :param ticker: ``True`` when the strip feeds the continuous ticker, which carries
        only strips: return one even for content that would fit the panel standing
        still (a short message), or the mode is left out of the ticker.
    :return: a :class:`sdk.Strip`, or ``None`` to render frames with ``render_frame``.

    .. versionchanged:: 0.1 ``ticker``.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def render_frame(
    context: PluginContext, canvas: Canvas, mode: str, frame: int, now: float
) -> float | None:
    """Draw one frame of ``mode`` on ``canvas``.

    Called in the worker while ``mode`` is on screen, when the previous call said the next
    frame is due (or after ``context.request_redraw()``). The canvas is the size of the
    display, or of the region when the user shows the mode in a layout (``canvas.width``
    and ``context.width`` say which), and starts cleared to black. Keep it quick: fetch
    data in ``refresh_data``. A call running longer than half a second costs the mode its
    turn (the host shows something else until a frame arrives); one running past
    ``workers.render_timeout`` ends the worker.

    :param context: the worker-local context.
    :param canvas: the :class:`sdk.Canvas` to draw on.
    :param mode: the mode being shown.
    :param frame: frames rendered since the mode became active, from 0.
    :param now: the wall-clock time (``time.time()`` seconds) the frame is for; draw
        time-dependent content (a clock) from it, not from your own clock reading.
    :return: seconds until the next frame is due, or ``None`` for a still image that only
        changes on ``request_redraw()``.

    .. versionadded:: 0.1
    """


@hookspec
def register_actions(register: Callable[..., None]) -> None:
    """Declare actions a user can trigger from the web UI (e.g. "refresh now").

    Called once, in the worker, at boot.

    :param register: call ``register(name, title=None, params_schema=None)`` per action.
    :return: nothing.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def handle_action(
    context: PluginContext, name: str, params: dict[str, Any]
) -> dict[str, Any] | None:
    """Carry out a registered action.

    Called in the worker when the host forwards an action request.

    :param context: the worker-local context.
    :param name: the action name given to ``register_actions``.
    :param params: the request's parameters (plain data).
    :return: a result shown to the user (plain data), or ``None``.

    .. versionadded:: 0.1
    """


@hookspec
def teardown(context: PluginContext) -> None:
    """Release what ``setup`` acquired.

    Called once, in the worker, when the host stops the plugin gracefully. It is not called
    when the worker is killed, so never rely on it for data safety.

    :param context: the worker-local context.
    :return: nothing.

    .. versionadded:: 0.1
    """
