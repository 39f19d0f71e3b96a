"""Which user the helper processes run as: the ``ledhost`` user where that works.

The web process and the MQTT bridge take input from the network; if they ran as root (as
the host does), a flaw in them or in a library they use would be a root shell on the Pi.
So when the host is root and the system has the user
:data:`~host.system.layout.SERVICE_USER` (made by the install), each runs as that user,
with its group (the control socket's, see :mod:`host.control.listen`) and nothing else:

- each has a state folder of its own (``0700``, the user's) that is its ``HOME``: the web
  process keeps its login store ``web-auth.json`` and session key ``web-session.key`` in
  ``<data_dir>/web`` (files an earlier root web process left in the data dir are moved
  there once, so nobody has to log in again); the bridge's is ``<data_dir>/mqtt``
  (:attr:`~host.system.layout.PiLayout.bridge_dir`);
- before relying on it, one probe run as that user checks it can run ledhost's Python
  and import the process's package, read the config file (and for the bridge its TLS
  files), and enter its folder. If not (a venv under ``/root``, a config or a key only
  root may read) the process runs as root as before, and the log says why and what to
  change;
- a ``[web] port`` below 1024 keeps the web process root too (only root may bind those).

The bridge's ``[mqtt] password`` stays in the secrets file, which only root reads: the
host hands it over on the bridge's stdin (:class:`~host.supervise.web_child.ChildProcess`
``stdin_data``), never in argv or the environment, where other processes could see it.

Interface: :func:`web_identity` and :func:`bridge_identity` return the
:class:`~host.supervise.web_child.WebIdentity` to give the
:class:`~host.supervise.web_child.ChildProcess`, or ``None``.
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

__all__ = ["STATE_FILES", "bridge_identity", "web_identity"]

log = logging.getLogger(__name__)

#: The web process's own files (``host/cli/web_commands.py``, ``web/session_key.py``).
STATE_FILES = ("web-auth.json", "web-session.key")

#: argv: the module to import, the folder to enter, then the files to read.
_PROBE = (
    "import importlib, os, sys\n"
    "importlib.import_module(sys.argv[1])\n"
    "os.listdir(sys.argv[2])\n"
    "for name in sys.argv[3:]:\n"
    "    open(name, 'rb').close()\n"
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


def _probe(
    uid: int, gid: int, module: str, state: Path, files: list[str], python: str
) -> str | None:
    """Run the probe as the user; ``None`` if it works, else what failed."""
    argv = [python, "-c", _PROBE, module, str(state), *files]
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


def _identity(
    cfg: HostConfig, what: str, module: str, files: list[str], user: str, python: str
) -> WebIdentity | None:
    """The identity ``what`` (``web``, ``mqtt``) runs with, or ``None`` for the host's own;
    prepares its state folder ``<data_dir>/<what>`` and probes it (see the module doc)."""
    if os.geteuid() != 0:
        return None  # not root: it runs as the host's user anyway
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        log.info("%s: no user %r, so it runs as root (install it: docs/pi.md)", what, user)
        return None
    uid, gid = entry.pw_uid, entry.pw_gid
    state = cfg.paths.data_dir / what
    try:
        _prepare(state, uid, gid)
    except OSError as exc:
        log.warning("%s: cannot prepare %s (%s); it runs as root", what, state, exc)
        return None
    if cfg.path is not None:
        files = [str(cfg.path), *files]
    problem = _probe(uid, gid, module, state, files, python)
    if problem is not None:
        log.warning(
            "%s: user %r cannot run it (%s), so it runs as root; install ledhost where that "
            "user can read it (deploy/install.sh) and give the config (and any TLS file it "
            "names) group %r (chgrp %s <file>; chmod 640 <file>)",
            what,
            user,
            problem,
            user,
            user,
        )
        with contextlib.suppress(OSError):
            os.chown(state, 0, 0)  # unused; the user gets nothing it would not use
        return None
    log.info("%s: runs as %r (uid %d)", what, user, uid)
    return WebIdentity(uid, gid, state)


def web_identity(
    cfg: HostConfig, user: str = SERVICE_USER, python: str = sys.executable
) -> WebIdentity | None:
    """The identity the web process should run with, or ``None`` for the host's own.

    Call it as the host starts the web process: it creates the state folder.

    :param python: the interpreter the web process runs with (the host's).
    """
    if os.geteuid() == 0 and cfg.web.port < 1024:
        log.warning(
            "web: port %d needs root, so the web process runs as root; a port of 1024 or "
            "more lets it run as %r",
            cfg.web.port,
            user,
        )
        return None
    identity = _identity(cfg, "web", "web.server", [], user, python)
    if identity is not None:
        _migrate(identity.state_dir, identity.uid, identity.gid, cfg.paths.data_dir)
    return identity


def bridge_identity(
    cfg: HostConfig, user: str = SERVICE_USER, python: str = sys.executable
) -> WebIdentity | None:
    """The identity the MQTT bridge should run with, or ``None`` for the host's own.

    The probe also reads ``[mqtt]``'s TLS files: the bridge must be able to.
    """
    tls = [f for f in (cfg.mqtt.ca_file, cfg.mqtt.client_cert, cfg.mqtt.client_key) if f]
    if any(f.startswith("~") for f in tls) and os.geteuid() == 0:
        # The bridge's HOME is its state folder: "~" would name another file there.
        log.warning("mqtt: TLS files given with '~' keep the bridge root; write them in full")
        return None
    return _identity(cfg, "mqtt", "host.mqtt.bridge", tls, user, python)
