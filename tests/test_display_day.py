"""The host over a day, end to end: schedules, dim windows, transitions, pins, status.

The pure rules have their tables (tests/test_schedule.py, tests/test_scheduler.py,
tests/test_transitions.py); these run the real host with real workers and check what
reaches the panel. Windows are built around the current local time, so no test waits
for a clock to turn.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from host.display.color import ColorSettings, build_luts
from host.ipc import control
from host.ipc.control_client import ControlClient
from tests.conftest import (
    TEST_PLUGINS,
    RecordingBackend,
    eventually,
    run_host,
    shown_modes,
    stop_host,
)


def _hhmm(minute: int) -> str:
    minute %= 1440
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _window_around_now(inside: bool) -> dict[str, str]:
    """An every-day window that holds the current minute (or misses it by an hour)."""
    now = datetime.now()
    minute = now.hour * 60 + now.minute
    if inside:
        return {"from": _hhmm(minute - 60), "to": _hhmm(minute + 60)}
    return {"from": _hhmm(minute + 60), "to": _hhmm(minute + 120)}


def _red_and_grey(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Two plugins with flat, telling colours: solid (grey ramp) and interrupter (red)."""
    overrides: dict[str, Any] = {
        "workers": {"user": ""},
        "plugins": {"solid": {"fps": 30}, "interrupter": {"after": 1e6}},
        "rotation": {
            "modes": [
                {"mode": "solid:fill", "duration": 1.5},
                {"mode": "interrupter:alert", "duration": 1.5},
            ]
        },
    }
    for key, value in (extra or {}).items():
        overrides[key] = {**overrides.get(key, {}), **value}
    return overrides


def _pure_red(frame: np.ndarray) -> bool:
    return bool((frame[..., 0] == 255).all() and not frame[..., 1:].any())


def _run_pair(
    tmp_path: Path, extra: dict[str, Any], seconds: float = 4.0, until: Any = None
) -> Any:
    return run_host(
        _red_and_grey(extra),
        seconds,
        tmp_path,
        until=until,
        only=("solid", "interrupter"),
        plugin_paths=(str(TEST_PLUGINS),),
        launcher="spawn",
    )


def test_outside_every_on_window_the_panel_stays_dark(tmp_path: Path) -> None:
    """Verify schedule.on: outside its windows nothing is shown, only a dark panel."""
    host, backend, stats = _run_pair(
        tmp_path, {"schedule": {"on": [_window_around_now(inside=False)]}}, seconds=2.5
    )
    assert stats["modes_shown"] == [] or all(s["mode"] == "" for s in stats["modes_shown"])
    assert all(not frame.any() for frame, _, _ in backend.pushes)
    display = stats["display"]
    assert display["on"] is False and "outside every schedule.on window" in display["schedule"]
    # The workers still ran, ready for the window to open: the schedule stops nothing.
    assert stats["plugins"]["solid"]["state"] == "exited"
    assert stats["plugins"]["solid"]["restarts"] == 0


def test_inside_an_on_window_the_rotation_runs(tmp_path: Path) -> None:
    host, backend, stats = _run_pair(
        # Long enough for a worker to start on a loaded machine: only "something showed"
        # is asserted, never how soon.
        tmp_path,
        {"schedule": {"on": [_window_around_now(inside=True)]}},
        seconds=120.0,
        until=lambda host, _: shown_modes(host),
    )
    assert stats["display"]["on"] is True
    assert stats["modes_shown"][0]["mode"] == "solid:fill"


def test_a_dim_window_recolours_what_reaches_the_panel(tmp_path: Path) -> None:
    """Verify a dim window's brightness and tint are applied to every pushed frame."""
    dim = {**_window_around_now(inside=True), "brightness": 50, "tint": "red"}
    luts = build_luts(ColorSettings(50, 1.0, (255, 40, 20)))

    def both_pushed(host: Any, backend: RecordingBackend) -> bool:
        # Until a frame of each mode reached the panel, not merely until both were switched
        # to: on a loaded machine the second mode's first frame may come well after.
        frames = [f for f, _, _ in list(backend.pushes)]
        red = any(f[..., 0].max() == luts[0][255] and f.any() for f in frames)
        return red and any(f[..., 1].any() for f in frames)

    host, backend, stats = _run_pair(
        tmp_path, {"schedule": {"dim": [dim]}}, seconds=120.0, until=both_pushed
    )
    assert stats["display"]["brightness"] == 50 and stats["display"]["tint"] == [255, 40, 20]
    reds = [f for f, _, _ in backend.pushes if f[..., 0].max() == luts[0][255] and f.any()]
    assert reds, "the red alert never reached the panel, dimmed"
    # Pure red stays pure red; halved.
    assert all(not f[..., 1:].any() for f in reds)
    greys = [f for f, _, _ in backend.pushes if f[..., 1].any()]
    assert greys, "the grey plugin never reached the panel"
    # Grey (v, v, v) must arrive as exactly (lut_r[v], lut_g[v], lut_b[v]): dimmed and tinted.
    allowed = {tuple(int(c) for c in luts[:, v]) for v in range(256)}
    for frame in greys:
        assert (frame == frame[0, 0]).all()
        pixel = tuple(int(c) for c in frame[0, 0])
        assert pixel in allowed and pixel[1] < pixel[0], pixel


