"""The control socket's status cache, and which requests let the host loop skip its turn.

Plain values for the host (the fingerprint reads attributes only) and ``now`` passed in:
no clock, no process.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from host.control.server import read_only
from host.control.status_cache import MAX_AGE, StatusCache
from host.ipc import control
from host.supervise.states import WorkerState


def _host() -> Any:
    handle = SimpleNamespace(
        state=WorkerState.RUNNING, restarts=0, pid=10, last_error_at=None, quarantined_at=None
    )
    return SimpleNamespace(
        stats=SimpleNamespace(modes_shown=[{"mode": "a:fill"}]),
        compositor=SimpleNamespace(brightness=100),
        director=SimpleNamespace(powered=True),
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
        lambda h: setattr(h.director, "powered", False),
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


@pytest.mark.parametrize(
    ("request_", "quiet"),
    [
        (control.Status(), True),
        (control.ConfigGet(section="display"), True),
        (control.ConfigBackup(), True),
        (control.SecretList(), True),
        (control.Logs(instance="a"), True),
        (control.Logs(instance="a", follow=True), False),  # events follow, from tick
        (control.Subscribe(kinds=["state"]), False),
        (control.Next(), False),
        (control.Pin(instance="a", mode="m"), False),
        (control.Brightness(value=5), False),
        (control.ConfigSet(section="display", values={}), False),
        (control.SecretDelete(instance="a", key="k"), False),
    ],
)
def test_only_requests_that_change_nothing_let_the_loop_skip_its_turn(
    request_: control.Request, quiet: bool
) -> None:
    assert read_only(request_) is quiet
