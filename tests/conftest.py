"""Shared fixtures and helpers: an isolated environment per test, test plugins, a worker
harness, a recording panel, a host run, the ``ledhost`` command, and :func:`eventually`.

Test modules import shared helpers from here, never from each other, so a test module
can be moved, renamed or run alone without breaking another.
"""

from __future__ import annotations

import functools
import json
import os
import random
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from config import load_config
from host.app import Host, RunOptions
from host.discovery import PluginSpec, discover
from host.ipc.framebus import Frame, Geometry
from host.ipc.strip import StripImage
from host.planning import rules_from_config
from host.supervise.handle import WorkerHandle
from host.supervise.rules import WorkerRules
from host.supervise.spawner import SpawnLauncher, ZygoteLauncher, check_runs_as
from host.supervise.states import WorkerState
from host.supervise.supervisor import Supervisor

if TYPE_CHECKING:
    from tests.mqtt_helpers import Broker

#: Distributions of one-behaviour test plugins, found through entry points.
TEST_PLUGINS = Path(__file__).parent / "plugins" / "site"


def eventually(
    predicate: Callable[[], object],
    what: str,
    timeout: float = 30.0,
    interval: float = 0.02,
) -> None:
    """Poll ``predicate`` until it is true; fail naming ``what`` after ``timeout`` s.

    The only wall-clock bound tests may use: "eventually, within a generous bound". The
    default is far above any figure the benchmarks report, so a loaded machine makes a
    test slower, never red; how fast something happens is the benchmarks' business.
    """
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on, for a server the test starts later.

    Not one from ``bind(("127.0.0.1", 0))``: the kernel hands the same ephemeral range to
    outgoing connections, and the suite makes thousands (pip, urllib, a browser, MQTT
    clients) beside the test that looked, so one may take the port before our server binds
    it. A port picked at random below that range is only ever bound on purpose; binding it
    once here checks nobody has it now.
    """
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 0
    pick = random.SystemRandom()
    for _ in range(100):
        port = pick.randrange(low - 10000, low) if low > 12000 else 0
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise AssertionError("no free port below the ephemeral range on 127.0.0.1")


@functools.cache
def worker_user() -> str:
    """The ``workers.user`` tests run third-party test plugins with.

    As root on a machine whose Python the unprivileged user cannot run (pyenv under
    ``/root``), only ``"root"`` lets test plugins start at all (third-party plugins never
    fall back to root by themselves); elsewhere the default ``"auto"``.
    """
    if os.geteuid() != 0:
        return "auto"
    rules = rules_from_config(load_config(None, env={}).workers)
    if rules.uid is None or check_runs_as(rules.uid, rules.gid or rules.uid) is None:
        return "auto"
    return "root"


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
    if worker_user() != "auto":
        monkeypatch.setenv("LEDHOST_WORKERS__USER", worker_user())
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
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


def _harness(
    tmp_path: Path,
    launcher: SpawnLauncher | ZygoteLauncher,
    *,
    data_dir: Path | None = None,
    rules: WorkerRules | None = None,
) -> Iterator[Harness]:
    """A harness over a real supervisor; stops its workers and closes it afterwards.

    :param data_dir: where the instances' data folders go (default: under ``tmp_path``).
    :param rules: the workers' rules (default: a 2 s heartbeat timeout).
    """
    selector = selectors.DefaultSelector()
    harness = Harness(supervisor=None, selector=selector)  # type: ignore[arg-type]
    harness.supervisor = Supervisor(
        launcher=launcher,
        geometry=Geometry(64, 32),
        selector=selector,
        listener=harness,
        data_dir=data_dir or tmp_path / "plugin-data",
        rules=rules or WorkerRules(heartbeat_timeout=2.0),
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


# -- shared by the end-to-end test modules (plain helpers, not test modules) ---------------


class RecordingBackend:
    """A backend that keeps every pushed frame (the panel cannot run here)."""

    name = "recording"

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.pushes: list[tuple[np.ndarray, float, float]] = []
        self.closed = False

    def push(self, frame: np.ndarray, at: float) -> None:
        self.pushes.append((frame.copy(), at, time.time()))

    def close(self) -> None:
        self.closed = True


def children() -> set[int]:
    """Pids of our live child processes, except multiprocessing's resource tracker."""
    me = os.getpid()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        fields = raw[raw.rindex(b")") + 2 :].split()
        if int(fields[1]) == me and fields[0] != b"Z" and b"resource_tracker" not in cmdline:
            found.add(int(entry))
    return found


