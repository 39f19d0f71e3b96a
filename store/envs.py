"""One isolated environment per plugin version: ``envs/<id>/<version>/``.

The recipe (checked in DESIGN.md, Store):

1. ``python -m venv --without-pip <env>``: an interpreter of its own, no pip copied in.
2. ``<env>/.../site-packages/_ledhost.pth`` with ``import site; site.addsitedir(...)``
   for each of ledhost's own site-packages folders: the env sees ledhost's packages
   (sdk, numpy, Pillow, ...) without copying them, *after* its own site-packages, and
   ledhost's ``.pth`` files run too (an editable ledhost is found through its finder,
   which a bare path line would skip).
3. ``pip --python <env>/bin/python install --only-binary=:all: <wheel>``: pip sees
   ledhost's distributions through that ``.pth``, so a dependency ledhost already has
   in an accepted version is not installed again; one it lacks, or needs in another
   version, lands in the env alone ("Not uninstalling ..., outside environment"), and
   ledhost's environment stays untouched. ``uv`` (setting ``installer = "uv"``) does the
   same with ``uv pip install``, about 8x faster, but does not look through ``.pth``
   folders: a dependency ledhost already has is fetched again into the env, or, offline,
   not found at all (figures in docs/store.md; ``benchmarks/store_installers.py``).
4. :func:`shadows`: which of ledhost's distributions or importable top-level names the
   env now holds a version of its own of; such a plugin's worker is spawned with the
   env's interpreter, never forked from ledhost's zygote (which has ledhost's imported).
5. The marker (:data:`store.layout.MARKER`) is written last.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import site
import stat
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Final

import config
from config.atomic import atomic_write
from store.errors import InstallError, WheelRefused
from store.layout import MARKER
from store.settings import StoreSettings
from store.sources import Source
from store.wheels import STARTUP_MODULES, normalise

__all__ = [
    "WORKER_CORE",
    "check_no_startup_code",
    "create_env",
    "open_for_workers",
    "host_site_dirs",
    "install_into",
    "shadows",
    "site_dir",
    "write_marker",
]

_PTH: Final = "_ledhost_host.pth"
#: What a worker itself imports before any plugin code (its wire, its canvas): one
#: process holds one version of each, so a plugin cannot bring its own
#: (``tests/test_store_install.py`` checks this against a real worker's imports).
WORKER_CORE: Final = frozenset(
    {"msgspec", "numpy", "pillow", "PIL", "pluggy", "typing-extensions", "typing_extensions"}
)
#: Output kept from a failed installer run (its last lines say why).
_TAIL: Final = 1500


def site_dir(env: Path) -> Path:
    """The env's site-packages (same Python version as ledhost's)."""
    return env / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"


def host_site_dirs() -> list[str]:
    """ledhost's own site-packages folders, and the folder holding its packages when that
    is none of them (an editable install from a checkout)."""
    dirs = [d for d in site.getsitepackages() if os.path.isdir(d)]
    ours = str(Path(config.__file__).resolve().parent.parent)
    if ours not in dirs:
        dirs.append(ours)
    return dirs


def create_env(env: Path, *, see_host: bool = True) -> None:
    """Make a venv without pip at ``env`` that sees ledhost's packages (``see_host``; a
    release of ledhost itself, made by self-update, sees only its own)."""
    base = getattr(sys, "_base_executable", sys.executable)
    result = subprocess.run(
        [base, "-m", "venv", "--without-pip", str(env)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise InstallError(f"cannot create an environment at {env}: {result.stderr[-_TAIL:]}")
    if not see_host:
        return
    lines = "".join(f"import site; site.addsitedir({d!r})\n" for d in host_site_dirs())
    atomic_write(site_dir(env) / _PTH, lines)


def installer_command(settings: StoreSettings, env: Path, *targets: str) -> list[str]:
    """The installer command line for ``targets`` (wheel files or ``name==version``)."""
    python = str(env / "bin" / "python")
    index = ["--index-url", settings.index_url] if settings.index_url else ["--no-index"]
    for link in settings.find_links:
        index += ["--find-links", link]
    if settings.installer == "uv":
        uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
        return [
            uv,
            "pip",
            "install",
            "--python",
            python,
            "--only-binary",
            ":all:",
            *index,
            *targets,
        ]
    return [
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--only-binary=:all:",
        "--no-input",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        *index,
        *targets,
    ]


def install_into(settings: StoreSettings, env: Path, target: str, *more: str) -> None:
    """Run the installer for ``target`` (and ``more``) into ``env``.

    :raises InstallError: with the installer's last lines (a dependency that cannot be
        found as a wheel, a conflict).
    """
    env_vars = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    try:
        result = subprocess.run(
            installer_command(settings, env, target, *more),
            capture_output=True,
            text=True,
            check=False,
            env=env_vars,
            stdin=subprocess.DEVNULL,
            timeout=1800,
        )
    except FileNotFoundError:
        raise InstallError(
            f'[store] installer = "{settings.installer}", but it is not installed here '
            f'(pip install {settings.installer}, or set installer = "pip")'
        ) from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"{settings.installer} could not run: {exc}") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip()[-_TAIL:]
        raise InstallError(f"{settings.installer} failed to install {target}:\n{tail}")


def shadows(env: Path, own: str) -> tuple[str, ...]:
    """Names in ``env`` that ledhost's own environment also has (``own``: the plugin's
    distribution, not counted)."""
    host_dists = {normalise(d.metadata["Name"] or "") for d in importlib.metadata.distributions()}
    found: set[str] = set()
    site_packages = site_dir(env)
    for dist in importlib.metadata.distributions(path=[str(site_packages)]):
        name = normalise(dist.metadata["Name"] or "")
        if name != normalise(own) and name in host_dists:
            found.add(name)
    for entry in site_packages.iterdir():
        name = entry.name
        if name.endswith((".dist-info", ".pth")) or name.startswith(("_", ".")):
            continue
        top = name.split(".", 1)[0]
        if top.isidentifier() and importlib.util.find_spec(top) is not None:
            found.add(top)
    return tuple(sorted(found))


def write_marker(
    env: Path,
    *,
    plugin_id: str,
    version: str,
    distribution: str,
    source: Source,
    sha256: str | None,
    shadowed: tuple[str, ...],
    now: float | None = None,
) -> None:
    """Write the marker, last: from now on the env counts as complete."""
    body = {
        "id": plugin_id,
        "version": version,
        "distribution": distribution,
        "source": source.to_dict(),
        "sha256": sha256,
        "installed_at": time.time() if now is None else now,
        "site": str(site_dir(env).relative_to(env)),
        "shadows": list(shadowed),
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "platform": sysconfig.get_platform(),
    }
    atomic_write(env / MARKER, json.dumps(body, indent=1) + "\n")


def open_for_workers(env: Path) -> None:
    """Make ``env`` readable (never writable) by other users, whatever the umask: a worker
    that dropped root runs as a uid of its own and must import from it."""
    for folder, dirs, files in os.walk(env):
        for name in dirs + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                continue
            extra = 0o055 if stat.S_ISDIR(info.st_mode) or info.st_mode & 0o100 else 0o044
            mode = stat.S_IMODE(info.st_mode)
            if mode & extra != extra:
                os.chmod(path, (mode | extra) & ~0o022)
    os.chmod(env, 0o755)


def check_no_startup_code(env: Path) -> None:
    """Refuse an env in which a dependency installed a ``.pth`` file of its own (or a
    ``sitecustomize``/``usercustomize`` module).

    A ``.pth`` runs at every start of the env's interpreter, before anything else: a
    spawned worker starts as root and drops privileges only later, so such a file would
    run as root. Wheels the store checks cannot ship one; a dependency pip fetched could.
    """
    found = sorted(
        p.name
        for p in site_dir(env).iterdir()
        if (p.suffix == ".pth" and p.name != _PTH) or p.name.split(".")[0] in STARTUP_MODULES
    )
    if found:
        raise WheelRefused(
            f"a dependency installed {', '.join(found)} into the plugin's environment: "
            "these run code at every interpreter start (as root, before the worker "
            "drops privileges); not installed"
        )
