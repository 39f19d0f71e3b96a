"""The self-check: ledhost says which distribution broke its environment, and how to fix it.

The two cases of issue 16 (a plugin pinning an old Pillow; a plugin shipping a top-level
``config``), each three ways: the check itself against distributions written as pip
leaves them; ``ledhost`` commands with those distributions first on ``PYTHONPATH``; and,
marked slow, real wheels installed by plain ``pip`` into a throwaway venv made here (never
into the test venv, which the last assertions check is untouched).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.version import Version

from store import selfcheck
from tests.cli_run import run_until, showing
from tests.conftest import LEDHOST_SITE, REPO, build_wheel, ledhost, write_dist

#: What issue 16 found pip doing: a plugin that asks for an old Pillow gets one.
OLD_PILLOW = "Pillow 8.4.0, installed for ledhost-oldpil 1.0 (which requires Pillow<9)"
#: ledhost's own requirement on Pillow, as its metadata says.
OWN_PILLOW = next(
    r.split(";")[0].replace(" ", "")
    for r in importlib.metadata.requires("ledhost") or []
    if r.lower().startswith("pillow")
)
#: A stand-in for an old Pillow whose API ledhost cannot use: ``PIL.Image`` is missing.
FAKE_PIL = {"PIL/__init__.py": "__version__ = '8.4.0'  # not the real one: no PIL.Image\n"}
#: A plugin module that asks for nothing special.
PLUGIN_MODULE = """
from sdk import hookimpl

@hookimpl
def register_modes(register):
    register("still")

@hookimpl
def render_frame(canvas):
    canvas.clear((0, 0, 64))
