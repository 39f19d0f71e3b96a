"""What a started ``ledhost run`` holds in memory, checked on a real one (issue 15).

One host run, through the CLI as a user starts it, with the zygote launcher: the host
imports none of the heavy modules only other commands or plugins use (they load on first
use, elsewhere), and its zygote was forked before the host imported its own side
(``host.app`` and below), so no worker carries those modules either: pages the host
writes would otherwise be kept, stale, by the zygote and every worker. The zygote also
serves as the undertaker, which ignores SIGHUP; the workers it forks must not.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from host.ipc import control
from host.ipc.control_client import ControlFailed, HostNotRunning, request
from tests.conftest import TEST_PLUGINS, eventually, worker_user

REPO = Path(__file__).resolve().parent.parent

#: Modules no ``ledhost run`` needs until something asks for them (a store command, the
#: web process, the MQTT bridge, an author tool, a plugin's own schema in its worker).
HEAVY = (
    "jsonschema",
    "tarfile",
    "http.client",
    "urllib.request",
    "ssl",
    "requests",
    "urllib3",
    "paho",
    "tomlkit",
    "sqlite3",
    "asyncio",
    "multiprocessing",
    "concurrent.futures",
    "host.mqtt",
    "web",
    "host.author.check",
    "host.author.probe",
    "host.author.scaffold",
    "store.apply",
    "store.download",
    "store.wheels",
    # The host's own code for rare requests and helpers a sign may never run (issue 15).
    "host.control.config_ops",
    "host.control.secret_ops",
    "host.control.store_ops",
    "host.control.update_ops",
    "host.supervise.web_child",
    "host.system.webuser",
)
#: The host's own side: imported after the zygote is forked.
HOST_SIDE = ("host.app", "host.control.server", "host.display.presenter", "host.reconfigure")

#: ``ledhost run`` through the CLI's ``main``; at its end, the modules it held.
DRIVER = """
import json, sys
from host.cli.main import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "modules": sorted(sys.modules)}), flush=True)
"""


def test_ledhost_run_keeps_heavy_modules_out_and_its_own_out_of_workers(tmp_path: Path) -> None:
    sock = tmp_path / "control.sock"
    config = tmp_path / "ledhost.toml"
    config.write_text(
        f"[paths]\ndata_dir = {json.dumps(str(tmp_path / 'data'))}\n"
        f"[control]\nsocket = {json.dumps(str(sock))}\n"
        f"[workers]\nuser = {json.dumps(worker_user())}\n"
        "[rotation]\nmodes = ['nosy']\n"
        "[plugins.nosy]\nplugin = 'inspector'\n"
    )
    argv = ["run", "--config", str(config), "--plugin-path", str(TEST_PLUGINS)]
    argv += ["--backend", "headless", "--launcher", "zygote", "--duration", "120", "-q"]
    host = subprocess.Popen(
        [sys.executable, "-c", DRIVER, *argv], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    seen: dict[str, Any] = {}

    def inspected() -> bool:
        try:
            seen.update(request(control.RunAction(instance="nosy", action="inspect"), str(sock)))
        except (HostNotRunning, ControlFailed, OSError):  # not yet: no socket, or no worker
            return False
        return True

    try:
        eventually(inspected, "the inspector's worker to answer")
        host.send_signal(signal.SIGTERM)
        out, _ = host.communicate(timeout=60)
    finally:
        host.kill()
        host.wait()
    report = json.loads(out.strip().splitlines()[-1])
    assert report["status"] == 0
    assert [m for m in HEAVY if m in report["modules"]] == []
    assert all(m in report["modules"] for m in HOST_SIDE)  # the host does import them
    assert [m for m in HOST_SIDE if m in seen["ledhost_modules"]] == []
    assert "host.worker.main" in seen["ledhost_modules"]  # preloaded by the zygote
    assert seen["sighup_default"] is True
