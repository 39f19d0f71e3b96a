"""Every message of the control socket, declared once, typed: requests, replies, events.

The control socket is the one door through which a person (``ledhost status``, ``ledhost
pin``...) or the web process reaches a running host. Its wire is the worker channel's
(:mod:`host.ipc.channel`): a 4-byte big-endian length, then one msgpack map whose ``"t"``
tag names the message. msgpack rather than newline JSON because the preview's frames are
bytes (JSON would need base64, a third more) and because the worker protocol already
proves the style; the client needs only msgspec, which the web process has anyway.

Each request carries an ``id`` the reply echoes, so a client may pipeline. A request the
host cannot decode (garbage, an unknown tag, a field out of bounds, too large) is answered
with :class:`Failed` (``code="bad_request"``, naming the field) and the connection is
closed: the peer is out of step and nothing it sends afterwards can be trusted to frame
correctly. Every other refusal (no such mode, no such plugin) is a :class:`Failed` with a
stable ``code`` and the connection stays open.

After :class:`Subscribe` the connection carries events only (:class:`StateEvent`,
:class:`FrameEvent`, :class:`LogEvent`) until the client closes it; a client that does not
read them is dropped by the host once its buffer is full, never waited for.

Interface for the web process (``web/``): import :mod:`host.ipc.control_client` and this
module only. Store operations (issue 16) are not here yet; they arrive with the store's
merge as new request types.

This module imports nothing of ours but :mod:`host.ipc.syncwire` (which imports nothing
either): the client that uses it must load in any process with the standard library and
msgspec alone.
"""

from __future__ import annotations

import os
import struct
from typing import Annotated, Any, Final, Literal, Union

import msgspec

from host.ipc import syncwire

__all__ = [
    "DEFAULT_PRIORITY",
    "EVENT_KINDS",
    "MAX_MESSAGE",
    "MAX_REQUEST",
    "MAX_WALL_PIXELS",
    "Brightness",
    "ConfigGet",
    "ConfigBackup",
    "ConfigRestore",
    "ConfigSet",
    "ControlProtocolError",
    "Event",
    "Failed",
    "FrameEvent",
    "LogEvent",
    "HostLogs",
    "StoreChange",
    "StoreJob",
    "StoreList",
    "StoreSearch",
    "StoreUpload",
    "UpdateCheck",
    "UpdateStart",
    "Logs",
    "MqttState",
    "Next",
    "Notify",
    "Ok",
    "Pin",
    "PluginInfo",
    "RenderMode",
    "Restart",
    "SafeModeNext",
    "PluginOp",
    "Power",
    "PreviewOpen",
    "Previous",
    "Reply",
    "Request",
    "RunAction",
    "SecretDelete",
    "SecretList",
    "SecretSet",
    "StateEvent",
    "Status",
    "Subscribe",
    "SyncEvent",
    "SyncNotice",
    "SyncNotify",
    "WallFrame",
    "SyncPosition",
    "SyncState",
    "Unpin",
    "decode_from_client",
    "default_socket_path",
    "decode_from_host",
    "frame",
    "single_frame",
    "split_frames",
]

#: Largest request the host accepts, in bytes: a config section or an action's arguments
#: fit easily; anything bigger is a client out of step, refused before it is decoded.
MAX_REQUEST: Final = 256 * 1024
#: Largest message from the host (a 256x128 frame is 96 KiB, a big status, 500 log lines).
MAX_MESSAGE: Final = 4 * 1024 * 1024
#: What a notification's priority defaults to: ``sdk.priorities.NOTIFICATION`` (kept in
#: step by ``tests/test_control_socket.py``; not imported so the client stays dependency-free).
DEFAULT_PRIORITY: Final = 1000
#: What a subscriber may ask for.
EVENT_KINDS: Final = ("state", "frames", "logs", "sync")

_LEN = struct.Struct("!I")

