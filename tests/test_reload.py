"""Live reload, end to end: a real host, real workers, a real config file edited on disk.

The host loop must own the main thread (it installs signal handlers), so each test runs
its edits in a helper thread beside ``host.run()``: write the file as an editor saves it
(a temp file renamed over it), then wait -- generously, the box is shared -- until the
effect shows: in the pushed pixels, the worker's ``calls.jsonl`` (the ``everyhook`` test
plugin logs every hook call there), the supervisor's handles or the reload status. The
thread stops the host when done; assertions on what it saw run in the test itself.
Secrets-file edits use the ``secretive`` test plugin, whose frame is green once its
worker holds its key, and search everything shown for the secret values.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomlkit

from config import REDACTED, ConfigError, ConfigIssue, HostConfig, load_config
from config.diff import ConfigDiff
from host.display.color import ColorSettings, build_luts
from host.reload import ConfigWatcher, ReloadResult
from host.supervise.states import WorkerState
from tests.livehost import LiveHost, replace_file, run_live, stats

WHITE = (255, 255, 255)
GREEN = (0, 255, 0)
RED = (255, 0, 0)
GREY = (128, 128, 128)


def _instance(color: str) -> dict[str, Any]:
    # frame_delay: one frame an hour, a still image: whatever the panel shows after an
    # edit was drawn again by the host or by a worker the edit reached.
    return {"plugin": "everyhook", "color": color, "frame_delay": 3600}


# -- noticing a change (the watcher alone, with the time passed in) ----------------------


@dataclass
class Loads:
    """A stand-in loader: counts loads, fails while :attr:`error` is set."""

    cfg: HostConfig
    error: str | None = None
    loads: int = 0
    applied: int = 0

    def load(self) -> HostConfig:
        self.loads += 1
        if self.error is not None:
            raise ConfigError([ConfigIssue("ledhost.toml", "display.brightness", self.error)])
        return self.cfg

    def apply(self, cfg: HostConfig, done: Callable[[ReloadResult], None]) -> None:
        self.applied += 1
        done(ReloadResult(diff=ConfigDiff(restart_keys=("display.rows",))))


def _watch(tmp_path: Path, *names: str) -> tuple[ConfigWatcher, Loads, list[Path]]:
    paths = [tmp_path / name for name in names]
    loads = Loads(load_config(None, env={}))
    return ConfigWatcher(paths, loads.load, loads.apply, clock=lambda: 0.0), loads, paths


def _poll_until(watcher: ConfigWatcher, start: float, end: float) -> float:
    """Poll at every moment the watcher asks for, from ``start`` to ``end``; the last one."""
    now = start
    while now <= end:
        watcher.poll(now)
        now = max(now, watcher.next_look())
    return now


def test_watcher_looks_once_a_second_and_reads_a_file_written_in_pieces_once(
    tmp_path: Path,
) -> None:
    (tmp_path / "ledhost.toml").write_text("[display]\n")
    watcher, loads, (path,) = _watch(tmp_path, "ledhost.toml")
    assert watcher.next_look() == 1.0
    assert not watcher.poll(0.5) and watcher.next_look() == 1.0, "not before a second"
    assert not watcher.poll(1.0) and watcher.next_look() == 2.0
    with path.open("a") as f:
        f.write("brightness")
    assert not watcher.poll(2.0)  # changed: wait for it to settle
    assert watcher.next_look() == pytest.approx(2.3)
    with path.open("a") as f:
        f.write(" = 40\n")
    assert not watcher.poll(2.3), "still being written"
    assert watcher.poll(2.6), "settled: read once, whole"
    assert (loads.loads, loads.applied, watcher.reloads) == (1, 1, 1)
    assert watcher.next_look() == pytest.approx(3.6)
    _poll_until(watcher, 3.6, 10.0)
    assert loads.loads == 1, "an unchanged file is not read again"
    assert watcher.status()["restart_needed"] == ["display.rows"]


def test_watcher_sees_a_rename_over_the_file_even_with_the_same_size_and_time(
    tmp_path: Path,
) -> None:
    (tmp_path / "ledhost.toml").write_text("a = 1\n")
    watcher, loads, (path,) = _watch(tmp_path, "ledhost.toml")
    before = path.stat()
    replacement = tmp_path / "new.toml"
    replacement.write_text("a = 2\n")
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, path)
    _poll_until(watcher, 1.0, 3.0)
    assert loads.loads == 1


def test_watcher_refuses_an_invalid_edit_and_retries_only_after_the_next_change(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "ledhost.toml").write_text("")
    watcher, loads, (path, secrets) = _watch(tmp_path, "ledhost.toml", "secrets.toml")
    loads.error = "expected an integer from 0 to 100, found string 'loud'"
    path.write_text("[display]\nbrightness = 'loud'\n")
    now = _poll_until(watcher, 1.0, 5.0)
    assert (loads.loads, loads.applied, watcher.reloads) == (1, 0, 0)
    status = watcher.status()
    assert "display.brightness" in status["last_error"] and "'loud'" in status["last_error"]
    (record,) = [r for r in caplog.records if "edit refused" in r.getMessage()]
    assert record.levelno == logging.WARNING and "display.brightness" in record.getMessage()
    now = _poll_until(watcher, now, now + 5.0)
    assert loads.loads == 1, "the same broken file is not read again"
    # A file that did not exist (the secrets file) appearing is a change too.
    loads.error = None
    secrets.write_text("")
    _poll_until(watcher, now, now + 3.0)
    assert (loads.loads, loads.applied, watcher.reloads) == (2, 1, 1)
    assert watcher.status()["last_error"] is None


# -- host settings ------------------------------------------------------------------------


def test_brightness_change_recolours_the_shown_frame_without_restarting_workers(
    tmp_path: Path,
) -> None:
    dimmed = tuple(int(c) for c in build_luts(ColorSettings(25, 1.0))[:, 255])
    seen: dict[str, Any] = {}

    def scenario(live: LiveHost) -> None:
        live.wait_pixel(WHITE, "a white frame")
        seen["pids"] = live.pids()
        seen["renders"] = len(live.calls("one", "render_frame"))
        live.edit(lambda t: t["display"].update(brightness=25))
        live.wait_pixel(dimmed, "the white frame, dimmed")
        seen["after"] = live.pids()
        seen["renders_after"] = len(live.calls("one", "render_frame"))

    live = run_live(
        tmp_path,
        {
            "display": {"brightness": 100},
            "rotation": {"modes": ["one:frames"]},
            "plugins": {"one": _instance("#ffffff")},
        },
        scenario,
    )
    assert dimmed[0] < 255
    assert seen["after"] == seen["pids"], "no worker was restarted"
    # The host pushed the frame it had again, in the new colours: the worker drew nothing.
    assert seen["renders_after"] == seen["renders"] == 1
    assert live.calls("one", "configure") == []
    assert live.host.compositor.brightness == 25
    config = stats(tmp_path)["display"]["config"]
    assert config["reloads"] == 1 and config["last_error"] is None
    assert config["restart_needed"] == [] and config["path"] == str(live.path)


def test_gamma_change_recolours_the_shown_frame_without_restarting_workers(
    tmp_path: Path,
) -> None:
    # Gamma leaves black and full white alone: a mid grey shows it.
    corrected = tuple(int(c) for c in build_luts(ColorSettings(100, 2.2))[:, 128])
    seen: dict[str, Any] = {}

    def scenario(live: LiveHost) -> None:
        live.wait_pixel(GREY, "a grey frame")
        seen["pids"] = live.pids()
        seen["renders"] = len(live.calls("one", "render_frame"))
        live.edit(lambda t: t["display"].update(gamma=2.2))
        live.wait_pixel(corrected, "the grey frame, gamma-corrected")
        seen["after"] = live.pids()
        seen["renders_after"] = len(live.calls("one", "render_frame"))

    live = run_live(
        tmp_path,
        {
            "display": {"gamma": 1.0},
            "rotation": {"modes": ["one:frames"]},
            "plugins": {"one": _instance("#808080")},
        },
        scenario,
    )
    assert corrected[0] < 128
    assert seen["after"] == seen["pids"], "no worker was restarted"
    assert seen["renders_after"] == seen["renders"] == 1, "the host recoloured, no redraw"
    assert live.calls("one", "configure") == []
    assert live.host.compositor.color.settings.gamma == 2.2
    config = stats(tmp_path)["display"]["config"]
    assert config["reloads"] == 1 and config["last_error"] is None


@pytest.mark.slow
def test_fps_change_sets_the_push_rate_of_a_scrolling_strip_live(tmp_path: Path) -> None:
    """Verify a lower frame rate spaces the pushes of a strip already scrolling.

    The frame rate is a ceiling the presenter never breaks: every push after the edit
    comes at least ``1 / fps`` after the one before, on any machine. Before the edit the
    strip moved faster than the new ceiling allows (some two pushes closer than 1/5 s);
    how much faster depends on the load, so that is all that is asserted.
    """
    seen: dict[str, Any] = {}

    def scenario(live: LiveHost) -> None:
        pushes = live.backend.pushes
        live.wait_for(lambda: any(_holds(f, GREEN) for f, _, _ in pushes), "the strip")
        first = len(pushes)
        live.wait_for(lambda: len(pushes) >= first + 30, "30 pushes of the scrolling strip")
        seen["before"] = [at for _, at, _ in pushes[first : first + 30]]
        seen["pids"] = live.pids()
        live.edit(lambda t: t["display"].update(fps=5.0))
        live.wait_reloads(1)
        # Every push from here on was made after the new rate applied.
        mark = len(pushes)
        live.wait_for(lambda: len(pushes) >= mark + 8, "8 pushes at the new rate")
        seen["after"] = [at for _, at, _ in pushes[mark - 1 : mark + 8]]
        seen["after_frames"] = {f.tobytes() for f, _, _ in pushes[mark : mark + 8]}
        seen["after_pids"] = live.pids()

    live = run_live(
        tmp_path,
        {
            "display": {"fps": 50.0},
            "rotation": {"modes": ["one:strip"]},
            "plugins": {"one": {**_instance("#00ff00"), "strip_speed": 400, "strip_width": 150}},
        },
        scenario,
    )
    before, after = np.diff(seen["before"]), np.diff(seen["after"])
    assert min(before) >= 1 / 50 * 0.999, "the old ceiling held"
    assert min(before) < 1 / 5, f"the strip moved faster before: gaps {before}"
    assert min(after) >= 1 / 5 * 0.999, f"no two pushes closer than 1/5 s after: {after}"
    assert len(seen["after_frames"]) > 1, "and it still scrolls"
    assert seen["after_pids"] == seen["pids"], "no worker was restarted"
    assert live.host.presenter.min_interval == live.host.min_interval == 0.2
    assert live.calls("one", "configure") == []
    assert len(live.calls("one", "render_strip")) == 1, "the worker drew its strip once"


def _window_excluding_now() -> dict[str, str]:
    """An hour-long daily window (UTC) starting six hours from now: now is outside it."""
    start = datetime.now(UTC) + timedelta(hours=6)
    return {"from": start.strftime("%H:%M"), "to": (start + timedelta(hours=1)).strftime("%H:%M")}


def test_schedule_edit_turns_the_panel_off_and_back_on_without_restarting_workers(
    tmp_path: Path,
) -> None:
    seen: dict[str, Any] = {}

    def dark(live: LiveHost) -> bool:
        pushes = live.backend.pushes
        return bool(pushes) and not pushes[-1][0].any()

    def scenario(live: LiveHost) -> None:
        live.wait_pixel(GREEN, "a green frame")
        seen["pids"] = live.pids()
        live.edit(lambda t: t["schedule"].update(on=[_window_excluding_now()]))
        live.wait_for(lambda: dark(live), "a dark panel")
        seen["off"] = live.host.director.display_status()
        seen["off_pids"] = live.pids()
        live.edit(lambda t: t["schedule"].update(on=[]))
        live.wait_pixel(GREEN, "the rotation back on the panel")
        seen["on"] = live.host.director.display_status()
        seen["after"] = live.pids()

    live = run_live(
        tmp_path,
        {
            "schedule": {"timezone": "UTC"},
            "rotation": {"modes": ["one:frames"]},
            "plugins": {"one": _instance("#00ff00")},
        },
        scenario,
    )
    assert seen["off"]["on"] is False and seen["off"]["showing"] is None
    assert seen["on"]["on"] is True and seen["on"]["showing"] == "one:frames"
    assert seen["after"] == seen["off_pids"] == seen["pids"], "no worker was restarted"
    assert all(h.restarts == 0 for h in live.host.supervisor.handles.values())
    assert len(live.calls("one", "setup")) == 1 and live.calls("one", "configure") == []
    assert stats(tmp_path)["display"]["config"]["reloads"] == 2


def test_geometry_change_says_restart_needed_and_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen: dict[str, Any] = {}

    def scenario(live: LiveHost) -> None:
        live.wait_pixel(GREEN, "a green frame")
        seen["pids"] = live.pids()
        live.edit(lambda t: t["display"].update(rows=16))
        live.wait_reloads(1)
        seen["after"] = live.pids()
        # An edit afterwards still reports it: the file still asks for 16 rows.
        live.edit(lambda t: t["display"].update(brightness=60))
        live.wait_reloads(2)
        seen["status"] = live.status()

    caplog.set_level(logging.INFO, logger="ledhost")
    live = run_live(
        tmp_path,
        {
            "display": {"rows": 32},
            "rotation": {"modes": ["one:frames"]},
            "plugins": {"one": _instance("#00ff00")},
        },
        scenario,
    )
    assert seen["status"]["restart_needed"] == ["display.rows"]
    assert seen["after"] == seen["pids"]
    assert live.host.cfg.display.rows == 32 and live.host.geometry.height == 32
    assert all(frame.shape == (32, 64, 3) for frame, _, _ in live.backend.pushes)
    assert live.host.compositor.brightness == 60, "the live part of the edit applied"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("display.rows" in w and "restart ledhost to apply" in w for w in warnings)
    assert stats(tmp_path)["display"]["config"]["restart_needed"] == ["display.rows"]


def test_invalid_edits_are_refused_and_the_host_keeps_the_running_config(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Verify a bad host setting and a bad plugin option each refuse the whole edit."""
    seen: dict[str, Any] = {}

    def scenario(live: LiveHost) -> None:
        live.wait_pixel(GREEN, "a green frame")
        seen["pids"] = live.pids()
        # A host setting of the wrong type.
        before = time.time()
        live.edit(lambda t: t["display"].update(brightness="loud"))
        seen["host_error"] = live.wait_refused(before)
        seen["brightness"] = live.host.compositor.brightness
        # A valid setting with a plugin option of the wrong type: refused as a whole.
        before = time.time()
        live.tables["display"]["brightness"] = 50
        live.edit(lambda t: t["plugins"]["one"].update(frame_delay="soon"))
        seen["plugin_error"] = live.wait_refused(before)
        seen["brightness_after"] = live.host.compositor.brightness
        seen["configures"] = len(live.calls("one", "configure"))
        # Fixed: the next save applies.
        live.edit(lambda t: t["plugins"]["one"].update(frame_delay=3600))
        live.wait_reloads(1)
        seen["status"] = live.status()
        seen["after"] = live.pids()

    caplog.set_level(logging.INFO, logger="ledhost")
    live = run_live(
        tmp_path,
        {
            "display": {"brightness": 100},
            "rotation": {"modes": ["one:frames"]},
            "plugins": {"one": _instance("#00ff00")},
        },
        scenario,
    )
    assert "display.brightness" in seen["host_error"]
    assert "plugins.one.frame_delay" in seen["plugin_error"]
    assert seen["brightness"] == seen["brightness_after"] == 100, "the running config stayed"
    assert seen["configures"] == 0, "no worker heard of a refused edit"
    assert seen["status"]["last_error"] is None
    assert live.host.compositor.brightness == 50
    assert seen["after"] == seen["pids"], "no worker was restarted"
    refusals = [r.getMessage() for r in caplog.records if "edit refused" in r.getMessage()]
    assert len(refusals) == 2, refusals
    assert "display.brightness" in refusals[0] and "plugins.one.frame_delay" in refusals[1]
    assert all(r.levelno == logging.WARNING for r in caplog.records if "edit refused" in r.msg)


