"""Self-update with rollback, on a throwaway root, from a real index on 127.0.0.1 (issue 20).

The index serves a small "ledhost 9.9.9" wheel built in the test: a real wheel pip
installs into a real release venv, whose ``ledhost`` command (the wheel's console script)
stands in for the new release's start-up checks (``ledhost config check``), passing or
failing as the test asks. systemd is the one part that cannot run here: the updater's
runner is a :class:`Service` that records each ``systemctl`` call and plays the service:
on ``restart`` it starts "the new host", which shows its first frame by calling the very
function the host calls (:func:`host.system.started.note_started`), or never does, or
fails its checks. The updater's clock is one the test advances on each sleep, so a
deadline passes without waiting for it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from host.control.update_ops import outside_service
from host.system import guard
from host.system.layout import PiLayout
from host.system.selfupdate import Request, SelfUpdater, UpdateError, one_at_a_time, run_command
from host.system.selfupdate_index import fetch_versions, newest_version
from host.system.started import note_started
from tests.conftest import REPO, build_wheel, ledhost
from tests.httpserver import RecordedServer
from tests.test_selfupdate_guard import install as guarded_install

#: The fake ledhost's command: ``ledhost config check FILE`` passes unless the file says
#: ``fail_check``.
FAKE_CLI = """
import sys
def main():
    if sys.argv[1:3] != ["config", "check"]:
        sys.exit(2)
    text = open(sys.argv[3]).read() if len(sys.argv) > 3 else ""
    if "fail_check" in text:
        print("plugins.clock: broken on purpose", file=sys.stderr)
        sys.exit(1)
    print("config OK")
"""


def fake_wheel(folder: Path, version: str, name: str = "ledhost") -> Path:
    scripts = "[console_scripts]\nledhost = fake_ledhost_cli:main\n"
    return build_wheel(
        folder, name, version, files={"fake_ledhost_cli.py": FAKE_CLI}, entry_points=scripts
    )


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordedServer]:
    """A PEP 503 index on 127.0.0.1 offering ledhost 9.9.9 (and a yanked 10.0.0, a
    pre-release, and an unrelated file)."""
    folder = tmp_path_factory.mktemp("index")
    wheel = fake_wheel(folder, "9.9.9")
    server = RecordedServer()
    links = [
        f'<a href="/files/{wheel.name}">{wheel.name}</a>',
        '<a href="/files/ledhost-10.0.0-py3-none-any.whl" data-yanked="">'
        "ledhost-10.0.0-py3-none-any.whl</a>",
        '<a href="/files/ledhost-11.0.0rc1.tar.gz">ledhost-11.0.0rc1.tar.gz</a>',
        '<a href="/files/other-12.0.tar.gz">other-12.0.tar.gz</a>',
    ]
    server.serve("/simple/ledhost/", "<html><body>" + "<br>".join(links) + "</body></html>",
                 content_type="text/html")  # fmt: skip
    server.serve(f"/files/{wheel.name}", wheel.read_bytes(), content_type="application/zip")
    try:
        yield server
    finally:
        server.close()


class Service:
    """The runner: real commands, except ``systemctl``, which it plays."""

    def __init__(self, data_dir: Path, layout: PiLayout, behaviour: str = "good") -> None:
        self.data_dir, self.layout, self.behaviour = data_dir, layout, behaviour
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        argv = list(argv)
        if argv[0] != "systemctl":
            return run_command(argv)
        self.calls.append(argv)
        if argv[1] == "restart" and self.behaviour == "upgrades_config":
            # The new host upgrades the config's format as it starts, then shows nothing.
            self.layout.config.write_text(UPGRADED)
            self.behaviour = "silent"
        if argv[1] == "restart" and self.behaviour in ("good", "bad_checks"):
            # The new host, started from current: it shows a first frame.
            problems = ["numpy is too old"] if self.behaviour == "bad_checks" else []
            note_started(self.data_dir, problems, python_prefix=str(self.layout.current))
            if self.behaviour == "bad_checks":
                self.behaviour = "good"  # the old release, started again, is fine
        failed = argv[1] == "is-failed" and self.behaviour == "failed"
        return subprocess.CompletedProcess(argv, 0 if failed or argv[1] != "is-failed" else 1)


#: The config as a newer release leaves it: a format the old one does not read, and an
#: edit the user made meanwhile.
UPGRADED = "config_version = 99\n[plugins.clock]\nformat = '24h'\n"


class Clock:
    """Time that passes only when the updater sleeps."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def install(root: Path, *versions: str, current: str, previous: str | None = None) -> PiLayout:
    """The guard tests' throwaway install, with the service's config."""
    layout = guarded_install(root, *versions, current=current, previous=previous)
    layout.etc.mkdir(parents=True)
    layout.config.write_text("[plugins.clock]\n")
    return layout


