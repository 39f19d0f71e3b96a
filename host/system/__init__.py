"""ledhost as a service on a Raspberry Pi: where it is installed, how systemd runs it, and
what can be checked about the machine it runs on.

Nothing here runs on the display path. :mod:`host.system.layout` names every path of an
installed ledhost (the install script, the systemd unit, self-update and ``ledhost
doctor`` all read them from there, so they never disagree about where things are).

- :mod:`host.system.install` (with ``install_base``, ``install_steps``, ``tweaks``): the
  idempotent install ``deploy/install.sh`` runs; standard library only.
- :mod:`host.system.unit`: the systemd unit, and the capabilities the host keeps.
- :mod:`host.system.sdnotify`: READY, STATUS, WATCHDOG and STOPPING for ``Type=notify``.
- :mod:`host.system.ownership`: who owns what, what is wrong, and the fix.
- :mod:`host.system.webuser`: which user the web process runs as.

Self-update: :mod:`host.system.selfupdate` (install, check, switch, prove, roll back),
:mod:`host.system.guard` (the stdlib-only start guard), :mod:`host.system.started` (the
host's start record) and :mod:`host.system.selfupdate_index` (the package index).
"""
