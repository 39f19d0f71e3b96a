"""Discovery of store-installed plugins: from the inventory alone, with precedence.

The environments here are laid out by hand (a wheel unpacked into a site-packages folder,
the marker written by :func:`store.envs.write_marker`): what discovery reads, without
running an installer (``test_store_install.py`` does that).
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import pytest

from host.discovery import discover
from store import envs
from store.errors import StoreError
from store.layout import StorePaths
from store.operations import install
from store.settings import StoreSettings
from store.sources import Source, parse_source
from tests.store_helpers import build_wheel, plugin_wheel

TEST_PLUGINS = Path(__file__).parent / "plugins" / "site"


def fake_install(
    paths: StorePaths, plugin_id: str, version: str, wheel: Path, shadows: tuple[str, ...] = ()
) -> Path:
    env = paths.env_dir(plugin_id, version)
    site = envs.site_dir(env)
    site.mkdir(parents=True)
    (env / "bin").mkdir()
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    envs.write_marker(
        env,
        plugin_id=plugin_id,
        version=version,
        distribution=f"ledhost-{plugin_id}",
        source=Source("file", str(wheel)),
        sha256=None,
        shadowed=shadows,
    )
    os.symlink(version, paths.current(plugin_id))
    return site


def test_store_plugins_are_found_with_their_env(tmp_path: Path) -> None:
    paths = StorePaths(tmp_path / "store")
    site = fake_install(paths, "demo", "1.0.0", plugin_wheel(tmp_path / "w", "demo"))
    pinned = fake_install(
        paths, "pinned", "2.0.0", plugin_wheel(tmp_path / "p", "pinned", "2.0.0"), ("tomlkit",)
    )
    specs = discover(environment=False, store=paths.root)
    demo = specs["demo"]
    assert (demo.source, demo.version, demo.paths, demo.location) == (
        "store",
        "1.0.0",
        (str(site),),
        str(site),
    )
    assert demo.python == sys.executable  # nothing shadowed: forked from the zygote
    assert specs["pinned"].python == str(paths.env_dir("pinned", "2.0.0") / "bin" / "python")
    assert str(pinned) in specs["pinned"].paths


def test_a_half_built_env_is_invisible(tmp_path: Path) -> None:
    paths = StorePaths(tmp_path / "store")
    fake_install(paths, "demo", "1.0.0", plugin_wheel(tmp_path / "w", "demo"))
    (paths.env_dir("demo", "1.0.0") / ".ledhost-complete").unlink()
    assert "demo" not in discover(environment=False, store=paths.root)


def test_a_store_plugin_wins_over_a_path_one_and_never_over_a_builtin(tmp_path: Path) -> None:
    paths = StorePaths(tmp_path / "store")
    # "solid" is also a test plugin found through an extra path.
    fake_install(paths, "solid", "9.0.0", plugin_wheel(tmp_path / "s", "solid", "9.0.0"))
    fake_install(paths, "clock", "9.0.0", plugin_wheel(tmp_path / "c", "clock", "9.0.0"))
    specs = discover([str(TEST_PLUGINS)], environment=False, store=paths.root)
    assert (specs["solid"].source, specs["solid"].version) == ("store", "9.0.0")
    assert specs["clock"].source == "builtin"


def test_installing_a_builtin_id_is_refused(tmp_path: Path) -> None:
    wheel = plugin_wheel(tmp_path, "clock")
    with pytest.raises(StoreError, match="builtin"):
        install(
            StorePaths(tmp_path / "store"),
            StoreSettings(registries=(), index_url=""),
            parse_source(str(wheel)),
            verify=None,
        )
    several = build_wheel(
        tmp_path / "two",
        "two",
        "1.0",
        {"two/__init__.py": ""},
        entry_points={"ledhost.plugins": {"one": "two", "other": "two"}},
    )
    with pytest.raises(StoreError, match="one plugin per wheel"):
        install(
            StorePaths(tmp_path / "store"),
            StoreSettings(registries=(), index_url=""),
            parse_source(str(several)),
            verify=None,
        )
