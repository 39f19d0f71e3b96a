"""The ``ledhost`` command as a user runs it: real subprocesses, real workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.cli_run import on_screen, run_until, showing
from tests.conftest import TEST_PLUGINS, ledhost


def _one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ledhost: error: ")
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_render_clock_png(tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    result = ledhost("render", "clock", "--frames", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    image = Image.open(out)
    assert image.size == (64, 32)
    assert image.convert("RGB").getbbox() is not None  # something is lit


def test_render_text_strip_gif_scaled(tmp_path: Path) -> None:
    out = tmp_path / "t.gif"
    result = ledhost(
        "render",
        "text:message",
        "--frames",
        "5",
        "--size",
        "64x32",
        "--scale",
        "4",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    image = Image.open(out)
    assert image.size == (256, 128) and image.n_frames >= 2


def test_render_output_gets_the_umask_mode_not_a_private_one(tmp_path: Path) -> None:
    out = tmp_path / "clock.png"
    result = ledhost("render", "clock", "--out", str(out))
    assert result.returncode == 0, result.stderr
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_render_with_plugin_config(tmp_path: Path) -> None:
    cfg = tmp_path / "text.toml"
    cfg.write_text('message = "Hi"\n')
    out = tmp_path / "hi.png"
    result = ledhost("render", "text", "--config", str(cfg), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (64, 32)  # fits: a static frame, not a strip


def test_render_waits_for_the_first_data_refresh(tmp_path: Path) -> None:
    """Verify that render shows a plugin's data, not the frame it draws before its first
    (slow) refresh_data has finished."""
    cfg = tmp_path / "slow.toml"
    cfg.write_text("delay = 1.5\n")
    out = tmp_path / "slow.png"
    result = ledhost(
        "render", "slowdata", "--config", str(cfg), "--plugin-path", str(TEST_PLUGINS),
        "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (np.asarray(Image.open(out).convert("RGB")) == (0, 255, 0)).all()


def test_render_takes_an_instance_section_from_a_ledhost_config(tmp_path: Path) -> None:
    """Verify that ``--config`` also accepts a whole ledhost config, using the instance's
    section and resolving ``plugin =`` to the plugin it runs."""
    cfg = tmp_path / "ledhost.toml"
    cfg.write_text(
        '[display]\nrows = 32\n\n[plugins.news]\nplugin = "text"\nenabled = true\n'
        'message = "Hi"\ncolor = "#00ff00"\n'
    )
    out = tmp_path / "news.png"
    result = ledhost("render", "news:message", "--config", str(cfg), "--out", str(out))
    assert result.returncode == 0, result.stderr
    pixels = np.asarray(Image.open(out).convert("RGB"))
    lit = pixels[pixels.any(axis=2)]
    assert len(lit) and (lit == (0, 255, 0)).all()  # the section's colour, not the default

    missing = ledhost("render", "weather", "--config", str(cfg), "--out", str(out))
    _one_line_error(missing, "no [plugins.weather] section", "news")


@pytest.mark.parametrize(
    "args, needles",
    [
        (["render", "nosuch", "--out", "{tmp}/x.png"], ["unknown plugin 'nosuch'", "clock"]),
        (["render", "clock:nosuch", "--out", "{tmp}/x.png"], ["no mode 'nosuch'", "time"]),
        (["render", "clock", "--out", "/proc/nope/x.png"], ["does not exist"]),
        (["render", "clock", "--out", "{tmp}/x.bmp"], [".png or .gif"]),
        (["render", "clock", "--size", "64by32", "--out", "{tmp}/x.png"], ["64x32"]),
        (["run", "--config", "{tmp}/missing.toml"], ["missing.toml"]),
        (
            ["run", "--backend", "emulator", "--duration", "1", "--snapshot", "{tmp}/x.jpg"],
            [".gif or .png"],
        ),
    ],
)
def test_errors_are_one_clear_line(tmp_path: Path, args: list[str], needles: list[str]) -> None:
    result = ledhost(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    _one_line_error(result, *needles)


@pytest.mark.parametrize("command", [["run", "--duration", "1"], ["render", "clock"], ["plugins"]])
def test_unknown_worker_user_is_one_clear_line(tmp_path: Path, command: list[str]) -> None:
    """Verify every command that starts workers refuses a worker user that does not exist."""
    if os.geteuid() != 0:
        pytest.skip("the worker user only matters when ledhost runs as root")
    args = [*command, "--out", str(tmp_path / "x.png")] if command[0] == "render" else command
    result = ledhost(*args, env={"LEDHOST_WORKERS__USER": "nosuchuser"})
    _one_line_error(result, "workers.user 'nosuchuser'", "no such user")


def test_render_unwritable_folder(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root ignores permissions: use a read-only mount instead
        locked = Path("/proc/self")
    result = ledhost("render", "clock", "--out", str(locked / "x.png"))
    _one_line_error(result)


def test_render_plugin_that_fails_to_boot(tmp_path: Path) -> None:
    result = ledhost(
        "render", "importfail", "--plugin-path", str(TEST_PLUGINS), "--out", str(tmp_path / "x.png")
    )
    _one_line_error(result, "importfail", "this plugin needs a library")


def test_plugins_json_lists_builtins_with_modes() -> None:
    result = ledhost("plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert rows["clock"]["modes"] == ["time"]
    assert rows["text"]["modes"] == ["message", "notification"]
    for row in rows.values():
        assert {"id", "distribution", "version", "modes", "found"} <= set(row)
    assert rows["clock"]["distribution"] == "ledhost" and rows["clock"]["found"] == "builtin"


def test_plugins_json_reports_broken_plugins_without_failing() -> None:
    result = ledhost("plugins", "--json", "--plugin-path", str(TEST_PLUGINS))
    assert result.returncode == 0, result.stderr
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert rows["solid"]["found"] == "path" and rows["solid"]["modes"] == ["fill"]
    assert "this plugin needs a library" in rows["importfail"]["error"]
    assert "render_frmae" in rows["typo"]["error"]


def test_run_writes_snapshot_and_stats(tmp_path: Path) -> None:
    gif = tmp_path / "out.gif"
    stats = tmp_path / "stats.json"
    result = run_until(
        *("--snapshot", str(gif), "--stats-json", str(stats), "--backend", "headless", "-q"),
        until=showing("clock", frames=3),  # the clock shows first: >= 2 frames pushed
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(stats.read_text())
    assert data["frames_shown"] >= 2
    assert set(data["plugins"]) == {"clock", "text", "system"}
    image = Image.open(gif)
    assert image.size == (512, 256) and image.n_frames >= 2


def test_plugins_switch_runs_exactly_those(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    result = ledhost(
        "run",
        "--duration",
        "1.5",
        "--stats-json",
        str(stats),
        "-q",
        env={"LEDHOST_PLUGINS": "text"},
    )
    assert result.returncode == 0, result.stderr
    assert set(json.loads(stats.read_text())["plugins"]) == {"text"}


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    end = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < end:
        alive = [p for p in alive if _alive(p)]
        time.sleep(0.05)
    return alive


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state != b"Z"


def _worker_pids(parent: int, timeout: float = 60.0) -> list[int]:
    """Descendants of ``parent`` running ``host.worker`` or forked as ledhost workers."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pids = [p for p in _descendants(parent) if _is_worker(p)]
        if len(pids) >= 2:
            return pids
        time.sleep(0.1)
    raise AssertionError("workers did not start")


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _is_worker(pid: int) -> bool:
    """A spawned worker (by its command line), or the zygote or a worker forked from it
    (their command line is the host's; their name says what they are)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
        with open(f"/proc/{pid}/comm", "rb") as f:
            comm = f.read().strip()
    except OSError:
        return False
    return b"host.worker" in cmdline or comm in (b"ledhost-zygote", b"ledhost-worker")


@pytest.mark.parametrize("launcher", ["zygote", "spawn"])
def test_sigterm_stops_cleanly_and_leaves_no_process(tmp_path: Path, launcher: str) -> None:
    stats = tmp_path / "stats.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "host",
            "run",
            "--launcher",
            launcher,
            "--stats-json",
            str(stats),
            "-q",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        pids = _worker_pids(proc.pid)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()
    assert _wait_gone(pids, 30.0) == []  # a bound only: a loaded box may reap slowly
    data = json.loads(stats.read_text())
    assert {p["state"] for p in data["plugins"].values()} == {"exited"}


@pytest.mark.parametrize("launcher", ["zygote", "spawn"])
def test_workers_die_with_a_killed_host(launcher: str) -> None:
    """Verify SIGKILL of the host (no chance to clean up) still takes every worker down."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "host", "run", "--launcher", launcher, "-q"],
        stderr=subprocess.DEVNULL,
    )
    try:
        pids = _worker_pids(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert _wait_gone(pids, 30.0) == []  # a bound only: a loaded box may reap slowly


@pytest.mark.parametrize("ids", ["../../etc", "Clock", "a/b", "te xt", ""])
def test_hostile_plugin_ids_are_refused(tmp_path: Path, ids: str) -> None:
    result = ledhost("run", "--duration", "1", "--plugins", f"clock,{ids}", cwd=tmp_path)
    if ids == "":
        assert result.returncode == 0  # "clock," is just clock
        return
    _one_line_error(result, "invalid plugin instance id")
    assert list(tmp_path.iterdir()) == []


def test_run_with_a_config_file_and_two_instances_of_one_plugin(tmp_path: Path) -> None:
    """Verify instances: two clocks in two timezones, each its own worker and status."""
    config = tmp_path / "ledhost.toml"
    config.write_text(
        "[display]\nrows = 32\ncols = 64\nchain = 2\nbrightness = 50\n"
        "[rotation]\nmodes = [{mode = 'home:time', duration = 1.0}, 'tokyo']\n"
        "[plugins.home]\nplugin = 'clock'\n"
        "[plugins.tokyo]\nplugin = 'clock'\ntimezone = 'Asia/Tokyo'\n"
    )
    stats = tmp_path / "stats.json"
    snapshot = tmp_path / "last.png"
    result = run_until(
        *("--config", str(config), "--stats-json", str(stats), "--snapshot", str(snapshot), "-q"),
        until=on_screen("tokyo", "time"),  # after home's 1 s turn, with a frame of its own
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(stats.read_text())
    assert set(data["plugins"]) == {"home", "tokyo"}
    assert {p["plugin"] for p in data["plugins"].values()} == {"clock"}
    assert data["plugins"]["home"]["pid"] != data["plugins"]["tokyo"]["pid"]
    assert all(p["frames"] >= 1 for p in data["plugins"].values())
    assert [s["mode"] for s in data["modes_shown"]][:2] == ["home:time", "tokyo:time"]
    assert Image.open(snapshot).size == (128 * 8, 32 * 8)  # chained: 128 wide


def test_trace_switch_logs_every_hook_call(tmp_path: Path) -> None:
    result = run_until(
        "--plugins", "clock", until=showing("clock"), env={"LEDHOST_TRACE_PLUGINS": "1"}
    )
    assert result.returncode == 0, result.stderr
    assert "ledhost.plugin.clock: calling render_frame(" in result.stderr
    assert "ledhost.plugin.clock: calling setup(context)" in result.stderr
    quiet = ledhost("run", "--duration", "1.5", "--plugins", "clock")
    assert "calling render_frame" not in quiet.stderr
