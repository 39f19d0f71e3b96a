"""The network builtins in the real host while the network misbehaves: no crash loop.

Each network builtin runs in a real worker against a server on 127.0.0.1 that hangs,
answers HTTP 500, or answers malformed JSON, next to a clock. What a user should see: the
clock keeps the panel, the network modes are skipped (no content yet), and no worker is
killed, restarted or quarantined: a failing fetch is the plugin's ordinary business.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RecordingBackend, run_host
from tests.httpserver import RecordedServer, Route

pytestmark = pytest.mark.slow

#: The run lasts this long at least (longer on a loaded box: until the plugins tried).
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


def _logged(caplog: pytest.LogCaptureFixture, plugin: str) -> list[str]:
    """What ``plugin``'s instance facing the hanging server logged."""
    name = f"ledhost.plugin.{plugin}_hang"
    return [r.getMessage() for r in list(caplog.records) if r.name == name]


def _gave_up(caplog: pytest.LogCaptureFixture, plugin: str) -> bool:
    return any("timed out after 0.5 s" in m for m in _logged(caplog, plugin))


def test_network_builtins_failing_fetches_never_restart_a_worker(
    tmp_path: Path, http_server: RecordedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Verify hang, HTTP 500 and malformed JSON are no content, never a failure or restart."""
    for failure, route in FAILURES.items():
        http_server.routes[f"/{failure}/"] = route
    started = time.monotonic()

    def tried_and_gave_up(_host: Any, backend: RecordingBackend) -> bool:
        """The run lasts RUN_SECONDS at least, and on a loaded box until every plugin
        asked its server and each hanging fetch timed out (what the asserts need)."""
        return (
            time.monotonic() - started >= RUN_SECONDS
            and bool(backend.pushes)
            and all(http_server.requests_to_prefix(f"/{f}/") for f in FAILURES)
            and all(_gave_up(caplog, plugin) for plugin in NETWORK)
        )

    _, backend, stats = run_host(
        _config(http_server, tmp_path / "data"), 120.0, tmp_path, until=tried_and_gave_up
    )
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
        assert _gave_up(caplog, plugin), (plugin, _logged(caplog, plugin))
    shown = {s["mode"].partition(":")[0] for s in stats["modes_shown"]}
    assert shown == {"clock"}, shown
    assert backend.pushes, "the panel got no frame"
