"""The Pi install's acceptance run, with the real ledhost: ``deploy/install.sh --root``
installs this checkout and its dependencies into a throwaway root, and the installed
release runs. A file of its own so that it runs beside ``test_pi_install.py``'s shared
install (the suite runs files in parallel).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from host.system import ownership
from host.system.layout import PiLayout
from tests.cli_run import run_until, showing
from tests.conftest import REPO, make_system_root


@pytest.mark.slow  # pip installs the real ledhost and its dependencies: ~25-60 s here
@pytest.mark.timeout(360)  # 108 s seen on a loaded 2-core box: the default 120 s bound is tight
@pytest.mark.skipif(os.geteuid() != 0, reason="the install creates users and sets owners")
def test_installed_release_from_this_checkout_runs(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The acceptance run: ``deploy/install.sh --root`` installs this checkout (with its
    real dependencies, from the index pip is configured with) into a throwaway root, and
    the installed ``current/bin/ledhost`` runs the config the install wrote, its plugins
    under uids of their own, and shows frames."""
    # Workers' uids must reach the release's Python: not below pytest's 0700 tmp folders.
    base = Path(tempfile.mkdtemp(prefix="ledhost-root-", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    base.chmod(0o755)
    root = make_system_root(base / "root")
    done = subprocess.run(
        [str(REPO / "deploy" / "install.sh"), "--root", str(root), "--no-tweaks"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0 and "No matching distribution" in done.stderr:
        pytest.skip(f"pip cannot reach an index with ledhost's dependencies: {done.stderr[-300:]}")
    assert done.returncode == 0, done.stdout + done.stderr
    layout = PiLayout(root)
    assert ownership.problems(layout) == []
    # The installed config names the Pi's paths; here they stay inside the test root.
    env = {
        "PATH": "/usr/bin:/bin",
        "LEDHOST_PATHS__DATA_DIR": str(layout.data_dir),
        "LEDHOST_CONTROL__SOCKET": str(root / "run" / "control.sock"),
        "LEDHOST_WEB__ENABLED": "false",
    }
    stats = tmp_path / "stats.json"
    ran = run_until(
        *("--config", str(layout.config), "--stats-json", str(stats)),
        until=showing("clock"),
        env=env,
        cwd=Path("/"),
        command=[str(layout.ledhost_bin)],
        inherit_env=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert "workers run as uids of their own" in ran.stderr
    data = json.loads(stats.read_text())
    assert data["frames_shown"] > 0, ran.stderr
    assert data["modes_shown"][0]["mode"] == "clock:time"
    again = subprocess.run(
        [str(REPO / "deploy" / "install.sh"), "--root", str(root), "--no-tweaks"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "0 step(s) changed something" in again.stdout, again.stdout
