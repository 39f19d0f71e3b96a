"""Installs for real: wheels served from 127.0.0.1, environments built by the installer,
workers started by ``ledhost run`` from those environments.

Slow (each install runs pip): marked ``slow``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from host.cli.store_commands import worker_verify
from host.discovery import discover
from host.planning import plan_instances
from store import operations, tombstones
from store.envs import WORKER_CORE
from store.inventory import installed
from store.layout import StorePaths
from store.registry import load_catalog
from store.settings import StoreSettings
from store.sources import Source, parse_source
from tests.cli_run import Status, run_until, running, showing
from tests.conftest import eventually, ledhost
from tests.store_helpers import WheelServer, lib_wheel, plugin_wheel, registry_index

# Each test runs pip several times: 90-120 s seen on a loaded 2-core box, so the bound on a
# hung test is above the default 120 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Store:
    """A data folder other users can read, a registry, and the ``ledhost`` environment."""

    root: Path
    server: WheelServer
    wheels: Path
    deps: Path
    modes_shown: list[str] | None = None

    @property
    def paths(self) -> StorePaths:
        return StorePaths.for_data_dir(self.root / "data")

    @property
    def settings(self) -> StoreSettings:
        return StoreSettings(
            registries=(self.server.index_url,), index_url="", find_links=(str(self.deps),)
        )

    @property
    def env(self) -> dict[str, str]:
        return {
            "LEDHOST_PATHS__DATA_DIR": str(self.root / "data"),
            "LEDHOST_STORE__REGISTRIES": json.dumps([self.server.index_url]),
            "LEDHOST_STORE__INDEX_URL": '""',
            "LEDHOST_STORE__FIND_LINKS": json.dumps([str(self.deps)]),
            "LEDHOST_CONTROL__SOCKET": str(self.root / "control.sock"),
        }

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        result = ledhost(*args, env=self.env, timeout=timeout)
        assert result.returncode == 0, f"ledhost {' '.join(args)}: {result.stderr}"
        return result

    def run(self, plugins: str, until: Callable[[Status], object] | None = None) -> dict[str, Any]:
        """``ledhost run --plugins plugins`` until ``until`` (default: each of them drew
        two frames, so one reached the panel); the stats' ``plugins``."""
        stats = self.root / "stats.json"
        instances = plugins.split(",")
        result = run_until(
            "--plugins", plugins, "--backend", "headless", "--stats-json", str(stats), "-q",
            until=until or showing(*instances), env=self.env, bound=180,
        )  # fmt: skip
        assert result.returncode == 0, f"ledhost run --plugins {plugins}: {result.stderr}"
        data = json.loads(stats.read_text())
        self.modes_shown = [m["mode"] for m in data["modes_shown"]]
        return dict(data["plugins"])


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    # Not tmp_path: its parents are 0700, and a worker that dropped root must read the envs.
    root = Path(tempfile.mkdtemp(prefix="ledhost-store-", dir="/tmp"))
    root.chmod(0o755)
    wheels, deps = root / "wheels", root / "deps"
    deps.mkdir()
    server = WheelServer(wheels)
    store = Store(root, server, wheels, deps)
    for key, value in store.env.items():
        monkeypatch.setenv(key, value)
    try:
        yield store
    finally:
        server.close()
        shutil.rmtree(root, ignore_errors=True)


