"""Plugin logs: limiter, summaries, ring, cleaning (pure, explicit ``now``), and the worker's
handler over a real socket pair."""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from host.ipc import protocol
from host.ipc.channel import Channel
from host.ipc.lograte import LogLimits, truncate
from host.ipc.protocol import HostMessage, WorkerMessage, decode_from_worker
from host.supervise.plugin_logs import SUMMARY_LOGGER, PluginLog
from host.worker.boot import ChannelLogHandler

DEBUG, INFO, WARN, ERROR = logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR
WALL = 1_700_000_000.0


def _add(log: PluginLog, now: float, level: int = INFO, msg: object = "line", **kw: object) -> bool:
    return log.add(now, WALL + now, level, "plugin", msg, WALL + now, **kw).accepted


# -- limiter ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "limits, events, expected",
    [
        pytest.param(
            LogLimits(rate=1, burst=3, reserve=0),
            [(0.0, INFO)] * 5,
            [True, True, True, False, False],
            id="burst-then-limit",
        ),
        pytest.param(
            # resume_at is half the bucket (2 tokens): one token is not enough.
            LogLimits(rate=1, burst=4, reserve=0),
            [(0.0, INFO)] * 5 + [(1.0, INFO), (2.0, INFO), (2.0, INFO), (2.0, INFO)],
            [True] * 4 + [False, False, True, True, False],
            id="refill-resumes-at-half-bucket",
        ),
        pytest.param(
            LogLimits(rate=2, burst=1, reserve=0),
            [(0.0, INFO), (0.5, INFO), (1.0, INFO), (1.5, INFO)],
            [True, True, True, True],
            id="steady-at-rate-never-suppressed",
        ),
        pytest.param(
            LogLimits(rate=10, burst=2, reserve=0),
            [(0.0, INFO), (100.0, INFO), (100.0, INFO), (100.0, INFO)],
            [True, True, True, False],
            id="refill-capped-at-burst",
        ),
        pytest.param(
            LogLimits(rate=1, burst=1, reserve=2, reserve_rate=0),
            [(0.0, INFO), (0.0, INFO), (0.0, WARN), (0.0, ERROR), (0.0, ERROR), (0.0, DEBUG)],
            [True, False, True, True, False, False],
            id="warnings-spend-the-reserve",
        ),
        pytest.param(
            LogLimits(rate=0.01, burst=1, reserve=1, reserve_rate=1),
            [(0.0, INFO), (0.0, ERROR), (0.0, ERROR), (1.0, ERROR), (1.0, INFO)],
            [True, True, False, True, False],
            id="reserve-refills-at-its-own-rate",
        ),
        pytest.param(
            LogLimits(rate=1, burst=1, reserve=0),
            [(10.0, INFO), (5.0, INFO), (6.0, INFO)],
            [True, False, True],
            id="clock-going-back-refills-nothing",
        ),
    ],
)
def test_limiter(limits: LogLimits, events: list[tuple[float, int]], expected: list[bool]) -> None:
    log = PluginLog(limits)
    assert [_add(log, now, level) for now, level in events] == expected
    stats = log.stats()
    assert stats["accepted"] == expected.count(True)
    assert stats["suppressed_total"] == expected.count(False)


@pytest.mark.parametrize(
    "events, expected",
    [
        pytest.param(
            [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0],
            [None, None, None, None, None, "dropped 3 log records in the last 1.0 s", None],
            id="once-when-the-flood-ends",
        ),
        pytest.param(
            [0.0, 0.0, 0.5, 2.0],
            [None, None, None, "dropped 1 log record in the last 1.5 s"],
            id="singular",
        ),
        pytest.param(
            [0.0, 0.0, 0.0, 0.25, 0.5, 1.0, 1.0, 1.0, 2.0],
            [None, None, None, None, None, "dropped 3 log records in the last 1.0 s"]
            + [None, None, "dropped 2 log records in the last 1.0 s"],
            id="one-per-flood",
        ),
    ],
)
def test_summary_after_flood(events: list[float], expected: list[str | None]) -> None:
    log = PluginLog(LogLimits(rate=1, burst=2, reserve=0))
    got = [log.add(now, WALL + now, INFO, "p", "x").summary for now in events]
    assert got == [None if s is None else f"{s} (limit 1/s)" for s in expected]


