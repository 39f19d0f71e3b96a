"""A lean epoll selector for the host's one loop.

The host waits on everything in one place, once per scroll step or frame (up to 60 times
a second), and at that rate the wait's own Python is a cost: ``selectors.EpollSelector``
rounds the timeout in Python, sizes its event list from its map, and builds a list of
keys through a lookup helper on every wake-up, timeouts included. This is the same
interface (a :class:`selectors.BaseSelector`, so every caller and test stays as it is)
with a ``select`` that hands the timeout to ``epoll.poll`` as it is (CPython rounds it up
to whole milliseconds itself, as ``selectors`` does) and returns one shared empty list
when nothing is ready (issue 15: the host's wait cost ~5-10 us more per wake-up through
``selectors`` than through ``epoll`` directly, measured side by side here; a wake-up
that finds nothing is every scroll step's).

Linux only, like the rest of the host (eventfds, memfds); :func:`make_selector` falls back
to ``selectors.DefaultSelector`` where there is no epoll.
"""

from __future__ import annotations

import select
import selectors
from collections.abc import Iterator, Mapping
from typing import Any, Final

__all__ = ["LeanEpollSelector", "make_selector"]

_EPOLLIN: Final = select.EPOLLIN if hasattr(select, "EPOLLIN") else 1
_EPOLLOUT: Final = select.EPOLLOUT if hasattr(select, "EPOLLOUT") else 4
#: What :meth:`LeanEpollSelector.select` returns when nothing is ready. Callers only
#: iterate it; never appended to.
_NOTHING: Final[list[tuple[selectors.SelectorKey, int]]] = []


def _fd_of(fileobj: Any) -> int:
    """The file descriptor of ``fileobj`` (an int or an object with ``fileno()``)."""
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"invalid file object: {fileobj!r}") from None
    if fd < 0:
        raise ValueError(f"invalid file descriptor: {fd}")
    return fd


class _Keys(Mapping[Any, selectors.SelectorKey]):
    """``get_map()``: the registered keys by file object, read-only (as in selectors)."""

    def __init__(self, selector: LeanEpollSelector) -> None:
        self._selector = selector

    def __len__(self) -> int:
        return len(self._selector._keys)

    def __getitem__(self, fileobj: Any) -> selectors.SelectorKey:
        fd = self._selector._lookup(fileobj)
        return self._selector._keys[fd]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._selector._keys)


class LeanEpollSelector(selectors.BaseSelector):
    """``selectors.EpollSelector``'s behaviour with less Python per ``select``."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._keys: dict[int, selectors.SelectorKey] = {}
        self._map = _Keys(self)

    def _lookup(self, fileobj: Any) -> int:
        """The fd ``fileobj`` was registered with; a closed file object is found by
        identity (its ``fileno()`` no longer answers), as selectors does."""
        try:
            return _fd_of(fileobj)
        except ValueError:
            for key in self._keys.values():
                if key.fileobj is fileobj:
                    return key.fd
            raise

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        if not events or events & ~(selectors.EVENT_READ | selectors.EVENT_WRITE):
            raise ValueError(f"Invalid events: {events!r}")
        fd = _fd_of(fileobj)
        if fd in self._keys:
            raise KeyError(f"{fileobj!r} (FD {fd}) is already registered")
        key = selectors.SelectorKey(fileobj, fd, events, data)
        self._epoll.register(fd, _mask(events))
        self._keys[fd] = key
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        try:
            key = self._keys.pop(self._lookup(fileobj))
        except (KeyError, ValueError):
            raise KeyError(f"{fileobj!r} is not registered") from None
        try:
            self._epoll.unregister(key.fd)
        except OSError:
            pass  # closed already: the kernel dropped it from the set (as selectors does)
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        try:
            key = self._keys[self._lookup(fileobj)]
        except (KeyError, ValueError):
            raise KeyError(f"{fileobj!r} is not registered") from None
        if events != key.events:
            if not events or events & ~(selectors.EVENT_READ | selectors.EVENT_WRITE):
                raise ValueError(f"Invalid events: {events!r}")
            self._epoll.modify(key.fd, _mask(events))
        key = selectors.SelectorKey(key.fileobj, key.fd, events, data)
        self._keys[key.fd] = key
        return key

    def mute(self, fileobj: Any, muted: bool) -> None:
        """Stop reporting ``fileobj`` (``muted``), or report it again, keeping its key.

        The host reads a muted frame bus at its own deadline instead of being woken by it
        (:mod:`host.supervise.frametick`). epoll is level-triggered: an fd that became
        ready while muted is reported by the first ``select`` after it is unmuted.

        :raises KeyError: ``fileobj`` is not registered.
        """
        try:
            key = self._keys[self._lookup(fileobj)]
        except (KeyError, ValueError):
            raise KeyError(f"{fileobj!r} is not registered") from None
        self._epoll.modify(key.fd, 0 if muted else _mask(key.events))

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        """As ``selectors.EpollSelector.select``; ``[]`` when nothing is ready (shared)."""
        if timeout is None:
            timeout = -1.0
        elif timeout < 0.0:
            timeout = 0.0
        try:
            ready = self._epoll.poll(timeout)
        except InterruptedError:
            return _NOTHING
        if not ready:
            return _NOTHING
        keys = self._keys
        found = []
        for fd, event in ready:
            key = keys.get(fd)
            if key is not None:
                events = (selectors.EVENT_WRITE if event & ~_EPOLLIN else 0) | (
                    selectors.EVENT_READ if event & ~_EPOLLOUT else 0
                )
                found.append((key, events & key.events))
        return found

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._map

    def close(self) -> None:
        self._epoll.close()
        self._keys.clear()

    def fileno(self) -> int:
        return self._epoll.fileno()


def _mask(events: int) -> int:
    return (_EPOLLIN if events & selectors.EVENT_READ else 0) | (
        _EPOLLOUT if events & selectors.EVENT_WRITE else 0
    )


def make_selector() -> selectors.BaseSelector:
    """The lean epoll selector, or ``selectors.DefaultSelector`` without epoll."""
    if hasattr(select, "epoll"):
        return LeanEpollSelector()
    return selectors.DefaultSelector()
