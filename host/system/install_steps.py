"""The install's steps, in order (:func:`build_steps`); :mod:`host.system.install` runs them.

Each step's ``pending`` looks at the system and says what it would change, or ``None``
when nothing; ``apply`` changes it. So a second run, and a dry run, follow the same code.

1. accounts: the ``ledhost`` system group and user (the web process's; workers get uids
   of their own). ``groupadd``/``useradd --system``, with ``--root`` for a throwaway root.
2. folders: every folder of :class:`PiLayout` with its owner and mode
   (:mod:`host.system.ownership`).
3. venv: ``python3 -m venv`` at :meth:`PiLayout.release` for the version.
4. ledhost: ``pip install`` of the checkout, wheel or index requirement into that venv.
5. rgbmatrix: hzeller's binding. Its maintainers build it from the repository root with
   pip (``pyproject.toml``: scikit-build-core, CMake and Cython; the older ``make
   build-python``/``install-python`` targets called ``setup.py`` directly, which Adafruit's
   installer dropped, leaving users without the module). Here: ``pip wheel`` once into
   :attr:`PiLayout.wheels` (from a folder or a ``git clone --depth 1`` of a URL), then
   ``pip install`` of that wheel, so later releases reuse it instead of compiling again.
   Its Pillow shim needs Pillow's ``Imaging.h``, which Pillow's wheels lack: the headers
   come from the sdist of the Pillow the release has (``CPATH``), as docs/panel.md found.
6. current: the ``current`` link to the release (the one it replaces becomes ``previous``).
7. guard: the start guard copied outside every release (:attr:`PiLayout.guard`).
8. config, secrets: written when missing, never overwritten.
9. unit: :func:`host.system.unit.render_unit`, rewritten when it differs.
10. ownership: every path as :func:`host.system.ownership.rules` says.
11. tweaks: only with consent (:mod:`host.system.tweaks`).
12. service: ``systemctl daemon-reload``, ``enable``, ``restart`` (root ``/`` only, when
    systemd runs and something changed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import config
from config.atomic import atomic_write
from host.system import ownership
from host.system.install_base import (
    InstallError,
    InstallOptions,
    Source,
    Step,
    Todo,
    check_inside,
)
from host.system.layout import SERVICE_USER, PiLayout
from host.system.tweaks import Tweak, tweaks_for
from host.system.unit import render_unit

__all__ = ["build_steps", "installed_config_text"]

#: The config shipped inside ledhost, the base of an installed one.
DEFAULT_CONFIG = Path(config.__file__).resolve().parent / "default.toml"
#: In the binding's source: its shim that includes Pillow's ``Imaging.h``.
PILLOW_SHIM = Path("bindings/python/rgbmatrix/shims/pillow.c")
GIT_URL = re.compile(r"(https://|git@|ssh://|git://)\S+")


def _run(
    argv: list[str], what: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> str:
    """Run one command; its output is returned, a failure is an :class:`InstallError`."""
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            check=False,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except OSError as exc:
        raise InstallError(f"{what}: cannot run {argv[0]}: {exc.strerror}") from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise InstallError(f"{what} failed (exit {done.returncode}):\n{tail}")
    return done.stdout


def _has_entry(path: Path, name: str) -> bool:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return False
    return any(line.split(":", 1)[0] == name for line in lines)


def installed_config_text(layout: PiLayout) -> str:
    """The config an install writes: the shipped default, with the data dir of the
    installed layout (``/var/lib/ledhost``; a home folder is out of the service's reach)
    and the web process on (a headless Pi is managed from its admin page)."""
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^data_dir = ""$', f'data_dir = "{layout.data_dir}"', text, count=1)
    text = re.sub(r"(?m)^(\[web\](?:\n#.*)*\n)enabled = false$", r"\1enabled = true", text)
    return text


class Steps:
    """Builds the step list for one install; holds what the steps share."""

    def __init__(self, options: InstallOptions, root: Path, source: Source, out: TextIO) -> None:
        self.options = options
        self.root = root
        self.source = source
        self.out = out
        self.layout = PiLayout(root)
        #: The paths as the running service sees them (root ``/``), for file contents.
        self.target = PiLayout()
        self.release = self.layout.release(source.version)
        self.python = self.release / "bin" / "python"
        self.changed_before_service = False
        self._check_binding_source(options.rgbmatrix)
        self.consent = self._consent()

    @staticmethod
    def _check_binding_source(source: str | None) -> None:
        """:raises InstallError: ``--rgbmatrix`` is neither a git URL nor a source folder."""
        if source is None or GIT_URL.fullmatch(source):
            return
        folder = Path(source)
        if not (folder / "pyproject.toml").is_file() and not (folder / "setup.py").is_file():
            raise InstallError(
                f"--rgbmatrix {source}: not a git URL (https://...) and no pyproject.toml "
                "there; give the root of an rpi-rgb-led-matrix checkout or its git URL"
            )

    def _consent(self) -> bool:
        if self.options.tweaks is not None:
            return self.options.tweaks
        if self.options.dry_run or self.options.undo_tweaks or not sys.stdin.isatty():
            return False
        pending = [t for t in tweaks_for(self.root) if not t.applied()]
        if not pending:
            return False
        print("System tweaks that help the panel (each can be undone with --undo-tweaks):")
        for tweak in pending:
            print(f"  - {tweak.describe}")
        return input("Apply them? [y/N] ").strip().lower() in ("y", "yes")

    def _useradd_root(self) -> list[str]:
        return [] if self.root == Path("/") else ["--root", str(self.root)]

    # -- 1. accounts --------------------------------------------------------------------

    def accounts(self) -> Step:
        etc = self.root / "etc"

        def pending() -> Todo | None:
            if not (etc / "passwd").is_file():
                raise InstallError(f"{etc / 'passwd'} is missing: {self.root} is not a system root")
            missing = [
                what
                for what, file in (("group", "group"), ("user", "passwd"))
                if not _has_entry(etc / file, SERVICE_USER)
            ]
            if not missing:
                return None
            return Todo(f"create the system {' and '.join(missing)} {SERVICE_USER!r}")

        def apply() -> None:
            check_inside(self.root, etc / "passwd")
            if not _has_entry(etc / "group", SERVICE_USER):
                _run(["groupadd", "--system", *self._useradd_root(), SERVICE_USER], "groupadd")
            if not _has_entry(etc / "passwd", SERVICE_USER):
                argv = ["useradd", "--system", *self._useradd_root(), "--gid", SERVICE_USER]
                argv += ["--home-dir", str(self.target.data_dir), "--no-create-home"]
                argv += ["--shell", "/usr/sbin/nologin", "--comment", "ledhost LED sign"]
                _run([*argv, SERVICE_USER], "useradd")

        return Step("accounts", pending, apply)

    # -- 2. / 10. folders and ownership ----------------------------------------------------

    def ownership(self, name: str) -> Step:
        def pending() -> Todo | None:
            accounts = ownership.Accounts.of(self.root)
            if accounts.gid(SERVICE_USER) is None:  # dry run before the accounts exist
                return Todo("create and own ledhost's folders") if name == "folders" else None
            changes = ownership.fix(self.layout, accounts, dry_run=True)
            return Todo("; ".join(changes)) if changes else None

        def apply() -> None:
            for rule in ownership.rules(self.layout):
                # A folder itself a symlink (planted /etc/ledhost -> /etc) is refused too.
                check_inside(self.root, rule.path / "_" if rule.kind == "dir" else rule.path)
            ownership.fix(self.layout)

        return Step(name, pending, apply)

    # -- 3.-5. venv, ledhost, rgbmatrix ------------------------------------------------

    def venv(self) -> Step:
        def pending() -> Todo | None:
            if self.python.exists():
                return None
            return Todo(f"create the venv {self.release} with {self.options.python}")

        def apply() -> None:
            check_inside(self.root, self.release)
            _run([self.options.python, "-m", "venv", str(self.release)], "python -m venv")

        return Step("venv", pending, apply)

    def _pip(self, *args: str) -> list[str]:
        pip = [str(self.python), "-m", "pip", "--disable-pip-version-check", "--no-input"]
        return [*pip, *args, *self.options.pip_args]

    def _installed(self, dist: str) -> str | None:
        if not self.python.exists():
            return None
        code = (
            "import importlib.metadata as m, sys\n"
            "try: print(m.version(sys.argv[1]))\n"
            "except m.PackageNotFoundError: pass"
        )
        argv = [str(self.python), "-I", "-c", code, dist]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.stdout.strip() or None

    def ledhost(self) -> Step:
        def pending() -> Todo | None:
            if self._installed("ledhost") == self.source.version:
                return None
            return Todo(f"pip install {self.source.target} into {self.release}")

        def apply() -> None:
            _run(self._pip("install", self.source.target), "pip install ledhost")

        return Step("ledhost", pending, apply)

    def _binding_wheel(self) -> Path | None:
        wheels = sorted(self.layout.wheels.glob("rgbmatrix-*.whl"), key=lambda p: p.stat().st_mtime)
        return wheels[-1] if wheels else None

    def rgbmatrix(self) -> Step:
        source = self.options.rgbmatrix

        def pending() -> Todo | None:
            if self._installed("rgbmatrix") is not None:
                return None
            wheel = self._binding_wheel()
            if wheel is not None:
                return Todo(f"pip install the built binding {wheel}")
            if source is None:
                return Todo(
                    "no rpi-rgb-led-matrix source (--rgbmatrix DIR or git URL) and no built "
                    f"wheel in {self.layout.wheels}: the host shows on the headless backend "
                    "until the binding is installed",
                    skip=True,
                )
            return Todo(
                f"build the rgbmatrix binding from {source} into {self.layout.wheels} "
                "(several minutes on a Pi; docs/pi.md), then pip install it"
            )

        def apply() -> None:
            wheel = self._binding_wheel()
            if wheel is None:
                assert source is not None
                wheel = self._build_binding(source)
            _run(self._pip("install", "--no-deps", str(wheel)), "pip install rgbmatrix")

        return Step("rgbmatrix", pending, apply)

    def _build_binding(self, source: str) -> Path:
        check_inside(self.root, self.layout.wheels / "x")
        with tempfile.TemporaryDirectory(prefix="ledhost-rgbmatrix-") as tmp:
            folder = Path(source)  # checked by _check_binding_source
            if GIT_URL.fullmatch(source):
                folder = Path(tmp) / "src"
                _run(["git", "clone", "--depth", "1", "--", source, str(folder)], "git clone")
            built = Path(tmp) / "wheels"
            env = None
            if (folder / PILLOW_SHIM).is_file():
                env = {**os.environ, "CPATH": str(self._pillow_headers(Path(tmp)))}
            argv = self._pip("wheel", "--no-deps", "--wheel-dir", str(built), str(folder))
            _run(argv, "building the rgbmatrix binding", env=env)
            found = sorted(built.glob("rgbmatrix-*.whl"))
            if not found:
                raise InstallError(f"--rgbmatrix {source}: the build made no rgbmatrix wheel")
            self.layout.wheels.mkdir(parents=True, exist_ok=True)
            target = self.layout.wheels / found[-1].name
            shutil.copyfile(found[-1], target)
            os.chmod(target, 0o644)
            return target

    def _pillow_headers(self, tmp: Path) -> Path:
        """The folder holding Pillow's ``Imaging.h``, for the binding's Pillow shim.

        Pillow's wheels do not ship its C headers, and the shim reads Pillow's own struct,
        so the headers must be those of the Pillow the release runs: its sdist, unpacked
        (docs/panel.md, "Building the rgbmatrix binding").
        """
        version = self._installed("pillow")
        if version is None:
            raise InstallError("the release has no Pillow: install ledhost into it first")
        dest = tmp / "pillow"
        argv = self._pip("download", "--no-deps", "--no-binary", ":all:", "--dest", str(dest))
        _run([*argv, f"pillow=={version}"], f"downloading the Pillow {version} sources")
        for sdist in dest.glob("*.tar.gz"):
            with tarfile.open(sdist) as tar:
                tar.extractall(dest, filter="data")
        for header in dest.glob("*/src/libImaging/Imaging.h"):
            return header.parent
        raise InstallError(f"the Pillow {version} sources hold no src/libImaging/Imaging.h")

    # -- 6.-9. current link, guard, config, unit -------------------------------------------

    def current(self) -> Step:
        link = self.layout.current
        want = Path("releases") / self.source.version

        def pending() -> Todo | None:
            if link.is_symlink() and Path(os.readlink(link)) == want:
                return None
            if link.exists() and not link.is_symlink():
                raise InstallError(f"{link} exists and is not a symlink; move it away")
            running = Path(os.readlink(link)).name if link.is_symlink() else None
            if running and self.options.source_given is False and _newer(running, want.name):
                # Re-running the install from an old checkout after a self-update must not
                # downgrade the sign; naming a source (--source) does, on purpose.
                return Todo(
                    f"{link} is {running}, newer than {want.name}: kept (pass --source to "
                    "install this one anyway)",
                    skip=True,
                )
            return Todo(f"point {link} at {want}")

        def apply() -> None:
            check_inside(self.root, link)
            if link.is_symlink():
                _replace_link(self.layout.previous, Path(os.readlink(link)))
            _replace_link(link, want)

        return Step("current", pending, apply)

    def guard(self) -> Step:
        source = Path(__file__).with_name("guard.py")

        def pending() -> Todo | None:
            if not source.is_file():
                return Todo(
                    f"no start guard in this ledhost ({source} is missing): not copied; the "
                    "unit's ExecStartPre needs it",
                    skip=True,
                )
            if _read(self.layout.guard) == source.read_bytes():
                return None
            return Todo(f"copy the start guard to {self.layout.guard}")

        def apply() -> None:
            check_inside(self.root, self.layout.guard)
            atomic_write(self.layout.guard, source.read_bytes(), mode=0o644)

        return Step("guard", pending, apply)

    def new_file(self, name: str, path: Path, text: str, mode: int) -> Step:
        """A file written once and never overwritten (the user's config and secrets)."""

        def pending() -> Todo | None:
            if path.exists() or path.is_symlink():
                return None
            return Todo(f"write {path}")

        def apply() -> None:
            check_inside(self.root, path)
            atomic_write(path, text, mode=mode)

        return Step(name, pending, apply)

    def unit(self) -> Step:
        text = render_unit(self.target).encode()

        def pending() -> Todo | None:
            if _read(self.layout.unit) == text:
                return None
            return Todo(f"write the systemd unit {self.layout.unit}")

        def apply() -> None:
            check_inside(self.root, self.layout.unit)
            self.layout.unit.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.layout.unit, text, mode=0o644)

        return Step("unit", pending, apply)

    # -- 11. tweaks, 12. service -----------------------------------------------------------

    def tweak(self, tweak: Tweak) -> Step:
        undo = self.options.undo_tweaks

        def pending() -> Todo | None:
            if undo:
                return Todo(f"undo: {tweak.describe}") if tweak.applied() else None
            if tweak.applied():
                return None
            if not self.consent:
                return Todo(f"{tweak.describe} (pass --tweaks to apply)", skip=True)
            return Todo(tweak.describe + " (after the next reboot)")

        def apply() -> None:
            if undo:
                tweak.undo()
            else:
                tweak.apply()

        return Step(f"tweak {tweak.name}", pending, apply)

    def service(self) -> Step:
        def pending() -> Todo | None:
            if self.root != Path("/") or not self.options.start:
                why = "--no-start" if self.options.start is False else f"--root {self.root}"
                return Todo(f"not starting the service ({why})", skip=True)
            if not Path("/run/systemd/system").is_dir():
                return Todo("systemd is not running here; start ledhost yourself", skip=True)
            active = subprocess.run(
                ["systemctl", "is-active", "--quiet", "ledhost"], check=False
            ).returncode
            if active == 0 and not self.changed_before_service:
                return None
            return Todo("systemctl daemon-reload, enable and restart ledhost")

        def apply() -> None:
            _run(["systemctl", "daemon-reload"], "systemctl daemon-reload")
            _run(["systemctl", "enable", "ledhost"], "systemctl enable")
            _run(["systemctl", "restart", "ledhost"], "systemctl restart")

        return Step("service", pending, apply)


def _version_key(version: str) -> tuple[int, ...]:
    """A sort key from a version's numbers (``1.10.0`` after ``1.9.2``); enough to tell a
    newer release from an older one without the ``packaging`` library."""
    return tuple(int(n) for n in re.findall(r"\d+", version.split("+")[0]))


def _newer(a: str, b: str) -> bool:
    """Whether version ``a`` is newer than ``b``."""
    return _version_key(a) > _version_key(b)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _replace_link(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` in one atomic rename (never a moment without it)."""
    tmp = link.with_name(f".{link.name}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def build_steps(options: InstallOptions, root: Path, source: Source, out: TextIO) -> list[Step]:
    """Every step of one install (or, with ``undo_tweaks``, of undoing the tweaks)."""
    s = Steps(options, root, source, out)
    tweaks = [s.tweak(t) for t in tweaks_for(root)]
    if options.undo_tweaks:
        return tweaks
    layout, target = s.layout, s.target
    steps = [
        s.accounts(),
        s.ownership("folders"),
        s.venv(),
        s.ledhost(),
        s.rgbmatrix(),
        s.current(),
        s.guard(),
        s.new_file("config", layout.config, installed_config_text(target), 0o640),
        s.new_file("secrets", layout.secrets, "# Plugin secrets: [plugins.<id>] keys.\n", 0o600),
        s.unit(),
        s.ownership("ownership"),
        *tweaks,
    ]
    for step in steps:
        step.apply = _marking(s, step.apply)
    return [*steps, s.service()]


def _marking(s: Steps, apply: Callable[[], None]) -> Callable[[], None]:
    """``apply``, then note that the service must be restarted."""

    def wrapped() -> None:
        apply()
        s.changed_before_service = True

    return wrapped