def run_host(
    cfg_overrides: dict[str, Any],
    duration: float,
    tmp_path: Path,
    until: Callable[[Host, RecordingBackend], object] | None = None,
    **options: Any,
) -> tuple[Host, RecordingBackend, dict[str, Any]]:
    """Run a real :class:`Host`; return it, its panel and its stats.

    Without ``until`` the run lasts ``duration`` seconds. With it, ``duration`` is only a
    generous bound: the run ends (see :func:`stop_host`) as soon as
    ``until(host, backend)`` is true, so a loaded machine makes the test slower, not red.
    """
    workers = {"user": worker_user(), **cfg_overrides.get("workers", {})}
    cfg = load_config(None, env={}, overrides={**cfg_overrides, "workers": workers})
    backend = RecordingBackend(cfg.display.width, cfg.display.height)
    stats_path = tmp_path / "stats.json"
    host = Host(
        cfg,
        RunOptions(duration=duration, stats_json=stats_path, environment_plugins=False, **options),
        backend=backend,
    )
    done = threading.Event()

    def stop_when_seen() -> None:
        assert until is not None
        end = time.monotonic() + duration
        while not done.is_set() and time.monotonic() < end:
            try:
                seen = until(host, backend)
            except (IndexError, KeyError, StopIteration):  # read while the loop writes
                seen = False
            if seen:
                stop_host(host)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=stop_when_seen, daemon=True) if until else None
    if watcher is not None:
        watcher.start()
    try:
        assert host.run() == 0
    finally:
        done.set()
        if watcher is not None:
            watcher.join()
    return host, backend, json.loads(stats_path.read_text())


def stop_host(host: Host) -> None:
    """Ask a running host's loop to end, as its SIGTERM handler does.

    ``Host`` has no public stop yet; sending SIGTERM to ourselves instead would kill
    pytest if it raced the end of ``run()`` (which restores the default handler).
    """
    host._stop = True


def shown_modes(host: Host) -> list[tuple[str, str]]:
    """(mode, reason) of each switch so far, safe to call while the host runs."""
    return [(s["mode"], s["reason"]) for s in list(host.stats.modes_shown)]


def ledhost(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "host", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=full_env,
    )


# -- a plugin environment other users can run (workers that drop root) ------------------

#: A Python other users can read (Debian's), for workers that drop root.
SYSTEM_PYTHON = Path("/usr/bin/python3.11")
#: ledhost's own site-packages (numpy, Pillow, msgpack, pluggy...) and the repository.
LEDHOST_SITE = Path(np.__file__).resolve().parent.parent
REPO = Path(__file__).resolve().parent.parent


def not_reachable_by_others(path: Path) -> Path | None:
    """The first of ``path`` and its parents other users cannot enter, or ``None``."""
    for folder in (path, *path.parents):
        if not folder.stat().st_mode & 0o001:
            return folder
    return None


