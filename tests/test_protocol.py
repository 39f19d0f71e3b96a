"""The typed control protocol: every message declared once, and anything else refused.

Table-driven over every message type: each round-trips through the wire; each malformed
field of a worker's message is refused whole with an error naming the message and the
field; and a real worker whose plugin forges a hello is ended as failed while the host and
the other plugins go on.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Any

import msgspec
import pytest

from host.discovery import PluginSpec
from host.errors import ProtocolError
from host.ipc import protocol
from host.supervise.states import WorkerState
from sdk import registration
from tests.conftest import Harness

MODE = protocol.ModeInfo(name="time", title="Time", duration=10.0)

#: One valid instance of every message type.
SAMPLES: list[protocol.Message] = [
    protocol.Hello(
        plugin="clock",
        instance="clock",
        pid=42,
        modes=[MODE, protocol.ModeInfo(name="date")],
        actions=[protocol.ActionInfo(name="poke", title="Poke", params={"type": "object"})],
        schema={"type": "object", "properties": {"a": {"type": "integer", "default": 1}}},
        hooks=["register_modes", "render_frame"],
        distribution=protocol.Distribution(name="ledhost", version="0.1.0"),
    ),
    protocol.Ready(),
    protocol.Refreshed(),
    protocol.Stepped(ok=True, delay=0.5),
    protocol.Deactivated(),
    protocol.Bye(cpu=1.5),
    protocol.Heartbeat(busy=[("render_frame", 0.25)]),
    protocol.Error(hook="setup", message="boom", traceback="Traceback ...", fatal=True),
    protocol.Log(level=20, logger="ledhost.plugin.clock", msg="hi", time=1.0, dropped=3),
    protocol.Content(mode="time", has=False),
    protocol.Strip(mode="time", token=3, width=2, height=1, pixels=b"\x00" * 6, speed=30.0),
    protocol.Interrupt(mode="time", priority=60, seconds=30.0),
    protocol.Release(mode="time"),
    protocol.Dwell(mode="time", seconds=5.0),
    protocol.ActionResult(id=7, ok=True, result={"n": [1, 2.5, "x", None, b"\x01"]}),
    protocol.Started(config={"a": 1}),
    protocol.Refused(issues=[protocol.Issue("ledhost.toml", "plugins.clock.a", "too big")]),
    protocol.Configured(id=3, config={"a": 2}),
    protocol.Configured(id=4, issues=[protocol.Issue("ledhost.toml", "plugins.clock.a", "bad")]),
    protocol.Start(
        options={"a": 1},
        secrets={"key": "s3cret"},
        sources=protocol.Sources(
            where="plugins.clock",
            source="ledhost.toml",
            key_sources={"a": "ledhost.toml"},
            file_keys=["a"],
            secrets_file="secrets.toml",
        ),
        data_dir="/var/lib/ledhost/plugins/clock",
        heartbeat=2.5,
        deadlines=protocol.Deadlines(render=5.0, refresh=60.0),
    ),
    protocol.Stop(),
    protocol.Activate(mode="time", token=4, size=(32, 16), ticker=True),
    protocol.Step(now=1767225600.0),
    protocol.Refresh(),
    protocol.Deactivate(),
    protocol.Configure(
        id=3, options={"a": 2}, sources=protocol.Sources(where="plugins.clock"), check=True
    ),
    protocol.Action(id=7, name="poke", params={"x": 1}),
]


def _tag(message: protocol.Message) -> str:
    return str(type(message).__struct_config__.tag)


def test_every_declared_type_has_a_sample() -> None:
    """Verify the table below covers the protocol, so a new message type needs a row."""
    assert {_tag(m) for m in SAMPLES} == set(protocol.FROM_WORKER) | set(protocol.FROM_HOST)
    assert not set(protocol.FROM_WORKER) & set(protocol.FROM_HOST)


@pytest.mark.parametrize("message", SAMPLES, ids=_tag)
def test_every_message_roundtrips_and_travels_as_a_tagged_map(message: protocol.Message) -> None:
    payload = protocol.encode(message)
    raw = msgspec.msgpack.decode(payload)
    assert isinstance(raw, dict) and raw["t"] == _tag(message)
    decode = (
        protocol.decode_from_worker
        if _tag(message) in protocol.FROM_WORKER
        else protocol.decode_from_host
    )
    assert decode(payload) == message


@pytest.mark.parametrize("message", SAMPLES, ids=_tag)
def test_each_end_refuses_what_only_it_may_send(message: protocol.Message) -> None:
    """Verify a worker cannot send ``start`` or ``configure`` to the host, nor the reverse."""
    wrong = (
        protocol.decode_from_host
        if _tag(message) in protocol.FROM_WORKER
        else protocol.decode_from_worker
    )
    with pytest.raises(ProtocolError, match=f"'{_tag(message)}' message"):
        wrong(protocol.encode(message))


def _raw(message: protocol.Message) -> dict[str, Any]:
    raw = msgspec.msgpack.decode(protocol.encode(message))
    assert isinstance(raw, dict)
    return raw


def _sample(tag: str) -> dict[str, Any]:
    return _raw(next(m for m in SAMPLES if _tag(m) == tag))


#: ``(message tag, path to change, bad value, text the error must contain)``.
MALFORMED: list[tuple[str, tuple[str | int, ...], Any, str]] = [
    ("hello", ("modes", 0, "name"), 12345, "$.modes[0].name"),
    ("hello", ("modes", 0, "name"), "Big Mode", "$.modes[0].name"),
    ("hello", ("modes", 0, "name"), "news\n", "$.modes[0].name"),
    ("hello", ("modes", 0, "duration"), math.inf, "$.modes[0].duration"),
    ("hello", ("modes", 0, "duration"), -1.0, "$.modes[0].duration"),
    ("hello", ("modes",), [{"name": f"m{i}"} for i in range(65)], "$.modes"),
    ("hello", ("modes", 0, "extra"), 1, "extra"),
    ("hello", ("hooks", 0), 7, "$.hooks[0]"),
    ("hello", ("pid",), "42", "$.pid"),
    ("hello", ("plugin",), "", "$.plugin"),
    ("hello", ("schema",), [1, 2], "$.schema"),
    ("hb", ("busy",), [["render_frame", math.nan]], "$.busy[0][1]"),
    ("hb", ("busy",), [["x", 1.0]] * 9, "$.busy"),
    ("log", ("level",), 10**9, "$.level"),
    ("log", ("dropped",), -3, "$.dropped"),
    ("log", ("dropped",), "7", "$.dropped"),
    ("log", ("msg",), "x" * 70000, "$.msg"),
    ("content", ("has",), "yes", "$.has"),
    ("strip", ("width",), 0, "$.width"),
    ("strip", ("width",), 20000, "$.width"),
    ("strip", ("speed",), math.nan, "$.speed"),
    ("strip", ("gap",), -5, "$.gap"),
    ("strip", ("pixels",), "not bytes", "$.pixels"),
    ("interrupt", ("priority",), 2**64 - 1, "$.priority"),
    ("interrupt", ("seconds",), 1e308, "$.seconds"),
    ("interrupt", ("seconds",), -1.0, "$.seconds"),
    ("dwell", ("seconds",), math.inf, "$.seconds"),
    ("action_result", ("id",), -1, "$.id"),
    ("error", ("hook",), None, "$.hook"),
    ("bye", ("cpu",), math.nan, "$.cpu"),
]


@pytest.mark.parametrize(
    "tag, path, value, named", MALFORMED, ids=[f"{m[0]}-{m[3]}" for m in MALFORMED]
)
def test_a_malformed_field_is_refused_naming_message_and_field(
    tag: str, path: tuple[str | int, ...], value: Any, named: str
) -> None:
    raw = _sample(tag)
    target: Any = raw
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(ProtocolError) as info:
        protocol.decode_from_worker(msgspec.msgpack.encode(raw))
    assert f"'{tag}' message" in str(info.value)
    assert named in str(info.value)


@pytest.mark.parametrize(
    "raw, named",
    [
        ({"t": "nosuch"}, "'nosuch' message"),
        ({"t": "ready", "extra": 1}, "extra"),
        ({"modes": []}, "without a 't' tag"),
        ({"t": "hello"}, "missing required field"),
    ],
)
def test_unknown_types_extra_fields_and_missing_fields_are_refused(
    raw: dict[str, Any], named: str
) -> None:
    with pytest.raises(ProtocolError, match=named):
        protocol.decode_from_worker(msgspec.msgpack.encode(raw))


def test_a_timestamp_extension_is_not_plain_data() -> None:
    """Verify msgpack's timestamp type cannot smuggle a datetime into the host's data."""
    raw = _sample("action_result")
    raw["result"] = {"at": datetime.datetime.now(datetime.UTC)}
    with pytest.raises(ProtocolError, match=r"result\.at: datetime is not plain data"):
        protocol.decode_from_worker(msgspec.msgpack.encode(raw))


def _nest(depth: int) -> list[Any]:
    value: list[Any] = [1]
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value, ok",
    [
        ({"a": [1, "b", None, 2.5, b"x", True]}, True),
        ({"a": {1, 2}}, False),
        ({1: "int key"}, False),
        (object(), False),
        (_nest(40), False),
    ],
)
def test_check_plain_accepts_json_like_data_only(value: object, ok: bool) -> None:
    if ok:
        protocol.check_plain(value, "v")
    else:
        with pytest.raises(TypeError, match="^v"):
            protocol.check_plain(value, "v")


def test_the_wire_name_rule_is_the_sdks() -> None:
    """Verify the host refuses exactly the mode names the SDK refuses at registration."""
    for name in ["time", "a", "x" * 32, "x" * 33, "Big", "news\n", "-x", "a_b-c", "", "é"]:
        raw = _sample("content")
        raw["mode"] = name
        try:
            protocol.decode_from_worker(msgspec.msgpack.encode(raw))
            accepted = True
        except ProtocolError:
            accepted = False
        assert accepted == registration.is_name(name), name


def test_a_worker_that_forges_its_hello_is_failed_and_the_host_goes_on(
    harness: Harness, test_specs: dict[str, PluginSpec]
) -> None:
    """Verify a plugin writing a crafted hello into its control socket is ended as failed,
    with the reason naming the field, while a well-behaved worker keeps delivering frames."""
    good = harness.start(test_specs["solid"])
    forged = harness.start(test_specs["forgedhello"])
    harness.wait_running(good)
    harness.supervisor.activate(good, "fill")
    harness.wait_for(lambda: forged.last_failure is not None, what="the forged hello to fail")
    assert "'hello' message" in (forged.last_error or "")
    assert "$.modes[0].name" in (forged.last_error or "")
    assert forged.modes == []  # nothing of the forged hello was taken
    assert forged.state in (WorkerState.BACKOFF, WorkerState.QUARANTINED)
    frames = good.frames
    harness.wait_for(lambda: good.frames > frames + 3, what="the good worker's frames")
    assert good.state is WorkerState.RUNNING


@pytest.mark.parametrize(
    "call, named",
    [
        (lambda r: r.request_interrupt("time", 50, math.nan), "$.seconds"),
        (lambda r: r.request_interrupt("time", 2**70, 30), "$.priority"),
        (lambda r: r.request_interrupt("Not A Mode", 50, 30), "$.mode"),
        (lambda r: r.request_more_time("time", math.inf), "$.seconds"),
        (lambda r: r.release_interrupt("x\n"), "$.mode"),
    ],
)
def test_a_plugins_bad_request_fails_its_own_call_not_the_worker(call: Any, named: str) -> None:
    """Verify the worker checks a plugin's request as the host would: the plugin gets a
    ValueError naming the field, and nothing reaches the host to end the worker over."""
    import socket

    from host.ipc.channel import Channel
    from host.worker.requests import HostRequests

    a, b = socket.socketpair()
    host: Channel[protocol.WorkerMessage] = Channel(
        a, peer="worker", decode=protocol.decode_from_worker
    )
    worker: Channel[protocol.HostMessage] = Channel(
        b, peer="host", decode=protocol.decode_from_host, blocking_send=True
    )
    requests = HostRequests(worker, lambda: "time", lambda: None)
    with pytest.raises(ValueError, match=re.escape(named)):
        call(requests)
    requests.request_interrupt("time", 60.0, 30)  # whole floats and ints are fine
    assert host.receive_blocking(2.0) == [
        protocol.Interrupt(mode="time", priority=60, seconds=30.0)
    ]
    host.close()
    worker.close()
