"""Commands over MQTT: a topic and a payload in, the control request the REST API would send out.

Every command becomes one :mod:`host.ipc.control` request, built by the same
``msgspec.convert`` into :data:`control.Request` that ``web/api.py`` uses, so the caps and
validation are the control socket's own (a brightness of 101, a priority above 1000, a
text of 2000 characters are refused here as they are there, and the host checks again).
Pure: no I/O, no clock (the caller passes ``now`` to :class:`OncePerKind`).

Topics, under ``<base>/set/``:

=============  ==========================================================================
``power``      ``ON``/``OFF`` (also ``on``/``off``, ``true``/``false``, ``1``/``0``)
``brightness`` ``0``-``100``
``pin``        ``instance:mode``, or ``rotation`` to unpin; or JSON
               ``{"mode": "instance:mode", "seconds": 30}``
``unpin``      anything
``notify``     a text; or JSON ``{"text": ..., "color": "#rrggbb", "priority": 0-1000,
               "seconds": ...}`` or ``{"mode": "instance:mode", ...}``
``next``       anything (Home Assistant's buttons send ``PRESS``)
``previous``   anything
=============  ==========================================================================
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Final, final

import msgspec

from host.ipc import control

__all__ = [
    "COMMANDS",
    "MAX_PAYLOAD",
    "UNPIN_OPTION",
    "CommandError",
    "OncePerKind",
    "parse_command",
]

#: Largest payload taken, in bytes: a notification's text is at most 1024 characters
#: (the control socket's cap), so anything bigger is refused before it is decoded.
MAX_PAYLOAD: Final = 4096
#: The pin select's option (and ``set/pin`` payload) that means "no pin: the rotation".
UNPIN_OPTION: Final = "rotation"
COMMANDS: Final = ("power", "brightness", "pin", "unpin", "notify", "next", "previous")

_ON: Final = frozenset({"on", "true", "1"})
_OFF: Final = frozenset({"off", "false", "0"})
_NOTIFY_KEYS: Final = frozenset({"text", "mode", "color", "priority", "seconds", "duration"})


@final
class CommandError(Exception):
    """A payload that is not a command; ``kind`` groups them for rate-limited logging."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _request(kind: type[Any], **fields: Any) -> control.Request:
    """The control request, checked as ``web/api.py`` checks it (the same caps)."""
    try:
        request: control.Request = msgspec.convert(
            {"t": kind.__struct_config__.tag, **fields}, control.Request
        )
    except msgspec.ValidationError as exc:
        raise CommandError("invalid", str(exc)) from None
    return request


def _json_object(text: str, command: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise CommandError("bad_json", f"{command}: the payload is not valid JSON") from None
    if not isinstance(value, dict):
        raise CommandError("bad_json", f"{command}: expected a JSON object")
    return value


def _power(text: str) -> control.Request:
    word = text.strip().lower()
    if word not in _ON | _OFF:
        raise CommandError("invalid", "power: expected ON or OFF")
    return _request(control.Power, on=word in _ON)


def _brightness(text: str) -> control.Request:
    try:
        value = float(text.strip())
    except ValueError:
        raise CommandError("invalid", "brightness: expected a number from 0 to 100") from None
    if not math.isfinite(value) or value != int(value):
        raise CommandError("invalid", "brightness: expected a whole number from 0 to 100")
    return _request(control.Brightness, value=int(value))


def _pin(text: str) -> control.Request:
    text = text.strip()
    if text == UNPIN_OPTION:
        return _request(control.Unpin)
    seconds = None
    if text.startswith("{"):
        data = _json_object(text, "pin")
        unknown = sorted(set(data) - {"mode", "seconds"})
        if unknown:
            raise CommandError("invalid", f"pin: unknown key(s) {', '.join(unknown)}")
        mode_text, seconds = data.get("mode"), data.get("seconds")
        if not isinstance(mode_text, str):
            raise CommandError("invalid", 'pin: "mode" must be "instance:mode"')
        text = mode_text
    instance, sep, mode = text.partition(":")
    if not sep:
        raise CommandError("invalid", f'pin: expected "instance:mode" or "{UNPIN_OPTION}"')
    return _request(control.Pin, instance=instance, mode=mode, seconds=seconds)


def _notify(text: str) -> control.Request:
    stripped = text.strip()
    if not stripped.startswith("{"):
        return _request(control.Notify, text=stripped)
    data = _json_object(stripped, "notify")
    unknown = sorted(set(data) - _NOTIFY_KEYS)
    if unknown:
        raise CommandError("invalid", f"notify: unknown key(s) {', '.join(unknown)}")
    fields = {k: v for k, v in data.items() if k != "duration"}
    if "duration" in data:  # the REST API's name for it
        fields["seconds"] = data["duration"]
    if (fields.get("text") is None) == (fields.get("mode") is None):
        raise CommandError("invalid", 'notify: give exactly one of "text" and "mode"')
    return _request(control.Notify, **fields)


def parse_command(command: str, payload: bytes) -> control.Request:
    """The control request for ``payload`` on ``<base>/set/<command>``.

    :raises CommandError: unknown command, oversized, not UTF-8, malformed or out of
        bounds; the message names the command and the problem (never the payload).
    """
    if command not in COMMANDS:
        raise CommandError(
            "unknown_command", f"no command {command[:40]!r} (try {', '.join(COMMANDS)})"
        )
    if len(payload) > MAX_PAYLOAD:
        raise CommandError(
            "oversized", f"{command}: payload of {len(payload)} bytes (at most {MAX_PAYLOAD})"
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError("not_utf8", f"{command}: the payload is not UTF-8 text") from None
    if "\x00" in text:
        raise CommandError("invalid", f"{command}: the payload holds a NUL character")
    try:
        if command == "power":
            return _power(text)
        if command == "brightness":
            return _brightness(text)
        if command == "pin":
            return _pin(text)
        if command == "notify":
            return _notify(text)
        if command == "unpin":
            return _request(control.Unpin)
        return _request(control.Next if command == "next" else control.Previous)
    except CommandError as exc:
        if str(exc).startswith(f"{command}:"):
            raise
        raise CommandError(exc.kind, f"{command}: {exc}") from None


@dataclass
class OncePerKind:
    """Lets one log line per kind of problem through per ``window`` seconds.

    Whoever can publish to the broker can send garbage at any rate; the bridge's log
    must not grow with it. :meth:`allow` returns how many of that kind were held back
    since the last line (to say so), or ``None`` to stay quiet.
    """

    window: float = 60.0

    def __post_init__(self) -> None:
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def allow(self, kind: str, now: float) -> int | None:
        last = self._last.get(kind)
        if last is not None and now - last < self.window:
            self._held[kind] = self._held.get(kind, 0) + 1
            return None
        self._last[kind] = now
        return self._held.pop(kind, 0)

    def warn(self, logger: logging.Logger, kind: str, message: str) -> None:
        """Log ``message`` as a warning if :meth:`allow` lets ``kind`` through now, saying
        how many of its kind were held back."""
        held = self.allow(kind, time.monotonic())
        if held is not None:
            more = f" ({held} more of this kind since the last line)" if held else ""
            logger.warning("%s%s", message, more)