def test_install_run_update_rollback_uninstall(store: Store) -> None:
    v1 = plugin_wheel(store.wheels, "demo", "1.0.0", colour=(0, 90, 0))
    v2 = plugin_wheel(store.wheels, "demo", "2.0.0", colour=(90, 0, 0))
    store.server.index = registry_index(store.server.url, {"demo": [v1, v2]})

    store.cli("install", "demo", "--version", "1.0.0")
    shown = store.run("demo")["demo"]
    assert shown["frames"] > 0 and shown["modes"] == ["v1"], shown

    updated = json.loads(store.cli("update", "--all", "--json").stdout)
    assert [(r["id"], r["version"]) for r in updated] == [("demo", "2.0.0")]
    listed = json.loads(store.cli("store", "list", "--json").stdout)
    assert [(r["id"], r["version"], r["previous"]) for r in listed] == [("demo", "2.0.0", "1.0.0")]
    shown = store.run("demo")["demo"]
    assert shown["frames"] > 0 and shown["modes"] == ["v2"], shown

    store.cli("rollback", "demo")
    shown = store.run("demo")["demo"]
    assert shown["frames"] > 0 and shown["modes"] == ["v1"], shown

    env_dir = store.paths.plugin_dir("demo")
    store.cli("uninstall", "demo")
    assert not env_dir.exists()
    assert tombstones.read(store.paths)["demo"].version == "1.0.0"
    plugins = json.loads(store.cli("plugins", "--json").stdout)
    assert "demo" not in {p["id"] for p in plugins}
    # The reconciler (explicit=False) never brings it back; the user can.
    with pytest.raises(operations.StoreError, match="uninstalled by the user"):
        operations.install(
            store.paths, store.settings, Source("registry", "demo"), verify=None, explicit=False
        )
    store.cli("install", "demo")
    assert "demo" not in tombstones.read(store.paths)
    assert store.server.requests["/index.json"] >= 1


def test_dependencies_stay_in_each_plugins_environment(store: Store) -> None:
    """A plugin pinning a package ledhost has at another version, and two plugins pinning
    conflicting versions of one library: all install, all run, the host is untouched."""
    host_tomlkit = importlib.metadata.version("tomlkit")
    lib_wheel(store.deps, "tomlkit", "0.0.1")  # a fake: only an old version number
    lib_wheel(store.deps, "fakelib", "1.0.0")
    lib_wheel(store.deps, "fakelib", "2.0.0")
    wheels = {
        "pinned": plugin_wheel(
            store.wheels, "pinned", requires=["tomlkit==0.0.1"], needs={"tomlkit": "0.0.1"}
        ),
        "alpha": plugin_wheel(
            store.wheels, "alpha", requires=["fakelib==1.0.0"], needs={"fakelib": "1.0.0"}
        ),
        "beta": plugin_wheel(
            store.wheels, "beta", requires=["fakelib==2.0.0"], needs={"fakelib": "2.0.0"}
        ),
    }
    for wheel in wheels.values():
        operations.install(
            store.paths, store.settings, parse_source(str(wheel)), verify=worker_verify
        )
    entries = installed(store.paths)
    assert entries["pinned"].shadows == ("tomlkit",)
    assert (entries["pinned"].site / "tomlkit" / "__init__.py").exists()
    assert entries["alpha"].shadows == entries["beta"].shadows == ()
    # ledhost's own environment still has its tomlkit, and nothing else was added to it.
    assert importlib.metadata.version("tomlkit") == host_tomlkit
    assert not any(d.metadata["Name"] == "fakelib" for d in importlib.metadata.distributions())

    specs = discover(store=store.paths.root)
    assert specs["pinned"].python == entries["pinned"].python  # spawned with its env's python
    assert specs["alpha"].python == sys.executable  # nothing shadowed: forked from the zygote

    # All at once: every worker starts and stays healthy beside the others...
    together = store.run(
        "pinned,alpha,beta,clock", until=running("pinned", "alpha", "beta", "clock")
    )
    for plugin_id, row in together.items():
        assert (row["failures"], row["last_error"]) == (0, None), (plugin_id, row)
        assert row["last_exit"] == "exited cleanly", (plugin_id, row)
    # ...and each, on screen, shows its frames (setup checked its library's version).
    for plugin_id in ("pinned", "alpha", "beta"):
        shown = store.run(plugin_id)[plugin_id]
        assert shown["frames"] > 0 and shown["last_error"] is None, (plugin_id, shown)


def test_a_plugin_pinning_what_the_worker_runs_on_is_refused(store: Store) -> None:
    """Like the wheel pinning an old Pillow (issue 16): through the store it is refused,
    naming the package, and nothing changes."""
    lib_wheel(store.deps, "msgspec", "0.0.1")
    wheel = plugin_wheel(store.wheels, "oldwire", requires=["msgspec==0.0.1"])
    host_msgspec = importlib.metadata.version("msgspec")
    with pytest.raises(operations.StoreError, match="its own version of msgspec"):
        operations.install(store.paths, store.settings, parse_source(str(wheel)), verify=None)
    assert installed(store.paths) == {}
    assert not store.paths.plugin_dir("oldwire").exists() or not any(
        store.paths.plugin_dir("oldwire").iterdir()
    )
    assert importlib.metadata.version("msgspec") == host_msgspec