"""


def old_pillow(folder: Path, *, code: bool) -> Path:
    """Pillow 8.4.0 (with a broken ``PIL`` when ``code``), ``ledhost-oldpil`` that pinned it,
    and an innocent plugin that accepts any Pillow from 7 on, as pip leaves them."""
    write_dist(folder, "Pillow", "8.4.0", files=FAKE_PIL if code else {})
    write_dist(
        folder,
        "ledhost-oldpil",
        "1.0",
        requires=("Pillow<9", "requests"),
        files={"ledhost_oldpil.py": PLUGIN_MODULE},
    )
    write_dist(
        folder,
        "ledhost-innocent",
        "2.0",
        requires=("Pillow>=7",),
        files={"ledhost_innocent.py": PLUGIN_MODULE},
        top_level=False,
    )
    return folder


# -- the check itself ---------------------------------------------------------------------


def test_the_test_environment_passes() -> None:
    assert selfcheck.check() == []


def test_a_pinned_old_requirement_names_the_plugin_that_pinned_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(old_pillow(tmp_path, code=False)))
    problems = selfcheck.check_requirements()
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.kind == "requirement"
    assert problem.message == f"{OLD_PILLOW}, does not satisfy ledhost's requirement {OWN_PILLOW}"
    assert "innocent" not in str(problem)
    pip = f"{sys.executable} -m pip"
    assert problem.fix.startswith(
        f"{pip} uninstall ledhost-oldpil; {pip} install --force-reinstall '{OWN_PILLOW}'; "
    )
    assert "`ledhost install`" in problem.fix


def test_missing_and_unexplained_requirements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A requirement nobody installed, and a version nobody asked for, each say so."""
    write_dist(tmp_path, "Pillow", "8.4.0")
    write_dist(
        tmp_path,
        "ledhost-like",
        "1.0",
        requires=("Pillow>=10", "no-such-lib>=1.2", "numpy>=1", 'never-here; extra == "x"'),
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    problems = selfcheck.check_requirements(dist_name="ledhost-like")
    assert [(p.kind, p.message) for p in problems] == [
        (
            "requirement",
            "Pillow 8.4.0 does not satisfy ledhost-like's requirement Pillow>=10 "
            "(no installed distribution asks for that version)",
        ),
        (
            "missing",
            "no-such-lib, which ledhost-like requires (no-such-lib>=1.2), is not installed",
        ),
    ]
    assert problems[1].fix == f"{sys.executable} -m pip install 'no-such-lib>=1.2'"
    extra = selfcheck.check_requirements(extras=("x",), dist_name="ledhost-like")
    assert [p.message.split(",")[0] for p in extra if p.kind == "missing"] == [
        "no-such-lib",
        "never-here",
    ]


def test_wildcard_pins_and_unparsable_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dist(tmp_path, "Pillow", "8.4.0")
    write_dist(tmp_path, "weird", "not-a-version")
    write_dist(tmp_path, "ledhost-stars", "3.0", requires=("Pillow==8.*",))
    write_dist(tmp_path, "ledhost-like", "1.0", requires=("Pillow>=10", "weird>=1"))
    monkeypatch.syspath_prepend(str(tmp_path))
    problems = selfcheck.check_requirements(dist_name="ledhost-like")
    assert [p.message for p in problems] == [
        "Pillow 8.4.0, installed for ledhost-stars 3.0 (which requires Pillow==8.*), does not "
        "satisfy ledhost-like's requirement Pillow>=10",
        "weird not-a-version does not satisfy ledhost-like's requirement weird>=1 (no "
        "installed distribution asks for that version)",
    ]


@pytest.mark.parametrize("top_level", [True, False], ids=["top_level.txt", "RECORD"])
def test_a_package_with_one_of_our_names_is_named_with_its_distribution(
    tmp_path: Path, top_level: bool
) -> None:
    write_dist(
        tmp_path,
        "ledhost-confighat",
        "1.0",
        files={"config/__init__.py": "", "ledhost_confighat.py": PLUGIN_MODULE},
        top_level=top_level,
    )
    (tmp_path / "sdk").mkdir()
    (tmp_path / "sdk" / "__init__.py").write_text("")  # no distribution owns this one
    problems = selfcheck.check_names(search_path=[str(tmp_path), *sys.path])
    assert [(p.kind, p.message) for p in problems] == [
        (
            "shadow",
            f"ledhost-confighat 1.0 ships a top-level package `config` ({tmp_path}/config) "
            "found before ledhost's own",
        ),
        (
            "shadow",
            f"{tmp_path}/sdk is found before ledhost's own package `sdk` and no installed "
            "distribution owns it",
        ),
    ]
    assert problems[0].fix.startswith(f"{sys.executable} -m pip uninstall ledhost-confighat; ")
    # Behind ours on the path it hides nothing yet, and is still a mistake to name.
    later = selfcheck.check_names(search_path=[*sys.path, str(tmp_path)])
    assert [p.message for p in later] == [
        f"ledhost-confighat 1.0 ships a top-level package `config` ({tmp_path}/config), a "
        "name ledhost uses"
    ]


def test_files_written_into_our_own_package_folder_are_named(tmp_path: Path) -> None:
    """When ledhost is not editable, a wheel's ``config/`` lands in our own folder."""
    write_dist(tmp_path, "ledhost-confighat", "1.0", files={"config/__init__.py": ""})
    problems = selfcheck.check_names(own_root=str(tmp_path), search_path=[str(tmp_path)])
    assert [p.message for p in problems] == [
        f"ledhost-confighat 1.0 installed files into ledhost's own package `config` "
        f"({tmp_path}/config)"
    ]
    assert "--force-reinstall --no-deps ledhost" in problems[0].fix


def test_a_passing_environment_is_remembered_until_a_path_folder_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site, cache = tmp_path / "site", tmp_path / "cache" / "selfcheck"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    assert selfcheck.check(cache=cache) == []
    passed = cache.read_text()
    old_pillow(site, code=False)  # what pip does: new folders, so a new mtime
    assert [p.kind for p in selfcheck.check(cache=cache)] == ["requirement"]
    assert cache.read_text() == passed  # a problem is never remembered
    for info in site.iterdir():
        shutil.rmtree(info) if info.is_dir() else info.unlink()
    assert selfcheck.check(cache=cache) == []
    assert cache.read_text() != passed  # the same environment, a new mtime: checked again


# -- ledhost commands ---------------------------------------------------------------------


def test_run_with_a_broken_requirement_says_who_broke_it_runs_and_exits_1(
    tmp_path: Path,
) -> None:
    """Pillow's metadata says 8.4.0 (its code is the real one): the run goes on, says why
    at start, records it in the stats and ends with status 1, not a silent 0."""
    folder = old_pillow(tmp_path / "site", code=False)
    stats = tmp_path / "stats.json"
    result = run_until(
        *("--backend", "headless", "--stats-json", str(stats)),
        until=showing("clock"),  # the embedded rotation's first
        cwd=tmp_path,
        env={"PYTHONPATH": str(folder)},
    )
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert any(OLD_PILLOW in line for line in errors), result.stderr
    data = json.loads(stats.read_text())
    assert data["frames_shown"] > 0
    assert len(data["selfcheck"]) == 1 and OLD_PILLOW in data["selfcheck"][0]
    assert data["safe_mode"] is False and data["display"]["safe_mode"] is False


@pytest.mark.parametrize("command", [["run", "--duration", "2"], ["plugins"]])
def test_a_pillow_too_broken_to_import_is_explained_not_a_traceback(
    tmp_path: Path, command: list[str]
) -> None:
    folder = old_pillow(tmp_path / "site", code=True)
    result = ledhost(*command, cwd=tmp_path, env={"PYTHONPATH": str(folder)})
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "ledhost cannot start: ImportError" in result.stderr, result.stderr
    assert sum(OLD_PILLOW in line for line in result.stderr.splitlines()) == 1, result.stderr


# -- real wheels, plain pip, a throwaway venv ---------------------------------------------


@pytest.fixture
def throwaway_venv() -> Iterator[Path]:
    """A venv of its own that sees the test venv's libraries, with ledhost installed.

    ``--without-pip`` plus a ``.pth`` naming the test venv's site-packages (its pip and
    ledhost's requirements: no download, under a second); ledhost installed the way an
    editable install leaves it (its ``.dist-info``, a ``.pth`` naming the checkout, the
    ``ledhost`` script). ``pip install -e`` would need setuptools>=77 from an index to
    build, for the same result. World-readable, under ``/tmp``: workers that drop root
    must read it. Whatever plain pip installs goes into this venv alone.
    """
    root = Path(tempfile.mkdtemp(prefix="ledhost-venv-", dir="/tmp"))
    try:
        root.chmod(0o755)
        venv = root / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        site = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
        site = site / "site-packages"
        (site / "_ledhost_requirements.pth").write_text(f"{LEDHOST_SITE}\n")
        own = importlib.metadata.distribution("ledhost")
        info = site / f"ledhost-{own.version}.dist-info"
        info.mkdir()
        # Not read_text("METADATA"): run from the checkout, "ledhost" may be its egg-info.
        (info / "METADATA").write_text(own.metadata.as_string())
        for name in ("entry_points.txt", "top_level.txt"):
            (info / name).write_text(own.read_text(name) or "")
        (info / "RECORD").write_text("")
        (site / "__editable__.ledhost.pth").write_text(f"{REPO}\n")
        script = venv / "bin" / "ledhost"
        script.write_text(
            f"#!{venv}/bin/python\nimport sys\nfrom host.cli.entry import main\nsys.exit(main())\n"
        )
        script.chmod(0o755)
        yield venv
    finally:
        shutil.rmtree(root, ignore_errors=True)


def plain_pip(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pip install`` as a user would, from local wheels only (no index, no config)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-index", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def run_in(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(venv / "bin" / "ledhost"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_plain_pip_plugin_pinning_an_old_pillow(throwaway_venv: Path, tmp_path: Path) -> None:
    """Case 1 of issue 16: pip downgrades Pillow for a plugin; ledhost says who and what."""
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "Pillow", "8.4.0", files=FAKE_PIL)
    build_wheel(
        wheels,
        "ledhost-oldpil",
        "1.0",
        files={"ledhost_oldpil.py": PLUGIN_MODULE},
        requires=("Pillow<9",),
        entry_points="[ledhost.plugins]\noldpil = ledhost_oldpil\n",
    )
    ours = Version(importlib.metadata.version("Pillow"))
    plain_pip(throwaway_venv, "--find-links", str(wheels), "ledhost-oldpil")
    result = run_in(throwaway_venv, "run", "--duration", "2", "--backend", "headless", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "ledhost cannot start: ImportError" in result.stderr
    assert f"{OLD_PILLOW}, does not satisfy ledhost's requirement {OWN_PILLOW}" in result.stderr
    assert f"{throwaway_venv}/bin/python -m pip uninstall ledhost-oldpil" in result.stderr
    # The test venv was never touched.
    assert Version(importlib.metadata.version("Pillow")) == ours


def test_plain_pip_plugin_shipping_a_top_level_config(throwaway_venv: Path, tmp_path: Path) -> None:
    """Case 2 of issue 16: every command names the package and still works."""
    wheels = tmp_path / "wheels"
    wheel = build_wheel(
        wheels,
        "ledhost-confighat",
        "1.0",
        files={
            "config/__init__.py": "raise ImportError('this config is not ledhost\\'s')\n",
            "ledhost_confighat.py": PLUGIN_MODULE,
        },
        entry_points="[ledhost.plugins]\nconfighat = ledhost_confighat\n",
    )
    plain_pip(throwaway_venv, "--no-deps", str(wheel))
    named = "ledhost-confighat 1.0 ships a top-level package `config`"
    stats = tmp_path / "stats.json"
    commands = {
        "plugins": (["plugins", "--json"], 0),
        "config check": (["config", "check"], 1),
        "run": (["run", "--duration", "2", "--backend", "headless", "--stats-json", str(stats)], 1),
    }
    for what, (args, status) in commands.items():
        result = run_in(throwaway_venv, *args, cwd=tmp_path)
        assert result.returncode == status, f"{what}: {result.stderr}"
        assert "Traceback" not in result.stderr and "not ledhost's" not in result.stderr, what
        line = next((x for x in result.stderr.splitlines() if named in x), "")
        assert "found before ledhost's own" in line, f"{what}: {result.stderr}"
        assert f"{throwaway_venv}/bin/python -m pip uninstall ledhost-confighat" in line
    assert json.loads(stats.read_text())["frames_shown"] > 0