RequestId = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
Ident = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+\Z")]
ModeName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+\Z")]
Seconds = Annotated[float, msgspec.Meta(gt=0.0, le=86400.0 * 7)]
NotifyText = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
Color = Annotated[str, msgspec.Meta(max_length=32, pattern=r"^(#[0-9A-Fa-f]{6}|[a-z]{1,20})\Z")]
Priority = Annotated[int, msgspec.Meta(ge=0, le=DEFAULT_PRIORITY)]
Code = Annotated[str, msgspec.Meta(max_length=64)]
Message = Annotated[str, msgspec.Meta(max_length=4096)]
Section = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z_.0-9-]+\Z")]
#: A top-level option name of a plugin's schema (what a secret is stored under).
SecretKey = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+\Z")]
#: What a secret may be: anything TOML can hold (the secrets file is TOML), never null.
SecretValue = Union[  # noqa: UP007 - msgspec needs a runtime Union
    Annotated[str, msgspec.Meta(max_length=65536)],
    int,
    float,
    bool,
    Annotated[list[Any], msgspec.Meta(max_length=256)],
    Annotated[dict[str, Any], msgspec.Meta(max_length=256)],
]


class ControlProtocolError(Exception):
    """A control peer sent bytes that are not a valid control message."""


class Unencodable(ValueError):
    """A message msgpack cannot carry: an integer beyond 64 bits, nesting too deep, or a
    value of a type it does not know. Request values come from JSON bodies and config
    files, so this is a caller's mistake to name, never a crash."""


class _Msg(msgspec.Struct, tag_field="t", forbid_unknown_fields=True):
    """Base of every control message; requests and replies carry the request's ``id``."""


# -- requests (client -> host) ------------------------------------------------------------


class Status(_Msg, tag="status"):
    """What the panel shows and every plugin instance's state."""

    id: RequestId = 0


class Next(_Msg, tag="next"):
    """Skip to the next mode of the rotation."""

    id: RequestId = 0


class Previous(_Msg, tag="previous"):
    """Go back to the mode shown before."""

    id: RequestId = 0


class Pin(_Msg, tag="pin"):
    """Show ``instance:mode`` above everything, for ``seconds`` or until :class:`Unpin`."""

    instance: Ident
    mode: ModeName
    seconds: Seconds | None = None
    id: RequestId = 0


class Unpin(_Msg, tag="unpin"):
    """End a pin; the rotation resumes."""

    id: RequestId = 0


class Brightness(_Msg, tag="brightness"):
    """Set the panel's brightness, 0-100 (until the schedule or the config changes it)."""

    value: Annotated[int, msgspec.Meta(ge=0, le=100)]
    id: RequestId = 0


class Power(_Msg, tag="power"):
    """Turn the panel on or off (the host and its plugins keep running)."""

    on: bool
    id: RequestId = 0


class Notify(_Msg, tag="notify"):
    """Interrupt with a text (shown by the builtin text path) or with a plugin's mode.

    Exactly one of ``text`` and ``mode`` (``"instance:mode"``). The priority is capped at
    :data:`DEFAULT_PRIORITY` (``sdk.priorities.NOTIFICATION``): above every plugin, below
    a pin; the duration is capped as plugin interrupts are.
    """

    text: NotifyText | None = None
    mode: Annotated[str, msgspec.Meta(max_length=129)] | None = None
    priority: Priority = DEFAULT_PRIORITY
    seconds: Seconds = 10.0
    color: Color | None = None
    id: RequestId = 0


class PluginOp(_Msg, tag="plugin"):
    """Enable, disable, restart, or retry now (out of quarantine) one plugin instance."""

    op: Literal["enable", "disable", "restart", "retry"]
    instance: Ident
    id: RequestId = 0


class PluginInfo(_Msg, tag="plugin_info"):
    """What one instance offers, as its worker told the host: modes, actions, the config
    JSON Schema (the admin UI builds its form from it) and its config, secrets as "set"."""

    instance: Ident
    id: RequestId = 0


