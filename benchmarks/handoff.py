"""Frame hand-off worker -> host at 60 fps: the frame bus against a pickled Queue and
against pixels in control messages. CPU per frame, the writer's call, one-way latency.

Why: with a process per plugin every frame crosses a process boundary. The frame bus
(:mod:`host.ipc.framebus`) copies it once into shared memory and passes the slot with eventfd
syscalls; the obvious alternatives pickle it through a ``multiprocessing.Queue`` (a feeder
thread pickles it down a pipe, the host unpickles it) or send its bytes in a msgpack
control message (:mod:`host.ipc.channel`).

How: one worker per case, started once by multiprocessing's ``spawn`` (a fresh interpreter,
as production workers are exec'd). The frame bus worker receives each size's memfd and
eventfds over ``SCM_RIGHTS`` and writes with the production ``FrameWriter``; the host side
(this thread) waits in a selector and reads with ``FrameBus.poll``, as the host loop does,
and every case's host side waits in a selector likewise, as a host serving many workers
must: the host loop's own (:func:`host.ipc.epoll.make_selector`, a lean epoll selector).
A round: one worker hands ``round_frames`` frames from a pool of three over at 60 fps
(deadline-paced; a tick more than a period late is re-based, not caught up). Cases
interleave in rounds with a rotating order. References: ``pacing only`` (the worker ticks,
hands nothing over) and ``wake only`` (an eventfd write per tick: the floor of any hand-off).

``cpu``: the worker's *process* CPU (all threads: the Queue's feeder thread counts) plus
this thread's CPU (every read happens on it), per frame, net of ``pacing only`` of the same
round; ratios per round to the frame bus. ``call``: wall time of the writer's call
(``Queue.put`` only queues; its work is in the feeder thread, so quote ``cpu``).
``latency``: the writer stamps ``time.monotonic()`` (``CLOCK_MONOTONIC``, system-wide) when
the frame is ready to go (the bus in its slot header after the copy, as in production; the
Queue after its copy; messages after ``tobytes``); the host subtracts it once it holds the
pixels as an array. A warm-up round per case and size compares every frame with the one sent.
"""

from __future__ import annotations

import multiprocessing
import os
import selectors
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt

from benchmarks._util import Row, check_row, progress, rotations, spread_of
from host.ipc import protocol
from host.ipc.channel import Channel
from host.ipc.epoll import make_selector
from host.ipc.framebus import FrameBus, FrameWriter, Geometry

__all__ = ["NAME", "TITLE", "run"]

NAME: Final = "handoff"
TITLE: Final = "frame hand-off worker -> host at 60 fps: frame bus vs pickled Queue vs messages"

FPS: Final = 60
HEADLINE: Final = (128, 64)
#: The issue's expectation: the frame bus at most a third of the Queue's CPU at 128x64.
GOAL: Final = 3.0
_POOL: Final = 3
_SEED: Final = 11
#: Longest silence from a worker before the run is declared broken (dead or stuck).
_TIMEOUT: Final = 20.0
_US: Final = 1e6

Size = tuple[int, int]
Frame = npt.NDArray[np.uint8]
Give = Callable[[int, Frame], bool]

#: Every case, in table order; ``METHODS`` are the three hand-offs compared.
CASES: Final = ("pacing", "wake", "framebus", "queue", "messages")
METHODS: Final = CASES[2:]
LABELS: Final = {
    "pacing": "pacing only",
    "wake": "wake only",
    "framebus": "frame bus",
    "queue": "mp.Queue pickled",
    "messages": "control messages",
}


class _PixelsMessage(protocol.Message, tag="frame"):
    """The baseline of pixels in control messages: typed like every real message."""

    seq: int
    at: float
    w: int
    h: int
    px: bytes


_pixels_decoder = msgspec.msgpack.Decoder(_PixelsMessage)


def _decode_pixels(payload: bytes) -> _PixelsMessage:
    return _pixels_decoder.decode(payload)


@dataclass(frozen=True, slots=True)
class Plan:
    """How much to measure: ``--quick`` is a smoke test (headline size only)."""

    sizes: tuple[Size, ...]
    rounds: int
    round_frames: int
    warmup_frames: int = 8


QUICK: Final = Plan((HEADLINE,), 6, 20)
FULL: Final = Plan(((64, 32), HEADLINE, (256, 64)), 12, 25)


def _pool(width: int, height: int) -> list[Frame]:
    """The frames a writer cycles through; both ends build the same ones from the seed."""
    rng = np.random.default_rng([_SEED, width, height])
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(_POOL)]


