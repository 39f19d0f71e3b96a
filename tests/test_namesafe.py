"""ledhost's own package names mean ledhost's own files, in every worker and in the host.

A plugin path (or environment) that ships top-level ``config``, ``sdk``, ``host``,
``store``, ``web`` or ``plugins_builtin`` packages is built here for real; the namesakes
raise when imported, so a worker or command that picked one up would say so. Which files
won is read from inside a real worker (the ``namesake`` test plugin) and from real
``ledhost`` commands.
"""

from __future__ import annotations

import contextlib
import json
import time
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from host import namesafe
from host.discovery import PluginSpec
from host.supervise.handle import WorkerHandle
from host.supervise.spawner import SpawnLauncher, ZygoteLauncher
from tests.conftest import REPO, _harness, ledhost, write_dist

#: The folder ledhost's packages are in (the checkout, for an editable install).
ROOT = Path(namesafe.ledhost_root()).resolve()


def namesakes(folder: Path, names: tuple[str, ...] = namesafe.OWN_PACKAGES) -> Path:
    """A distribution ``ledhost-namesakes`` in ``folder`` shipping packages ``names``."""
    files = {
        f"{name}/__init__.py": f"raise ImportError('the namesake {name} was imported')\n"
        for name in names
    }
    write_dist(folder, "ledhost-namesakes", "6.6.6", files=files)
    return folder


def test_own_packages_are_pyprojects_top_level_packages() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert sorted(p.rstrip("*") for p in include) == sorted(namesafe.OWN_PACKAGES)


def test_shadowed_names_what_a_path_would_find_first(tmp_path: Path) -> None:
    folder = namesakes(tmp_path, ("config", "sdk"))
    found = namesafe.shadowed([str(folder), str(ROOT)])
    assert found == {"config": str(folder / "config"), "sdk": str(folder / "sdk")}
    assert namesafe.shadowed([str(ROOT), str(folder)]) == {}


def whoami(tmp_path: Path, launcher: SpawnLauncher | ZygoteLauncher, spec: PluginSpec) -> Any:
    """Start ``namesake`` in a real worker and return what its ``whoami`` action says."""
    with contextlib.contextmanager(_harness)(tmp_path, launcher) as harness:
        handle = WorkerHandle(instance_id="ns", spec=spec, options={})
        harness.supervisor.add(handle)
        harness.supervisor.start(handle, time.monotonic())
        harness.wait_running(handle)
        request = harness.supervisor.request_action(handle, "whoami")
        harness.wait_for(lambda: request in handle.action_results, what="action whoami")
        answer = handle.action_results[request]
    assert answer["ok"], answer
    files = answer["result"]["files"]
    for name in namesafe.OWN_PACKAGES:
        assert files[name] is not None, f"{name}: {files[name]}"
        assert Path(files[name]).resolve().is_relative_to(ROOT), f"{name}: {files[name]}"
    return answer["result"]


@pytest.mark.parametrize("launcher_name", ["zygote", "spawn"])
def test_a_worker_uses_ledhosts_packages_whatever_a_plugin_path_ships(
    tmp_path: Path, test_specs: dict[str, PluginSpec], launcher_name: str
) -> None:
    """Verify that from inside the worker, every one of our names is our file.

    The namesakes' folder is the plugin's *first* path: it still goes after everything
    the worker had, and a plugin that imports ``config`` gets ledhost's.
    """
    hostile = namesakes(tmp_path / "hostile")
    spec = test_specs["namesake"]
    spec = replace(spec, paths=(str(hostile), *spec.paths))
    launcher = ZygoteLauncher() if launcher_name == "zygote" else SpawnLauncher()
    path = whoami(tmp_path, launcher, spec)["path"]
    # Appended, after whatever the worker had: only plugin paths come after it.
    assert path.index(str(hostile)) >= len(path) - len(spec.paths)


def test_a_plugin_environment_that_ships_our_names_still_runs_ours(
    plugin_env: Path, test_specs: dict[str, PluginSpec]
) -> None:
    """A worker spawned with a plugin environment's own interpreter, whose site-packages
    hold the namesakes (found there before the ``.pth`` that names ledhost's folder)."""
    env = plugin_env / "env"
    (site,) = env.glob("lib/python*/site-packages")
    namesakes(site)
    spec = replace(test_specs["namesake"], python=str(env / "bin" / "python"))
    path = whoami(plugin_env, SpawnLauncher(), spec)["path"]
    # ledhost's folder is on the path, but after the environment's own site-packages:
    # the environment's libraries win, ledhost's names stay ledhost's (the finder).
    assert path.index(str(site)) < path.index(str(ROOT))


@pytest.mark.parametrize(
    "command",
    [["plugins", "--json"], ["config", "check"], ["status", "--socket", "{tmp}/no.sock"]],
    ids=["plugins", "config-check", "status"],
)
def test_every_command_names_what_shadows_ledhosts_config_and_still_works(
    tmp_path: Path, command: list[str]
) -> None:
    """A top-level ``config`` first on ``sys.path``: a clear line, not an ImportError.

    (A namesake ``host`` is beyond any help: ``python -m host`` would run that one. The
    self-check still names it when ledhost starts another way, see test_selfcheck.py.)
    """
    hostile = namesakes(tmp_path / "hostile", ("config", "sdk", "store", "web"))
    command = [arg.replace("{tmp}", str(tmp_path)) for arg in command]
    result = ledhost(*command, cwd=tmp_path, env={"PYTHONPATH": str(hostile)}, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    assert "the namesake" not in result.stderr + result.stdout
    for name in ("config", "sdk"):
        line = next(
            (line for line in result.stderr.splitlines() if f"package `{name}`" in line), ""
        )
        assert "ledhost-namesakes 6.6.6" in line and "found before ledhost's own" in line, (
            result.stderr
        )
        assert "-m pip uninstall ledhost-namesakes" in line and "ledhost install" in line
    if command[0] == "plugins":
        assert result.returncode == 0, result.stderr
        assert "clock" in {row["id"] for row in json.loads(result.stdout)}
    elif command[0] == "config":
        assert result.returncode == 1, result.stderr  # not OK: the environment is not
    else:
        assert "not running" in result.stderr or "no ledhost" in result.stderr.lower()


def test_the_finder_never_falls_through_to_a_namesake(tmp_path: Path) -> None:
    """A name of ours missing from ledhost's folder is an error, never the namesake."""
    finder = namesafe.OwnPackagesFinder(str(tmp_path))
    assert finder.find_spec("numpy") is None  # not ours: left to the other finders
    with pytest.raises(ModuleNotFoundError, match="ledhost's own package 'config' is missing"):
        finder.find_spec("config")
    spec = namesafe.OwnPackagesFinder(str(ROOT)).find_spec("config")
    assert spec is not None and spec.origin == str(ROOT / "config" / "__init__.py")