Made = tuple[SelfUpdater, Service, list[str]]


def updater(tmp_path: Path, layout: PiLayout, behaviour: str = "good") -> Made:
    service = Service(tmp_path / "data", layout, behaviour)
    clock = Clock()
    stages: list[str] = []
    up = SelfUpdater(layout, tmp_path / "data", layout.config, runner=service, clock=clock,
                     sleep=clock.sleep, progress=lambda s, m: stages.append(s))  # fmt: skip
    return up, service, stages


def simple(index: RecordedServer) -> str:
    return f"{index.url}/simple"


def test_the_index_lists_final_unyanked_versions(index: RecordedServer, tmp_path: Path) -> None:
    """Verify the newest is 9.9.9: the yanked 10.0.0, the rc and other projects skipped;
    the answer is cached, and a dead index gives the cached answer marked stale."""
    versions = [str(v) for v in fetch_versions(simple(index))]
    assert versions == ["11.0.0rc1", "9.9.9"]
    cache = tmp_path / "check.json"
    first = newest_version(simple(index), cache, now=100.0)
    assert first["newest"] == "9.9.9" and first["error"] is None
    asked = len(index.requests_to("/simple/ledhost/"))
    assert newest_version(simple(index), cache, now=200.0)["newest"] == "9.9.9"
    assert len(index.requests_to("/simple/ledhost/")) == asked  # from the cache
    gone = RecordedServer()
    url = f"{gone.url}/simple"
    gone.close()
    offline = newest_version(url, cache, now=300.0)
    assert offline["newest"] is None and offline["error"].startswith("offline: ")
    stale = newest_version(simple(index), cache, now=300.0 + 7 * 3600, refresh=False)
    assert stale["newest"] == "9.9.9" and stale["stale"] is False  # asked again: it answers
    (tmp_path / "check.json").write_text(json.dumps({**first, "index": url, "checked_at": 0}))
    old = newest_version(url, cache, now=99_999.0)
    assert old["stale"] is True and old["newest"] == "9.9.9" and "offline" in old["error"]


def test_an_update_installs_checks_switches_and_waits_for_the_first_frame(
    index: RecordedServer, tmp_path: Path
) -> None:
    """Verify the whole update: a release venv of its own with 9.9.9 in it, the checks
    before the switch, current -> 9.9.9 and previous -> the old one, a restart, the new
    host's first frame confirming the trial, and the outcome recorded."""
    layout = install(tmp_path / "root", "0.1.0", current="0.1.0")
    up, service, stages = updater(tmp_path, layout)
    outcome = up.update(Request(index=simple(index)))
    assert outcome["result"] == "ok" and outcome["to"] == "9.9.9" and outcome["from"] == "0.1.0"
    assert stages == ["resolve", "env", "install", "check", "switch", "restart", "wait", "done"]
    assert guard.link_target(layout.current) == "9.9.9"
    assert guard.link_target(layout.previous) == "0.1.0"
    assert not layout.trial.exists()  # confirmed by the new host
    assert service.calls[0] == ["systemctl", "restart", "ledhost.service"]
    release = layout.release("9.9.9")
    assert not list(release.glob("lib/python*/site-packages/_ledhost_host.pth"))  # its own
    status = up.status({"newest": "9.9.9"})
    assert status["current"] == "9.9.9" and status["last"]["result"] == "ok"
    assert status["update_available"] is False
    again = up.update(Request(index=simple(index)))
    assert again["result"] == "current"


