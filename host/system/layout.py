"""Where an installed ledhost lives on a Pi: one place that names every path.

The install script, the systemd unit it writes, self-update (with rollback) and ``ledhost
doctor`` all take their paths from :class:`PiLayout`, so they cannot disagree. Every path
hangs off a ``root`` (``/`` on a Pi) so tests install into a throwaway folder.

The layout, for ``root=/``::

    /opt/ledhost/releases/<version>/   one venv per installed ledhost release
    /opt/ledhost/current  -> releases/<version>   what the service runs
    /opt/ledhost/previous -> releases/<version>   what a rollback goes back to
    /opt/ledhost/wheels/               wheels built once (the rgbmatrix binding)
    /opt/ledhost/guard.py              stdlib-only start guard (rolls back a release that
                                       cannot start; run by the unit's ExecStartPre)
    /etc/ledhost/config.toml           the config (root:ledhost 0640)
    /etc/ledhost/secrets.toml          plugin secrets (root:root 0600; the host's alone)
    /var/lib/ledhost/                  paths.data_dir: plugin data, the store, state
    /var/lib/ledhost/web/              the web process's own state (ledhost:ledhost 0700)
    /var/lib/ledhost/mqtt/             the MQTT bridge's home (ledhost:ledhost 0700)
    /etc/systemd/system/ledhost.service

Releases are folders named by version so that switching is one atomic symlink replace and a
rollback needs no download. The service always runs ``current/bin/ledhost``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The system user the web process and (where no per-instance uid applies) workers run as.
SERVICE_USER = "ledhost"
#: The systemd unit's name.
UNIT_NAME = "ledhost.service"


@dataclass(frozen=True)
class PiLayout:
    """Every path of one installed ledhost, under ``root``."""

    root: Path = Path("/")

    @property
    def prefix(self) -> Path:
        """Where releases, the ``current``/``previous`` links and built wheels live."""
        return self.root / "opt" / "ledhost"

    @property
    def releases(self) -> Path:
        return self.prefix / "releases"

    def release(self, version: str) -> Path:
        """The venv of one release; ``version`` must already be a checked version string."""
        if not version or "/" in version or version.startswith("."):
            raise ValueError(f"not a release version: {version!r}")
        return self.releases / version

    @property
    def current(self) -> Path:
        return self.prefix / "current"

    @property
    def previous(self) -> Path:
        return self.prefix / "previous"

    @property
    def wheels(self) -> Path:
        return self.prefix / "wheels"

    @property
    def guard(self) -> Path:
        """A copy of :mod:`host.system.guard` outside every release, so a release that
        cannot even import still gets rolled back."""
        return self.prefix / "guard.py"

    @property
    def trial(self) -> Path:
        """The release on trial after a self-update (:mod:`host.system.guard`)."""
        return self.prefix / "trial.json"

    @property
    def update_history(self) -> Path:
        """What self-update and the start guard did, newest last."""
        return self.prefix / "updates.json"

    @property
    def etc(self) -> Path:
        return self.root / "etc" / "ledhost"

    @property
    def config(self) -> Path:
        return self.etc / "config.toml"

    @property
    def secrets(self) -> Path:
        return self.etc / "secrets.toml"

    @property
    def data_dir(self) -> Path:
        return self.root / "var" / "lib" / "ledhost"

    @property
    def web_dir(self) -> Path:
        """The web process's own files (login store, session key): it runs as
        :data:`SERVICE_USER` and writes only here (:mod:`host.system.webuser`)."""
        return self.data_dir / "web"

    @property
    def bridge_dir(self) -> Path:
        """The MQTT bridge's home (it keeps nothing there yet): it runs as
        :data:`SERVICE_USER` where it can (:mod:`host.system.webuser`)."""
        return self.data_dir / "mqtt"

    @property
    def unit(self) -> Path:
        return self.root / "etc" / "systemd" / "system" / UNIT_NAME

    @property
    def ledhost_bin(self) -> Path:
        """The command the service runs: always through the ``current`` link."""
        return self.current / "bin" / "ledhost"
