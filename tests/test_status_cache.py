"""The control socket's status cache: reused while nothing it shows changed, never longer.

Plain values for the host (the fingerprint reads attributes only) and ``now`` passed in:
no clock, no process.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import msgspec

from host.control.status_cache import MAX_AGE, StatusCache
from host.supervise.states import WorkerState


def _host() -> Any:
    handle = SimpleNamespace(
        state=WorkerState.RUNNING, restarts=0, pid=10, last_error_at=None, quarantined_at=None
    )
    return SimpleNamespace(
        stats=SimpleNamespace(modes_shown=[{"mode": "a:fill"}]),
        compositor=SimpleNamespace(brightness=100),
        powered=True,
        missing={},
        reconfigurer=SimpleNamespace(watcher=SimpleNamespace(reloads=0, last_error_at=None)),
        supervisor=SimpleNamespace(handles={"a": handle}),
    )


def _cache() -> tuple[StatusCache, list[int]]:
    builds: list[int] = []

    def build() -> dict[str, int]:
        builds.append(1)
        return {"n": len(builds)}

    return StatusCache(build), builds


def test_a_status_is_reused_within_its_age_and_rebuilt_after() -> None:
    cache, builds = _cache()
    host = _host()
    first = cache.get(host, 0.0)
    assert msgspec.msgpack.decode(first) == {"n": 1}
    assert cache.get(host, MAX_AGE / 2) is first
    assert len(builds) == 1 and (cache.built, cache.served) == (1, 1)
    assert msgspec.msgpack.decode(cache.get(host, MAX_AGE)) == {"n": 2}


def test_every_change_a_status_shows_as_state_rebuilds_it_at_once() -> None:
    changes = [
        lambda h: h.stats.modes_shown.append({"mode": "b:fill"}),
        lambda h: setattr(h.compositor, "brightness", 40),
        lambda h: setattr(h, "powered", False),
        lambda h: h.missing.update(x={}),
        lambda h: setattr(h.reconfigurer.watcher, "reloads", 1),
        lambda h: setattr(h.supervisor.handles["a"], "state", WorkerState.BACKOFF),
        lambda h: setattr(h.supervisor.handles["a"], "restarts", 1),
        lambda h: setattr(h.supervisor.handles["a"], "pid", 11),
        lambda h: setattr(h.supervisor.handles["a"], "last_error_at", 5.0),
        lambda h: h.supervisor.handles.pop("a"),
    ]
    for change in changes:
        cache, builds = _cache()
        host = _host()
        cache.get(host, 0.0)
        change(host)
        cache.get(host, 0.0)
        assert len(builds) == 2, change


def test_clear_forgets_the_reply() -> None:
    cache, builds = _cache()
    host = _host()
    cache.get(host, 0.0)
    cache.clear()
    cache.get(host, 0.0)
    assert len(builds) == 2
