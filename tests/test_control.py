"""The control channel: framing, garbage, back-pressure, with typed messages."""

from __future__ import annotations

import socket
import struct

import pytest

from host.errors import ProtocolError
from host.ipc import protocol
from host.ipc.channel import MAX_BACKLOG, Channel, encode


def _pair() -> tuple[Channel[protocol.WorkerMessage], Channel[protocol.HostMessage]]:
    """``(host end, worker end)``, each decoding what the other may send."""
    a, b = socket.socketpair()
    return (
        Channel(a, peer="worker", decode=protocol.decode_from_worker),
        Channel(b, peer="host", decode=protocol.decode_from_host, blocking_send=True),
    )


def _strip(pixels: bytes, token: int = 1) -> protocol.Strip:
    return protocol.Strip(
        mode="scroll", token=token, width=len(pixels) // 3, height=1, pixels=pixels, speed=30.0
    )


def test_messages_roundtrip_in_order_including_bytes() -> None:
    host, worker = _pair()
    worker.send(protocol.Content(mode="time", has=True))
    worker.send(_strip(b"\x00\xff\x10" * 1000))
    got: list[protocol.WorkerMessage] = []
    while len(got) < 2:
        got += host.receive_blocking(2.0)
    assert got[0] == protocol.Content(mode="time", has=True)
    assert isinstance(got[1], protocol.Strip) and got[1].pixels == b"\x00\xff\x10" * 1000


def test_partial_message_waits_for_the_rest() -> None:
    a, b = socket.socketpair()
    host = Channel(a, peer="w", decode=protocol.decode_from_worker)
    data = encode(protocol.Heartbeat())
    b.sendall(data[:3])
    assert host.receive() == []
    b.sendall(data[3:])
    assert host.receive() == [protocol.Heartbeat()]


def test_eof_raises() -> None:
    host, worker = _pair()
    worker.close()
    with pytest.raises(EOFError):
        host.receive()


@pytest.mark.parametrize(
    "payload, match",
    [
        (b"\xc1", "undecodable"),
        (b"\x93\x01\x02\x03", "message without a 't' tag"),
        (b"\x81\xa1t\x01", "message without a 't' tag"),
    ],
)
def test_garbage_is_a_protocol_error(payload: bytes, match: str) -> None:
    a, b = socket.socketpair()
    host = Channel(a, peer="w", decode=protocol.decode_from_worker)
    b.sendall(struct.pack("!I", len(payload)) + payload)
    with pytest.raises(ProtocolError, match=match):
        host.receive()
    b.close()
    host.close()


def test_oversized_announcement_is_refused() -> None:
    a, b = socket.socketpair()
    host = Channel(a, peer="plugin instance 'x'", decode=protocol.decode_from_worker)
    b.sendall(struct.pack("!I", 0xFFFFFFF0))
    with pytest.raises(ProtocolError, match="plugin instance 'x'"):
        host.receive()


def _configure(blob: bytes) -> protocol.Configure:
    return protocol.Configure(
        id=1, options={"blob": blob}, sources=protocol.Sources(where="plugins.x")
    )


def test_peer_that_never_reads_is_detected_not_waited_for() -> None:
    host, _worker = _pair()
    big = _configure(b"\x00" * 1_000_000)
    with pytest.raises(ProtocolError, match="not reading"):
        for _ in range(MAX_BACKLOG // 1_000_000 + 5):
            host.send(big)


def test_backlog_is_kept_and_flushed_when_the_peer_reads() -> None:
    """Verify a message larger than the socket buffer arrives whole once the peer reads."""
    a, b = socket.socketpair()
    host: Channel[protocol.WorkerMessage] = Channel(
        a, peer="worker", decode=protocol.decode_from_worker
    )
    worker: Channel[protocol.HostMessage] = Channel(
        b, peer="host", decode=protocol.decode_from_host
    )
    blob = b"\x01" * 600_000  # larger than a Unix socket's default buffer
    host.send(_configure(blob))
    assert host.backlog > 0  # did not block, kept the rest
    got: list[protocol.HostMessage] = []
    for _ in range(200):
        got += worker.receive_blocking(0.05)
        host.flush()
        if got:
            break
    assert host.backlog == 0
    assert got == [_configure(blob)]


def test_a_flooding_peer_gets_a_bounded_share_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verify one receive() reads at most READ_BUDGET bytes, so a flood cannot starve the
    host loop, and nothing is lost: the rest comes with the next calls."""
    import host.ipc.channel

    monkeypatch.setattr(host.ipc.channel, "READ_BUDGET", 10_000)
    host_end, worker = _pair()
    for i in range(40):  # fits the socket buffer
        worker.send(protocol.Log(level=20, logger="p", msg=f"{i} " + "x" * 1000, time=0.0))
    first = host_end.receive()
    assert 0 < len(first) <= 11
    got = list(first)
    while len(got) < 40:
        got += host_end.receive_blocking(1.0)
    assert [int(m.msg.split()[0]) for m in got if isinstance(m, protocol.Log)] == list(range(40))
