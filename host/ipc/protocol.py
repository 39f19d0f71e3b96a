"""Every control message between the host and a worker, declared once, typed.

Each message is a :class:`msgspec.Struct` whose ``"t"`` tag names it on the wire (a
msgpack map, as before). Decoding checks every field against its declaration -- type,
range, length -- and refuses the whole message otherwise, with a :class:`ProtocolError`
naming the message and the field (``hello: Expected `str`, got `int` - at
`$.modes[2].name```). The host treats a worker that sends such a message as failed: the
worker is ours, so a malformed message means a broken or hostile plugin process.

Bounds are wire sanity, not policy: they keep a crafted message from reaching host code
with a value no code expects (a 2**64 priority, an infinite duration, a million modes).
What the host then *allows* (interrupt caps, the longest dwell) is decided where the
message is handled.

Measured here before switching from hand-checked dicts (``msgpack`` plus ``isinstance``
per field) to ``msgspec``: encode and decode of a heartbeat 1.64 us -> 0.35 us, of a
hello 4.62 us -> 1.66 us, with every field checked instead of a few.

The direction of each message is in its class docstring and in :data:`FROM_WORKER` /
:data:`FROM_HOST`; each end decodes only what the other may send.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Union

import msgspec

from host.errors import ProtocolError
from sdk import registration
from sdk.registration import MAX_STRIP_WIDTH

__all__ = [
    "FROM_HOST",
    "FROM_WORKER",
    "REFRESH_HOOKS",
    "Action",
    "ActionInfo",
    "check_plain",
    "ActionResult",
    "Activate",
    "Bye",
    "Configure",
    "Configured",
    "Issue",
    "Refused",
    "Sources",
    "Started",
    "Content",
    "Deactivate",
    "Deactivated",
    "Deadlines",
    "Distribution",
    "Dwell",
    "Error",
    "Heartbeat",
    "Hello",
    "HostMessage",
    "Interrupt",
    "Log",
    "Message",
    "ModeInfo",
    "Ready",
    "Refresh",
    "Refreshed",
    "Release",
    "Start",
    "Step",
    "Stepped",
    "Stop",
    "Strip",
    "WorkerMessage",
    "decode_from_host",
    "decode_from_worker",
    "encode",
    "validate",
]

#: Mode and action names: the SDK's one rule (``\Z``, not ``$``, which allows a newline).
Name = Annotated[str, msgspec.Meta(pattern=rf"^{registration.NAME_PATTERN}\Z")]
#: A plugin id or instance id (``config.schema.ID_PATTERN`` allows up to 64).
Ident = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Title = Annotated[str, msgspec.Meta(max_length=200)]
Text = Annotated[str, msgspec.Meta(max_length=65536)]
#: Seconds: finite and non-negative (a NaN or an infinity fails both bounds).
Seconds = Annotated[float, msgspec.Meta(ge=0.0, le=1e9)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
Priority = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
Pixels = Annotated[int, msgspec.Meta(ge=1, le=MAX_STRIP_WIDTH)]


class _Message(msgspec.Struct, tag_field="t", forbid_unknown_fields=True):
    """Base of every message: the ``"t"`` tag is the class's ``tag``."""


#: Deepest nesting of plain data a message may carry (a JSON Schema is rarely past 10).
MAX_DEPTH: Final = 32
#: Most values (every dict, list and scalar counted) a plugin's schema may hold: the UI
#: and ``ledhost plugins`` show it, so it stays small; the largest builtin has ~200.
MAX_SCHEMA_NODES: Final = 4096
#: Most issues a worker may report for one config check, and each issue's longest text.
MAX_ISSUES: Final = 64


def count_nodes(value: object, limit: int) -> int:
    """How many values ``value`` holds (itself included), counting no further than ``limit``.

    Iterative, so a deep value costs no recursion; stops at ``limit`` so a huge one costs
    no more than that.
    """
    seen, stack = 0, [value]
    while stack and seen <= limit:
        item = stack.pop()
        seen += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return seen


def check_plain(value: object, where: str, depth: int = 0) -> None:
    """Refuse anything but JSON-like data (with bytes) in a field typed ``Any``.

    msgspec would carry more (datetimes, sets, dataclasses), and decodes msgpack's
    timestamp extension into a ``datetime``; host code that stores, compares or writes
    such a field as JSON expects none of them. Called on construction (in the worker,
    where a plugin's action result or schema is caught before it is sent) and on
    decoding (in the host, where a crafted message is refused whole).

    :raises TypeError: naming the path of the first value that is not plain data.
    """
    if depth > MAX_DEPTH:
        raise TypeError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, int) and not isinstance(value, bool):
        if not -(2**63) <= value < 2**64:
            raise TypeError(f"{where}: {value} does not fit msgpack's 64-bit integers")
        return
    if value is None or isinstance(value, bool | float | str | bytes):
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_plain(item, f"{where}[{index}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: key {key!r} is not a string")
            check_plain(item, f"{where}.{key}", depth + 1)
        return
    raise TypeError(f"{where}: {type(value).__name__} is not plain data")


