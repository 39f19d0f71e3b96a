"""The emulator's browser page: a live panel without a Pi, on 127.0.0.1 only.

A real ``ledhost run`` with the emulator backend's ``browser`` adapter, fetched over
HTTP; the listening socket is read from ``/proc/net/tcp`` to prove it is not on every
interface, and SIGTERM still stops the host cleanly (the emulator's own signal handlers
would ``sys.exit`` it mid-frame).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import eventually, free_port

pytest.importorskip("RGBMatrixEmulator")


def _listeners(port: int) -> list[str]:
    """Local addresses (hex, as the kernel writes them) listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                address, hex_port = fields[1].split(":")
                if int(hex_port, 16) == port and fields[3] == "0A":  # LISTEN
                    found.append(address)
    return found


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return bytes(response.read())


def _lit(url: str) -> bool:
    try:
        picture = _get(url)
        with Image.open(io.BytesIO(picture)) as image:
            return bool(image.convert("L").getextrema()[1] > 0)
    except (OSError, ValueError):
        return False  # no frame drawn yet


def test_browser_page_serves_the_panel_on_loopback_only(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "ledhost.toml"
    config.write_text(
        f'[display]\nbackend = "emulator"\nemulator_adapter = "browser"\nemulator_port = {port}\n'
        '[rotation]\nmodes = ["clock"]\n[plugins.clock]\n'
    )
    config.chmod(0o600)
    stats = tmp_path / "stats.json"
    host = subprocess.Popen(
        [sys.executable, "-m", "host", "run", "--config", str(config), "--stats-json", str(stats)],
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        eventually(lambda: _listeners(port), "the browser page listens")
        assert _listeners(port) == ["0100007F"]  # 127.0.0.1, and nothing else
        assert b"<html" in _get(f"http://127.0.0.1:{port}/").lower()
        # The frame the page shows: the clock, drawn (not a black picture).
        eventually(lambda: _lit(f"http://127.0.0.1:{port}/image"), "the page shows a lit frame")
        host.send_signal(signal.SIGTERM)
        _, err = host.communicate(timeout=30)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
    assert host.returncode == 0, err
    assert f"the panel is live at http://127.0.0.1:{port}/" in err
    assert json.loads(stats.read_text())["frames_shown"] >= 1
