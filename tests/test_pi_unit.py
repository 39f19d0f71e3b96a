"""The systemd unit: the shipped copy is the generated one, and systemd accepts it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from host.system.layout import PiLayout
from host.system.unit import CAPABILITIES, WATCHDOG_SEC, render_unit
from tests.conftest import REPO


def test_shipped_unit_is_the_generated_one() -> None:
    """Verify ``deploy/ledhost.service`` (for admins to read) is what the install writes;
    regenerate it with ``ledhost service unit > deploy/ledhost.service``."""
    assert (REPO / "deploy" / "ledhost.service").read_text() == render_unit()


def directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_unit_says_what_the_issue_asks() -> None:
    layout = PiLayout()
    d = directives(render_unit())
    assert d["Type"] == ["notify"] and d["NotifyAccess"] == ["main"]
    assert d["WatchdogSec"] == [str(WATCHDOG_SEC)]
    assert d["Delegate"] == ["yes"] and d["KillMode"] == ["control-group"]
    assert d["Restart"] == ["on-failure"] and "StartLimitBurst" in d
    assert d["MemoryAccounting"] == ["yes"]
    assert d["StandardOutput"] == ["journal"] and d["StandardError"] == ["journal"]
    assert d["ExecStartPre"] == [f"/usr/bin/python3 -I {layout.guard}"]
    assert d["ExecStart"] == [f"{layout.ledhost_bin} run --config {layout.config}"]
    assert d["CapabilityBoundingSet"] == [" ".join(CAPABILITIES)]
    # The panel needs /dev/mem or /dev/gpiomem: nothing that closes /dev.
    assert "PrivateDevices" not in d and "ProtectClock" not in d and "DeviceAllow" not in d


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    """Verify with systemd's own parser: no error and no warning (an unknown directive
    is only a warning, so any output fails). The unit names the paths of a layout under
    ``tmp_path``, whose commands exist, since ``verify`` checks them."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is missing (Debian package systemd)")
    layout = PiLayout(tmp_path)
    release = layout.release("1.0")
    (release / "bin").mkdir(parents=True)
    (release / "bin" / "ledhost").write_text("#!/bin/sh\n")
    os.chmod(release / "bin" / "ledhost", 0o755)
    layout.current.symlink_to("releases/1.0")
    unit = tmp_path / "ledhost.service"
    unit.write_text(render_unit(layout))
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_cli_prints_the_unit_and_lists_permission_problems(tmp_path: Path) -> None:
    """Verify ``ledhost service unit`` and ``ledhost service permissions --json``."""
    from tests.conftest import ledhost

    done = ledhost("service", "unit")
    assert done.returncode == 0 and done.stdout == render_unit()
    done = ledhost("service", "permissions", "--root", str(tmp_path), "--json")
    assert done.returncode == 1
    rows = json.loads(done.stdout)
    etc = str(PiLayout(tmp_path).etc)
    assert any(r["path"] == etc and "missing" in r["problem"] and r["fix"] for r in rows), rows