# -- the worker side (runs in the spawned process) -----------------------------------------


def _publisher(writer: FrameWriter) -> Give:
    return lambda seq, frame: writer.publish(frame, 0)


def _givers(case: str, sizes: list[Size], link: Any) -> dict[Size, Give]:
    """Per size, the call that hands frame number ``seq`` over; ``False`` if dropped."""
    if case in ("framebus", "wake"):
        _, fds, _, _ = socket.recv_fds(link, 16, 3 * len(sizes))
        link.close()
    if case == "framebus":
        writers = [
            FrameWriter((fds[3 * i], fds[3 * i + 1], fds[3 * i + 2]), Geometry(*size))
            for i, size in enumerate(sizes)
        ]
        return {size: _publisher(w) for size, w in zip(sizes, writers, strict=True)}
    if case == "wake":

        def wake(seq: int, frame: Frame) -> bool:
            os.eventfd_write(fds[0], 1)
            return True

        return dict.fromkeys(sizes, wake)
    if case == "queue":

        def put(seq: int, frame: Frame) -> bool:
            # A copy, as a worker must: the Queue pickles later, in its feeder thread, and
            # would otherwise send whatever the canvas holds by then (DESIGN.md).
            pixels = frame.copy()
            link.put((seq, time.monotonic(), pixels))
            return True

        return dict.fromkeys(sizes, put)
    if case == "messages":
        channel: Channel[_PixelsMessage] = Channel(
            link, peer="host", decode=_decode_pixels, blocking_send=True
        )

        def send(seq: int, frame: Frame) -> bool:
            height, width = frame.shape[:2]
            channel.send(_PixelsMessage(seq, time.monotonic(), width, height, frame.tobytes()))
            return True

        return dict.fromkeys(sizes, send)
    return dict.fromkeys(sizes, lambda seq, frame: True)


def _worker_main(case: str, sizes: list[Size], cmd: Connection, link: Any) -> None:
    """Hand frames over on command at 60 fps, and report the process CPU it took.

    ``(size, frames)`` runs a round, ``None`` ends. After a round the worker sends how many
    frames it has handed over in all (the last ``seq``) and waits until the host has read
    them, so the Queue's feeder thread has finished its work too; then it reports.
    """
    pools = {size: _pool(*size) for size in sizes}
    givers = _givers(case, sizes, link)
    sent = dict.fromkeys(sizes, 0)
    period = 1.0 / FPS
    cmd.send("ready")
    while (order := cmd.recv()) is not None:
        size, frames = order
        pool, give = pools[size], givers[size]
        calls: list[float] = []
        late = dropped = 0
        cpu0 = time.process_time()
        next_at = time.monotonic()
        for _ in range(frames):
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -period:
                late += 1
                next_at = time.monotonic()
            seq = sent[size] + 1
            t = time.perf_counter()
            ok = give(seq, pool[(seq - 1) % _POOL])
            calls.append(time.perf_counter() - t)
            if ok:
                sent[size] = seq
            else:
                dropped += 1  # the frame bus had no free slot: dropped, never waited for
        cmd.send(sent[size])
        cmd.recv()
        cpu = time.process_time() - cpu0
        cmd.send({"cpu": cpu, "call": statistics.median(calls), "late": late, "drop": dropped})


# -- the host side -------------------------------------------------------------------------


@dataclass
class Series:
    """One case at one size: per-round figures (s per frame) and every frame's latency."""

    writer: list[float] = field(default_factory=list)
    host: list[float] = field(default_factory=list)
    call: list[float] = field(default_factory=list)
    latency_round: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    late: int = 0
    dropped: int = 0
    #: Frames the host never saw: coalesced (the frame bus keeps the newest ready slot;
    #: eventfd wakes add up), or lost, which the Queue and messages must never do.
    skipped: int = 0
    #: Frames compared pixel for pixel with the one sent (warm-up), and how many differed.
    compared: int = 0
    bad: int = 0


