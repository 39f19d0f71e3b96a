"""Discovery and the worker agree on which distribution a plugin id comes from.

Two real distributions (``*.dist-info`` folders written here, as pip would install them)
offer the same plugin id. Discovery names one; the worker loads exactly that one, even
where ``sys.path`` order would find the other first.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from host.discovery import discover
from host.supervise.handle import WorkerHandle
from tests.conftest import Harness


def _distribution(folder: Path, name: str, version: str, module: str, colour: int) -> None:
    """One installed distribution offering plugin id ``dup``, drawing ``colour`` grey."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(
        "from sdk import hookimpl\n\n"
        "@hookimpl\n"
        "def register_modes(register):\n"
        "    register('main')\n\n"
        "@hookimpl\n"
        "def render_frame(canvas):\n"
        f"    canvas.clear(({colour}, {colour}, {colour}))\n"
        "    return 1.0\n"
    )
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[ledhost.plugins]\ndup = {module}\n")


def test_discovery_records_where_the_distribution_is(tmp_path: Path) -> None:
    _distribution(tmp_path / "a", "ledhost-dup-a", "1.0", "dup_a", 10)
    spec = discover([str(tmp_path / "a")], environment=False)["dup"]
    assert (spec.distribution, spec.version) == ("ledhost-dup-a", "1.0")
    assert spec.location == str(tmp_path / "a")
    assert spec.to_dict()["location"] == str(tmp_path / "a")


@pytest.mark.parametrize("value", ["dup_b", ""])
def test_the_worker_loads_the_distribution_discovery_chose(
    harness: Harness, tmp_path: Path, value: str
) -> None:
    """Verify the worker follows the spec, not ``sys.path`` order: both folders are on its
    path with ``a`` first, and the spec names ``b`` -- with the entry point's value, which
    the worker loads as it is, or without, when it reads ``b``'s metadata itself."""
    a, b = tmp_path / "a", tmp_path / "b"
    _distribution(a, "ledhost-dup-a", "1.0", "dup_a", 10)
    _distribution(b, "ledhost-dup-b", "2.0", "dup_b", 200)
    first = discover([str(a), str(b)], environment=False)["dup"]
    assert first.distribution == "ledhost-dup-a"  # sys.path order, as pluggy would pick
    chosen = replace(
        first, value=value, distribution="ledhost-dup-b", version="2.0", location=str(b)
    )
    handle = WorkerHandle(instance_id="dup", spec=chosen, options={})
    harness.supervisor.add(handle)
    harness.supervisor.start(handle, time.monotonic())
    harness.wait_running(handle)
    assert handle.loaded_from == {"name": "ledhost-dup-b", "version": "2.0"}
    harness.supervisor.activate(handle, "main")
    harness.wait_for(lambda: harness.frames, what="a frame")
    assert int(harness.frames[-1][1][0, 0, 0]) == 200  # b's module drew it
