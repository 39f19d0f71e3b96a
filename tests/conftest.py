"""Shared fixtures: an isolated environment per test, test plugins, a worker harness."""

from __future__ import annotations

import os
import selectors
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from host.discovery import PluginSpec, discover
from host.ipc.framebus import Frame, Geometry
from host.ipc.strip import StripImage
from host.supervise.handle import WorkerHandle
from host.supervise.rules import WorkerRules
from host.supervise.spawner import SpawnLauncher, ZygoteLauncher
from host.supervise.states import WorkerState
from host.supervise.supervisor import Supervisor

#: Distributions of one-behaviour test plugins, found through entry points.
TEST_PLUGINS = Path(__file__).parent / "plugins" / "site"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point data dirs at a tmpdir and drop every LEDHOST_ variable (flask's env reset).

    The home lives outside ``tmp_path`` so tests that check what a folder holds see only
    their own files.
    """
    for name in list(os.environ):
        # Except the switch that makes golden-image tests write their images.
        if name.startswith("LEDHOST_") and name != "LEDHOST_UPDATE_GOLDEN":
            monkeypatch.delenv(name)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    return home


@pytest.fixture(scope="session")
def test_specs() -> dict[str, PluginSpec]:
    """Builtins plus the test plugins; never what else is pip-installed here."""
    return discover([str(TEST_PLUGINS)], environment=False)


@dataclass
class Harness:
    """Drives real workers through the real supervisor, with a small loop of its own."""

    supervisor: Supervisor
    selector: selectors.BaseSelector
    frames: list[tuple[str, np.ndarray, int]] = field(default_factory=list)
    strips: list[tuple[str, StripImage]] = field(default_factory=list)
    interrupts: list[tuple[str, str, int, float | None]] = field(default_factory=list)
    dwells: list[tuple[str, str, float]] = field(default_factory=list)
    hellos: list[str] = field(default_factory=list)

    # Listener -------------------------------------------------------------------------
    def on_hello(self, handle: WorkerHandle) -> None:
        self.hellos.append(handle.instance_id)

    def on_state(self, handle: WorkerHandle) -> None: ...

    def on_content(self, handle: WorkerHandle) -> None: ...

    def on_frame(self, handle: WorkerHandle, frame: Frame) -> None:
        self.frames.append((handle.instance_id, frame.pixels.copy(), frame.token))

    def on_strip(self, handle: WorkerHandle, strip: StripImage) -> None:
        self.strips.append((handle.instance_id, strip))

    def on_interrupt(
        self, handle: WorkerHandle, mode: str, priority: int, seconds: float | None
    ) -> None:
        self.interrupts.append((handle.instance_id, mode, priority, seconds))

    def on_dwell(self, handle: WorkerHandle, mode: str, seconds: float) -> None:
        self.dwells.append((handle.instance_id, mode, seconds))

    # Driving --------------------------------------------------------------------------
    def start(
        self, spec: PluginSpec, options: dict[str, Any] | None = None, instance: str | None = None
    ) -> WorkerHandle:
        handle = WorkerHandle(
            instance_id=instance or spec.plugin_id, spec=spec, options=options or {}
        )
        self.supervisor.add(handle)
        self.supervisor.start(handle, time.monotonic())
        return handle

    def pump(self, seconds: float = 0.05) -> None:
        end = time.monotonic() + seconds
        while True:
            remaining = end - time.monotonic()
            self.supervisor.run_once(min(remaining, 0.05))
            if remaining <= 0:
                return

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition"
    ) -> None:
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                states = {
                    i: (h.state.value, h.last_error, h.last_exit)
                    for i, h in self.supervisor.handles.items()
                }
                raise AssertionError(f"timed out waiting for {what}; workers: {states}")
            self.pump(0.02)

    def wait_running(self, handle: WorkerHandle, timeout: float = 20.0) -> None:
        self.wait_for(
            lambda: handle.state is WorkerState.RUNNING, timeout, f"{handle.instance_id} to run"
        )


@pytest.fixture(params=["zygote", "spawn"])
def launcher_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    """A supervisor on a 64x32 display with spawned workers."""
    yield from _harness(tmp_path, SpawnLauncher())


def _harness(tmp_path: Path, launcher: SpawnLauncher | ZygoteLauncher) -> Iterator[Harness]:
    selector = selectors.DefaultSelector()
    harness = Harness(supervisor=None, selector=selector)  # type: ignore[arg-type]
    harness.supervisor = Supervisor(
        launcher=launcher,
        geometry=Geometry(64, 32),
        selector=selector,
        listener=harness,
        data_dir=tmp_path / "plugin-data",
        rules=WorkerRules(heartbeat_timeout=2.0),
    )
    try:
        yield harness
    finally:
        harness.supervisor.stop_all(graceful_timeout=3.0)
        selector.close()


@pytest.fixture
def http_server() -> Iterator[Any]:
    """A :class:`tests.httpserver.RecordedServer` on 127.0.0.1, closed after the test."""
    from tests.httpserver import RecordedServer

    server = RecordedServer()
    try:
        yield server
    finally:
        server.close()