class Host:
    """The host's end of every case: one selector each, with the worker's command pipe."""

    def __init__(self, sizes: list[Size], cmds: dict[str, Connection], frames: Any) -> None:
        self.cmds = cmds
        self.pools = {size: _pool(*size) for size in sizes}
        self.seen = {(case, size): 0 for case in CASES for size in sizes}
        self.verify = False
        self.out, self.lat = Series(), list[float]()
        self.buses = {s: FrameBus(f"bench-{s[0]}x{s[1]}", Geometry(*s)) for s in sizes}
        self.wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.queue = frames
        self.sock, self.worker_sock = socket.socketpair()
        self.channel: Channel[_PixelsMessage] = Channel(
            self.sock, peer="bench worker", decode=_decode_pixels
        )
        self.sel = {case: make_selector() for case in CASES}
        for case, sel in self.sel.items():
            sel.register(cmds[case], selectors.EVENT_READ, None)
        for size, bus in self.buses.items():
            self.sel["framebus"].register(bus.ready_fd, selectors.EVENT_READ, size)
        self.sel["wake"].register(self.wake_fd, selectors.EVENT_READ, 0)
        # The Queue's pipe has no public fd; ``_reader`` is the end that get() reads.
        self.sel["queue"].register(frames._reader, selectors.EVENT_READ, 0)
        self.sel["messages"].register(self.sock, selectors.EVENT_READ, 0)
        self.handlers: dict[str, Callable[[Size], None]] = {
            "wake": self._wake,
            "framebus": self._bus,
            "queue": self._queue,
            "messages": self._messages,
        }

    def fds_for(self, case: str) -> list[int]:
        if case == "wake":
            return [self.wake_fd]
        return [fd for bus in self.buses.values() for fd in bus.worker_fds()]

    def read(self, case: str, size: Size, out: Series) -> list[float]:
        """One round into ``out``, as it comes, until the worker says it is done.

        :returns: the latency of every frame that arrived.
        """
        self.out, self.lat, key, cmd = out, [], (case, size), self.cmds[case]
        handler = self.handlers.get(case)
        last: int | None = None
        while last is None or (handler is not None and self.seen[key] < last):
            events = self.sel[case].select(_TIMEOUT)
            if not events:
                raise RuntimeError(f"the {case} worker was silent for {_TIMEOUT} s")
            for ev, _ in events:
                if ev.data is None:
                    last = _recv(cmd, case)
                elif handler is not None:
                    handler(size)
        return self.lat

    def _take(self, case: str, size: Size, seq: int, at: float, pixels: Frame) -> None:
        self.lat.append(time.monotonic() - at)
        self.out.skipped += seq - self.seen[case, size] - 1
        self.seen[case, size] = seq
        if self.verify:
            self.out.compared += 1
            self.out.bad += not np.array_equal(pixels, self.pools[size][(seq - 1) % _POOL])

    def _wake(self, size: Size) -> None:
        count = os.eventfd_read(self.wake_fd)
        self.out.skipped += count - 1
        self.seen["wake", size] += count

    def _bus(self, size: Size) -> None:
        frame, errors = self.buses[size].poll()
        if errors:
            raise RuntimeError(f"the frame bus rejected a frame: {errors[0]}")
        if frame is not None:
            self._take("framebus", size, frame.seq, frame.done_at, frame.pixels)

    def _queue(self, size: Size) -> None:
        seq, at, pixels = self.queue.get()
        self._take("queue", size, seq, at, pixels)

    def _messages(self, size: Size) -> None:
        for m in self.channel.receive():
            pixels = np.frombuffer(m.px, np.uint8).reshape(m.h, m.w, 3)
            self._take("messages", size, m.seq, m.at, pixels)

    def close(self) -> None:
        for sel in self.sel.values():
            sel.close()
        for bus in self.buses.values():
            bus.close()
        os.close(self.wake_fd)
        self.channel.close()
        self.worker_sock.close()
        self.queue.close()
        self.queue.join_thread()


# -- measuring -----------------------------------------------------------------------------


@dataclass
class Worker:
    case: str
    process: BaseProcess
    cmd: Connection


def _recv(cmd: Connection, case: str) -> Any:
    """The worker's next message; a dead or stuck worker is an error naming it."""
    try:
        if cmd.poll(_TIMEOUT):
            return cmd.recv()
    except EOFError:
        raise RuntimeError(f"the {case} worker exited in the middle of a round") from None
    raise RuntimeError(f"the {case} worker was silent for {_TIMEOUT} s")


def _round(worker: Worker, host: Host, size: Size, frames: int, out: Series) -> Any:
    """One round of one case into ``out``; returns the worker's report."""
    cpu0 = time.thread_time()
    try:
        worker.cmd.send((size, frames))
    except OSError:
        raise RuntimeError(f"the {worker.case} worker has exited") from None
    latency = host.read(worker.case, size, out)
    host_cpu = time.thread_time() - cpu0
    worker.cmd.send("ack")
    report = _recv(worker.cmd, worker.case)
    if not host.verify:
        out.host.append(host_cpu / frames)
        out.writer.append(report["cpu"] / frames)
        out.call.append(report["call"])
        out.late += report["late"]
        out.dropped += report["drop"]
        if latency:
            out.latency_round.append(statistics.median(latency))
            out.latency.extend(latency)
    return report


