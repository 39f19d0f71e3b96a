"""The plugin author's kit: ``ledhost plugin new`` and ``ledhost check``, for real.

The scaffold's project is generated once per module (in a folder other users can read,
for workers that drop root) and used as a user would: its own tests, ruff and a wheel
build run in subprocesses. ``ledhost check`` runs real workers: every builtin must pass,
and each ``check*`` test plugin must fail with the finding it was written for.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from config import load_config
from host.app import checked_rules
from host.author.budget import BUDGETS, PI4_NBODY_US_PER_STEP, nbody, scale_factor
from host.author.check import Report, run_check
from host.author.findings import SizeRun, judge_size
from host.author.scaffold import ScaffoldError, check_plugin_id, new_project
from host.author.target import Target, TargetError, resolve
from host.discovery import PluginSpec, discover
from host.supervise.rules import WorkerRules
from tests.author_helpers import run_project_tests
from tests.conftest import ledhost, worker_user

BUILTINS = sorted(p for p, s in discover(environment=False).items() if s.source == "builtin")
VENV_BIN = Path(sys.executable).parent


def _rules() -> WorkerRules:
    """As the CLI reads them: test plugins run as root where no other user can run this
    Python (``LEDHOST_WORKERS__USER``, set by conftest)."""
    return checked_rules(load_config(None, secrets_path=False))


@pytest.fixture(scope="module")
def project() -> Iterator[Path]:
    """``ledhost plugin new bus-times``, made through the CLI in a world-readable folder."""
    root = Path(tempfile.mkdtemp(prefix="ledhost-akit-", dir="/tmp"))
    root.chmod(0o755)
    try:
        # Module scope runs before conftest's per-test environment: name the worker user
        # here, so `plugin new` can render the golden image in a worker as root too.
        made = ledhost(
            "plugin", "new", "bus-times", "--dir", str(root), "--mode", "next",
            env={"LEDHOST_WORKERS__USER": worker_user()} if worker_user() != "auto" else None,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        yield root / "ledhost-bus-times"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _check(spec: PluginSpec, options: dict[str, Any] | None = None) -> Report:
    return run_check(
        Target(spec, "installed", spec.plugin_id), BUDGETS["pi4"], options=options, rules=_rules()
    )


# -- plugin new ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../x", "not a valid plugin id"),
        ("/etc", "not a valid plugin id"),
        ("Bus", "not a valid plugin id"),
        ("", "not a valid plugin id"),
        ("x" * 65, "not a valid plugin id"),
        ("host", "ledhost itself"),
        ("sdk", "ledhost itself"),
        ("plugins_builtin", "ledhost itself"),
        ("ledhost", "ledhost itself"),
        ("os", "standard library"),
        ("json", "standard library"),
        ("clock", "builtin plugin"),
    ],
)
def test_plugin_new_refuses_hostile_or_shadowing_names(name: str, why: str) -> None:
    with pytest.raises(ScaffoldError, match=why):
        check_plugin_id(name)


def test_plugin_new_refuses_a_bad_mode_and_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="not a valid mode"):
        new_project("ok", tmp_path, mode="Big Mode")
    (tmp_path / "ledhost-ok").mkdir()
    (tmp_path / "ledhost-ok" / "keep.txt").write_text("mine")
    result = ledhost("plugin", "new", "ok", "--dir", str(tmp_path))
    assert result.returncode == 1
    assert "already exists; nothing was changed" in result.stderr
    assert sorted(p.name for p in (tmp_path / "ledhost-ok").iterdir()) == ["keep.txt"]


def test_plugin_new_json_names_what_it_made(tmp_path: Path) -> None:
    result = ledhost("plugin", "new", "ok", "--dir", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    assert made["root"] == str(tmp_path / "ledhost-ok") and made["package"] == "ledhost_ok"
    assert "tests/test_ok.py" in made["files"]


def test_plugin_new_keeps_the_control_operations_parsing() -> None:
    """Verify ``plugin restart ID`` still goes to the control socket (no host: exit 1)."""
    result = ledhost("plugin", "restart", "clock", "--socket", "/nonexistent/ledhost.sock")
    assert result.returncode == 1
    assert "plugin project" not in result.stderr


def test_plugin_new_makes_a_complete_project(project: Path) -> None:
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "ledhost_bus_times/__init__.py",
        "pyproject.toml",
        "tests/golden/next_64x32.png",
        "tests/test_bus_times.py",
    ]
    text = (project / "pyproject.toml").read_text()
    assert 'bus-times = "ledhost_bus_times"' in text
    assert 'dependencies = ["ledhost>=0.1,<1"]' in text
    readme = (project / "README.md").read_text()
    for step in ("python -m pytest", "ledhost dev", "ledhost check", "pip wheel", "publishing"):
        assert step in readme
    assert "$" not in (project / "ledhost_bus_times" / "__init__.py").read_text()


def test_the_generated_project_passes_its_own_tests_and_ruff(project: Path) -> None:
    assert "8 passed" in run_project_tests(project)
    for args in (["check", "."], ["format", "--check", "."]):
        lint = subprocess.run(
            [str(VENV_BIN / "ruff"), *args], cwd=project, capture_output=True, text=True
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_generated_project_passes_ledhost_check(project: Path) -> None:
    result = ledhost("check", str(project), "--json", timeout=120)
    report = json.loads(result.stdout)
    assert result.returncode == 0, report["findings"]
    assert report["plugin"] == "bus-times"
    assert all(run["frames"] == {"next": 4} for run in report["runs"].values())


def test_check_takes_options_and_sizes_from_the_command_line(project: Path, tmp_path: Path) -> None:
    options = tmp_path / "faint.toml"
    options.write_text('[plugins.bus-times]\nmessage = "Hi"\ncolor = "#101010"\n')
    result = ledhost(
        "check", str(project), "--sizes", "64x32", "--config", str(options), "--budget",
        "zero2w", timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "budget zero2w" in lines[0] and lines[0].endswith("sizes 64x32")
    assert lines[1].startswith("64x32 next: low-contrast: text 'Hi' in #101010 on #000000")
    assert lines[-1] == "failed: 1 finding(s)"
    bad = ledhost("check", str(project), "--sizes", "64x")
    assert bad.returncode == 1 and "--sizes: '64x' should look like 64x32" in bad.stderr


# -- check: targets ---------------------------------------------------------------------


def test_check_names_what_it_cannot_load(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="no pyproject.toml"), resolve(str(tmp_path)):
        pass
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(TargetError, match="entry-points"), resolve(str(tmp_path)):
        pass
    with pytest.raises(TargetError, match="no such wheel"), resolve(str(tmp_path / "a.whl")):
        pass
    result = ledhost("check", "no-such-plugin")
    assert result.returncode == 1 and "no plugin 'no-such-plugin' is installed" in result.stderr


# -- check: builtins pass, each bad test plugin fails for its reason -------------------------


#: What the network builtins fetch, recorded (``tests/recorded``), served from 127.0.0.1:
#: the check then judges their frames with data, as a user sees them.
RECORDED = {
    "weather": "open_meteo/berlin_metric_day.json",
    "crypto": "coingecko/markets_usd_sparkline.json",
    "scoreboard": "espn/nfl_day.json",
}


@pytest.mark.parametrize("plugin_id", BUILTINS)
def test_check_passes_every_builtin(plugin_id: str, http_server: Any) -> None:
    specs = discover(environment=False)
    options = None
    if plugin_id in RECORDED:
        http_server.serve_recorded("/", RECORDED[plugin_id])
        options = {"base_url": http_server.url + "/api"}
    report = _check(specs[plugin_id], options)
    assert report.passed, report.lines()
    if plugin_id in RECORDED:
        assert http_server.seen, "the plugin never fetched its data"


@pytest.mark.parametrize(
    ("plugin_id", "what", "sizes"),
    [
        ("checkslow", {"render-time", "cpu-share"}, "all"),
        ("checkhungry", {"memory"}, "all"),
        ("checkoutside", {"outside"}, "all"),
        ("checksizecrash", {"crash"}, {"128x64"}),
        ("checkfaint", {"low-contrast"}, "all"),
        ("checkblank", {"blank"}, "all"),
        ("checktiny", {"small-text"}, "all"),
    ],
)
def test_check_fails_with_the_right_finding(
    test_specs: dict[str, PluginSpec], plugin_id: str, what: set[str], sizes: object
) -> None:
    report = _check(test_specs[plugin_id])
    assert not report.passed
    assert {f.what for f in report.findings} == what, report.lines()
    expected = set(report.sizes) if sizes == "all" else sizes
    assert {f.size for f in report.findings} == expected
    assert report.lines()[-1] == f"failed: {len(report.findings)} finding(s)"


@pytest.mark.parametrize(
    ("plugin_id", "why"),
    [
        ("badschema", "config_schema"),
        ("dupmode", "duplicate mode name"),
        ("importfail", "import"),
    ],
)
def test_check_reports_a_plugin_the_host_would_refuse_at_every_size(
    test_specs: dict[str, PluginSpec], plugin_id: str, why: str
) -> None:
    report = run_check(
        Target(test_specs[plugin_id], "installed", plugin_id),
        BUDGETS["pi4"],
        sizes=[(64, 32)],
        rules=_rules(),
    )
    (finding,) = report.findings
    assert finding.what == "crash" and finding.size == "64x32"
    assert why in finding.detail, finding.detail


def test_check_reports_incomplete_project_metadata(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "ledhost-bare"\nversion = "1.0"\n'
        '[project.entry-points."ledhost.plugins"]\nbare = "ledhost_bare"\n'
    )
    with resolve(str(tmp_path)) as target:
        assert target.spec.plugin_id == "bare"
        assert str(tmp_path) in target.spec.paths
        problems = " ".join(target.problems)
    assert "description is empty" in problems and "no ledhost requirement" in problems


def test_check_report_names_figure_and_budget(test_specs: dict[str, PluginSpec]) -> None:
    report = _check(test_specs["checkoutside"])
    line = next(f.line() for f in report.findings if f.size == "64x32")
    assert line.startswith("64x32 spill: outside: ")
    assert "'overflow' at (54,2)-(85,7)" in line


# -- pure parts -------------------------------------------------------------------------


def test_judge_scales_cpu_time_and_judges_waiting_apart() -> None:
    """Verify CPU seconds are multiplied by the factor, and time off the CPU is not."""
    budget = BUDGETS["pi4"]
    records = [
        {"hook": "render_frame", "mode": "m", "cpu": 0.001, "wall": 0.001, "delay": 1.0},
        {"hook": "render_frame", "mode": "m", "cpu": 0.011, "wall": 0.4, "delay": 1.0},
    ]
    assert judge_size(SizeRun("64x32", records=records), budget, factor=9.0) == []
    found = judge_size(SizeRun("64x32", records=records), budget, factor=10.0)
    assert [(f.what, f.figure) for f in found] == [("render-time", pytest.approx(0.11))]
    records[1]["wall"] = 0.7
    found = judge_size(SizeRun("64x32", records=records), budget, factor=1.0)
    assert [(f.what, f.figure) for f in found] == [("render-wait", pytest.approx(0.689))]


def test_judge_blank_only_when_the_mode_said_it_has_content() -> None:
    black = [np.zeros((32, 64, 3), np.uint8)]
    silent = SizeRun("64x32", frames={"m": black}, content={"m": False})
    assert judge_size(silent, BUDGETS["pi4"], 1.0) == []
    loud = SizeRun("64x32", frames={"m": black}, content={"m": True})
    assert [f.what for f in judge_size(loud, BUDGETS["pi4"], 1.0)] == ["blank"]


def test_nbody_is_the_benchmarks_game_algorithm_and_the_factor_is_a_ratio() -> None:
    # The kinetic energy after 1000 steps of the reference system, as computed once.
    assert nbody(1000) == pytest.approx(0.17129793578318034, rel=1e-12)
    assert scale_factor(BUDGETS["pi4"], PI4_NBODY_US_PER_STEP) == 1.0
    assert scale_factor(BUDGETS["zero2w"], PI4_NBODY_US_PER_STEP) == BUDGETS["zero2w"].slowdown


def test_the_probe_report_is_read_without_following_a_link(tmp_path: Path) -> None:
    """Verify a plugin cannot point the checker (maybe root) at a file only it may read."""
    from host.author.check import _read_report

    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"hook": "render_frame", "draws": [{"text": "root only"}]}\n')
    link = tmp_path / "report.jsonl"
    link.symlink_to(secret)
    assert _read_report(link) == []
    assert len(_read_report(secret)) == 1


def test_plugin_new_without_a_worker_still_makes_the_project_and_says_how(
    tmp_path: Path,
) -> None:
    """No worker can run here (a workers.user that does not exist): the project is still
    complete, the command says why there is no golden image and how to make one."""
    made = ledhost(
        "plugin", "new", "lonely", "--dir", str(tmp_path),
        env={"LEDHOST_WORKERS__USER": "no-such-user-here"},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "warning: no golden image (" in made.stdout and "--update-golden" in made.stdout
    project = tmp_path / "ledhost-lonely"
    assert (project / "tests" / "test_lonely.py").exists()
    assert not (project / "tests" / "golden").exists()
    assert not list(project.rglob("__pycache__"))
