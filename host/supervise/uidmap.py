"""One uid per plugin instance, from a reserved range, stable across restarts and runs.

Why: workers sharing one user can signal each other, ptrace each other and read and
rewrite each other's data folders. Like systemd's ``DynamicUser`` the uids need no passwd
entry (gid = uid, no supplementary groups). The mapping instance id -> uid lives in a
root-only file in the data folder, written atomically, because a data folder keeps its
owner: an instance must get the same uid next time, and a removed instance's uid is not
handed to another while its data folder still exists.
"""

from __future__ import annotations

import contextlib
import grp
import json
import pwd
from pathlib import Path
from typing import Final

from config.atomic import atomic_write, make_dirs

__all__ = ["MAP_NAME", "UidMap", "range_conflicts"]

#: The mapping's file, in the plugins' data folder (a name no instance id can take).
MAP_NAME: Final = ".uids.json"


class UidMap:
    """The instance -> uid mapping of one data folder (``data_dir/<instance>``)."""

    def __init__(self, data_dir: Path, base: int, count: int) -> None:
        self.data_dir = data_dir
        self.base = base
        self.count = count
        self.path = data_dir / MAP_NAME
        self._uids = self._load()
        #: Instances given their uid by this map: theirs stay taken even before their
        #: data folder exists.
        self._given: set[str] = set()

    def _load(self) -> dict[str, int]:
        """The saved mapping, keeping only entries inside the range (the range may move)."""
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise OSError(
                0, f"{self.path} is unreadable ({exc}); remove it to start over"
            ) from None
        if not isinstance(raw, dict):
            raise OSError(0, f"{self.path} is not a mapping; remove it to start over")
        return {
            str(k): v
            for k, v in raw.items()
            if isinstance(v, int) and self.base <= v < self.base + self.count
        }

    def uid_for(self, instance_id: str) -> int:
        """``instance_id``'s uid: the saved one, else the lowest free one (then saved).

        A uid whose instance is gone is free again only once its data folder is gone.

        :raises OSError: the range is used up, or the mapping cannot be written.
        """
        uid = self._uids.get(instance_id)
        if uid is not None:
            self._given.add(instance_id)
            return uid
        taken = {
            u for i, u in self._uids.items() if i in self._given or (self.data_dir / i).exists()
        }
        for candidate in range(self.base, self.base + self.count):
            if candidate not in taken:
                break
        else:
            raise OSError(
                0,
                f"all {self.count} worker uids from {self.base} are taken: widen workers.uid_count",
            )
        self._uids = {i: u for i, u in self._uids.items() if u in taken}
        self._uids[instance_id] = candidate
        self._given.add(instance_id)
        # 0711: the workers' uids pass through to their own folders, but list nothing.
        make_dirs(self.data_dir, mode=0o711, parents_mode=0o711)
        atomic_write(self.path, json.dumps(self._uids, indent=1, sort_keys=True), mode=0o600)
        return candidate


def range_conflicts(base: int, count: int, data_dir: Path | None = None) -> str | None:
    """Who else uses uids ``base .. base+count-1``, as a sentence, or ``None``.

    Checks what is cheap: passwd and group entries, ``/etc/subuid``/``/etc/subgid``
    (containers' mappings) and the owners of ``data_dir``'s entries (an owner in the
    range that the mapping does not name was put there by someone else).
    """
    end = base + count
    for entry in pwd.getpwall():
        if base <= entry.pw_uid < end:
            return f"user {entry.pw_name!r} has uid {entry.pw_uid}"
    for group in grp.getgrall():
        if base <= group.gr_gid < end:
            return f"group {group.gr_name!r} has gid {group.gr_gid}"
    for name in ("/etc/subuid", "/etc/subgid"):
        with contextlib.suppress(OSError):
            for line in Path(name).read_text().splitlines():
                fields = line.strip().split(":")
                if len(fields) != 3 or not fields[1].isdigit() or not fields[2].isdigit():
                    continue
                start, size = int(fields[1]), int(fields[2])
                if start < end and base < start + size:
                    return f"{name} maps {start}-{start + size - 1} for {fields[0]!r}"
    if data_dir is not None:
        return _stray_owner(data_dir, base, end)
    return None


def _stray_owner(data_dir: Path, base: int, end: int) -> str | None:
    """An entry of ``data_dir`` owned by a uid of the range that no instance was given."""
    known: set[int] = set()
    with contextlib.suppress(OSError, ValueError, TypeError):
        known = {int(u) for u in json.loads((data_dir / MAP_NAME).read_text()).values()}
    with contextlib.suppress(OSError):
        for child in data_dir.iterdir():
            owner = child.lstat().st_uid
            if base <= owner < end and owner not in known:
                return f"{child} is owned by uid {owner}, which no instance was given"
    return None