def measure(workers: dict[str, Worker], host: Host, size: Size, plan: Plan) -> dict[str, Series]:
    """A verified warm-up round per case, then interleaved, rotating, recorded rounds."""
    series = {case: Series() for case in CASES}
    host.verify = True
    for case in CASES:
        _round(workers[case], host, size, plan.warmup_frames, series[case])
    host.verify = False
    for _, order in rotations(CASES, plan.rounds):
        for case in order:
            _round(workers[case], host, size, plan.round_frames, series[case])
    return series


# -- rows ----------------------------------------------------------------------------------


def _ratios(mine: list[float], base: list[float]) -> list[float]:
    return [m / b for m, b in zip(mine, base, strict=True) if b > 0]


def _sub(a: list[float], b: list[float]) -> list[float]:
    return [x - y for x, y in zip(a, b, strict=True)]


def _med_us(values: list[float]) -> float:
    return round(statistics.median(values) * _US, 2)


def _row(
    name: str,
    section: str,
    case: str,
    unit: str,
    samples: list[float],
    ratios: list[float] | None,
    note: str,
    **params: str | int | float,
) -> Row:
    """A figure (``samples`` in seconds) and, unless ``ratios`` is None, its ratio to the bus."""
    return Row(
        NAME,
        f"{name} {section}: {LABELS[case]}",
        unit,
        spread_of([x * _US for x in samples]),
        None if ratios is None else spread_of(ratios),
        None if ratios is None else f"{name} {section}: {LABELS['framebus']}",
        note=note,
        params={"section": section, "size": name, "kernel": case, **params},
    )


def cpu_rows(name: str, series: dict[str, Series]) -> list[Row]:
    """CPU per frame, writer + host, net of ``pacing only``; ratios per round to the bus.

    Queue and messages also get their ratio *above the wake floor* (both sides net of
    ``wake only``): what the hand-off costs beyond waking the host at all.
    """
    pace = series["pacing"]
    writer = {c: _sub(s.writer, pace.writer) for c, s in series.items()}
    host = {c: _sub(s.host, pace.host) for c, s in series.items()}
    net = {c: [w + h for w, h in zip(writer[c], host[c], strict=True)] for c in CASES}
    gross = {c: [w + h for w, h in zip(s.writer, s.host, strict=True)] for c, s in series.items()}
    net["pacing"], writer["pacing"], host["pacing"] = gross["pacing"], pace.writer, pace.host
    above = {c: _sub(net[c], net["wake"]) for c in METHODS}
    rows = []
    for case in CASES:
        s = series[case]
        w_us, h_us = _med_us(writer[case]), _med_us(host[case])
        note = f"writer {w_us:.1f} + host {h_us:.1f}"
        extra: dict[str, str | int | float] = {}
        ratios = None
        if case not in ("pacing", "framebus"):
            ratios = _ratios(net[case], net["framebus"])
            gross_ratio = statistics.median(_ratios(gross[case], gross["framebus"]))
            extra["gross_ratio"] = round(gross_ratio, 3)
        if case == "pacing":
            note += "; the 60 fps tick alone, subtracted from every case per round"
        elif case == "wake":
            note += "; an eventfd write that wakes the host: the floor of any hand-off"
        elif case == "framebus" and (s.dropped or s.skipped):
            note += f"; {s.dropped} dropped (no free slot), {s.skipped} coalesced"
        elif case in ("queue", "messages"):
            floor_ratio = statistics.median(_ratios(above[case], above["framebus"]))
            extra["above_wake_ratio"] = round(floor_ratio, 3)
            note += f"; {floor_ratio:.1f}x the bus above the wake floor"
        if case == "queue" and name == f"{HEADLINE[0]}x{HEADLINE[1]}" and ratios:
            r = statistics.median(ratios)
            verdict = "met" if r >= GOAL else f"MISSED by {(1 - r / GOAL) * 100:.0f}%"
            note += f"; goal bus >= {GOAL:g}x cheaper: {verdict} ({r:.2f}x)"
        extra |= dict(rounds=len(s.writer), writer_us=w_us, host_us=h_us, late_ticks=s.late)
        extra |= dict(gross_us=_med_us(gross[case]), dropped=s.dropped, skipped=s.skipped)
        rows.append(_row(name, "cpu", case, "us/frame", net[case], ratios, note, **extra))
    return rows