def test_the_worker_core_is_what_a_worker_imports() -> None:
    code = (
        "import sys, host.worker.main, sdk, importlib.metadata as md; "
        "tops = {n.split('.')[0] for n in sys.modules}; "
        "print(*sorted(t for t in tops if t not in sys.stdlib_module_names))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout.split()
    ours = {"host", "sdk", "config", "store", "_distutils_hack"}
    third_party = {t for t in out if t not in ours and not t.startswith("_")}
    assert third_party <= WORKER_CORE, third_party - WORKER_CORE


KILLER = """
import os, signal, sys
sys.path[:0] = {repo!r}
from store import operations
from store.layout import StorePaths
from store.settings import StoreSettings
from store.sources import parse_source

def progress(event):
    if event.stage == {stage!r}:
        os.kill(os.getpid(), getattr(signal, {signame!r}))
    if event.stage + "+" == {stage!r}:  # during the stage: pip is running
        import threading
        threading.Timer(0.8, os.kill, (os.getpid(), signal.SIGKILL)).start()

operations.install(
    StorePaths({root!r}), StoreSettings(registries=(), index_url=""),
    parse_source({wheel!r}), verify=lambda entry: None, progress=progress,
)
"""


@pytest.mark.parametrize(
    "stages", [("download", "env", "install"), ("install+", "verify", "switch")]
)
def test_a_killed_installer_leaves_the_old_version_and_the_next_install_converges(
    store: Store, stages: tuple[str, ...]
) -> None:
    v1 = plugin_wheel(store.wheels, "demo", "1.0.0")
    v2 = plugin_wheel(store.wheels, "demo", "2.0.0")
    operations.install(store.paths, store.settings, parse_source(str(v1)), verify=None)
    for stage in stages:
        script = KILLER.format(
            repo=[str(REPO)],
            stage=stage,
            root=str(store.paths.root),
            wheel=str(v2),
            signame="SIGKILL",
        )
        killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
        assert killed.returncode == -signal.SIGKILL, (stage, killed.stderr)
        entry = installed(store.paths)["demo"]
        assert entry.version == "1.0.0", stage
        check = subprocess.run(
            [entry.python, "-c", "import ledhost_store_demo, sdk"], capture_output=True
        )
        assert check.returncode == 0, (stage, check.stderr)
    new = operations.install(store.paths, store.settings, parse_source(str(v2)), verify=None)
    assert (new.version, new.previous) == ("2.0.0", "1.0.0")
    left = sorted(p.name for p in store.paths.plugin_dir("demo").iterdir())
    assert left == ["1.0.0", "2.0.0", "current", "previous"]
    assert not [p for p in store.paths.envs.iterdir() if p.name.startswith(".")]
    assert not list(store.paths.downloads.iterdir())


def test_a_blocked_installed_version_is_not_started(store: Store) -> None:
    v1 = plugin_wheel(store.wheels, "demo", "1.0.0")
    store.server.index = registry_index(store.server.url, {"demo": [v1]})
    operations.install(store.paths, store.settings, Source("registry", "demo"), verify=None)
    store.server.index = registry_index(
        store.server.url,
        {"demo": [v1]},
        blocked=[{"id": "demo", "versions": "<2", "reason": "mines coins"}],
    )
    load_catalog(store.paths, store.settings, refresh=True)
    spec = discover(store=store.paths.root)["demo"]
    assert spec.blocked == "mines coins"
    from config import load_config

    runnable, missing = plan_instances(load_config(None), {"demo": spec}, ("demo",))
    assert not runnable and "blocked by the registry: mines coins" in missing[0][2]
    rows = json.loads(store.cli("plugins", "--json").stdout)
    assert next(r for r in rows if r["id"] == "demo")["error"].endswith("mines coins")


def test_a_running_host_follows_update_rollback_and_uninstall(store: Store) -> None:
    v1 = plugin_wheel(store.wheels, "demo", "1.0.0")
    v2 = plugin_wheel(store.wheels, "demo", "2.0.0")
    operations.install(store.paths, store.settings, parse_source(str(v1)), verify=None)
    host = subprocess.Popen(
        [sys.executable, "-m", "host", "run", "--plugins", "demo", "--backend", "headless"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **store.env},
    )
    lines: queue.Queue[str] = queue.Queue()
    assert host.stderr is not None
    stream = host.stderr
    threading.Thread(target=lambda: [lines.put(x) for x in stream], daemon=True).start()

    seen: list[str] = []

    def wait_line(needle: str) -> None:
        """Wait for a line with ``needle`` after the lines seen so far."""
        start = len(seen)

        def found() -> bool:
            while not lines.empty():
                seen.append(lines.get())
            return any(needle in line for line in seen[start:])

        eventually(found, f"a log line with {needle!r} in {seen[-5:]}", timeout=60)

    try:
        wait_line("showing demo:v1")
        operations.install(store.paths, store.settings, parse_source(str(v2)), verify=None)
        wait_line("plugin 'demo' updated 1.0.0 -> 2.0.0")
        wait_line("showing demo:v2")
        operations.rollback(store.paths, "demo")
        wait_line("plugin 'demo' updated 2.0.0 -> 1.0.0")
        operations.uninstall(store.paths, "demo")
        wait_line("plugin 'demo' was uninstalled: stopping its workers")
        host.send_signal(signal.SIGTERM)
        host.wait(timeout=60)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()


def test_pypi_sources_take_wheels_through_pip(store: Store) -> None:
    """``pypi:NAME``: pip finds the wheel (here offline, in ``find_links``), never an sdist."""
    plugin_wheel(store.deps, "fromindex", "1.5.0")
    (store.deps / "ledhost-sdistonly-1.0.tar.gz").write_bytes(b"not built, ever")
    entry = operations.install(
        store.paths, store.settings, parse_source("pypi:ledhost-fromindex"), verify=None
    )
    assert (entry.plugin_id, entry.version, entry.source.kind) == ("fromindex", "1.5.0", "pypi")
    with pytest.raises(operations.StoreError, match="no wheel for ledhost-sdistonly"):
        operations.install(
            store.paths, store.settings, parse_source("pypi:ledhost-sdistonly"), verify=None
        )


def test_a_dependency_bringing_startup_code_is_refused(store: Store) -> None:
    from tests.store_helpers import build_wheel

    build_wheel(store.deps, "sneaky", "1.0.0", {"sneaky.pth": "import os\n", "sneaky.py": ""})
    wheel = plugin_wheel(store.wheels, "usessneaky", requires=["sneaky==1.0.0"])
    with pytest.raises(operations.StoreError, match=r"sneaky\.pth"):
        operations.install(store.paths, store.settings, parse_source(str(wheel)), verify=None)
    assert installed(store.paths) == {}


def test_cleanup_waits_for_a_running_installer_and_then_removes_what_it_left(
    store: Store,
) -> None:
    v1 = plugin_wheel(store.wheels, "demo", "1.0.0")
    # The installer stops itself (SIGSTOP) with its env half built, holding the lock.
    script = KILLER.format(
        repo=[str(REPO)],
        stage="install",
        root=str(store.paths.root),
        wheel=str(v1),
        signame="SIGSTOP",
    )
    installer = subprocess.Popen([sys.executable, "-c", script])
    half = store.paths.env_dir("demo", "1.0.0")

    def stopped() -> bool:
        with open(f"/proc/{installer.pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "T"

    try:
        eventually(stopped, "the installer to stop itself while holding the lock")
        assert half.is_dir()
        done = threading.Event()
        removed: list[str] = []

        def clean() -> None:
            removed.extend(operations.cleanup(store.paths))
            done.set()

        worker = threading.Thread(target=clean)
        worker.start()
        assert not done.wait(1.0)  # waits for the installer's lock instead of racing it
        assert half.is_dir()
        installer.kill()
        installer.wait()
        assert done.wait(60)
        worker.join()
        assert str(half) in removed and not half.exists()
        assert installed(store.paths) == {}
    finally:
        if installer.poll() is None:
            installer.kill()
            installer.wait()