def test_a_release_that_shows_no_frame_is_rolled_back(
    index: RecordedServer, tmp_path: Path
) -> None:
    """Verify a new host that never shows a first frame: past the deadline current goes
    back, the service restarts again, the failed release is kept as previous, and the
    reason is recorded and raised. A stale start record naming the release is no proof."""
    layout = install(tmp_path / "root", "0.1.0", current="0.1.0")
    # A start record of 9.9.9 from an earlier attempt is no proof of this one.
    note_started(tmp_path / "data", [], python_prefix=str(tmp_path / "old" / "9.9.9"))
    up, service, stages = updater(tmp_path, layout, "silent")
    with pytest.raises(UpdateError, match="rolled back to 0.1.0.*no first frame within 30 s"):
        up.update(Request(index=simple(index), timeout=30.0))
    assert guard.link_target(layout.current) == "0.1.0"
    assert guard.link_target(layout.previous) == "9.9.9"
    assert not layout.trial.exists()
    assert [c[1] for c in service.calls].count("restart") == 2
    assert stages[-1] == "rollback"
    last = up.status()["last"]
    assert last["result"] == "rolled_back" and "no first frame" in last["reason"]


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [("failed", "ledhost.service failed"), ("bad_checks", "started with failed checks")],
)
def test_a_failed_service_or_failed_start_checks_roll_back(
    index: RecordedServer, tmp_path: Path, behaviour: str, reason: str
) -> None:
    """Verify the unit failing, or the new host's own start-up checks failing, undo the
    update without waiting for the deadline."""
    layout = install(tmp_path / "root", "0.1.0", current="0.1.0")
    up, _, _ = updater(tmp_path, layout, behaviour)
    with pytest.raises(UpdateError, match=reason):
        up.update(Request(index=simple(index)))
    assert guard.link_target(layout.current) == "0.1.0"


def test_failing_checks_before_the_switch_change_nothing(
    index: RecordedServer, tmp_path: Path
) -> None:
    """Verify a release whose config check fails is never switched to: links as they
    were, its half-made release removed, the failure recorded, no restart."""
    layout = install(tmp_path / "root", "0.1.0", current="0.1.0")
    layout.config.write_text("# fail_check\n")
    up, service, _ = updater(tmp_path, layout)
    with pytest.raises(UpdateError, match="9.9.9 failed its start-up checks.*broken on purpose"):
        up.update(Request(wheel=fake_wheel(tmp_path / "w", "9.9.9"), index=""))
    assert guard.link_target(layout.current) == "0.1.0"
    assert not layout.release("9.9.9").exists()
    assert service.calls == []
    assert up.status()["last"]["result"] == "failed"


def test_downgrades_are_refused_unless_asked(index: RecordedServer, tmp_path: Path) -> None:
    """Verify an older version is refused, named; with allow_downgrade a dry run plans it."""
    layout = install(tmp_path / "root", "10.0.0", current="10.0.0")
    up, _, _ = updater(tmp_path, layout)
    with pytest.raises(UpdateError, match="9.9.9 is older than the current 10.0.0"):
        up.update(Request(index=simple(index)))
    plan = up.update(Request(index=simple(index), allow_downgrade=True, dry_run=True))
    assert plan["result"] == "dry_run" and plan["to"] == "9.9.9"
    assert not layout.release("9.9.9").exists()


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (Request(wheel=Path("/nonexistent/other-1.0-py3-none-any.whl")), "a wheel of other"),
        (Request(wheel=Path("/nonexistent/ledhost-1.0-py3-none-any.whl")), "no such file"),
        (Request(wheel=Path("/x/not-a-wheel.zip")), "not a wheel file name"),
        (Request(version="latest"), "not a version"),
        (Request(index=""), "no package index configured"),
        (Request(index="ftp://example.org/simple"), "not an http"),
    ],
)
def test_bad_requests_are_refused_naming_the_problem(
    tmp_path: Path, request_: Request, message: str
) -> None:
    """Verify each bad input is an error saying what is wrong, before anything changes."""
    layout = install(tmp_path / "root", "0.1.0", current="0.1.0")
    up, _, _ = updater(tmp_path, layout)
    with pytest.raises(UpdateError, match=message):
        up.update(request_)
    assert up.releases() == ["0.1.0"]