def method_rows(name: str, series: dict[str, Series]) -> list[Row]:
    """The writer's call and the one-way latency of the three methods, ratios to the bus."""
    bus = series["framebus"]
    rows = []
    for case in METHODS:
        s = series[case]
        ratios = None if case == "framebus" else _ratios(s.call, bus.call)
        note = "put() only queues; the feeder thread pickles" if case == "queue" else ""
        rows.append(_row(name, "call", case, "us/call", s.call, ratios, note))
    for case in METHODS:
        s = series[case]
        p90, p99, top = (round(float(x), 1) for x in np.percentile(s.latency, [90, 99, 100]) * _US)
        ratios = None if case == "framebus" else _ratios(s.latency_round, bus.latency_round)
        note = f"one-way; IQR over {len(s.latency)} frames; p99 {p99:.0f} us"
        extra = dict(frames=len(s.latency), p90_us=p90, p99_us=p99, max_us=top)
        rows.append(_row(name, "latency", case, "us", s.latency, ratios, note, **extra))
    return rows


def check(name: str, series: dict[str, Series]) -> Row:
    """Every warm-up frame equal to the one sent; nothing lost by the Queue or messages."""
    compared = sum(series[c].compared for c in METHODS)
    bad = {c: series[c].bad for c in METHODS if series[c].bad}
    lost = {c: series[c].skipped for c in ("queue", "messages") if series[c].skipped}
    unchecked = [c for c in METHODS if not series[c].compared]
    passed = not bad and not lost and not unchecked
    note = (
        f"{compared} warm-up frames equal to the ones sent; no Queue or message frame lost"
        if passed
        else f"differ: {bad}; lost: {lost}; not compared: {unchecked}"
    )
    return check_row(
        NAME, f"{name} check: frames arrive intact", passed, note, section="check", size=name
    )


# -- entry point ---------------------------------------------------------------------------


def _stop(workers: dict[str, Worker]) -> None:
    """Ask every worker to end; kill any that has not within a few seconds."""
    for worker in workers.values():
        try:
            worker.cmd.send(None)
        except OSError:
            pass  # already gone
    for worker in workers.values():
        worker.process.join(5)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(5)
        worker.cmd.close()


def run(quick: bool) -> list[Row]:
    """Start the workers once, measure each size in interleaved rounds, stop them."""
    plan = QUICK if quick else FULL
    sizes = list(plan.sizes)
    ctx = multiprocessing.get_context("spawn")
    pipes = {case: ctx.Pipe() for case in CASES}
    host = Host(sizes, {case: end for case, (end, _) in pipes.items()}, ctx.Queue())
    fd_socks = {case: socket.socketpair() for case in ("framebus", "wake")}
    links = {"queue": host.queue, "messages": host.worker_sock}
    links |= {case: pair[1] for case, pair in fd_socks.items()}
    workers: dict[str, Worker] = {}
    try:
        progress(f"  starting {len(CASES)} workers (spawn)")
        for case in CASES:
            process = ctx.Process(
                target=_worker_main,
                args=(case, sizes, pipes[case][1], links.get(case)),
                name=f"handoff-{case}",
                daemon=True,
            )
            process.start()
            workers[case] = Worker(case, process, pipes[case][0])
            pipes[case][1].close()
        host.worker_sock.close()
        for case, (mine, theirs) in fd_socks.items():
            theirs.close()
            socket.send_fds(mine, [b"fds"], host.fds_for(case))
        for worker in workers.values():
            if not worker.cmd.poll(3 * _TIMEOUT) or worker.cmd.recv() != "ready":
                raise RuntimeError(f"the {worker.case} worker did not start")
        rows: list[Row] = []
        checks: list[Row] = []
        for size in sizes:
            name = f"{size[0]}x{size[1]}"
            frames = plan.rounds * plan.round_frames + plan.warmup_frames
            progress(
                f"  {name}: {len(CASES)} cases x {plan.rounds} rounds x {plan.round_frames} "
                f"frames at {FPS} fps (~{len(CASES) * frames / FPS:.0f} s)"
            )
            series = measure(workers, host, size, plan)
            rows += cpu_rows(name, series) + method_rows(name, series)
            checks.append(check(name, series))
        return [*rows, *checks]
    finally:
        _stop(workers)
        for pair in fd_socks.values():
            for sock in pair:
                sock.close()
        for _, worker_end in pipes.values():
            worker_end.close()
        host.close()
