"""The control channel: framing, garbage, back-pressure."""

from __future__ import annotations

import socket
import struct

import pytest

from host.errors import ProtocolError
from host.ipc.channel import MAX_BACKLOG, Channel, decode, encode, field


def _pair() -> tuple[Channel, Channel]:
    a, b = socket.socketpair()
    return Channel(a, peer="worker"), Channel(b, peer="host", blocking_send=True)


def test_messages_roundtrip_in_order_including_bytes() -> None:
    host, worker = _pair()
    worker.send({"t": "hello", "modes": [{"name": "time"}]})
    worker.send({"t": "strip", "pixels": b"\x00\xff" * 1000})
    got = []
    while len(got) < 2:
        got += host.receive_blocking(2.0)
    assert got[0] == {"t": "hello", "modes": [{"name": "time"}]}
    assert got[1]["pixels"] == b"\x00\xff" * 1000


def test_partial_message_waits_for_the_rest() -> None:
    a, b = socket.socketpair()
    host = Channel(a, peer="w")
    data = encode({"t": "hb"})
    b.sendall(data[:3])
    assert host.receive() == []
    b.sendall(data[3:])
    assert host.receive() == [{"t": "hb"}]


def test_eof_raises() -> None:
    host, worker = _pair()
    worker.close()
    with pytest.raises(EOFError):
        host.receive()


@pytest.mark.parametrize(
    "payload, match",
    [
        (b"\xc1", "undecodable"),
        (b"\x93\x01\x02\x03", "not a map"),
        (b"\x81\xa1t\x01", "not a map with a string 't'"),
    ],
)
def test_garbage_is_a_protocol_error(payload: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        decode(payload)


def test_oversized_announcement_is_refused() -> None:
    a, b = socket.socketpair()
    host = Channel(a, peer="plugin instance 'x'")
    b.sendall(struct.pack("!I", 0xFFFFFFF0))
    with pytest.raises(ProtocolError, match="plugin instance 'x'"):
        host.receive()


def test_peer_that_never_reads_is_detected_not_waited_for() -> None:
    host, _worker = _pair()
    big = {"t": "x", "blob": b"\x00" * 1_000_000}
    with pytest.raises(ProtocolError, match="not reading"):
        for _ in range(MAX_BACKLOG // 1_000_000 + 5):
            host.send(big)


def test_field_checks_types() -> None:
    assert field({"t": "a", "n": 3}, "n", int) == 3
    with pytest.raises(ProtocolError, match="'n'"):
        field({"t": "a", "n": True}, "n", int)
    with pytest.raises(ProtocolError, match="'mode'"):
        field({"t": "a"}, "mode", str)


def test_backlog_is_kept_and_flushed_when_the_peer_reads() -> None:
    """Verify a message larger than the socket buffer arrives whole once the peer reads."""
    host, worker = _pair()
    blob = b"\x01" * 600_000  # larger than a Unix socket's default buffer
    host.send({"t": "strip", "pixels": blob})
    assert host.backlog > 0  # did not block, kept the rest
    got: list[dict] = []
    for _ in range(200):
        got += worker.receive_blocking(0.05)
        host.flush()
        if got:
            break
    assert host.backlog == 0
    assert got == [{"t": "strip", "pixels": blob}]


def test_a_flooding_peer_gets_a_bounded_share_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verify one receive() reads at most READ_BUDGET bytes, so a flood cannot starve the
    host loop, and nothing is lost: the rest comes with the next calls."""
    import host.ipc.channel

    monkeypatch.setattr(host.ipc.channel, "READ_BUDGET", 10_000)
    host_end, worker = _pair()
    for i in range(40):
        worker.send({"t": "log", "i": i, "msg": "x" * 1000})  # fits the socket buffer
    first = host_end.receive()
    assert 0 < len(first) <= 11
    got = list(first)
    while len(got) < 40:
        got += host_end.receive_blocking(1.0)
    assert [m["i"] for m in got] == list(range(40))
