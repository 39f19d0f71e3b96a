"""Which user the web process runs as: the ``ledhost`` user where that works.

The web process listens on the network; if it ran as root (as the host does), a flaw in
it or in a library it uses would be a root shell on the Pi. So when the host is root and
the system has the user :data:`~host.system.layout.SERVICE_USER` (made by the install),
the web process runs as that user, with its group (the control socket's, see
:mod:`host.control.listen`) and nothing else:

- its own state (login store ``web-auth.json``, session key ``web-session.key``) moves
  to ``<data_dir>/web``, a folder of its own (``0700``); files an earlier root web
  process left in the data dir are moved there once, so nobody has to log in again;
- before relying on it, one probe run as that user checks it can run ledhost's Python
  and import the web package, read the config file, and enter its folder. If not (a venv
  under ``/root``, a config only root may read) the web process runs as root as before,
  and the log says why and what to change;
- a ``[web] port`` below 1024 keeps it root too (only root may bind those).

Interface: :func:`web_identity` returns the :class:`~host.supervise.web_child.WebIdentity`
to give :class:`~host.supervise.web_child.WebChild`, or ``None``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import subprocess
import sys
from pathlib import Path
from stat import S_ISDIR

from config import HostConfig
from host.supervise.web_child import WebIdentity
from host.system.layout import SERVICE_USER

__all__ = ["STATE_FILES", "web_identity"]

log = logging.getLogger(__name__)

#: The web process's own files (``host/cli/web_commands.py``, ``web/session_key.py``).
STATE_FILES = ("web-auth.json", "web-session.key")

_PROBE = (
    "import os, sys\n"
    "import web.server\n"
    "if sys.argv[1]:\n"
    "    open(sys.argv[1], 'rb').close()\n"
    "os.listdir(sys.argv[2])\n"
)


def _prepare(state: Path, uid: int, gid: int) -> None:
    """Make the state folder, ``0700`` and the user's (a symlink there is refused)."""
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(state)
    if not S_ISDIR(st.st_mode):
        raise OSError(f"{state} is not a folder")
    if (st.st_uid, st.st_gid) != (uid, gid):
        os.chown(state, uid, gid, follow_symlinks=False)
    os.chmod(state, 0o700)


def _migrate(state: Path, uid: int, gid: int, data_dir: Path) -> None:
    """Move the state files an earlier root web process left in the data dir."""
    for name in STATE_FILES:
        old, new = data_dir / name, state / name
        if old.is_file() and not old.is_symlink() and not new.exists():
            os.replace(old, new)
            os.chown(new, uid, gid, follow_symlinks=False)
            log.info("web: moved %s to %s (the web process now runs as %s)", old, new, uid)


def _probe(uid: int, gid: int, config: Path | None, state: Path, python: str) -> str | None:
    """Run the probe as the user; ``None`` if it works, else what failed."""
    argv = [python, "-c", _PROBE, str(config or ""), str(state)]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(state)}
    try:
        done = subprocess.run(
            argv, user=uid, group=gid, extra_groups=[], cwd="/", env=env,
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


def web_identity(
    cfg: HostConfig, user: str = SERVICE_USER, python: str = sys.executable
) -> WebIdentity | None:
    """The identity the web process should run with, or ``None`` for the host's own.

    Call it as the host starts the web process: it creates the state folder.

    :param python: the interpreter the web process runs with (the host's).
    """
    if os.geteuid() != 0:
        return None  # not root: it runs as the host's user anyway
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        log.info("web: no user %r, so the web process runs as root (install it: docs/pi.md)", user)
        return None
    if cfg.web.port < 1024:
        log.warning(
            "web: port %d needs root, so the web process runs as root; a port of 1024 or "
            "more lets it run as %r",
            cfg.web.port,
            user,
        )
        return None
    uid, gid = entry.pw_uid, entry.pw_gid
    state = cfg.paths.data_dir / "web"
    try:
        _prepare(state, uid, gid)
    except OSError as exc:
        log.warning("web: cannot prepare %s (%s); the web process runs as root", state, exc)
        return None
    problem = _probe(uid, gid, cfg.path, state, python)
    if problem is not None:
        log.warning(
            "web: user %r cannot run the web process (%s), so it runs as root; install "
            "ledhost where that user can read it (deploy/install.sh) and give the config "
            "group %r (chgrp %s <config>; chmod 640 <config>)",
            user,
            problem,
            user,
            user,
        )
        with contextlib.suppress(OSError):
            os.chown(state, 0, 0)  # unused; the user gets nothing it would not use
        return None
    _migrate(state, uid, gid, cfg.paths.data_dir)
    log.info("web: the web process runs as %r (uid %d)", user, uid)
    return WebIdentity(uid, gid, state)
