"""The start guard, run as the systemd unit runs it: a real ``python3 -I guard.py`` on a
throwaway root, and the host's confirmation of a release on trial (issue 20).

A release on trial that never confirms is rolled back after ``max_starts`` starts, so a
release that cannot even import ledhost is still undone by systemd restarting it; a
confirmed one, or no trial at all, is left alone; a damaged trial file never stops the
service from starting.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from host.system import guard
from host.system.layout import PiLayout
from host.system.started import note_started, read_started, release_prefix

GUARD = Path(guard.__file__)


def install(root: Path, *versions: str, current: str, previous: str | None = None) -> PiLayout:
    """A throwaway install: release folders with a ``bin/ledhost``, links, the guard."""
    layout = PiLayout(root)
    for version in versions:
        (layout.release(version) / "bin").mkdir(parents=True)
        (layout.release(version) / "bin" / "ledhost").write_text("#!/bin/sh\n")
    guard.point_link(layout.current, f"releases/{current}")
    if previous is not None:
        guard.point_link(layout.previous, f"releases/{previous}")
    shutil.copyfile(GUARD, layout.guard)
    return layout


def run_guard(layout: PiLayout) -> subprocess.CompletedProcess[str]:
    """What ``ExecStartPre=/usr/bin/python3 -I <guard>`` runs: the copy, isolated mode."""
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    result = subprocess.run([python, "-I", str(layout.guard)], capture_output=True, text=True,
                            timeout=60, cwd="/")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result


def test_the_guard_imports_nothing_but_the_standard_library() -> None:
    """Verify guard.py imports only stdlib modules: it runs where ledhost is broken."""
    tree = ast.parse(GUARD.read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}  # fmt: skip
    names |= {n.module.split(".")[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom) and n.module}  # fmt: skip
    assert names <= set(sys.stdlib_module_names) | {"__future__"}, names


def test_layout_and_guard_name_the_same_files(tmp_path: Path) -> None:
    """Verify PiLayout's trial and history paths are the guard's."""
    layout = PiLayout(tmp_path)
    assert layout.trial == layout.prefix / guard.TRIAL
    assert layout.update_history == layout.prefix / guard.HISTORY
    assert layout.guard.parent == layout.prefix


def test_without_a_trial_the_guard_changes_nothing(tmp_path: Path) -> None:
    """Verify an ordinary start: no trial, links untouched, a line for the journal."""
    layout = install(tmp_path, "0.1.0", "0.2.0", current="0.2.0", previous="0.1.0")
    result = run_guard(layout)
    assert "no release on trial" in result.stderr
    assert guard.link_target(layout.current) == "0.2.0"
    assert not layout.update_history.exists()


def test_a_release_that_never_confirms_is_rolled_back_after_its_starts(tmp_path: Path) -> None:
    """Verify the guard counts starts, then switches current back to previous and
    records why once a trial release has used up its starts without confirming."""
    layout = install(tmp_path, "0.1.0", "0.2.0", current="0.2.0", previous="0.1.0")
    guard.start_trial(layout.prefix, "0.2.0", "0.1.0", max_starts=2, now=1000.0)
    assert "start 1 of 2" in run_guard(layout).stderr
    assert "start 2 of 2" in run_guard(layout).stderr
    assert guard.link_target(layout.current) == "0.2.0"
    result = run_guard(layout)  # the third start: two did not confirm
    assert "rolled back to 0.1.0" in result.stderr
    assert guard.link_target(layout.current) == "0.1.0"
    assert guard.link_target(layout.previous) == "0.2.0"
    assert not layout.trial.exists()
    [entry] = guard.history(layout.prefix)
    assert entry["action"] == "rollback" and entry["result"] == "rolled_back"
    assert entry["by"] == "guard" and entry["from"] == "0.2.0" and entry["to"] == "0.1.0"
    assert "started 2 times" in entry["reason"]
    assert "no release on trial" in run_guard(layout).stderr  # and it stays back


def test_the_guards_rollback_puts_back_the_config_the_old_release_read(tmp_path: Path) -> None:
    """Verify a release on trial that upgraded the config's format and never confirmed is
    rolled back together with the config: the old release's copy back in place, the
    upgraded file kept beside it, and the record says so."""
    layout = install(tmp_path, "0.1.0", "0.2.0", current="0.2.0", previous="0.1.0")
    layout.etc.mkdir(parents=True)
    layout.config.write_text("[plugins.clock]\n")
    assert guard.keep_config(layout.prefix, "0.1.0", layout.config)
    guard.start_trial(layout.prefix, "0.2.0", "0.1.0", max_starts=1, config=layout.config)
    run_guard(layout)
    layout.config.write_text("config_version = 7  # upgraded\n[plugins.clock]\n")
    result = run_guard(layout)
    assert "rolled back to 0.1.0" in result.stderr
    assert layout.config.read_text() == "[plugins.clock]\n"
    assert "config_version = 7" in layout.config.with_name(layout.config.name + ".v7").read_text()
    [entry] = guard.history(layout.prefix)
    assert "put back the config as 0.1.0" in entry["reason"]


def test_config_format_reads_the_top_level_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("# config_version = 5 in a comment\n[plugins.x]\nv = 1\n")
    assert guard.config_format(path) == 1  # no key: format 1, as the loader reads it
    path.write_text("config_version = 3\n[display]\n")
    assert guard.config_format(path) == 3
    assert guard.config_format(tmp_path / "missing.toml") is None
    assert guard.keep_config(tmp_path, "1.0", tmp_path / "missing.toml") is False


def test_a_confirmed_release_is_left_alone(tmp_path: Path) -> None:
    """Verify the host's first frame (note_started, from the release's own prefix)
    ends the trial, records the start, and the guard then leaves the release be."""
    layout = install(tmp_path, "0.1.0", "0.2.0", current="0.2.0", previous="0.1.0")
    guard.start_trial(layout.prefix, "0.2.0", "0.1.0", max_starts=1, now=1000.0)
    run_guard(layout)
    data = tmp_path / "data"
    # The service runs current/bin/ledhost: its sys.prefix is the link, not the release.
    note_started(data, [], now=2000.0, python_prefix=str(layout.current))
    assert not layout.trial.exists()
    started = read_started(data)
    assert started is not None
    assert started["release"] == "0.2.0" and started["pid"] == os.getpid()
    assert started["first_frame"] == 2000.0 and started["problems"] == []
    assert guard.history(layout.prefix)[-1]["action"] == "confirm"
    for _ in range(3):
        assert "no release on trial" in run_guard(layout).stderr
    assert guard.link_target(layout.current) == "0.2.0"


def test_failed_start_checks_do_not_confirm(tmp_path: Path) -> None:
    """Verify a first frame shown with failed start-up checks leaves the trial on."""
    layout = install(tmp_path, "0.1.0", "0.2.0", current="0.2.0", previous="0.1.0")
    guard.start_trial(layout.prefix, "0.2.0", "0.1.0", now=1000.0)
    note_started(tmp_path / "data", ["numpy 1.0 is too old"], python_prefix=str(layout.current))
    assert layout.trial.exists()
    started = read_started(tmp_path / "data")
    assert started is not None and started["problems"] == ["numpy 1.0 is too old"]


def test_a_host_outside_an_install_confirms_nothing(tmp_path: Path) -> None:
    """Verify a checkout or a plain venv is no release: no prefix, nothing confirmed."""
    assert release_prefix(str(tmp_path / "venv")) is None
    assert note_started(tmp_path / "data", [], python_prefix=str(tmp_path / "venv"))


@pytest.mark.parametrize("text", ["{not json", "[]", '{"version": "0.2.0", "starts": "x"}'])
def test_a_damaged_trial_file_is_dropped_and_the_service_starts(tmp_path: Path, text: str) -> None:
    """Verify a trial file the guard cannot judge is removed, nothing switched, exit 0."""
    layout = install(tmp_path, "0.1.0", "0.2.0", current="0.2.0", previous="0.1.0")
    layout.trial.write_text(text)
    result = run_guard(layout)
    assert "removed" in result.stderr
    assert not layout.trial.exists()
    assert guard.link_target(layout.current) == "0.2.0"


def test_without_a_previous_release_the_trial_release_stays(tmp_path: Path) -> None:
    """Verify the guard never switches to nothing: it records the failure instead."""
    layout = install(tmp_path, "0.2.0", current="0.2.0")
    guard.start_trial(layout.prefix, "0.2.0", "0.1.0", max_starts=1, now=1000.0)
    run_guard(layout)
    assert "no previous release" in run_guard(layout).stderr
    assert guard.link_target(layout.current) == "0.2.0"
    assert guard.history(layout.prefix)[-1]["result"] == "failed"


def test_a_switch_by_hand_ends_the_trial(tmp_path: Path) -> None:
    """Verify that when current no longer names the trial release, the trial ends."""
    layout = install(tmp_path, "0.1.0", "0.2.0", current="0.1.0", previous="0.2.0")
    guard.start_trial(layout.prefix, "0.2.0", "0.1.0", max_starts=1, now=1000.0)
    assert "its trial ended" in run_guard(layout).stderr
    assert not layout.trial.exists() and guard.link_target(layout.current) == "0.1.0"


def test_a_guard_that_fails_still_lets_the_service_start(tmp_path: Path) -> None:
    """Verify an unwritable prefix makes the guard say so and exit 0 (not as root: root
    writes anyway)."""
    if os.geteuid() == 0:
        pytest.skip("root writes into a read-only folder; needs an unprivileged user")
    layout = install(tmp_path, "0.1.0", "0.2.0", current="0.2.0", previous="0.1.0")
    guard.start_trial(layout.prefix, "0.2.0", "0.1.0", now=1000.0)
    layout.prefix.chmod(0o555)
    try:
        assert "starting anyway" in run_guard(layout).stderr
    finally:
        layout.prefix.chmod(0o755)


def test_history_keeps_the_last_entries(tmp_path: Path) -> None:
    """Verify updates.json holds at most KEEP entries, newest last."""
    tmp_path.mkdir(exist_ok=True)
    for n in range(guard.KEEP + 5):
        guard.record(tmp_path, {"action": "update", "result": "ok", "n": n}, now=float(n))
    entries = guard.history(tmp_path)
    assert len(entries) == guard.KEEP and entries[-1]["n"] == guard.KEEP + 4
    assert json.loads((tmp_path / guard.HISTORY).read_text())["entries"] == entries
