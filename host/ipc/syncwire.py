"""The messages synchronised signs exchange through the MQTT broker, declared once, typed.

Several signs follow one leader (issue 21, docs/mqtt.md "Several signs"): the leader
publishes where its rotation is (:class:`Position`) and the notifications it starts
(:class:`Notice`); each follower measures its clock's offset to the leader with
:class:`Ping` / :class:`Pong` pairs. Every message is a JSON object (MQTT users read them
with ``mosquitto_sub`` and Node-RED) with a ``"t"`` tag and a version ``v``.

Every time in a message is a wall-clock time (``time.time()``) *of the machine that wrote
it*: monotonic clocks mean nothing on another machine, and wall clocks of two Pis differ by
whatever NTP left between them, which is what the offset measures. Nothing here converts
them; :mod:`host.schedule.follow` does, with the offset passed in.

Anyone on the broker may publish on these topics, so every message is decoded against its
declaration and refused whole when it does not match (:class:`SyncWireError` names the
field), and bounded: at most :data:`MAX_PAYLOAD` bytes, names as the control socket takes
them, times finite. The same structs are the fields of the control requests that carry
them to the host (:mod:`host.ipc.control`), so a bridge forwards them without
re-checking.

This module imports nothing of ours but the wire's bounds: the MQTT bridge process loads it
as well as the host.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, Union

import msgspec

__all__ = [
    "MAX_PAYLOAD",
    "VERSION",
    "Notice",
    "Ping",
    "Pong",
    "Position",
    "SyncMessage",
    "SyncWireError",
    "decode",
    "encode",
]

#: The version of these messages; a sign refuses another version (and logs it once).
VERSION: Final = 1
#: Largest payload decoded: a notice with a 1024-character text fits four times over.
MAX_PAYLOAD: Final = 8 * 1024

#: A wall-clock time: after 2001 and before 2286 (a bogus 0 or 1e300 is refused).
WallTime = Annotated[float, msgspec.Meta(ge=1e9, le=1e10)]
#: A stretch of time in seconds (a turn, a notification, what is left of one).
Span = Annotated[float, msgspec.Meta(ge=0.0, le=86400.0 * 7)]
#: A sign's id: its MQTT client id, as the bridge sets it.
SignId = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+\Z")]
#: ``"instance:mode"`` of a rotation slot (``@ticker`` and ``@<layout>`` included).
SlotKey = Annotated[
    str, msgspec.Meta(min_length=3, max_length=129, pattern=r"^@?[A-Za-z0-9_.-]+:[a-z0-9_@-]+\Z")
]
#: A group, as ``[sync] group`` takes it (:data:`config.sync.GROUP_PATTERN`).
Group = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+\Z")]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
Color = Annotated[str, msgspec.Meta(max_length=32, pattern=r"^(#[0-9A-Fa-f]{6}|[a-z]{1,20})\Z")]
Priority = Annotated[int, msgspec.Meta(ge=0, le=1000)]
TransitionName = Annotated[str, msgspec.Meta(max_length=32, pattern=r"^[a-z-]+\Z")]


class SyncWireError(ValueError):
    """A sync payload that is not a valid message; the text names what is wrong."""


class _Msg(msgspec.Struct, tag_field="t", forbid_unknown_fields=True):
    """Base of every sync message."""


class Position(_Msg, tag="position"):
    """Where the leader's rotation is, sent at every switch and every ``[sync] period``.

    ``left`` seconds of the turn of ``key`` were left at ``at``; while ``running`` they
    count down (the rotation is on screen), else the turn is paused (an interrupt of the
    leader's own, or nothing to show). ``next`` is the slot the leader shows when the turn
    ends, so a follower whose rotation differs still switches to the same slot at once.
    ``pin`` mirrors a pin on the leader (``pin_left`` ``None``: until unpinned).
    ``transition`` is how the leader moved to ``key``, ``next_transition`` how it will
    move to ``next``: a follower switches the same way, whatever its own config says.
    """

    leader: SignId
    #: Counts up from 1 for one run of the leader (``boot`` changes with each run).
    seq: Seq
    boot: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    at: WallTime
    key: SlotKey | None = None
    left: Span = 0.0
    length: Span = 0.0
    running: bool = False
    next: SlotKey | None = None
    pin: SlotKey | None = None
    pin_left: Span | None = None
    transition: TransitionName | None = None
    transition_seconds: Annotated[float, msgspec.Meta(ge=0.0, le=60.0)] | None = None
    next_transition: TransitionName | None = None
    next_transition_seconds: Annotated[float, msgspec.Meta(ge=0.0, le=60.0)] | None = None
    period: Annotated[float, msgspec.Meta(ge=0.1, le=60.0)] = 1.0
    v: Literal[1] = 1


class Notice(_Msg, tag="notice"):
    """A notification every sign (or one ``group``'s) starts at the leader's time ``start``.

    Exactly one of ``text`` (drawn by each sign's builtin text plugin) and ``mode``
    (``"instance:mode"``, which each sign must have). ``id`` is unique per leader run, so a
    notice delivered twice (QoS 1 may) starts once.
    """

    leader: SignId
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    start: WallTime
    seconds: Annotated[float, msgspec.Meta(gt=0.0, le=86400.0)] = 10.0
    priority: Priority = 1000
    text: Text | None = None
    mode: SlotKey | None = None
    color: Color | None = None
    group: Group | None = None
    v: Literal[1] = 1


class Ping(_Msg, tag="ping"):
    """A follower asks the leader for its clock: ``t0`` is the follower's send time."""

    sign: SignId
    n: Seq
    t0: WallTime
    v: Literal[1] = 1


class Pong(_Msg, tag="pong"):
    """The leader's answer: ``t1`` when it received the ping, ``t2`` when it answered."""

    sign: SignId
    leader: SignId
    n: Seq
    t0: WallTime
    t1: WallTime
    t2: WallTime
    v: Literal[1] = 1


SyncMessage = Union[Position, Notice, Ping, Pong]  # noqa: UP007 - msgspec needs a runtime Union

_decoder = msgspec.json.Decoder(SyncMessage)
_encoder = msgspec.json.Encoder()


def encode(message: SyncMessage) -> bytes:
    """The JSON payload of ``message``."""
    return _encoder.encode(message)


def decode(payload: bytes) -> SyncMessage:
    """Decode one payload from the broker.

    :raises SyncWireError: too large, not JSON, an unknown ``t``, another version, or a
        field out of bounds; the message names which.
    """
    if len(payload) > MAX_PAYLOAD:
        raise SyncWireError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    try:
        message: SyncMessage = _decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise SyncWireError(str(exc)) from None
    except RecursionError:
        raise SyncWireError("nested too deeply") from None
    if isinstance(message, Notice) and (message.text is None) == (message.mode is None):
        raise SyncWireError("a notice needs exactly one of text and mode")
    return message