def test_summary_sits_in_the_ring_before_the_record_that_ended_the_flood() -> None:
    log = PluginLog(LogLimits(rate=1, burst=2, reserve=0))
    for now, msg in [(0.0, "a"), (0.0, "b"), (0.0, "lost"), (0.0, "lost"), (5.0, "c")]:
        log.add(now, WALL + now, INFO, "p", msg)
    ring = log.records()
    assert [(r.seq, r.logger, r.message[:9]) for r in ring] == [
        (1, "p", "a"),
        (2, "p", "b"),
        (3, SUMMARY_LOGGER, "dropped 2"),
        (4, "p", "c"),
    ]
    assert ring[2].level == WARN and ring[2].time == WALL + 5.0


@pytest.mark.parametrize(
    "check_at, expected, pending",
    [
        ([0.5, 1.0, 5.0], [None, "dropped 2 log records in the last 1.0 s (limit 1/s)", None], 0),
        ([0.1, 0.2], [None, None], 2),
    ],
)
def test_summarize_reports_a_flood_followed_by_silence(
    check_at: list[float], expected: list[str | None], pending: int
) -> None:
    """Verify that the periodic call reports once, and only after the bucket refilled."""
    log = PluginLog(LogLimits(rate=1, burst=2, reserve=0))
    for _ in range(4):
        _add(log, 0.0)
    assert [log.summarize(now, WALL + now) for now in check_at] == expected
    assert log.stats()["pending"] == pending


def test_summarize_with_nothing_pending_is_none() -> None:
    log = PluginLog()
    _add(log, 0.0)
    assert log.summarize(100.0, WALL) is None
    assert len(log.records()) == 1


# -- worker-reported drops --------------------------------------------------------------


def _log(msg: str, dropped: int = 0) -> protocol.Log:
    return protocol.Log(level=INFO, logger="p", msg=msg, time=WALL, dropped=dropped)


@pytest.mark.parametrize("dropped, counted", [(5, 5), (0, 0)])
def test_dropped_field_from_the_worker_counts_as_suppressed(dropped: int, counted: int) -> None:
    """Verify the worker's count of dropped records counts on the host (hostile values of
    the field are refused on decoding: tests/test_protocol.py)."""
    log = PluginLog()
    log.add_message(10.0, WALL, _log("before"))
    decision = log.add_message(12.0, WALL, _log("after", dropped))
    assert decision.accepted
    assert log.stats()["suppressed_total"] == counted
    if counted:
        assert decision.summary == f"dropped {counted} log records in the last 2.0 s (limit 2/s)"
    else:
        assert decision.summary is None


# -- ring -----------------------------------------------------------------------------


@pytest.fixture
def ring_of_3() -> PluginLog:
    log = PluginLog(LogLimits(ring_size=3))
    for i in range(1, 6):
        log.add(float(i), WALL, INFO, "p", f"m{i}")
    return log


@pytest.mark.parametrize(
    "since_seq, limit, seqs",
    [
        (None, None, [3, 4, 5]),
        (0, None, [3, 4, 5]),
        (3, None, [4, 5]),
        (4, None, [5]),
        (5, None, []),
        (100, None, []),
        (None, 2, [4, 5]),
        (2, 1, [5]),
        (None, 0, []),
        (None, 10, [3, 4, 5]),
    ],
)
def test_ring_is_bounded_ordered_and_polled_by_seq(
    ring_of_3: PluginLog, since_seq: int | None, limit: int | None, seqs: list[int]
) -> None:
    records = ring_of_3.records(since_seq, limit)
    assert [r.seq for r in records] == seqs
    assert [r.message for r in records] == [f"m{s}" for s in seqs]


