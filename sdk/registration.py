"""What a plugin may register: mode and action names, and the checks on registration.

One home for the rules, because three places apply them: the worker that boots a plugin,
:mod:`sdk.testing` (so a plugin that passes its tests boots), and the host, which refuses a
worker's hello that breaks them (``host.ipc.protocol`` builds its patterns from these).
``config`` keeps a copy of :data:`NAME_PATTERN` for mode references in the rotation,
because ``config`` may import nothing of ours; a test holds the two equal.

.. versionadded:: 0.1
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "MAX_DURATION",
    "MAX_STRIP_WIDTH",
    "NAME_PATTERN",
    "ActionInfo",
    "ModeInfo",
    "RegistrationError",
    "collect_actions",
    "collect_modes",
    "is_name",
]

#: A mode or action name: 1-32 of ``a-z``, ``0-9``, ``_`` and ``-``, starting with a
#: letter or digit. Use with ``fullmatch`` (``$`` would let a trailing newline through).
NAME_PATTERN: Final = "[a-z0-9][a-z0-9_-]{0,31}"
_NAME: Final = re.compile(NAME_PATTERN)
#: The longest duration a mode may prefer, in seconds (a day).
MAX_DURATION: Final = 86400.0
#: The widest strip the host accepts from ``render_strip``, in pixels.
MAX_STRIP_WIDTH: Final = 16384


class RegistrationError(ValueError):
    """A ``register_modes``/``register_actions`` call the host would refuse at boot."""


@dataclass(frozen=True, slots=True)
class ModeInfo:
    """A registered display mode.

    .. versionadded:: 0.1
    """

    name: str
    title: str
    #: Seconds the mode prefers on screen; ``None``: the rotation's default.
    duration: float | None


@dataclass(frozen=True, slots=True)
class ActionInfo:
    """A registered action.

    .. versionadded:: 0.1
    """

    name: str
    title: str
    #: JSON Schema of the action's parameters, or ``None``.
    params: dict[str, Any] | None


def is_name(value: object) -> bool:
    """Whether ``value`` is a valid mode or action name."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


def collect_modes(call_register_modes: Callable[[Callable[..., None]], object]) -> list[ModeInfo]:
    """Run a plugin's ``register_modes`` through ``call_register_modes`` and check the result.

    :param call_register_modes: calls the hook with the ``register`` callback, e.g.
        ``lambda register: pm.hook.register_modes(register=register)``.
    :raises RegistrationError: a malformed or duplicate name, a bad duration, or no mode.
    """
    modes: list[ModeInfo] = []

    def register(name: str, title: str | None = None, duration: float | None = None) -> None:
        if not is_name(name):
            raise RegistrationError(
                f"mode name {name!r} is invalid: use 1-32 of a-z, 0-9, '_' or '-'"
            )
        if any(m.name == name for m in modes):
            raise RegistrationError(f"duplicate mode name {name!r}")
        if duration is not None and (
            isinstance(duration, bool)
            or not isinstance(duration, int | float)
            or not 0 < duration <= MAX_DURATION
        ):
            raise RegistrationError(
                f"mode {name!r}: duration must be seconds in (0, {MAX_DURATION:g}], "
                f"got {duration!r}"
            )
        seconds = None if duration is None else float(duration)
        modes.append(ModeInfo(name, str(title or name)[:200], seconds))

    call_register_modes(register)
    if not modes:
        raise RegistrationError("the plugin registered no display mode")
    return modes


def collect_actions(
    call_register_actions: Callable[[Callable[..., None]], object],
) -> list[ActionInfo]:
    """Run a plugin's ``register_actions`` through the caller given and check the result.

    :raises RegistrationError: a malformed or duplicate name, or a params schema that is
        not a dict.
    """
    actions: list[ActionInfo] = []

    def register(
        name: str, title: str | None = None, params_schema: dict[str, Any] | None = None
    ) -> None:
        if not is_name(name):
            raise RegistrationError(
                f"action name {name!r} is invalid: use 1-32 of a-z, 0-9, '_' or '-'"
            )
        if any(a.name == name for a in actions):
            raise RegistrationError(f"duplicate action name {name!r}")
        if params_schema is not None and not isinstance(params_schema, dict):
            raise RegistrationError(f"action {name!r}: params_schema must be a dict or None")
        actions.append(ActionInfo(name, str(title or name)[:200], params_schema))

    call_register_actions(register)
    return actions