class RenderMode(_Msg, tag="render_mode"):
    """Render one frame of an instance's mode now, with its options, through a real worker
    (``ledhost render`` as a child of the host): ``{"width", "height", "png"}``."""

    instance: Ident
    mode: ModeName
    id: RequestId = 0


class Restart(_Msg, tag="restart"):
    """Stop cleanly and start again with the same command line (the same process): a new
    config of the display, a plugin installed beside ledhost, safe mode asked for."""

    id: RequestId = 0


class SafeModeNext(_Msg, tag="safe_mode_next"):
    """Ask for (``on``) or cancel safe mode at the next start: builtin plugins only, once.
    ``on=None`` only reads whether it is asked for."""

    on: bool | None = None
    id: RequestId = 0


class RunAction(_Msg, tag="action"):
    """Run a plugin's registered action with ``args``; the reply carries its result."""

    instance: Ident
    action: ModeName
    args: Annotated[dict[str, Any], msgspec.Meta(max_length=64)] = {}
    id: RequestId = 0


class ConfigGet(_Msg, tag="config_get"):
    """Read one config section (``"display"``, ``"plugins.clock"``); secrets show set/unset."""

    section: Section
    id: RequestId = 0


class ConfigSet(_Msg, tag="config_set"):
    """Replace keys of one section: validated as the file watcher does, written, applied."""

    section: Section
    values: Annotated[dict[str, Any], msgspec.Meta(max_length=256)]
    id: RequestId = 0


class ConfigBackup(_Msg, tag="config_backup"):
    """The config file as written (comments kept), secrets left out: a backup to keep."""

    id: RequestId = 0


class ConfigRestore(_Msg, tag="config_restore"):
    """Replace the whole config file with ``text``: validated first, refused whole if any
    of it is invalid, written atomically (the old file kept as a backup), applied live."""

    text: Annotated[str, msgspec.Meta(min_length=1, max_length=200_000)]
    id: RequestId = 0


class SecretList(_Msg, tag="secrets"):
    """Which secrets each plugin instance declares and which are set: names, never values."""

    id: RequestId = 0


class SecretSet(_Msg, tag="secret_set"):
    """Write one secret of one instance to the secrets file (0600), then apply it live.

    ``key`` must be one the instance's plugin marks secret in its schema; the value is
    checked by the plugin's worker before anything is written, and is never sent back.
    """

    instance: Ident
    key: SecretKey
    value: SecretValue
    id: RequestId = 0

    def __repr__(self) -> str:  # a request object must not carry its value into a log
        return f"SecretSet(instance={self.instance!r}, key={self.key!r}, value=<redacted>)"


class SecretDelete(_Msg, tag="secret_delete"):
    """Remove one secret of one instance from the secrets file, then apply that live."""

    instance: Ident
    key: SecretKey
    id: RequestId = 0


class Logs(_Msg, tag="logs"):
    """The last ``lines`` log records of one instance; ``follow`` then streams new ones."""

    instance: Ident
    lines: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 100
    follow: bool = False
    id: RequestId = 0


class StoreSearch(_Msg, tag="store_search"):
    """The registries' plugins matching ``text`` (all for ""), from the cache when fresh
    or when the network fails (``stale`` says so); ``refresh`` fetches now."""

    text: Annotated[str, msgspec.Meta(max_length=200)] = ""
    refresh: bool = False
    id: RequestId = 0


class StoreList(_Msg, tag="store_list"):
    """The plugins the store installed: versions, sources, the version kept for rollback."""

    id: RequestId = 0


class StoreChange(_Msg, tag="store_change"):
    """Install (a registry id, a wheel URL, a wheel file on the Pi, ``pypi:NAME``), update,
    roll back or uninstall a plugin. Replies with the job at once; ``store_job`` follows it.
    """

    op: Literal["install", "update", "rollback", "uninstall"]
    target: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    version: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    id: RequestId = 0


