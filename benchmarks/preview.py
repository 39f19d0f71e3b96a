"""The admin UI's live preview: what one open preview costs the host, and how far behind it is.

Issue 18. ledhost runs in a process of its own, scrolling text at 60 fps (the case where
the preview sends the most frames: every frame differs), with its web process (``ledhost
web``) on 127.0.0.1. Figures:

- ``host, no preview``: the host process's own CPU (its threads' ``schedstat``) over a
  window, as a share of one core.
- ``host, one preview``: the same over a window of the same length while one client reads
  ``GET /api/v1/events?kinds=frames`` (the stream the dashboard draws) through the web
  process; the median of the per-pair ratios against the window without is the issue's
  figure (goal <= 1.1x). :data:`ROUNDS` pairs of windows, taken in turn. The web
  process's CPU in those windows is a note (it is not the host's).
- ``push -> paint``: with Debian's chromium available, a real browser logged in to the
  dashboard; for each frame it paints, the time from the host sending the frame (the
  event's ``at``) to the paint, in milliseconds and in frame periods. Skipped, saying
  so, where chromium or Playwright is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any, Final

from benchmarks._util import Row, spread_of
from benchmarks.isolation import FPS, cpu_seconds, write_config

NAME: Final = "preview"
TITLE: Final = "Admin UI preview: host CPU with one preview open, and push-to-paint delay"
PASSWORD: Final = "benchmark-password"
#: Pairs of windows (without, then with a preview), each a third of the window's length.
ROUNDS: Final = 3
CHROMIUM: Final = os.environ.get("LEDHOST_CHROMIUM", "/usr/bin/chromium")


def _cpu(pid: int) -> float:
    """The process's CPU seconds, from its threads' schedstat (nanoseconds: its clock ticks
    of 10 ms were a few per cent of a window's figure)."""
    return cpu_seconds(pid) or 0.0


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Web:
    """A logged-in HTTP session with the web process."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.csrf = ""

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.csrf:
            req.add_header("X-CSRF-Token", self.csrf)
        with self.opener.open(req, timeout=10) as r:
            return json.loads(r.read())

    def wait_up(self, limit: float = 60) -> None:
        end = time.monotonic() + limit
        while True:
            try:
                self.call("GET", "/api/v1/auth/state")
                return
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)


def _read_stream(web: _Web, stop: threading.Event, counts: list[int]) -> None:
    req = urllib.request.Request(web.base + "/api/v1/events?kinds=frames")
    with web.opener.open(req, timeout=30) as r:
        while not stop.is_set():
            line = r.readline()
            if not line:
                return
            if line.startswith(b"event: frame"):
                counts[0] += 1


def run(quick: bool) -> list[Row]:
    # A scrolling host uses well under 1 % of a core, and the machine's load moves: the
    # full run takes long windows, in ROUNDS pairs, for the ratio to mean something.
    window = 5.0 if quick else 40.0
    with tempfile.TemporaryDirectory(prefix="ledhost-bench-preview-") as tmp:
        folder = Path(tmp)
        config = write_config(folder, [("text", "message", 3600.0)])
        sock = folder / "control.sock"
        port = _port()
        with config.open("a") as f:
            f.write(f'[control]\nsocket = "{sock}"\n')
            f.write(f'[web]\nenabled = true\nbind = "127.0.0.1"\nport = {port}\n')
        host = subprocess.Popen(
            [sys.executable, "-m", "host", "run", "--config", str(config),
             "--duration", str(60 + 3 * window)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            web = _Web(f"http://127.0.0.1:{port}")
            web.wait_up()
            web.csrf = web.call("POST", "/api/v1/auth/setup", {"password": PASSWORD})["csrf_token"]
            return _measure(host.pid, web, window)
        finally:
            host.terminate()
            host.wait(30)


def _web_pid(host_pid: int) -> int | None:
    for child in Path(f"/proc/{host_pid}/task/{host_pid}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"web" in cmdline:
            return int(child)
    return None


def _measure(pid: int, web: _Web, window: float) -> list[Row]:
    time.sleep(2.0)  # the text is scrolling; start-up is over
    idle: list[float] = []
    busy: list[float] = []
    rates: list[float] = []
    web_cpu: list[float] = []
    web_pid = None
    for _ in range(ROUNDS):  # the two windows in turn: the machine's load moves meanwhile
        start, before = time.monotonic(), _cpu(pid)
        time.sleep(window / ROUNDS)
        idle.append((_cpu(pid) - before) / (time.monotonic() - start))

        stop, counts = threading.Event(), [0]
        reader = threading.Thread(target=_read_stream, args=(web, stop, counts), daemon=True)
        reader.start()
        time.sleep(1.0)
        web_pid = web_pid or _web_pid(pid)
        start, before, counted = time.monotonic(), _cpu(pid), counts[0]
        web_before = _cpu(web_pid) if web_pid else 0.0
        time.sleep(window / ROUNDS)
        elapsed = time.monotonic() - start
        busy.append((_cpu(pid) - before) / elapsed)
        web_cpu.append((_cpu(web_pid) - web_before) / elapsed if web_pid else float("nan"))
        rates.append((counts[0] - counted) / elapsed)
        stop.set()
        reader.join(5)
    ratios = [b / i if i else float("nan") for b, i in zip(busy, idle, strict=True)]
    rows = [
        Row(NAME, "host, no preview", "% core", spread_of([i * 100 for i in idle]),
            note=f"scrolling text at {FPS:g} fps, 64x32; the host process alone"),
        Row(NAME, "host, one preview", "% core", spread_of([b * 100 for b in busy]),
            ratio=spread_of(ratios), baseline="host, no preview",
            note=f"{statistics.median(rates):.1f} frames/s streamed; the web process used "
                 f"{statistics.median(web_cpu) * 100:.2f} % of a core for it "
                 "(goal: ratio <= 1.1)"),
    ]  # fmt: skip
    rows.extend(_paint_delay(web))
    return rows


def _paint_delay(web: _Web) -> list[Row]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return [
            Row(
                NAME,
                "push -> paint",
                "ms",
                spread_of([float("nan")]),
                note=f"skipped: no {CHROMIUM}",
            )
        ]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return [
            Row(
                NAME,
                "push -> paint",
                "ms",
                spread_of([float("nan")]),
                note="skipped: no playwright",
            )
        ]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(web.base + "/login")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(web.base + "/")
            time.sleep(5.0)
            delays = page.evaluate("window.ledhostPreview.delays.slice()")
        finally:
            browser.close()
    period = 1.0 / FPS
    return [
        Row(NAME, "push -> paint", "ms", spread_of([d * 1000 for d in delays]),
            note=f"{len(delays)} frames painted in 5 s; median "
                 f"{sorted(delays)[len(delays) // 2] / period if delays else float('nan'):.1f} "
                 f"frame periods"),
    ]  # fmt: skip
