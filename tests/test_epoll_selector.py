"""The host's lean epoll selector behaves as ``selectors.EpollSelector`` does.

Real file descriptors (eventfds, a socket pair); each edge of the interface the host and
its workers use: register, modify, unregister (also of a closed socket), select with and
without ready fds, and the errors for misuse.
"""

from __future__ import annotations

import os
import selectors
import socket
from collections.abc import Iterator

import pytest

from host.ipc.epoll import LeanEpollSelector, make_selector


@pytest.fixture
def selector() -> Iterator[LeanEpollSelector]:
    sel = LeanEpollSelector()
    try:
        yield sel
    finally:
        sel.close()


def test_make_selector_is_the_lean_one_on_linux() -> None:
    sel = make_selector()
    try:
        assert isinstance(sel, LeanEpollSelector)
    finally:
        sel.close()


def test_select_returns_nothing_before_the_timeout_and_ready_keys_after(
    selector: LeanEpollSelector,
) -> None:
    """Verify that a quiet fd gives an empty list and a written one its key and event."""
    fd = os.eventfd(0, os.EFD_NONBLOCK)
    try:
        key = selector.register(fd, selectors.EVENT_READ, "frames")
        assert selector.select(0) == []
        assert selector.select(-1.0) == []  # a negative timeout does not block
        os.eventfd_write(fd, 1)
        assert selector.select(1.0) == [(key, selectors.EVENT_READ)]
        assert selector.get_map()[fd] is key
        assert selector.get_key(fd).data == "frames"
        assert len(selector.get_map()) == 1
    finally:
        selector.unregister(fd)
        os.close(fd)


def test_modify_changes_events_and_data(selector: LeanEpollSelector) -> None:
    """Verify that modify swaps data and widens the mask to writable, as the messenger does."""
    a, b = socket.socketpair()
    try:
        selector.register(a, selectors.EVENT_READ, "control")
        assert selector.select(0) == []
        key = selector.modify(a, selectors.EVENT_READ | selectors.EVENT_WRITE, "both")
        assert key.data == "both"
        assert selector.select(0) == [(key, selectors.EVENT_WRITE)]  # a socket is writable
        b.send(b"x")
        assert selector.select(0) == [(key, selectors.EVENT_READ | selectors.EVENT_WRITE)]
        key = selector.modify(a, selectors.EVENT_READ, "again")
        assert selector.select(0) == [(key, selectors.EVENT_READ)]
    finally:
        selector.unregister(a)
        a.close()
        b.close()


def test_a_closed_socket_is_unregistered_by_identity(selector: LeanEpollSelector) -> None:
    """Verify that a socket closed before its unregister is still found (fileno() is -1)."""
    a, b = socket.socketpair()
    selector.register(a, selectors.EVENT_READ)
    a.close()
    assert selector.unregister(a).fileobj is a
    assert len(selector.get_map()) == 0
    b.close()


def test_misuse_is_refused_naming_the_problem(selector: LeanEpollSelector) -> None:
    fd = os.eventfd(0)
    try:
        selector.register(fd, selectors.EVENT_READ)
        with pytest.raises(KeyError, match="already registered"):
            selector.register(fd, selectors.EVENT_READ)
        with pytest.raises(ValueError, match="Invalid events"):
            selector.modify(fd, 0)
        with pytest.raises(KeyError, match="not registered"):
            selector.unregister(fd + 1000)
        with pytest.raises(KeyError, match="not registered"):
            selector.modify(fd + 1000, selectors.EVENT_READ)
        with pytest.raises(ValueError, match="Invalid events"):
            selector.register(fd + 1000, 0)
        with pytest.raises(ValueError, match="invalid file"):
            selector.register(object(), selectors.EVENT_READ)
        selector.unregister(fd)
    finally:
        os.close(fd)


def test_a_muted_fd_is_not_reported_until_unmuted(selector: LeanEpollSelector) -> None:
    """Verify that a muted ready fd wakes nobody, keeps its key, and is reported by the
    first select after it is unmuted (epoll is level-triggered: nothing is lost)."""
    fd = os.eventfd(0, os.EFD_NONBLOCK)
    try:
        key = selector.register(fd, selectors.EVENT_READ, "frames")
        selector.mute(fd, True)
        os.eventfd_write(fd, 1)
        assert selector.select(0) == []
        assert selector.get_key(fd) is key
        selector.mute(fd, False)
        assert selector.select(0) == [(key, selectors.EVENT_READ)]
        with pytest.raises(KeyError, match="not registered"):
            selector.mute(fd + 1000, True)
    finally:
        selector.unregister(fd)
        os.close(fd)