def test_older_releases_are_cleaned_keeping_two_and_the_running_one(
    index: RecordedServer, tmp_path: Path
) -> None:
    """Verify after an update only current, previous (and the running release) remain."""
    layout = install(tmp_path / "root", "0.0.1", "0.0.2", "0.0.3", "0.1.0", current="0.1.0",
                     previous="0.0.3")  # fmt: skip
    up, _, _ = updater(tmp_path, layout)
    plan = up.update(Request(index=simple(index), dry_run=True))
    assert plan["would_remove"] == ["0.0.2", "0.0.1"]
    up.update(Request(index=simple(index)))
    assert up.releases() == ["9.9.9", "0.1.0"]


def test_a_rollback_puts_back_the_config_the_old_release_read(
    index: RecordedServer, tmp_path: Path
) -> None:
    """Verify a new release that upgraded the config's format and then failed leaves, after
    the rollback, the file the old release read (it would refuse the upgraded one, and the
    sign would stay dark), with the upgraded file and its edits kept beside it."""
    layout = install(tmp_path / "root", "0.1.0", current="0.1.0")
    layout.config.chmod(0o640)
    original = layout.config.read_text()
    up, _, stages = updater(tmp_path, layout, "upgrades_config")
    with pytest.raises(UpdateError, match="rolled back to 0.1.0.*put back the config as 0.1.0"):
        up.update(Request(index=simple(index), timeout=30.0))
    assert layout.config.read_text() == original
    assert stat.S_IMODE(layout.config.stat().st_mode) == 0o640
    assert layout.config.with_name(layout.config.name + ".v99").read_text() == UPGRADED
    assert "config" in stages
    assert "kept as" in up.status()["last"]["reason"]
    kept = layout.prefix / guard.CONFIGS / "0.1.0.toml"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_a_rollback_on_request_keeps_a_config_of_the_same_format(tmp_path: Path) -> None:
    """Verify edits made under the newer release stay when the older one reads the file
    (same format), and a format it cannot read is swapped for its own copy."""
    layout = install(tmp_path / "root", "0.1.0", "0.2.0", current="0.2.0", previous="0.1.0")
    guard.keep_config(layout.prefix, "0.1.0", layout.config)  # as the update left it
    layout.config.write_text("[plugins.clock]\nformat = '24h'\n")  # edited since
    up, _, _ = updater(tmp_path, layout)
    assert up.rollback()["reason"] == "asked for"
    assert "24h" in layout.config.read_text()
    # Forward again by hand, the newer one upgrades the format; back once more.
    up.rollback()
    layout.config.write_text(UPGRADED)
    outcome = up.rollback()
    assert "put back the config as 0.1.0" in outcome["reason"]
    assert "24h" in layout.config.read_text() and "config_version" not in layout.config.read_text()


def test_rollback_on_request(tmp_path: Path) -> None:
    """Verify --rollback swaps current and previous, restarts and waits; without a
    previous release it is refused."""
    layout = install(tmp_path / "root", "0.1.0", "0.2.0", current="0.2.0", previous="0.1.0")
    up, service, _ = updater(tmp_path, layout)
    outcome = up.rollback()
    assert outcome["action"] == "rollback" and outcome["result"] == "ok"
    assert guard.link_target(layout.current) == "0.1.0"
    assert guard.link_target(layout.previous) == "0.2.0"
    assert service.calls[0][1] == "restart"
    lone = install(tmp_path / "lone", "0.1.0", current="0.1.0")
    up, _, _ = updater(tmp_path, lone)
    with pytest.raises(UpdateError, match="no previous release"):
        up.rollback()


def test_the_command_checks_and_refuses_without_an_install(
    index: RecordedServer, tmp_path: Path
) -> None:
    """Verify ``ledhost self-update --check --json --root`` reports versions, the index's
    newest and the last outcome; an update where nothing is installed fails naming it."""
    layout = install(tmp_path / "root", "0.1.0", current="0.1.0")
    layout.config.write_text(
        f'[paths]\ndata_dir = "{tmp_path / "data"}"\n[store]\nindex_url = "{simple(index)}"\n'
    )
    guard.record(layout.prefix, {"action": "update", "result": "rolled_back", "from": "0.1.0",
                                 "to": "0.2.0", "by": "guard", "reason": "no frame"})  # fmt: skip
    result = ledhost("self-update", "--check", "--json", "--root", str(tmp_path / "root"))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["current"] == "0.1.0" and data["index"]["newest"] == "9.9.9"
    assert data["update_available"] is True and data["last"]["reason"] == "no frame"
    empty = ledhost("self-update", "--version", "9.9.9", env={"LEDHOST_ROOT": str(tmp_path / "x")})
    assert empty.returncode == 1
    assert "no installed ledhost under" in empty.stderr


