"""The worker calls ``render_frame`` directly when pluggy's call would be exactly that.

:meth:`host.worker.calls.HookCaller.direct` (issue 15: pluggy's call loop was ~20 us of
an idle worker's second): with one implementation, no wrapper and no hook-call
monitoring, the implementation is called with its own arguments picked from the hook's
keywords, and gives what pluggy gives -- its result, its exception. Anything else goes
through pluggy: ``--trace`` and ``ledhost check``'s probe monitor every call.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from host.ipc import protocol
from host.ipc.channel import Channel
from host.worker.boot import make_plugin_manager
from host.worker.calls import HookCaller
from host.worker.secrets import SecretScrubber
from sdk import hookimpl

KWARGS: dict[str, Any] = {"context": "ctx", "canvas": "cv", "mode": "m", "frame": 7, "now": 1.5}


class Plain:
    """Takes only some of the hook's arguments, in its own order."""

    @hookimpl
    def render_frame(self, now: float, mode: str) -> Any:
        if mode == "boom":
            raise ValueError("drawn badly")
        return (mode, now)


class Wrapper:
    @hookimpl(wrapper=True)
    def render_frame(self) -> Any:
        result = yield
        return ("wrapped", result)


@pytest.fixture
def caller() -> Iterator[HookCaller]:
    ours, theirs = socket.socketpair()
    channel: Channel[protocol.HostMessage] = Channel(
        ours, peer="host", decode=protocol.decode_from_host
    )
    try:
        yield HookCaller(make_plugin_manager(), channel, SecretScrubber())
    finally:
        ours.close()
        theirs.close()


def test_one_plain_implementation_is_called_as_pluggy_calls_it(caller: HookCaller) -> None:
    caller.pm.register(Plain())
    direct = caller.direct("render_frame")
    assert direct is not None
    assert direct(**KWARGS) == caller.hook.render_frame(**KWARGS) == ("m", 1.5)
    with pytest.raises(ValueError, match="drawn badly"):
        direct(**{**KWARGS, "mode": "boom"})


def test_monitoring_sends_every_call_through_pluggy(caller: HookCaller) -> None:
    caller.pm.register(Plain())
    assert caller.direct("render_frame") is not None
    seen: list[str] = []
    caller.pm.add_hookcall_monitoring(lambda name, *_: seen.append(name), lambda *_: None)
    assert caller.direct("render_frame") is None
    caller.hook.render_frame(**KWARGS)
    assert seen == ["render_frame"]


def test_a_wrapper_or_a_second_implementation_goes_through_pluggy(caller: HookCaller) -> None:
    caller.pm.register(Plain())
    caller.pm.register(Wrapper())
    assert caller.direct("render_frame") is None
    assert caller.hook.render_frame(**KWARGS) == ("wrapped", ("m", 1.5))


def test_no_implementation_or_a_hook_that_is_not_firstresult(caller: HookCaller) -> None:
    assert caller.direct("render_frame") is None
    assert caller.direct("refresh_data") is None
