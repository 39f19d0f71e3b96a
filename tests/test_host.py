"""The real host end to end: real worker processes, real shared memory, real rotation."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import plugins_builtin.clock as clock
from host.app import Host
from sdk.testing import render
from tests.conftest import TEST_PLUGINS, RecordingBackend, children, run_host, shown_modes


def _shown_between(stats: dict[str, Any], started: float, at: float) -> str:
    mode = ""
    for switch in stats["modes_shown"]:
        if switch["at"] <= at - started:
            mode = switch["mode"]
    return mode


def test_builtins_rotate_and_clock_shows_the_time(tmp_path: Path, launcher_name: str) -> None:
    """Verify the spine: both builtins in workers, rotation order, the clock is right."""
    before = children()
    overrides = {
        "rotation": {
            "modes": [
                {"mode": "clock:time", "duration": 2.0},
                {"mode": "text:message", "duration": 2.0},
            ]
        },
    }
    # Until a fourth switch: three whole turns were shown.
    host, backend, stats = run_host(
        overrides,
        120.0,
        tmp_path,
        until=lambda host, _: len(host.stats.modes_shown) >= 4,
        launcher=launcher_name,
    )

    assert backend.closed
    assert backend.pushes, "nothing was pushed"
    assert all(f.shape == (32, 64, 3) and f.dtype == np.uint8 for f, _, _ in backend.pushes)

    shown = [s["mode"] for s in stats["modes_shown"]]
    assert len(shown) >= 3
    # The sign opens on the first configured mode, then alternates.
    assert shown == [["clock:time", "text:message"][i % 2] for i in range(len(shown))]
    assert all(s["reason"] == "rotation" for s in stats["modes_shown"])

    # Every frame pushed while the clock was on screen shows the second it was pushed in
    # (or one just before it: see below).
    started = host.stats.started
    cache: dict[int, np.ndarray] = {}

    def expected(second: int) -> np.ndarray:
        if second not in cache:
            (cache[second],) = render(clock, "time", size=(64, 32), now=second + 0.01)
        return cache[second]

    clock_frames = [
        (f, wall)
        for f, at, wall in backend.pushes
        if _shown_between(stats, started, at) == "clock:time" and f.any()
    ]
    assert len(clock_frames) >= 2
    # A starved machine (load 11 on 2 cores, seen in CI-like runs) may push a frame up to
    # two seconds after the second it was drawn for; it never shows a later second, and
    # the seconds shown never go back.
    last = 0
    for frame, wall in clock_frames:
        second = math.floor(wall)
        shown_second = next(
            (s for s in (second, second - 1, second - 2) if np.array_equal(frame, expected(s))),
            None,
        )
        assert shown_second is not None, (
            f"clock frame pushed at {wall} does not show {clock.time_text(wall, {})}"
        )
        assert shown_second >= last, f"the clock went back from {last} to {shown_second}"
        last = shown_second

    # The text scrolled: many distinct frames while it was shown.
    text_frames = {
        f.tobytes()
        for f, at, _ in backend.pushes
        if _shown_between(stats, started, at) == "text:message"
    }
    assert len(text_frames) > 10

    for key in (
        "frames_shown",
        "fps",
        "max_frame_lateness_ms",
        "cpu_seconds",
        "modes_shown",
        "plugins",
    ):
        assert key in stats
    assert stats["frames_shown"] == len(backend.pushes)
    assert stats["cpu_seconds"] > 0
    for plugin in ("clock", "text"):
        entry = stats["plugins"][plugin]
        assert entry["state"] == "exited" and entry["restarts"] == 0
        assert entry["frames"] >= 1 and entry["last_error"] is None
        with pytest.raises(ProcessLookupError):
            os.kill(entry["pid"], 0)
    assert children() <= before, "a worker or the zygote outlived the host"


def test_wrong_sized_frame_is_refused_and_others_keep_displaying(tmp_path: Path) -> None:
    """Verify a plugin drawing the wrong size gets a clear error; the other plugin shows."""
    overrides = {
        "plugins": {"badframe": {}, "solid": {"fps": 50}},
        "rotation": {
            "modes": [
                {"mode": "badframe:broken", "duration": 1.0},
                {"mode": "solid:fill", "duration": 1.0},
            ]
        },
    }

    def enough(host: Host, backend: RecordingBackend) -> bool:
        live = {"modes_shown": list(host.stats.modes_shown)}
        shown = [_shown_between(live, host.stats.started, at) for _, at, _ in backend.pushes]
        # Both turns came (the bad one is named in the stats) and solid has pushed plenty.
        return len(live["modes_shown"]) >= 3 and shown.count("solid:fill") > 20

    host, backend, stats = run_host(
        overrides,
        120.0,
        tmp_path,
        until=enough,
        only=("badframe", "solid"),
        plugin_paths=(str(TEST_PLUGINS),),
        launcher="spawn",
    )
    bad = stats["plugins"]["badframe"]
    assert bad["frames"] == 0
    assert "render_frame" in bad["last_error"]
    assert "(32, 32, 3)" in bad["last_error"] and "(32, 64, 3)" in bad["last_error"]
    assert bad["state"] == "exited", "a bad frame must not kill the worker"
    started = host.stats.started
    solid = [f for f, at, _ in backend.pushes if _shown_between(stats, started, at) == "solid:fill"]
    assert len(solid) > 20
    # Solid frames are uniform: the host pushed whole frames only.
    assert all((f == f[0, 0, 0]).all() for f in solid)
    assert "badframe:broken" in [s["mode"] for s in stats["modes_shown"]]


def test_plugins_that_cannot_start_are_reported_and_the_rest_run(tmp_path: Path) -> None:
    overrides = {
        "plugins": {
            "importfail": {},
            "setupfail": {},
            "typo": {},
            "missing": {},
            "solid": {"fps": 20},
        },
    }

    def enough(host: Host, _: RecordingBackend) -> bool:
        handles = host.supervisor.handles
        failed = all(handles[i].last_failure for i in ("importfail", "setupfail", "typo"))
        return failed and handles["solid"].frames > 10

    host, backend, stats = run_host(
        overrides,
        120.0,
        tmp_path,
        until=enough,
        only=("importfail", "setupfail", "typo", "missing", "solid"),
        plugin_paths=(str(TEST_PLUGINS),),
        launcher="spawn",
    )
    plugins = stats["plugins"]
    assert "this plugin needs a library" in plugins["importfail"]["last_error"]
    # last_failure, not last_exit: a restart may be under way when the run ends, and
    # its clean stop then becomes the last exit.
    assert plugins["importfail"]["last_failure"] == "plugin failed to import"
    assert "cannot reach the sensor" in plugins["setupfail"]["last_error"]
    assert plugins["setupfail"]["last_failure"] == "plugin setup failed"
    assert "render_frmae" in plugins["typo"]["last_error"]
    assert plugins["typo"]["last_failure"] == "plugin hooks invalid"
    assert plugins["missing"]["last_error"] == "no plugin named 'missing' is installed"
    assert plugins["solid"]["frames"] > 10
    assert {s["mode"] for s in stats["modes_shown"]} == {"solid:fill"}


def test_invalid_plugin_config_stops_only_that_plugin(tmp_path: Path) -> None:
    overrides = {"plugins": {"text": {"speed": "fast"}}}
    _host, _backend, stats = run_host(
        overrides,
        120.0,
        tmp_path,
        until=lambda host, _: (
            host.supervisor.handles["text"].last_error and host.supervisor.handles["clock"].frames
        ),
        only=("clock", "text"),
        launcher="spawn",
    )
    text = stats["plugins"]["text"]
    assert text["state"] == "exited" and text["frames"] == 0
    assert "plugins.text.speed" in text["last_error"]
    assert stats["plugins"]["clock"]["frames"] >= 1


def test_interrupt_preempts_rotation_and_rotation_resumes(tmp_path: Path) -> None:
    """Verify an interrupt mid-turn is on the panel next and the rotation then resumes
    on the mode it left (not the next one), for the rest of that mode's turn.

    Only order and the host's own turn bookkeeping are asserted; how soon the alert
    reaches the panel is the benchmarks' business. The scheduler's rule itself is
    checked with a clock passed in (tests/test_compositor_scheduler.py).
    """
    turn = 6.0
    overrides = {
        "plugins": {
            "solid": {"fps": 20},
            # Two seconds into solid's six: room for the workers to start apart.
            "interrupter": {"after": 2.0, "seconds": 1.0},
            "clock": {},
        },
        "rotation": {"modes": [{"mode": "solid:fill", "duration": turn}, "clock"]},
    }
    host, backend, stats = run_host(
        overrides,
        120.0,  # a generous bound; the run ends once the clock's turn came
        tmp_path,
        until=lambda host, _: ("clock:time", "rotation") in shown_modes(host),
        only=("solid", "interrupter", "clock"),
        plugin_paths=(str(TEST_PLUGINS),),
        launcher="spawn",
    )
    shown = [(s["mode"], s["reason"]) for s in stats["modes_shown"]]
    assert shown[:4] == [
        ("solid:fill", "rotation"),
        ("interrupter:alert", "interrupt"),
        ("solid:fill", "rotation"),
        ("clock:time", "rotation"),
    ], shown
    at = {s["mode"] + s["reason"]: s["at"] for s in stats["modes_shown"]}
    asked = at["interrupter:alertinterrupt"]
    solid_turns = [s["at"] for s in stats["modes_shown"] if s["mode"] == "solid:fill"]
    clock_at = at["clock:timerotation"]
    before, after = asked - solid_turns[0], clock_at - solid_turns[1]
    # solid got its whole turn, in two parts: never less (a late loop only adds) ...
    assert before + after >= turn - 0.01, (before, after)
    # ... and the second part was the rest of it, not a fresh turn (which can never be
    # shorter than the whole duration, however loaded the machine).
    assert after < turn, (before, after)
    # The alert (all red) reached the panel after the request and before solid resumed.
    red = [
        at_ - host.stats.started
        for frame, at_, _ in backend.pushes
        if (frame[..., 0] == 255).all() and not frame[..., 1:].any()
    ]
    assert red, "the alert was never pushed"
    print(f"interrupt on the panel {(red[0] - asked) * 1000:.1f} ms after the request")
    # (modes_shown rounds its offsets to 0.1 ms.)
    assert asked - 0.001 <= red[0] <= solid_turns[1] + 0.001, (asked, red[0], solid_turns[1])


def test_unwritable_data_dir_stops_only_that_plugin(tmp_path: Path) -> None:
    """Verify a host-side failure preparing one plugin leaves the host and others running."""
    data = tmp_path / "data"
    (data / "plugins").mkdir(parents=True)
    (data / "plugins" / "text").write_text("a file where the folder should be")
    _host, _backend, stats = run_host(
        {"paths": {"data_dir": str(data)}},
        120.0,
        tmp_path,
        until=lambda host, _: (
            host.supervisor.handles["text"].last_error and host.supervisor.handles["clock"].frames
        ),
        only=("clock", "text"),
        launcher="spawn",
    )
    text = stats["plugins"]["text"]
    assert text["state"] == "exited" and "cannot create its data folder" in text["last_error"]
    assert stats["plugins"]["clock"]["frames"] >= 1
