"""Run a plugin's schema in the CLI without letting it hang the command.

``ledhost config check`` and ``config show`` validate options against each plugin's JSON
Schema, which the plugin supplied: a catastrophic ``pattern`` or a recursive ``$ref``
combinator can take hours, and Python's ``re`` holds the GIL, so a thread cannot bound
it. :func:`call_bounded` runs the check in a forked child and kills it past its time.
A child rather than the describe worker: the check needs the instance's options and
secrets, which the describe worker (one per plugin, shared by its instances) never gets.
The child only evaluates schema data (no plugin code), so it needs no sandbox of its own.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["SCHEMA_TIMEOUT", "call_bounded"]

T = TypeVar("T")

#: Seconds a schema check may take in the CLI (a real one takes milliseconds).
SCHEMA_TIMEOUT = 10.0


def call_bounded(call: Callable[[], T], timeout: float | None = None) -> T:
    """``call()`` in a forked child; its result, or :class:`TimeoutError` past ``timeout``.

    :param timeout: seconds; ``None`` for :data:`SCHEMA_TIMEOUT`.

    :raises TimeoutError: the child did not finish in time (it is killed).
    :raises Exception: what ``call`` raised, re-raised here.
    """
    timeout = SCHEMA_TIMEOUT if timeout is None else timeout
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            try:
                payload = pickle.dumps((True, call()))
            except BaseException as exc:  # noqa: BLE001 - handed to the parent
                payload = pickle.dumps((False, exc))
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                raise TimeoutError(f"took longer than {timeout:g} s")
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    ok, value = pickle.loads(b"".join(chunks))  # noqa: S301 - our own child's answer
    if not ok:
        raise value
    result: T = value
    return result