#: Largest wheel that can be uploaded through the socket (a frame holds at most
#: MAX_MESSAGE); a bigger one is installed from a URL or a file on the Pi.
MAX_UPLOAD: Final = 3 * 1024 * 1024 + 512 * 1024


class StoreUpload(_Msg, tag="store_upload"):
    """Install an uploaded wheel (its file name and bytes): a job, as ``store_change``."""

    name: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.+-]{1,200}\.whl$")]
    data: Annotated[bytes, msgspec.Meta(min_length=1, max_length=MAX_UPLOAD)]
    id: RequestId = 0


class StoreJob(_Msg, tag="store_job"):
    """A store change's state, progress lines, result or error."""

    job: Annotated[int, msgspec.Meta(ge=1)]
    id: RequestId = 0


class UpdateCheck(_Msg, tag="update_check"):
    """Self-update: the running and installed versions, the newest on the package index
    (cached; ``refresh`` asks now), the last update or rollback."""

    refresh: bool = False
    id: RequestId = 0


class UpdateStart(_Msg, tag="update_start"):
    """Start ``ledhost self-update`` (``op`` update: to ``version``, else the newest) or
    its ``--rollback`` as a job; its progress is read with ``store_job``."""

    op: Literal["update", "rollback"]
    version: Annotated[str, msgspec.Meta(pattern=r"^[0-9][0-9A-Za-z.+!]{0,63}$")] | None = None
    id: RequestId = 0


class HostLogs(_Msg, tag="host_logs"):
    """The host's own last ``lines`` log records (what it writes to its log)."""

    lines: Annotated[int, msgspec.Meta(ge=0, le=500)] = 100
    id: RequestId = 0


class MqttState(_Msg, tag="mqtt_state"):
    """The MQTT bridge (``ledhost mqtt-bridge``) reports its broker connection; the host
    shows it as ``mqtt`` in its status."""

    connected: bool
    error: Annotated[str, msgspec.Meta(max_length=1024)] | None = None
    id: RequestId = 0


class Subscribe(_Msg, tag="subscribe"):
    """Turn this connection into an event stream of the given kinds."""

    kinds: Annotated[list[Literal["state", "frames", "logs", "sync"]], msgspec.Meta(max_length=4)]
    id: RequestId = 0


class PreviewOpen(_Msg, tag="preview_open"):
    """Ask for the composed frame in shared memory (:mod:`host.ipc.previewbus`).

    The reply's data is ``{"width", "height", "slots"}``; a read-only descriptor of the
    segment comes with its first byte (``SCM_RIGHTS``), so the reply must be the first
    thing the host sends on the connection after the request. The host writes frames
    there for as long as this connection stays open.
    """

    id: RequestId = 0


#: The leader's clock minus this sign's, in seconds (:mod:`host.schedule.clockoffset`).
Offset = Annotated[float, msgspec.Meta(ge=-86400.0, le=86400.0)]


class SyncState(_Msg, tag="sync_state"):
    """This sign's part in a set of synchronised signs (as ``display.sync`` of a status)."""

    id: RequestId = 0


class SyncPosition(_Msg, tag="sync_position"):
    """A follower's bridge passes on the leader's rotation position, with the measured
    clock offset and the round trip it was measured in (``None``: not measured yet)."""

    position: syncwire.Position
    offset: Offset = 0.0
    delay: Annotated[float, msgspec.Meta(ge=0.0, le=3600.0)] | None = None
    id: RequestId = 0


class SyncNotice(_Msg, tag="sync_notice"):
    """A follower's bridge passes on a leader's notice, to start at its instant here."""

    notice: syncwire.Notice
    offset: Offset = 0.0
    id: RequestId = 0


class SyncNotify(_Msg, tag="sync_notify"):
    """On the leader: a notification for every sign (or ``group``'s), started together.

    Fields as :class:`Notify`; the leader sends it to the others and shows it itself
    (unless it is another group's), all starting ``[sync] notify_lead`` seconds later.
    """

    text: NotifyText | None = None
    mode: Annotated[str, msgspec.Meta(max_length=129)] | None = None
    priority: Priority = DEFAULT_PRIORITY
    seconds: Seconds = 10.0
    color: Color | None = None
    group: syncwire.Group | None = None
    id: RequestId = 0


