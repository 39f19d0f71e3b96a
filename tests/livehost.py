"""A real host run on a config file that a helper thread edits on disk (live reload).

Shared by the reload tests and the hostile-plugin tests that reload: the host loop must
own the main thread (it installs signal handlers), so the scenario runs beside
``host.run()`` and stops the host when done.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from config import load_config
from host.app import Host, RunOptions
from host.supervise.states import WorkerState
from tests.conftest import TEST_PLUGINS, RecordingBackend, worker_user

#: Longest one wait may take; a test run is capped at a few of these.
WAIT = 20.0


def replace_file(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``path`` as an editor saves it: a temp file in the same folder, renamed over."""
    fd, tmp = tempfile.mkstemp(prefix=".ledhost.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


@dataclass
class LiveHost:
    """A host running on a config file, and what a test does to it meanwhile."""

    host: Host
    backend: RecordingBackend
    path: Path
    tables: dict[str, Any]
    finished: threading.Event = field(default_factory=threading.Event)

    # -- the file ---------------------------------------------------------------------

    def save(self, text: str | None = None) -> None:
        """Write :attr:`tables` (or ``text``) as an editor saves: a temp file, renamed over."""
        replace_file(self.path, tomlkit.dumps(self.tables) if text is None else text)

    def edit(self, change: Callable[[dict[str, Any]], None]) -> None:
        change(self.tables)
        self.save()

    # -- what the host does -------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        end = time.monotonic() + WAIT
        while not predicate():
            if self.finished.is_set():
                raise AssertionError(f"the host stopped before {what}")
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what}; status: {self.status()}")
            time.sleep(0.05)

    def status(self) -> dict[str, Any]:
        watcher = self.host.reconfigurer.watcher
        assert watcher is not None
        return watcher.status()

    def wait_reloads(self, count: int) -> None:
        self.wait_for(lambda: self.status()["reloads"] >= count, f"{count} reload(s)")

    def wait_refused(self, after: float) -> str:
        """Wait until an edit is refused later than ``after`` (wall time); its error."""
        self.wait_for(
            lambda: (self.status()["last_error_at"] or 0.0) > after, "the edit to be refused"
        )
        error: str = self.status()["last_error"]
        return error

    def handles(self) -> dict[str, Any]:
        return dict(self.host.supervisor.handles)

    def pids(self) -> dict[str, int | None]:
        return {iid: h.pid for iid, h in self.handles().items()}

    def running(self, *instances: str) -> bool:
        handles = self.handles()
        return all(
            iid in handles and handles[iid].state is WorkerState.RUNNING for iid in instances
        )

    def last_pixel(self) -> tuple[int, ...] | None:
        pushes = self.backend.pushes
        return tuple(int(c) for c in pushes[-1][0][0, 0]) if pushes else None

    def wait_pixel(self, pixel: tuple[int, ...], what: str) -> None:
        self.wait_for(lambda: self.last_pixel() == pixel, what)

    def calls(self, instance: str, hook: str) -> list[dict[str, Any]]:
        path = self.host.cfg.paths.data_dir / "plugins" / instance / "calls.jsonl"
        if not path.exists():
            return []
        lines = path.read_text().split("\n")[:-1]
        return [r for r in map(json.loads, lines) if r["hook"] == hook]


def run_live(
    tmp_path: Path, tables: dict[str, Any], scenario: Callable[[LiveHost], None]
) -> LiveHost:
    """Run a host on ``tables`` (saved as its config file) while ``scenario`` edits it."""
    tables = {
        "paths": {"data_dir": str(tmp_path / "data")},
        **tables,
        "workers": {"user": worker_user(), **tables.get("workers", {})},
    }
    path = tmp_path / "ledhost.toml"
    path.write_text(tomlkit.dumps(tables))
    cfg = load_config(path, env={})
    backend = RecordingBackend(cfg.display.width, cfg.display.height)
    options = RunOptions(
        duration=4 * WAIT,  # a cap only: the scenario stops the host when it is done
        stats_json=tmp_path / "stats.json",
        environment_plugins=False,
        plugin_paths=(str(TEST_PLUGINS),),
        launcher="spawn",
        config_env={},
    )
    live = LiveHost(Host(cfg, options, backend=backend), backend, path, tables)
    errors: list[BaseException] = []

    def steps() -> None:
        try:
            scenario(live)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)
        finally:
            live.host._stop = True

    helper = threading.Thread(target=steps, daemon=True)
    helper.start()
    try:
        assert live.host.run() == 0
    finally:
        live.finished.set()
        helper.join(WAIT)
    if errors:
        raise errors[0]
    return live


def stats(tmp_path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "stats.json").read_text())
    return data