# -- parts ---------------------------------------------------------------------------------


class ModeInfo(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A display mode a plugin registered (``register_modes``)."""

    name: Name
    title: Title | None = None
    #: Preferred seconds on screen; ``None``: the rotation's default.
    duration: Annotated[float, msgspec.Meta(gt=0.0, le=86400.0)] | None = None


class ActionInfo(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """An action a plugin registered (``register_actions``)."""

    name: Name
    title: Title
    #: JSON Schema of the action's parameters, or ``None``.
    params: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        check_plain(self.params, "params")


class Distribution(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The distribution the plugin was loaded from."""

    name: Title
    version: Title


#: Hooks whose calls get the ``refresh`` deadline; every other hook gets ``render``. The
#: worker (which reports an overdue call) and the host (which ends it) both read this.
REFRESH_HOOKS: Final = frozenset({"refresh_data"})


class Deadlines(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Seconds a hook call may run before the host ends the worker."""

    render: Seconds
    refresh: Seconds

    def of(self, hook: str) -> float:
        """The deadline of a call to ``hook`` (:data:`REFRESH_HOOKS` or the render one)."""
        return self.refresh if hook in REFRESH_HOOKS else self.render


# -- worker -> host ------------------------------------------------------------------------


class Hello(_Message, tag="hello"):
    """Worker -> host, once at boot: what the plugin offers."""

    plugin: Ident
    instance: Ident
    pid: Count
    modes: Annotated[list[ModeInfo], msgspec.Meta(max_length=64)]
    actions: Annotated[list[ActionInfo], msgspec.Meta(max_length=64)]
    #: The plugin's config JSON Schema, already checked by the worker; ``None``: no options.
    schema: dict[str, Any] | None
    hooks: Annotated[list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=64)]
    distribution: Distribution | None = None

    def __post_init__(self) -> None:
        check_plain(self.schema, "schema")
        if count_nodes(self.schema, MAX_SCHEMA_NODES) > MAX_SCHEMA_NODES:
            raise TypeError(f"schema: more than {MAX_SCHEMA_NODES} values")


class Ready(_Message, tag="ready"):
    """Worker -> host: ``setup`` finished; the worker renders on request."""


class Refreshed(_Message, tag="refreshed"):
    """Worker -> host: one ``refresh_data`` call finished."""


class Stepped(_Message, tag="stepped"):
    """Worker -> host, after a :class:`Step`: the frame is on the bus (unless ``ok`` is
    ``False``: the render raised, and an :class:`Error` said why); ``delay`` is what
    ``render_frame`` returned (``None``: a still frame)."""

    ok: bool
    delay: Seconds | None = None


class Deactivated(_Message, tag="deactivated"):
    """Worker -> host, from its main thread: it took ``deactivate``; no frame follows.

    Sent from the thread that renders, so it also says no ``render_frame`` call is under
    way: the host, which times the worker's scheduled renders from the due time on the
    last frame, stops timing then (and not before: a render may hang across the switch).
    """


class Bye(_Message, tag="bye"):
    """Worker -> host, last: the CPU seconds its process tree used."""

    cpu: Seconds


#: A ``render_frame`` call running this long (seconds) makes the worker beat at once,
#: whatever its interval: the host passes a mode whose frame is overdue over within a
#: frame or two (``host.director.STALL_MARGIN``), not at the next regular beat.
STALL_NOTICE = 0.25


class Heartbeat(_Message, tag="hb"):
    """Worker -> host, from the heartbeat thread, only while a hook call runs long.

    ``busy`` holds ``(hook, seconds running)`` per call that has run at least
    :data:`STALL_NOTICE` (or past its deadline), so the host tells a slow call from a hung
    one; an empty ``busy`` says the calls of the last beat are over. An idle worker sends
    none (``host.worker.calls.Heartbeat``).
    """

    busy: Annotated[
        list[tuple[Annotated[str, msgspec.Meta(max_length=64)], Seconds]],
        msgspec.Meta(max_length=8),
    ] = []


class Error(_Message, tag="error"):
    """Worker -> host: a hook raised (the worker goes on) or, with ``fatal``, boot failed."""

    hook: Annotated[str, msgspec.Meta(max_length=64)]
    message: Text
    traceback: Text | None = None
    fatal: bool = False


class Log(_Message, tag="log"):
    """Worker -> host: one log record of the plugin (already rate-limited in the worker)."""

    level: Annotated[int, msgspec.Meta(ge=0, le=100)]
    logger: Title
    msg: Text
    #: The record's wall-clock time.
    time: float
    #: Records the worker dropped under its rate limit since the last one sent.
    dropped: Count = 0


class Content(_Message, tag="content"):
    """Worker -> host: whether ``mode`` has something to show (``has_content``)."""

    mode: Name
    has: bool


class Strip(_Message, tag="strip"):
    """Worker -> host: a strip drawn for an activation, for the host to scroll."""

    mode: Name
    token: Count
    width: Pixels
    height: Pixels
    pixels: bytes
    #: Pixels per second.
    speed: Annotated[float, msgspec.Meta(ge=0.0, le=1e6)]
    gap: Annotated[int, msgspec.Meta(ge=0, le=MAX_STRIP_WIDTH)] | None = None


class Interrupt(_Message, tag="interrupt"):
    """Worker -> host: show ``mode`` ahead of the rotation for ``seconds``."""

    mode: Name
    priority: Priority
    seconds: Seconds


class Release(_Message, tag="release"):
    """Worker -> host: end this plugin's interrupt for ``mode``."""

    mode: Name


class Dwell(_Message, tag="dwell"):
    """Worker -> host: keep ``mode`` on screen ``seconds`` longer (capped by the host)."""

    mode: Name
    seconds: Seconds


class ActionResult(_Message, tag="action_result"):
    """Worker -> host: the outcome of an :class:`Action` request with the same ``id``."""

    id: Count
    ok: bool
    result: Any = None
    error: Text | None = None

    def __post_init__(self) -> None:
        check_plain(self.result, "result")


IssueText = Annotated[str, msgspec.Meta(max_length=1000)]


class Issue(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One problem the worker found in its config (a :class:`config.ConfigIssue`)."""

    source: IssueText
    key: IssueText
    message: IssueText


Issues = Annotated[list[Issue], msgspec.Meta(min_length=1, max_length=MAX_ISSUES)]


class Started(_Message, tag="started"):
    """Worker -> host, after ``start``: the config fits the schema; ``setup`` runs next.

    ``config`` is the validated options with defaults filled: what the host shows as the
    instance's config. The worker, not the host, ran the plugin's schema (a hostile one
    then costs that plugin's time only).
    """

    config: dict[str, Any]

    def __post_init__(self) -> None:
        check_plain(self.config, "config")


class Refused(_Message, tag="refused"):
    """Worker -> host, after ``start``: the config does not fit; the worker exits."""

    issues: Issues


class Configured(_Message, tag="configured"):
    """Worker -> host: the answer to a :class:`Configure` with the same ``id``.

    ``issues`` ``None``: the values fit; ``config`` is them validated (and, unless it was
    only a check, now in effect). Otherwise the worker keeps its running config.
    """

    id: Count
    config: dict[str, Any] | None = None
    issues: Issues | None = None

    def __post_init__(self) -> None:
        check_plain(self.config, "config")
        if (self.config is None) == (self.issues is None):
            raise TypeError("configured: exactly one of config and issues")


WorkerMessage = Union[  # noqa: UP007 - msgspec needs a runtime Union of the classes
    Hello,
    Started,
    Refused,
    Configured,
    Ready,
    Refreshed,
    Stepped,
    Deactivated,
    Bye,
    Heartbeat,
    Error,
    Log,
    Content,
    Strip,
    Interrupt,
    Release,
    Dwell,
    ActionResult,
]

# -- host -> worker ------------------------------------------------------------------------


class Sources(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Where an instance's values came from, for the worker's config issues.

    The parameters of :func:`config.plugin_schema.validate_plugin_config` besides the
    values themselves: which file set each key, so an issue names the right file and a
    secret written into the config file is refused.
    """

    where: str
    source: str = "config"
    key_sources: dict[str, str] = {}
    file_keys: list[str] = []
    secrets_file: str = ""


class Start(_Message, tag="start"):
    """Host -> worker, once after its hello: the raw config; validate it, then ``setup``.

    The worker answers :class:`Started` (then ``ready``) or :class:`Refused`. ``secrets``
    are this instance's own, sent to its worker alone.
    """

    options: dict[str, Any]
    secrets: dict[str, Any]
    sources: Sources
    data_dir: str
    #: Seconds between heartbeats.
    heartbeat: Seconds
    deadlines: Deadlines


class Stop(_Message, tag="stop"):
    """Host -> worker: run ``teardown`` and exit."""


class Activate(_Message, tag="activate"):
    """Host -> worker: render ``mode`` now; frames and strips carry ``token``.

    ``size`` is a layout region's ``[width, height]`` (``None``: the display); ``ticker``
    says the mode feeds the ticker band, which takes strips only. ``stepped`` (test
    harnesses only, ``ledhost harness``): draw a strip if the plugin makes one, but render
    frames only when a :class:`Step` asks, at the time it gives.
    """

    mode: Name
    token: Count
    size: tuple[Pixels, Pixels] | None = None
    ticker: bool = False
    stepped: bool = False


class Step(_Message, tag="step"):
    """Host -> worker, for a ``stepped`` activation: render the next frame for ``now``
    (wall-clock seconds, a test's fake clock); answered by :class:`Stepped`."""

    now: Annotated[float, msgspec.Meta(ge=0.0, le=1e11)]


class Refresh(_Message, tag="refresh"):
    """Host -> worker: run ``refresh_data`` now (a test harness's ``refresh()``); the
    worker answers :class:`Refreshed` when it is done, as after any refresh."""


class Deactivate(_Message, tag="deactivate"):
    """Host -> worker: stop rendering."""


class Configure(_Message, tag="configure"):
    """Host -> worker: new raw options; validate them, and apply them unless ``check``.

    Answered by :class:`Configured` with the same ``id``. ``secrets`` ``None``: unchanged.
    A live reload first sends ``check`` to every changed instance and applies only when
    all said yes.
    """

    id: Count
    options: dict[str, Any]
    sources: Sources
    secrets: dict[str, Any] | None = None
    check: bool = False


class Action(_Message, tag="action"):
    """Host -> worker: run ``handle_action``; answered by :class:`ActionResult`."""

    id: Count
    name: Name
    params: dict[str, Any] = {}


HostMessage = Union[  # noqa: UP007
    Start, Stop, Activate, Deactivate, Configure, Action, Step, Refresh
]

Message = _Message

#: Every message type a worker may send, by tag.
FROM_WORKER: Final = {
    cls.__struct_config__.tag: cls
    for cls in WorkerMessage.__args__  # type: ignore[attr-defined]
}
#: Every message type the host may send, by tag.
FROM_HOST: Final = {
    cls.__struct_config__.tag: cls
    for cls in HostMessage.__args__  # type: ignore[attr-defined]
}

_encoder: Final = msgspec.msgpack.Encoder()
_from_worker: Final = msgspec.msgpack.Decoder(WorkerMessage)
_from_host: Final = msgspec.msgpack.Decoder(HostMessage)


def encode(message: _Message) -> bytes:
    """The msgpack body of ``message`` (a map whose ``"t"`` is its tag).

    :raises TypeError: a field holds something msgpack cannot carry (e.g. an action's
        result that is not plain data).
    """
    return _encoder.encode(message)


def _decode(decoder: msgspec.msgpack.Decoder[Any], payload: bytes, sender: str) -> Any:
    try:
        return decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise ProtocolError(f"{_tag_of(payload)}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"undecodable message from {sender} ({exc})") from None


def _tag_of(payload: bytes) -> str:
    """The message's ``"t"`` for an error, if the body is a map that has one."""
    try:
        raw = msgspec.msgpack.decode(payload)
    except msgspec.DecodeError:
        return "message"
    tag = raw.get("t") if isinstance(raw, dict) else None
    return f"{tag[:32]!r} message" if isinstance(tag, str) else "message without a 't' tag"


def validate(message: WorkerMessage) -> None:
    """Check a message the worker built from plugin-supplied values, before sending it.

    Constructing a Struct does not check its bounds (decoding does), so a plugin's NaN
    duration would otherwise reach the host and cost the worker its life there. Checked
    here, it is an error in the plugin's own call, naming the field.

    :raises ValueError: as the host would refuse it.
    """
    try:
        decode_from_worker(encode(message))
    except OverflowError:
        # msgpack has no integer beyond 64 bits: name the field, as decoding would.
        tag = type(message).__struct_config__.tag
        for name in message.__struct_fields__:
            value = getattr(message, name)
            if isinstance(value, int) and not -(2**63) <= value < 2**64:
                where = f"{value} is out of range - at `$.{name}`"
                raise ValueError(f"{tag!r} message: {where}") from None
        raise ValueError(f"{tag!r} message: an integer is out of range") from None
    except (ProtocolError, TypeError) as exc:
        raise ValueError(str(exc)) from None


def decode_from_worker(payload: bytes) -> WorkerMessage:
    """Decode what a worker sent.

    :raises ProtocolError: naming the message and the field that does not match.
    """
    message: WorkerMessage = _decode(_from_worker, payload, "a worker")
    return message


def decode_from_host(payload: bytes) -> HostMessage:
    """Decode what the host sent (the worker's side).

    :raises ProtocolError: naming the message and the field that does not match.
    """
    message: HostMessage = _decode(_from_host, payload, "the host")
    return message