def test_stats(ring_of_3: PluginLog) -> None:
    assert ring_of_3.stats() == {
        "accepted": 5,
        "suppressed_total": 0,
        "pending": 0,
        "suppressing": False,
        "ring_size": 3,
        "ring_capacity": 3,
        "last_seq": 5,
    }


# -- cleaning ---------------------------------------------------------------------------

MARK = "… [truncated"


@pytest.mark.parametrize(
    "text, limit, expected",
    [
        ("short", 10, "short"),
        ("x" * 10, 10, "x" * 10),
        ("x" * 40, 10, "x" * 40),  # the marker would be about as long as what it replaces
        ("x" * 100, 10, "x" * 10 + "… [truncated 90 chars]"),
        ("é" * 5000, 2000, "é" * 2000 + "… [truncated 3000 chars]"),
    ],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    assert truncate(text, limit) == expected
    assert truncate(expected, limit) == expected  # the host leaves the worker's cut alone


def test_message_is_truncated_to_max_message() -> None:
    log = PluginLog(LogLimits(max_message=10))
    record = log.add(0.0, WALL, INFO, "p", "y" * 1000).record
    assert record is not None and record.message == "y" * 10 + "… [truncated 990 chars]"


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("\x1b[2Jhello", "hello"),
        ("a\x1b[31mred\x1b[0m!", "ared!"),
        ("\x1b]0;pwned\x07title", "title"),
        ("\x1b]8;;http://x\x1b\\link", "link"),
        ("csi\x9b2Jc1", "csic1"),
        ("reset\x1bc", "reset"),
        ("lone esc\x1b", "lone esc"),
        ("bell\x07 nul\x00 cr\rover del\x7f", "bell nul crover del"),
        ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
        ("ünïcödé ✓ 漢字", "ünïcödé ✓ 漢字"),
    ],
)
def test_control_characters_are_stripped(raw: str, clean: str) -> None:
    record = PluginLog().add(0.0, WALL, INFO, f"log\x1b[2J{raw}", raw).record
    assert record is not None
    assert record.message == clean
    assert record.logger == f"log{clean}"


@pytest.mark.parametrize(
    "msg, text",
    [
        (42, "42"),
        (None, ""),
        (b"bytes \xff", "bytes \ufffd"),
        (["a", 1], "['a', 1]"),
        ({"k": "v"}, "{'k': 'v'}"),
        (1.5, "1.5"),
    ],
)
def test_non_str_messages_become_text(msg: object, text: str) -> None:
    record = PluginLog().add(0.0, WALL, INFO, None, msg).record
    assert record is not None and record.message == text and record.logger == ""


@pytest.mark.parametrize(
    "level, stored",
    [
        (INFO, INFO),
        (ERROR, ERROR),
        (25, 25),
        ("ERROR", INFO),
        (None, INFO),
        (True, INFO),
        (5, DEBUG),
        (99, 50),
        (-1, DEBUG),
    ],
)
def test_level_is_an_int_within_debug_and_critical(level: object, stored: int) -> None:
    record = PluginLog().add(0.0, WALL, level, "p", "m").record
    assert record is not None and record.level == stored


@pytest.mark.parametrize(
    "wall_time, stored",
    [
        (1234.5, 1234.5),
        (1234, 1234.0),
        (None, WALL),
        ("1234", WALL),
        (math.nan, WALL),
        (math.inf, WALL),
        (-1.0, WALL),
        (True, WALL),
        (10**400, WALL),
    ],
)
def test_record_time_falls_back_to_the_hosts(wall_time: object, stored: float) -> None:
    record = PluginLog().add(0.0, WALL, INFO, "p", "m", wall_time).record
    assert record is not None and record.time == stored