def test_a_mode_outside_its_own_window_is_skipped(tmp_path: Path) -> None:
    """Verify a rotation entry's `when`: the stocks only on weekdays 9-17, say."""
    extra = {
        "rotation": {
            "modes": [
                {"mode": "solid:fill", "duration": 1.0},
                {
                    "mode": "interrupter:alert",
                    "duration": 1.0,
                    "when": [_window_around_now(inside=False)],
                },
            ]
        }
    }
    # Long enough, once solid shows, for the skipped entry's turn to have come twice.
    host, backend, stats = _run_pair(
        tmp_path,
        extra,
        seconds=120.0,
        until=lambda host, _: (
            host.stats.modes_shown
            and time.monotonic() - host.stats.started - host.stats.modes_shown[0]["at"] > 2.5
        ),
    )
    assert {s["mode"] for s in stats["modes_shown"]} == {"solid:fill"}


def test_crossfade_blends_the_old_mode_into_the_new(tmp_path: Path) -> None:
    """Verify a transition reaches the panel: frames between grey and red, then red."""
    extra = {"transitions": {"kind": "crossfade", "duration": 0.6}}
    host, backend, stats = _run_pair(
        tmp_path,
        extra,
        seconds=120.0,
        until=lambda host, backend: (
            ("interrupter:alert", "rotation") in shown_modes(host)
            and _pure_red(backend.pushes[-1][0])
        ),
    )
    switch = next(s["at"] for s in stats["modes_shown"] if s["mode"] == "interrupter:alert")
    after = [f for f, at, _ in backend.pushes if at - host.stats.started > switch and f.any()]
    pure_red = np.zeros_like(after[0])
    pure_red[..., 0] = 255
    blends = [f for f in after if not np.array_equal(f, pure_red)]
    # At least two, so one odd frame cannot pass for a fade; how many is the frame rate's
    # business, which a loaded machine lowers.
    assert len(blends) >= 2, "no crossfade frames"
    # A blend of grey (g, g, g) and red: green equals blue, red above both.
    assert all((f[..., 1] == f[..., 2]).all() and (f[..., 0] >= f[..., 1]).all() for f in blends)
    assert np.array_equal(after[-1], pure_red)


@pytest.mark.parametrize("seconds", [1.0, None])
def test_pin_shows_a_mode_now_and_the_rotation_resumes(
    tmp_path: Path, seconds: float | None
) -> None:
    """Verify an on-demand pin: shown at once, nothing restarted, rotation back after."""
    overrides = _red_and_grey(
        {"rotation": {"modes": [{"mode": "solid:fill", "duration": 30.0}, "interrupter"]}}
    )
    from config import load_config
    from host.app import Host, RunOptions

    sock = tmp_path / "control.sock"
    cfg = load_config(
        None,
        env={},
        overrides={
            **overrides,
            "paths": {"data_dir": str(tmp_path)},
            "control": {"socket": str(sock)},
        },
    )
    backend = RecordingBackend(cfg.display.width, cfg.display.height)
    host = Host(
        cfg,
        RunOptions(
            duration=120.0,  # a generous bound; the helper ends the run
            environment_plugins=False,
            plugin_paths=(str(TEST_PLUGINS),),
            only=("solid", "interrupter"),
        ),
        backend=backend,
    )

    def shown() -> list[tuple[str, str]]:
        return shown_modes(host)

    def pin_then_release() -> None:
        # Steps follow what the host did, not the clock, so a loaded machine only makes
        # them later; the run ends once the rotation is back.
        try:
            eventually(lambda: backend.pushes, "the first frame")
            interrupter = host.supervisor.handles["interrupter"]
            eventually(lambda: interrupter.modes, "the interrupter to name its modes")
            # Through the control socket, as `ledhost pin` does: the loop's own thread runs
            # the pin (a call from this thread would race the loop's own decisions).
            eventually(sock.exists, "the control socket")
            with ControlClient(str(sock)) as client:
                client.request(control.Pin(instance="interrupter", mode="alert", seconds=seconds))
                eventually(lambda: ("interrupter:alert", "pin") in shown(), "the pin to show")
                if seconds is None:
                    client.request(control.Unpin())
            eventually(lambda: shown()[-1] == ("solid:fill", "rotation"), "the rotation back")
        finally:
            stop_host(host)

    helper = threading.Thread(target=pin_then_release)
    helper.start()
    assert host.run() == 0
    helper.join()
    assert shown()[:3] == [
        ("solid:fill", "rotation"),
        ("interrupter:alert", "pin"),
        ("solid:fill", "rotation"),
    ], shown()
    assert all(h.restarts == 0 for h in host.supervisor.handles.values())
