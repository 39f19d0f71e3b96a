"""The start guard: rolls back a release on trial that keeps failing to start.

Self-update (:mod:`host.system.selfupdate`) switches ``current`` to a new release and
writes a *trial* file naming it. The new host confirms the trial once it has shown a
first frame with its start-up checks passed (:func:`confirm`, from
:mod:`host.system.started`), which removes the file. The systemd unit runs this file
before every start (``ExecStartPre=/usr/bin/python3 -I /opt/ledhost/guard.py``): when the
release on trial has been started ``max_starts`` times without confirming, the guard
switches ``current`` back to ``previous`` and records why. So a release that cannot even
import ledhost is still rolled back, by systemd restarting it, with no updater alive.

Why stdlib only, importing nothing of ours: the install script copies this file to
:attr:`PiLayout.guard <host.system.layout.PiLayout.guard>` outside every release and runs
it with the system's Python; the broken release is exactly the code it cannot rely on.
That is also why it has its own atomic link switch and JSON write instead of
``store.operations``'s and ``config.atomic``'s (which self-update reuses from here).

The guard never keeps ledhost from starting: whatever goes wrong in here, it says so on
stderr (the journal) and exits 0.

Interface for self-update and the host (keep it stable; the guard on a Pi may be older
than the release that calls it): :data:`TRIAL`, :data:`HISTORY`, :func:`read_json`,
:func:`write_json`, :func:`point_link`, :func:`link_target`, :func:`record`,
:func:`history`, :func:`is_release`, :func:`start_trial`, :func:`confirm`, :func:`guard`.
Files, in the folder holding ``releases/`` (``/opt/ledhost``):

- ``trial.json``: ``{"version", "previous", "starts", "max_starts", "since"}`` and, when
  the install has a config file, ``"config"``: its path;
- ``updates.json``: ``{"entries": [...]}``, newest last, at most :data:`KEEP` entries,
  each ``{"at", "action", "result", "from", "to", "reason", "by"}``;
- ``configs/<version>.toml``: the config file as release ``<version>`` last read it,
  kept at each switch away from it (:func:`keep_config`). A newer release may upgrade the
  file's format (``config_version``) when it starts; going back to ``<version>`` then
  puts this copy back (:func:`restore_config`), since that release would refuse the
  upgraded file and a rollback must leave a sign that starts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

#: The trial file, in the prefix.
TRIAL = "trial.json"
#: What self-update and the guard did, in the prefix.
HISTORY = "updates.json"
#: Entries kept in :data:`HISTORY`.
KEEP = 20
#: Starts a release on trial gets before the guard rolls it back.
MAX_STARTS = 3
#: Folder (in the prefix) of the config files as each release last read them.
CONFIGS = "configs"
#: The config file's format version, a top-level key (config.migrate.VERSION_KEY). A
#: pattern, not tomllib: the guard may run on a system Python older than 3.11.
_FORMAT = re.compile(r"^config_version\s*=\s*(\d+)\s*(?:#.*)?$", re.MULTILINE)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` atomically (temp file, fsync, rename, fsync folder):
    a power cut leaves the old file or the new one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(data, indent=1) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def point_link(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` (relative) atomically: a temp link renamed over it."""
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.symlink(target, tmp)
    os.replace(tmp, link)
    _fsync_dir(link.parent)


def link_target(link: Path) -> str | None:
    """The release name ``link`` points at (``releases/<name>``), or None."""
    try:
        return Path(os.readlink(link)).name or None
    except OSError:
        return None


def is_release(prefix: Path, version: str) -> bool:
    """Whether ``releases/<version>`` holds a release that can be started."""
    if not version or "/" in version or version.startswith("."):
        return False
    return (prefix / "releases" / version / "bin" / "ledhost").exists()


