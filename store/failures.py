"""Remembered install failures, so a plugin that cannot be installed is not retried at
every start (``state/failures.json``).

The ancestor retried a failing install on every web request; a Pi in a restart loop
would hammer the registry the same way. Here each failure is remembered per plugin with
what was asked for (its *fingerprint*: the ``[store.plugins]`` entry), and:

- a **transient** failure (network down, HTTP 500, a timeout, a kill) is retried only after
  a backoff that doubles with each failure, from :data:`BASE_DELAY` up to :data:`MAX_DELAY`;
- an **unrecoverable** one (the plugin is incompatible with this ledhost, blocked by the
  registry, refused as a wheel, not found) is not retried at all until the entry in the
  config changes or the registry's index does (:attr:`Failure.registry`);
- a success, or a changed config entry, forgets it; ``ledhost install ID`` (a user asking)
  never consults it.

:func:`backoff_delay` and :meth:`Failure.retry_at` are pure; :func:`read` / :func:`write`
are the I/O, through :func:`config.atomic.atomic_write` (a crash leaves the old file or
the new, and an unreadable file counts as no failures: the worst case is one retry).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final, final

from config.atomic import atomic_write, make_dirs
from config.schema import is_valid_id

__all__ = [
    "BASE_DELAY",
    "FAILURES_FILE",
    "MAX_DELAY",
    "Failure",
    "backoff_delay",
    "read",
    "record",
    "write",
]

#: Seconds before the first retry of a transient failure.
BASE_DELAY: Final = 60.0
#: The backoff stops doubling here (6 hours): a sign left alone still retries a few
#: times a day, so it heals once the network or the registry does.
MAX_DELAY: Final = 6 * 3600.0
#: The file, in the store's ``state`` folder.
FAILURES_FILE: Final = "failures.json"
#: At most this many characters of an error are kept.
_MAX_ERROR: Final = 500


def backoff_delay(count: int) -> float:
    """Seconds to wait after the ``count``-th failure in a row: 60, 120, 240, ... 6 h."""
    if count <= 0:
        return 0.0
    # min() before the power would still overflow for a huge count; cap the exponent.
    return min(BASE_DELAY * math.pow(2.0, min(count - 1, 64)), MAX_DELAY)


@final
@dataclass(frozen=True, slots=True)
class Failure:
    """The last failure to bring one plugin to its desired state."""

    plugin_id: str
    #: What was asked for when it failed (``source|version``); another ask is a new try.
    fingerprint: str
    #: Failures in a row for this fingerprint.
    count: int
    #: When the last one happened (seconds since the epoch, the caller's clock).
    last: float
    #: The error, one line, as shown to the user.
    error: str
    #: No retry until the config or the registry changes.
    permanent: bool = False
    #: The registry's index revision when it failed (``None``: unknown).
    registry: str | None = None

    def retry_at(self) -> float:
        """When a transient failure may be tried again (``inf`` for a permanent one)."""
        return math.inf if self.permanent else self.last + backoff_delay(self.count)


def record(
    previous: Failure | None,
    plugin_id: str,
    fingerprint: str,
    error: str,
    *,
    now: float,
    permanent: bool,
    registry: str | None = None,
) -> Failure:
    """Return the failure after one more: the count grows only for the same fingerprint."""
    line = " ".join(error.split())[:_MAX_ERROR]
    if previous is not None and previous.fingerprint == fingerprint:
        return replace(
            previous,
            count=previous.count + 1,
            last=now,
            error=line,
            permanent=permanent,
            registry=registry,
        )
    return Failure(plugin_id, fingerprint, 1, now, line, permanent, registry)


def read(state: Path) -> dict[str, Failure]:
    """The remembered failures in the ``state`` folder; malformed entries are dropped.

    :param state: the store's ``state`` folder (:attr:`store.layout.StorePaths.state`).
    """
    try:
        data = json.loads((state / FAILURES_FILE).read_bytes())
    except (OSError, ValueError):
        return {}
    found: dict[str, Failure] = {}
    if not isinstance(data, Mapping):
        return found
    for plugin_id, raw in data.get("failures", {}).items():
        failure = _failure(plugin_id, raw)
        if failure is not None:
            found[plugin_id] = failure
    return found


def write(state: Path, failures: Mapping[str, Failure]) -> None:
    """Replace the file with ``failures``, atomically."""
    make_dirs(state)
    body = {"schema": 1, "failures": {pid: asdict(f) for pid, f in sorted(failures.items())}}
    atomic_write(state / FAILURES_FILE, json.dumps(body, indent=1) + "\n", private=True)


def _failure(plugin_id: object, raw: Any) -> Failure | None:
    if not is_valid_id(plugin_id) or not isinstance(raw, Mapping):
        return None
    try:
        failure = Failure(**{**raw, "plugin_id": plugin_id})
    except TypeError:
        return None
    kinds_ok = (
        isinstance(failure.fingerprint, str)
        and isinstance(failure.count, int)
        and isinstance(failure.last, int | float)
        and isinstance(failure.error, str)
        and isinstance(failure.permanent, bool)
        and (failure.registry is None or isinstance(failure.registry, str))
    )
    return failure if kinds_ok else None