#: Most pixels of a wall slice (:class:`WallFrame`): as of a whole wall,
#: ``config.sync.WALL_PIXELS_MAX`` (not imported: this module loads with msgspec alone).
MAX_WALL_PIXELS: Final = 16384


class WallFrame(_Msg, tag="wall_frame"):
    """A wall follower's bridge passes on its slice of the leader's frame (raw RGB,
    row-major), to show at ``show_at`` (the leader's wall clock) given the measured
    ``offset`` (docs/mqtt.md, "A wall of panels")."""

    width: Annotated[int, msgspec.Meta(ge=1, le=MAX_WALL_PIXELS)]
    height: Annotated[int, msgspec.Meta(ge=1, le=MAX_WALL_PIXELS)]
    rgb: Annotated[bytes, msgspec.Meta(max_length=MAX_WALL_PIXELS * 3)]
    show_at: syncwire.WallTime
    offset: Offset = 0.0
    id: RequestId = 0


Request = Union[  # noqa: UP007 - msgspec needs a runtime Union of tagged structs
    Status,
    Next,
    Previous,
    Pin,
    Unpin,
    Brightness,
    Power,
    Notify,
    PluginOp,
    PluginInfo,
    RenderMode,
    Restart,
    SafeModeNext,
    RunAction,
    ConfigGet,
    ConfigSet,
    ConfigBackup,
    ConfigRestore,
    SecretList,
    SecretSet,
    SecretDelete,
    Logs,
    HostLogs,
    StoreSearch,
    StoreList,
    StoreChange,
    StoreUpload,
    StoreJob,
    UpdateCheck,
    UpdateStart,
    MqttState,
    Subscribe,
    PreviewOpen,
    SyncState,
    SyncPosition,
    SyncNotice,
    SyncNotify,
    WallFrame,
]


# -- replies and events (host -> client) ---------------------------------------------------


class Ok(_Msg, tag="ok"):
    """The request succeeded; ``data`` is what it returns (a status, a section...)."""

    id: RequestId = 0
    data: Any = None


class Failed(_Msg, tag="failed"):
    """The request was refused; ``code`` is stable, ``message`` names the problem."""

    code: Code
    message: Message
    id: RequestId = 0


class StateEvent(_Msg, tag="state"):
    """What the panel shows changed (a new mode, a pin, on/off); ``data`` as in status."""

    data: Any


class FrameEvent(_Msg, tag="frame"):
    """A changed frame for the preview: the RGB bytes, row-major, 3 a pixel.

    Not compressed: a Unix socket carries 6 KiB as cheaply as 2, and compressing is the
    web process's work (once per frame for every browser), off the host's loop.
    """

    width: Annotated[int, msgspec.Meta(ge=1, le=16384)]
    height: Annotated[int, msgspec.Meta(ge=1, le=16384)]
    seq: Annotated[int, msgspec.Meta(ge=0)]
    rgb: bytes
    #: Wall-clock time (``time.time()``) the host published it: a preview can show, and a
    #: benchmark measure, how far behind the panel it is.
    at: float = 0.0


class LogEvent(_Msg, tag="log"):
    """One log record of a plugin instance."""

    instance: Ident
    level: Annotated[str, msgspec.Meta(max_length=16)]
    text: Annotated[str, msgspec.Meta(max_length=65536)]


class SyncEvent(_Msg, tag="sync"):
    """For a leader's bridge: ``data`` is ``{"position": ..., "notices": [...]}``, the
    position (:class:`~host.ipc.syncwire.Position`) to publish and the notices started
    since the last event; sent at every switch and every ``[sync] period``."""

    data: Any