@pytest.fixture
def plugin_env() -> Iterator[Path]:
    """A plugin environment other users can run: a world-readable temp folder holding a
    ``--without-pip`` venv of the system Python whose ``.pth`` names ledhost's packages.

    Yields the folder; the environment is ``<folder>/env``. pytest's ``tmp_path`` cannot
    serve: its parents are 0700, so a worker that dropped root could not enter them.
    """
    if os.geteuid() != 0:
        pytest.skip("needs root to switch users")
    if not SYSTEM_PYTHON.exists():
        pytest.skip(f"{SYSTEM_PYTHON} is missing (a Python other users can read)")
    version = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sys; print(*sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if tuple(int(v) for v in version) != sys.version_info[:2]:
        pytest.skip(
            f"{SYSTEM_PYTHON} is {'.'.join(version)}, ledhost's packages need {sys.version}"
        )
    for needed in (LEDHOST_SITE, REPO, TEST_PLUGINS):
        closed = not_reachable_by_others(needed)
        if closed is not None:
            pytest.skip(
                f"other users cannot enter {closed}, so a worker as nobody cannot read {needed}"
            )
    root = Path(tempfile.mkdtemp(prefix="ledhost-env-", dir="/tmp"))
    try:
        root.chmod(0o755)
        env = root / "env"
        made = subprocess.run(
            [str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", str(env)],
            capture_output=True,
            text=True,
            check=False,
        )
        if made.returncode != 0:
            pytest.skip(f"{SYSTEM_PYTHON} -m venv failed: {made.stderr.strip()}")
        (site,) = env.glob("lib/python*/site-packages")
        (site / "ledhost.pth").write_text(f"{LEDHOST_SITE}\n{REPO}\n")
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


# -- distributions written by hand (what pip would leave), for the self-check -----------


def write_dist(
    folder: Path,
    name: str,
    version: str,
    *,
    requires: tuple[str, ...] = (),
    files: dict[str, str] | None = None,
    top_level: bool = True,
) -> Path:
    """Install a distribution into ``folder`` as pip would: its files plus a ``.dist-info``.

    :param requires: its ``Requires-Dist`` lines.
    :param files: ``{relative path: text}`` of what it ships (packages, modules).
    :param top_level: write ``top_level.txt`` (setuptools does; other backends do not, and
        then its ``RECORD`` says what it ships).
    :returns: the ``.dist-info`` folder.
    """
    files = files or {}
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(metadata) + "\n")
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    record = [f"{rel},," for rel in files] + [f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]
    if top_level:
        tops = sorted({rel.split("/")[0].removesuffix(".py") for rel in files})
        (info / "top_level.txt").write_text("".join(f"{t}\n" for t in tops))
    (info / "RECORD").write_text("\n".join(record) + "\n")
    return info


def build_wheel(
    folder: Path,
    name: str,
    version: str,
    *,
    files: dict[str, str],
    requires: tuple[str, ...] = (),
    entry_points: str = "",
) -> Path:
    """Write a real, installable wheel (PEP 427) into ``folder``; returns its path.

    Written with ``zipfile`` rather than built by a backend: a build needs setuptools from
    an index and seconds per wheel, and these wheels hold nothing a backend would add.

    :param files: ``{path inside the wheel: text}`` (packages and modules).
    :param entry_points: the text of ``entry_points.txt`` (empty: none).
    """
    import base64
    import hashlib
    import zipfile

    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Requires-Dist: {r}" for r in requires]
    tops = sorted({rel.split("/")[0].removesuffix(".py") for rel in files})
    contents = {
        **files,
        f"{info}/METADATA": "\n".join(metadata) + "\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: ledhost-tests\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/top_level.txt": "".join(f"{t}\n" for t in tops),
    }
    if entry_points:
        contents[f"{info}/entry_points.txt"] = entry_points
    record = []
    for rel, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{rel},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for rel, text in contents.items():
            wheel.writestr(rel, text)
        wheel.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


# -- a throwaway system root, for the Pi install (tests/test_pi_*.py) ---------------------

#: The kernel command line of a :func:`make_system_root` (one line, as on a Pi).
CMDLINE = "console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootfstype=ext4 quiet\n"


def make_system_root(folder: Path) -> Path:
    """A minimal Debian-like root: accounts files and a Pi boot partition."""
    (folder / "etc").mkdir(parents=True)
    (folder / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (folder / "etc" / "group").write_text("root:x:0:\n")
    for name in ("shadow", "gshadow"):
        (folder / "etc" / name).write_text("root:*::::::::\n" if name == "shadow" else "root:*::\n")
        os.chmod(folder / "etc" / name, 0o600)
    (folder / "boot" / "firmware").mkdir(parents=True)
    (folder / "boot" / "firmware" / "cmdline.txt").write_text(CMDLINE)
    return folder


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A real Mosquitto on 127.0.0.1 with a free port, shared by a module's tests."""
    from tests.mqtt_helpers import MOSQUITTO, Broker

    if MOSQUITTO is None:
        pytest.skip("needs Debian's mosquitto (apt-get install mosquitto)")
    running = Broker(tmp_path_factory.mktemp("mosquitto"))
    running.start()
    try:
        yield running
    finally:
        running.stop()
