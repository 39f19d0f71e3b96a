"""The one queue every store operation goes through, with its persisted history.

Reconciler and CLI alike (``ledhost install``/``update``/``rollback``/``uninstall``)
run their operations through :meth:`OperationQueue.run`, which:

- holds ``state/queue.lock`` (``fcntl.flock``) so two processes never apply at once: a
  second ``ledhost reconcile`` waits for the first; the lock dies with its process, so a
  SIGKILL never leaves it held. (It is another file than the installer's own
  ``state/lock`` of :mod:`store.operations`, which it takes inside this one: flock locks
  belong to an open file, so one process taking one file twice would wait on itself.)
- appends a ``start`` line to ``state/history.jsonl`` and fsyncs it *before* the operation
  starts, and an ``end`` line with the result and the error when it ends;
- so a ``start`` without its ``end``, found while holding the lock, is an operation its
  process did not finish (killed, power cut): :meth:`OperationQueue.pending` lists them,
  and :func:`store.apply.apply` converges from there (see there), then closes each
  with :meth:`OperationQueue.close_pending`.

The history is bounded: past :data:`MAX_BYTES` the file is rotated to
``history.jsonl.1`` (one old file is kept) and the unfinished ``start`` lines are carried
over, so rotation never hides a crash. A line that is not JSON (a write cut short by a
power cut) is ignored.

Interface for the CLI (STORE-CORE's commands switch to it at merge)::

    queue = OperationQueue(paths.state)
    installed = queue.run(Operation(Action.INSTALL, plugin_id, source=text),
                          lambda: operations.install(paths, settings, source, ...))
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar, final

from config.atomic import (
    _fsync_dir,  # the one folder fsync, with its FUSE/NFS caveats
    atomic_write,
    make_dirs,
)
from store.reconciler import Operation

__all__ = ["HISTORY_FILE", "LOCK_FILE", "MAX_BYTES", "Entry", "OperationQueue"]

#: The history, in the store's ``state`` folder.
HISTORY_FILE: Final = "history.jsonl"
#: The queue's lock file, beside it.
LOCK_FILE: Final = "queue.lock"
#: Past this size the history is rotated (one old file kept): a few thousand operations.
MAX_BYTES: Final = 256 * 1024
#: Results an ``end`` line carries.
RESULTS: Final = ("ok", "failed", "interrupted")

#: A planted symlink in place of the lock file is refused, never followed.
_LOCK_FLAGS: Final = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW

T = TypeVar("T")


@final
@dataclass(frozen=True, slots=True)
class Entry:
    """One operation as the history tells it."""

    #: Unique per operation: ``<pid>-<ns>-<n>``.
    op_id: str
    op: Operation
    #: When it started (seconds since the epoch).
    started: float
    #: ``None`` while it has not ended.
    result: str | None = None
    error: str = ""
    ended: float | None = None


class OperationQueue:
    """Runs operations one at a time across processes and records each in the history.

    :param state: the store's ``state`` folder; made (0700) on first use.
    :param clock: the wall clock for the history's times (tests pass their own).
    :param max_bytes: rotate the history past this size.
    """

    def __init__(
        self,
        state: Path,
        *,
        clock: Callable[[], float] = time.time,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.state: Final = state
        self.history_path: Final = state / HISTORY_FILE
        self._clock: Final = clock
        self._max_bytes: Final = max_bytes
        self._lock_fd: int | None = None
        self._depth = 0
        self._count = 0

    @contextmanager
    def locked(self) -> Iterator[OperationQueue]:
        """Hold the queue's lock (waiting for another process to finish); re-entrant
        within this object, so :func:`store.apply.apply` can plan and run under one hold."""
        if self._depth == 0:
            make_dirs(self.state)
            fd = os.open(self.state / LOCK_FILE, _LOCK_FLAGS, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            self._lock_fd = fd
        self._depth += 1
        try:
            yield self
        finally:
            self._depth -= 1
            if self._depth == 0 and self._lock_fd is not None:
                os.close(self._lock_fd)  # closing the file releases the flock
                self._lock_fd = None

    def run(self, op: Operation, action: Callable[[], T]) -> T:
        """Run ``action`` as ``op``: lock, ``start`` line, action, ``end`` line.

        :returns: what ``action`` returned.
        :raises: whatever ``action`` raised, after the ``end`` line recorded it.
        """
        with self.locked():
            op_id = self._start(op)
            try:
                result = action()
            except BaseException as exc:
                # KeyboardInterrupt too: the operation did end, and the user knows.
                self._append(
                    {
                        "id": op_id,
                        "event": "end",
                        "time": self._clock(),
                        "result": "failed",
                        "error": _one_line(exc),
                    }
                )
                raise
            self._append({"id": op_id, "event": "end", "time": self._clock(), "result": "ok"})
            return result

    def pending(self) -> list[Entry]:
        """Operations started and never ended: their process died. Call it while holding
        the lock (:meth:`locked`), else one running elsewhere would count as a crash."""
        return [entry for entry in self.history() if entry.result is None]

    def close_pending(self, entry: Entry, result: str = "interrupted", error: str = "") -> None:
        """Write the ``end`` line of a pending operation once it has been converged."""
        if result not in RESULTS:
            raise ValueError(f"result must be one of {', '.join(RESULTS)}, not {result!r}")
        line = {"id": entry.op_id, "event": "end", "time": self._clock(), "result": result}
        self._append({**line, "error": error} if error else line)

    def history(self, limit: int | None = None) -> list[Entry]:
        """The operations recorded, oldest first (the rotated file's too); the last
        ``limit`` of them if given."""
        entries: dict[str, Entry] = {}
        for path in (self.history_path.with_name(HISTORY_FILE + ".1"), self.history_path):
            for line in _lines(path):
                _fold(entries, line)
        found = list(entries.values())
        return found if limit is None else found[-limit:] if limit > 0 else []

    def _start(self, op: Operation) -> str:
        self._count += 1
        op_id = f"{os.getpid()}-{time.monotonic_ns()}-{self._count}"
        self._rotate_if_big()
        self._append(
            {
                "id": op_id,
                "event": "start",
                "time": self._clock(),
                "pid": os.getpid(),
                "op": op.to_dict(),
            }
        )
        return op_id

    def _append(self, line: dict[str, Any]) -> None:
        data = (json.dumps(line, separators=(",", ":")) + "\n").encode()
        make_dirs(self.state)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        fd = os.open(self.history_path, flags, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # a line cut short by a power cut: end it first
            os.write(fd, data)  # one write of O_APPEND: lines never interleave
            os.fsync(fd)
        finally:
            os.close(fd)
        if size == 0:  # maybe a new file: its folder entry must reach the disk too
            _fsync_dir(self.state)

    def _rotate_if_big(self) -> None:
        try:
            size = self.history_path.stat().st_size
        except FileNotFoundError:
            return
        if size <= self._max_bytes:
            return
        open_lines = [_start_line(e) for e in self.pending()]
        old = self.history_path.with_name(HISTORY_FILE + ".1")
        os.replace(self.history_path, old)
        text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in open_lines)
        atomic_write(self.history_path, text, private=True)
        with suppress(OSError):  # the carried lines are in both files: harmless, folded
            os.utime(old)


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except OSError:
        return
    for text in raw.splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue  # a line cut short by a power cut
        if isinstance(line, dict) and isinstance(line.get("id"), str):
            yield line


def _fold(entries: dict[str, Entry], line: dict[str, Any]) -> None:
    op_id = line["id"]
    when = line.get("time")
    stamp = float(when) if isinstance(when, int | float) else 0.0
    if line.get("event") == "start" and isinstance(line.get("op"), dict):
        if op_id in entries:
            return  # carried over by a rotation: the first one stands
        try:
            entries[op_id] = Entry(op_id, Operation.from_dict(line["op"]), stamp)
        except ValueError:
            return
    elif line.get("event") == "end" and op_id in entries:
        started = entries[op_id]
        result = line.get("result")
        error = line.get("error", "")
        entries[op_id] = Entry(
            op_id,
            started.op,
            started.started,
            result if result in RESULTS else "failed",
            error if isinstance(error, str) else "",
            stamp,
        )


def _start_line(entry: Entry) -> dict[str, Any]:
    return {"id": entry.op_id, "event": "start", "time": entry.started, "op": entry.op.to_dict()}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:500]