def test_the_update_check_works_offline(tmp_path: Path) -> None:
    """Verify --check with no index configured says so instead of failing."""
    install(tmp_path / "root", "0.1.0", current="0.1.0")
    result = ledhost("self-update", "--check", "--json", "--root", str(tmp_path / "root"),
                     "--index", "http://127.0.0.1:9/simple")  # fmt: skip
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    assert data["index"]["newest"] is None and data["index"]["error"].startswith("offline: ")
    assert data["update_available"] is False


#: Where the real update test takes ledhost's dependencies from (they are real packages).
DEPS_INDEX = os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple"


@pytest.mark.slow
@pytest.mark.timeout(360)  # pip: 88 s seen on a loaded 2-core box, near the default 120 s
def test_a_real_ledhost_wheel_installs_checks_and_switches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verify the real thing: a ledhost wheel built from this repository goes into a
    release venv of its own on a throwaway root (its dependencies from a real index),
    passes its own start-up checks there (``ledhost config check`` of the installed
    config: imports, self-checks, the clock's options checked by a real worker), and is
    switched to and confirmed."""
    try:
        urllib.request.urlopen(f"{DEPS_INDEX}/waitress/", timeout=10).close()  # noqa: S310
    except OSError as exc:
        pytest.skip(f"needs ledhost's dependencies from {DEPS_INDEX}: {exc}")
    # The isolated test home hides the user's pip config (this machine's local indexes).
    user_pip = Path(os.path.expanduser("~/.config/pip/pip.conf"))
    if user_pip.is_file() and "PIP_CONFIG_FILE" not in os.environ:
        monkeypatch.setenv("PIP_CONFIG_FILE", str(user_pip))
    # Built from a copy: setuptools leaves build/ and *.egg-info in the tree it builds.
    source = tmp_path / "src"
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard"],
                            capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    for rel in listed:
        if (REPO / rel).is_file():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, source / rel)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "w"),
         str(source)], capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = (tmp_path / "w").glob("ledhost-*.whl")
    layout = install(tmp_path / "root", "0.0.1", current="0.0.1")
    layout.config.write_text('[plugins.clock]\nshow_seconds = false\n[workers]\nuser = ""\n')
    up, _, stages = updater(tmp_path, layout)
    outcome = up.update(Request(wheel=wheel, index=DEPS_INDEX))
    version = wheel.name.split("-")[1]
    assert outcome["result"] == "ok" and outcome["to"] == version, stages
    assert guard.link_target(layout.current) == version
    ledhost_bin = layout.release(version) / "bin" / "ledhost"
    shown = subprocess.run([str(ledhost_bin), "--version"], capture_output=True, text=True,
                           timeout=120, check=False)  # fmt: skip
    assert shown.stdout.strip() == f"ledhost {version}"


def test_a_second_updater_is_refused_while_one_runs(tmp_path: Path) -> None:
    """Verify two updaters never switch links at once: the second is refused, named."""
    layout = install(tmp_path / "root", "0.1.0", "0.2.0", current="0.2.0", previous="0.1.0")
    up, service, _ = updater(tmp_path, layout)
    with one_at_a_time(layout.prefix), pytest.raises(UpdateError, match="another self-update"):
        up.rollback()
    assert service.calls == [] and guard.link_target(layout.current) == "0.2.0"


def test_under_systemd_the_job_leaves_the_service_cgroup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verify the updater the host starts runs in a scope of its own under systemd (its
    restart must not kill the updater), and as it is elsewhere."""
    argv = ["/opt/ledhost/current/bin/python", "-m", "host", "self-update"]
    assert outside_service(argv, {}) == argv
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    scoped = outside_service(argv, {"INVOCATION_ID": "abc"})
    assert scoped[0] == "/usr/bin/systemd-run" and "--scope" in scoped
    assert scoped[scoped.index("--") + 1 :] == argv
