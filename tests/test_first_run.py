"""What you ask for is what the panel shows: the first run and the CLI's truthfulness.

Each test runs the real CLI (``python -m host``) with real workers and reads what the
panel showed from ``--stats-json`` (``modes_shown``), never from timings.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

from tests.cli_run import on_screen, run_until, showing
from tests.conftest import REPO, ledhost, worker_user

DEMO = REPO / "docs" / "images"


def _make_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_demo", DEMO / "make_demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shown(stats: Path) -> list[str]:
    return [m["mode"] for m in json.loads(stats.read_text())["modes_shown"]]


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ledhost.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_the_readme_picture_is_what_the_first_command_shows(tmp_path: Path) -> None:
    """The committed demo.gif and demo.json agree, and a fresh run shows the same modes in
    the same order with about as many frames each (the clock's digits differ, so frames
    are compared by count, not by pixels)."""
    make_demo = _make_demo()
    committed = json.loads((DEMO / "demo.json").read_text())["modes"]
    with Image.open(DEMO / "demo.gif") as image:
        assert image.n_frames == sum(m["frames"] for m in committed)
    extra = {} if worker_user() == "auto" else {"LEDHOST_WORKERS__USER": worker_user()}
    gif, stats = make_demo.run_first_command([sys.executable, "-m", "host"], tmp_path, extra)
    fresh = make_demo.summarize(gif, json.loads(stats.read_text()))
    assert (
        [m["mode"] for m in fresh]
        == [m["mode"] for m in committed]
        == [
            "clock:time",
            "text:message",
        ]
    )
    clock_fresh, clock_committed = fresh[0]["frames"], committed[0]["frames"]
    assert abs(clock_fresh - clock_committed) <= 2  # one frame a second, for 4 s
    # The message scrolls at the panel's rate; a loaded machine pushes fewer frames.
    assert fresh[1]["frames"] >= committed[1]["frames"] // 4


def test_unknown_plugins_only_is_an_error_not_a_dark_panel(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    result = ledhost("run", "--duration", "3", "--plugins", "nosuch", "--stats-json", str(stats))
    assert result.returncode == 1
    assert "ledhost: error: nothing to show: nosuch: no plugin named 'nosuch'" in result.stderr
    assert stats.exists()  # the stats still tell what happened


def test_plugins_only_shows_instances_the_rotation_never_names(tmp_path: Path) -> None:
    """The embedded rotation names clock, text and system; a picked instance it does not
    name (a second text instance here) is appended, with a note, and shows."""
    config = _config(
        tmp_path,
        '[rotation]\nmodes = [{ mode = "clock", duration = 1.0 }]\n'
        '[plugins.clock]\n[plugins.news]\nplugin = "text"\nmessage = "news"\n',
    )
    stats = tmp_path / "stats.json"
    result = run_until(
        "--config", str(config), "--plugins", "clock,news",
        "--stats-json", str(stats), "--backend", "headless", until=on_screen("news", "message"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "'news' is in no rotation entry" in result.stderr
    assert "news:message" in _shown(stats)


def test_a_mode_typo_fails_check_and_run_with_a_suggestion(tmp_path: Path) -> None:
    config = _config(tmp_path, '[rotation]\nmodes = ["clock:tme"]\n[plugins.clock]\n')
    check = ledhost("config", "check", str(config))
    assert check.returncode == 1
    assert "rotation.modes[0]: names mode clock:tme" in check.stdout
    assert "(did you mean clock:time?)" in check.stdout
    stats = tmp_path / "stats.json"
    run = ledhost(
        "run", "--config", str(config), "--duration", "20", "--stats-json", str(stats),
        "--backend", "headless",
    )  # fmt: skip
    assert run.returncode == 1
    assert "nothing to show: rotation.modes[0] names mode clock:tme" in run.stderr
    data = json.loads(stats.read_text())
    assert data["error"].startswith("nothing to show")
    assert data["duration_s"] < 20  # it ended at once rather than staying dark


def test_an_instance_nothing_shows_is_a_warning(tmp_path: Path) -> None:
    config = _config(
        tmp_path, '[rotation]\nmodes = ["clock"]\n[plugins.clock]\n[plugins.text]\nmessage="x"\n'
    )
    check = ledhost("config", "check", str(config))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "plugin instance 'text' is enabled but no rotation entry" in check.stderr
    run = ledhost("run", "--config", str(config), "--duration", "1", "--backend", "headless")
    assert run.returncode == 0, run.stderr
    assert "plugin instance 'text' is enabled but no rotation entry" in run.stderr


@pytest.mark.parametrize("broken", ["snapshot", "stats"])
def test_each_output_is_written_on_its_own(tmp_path: Path, broken: str) -> None:
    """A path that is a folder cannot be written, whoever runs the test (root too)."""
    gif, stats = tmp_path / "out.gif", tmp_path / "stats.json"
    (gif if broken == "snapshot" else stats).mkdir()
    result = run_until(
        "--plugins", "clock", "--snapshot", str(gif),
        "--stats-json", str(stats), "--backend", "headless", until=showing("clock"),
    )  # fmt: skip
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if "could not write" in line]
    assert len(lines) == 1 and f"the {broken} file" in lines[0], result.stderr
    if broken == "snapshot":
        assert json.loads(stats.read_text())["frames_shown"] >= 1
    else:
        with Image.open(gif) as image:
            assert image.n_frames >= 1
