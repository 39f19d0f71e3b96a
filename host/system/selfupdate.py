"""Self-update of an installed ledhost, with rollback (issue 20).

The layout is :class:`~host.system.layout.PiLayout`'s: one venv per release under
``releases/<version>``, ``current`` (what the service runs) and ``previous`` links. An
update, each stage told to ``progress`` as ``stage: message``:

1. ``resolve``: the version to install: a wheel file's, ``--version``, or the newest on
   the package index (:mod:`host.system.selfupdate_index`). Same as running: nothing to
   do; older: refused unless ``allow_downgrade``.
2. ``clean``: releases other than current, previous and the running one are removed, so
   at most two releases plus the running one are ever kept.
3. ``env``/``install``: a venv of its own at ``releases/<version>`` (no view of the running
   release's packages), ledhost installed into it by pip (from the index, or the wheel),
   with the binding wheels kept in ``wheels/`` (:func:`store.envs.install_into`).
4. ``check``: *before* switching, in the new venv: its ledhost's version is the one
   asked for, and ``ledhost config check`` of a copy of the installed config passes (it
   imports ledhost, runs every start-up self-check and checks each plugin's options with
   a real worker). A copy: the check upgrades an old config file, which must not happen
   to the file the running release reads.
5. ``switch``: ``previous`` -> the old current, ``current`` -> the new one (each one
   atomic rename of a link), and the new release is put on trial
   (:func:`host.system.guard.start_trial`).
6. ``restart``: ``systemctl restart ledhost.service``, through the ``runner`` passed in.
7. ``wait``: for the new host's start record (:mod:`host.system.started`) naming the new
   release, a new one (not the record there before the restart), with no start-up
   problem; the host has then also confirmed the trial. If it does not come within
   ``timeout`` seconds, or the service failed, or its checks failed: switch back,
   restart, record why.

Every outcome is recorded (:func:`host.system.guard.record`): ``ledhost self-update
--check`` and the admin page show the last one. When this process dies mid-way (power
cut, killed with the service), the start guard finishes the job: the trial file makes it
roll back a release that never confirms.

Interface: :class:`SelfUpdater` (``status``, ``update``, ``rollback``), :class:`Request`,
:class:`UpdateError`, :data:`Runner`, :func:`run_command`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from host import __version__
from host.errors import HostError
from host.system import guard
from host.system.layout import UNIT_NAME, PiLayout
from host.system.selfupdate_index import DIST, IndexError_, fetch_versions, pick_newest
from host.system.started import read_started

#: Runs a command (systemctl, the new release's checks); tests pass one that records.
Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]
Progress = Callable[[str, str], None]
#: Seconds the new host has to show a first frame with its checks passed (a Pi Zero
#: with several plugins needs tens of seconds).
CONFIRM_TIMEOUT: Final = 180.0
#: Longest a check command may run in the new release.
CHECK_TIMEOUT: Final = 600.0
#: Output kept from a failed check.
_TAIL: Final = 1500


class UpdateError(HostError):
    """The update or rollback did not happen (or was undone); the message says why."""


def run_command(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` and capture its output (the default runner)."""
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL, timeout=CHECK_TIMEOUT)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(list(argv), 127, "", f"{argv[0]}: {exc}")


@dataclass(frozen=True)
class Request:
    """What ``ledhost self-update`` was asked."""

    version: str | None = None
    wheel: Path | None = None
    index: str = "https://pypi.org/simple"
    allow_downgrade: bool = False
    dry_run: bool = False
    timeout: float = CONFIRM_TIMEOUT