@pytest.mark.parametrize(
    "knob, value",
    [("rate", 0), ("rate", math.inf), ("burst", 0), ("ring_size", 0), ("max_message", 0)]
    + [("reserve", -1), ("reserve_rate", -0.5)],
)
def test_limits_out_of_range_name_the_knob(knob: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"log limit {knob}="):
        LogLimits(**{knob: value})  # type: ignore[arg-type]


# -- the worker's handler over a real channel -------------------------------------------


Channels = tuple[Channel[WorkerMessage], Channel[HostMessage]]


@pytest.fixture
def channels() -> Iterator[tuple[Channel[WorkerMessage], Channel[HostMessage]]]:
    a, b = socket.socketpair()
    host: Channel[WorkerMessage] = Channel(a, peer="worker", decode=decode_from_worker)
    worker: Channel[HostMessage] = Channel(
        b, peer="host", decode=protocol.decode_from_host, blocking_send=True
    )
    yield host, worker
    host.close()
    worker.close()


@pytest.fixture
def flood_logger(channels: Channels) -> logging.Logger:
    handler = ChannelLogHandler(channels[1])
    handler.setFormatter(logging.Formatter("%(message)s"))
    # Not logging.getLogger(): a logger outside the manager has no parent, and pytest does
    # not attach its capture handlers to it (which would see all 10,000 records, and raise
    # on the unformattable one).
    logger = logging.Logger("tests.plugin_logs.flood", logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    return logger


def _receive_until(host: Channel[WorkerMessage], msg: str) -> list[protocol.Log]:
    got: list[protocol.Log] = []
    deadline = time.monotonic() + 5.0
    while not any(m.msg == msg for m in got) and time.monotonic() < deadline:
        got += [m for m in host.receive_blocking(0.5) if isinstance(m, protocol.Log)]
    return got


def test_handler_drops_a_flood_from_several_threads_and_reports_the_count(
    channels: Channels, flood_logger: logging.Logger
) -> None:
    """Verify that 10,000 records from 4 threads cost about one burst on the channel, and
    that the "dropped" fields plus the records sent add up to all of them."""
    host, _ = channels
    limits = LogLimits()
    started = time.monotonic()

    def flood() -> None:
        for i in range(2500):
            flood_logger.info("line %d", i)

    threads = [threading.Thread(target=flood) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    # An error after an INFO flood still gets through, on the reserve, and carries the count.
    flood_logger.error("after the flood")

    messages = _receive_until(host, "after the flood")
    infos = [m for m in messages if m.level == INFO]
    assert messages[-1].msg == "after the flood"
    assert len(infos) <= limits.burst + math.ceil(limits.rate * elapsed) + 1
    assert len(infos) + sum(m.dropped for m in messages) == 10_000
    assert messages[-1].dropped > 0
    assert {m.logger for m in messages} == {"tests.plugin_logs.flood"}

    # The host counts the worker's drops as its own suppressed records.
    log = PluginLog()
    for m in messages:
        log.add_message(0.0, WALL, m)
    stats = log.stats()
    assert stats["accepted"] + stats["suppressed_total"] == 10_001
    summary = log.summarize(60.0, WALL)
    assert summary is not None and summary.startswith(f"dropped {stats['suppressed_total']} ")


def test_handler_sends_unformattable_records_with_the_reason(
    channels: Channels, flood_logger: logging.Logger
) -> None:
    """Verify that a plugin's bad format arguments show up instead of vanishing."""
    flood_logger.info("%d widgets", "three")
    (message,) = channels[0].receive_blocking(5.0)
    assert isinstance(message, protocol.Log)
    assert message.msg.startswith("unformattable log record '%d widgets' % ('three',)")
    assert "TypeError" in message.msg


def test_handler_never_raises_on_a_closed_channel(
    channels: Channels, flood_logger: logging.Logger
) -> None:
    channels[0].close()
    channels[1].close()
    flood_logger.error("into the void")
    handler = flood_logger.handlers[0]
    assert isinstance(handler, ChannelLogHandler) and handler.dropped == 1
