"""Who owns what (``host.system.ownership``): problems are listed, fix makes them go away,
and a planted symlink is reported, never followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from host.system import ownership
from host.system.layout import PiLayout
from store.layout import StorePaths

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")


def accounts() -> ownership.Accounts:
    return ownership.Accounts(users={"ledhost": 4242}, groups={"ledhost": 4242})


def test_a_fresh_root_lists_every_missing_folder(tmp_path: Path) -> None:
    found = ownership.problems(PiLayout(tmp_path), accounts())
    paths = {p.path for p in found}
    layout = PiLayout(tmp_path)
    assert {layout.prefix, layout.etc, layout.config, layout.data_dir} <= paths
    assert all("missing" in p.what for p in found)
    # Optional files (no secrets yet, no guard yet) are not problems.
    assert layout.secrets not in paths


@needs_root
def test_fix_then_no_problems_and_a_second_fix_changes_nothing(tmp_path: Path) -> None:
    layout = PiLayout(tmp_path)
    assert ownership.fix(layout, accounts())
    layout.config.write_text("")
    layout.config.chmod(0o644)
    layout.unit.parent.mkdir(parents=True)
    layout.unit.write_text("")
    found = ownership.problems(layout, accounts())
    assert [str(p.path) for p in found] == [str(layout.config)] * 2, found
    assert {p.fix for p in found} == {
        f"chown root:ledhost {layout.config}",
        f"chmod 0640 {layout.config}",
    }
    ownership.fix(layout, accounts())
    assert ownership.problems(layout, accounts()) == []
    assert ownership.fix(layout, accounts()) == []
    assert layout.etc.stat().st_gid == 4242


@needs_root
def test_a_symlink_is_reported_and_not_followed(tmp_path: Path) -> None:
    layout = PiLayout(tmp_path / "root")
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o700)
    layout.etc.parent.mkdir(parents=True)
    layout.etc.symlink_to(outside)
    ownership.fix(layout, accounts())
    assert (outside.stat().st_mode & 0o777, outside.stat().st_gid) == (0o700, 0)
    (problem,) = [p for p in ownership.problems(layout, accounts()) if p.path == layout.etc]
    assert "symlink" in problem.what


def test_a_plugin_environment_others_may_change_is_a_problem(tmp_path: Path) -> None:
    layout = PiLayout(tmp_path)
    env = StorePaths.for_data_dir(layout.data_dir).root / "clockplus"
    env.mkdir(parents=True)
    env.chmod(0o777)
    found = [p for p in ownership.problems(layout, accounts()) if p.path == env]
    assert any("writable by group or others" in p.what for p in found)