def history(prefix: Path) -> list[dict[str, Any]]:
    """What self-update and the guard did, oldest first."""
    entries = (read_json(prefix / HISTORY) or {}).get("entries")
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def record(prefix: Path, entry: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """Append ``entry`` (with ``at``) to the history; returns it as written."""
    entry = {"at": time.time() if now is None else now, **entry}
    entries = [*history(prefix), entry][-KEEP:]
    write_json(prefix / HISTORY, {"entries": entries})
    return entry


def start_trial(
    prefix: Path,
    version: str,
    previous: str,
    max_starts: int = MAX_STARTS,
    now: float = 0.0,
    config: Path | None = None,
) -> None:
    """Put ``version`` on trial (called right after ``current`` switched to it).

    :param config: the installed config file, named in the trial so the guard can put
        ``previous``'s copy back (:func:`restore_config`) if it rolls back.
    """
    trial: dict[str, Any] = {"version": version, "previous": previous, "starts": 0,
                             "max_starts": max_starts, "since": now or time.time()}  # fmt: skip
    if config is not None:
        trial["config"] = str(config)
    write_json(prefix / TRIAL, trial)


def config_format(path: Path) -> int | None:
    """The ``config_version`` written in a config file (1 when it has none, as the
    loader reads it), or None when the file cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    found = _FORMAT.search(text)
    return int(found.group(1)) if found else 1


def keep_config(prefix: Path, version: str, config: Path) -> bool:
    """Keep ``config`` as release ``version`` reads it (before switching away from it);
    returns whether there was a file to keep. Mode 0600: the copy is root's alone."""
    if not config.is_file():
        return False
    folder = prefix / CONFIGS
    folder.mkdir(mode=0o700, exist_ok=True)
    kept = folder / f"{version}.toml"
    os.replace(_copied_beside(config, kept), kept)
    _fsync_dir(folder)
    return True


def _copied_beside(source: Path, target: Path) -> Path:
    """``source``'s bytes in a new 0600 file beside ``target``, synced; the caller renames
    it over ``target`` (so a power cut leaves the old file or the new one)."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out)
        out.flush()
        os.fsync(out.fileno())
    return tmp


def restore_config(prefix: Path, version: str, config: Path) -> str | None:
    """Going back to release ``version``: if a newer release upgraded ``config``'s format
    since ``version`` last read it, put the kept copy back (the upgraded file stays
    beside it as ``<name>.v<format>``). Edits made under the newer release are in that
    file; the sentence returned says so. ``None``: nothing to do (same format, no copy).
    """
    kept = prefix / CONFIGS / f"{version}.toml"
    now_format, kept_format = config_format(config), config_format(kept)
    if now_format is None or kept_format is None or now_format <= kept_format:
        return None
    aside = config.with_name(f"{config.name}.v{now_format}")
    info = os.stat(config)
    shutil.copy2(config, aside)
    tmp = _copied_beside(kept, config)
    os.chmod(tmp, info.st_mode & 0o7777)
    if os.geteuid() == 0:
        os.chown(tmp, info.st_uid, info.st_gid)
    os.replace(tmp, config)
    _fsync_dir(config.parent)
    return (
        f"put back the config as {version} read it (format {kept_format}; the newer "
        f"release had upgraded it to {now_format}); the upgraded file, with any edits "
        f"made since, is kept as {aside}"
    )


def confirm(prefix: Path, version: str, now: float | None = None) -> bool:
    """The host running ``version`` showed a first frame with its checks passed: end its
    trial and record it. Returns whether a trial was confirmed (False without one)."""
    trial = read_json(prefix / TRIAL)
    if trial is None or trial.get("version") != version:
        return False
    os.unlink(prefix / TRIAL)
    record(prefix, {"action": "confirm", "result": "ok", "from": trial.get("previous"),
                    "to": version, "by": "host",
                    "reason": f"{version} showed a first frame with its start-up checks passed"},
           now)  # fmt: skip
    return True


def guard(prefix: Path, now: float | None = None) -> str:
    """One start of the service: count it against the trial, roll back past the limit.

    :returns: one line saying what was done, for the journal.
    """
    trial_path = prefix / TRIAL
    trial = read_json(trial_path)
    if trial is None:
        if trial_path.exists():
            os.unlink(trial_path)  # unreadable: a trial we cannot judge is no trial
            return "removed an unreadable trial file"
        return "no release on trial"
    version, previous = str(trial.get("version", "")), str(trial.get("previous", ""))
    starts, limit = trial.get("starts"), trial.get("max_starts")
    if not isinstance(starts, int) or not isinstance(limit, int) or limit < 1:
        os.unlink(trial_path)
        return "removed a trial file with bad counts"
    if link_target(prefix / "current") != version:
        os.unlink(trial_path)  # someone switched by hand: their choice stands
        return f"current is no longer {version}: its trial ended"
    if starts < limit:
        write_json(trial_path, {**trial, "starts": starts + 1})
        return f"{version} on trial: start {starts + 1} of {limit}"
    reason = (
        f"{version} was started {starts} times without showing a first frame with its "
        "start-up checks passed"
    )
    if not is_release(prefix, previous):
        os.unlink(trial_path)
        record(prefix, {"action": "rollback", "result": "failed", "from": version,
                        "to": previous or None, "by": "guard",
                        "reason": f"{reason}; no previous release to go back to"}, now)  # fmt: skip
        return f"{reason}; no previous release to go back to: it stays"
    point_link(prefix / "previous", f"releases/{version}")
    point_link(prefix / "current", f"releases/{previous}")
    os.unlink(trial_path)
    config = trial.get("config")
    restored = restore_config(prefix, previous, Path(config)) if isinstance(config, str) else None
    if restored is not None:
        reason = f"{reason}; {restored}"
    record(prefix, {"action": "rollback", "result": "rolled_back", "from": version,
                    "to": previous, "by": "guard", "reason": reason}, now)  # fmt: skip
    return f"{reason}: rolled back to {previous}"


def main(argv: list[str] | None = None) -> int:
    """``python3 -I guard.py [--prefix DIR]``: the prefix defaults to this file's folder."""
    args = sys.argv[1:] if argv is None else argv
    prefix = Path(__file__).resolve().parent
    if len(args) == 2 and args[0] == "--prefix":
        prefix = Path(args[1])
    elif args:
        print("ledhost guard: usage: guard.py [--prefix DIR]", file=sys.stderr)
        return 0
    try:
        print(f"ledhost guard: {guard(prefix)}", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - never keep the service from starting
        print(f"ledhost guard: failed ({type(exc).__name__}: {exc}); starting anyway",
              file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
