"""The host's proof that it started: ``<data_dir>/state/started.json``, once per run.

Self-update (:mod:`host.system.selfupdate`) switches to a new release, restarts the
service and then waits for this file to name the new version, a new pid and a first frame
shown after the switch, with no start-up check failed. The host writes it once, when its
first frame reaches the panel (never per frame: an SD card wears out by writes), through
:func:`config.atomic.atomic_write`, so the updater never reads half of it.

When the host runs from a release of an installed ledhost (``<prefix>/releases/<version>``
is its ``sys.prefix``) and that release is on trial, a first frame with the checks passed
also confirms the trial (:func:`host.system.guard.confirm`): from then on the start guard
leaves it alone. A run whose start-up checks failed writes the file (the updater reads
why) but does not confirm.

Interface: :func:`started_path`, :func:`note_started` (the host, once), :func:`read_started`
(the updater).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from config.atomic import atomic_write, make_dirs
from host import __version__
from host.system import guard

log = logging.getLogger(__name__)


def started_path(data_dir: Path) -> Path:
    """Where a run's start record lives."""
    return Path(data_dir) / "state" / "started.json"


def release_prefix(python_prefix: str = sys.prefix) -> Path | None:
    """The installed ledhost's prefix (``/opt/ledhost``) when this interpreter is one of
    its releases (``<prefix>/releases/<version>``), else None (a checkout, a plain venv)."""
    # The service runs current/bin/ledhost: sys.prefix is then the link, not the release.
    release = Path(python_prefix).resolve()
    return release.parent.parent if release.parent.name == "releases" else None


def note_started(
    data_dir: Path,
    problems: Sequence[str],
    *,
    version: str = __version__,
    now: float | None = None,
    python_prefix: str = sys.prefix,
) -> bool:
    """Record that this run showed its first frame; confirm a trial if all is well.

    Never raises: a read-only data folder must not stop the sign (it is logged).

    :param problems: the start-up checks' problems (empty when they passed).
    :returns: True (the caller does not call again, whatever happened).
    """
    first_frame = time.time() if now is None else now
    release = Path(python_prefix).resolve().name
    body = {"version": version, "release": release, "pid": os.getpid(),
            "first_frame": first_frame, "problems": list(problems)}  # fmt: skip
    path = started_path(data_dir)
    try:
        make_dirs(path.parent)
        atomic_write(path, json.dumps(body, indent=1) + "\n")
    except OSError as exc:
        log.warning("could not record the start in %s: %s", path, exc)
    prefix = release_prefix(python_prefix)
    if prefix is not None and not problems:
        try:
            if guard.confirm(prefix, release, first_frame):
                log.info("release %s confirmed: its trial after the update ended", version)
        except OSError as exc:
            log.warning("could not confirm this release's trial in %s: %s", prefix, exc)
    return True


def read_started(data_dir: Path) -> dict[str, Any] | None:
    """The last run's start record, or None."""
    return guard.read_json(started_path(data_dir))