def _version(text: str, what: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        raise UpdateError(f"{what} {text!r} is not a version (like 1.2.0)") from None


def _tail(result: subprocess.CompletedProcess[str]) -> str:
    return ((result.stderr or "") + (result.stdout or "")).strip()[-_TAIL:]


@contextmanager
def one_at_a_time(prefix: Path) -> Iterator[None]:
    """Hold ``<prefix>/.self-update.lock``; a second updater is refused, not queued (it
    would switch links under the first one's feet)."""
    fd = os.open(prefix / ".self-update.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UpdateError("another self-update or rollback is running; wait for it") from None
    try:
        yield
    finally:
        os.close(fd)


class SelfUpdater:
    """Updates and rolls back the ledhost installed under ``layout``.

    :param data_dir: the service's ``paths.data_dir`` (where the host's start record is).
    :param config: the service's config file (checked by the new release), if any.
    """

    def __init__(
        self,
        layout: PiLayout,
        data_dir: Path,
        config: Path | None,
        *,
        runner: Runner = run_command,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.layout = layout
        self.data_dir = Path(data_dir)
        self.config = config
        self.runner = runner
        self.progress = progress or (lambda stage, message: None)
        self.clock = clock
        self.sleep = sleep

    # -- what is installed -------------------------------------------------------------

    def current(self) -> str:
        """The release ``current`` points at.

        :raises UpdateError: when there is no installed ledhost under the layout.
        """
        name = guard.link_target(self.layout.current)
        if name is None or not guard.is_release(self.layout.prefix, name):
            raise UpdateError(
                f"no installed ledhost under {self.layout.prefix} (no release behind "
                f"{self.layout.current}): self-update updates an installation made by the "
                "install script"
            )
        return name

    def releases(self) -> list[str]:
        """Every release folder's name, newest version first."""
        if not self.layout.releases.is_dir():
            return []
        names = [p.name for p in self.layout.releases.iterdir() if not p.name.startswith(".")]

        def key(name: str) -> tuple[int, Version | str]:
            try:
                return (1, Version(name))
            except InvalidVersion:
                return (0, name)

        return sorted(names, key=key, reverse=True)

    def status(self, newest: dict[str, Any] | None = None) -> dict[str, Any]:
        """What ``--check`` reports: running, current, previous, releases, the trial, the
        last outcome, and (given) the index's newest version with ``update_available``."""
        prefix = self.layout.prefix
        current = guard.link_target(self.layout.current)
        entries = [e for e in guard.history(prefix) if e.get("action") != "confirm"]
        data: dict[str, Any] = {
            "running": __version__,
            "current": current,
            "previous": guard.link_target(self.layout.previous),
            "releases": self.releases(),
            "trial": guard.read_json(self.layout.trial),
            "last": entries[-1] if entries else None,
            "started": read_started(self.data_dir),
        }
        if newest is not None:
            data["index"] = newest
            available = False
            if newest.get("newest") and current:
                try:
                    available = Version(newest["newest"]) > Version(current)
                except InvalidVersion:
                    available = False
            data["update_available"] = available
        return data

    # -- update ------------------------------------------------------------------------

    def resolve(self, req: Request) -> tuple[str, str]:
        """The version to install and what to give pip for it."""
        if req.wheel is not None:
            if req.version is not None:
                raise UpdateError("give --version or --wheel, not both")
            wheel = req.wheel.resolve()
            try:
                name, version, _, _ = parse_wheel_filename(wheel.name)
            except InvalidWheelFilename as exc:
                raise UpdateError(f"{req.wheel}: not a wheel file name ({exc})") from None
            if name != DIST:
                raise UpdateError(f"{req.wheel} is a wheel of {name}, not of {DIST}")
            if not wheel.is_file():
                raise UpdateError(f"{req.wheel}: no such file")
            return str(version), str(wheel)
        if req.version is not None:
            return str(_version(req.version, "--version")), f"{DIST}=={req.version}"
        if not req.index:
            raise UpdateError("no package index configured: give --index URL or --wheel FILE")
        try:
            newest = pick_newest(fetch_versions(req.index))
        except IndexError_ as exc:
            raise UpdateError(str(exc)) from None
        if newest is None:
            raise UpdateError(f"{req.index} lists no release of {DIST}")
        return str(newest), f"{DIST}=={newest}"

    def update(self, req: Request) -> dict[str, Any]:
        """Install, check, switch, restart, wait; undo on failure. Returns the outcome.

        :raises UpdateError: when nothing was switched (refused, install or check failed),
            or when the new release failed and was rolled back (the outcome recorded).
        """
        old = self.current()
        self.progress("resolve", f"running {old}; looking for the release to install")
        version, target = self.resolve(req)
        new, have = _version(version, "the new version"), _version(old, "the current release")
        if new == have:
            return {"result": "current", "version": version,
                    "message": f"{version} is already the current release"}  # fmt: skip
        if new < have and not req.allow_downgrade:
            raise UpdateError(
                f"{version} is older than the current {old}: refused (--allow-downgrade "
                "to go back to it anyway, or --rollback for the previous release)"
            )
        doomed = self._doomed(old)
        if req.dry_run:
            return {"result": "dry_run", "from": old, "to": version, "target": target,
                    "would_remove": doomed}  # fmt: skip
        with one_at_a_time(self.layout.prefix):
            if guard.link_target(self.layout.current) != old:
                raise UpdateError("current changed while this update resolved; run it again")
            self._remove(doomed)
            release = self.layout.release(version)
            try:
                self._build(release, target, req.index)
                self._check(release, version)
            except UpdateError as exc:
                self._remove([version])
                self._note("update", "failed", old, version, str(exc))
                raise
            return self._switch_and_prove(old, version, req.timeout)

    def _doomed(self, current: str) -> list[str]:
        """Releases an update removes first: all but current, previous and the running."""
        keep = {current, guard.link_target(self.layout.previous), Path(sys.prefix).resolve().name}
        return [name for name in self.releases() if name not in keep]

    def _remove(self, names: Sequence[str]) -> None:
        for name in names:
            (self.layout.prefix / guard.CONFIGS / f"{name}.toml").unlink(missing_ok=True)
            path = self.layout.release(name)
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.exists():
                self.progress("clean", f"removing the release {name}")
                trash = path.with_name(f".trash-{name}-{os.getpid()}")
                os.rename(path, trash)  # atomic: never half a release under its name
                shutil.rmtree(trash, ignore_errors=True)

    def _build(self, release: Path, target: str, index: str) -> None:
        from store.envs import create_env, install_into
        from store.errors import StoreError
        from store.settings import StoreSettings

        self.progress("env", f"making {release}")
        wheels = self.layout.wheels
        extra = sorted(str(w) for w in wheels.glob("*.whl")) if wheels.is_dir() else []
        settings = StoreSettings(index_url=index, find_links=(str(wheels),) if extra else ())
        try:
            create_env(release, see_host=False)
            kept = f" with {len(extra)} kept wheel(s)" if extra else ""
            self.progress("install", f"installing {target}{kept}")
            install_into(settings, release, target, *extra)
        except StoreError as exc:
            raise UpdateError(f"could not install {target}: {exc}") from None

    def _check(self, release: Path, version: str) -> None:
        """The new release's own start-up checks, in its own venv, before any switch."""
        self.progress("check", f"checking {version} in its own environment")
        python = str(release / "bin" / "python")
        probe = "import importlib.metadata as m; print(m.version('ledhost'))"
        result = self.runner([python, "-I", "-c", probe])
        if result.returncode != 0 or result.stdout.strip() != version:
            raise UpdateError(
                f"the new release does not hold ledhost {version}: {_tail(result) or 'no output'}"
            )
        with tempfile.TemporaryDirectory(prefix="ledhost-update-") as tmp:
            argv = [str(release / "bin" / "ledhost"), "config", "check"]
            if self.config is not None and self.config.is_file():
                copy = Path(tmp) / "config.toml"
                shutil.copyfile(self.config, copy)
                argv.append(str(copy))
            result = self.runner(argv)
        if result.returncode != 0:
            raise UpdateError(f"{version} failed its start-up checks: {_tail(result)}")

    def _switch_and_prove(self, old: str, new: str, timeout: float) -> dict[str, Any]:
        prefix = self.layout.prefix
        self.progress("switch", f"current: {old} -> {new} (previous: {old})")
        switched_at = self.clock()
        config = self.config if self.config is not None and self.config.is_file() else None
        if config is not None:
            guard.keep_config(prefix, old, config)  # as old reads it, should we come back
        guard.point_link(self.layout.previous, f"releases/{old}")
        guard.point_link(self.layout.current, f"releases/{new}")
        guard.start_trial(prefix, new, old, now=switched_at, config=config)
        problem = self._restart_and_wait(new, timeout)
        if problem is None:
            self.progress("done", f"{new} runs and showed its first frame")
            doomed = self._doomed(new)
            self._remove(doomed)
            return self._note("update", "ok", old, new, f"{new} started and confirmed")
        self.progress("rollback", f"{problem}; going back to {old}")
        guard.point_link(self.layout.current, f"releases/{old}")
        guard.point_link(self.layout.previous, f"releases/{new}")
        self.layout.trial.unlink(missing_ok=True)
        problem += self._config_for(old)
        again = self._restart()
        reason = problem + ("" if again is None else f"; restarting {old} failed too: {again}")
        entry = self._note("update", "rolled_back", old, new, reason)
        raise UpdateError(f"{new} was rolled back to {old}: {entry['reason']}")

    def _restart(self) -> str | None:
        result = self.runner(["systemctl", "restart", UNIT_NAME])
        return None if result.returncode == 0 else f"systemctl restart failed: {_tail(result)}"

    def _restart_and_wait(self, release: str, timeout: float) -> str | None:
        """None once the host of ``release`` showed its first frame with its checks
        passed; else why not.

        A start record counts when it names ``release`` and is not the one there before
        the restart (another pid or time): no wall-clock comparison, since a Pi without a
        real-time clock may jump when NTP answers, right after a restart."""
        before = read_started(self.data_dir)
        self.progress("restart", f"restarting {UNIT_NAME}")
        if (problem := self._restart()) is not None:
            return problem
        self.progress("wait", f"waiting up to {timeout:g} s for {release}'s first frame")
        deadline = self.clock() + timeout
        while True:
            started = read_started(self.data_dir)
            if started is not None and started != before and started.get("release") == release:
                problems = started.get("problems") or []
                if problems:
                    return f"{release} started with failed checks: {'; '.join(map(str, problems))}"
                return None
            failed = self.runner(["systemctl", "is-failed", "--quiet", UNIT_NAME])
            if failed.returncode == 0:
                return f"{UNIT_NAME} failed after starting {release}"
            if self.clock() >= deadline:
                return f"{release} showed no first frame within {timeout:g} s"
            self.sleep(1.0)

    # -- rollback ----------------------------------------------------------------------

    def rollback(self, timeout: float = CONFIRM_TIMEOUT, dry_run: bool = False) -> dict[str, Any]:
        """Go back to ``previous`` on request (the current one becomes previous).

        :raises UpdateError: without a previous release, or when it does not start.
        """
        old = self.current()
        back = guard.link_target(self.layout.previous)
        if back is None or not guard.is_release(self.layout.prefix, back):
            raise UpdateError(f"no previous release to roll back to (current: {old})")
        if dry_run:
            return {"result": "dry_run", "from": old, "to": back, "would_remove": []}
        with one_at_a_time(self.layout.prefix):
            return self._roll_back(old, back, timeout)

    def _roll_back(self, old: str, back: str, timeout: float) -> dict[str, Any]:
        self.progress("switch", f"current: {old} -> {back} (previous: {old})")
        if self.config is not None and self.config.is_file():
            guard.keep_config(self.layout.prefix, old, self.config)
        guard.point_link(self.layout.previous, f"releases/{old}")
        guard.point_link(self.layout.current, f"releases/{back}")
        self.layout.trial.unlink(missing_ok=True)
        restored = self._config_for(back)
        problem = self._restart_and_wait(back, timeout)
        if problem is not None:
            self._note("rollback", "failed", old, back, problem + restored)
            raise UpdateError(f"rolled back to {back}, but it did not prove itself: {problem}")
        self.progress("done", f"{back} runs again")
        return self._note("rollback", "ok", old, back, "asked for" + restored)

    def _config_for(self, release: str) -> str:
        """Going back to ``release``: its copy of the config, if a newer release upgraded
        the file's format since (:func:`guard.restore_config`); ``"; <what was done>"`` for
        the record, or ``""``."""
        if self.config is None or not self.config.is_file():
            return ""
        restored = guard.restore_config(self.layout.prefix, release, self.config)
        if restored is None:
            return ""
        self.progress("config", restored)
        return f"; {restored}"

    def _note(self, action: str, result: str, old: str, new: str, reason: str) -> dict[str, Any]:
        entry = {"action": action, "result": result, "from": old, "to": new,
                 "by": "self-update", "reason": reason}  # fmt: skip
        return guard.record(self.layout.prefix, entry, self.clock())