Reply = Union[Ok, Failed]  # noqa: UP007
Event = Union[StateEvent, FrameEvent, LogEvent, SyncEvent]  # noqa: UP007
FromHost = Union[Ok, Failed, StateEvent, FrameEvent, LogEvent, SyncEvent]  # noqa: UP007

_encoder = msgspec.msgpack.Encoder()
_request_decoder = msgspec.msgpack.Decoder(Request)
_host_decoder = msgspec.msgpack.Decoder(FromHost)


def frame(message: _Msg) -> bytes:
    """One message with its length prefix, ready to send.

    :raises Unencodable: something in ``message`` cannot be encoded (its text says what).
    """
    try:
        payload = _encoder.encode(message)
    except OverflowError as exc:
        raise Unencodable(f"a number out of range: {exc}") from None
    except RecursionError:
        raise Unencodable("nested too deeply") from None
    except (TypeError, msgspec.EncodeError) as exc:
        raise Unencodable(str(exc)) from None
    return _LEN.pack(len(payload)) + payload


def split_frames(buf: bytearray, limit: int) -> list[bytes]:
    """Take every complete payload off the front of ``buf``.

    :raises ControlProtocolError: a frame announces more than ``limit`` bytes.
    """
    out: list[bytes] = []
    while len(buf) >= _LEN.size:
        (length,) = _LEN.unpack_from(buf)
        if length > limit:
            raise ControlProtocolError(f"message of {length} bytes exceeds the limit of {limit}")
        if len(buf) < _LEN.size + length:
            break
        out.append(bytes(buf[_LEN.size : _LEN.size + length]))
        del buf[: _LEN.size + length]
    return out


def single_frame(chunk: bytes) -> list[bytes] | None:
    """``chunk``'s payload when it is exactly one whole frame, else ``None`` (then
    :func:`split_frames` it): a request read in one piece skips the buffer's copies."""
    if len(chunk) < _LEN.size:
        return None
    (length,) = _LEN.unpack_from(chunk)
    if length + _LEN.size != len(chunk):
        return None
    return [chunk[_LEN.size :]]


def decode_from_client(payload: bytes) -> Request:
    """Decode one request; :class:`ControlProtocolError` names what is wrong."""
    try:
        request: Request = _request_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise ControlProtocolError(f"bad request: {exc}") from None
    except RecursionError:  # msgspec's own guard against a deeply nested payload
        raise ControlProtocolError("bad request: nested too deeply") from None
    if isinstance(request, _NESTED):
        for value in (
            getattr(request, "values", None),
            getattr(request, "args", None),
            getattr(request, "value", None),
        ):
            if value is not None and _depth(value) > MAX_DEPTH:
                raise ControlProtocolError(f"bad request: nested deeper than {MAX_DEPTH}")
    return request


#: Deepest nesting a config value or an action's arguments may have.
MAX_DEPTH: Final = 16
#: The requests that carry such values (the others need no walk: a status poll is cheap).
_NESTED: Final = (ConfigSet, RunAction, SecretSet)


def _depth(value: object) -> int:
    """How deep ``value`` nests (iteratively: a deep value costs no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def decode_from_host(
    payload: bytes,
) -> Ok | Failed | StateEvent | FrameEvent | LogEvent | SyncEvent:
    """Decode one reply or event (client side)."""
    try:
        return _host_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise ControlProtocolError(f"bad message from the host: {exc}") from None


def default_socket_path() -> str:
    """Where the socket lives unless ``[control] socket`` says otherwise.

    ``/run/ledhost/control.sock`` for root (the system service), else under the user's
    ``$XDG_RUNTIME_DIR`` (private to the user, cleared at logout); without one, under
    ``/tmp/ledhost-<uid>`` (the server makes it 0700 and refuses one it does not own).
    """
    if os.geteuid() == 0:
        return "/run/ledhost/control.sock"
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = os.path.join(runtime, "ledhost") if runtime else f"/tmp/ledhost-{os.geteuid()}"
    return os.path.join(base, "control.sock")