# -- plugin instances ---------------------------------------------------------------------


def test_editing_one_instance_reconfigures_only_its_worker(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("one", "two"), "both workers to run")
        live.wait_pixel(GREEN, "one's green frame")
        seen["pids"] = live.pids()
        live.edit(lambda t: t["plugins"]["one"].update(color="#ff0000", label="edited"))
        live.wait_pixel(RED, "one's frame in its new colour")
        live.wait_for(lambda: len(live.calls("one", "configure")) == 1, "one's configure call")
        seen["after"] = live.pids()

    live = run_live(
        tmp_path,
        {
            "rotation": {"modes": ["one:frames"]},
            "plugins": {"one": _instance("#00ff00"), "two": _instance("#0000ff")},
        },
        scenario,
    )
    (configure,) = live.calls("one", "configure")
    assert configure["config"]["color"] == "#ff0000" and configure["config"]["label"] == "edited"
    assert live.calls("two", "configure") == [], "the other instance heard nothing"
    assert seen["after"] == seen["pids"], "no worker was restarted"
    assert all(h.restarts == 0 for h in live.host.supervisor.handles.values())
    assert len(live.calls("one", "setup")) == len(live.calls("two", "setup")) == 1


def test_adding_an_instance_starts_a_worker_and_removing_one_stops_it(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def scenario(live: LiveHost) -> None:
        live.wait_pixel(GREEN, "one's green frame")
        live.tables["rotation"]["modes"] = ["one:frames", "two:frames"]
        live.edit(lambda t: t["plugins"].update(two=_instance("#ff0000")))
        live.wait_for(lambda: live.running("two"), "the added instance to run")
        seen["pids"] = live.pids()
        live.tables["rotation"]["modes"] = ["two:frames"]
        live.edit(lambda t: t["plugins"].pop("one"))
        live.wait_for(lambda: "one" not in live.handles(), "the removed instance to go")
        gone = seen["pids"]["one"]
        live.wait_for(lambda: not Path(f"/proc/{gone}").exists(), "its worker to be reaped")
        # The rotation moves on to what is left.
        live.wait_pixel(RED, "the added instance on the panel")
        seen["status"] = live.status()
        # A new memory limit cannot reach a running worker: a new one replaces it.
        live.edit(lambda t: t["plugins"]["two"].update(memory_limit_mb=200))
        live.wait_for(
            lambda: live.running("two") and live.pids()["two"] != seen["pids"]["two"],
            "a new worker for the instance with a new memory limit",
        )
        old = seen["pids"]["two"]
        live.wait_for(lambda: not Path(f"/proc/{old}").exists(), "its old worker to be reaped")
        live.wait_pixel(RED, "the new worker's frame on the panel")
        seen["replaced"] = live.handles()["two"]

    live = run_live(
        tmp_path,
        {
            "rotation": {"modes": ["one:frames"]},
            "plugins": {"one": _instance("#00ff00")},
        },
        scenario,
    )
    assert seen["status"]["reloads"] == 2 and seen["status"]["last_error"] is None
    assert list(live.host.supervisor.handles) == ["two"]
    assert live.host.supervisor.handles["two"] is seen["replaced"]
    assert seen["replaced"].memory_limit == 200 * 1024 * 1024
    assert live.calls("one", "teardown"), "the removed worker was stopped politely"
    assert len(live.calls("two", "setup")) == 2 and len(live.calls("two", "teardown")) == 2
    plugins = stats(tmp_path)["plugins"]
    assert set(plugins) == {"two"}


# -- groups on screen ---------------------------------------------------------------------


def _holds(frame: np.ndarray, color: tuple[int, int, int]) -> bool:
    return bool((frame == np.array(color, dtype=np.uint8)).all(axis=-1).any())


def test_a_ticker_on_screen_changed_live_shows_its_new_members(tmp_path: Path) -> None:
    def scenario(live: LiveHost) -> None:
        pushes = live.backend.pushes
        live.wait_for(lambda: any(_holds(f, GREEN) for f, _, _ in pushes), "one's strip")
        live.edit(lambda t: t["ticker"].update(modes=["two:strip"]))
        live.wait_reloads(1)
        live.wait_for(
            lambda: _holds(pushes[-1][0], RED) and not _holds(pushes[-1][0], GREEN),
            "a band of two's strip only",
        )

    live = run_live(
        tmp_path,
        {
            "rotation": {"modes": ["@ticker"]},
            "ticker": {"modes": ["one:strip"], "speed": 200},
            "plugins": {"one": _instance("#00ff00"), "two": _instance("#ff0000")},
        },
        scenario,
    )
    assert live.host.lineup.ticker.members == [("two", "strip")]
    assert live.calls("one", "configure") == live.calls("two", "configure") == []


def test_a_layout_on_screen_changed_live_draws_its_new_regions(tmp_path: Path) -> None:
    def layout(left: str, right: str) -> dict[str, Any]:
        return {
            "regions": [
                {"mode": f"{left}:frames", "x": 0, "y": 0, "width": 32, "height": 32},
                {"mode": f"{right}:frames", "x": 32, "y": 0, "width": 32, "height": 32},
            ]
        }

    def scenario(live: LiveHost) -> None:
        live.wait_pixel(GREEN, "one on the left")
        live.edit(lambda t: t["layouts"].update(split=layout("two", "one")))
        pushes = live.backend.pushes
        live.wait_for(
            lambda: tuple(pushes[-1][0][0, 0]) == RED and tuple(pushes[-1][0][0, 63]) == GREEN,
            "two on the left and one on the right",
        )

    run_live(
        tmp_path,
        {
            "rotation": {"modes": ["@split"]},
            "layouts": {"split": layout("one", "two")},
            "plugins": {"one": _instance("#00ff00"), "two": _instance("#ff0000")},
        },
        scenario,
    )


# -- the secrets file ---------------------------------------------------------------------

#: Secrets no test writes anywhere but the secrets file: a search for them finds leaks.
SECRET = "hunter2-Zq9vX-reload-only"
OTHER_SECRET = "second-Kx7wP-reload-only"


def _secretive(label: str) -> dict[str, Any]:
    return {"plugin": "secretive", "label": label}


def _secrets_toml(key: str) -> str:
    return f'[plugins.vault]\napi_key = "{key}"\n'


def _worker_logs(live: LiveHost, instance: str) -> str:
    return "\n".join(r.message for r in live.host.supervisor.logs[instance].records(limit=1000))


@pytest.mark.slow
def test_secrets_file_edit_reaches_only_its_instance_and_a_readable_one_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Verify a new secret reaches its worker live, and is never shown anywhere.

    ``secretive`` draws green once ``context.secrets`` holds its key (red before) and
    logs ``reconfigured with key ...`` (redacted by the host) in its ``configure`` hook.
    """
    secrets = tmp_path / "secrets.toml"
    seen: dict[str, Any] = {}

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("vault", "plain"), "both workers to run")
        live.wait_pixel(RED, "vault's frame without its key")
        seen["pids"] = live.pids()
        replace_file(secrets, _secrets_toml(SECRET), 0o600)
        live.wait_reloads(1)
        live.wait_pixel(GREEN, "vault's frame with its key")
        seen["status"] = live.status()
        # Readable by others: refused, with the fix; the key vault has stays.
        before = time.time()
        replace_file(secrets, _secrets_toml(OTHER_SECRET), 0o644)
        seen["error"] = live.wait_refused(before)
        seen["vault_secrets"] = dict(live.handles()["vault"].secrets)
        seen["after"] = live.pids()

    caplog.set_level(logging.DEBUG)
    live = run_live(
        tmp_path,
        {
            "rotation": {"modes": [{"mode": "vault:show", "duration": 60}]},
            "plugins": {"vault": _secretive("front door"), "plain": _secretive("back door")},
        },
        scenario,
    )
    assert seen["status"]["reloads"] == 1 and seen["status"]["last_error"] is None
    assert seen["after"] == seen["pids"], "no worker was restarted"
    assert all(h.restarts == 0 for h in live.host.supervisor.handles.values())
    vault, plain = _worker_logs(live, "vault"), _worker_logs(live, "plain")
    assert vault.count(f"reconfigured with key {REDACTED}") == 1, vault
    assert "reconfigured" not in plain, "the other instance heard nothing"
    assert live.handles()["plain"].secrets == {}
    # The refusal names the file and the fix, never a value; the running key stayed.
    assert f"chmod 600 {secrets}" in seen["error"] and "0644" in seen["error"]
    assert seen["vault_secrets"] == {"api_key": SECRET}
    assert live.handles()["vault"].secrets == {"api_key": SECRET}
    assert live.host.cfg.plugins["vault"].secrets == {"api_key": SECRET}
    shown = "\n".join(
        [
            seen["error"],
            (tmp_path / "stats.json").read_text(),
            json.dumps(live.host.status(), default=str),
            json.dumps(live.host.director.display_status(), default=str),
            caplog.text,
            vault,
            plain,
        ]
    )
    assert SECRET not in shown and OTHER_SECRET not in shown


def test_instance_refused_for_a_short_secret_starts_once_the_secrets_file_is_fixed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    short = "tiny7"  # api_key needs 8 characters or more
    secrets = tmp_path / "secrets.toml"
    replace_file(secrets, _secrets_toml(short), 0o600)
    seen: dict[str, Any] = {}

    def scenario(live: LiveHost) -> None:
        def refused() -> bool:
            vault = live.handles().get("vault")
            return vault is not None and vault.state is WorkerState.EXITED

        live.wait_for(refused, "vault to be refused")
        seen["error"] = live.handles()["vault"].last_error
        live.wait_for(lambda: live.running("plain"), "plain to run")
        seen["plain"] = live.pids()["plain"]
        replace_file(secrets, _secrets_toml(SECRET), 0o600)
        live.wait_pixel(GREEN, "vault's frame with its key")
        seen["after"] = live.pids()
        seen["status"] = live.status()

    caplog.set_level(logging.DEBUG)
    live = run_live(
        tmp_path,
        {
            "rotation": {"modes": [{"mode": "vault:show", "duration": 60}]},
            "plugins": {"vault": _secretive("front door"), "plain": _secretive("back door")},
        },
        scenario,
    )
    assert "plugins.vault.api_key: the secret value is too short" in seen["error"]
    assert seen["status"]["reloads"] == 1 and seen["status"]["last_error"] is None
    assert seen["after"]["plain"] == seen["plain"], "the other worker was not restarted"
    assert live.handles()["vault"].secrets == {"api_key": SECRET}
    assert "reconfigured" not in _worker_logs(live, "plain")
    shown = "\n".join(
        [
            seen["error"],
            (tmp_path / "stats.json").read_text(),
            caplog.text,
            _worker_logs(live, "vault"),
        ]
    )
    assert short not in shown and SECRET not in shown


def _watch_secrets(tmp_path: Path) -> tuple[ConfigWatcher, list[HostConfig], Path]:
    """A watcher on a real config and 0600 secrets file, reloading with the real loader."""
    path = tmp_path / "ledhost.toml"
    path.write_text(tomlkit.dumps({"plugins": {"vault": _secretive("front door")}}))
    secrets = tmp_path / "secrets.toml"
    replace_file(secrets, _secrets_toml(SECRET), 0o600)
    applied: list[HostConfig] = []

    def apply(cfg: HostConfig, done: Callable[[ReloadResult], None]) -> None:
        applied.append(cfg)
        done(ReloadResult(diff=ConfigDiff()))

    load = functools.partial(load_config, path, env={})
    watcher = ConfigWatcher([path, secrets], load, apply, clock=lambda: 0.0)
    return watcher, applied, secrets


def test_following_the_chmod_hint_applies_the_refused_secrets_edit(tmp_path: Path) -> None:
    watcher, applied, secrets = _watch_secrets(tmp_path)
    replace_file(secrets, _secrets_toml(OTHER_SECRET), 0o644)
    now = _poll_until(watcher, 1.0, 4.0)
    assert applied == [] and f"chmod 600 {secrets}" in str(watcher.status()["last_error"])

    secrets.chmod(0o600)  # what the error message says to do
    _poll_until(watcher, now, now + 4.0)

    assert [cfg.plugins["vault"].secrets for cfg in applied] == [{"api_key": OTHER_SECRET}]
    assert watcher.status()["last_error"] is None


def test_secrets_file_made_readable_by_others_is_reported(tmp_path: Path) -> None:
    watcher, applied, secrets = _watch_secrets(tmp_path)
    secrets.chmod(0o644)
    _poll_until(watcher, 1.0, 4.0)
    assert applied == []
    assert f"chmod 600 {secrets}" in str(watcher.status()["last_error"])
