"""A plugin upgraded while the host runs: its workers restart on the new version.

A real ``ledhost run`` with a plugin distribution in a ``--plugin-path`` folder, laid out
as pip installs one (module, ``*.dist-info`` with METADATA, entry points and RECORD).
The test then replaces it the way ``pip install -U`` does (new module, old dist-info
removed, new one written) and reads the host's log and its last frame.
"""

from __future__ import annotations

import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from PIL import Image

from host.discovery import discover
from host.upgrades import dist_info, stamp

WAIT = 60.0
RED, GREEN = (255, 0, 0), (0, 255, 0)


def install(site: Path, version: str, colour: tuple[int, int, int]) -> None:
    """Write (or replace) distribution ``ledhost-moon`` ``version``, drawing ``colour``.

    Each render appends a line to ``renders-<version>`` beside ``site``: a second line
    means the first frame of that version has reached the host.
    """
    renders = site.parent / f"renders-{version}"
    for old in site.glob("ledhost_moon-*.dist-info"):
        shutil.rmtree(old)
    (site / "moon_plugin.py").write_text(
        "from sdk import hookimpl\n\n"
        "@hookimpl\n"
        "def register_modes(register):\n"
        "    register('phase')\n\n"
        "@hookimpl\n"
        "def render_frame(canvas):\n"
        f"    canvas.clear({colour})  # version {version}\n"
        f"    with open({str(renders)!r}, 'a') as f:\n"
        "        f.write('x\\n')\n"
        "    return 1.0\n"
    )
    info = site / f"ledhost_moon-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: ledhost-moon\nVersion: {version}\n"
    )
    (info / "entry_points.txt").write_text("[ledhost.plugins]\nmoon = moon_plugin\n")
    (info / "RECORD").write_text(f"moon_plugin.py,,\n{info.name}/METADATA,,\n")


def test_stamp_follows_what_pip_rewrites(tmp_path: Path) -> None:
    install(tmp_path, "1.0", RED)
    spec = discover([str(tmp_path)], environment=False)["moon"]
    first = stamp(dist_info(spec))
    assert first is not None
    install(tmp_path, "1.1", GREEN)
    assert dist_info(spec) is None  # the 1.0 folder is gone
    spec = discover([str(tmp_path)], environment=False)["moon"]
    assert spec.version == "1.1" and stamp(dist_info(spec)) is not None


def test_an_upgraded_plugin_restarts_on_its_new_version(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install(site, "1.0", RED)
    snapshot = tmp_path / "last.png"
    host = subprocess.Popen(
        [sys.executable, "-m", "host", "run", "--plugin-path", "site", "--plugins", "moon",
         "--backend", "headless", "--snapshot", str(snapshot)],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,  # a relative --plugin-path: workers, started in /, must find it too
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    assert host.stderr is not None
    threading.Thread(target=lambda: [lines.put(x) for x in host.stderr], daemon=True).start()  # type: ignore[union-attr]

    def wait_line(needle: str) -> str:
        end = time.monotonic() + WAIT
        while time.monotonic() < end:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if needle in line:
                return line
        raise AssertionError(f"no log line with {needle!r}")

    try:
        wait_line("showing moon:phase")
        install(site, "1.1", GREEN)
        line = wait_line("plugin 'moon' updated 1.0 -> 1.1")
        assert "restarting its workers" in line
        end = time.monotonic() + WAIT
        renders = tmp_path / "renders-1.1"
        while not (renders.exists() and len(renders.read_text().split()) >= 2):
            assert time.monotonic() < end, "version 1.1 never rendered twice"
            time.sleep(0.05)
        host.send_signal(signal.SIGTERM)
        host.wait(timeout=WAIT)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
    assert host.returncode == 0
    with Image.open(snapshot) as image:  # the last frame: drawn by version 1.1
        (red_low, red_high), (green_low, green_high), _ = image.convert("RGB").getextrema()
    assert green_high > 200 and red_high < 50
