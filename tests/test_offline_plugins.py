"""The network builtins in the real host while the network misbehaves: no crash loop.

Each network builtin runs in a real worker against a server on 127.0.0.1 that hangs,
answers HTTP 500, or answers malformed JSON, next to a clock. What a user should see: the
clock keeps the panel, the network modes are skipped (no content yet), and no worker is
killed, restarted or quarantined: a failing fetch is the plugin's ordinary business.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from config import load_config
from host.app import Host, RunOptions
from tests.conftest import RecordingBackend
from tests.httpserver import RecordedServer, Route

pytestmark = pytest.mark.slow

RUN_SECONDS = 8.0
FAILURES = {"hang": Route(hang=True), "error": Route(status=500), "garbage": Route(b"{oops")}
NETWORK = ("weather", "crypto", "scoreboard")


def _config(server: RecordedServer, data_dir: Path) -> dict[str, Any]:
    plugins: dict[str, Any] = {"clock": {"show_seconds": True}}
    for plugin in NETWORK:
        for failure in FAILURES:
            plugins[f"{plugin}_{failure}"] = {
                "plugin": plugin,
                "base_url": f"{server.url}/{failure}",
                "timeout": 0.5,
                "refresh_interval": 10,
            }
    rotation = [{"mode": "clock", "duration": 1.0}]
    rotation += [{"mode": iid, "duration": 1.0} for iid in plugins if iid != "clock"]
    return {
        "display": {"fps": 30},
        # Far above one failing fetch (3 attempts of 0.5 s plus up to 2.25 s of backoff,
        # and the lazy import of requests on a loaded machine): this test is about the
        # plugins' own timeouts, which the caplog check below sees fire, not the host's.
        "workers": {"user": "", "refresh_timeout": 30.0, "restart_delay": 0.25},
        "rotation": {"modes": rotation},
        "paths": {"data_dir": str(data_dir)},
        "plugins": plugins,
    }


def test_network_builtins_failing_fetches_never_restart_a_worker(
    tmp_path: Path, http_server: RecordedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Verify hang, HTTP 500 and malformed JSON are no content, never a failure or restart."""
    for failure, route in FAILURES.items():
        http_server.routes[f"/{failure}/"] = route
    cfg = load_config(None, env={}, overrides=_config(http_server, tmp_path / "data"))
    backend = RecordingBackend(cfg.display.width, cfg.display.height)
    stats_path = tmp_path / "stats.json"
    host = Host(
        cfg,
        RunOptions(duration=RUN_SECONDS, stats_json=stats_path, environment_plugins=False),
        backend=backend,
    )
    assert host.run() == 0
    stats = json.loads(stats_path.read_text())
    plugins = stats["plugins"]
    summary = {iid: (p["state"], p["restarts"], p["last_failure"]) for iid, p in plugins.items()}
    print(json.dumps(summary, indent=1))

    for plugin in NETWORK:
        for failure in FAILURES:
            iid = f"{plugin}_{failure}"
            entry = plugins[iid]
            assert entry["restarts"] == 0, (iid, entry)
            assert entry["last_failure"] is None, (iid, entry)
            assert entry["failures"] == 0, (iid, entry)
            # Not even an error: a failed fetch is a warning in the plugin's log.
            assert entry["last_error"] is None, (iid, entry)
            assert entry["state"] != "quarantined", (iid, entry)
            # Every server was asked: the plugins did try.
            assert http_server.requests_to_prefix(f"/{failure}/"), failure
    # The hanging server was given up on by the plugin's own per-attempt timeout, inside
    # the run, rather than left to the host's refresh_timeout.
    for plugin in NETWORK:
        logged = [
            r.getMessage() for r in caplog.records if r.name == f"ledhost.plugin.{plugin}_hang"
        ]
        assert any("timed out after 0.5 s" in m for m in logged), (plugin, logged)
    shown = {s["mode"].partition(":")[0] for s in stats["modes_shown"]}
    assert shown == {"clock"}, shown
    assert backend.pushes, "the panel got no frame"
