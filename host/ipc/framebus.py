"""The frame bus: a shared-memory ring of frame slots per worker.

Layout: one ``memfd`` holding ``slots`` slots, each a 64-byte header then
``height * width * 3`` bytes of RGB pixels. Ownership of a slot passes only through
eventfd writes and reads, which are syscalls and therefore full memory barriers, so the
host never reads a slot the worker is still writing (DESIGN.md, measured: 0 torn frames
in 400k):

* ``free`` (host -> worker, starts at ``slots``): one count is one credit, the right to
  fill the next slot; the worker takes every credit there is in one read and spends them
  one a frame, so at 60 fps it reads about every other frame (each read is still a
  syscall after the host's write that gave the credit: the barrier holds);
* ``ready`` (worker -> host, counter mode): one count per filled slot.

Slots are filled and handed back in FIFO order, so no slot index ever travels: the worker
writes slot ``n % slots`` for its n-th frame and the host reads them in the same order.
The host keeps the newest ready slot as the frame on screen (zero copy) and hands back the
others at once; the worker drops a frame rather than block when it has no credit.

A memfd instead of a named ``/dev/shm`` segment: nothing to unlink, nothing leaked when a
process dies, and Python 3.11's ``SharedMemory`` resource tracker (which unlinks segments
when an *attaching* process exits) stays out of the picture. Only the host creates it.
"""

from __future__ import annotations

import math
import mmap
import os
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from host.errors import FrameError

#: Default number of slots: one on screen, one being written, one ready.
SLOTS = 3
HEADER_SIZE = 64
_MAGIC = b"LHF1"
#: The magic as the header's first field holds it: an integer, so neither end makes a
#: bytes object per frame (the bytes in the slot are ``_MAGIC``'s).
_MAGIC_WORD = int.from_bytes(_MAGIC, "little")
_DTYPE_UINT8 = 1
_UINT8 = np.dtype(np.uint8)
# magic, width, height, channels, dtype code, token (activation), seq, time the worker
# finished the frame (CLOCK_MONOTONIC is system-wide on Linux, so comparable across pids),
# and when its next frame is due on the same clock (0: none is planned).
_HEADER = struct.Struct("<IHHBBxxIQdd")
#: What :meth:`FrameBus.poll` returns for errors when there are none (never appended to).
_NO_ERRORS: tuple[FrameError, ...] = ()


@dataclass(slots=True, eq=False)
class Frame:
    """A frame the host holds: ``pixels`` is a read-only view into its slot.

    Not a frozen dataclass: one is made per frame, and a frozen one's ``__init__`` (an
    ``object.__setattr__`` per field) was a tenth of the host's read of a frame, cold
    (issue 15). Nothing changes one once made.
    """

    pixels: np.ndarray
    token: int
    seq: int
    done_at: float
    #: When the worker will deliver its next frame (monotonic), as it says; ``None``: no
    #: next frame is planned. The host expects a sign of life from then on.
    next_due: float | None = None


@dataclass(frozen=True, slots=True)
class Geometry:
    """Sizes shared by both ends; both must be built with the same values."""

    width: int
    height: int
    slots: int = SLOTS

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * 3

    @property
    def slot_bytes(self) -> int:
        # Keep every pixel block 64-byte aligned for numpy and the cache.
        return HEADER_SIZE + (self.frame_bytes + 63) // 64 * 64

    @property
    def total_bytes(self) -> int:
        return self.slot_bytes * self.slots


def _shaped(flat: np.ndarray, width: int, height: int) -> np.ndarray:
    return flat[: width * height * 3].reshape(height, width, 3)


def _map(fd: int, geometry: Geometry) -> tuple[mmap.mmap, list[np.ndarray], list[np.ndarray]]:
    """Map the ring: per slot, its pixel bytes as a flat uint8 array, and the same bytes
    shaped as a whole display's frame (the usual size, so neither end reshapes per frame).

    Flat, because a frame may be smaller than the display (a layout region): a frame of
    ``w x h`` is the first ``w * h * 3`` bytes of its slot, shaped ``(h, w, 3)``.
    """
    mem = mmap.mmap(fd, geometry.total_bytes, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    flat = [
        np.frombuffer(
            mem,
            dtype=np.uint8,
            count=geometry.frame_bytes,
            offset=i * geometry.slot_bytes + HEADER_SIZE,
        )
        for i in range(geometry.slots)
    ]
    return mem, flat, [_shaped(f, geometry.width, geometry.height) for f in flat]


class FrameBus:
    """The host's end: creates the memory and eventfds, reads frames.

    :param owner: the instance id, named in every error.
    """

    def __init__(self, owner: str, geometry: Geometry) -> None:
        self.owner = owner
        self.geometry = geometry
        self.memfd = os.memfd_create(f"ledhost-frames-{owner}", os.MFD_CLOEXEC)
        os.ftruncate(self.memfd, geometry.total_bytes)
        self.ready_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.free_fd = os.eventfd(geometry.slots, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._mem, self._pixels, self._full = _map(self.memfd, geometry)
        #: Geometry's figures as plain attributes (its sizes are properties: a call each).
        self._slot_bytes = geometry.slot_bytes
        self._slots = geometry.slots
        self._width, self._height = geometry.width, geometry.height
        for view in (*self._pixels, *self._full):
            view.flags.writeable = False
        self._next = 0  # the slot the next ready count refers to
        self._held: int | None = None  # slot of the frame on screen
        self.frames_received = 0
        self._closed = False

    def worker_fds(self) -> tuple[int, int, int]:
        """``(memfd, ready_fd, free_fd)`` to pass to the worker process."""
        return (self.memfd, self.ready_fd, self.free_fd)

    def poll(self) -> tuple[Frame | None, Sequence[FrameError]]:
        """Take every frame the worker finished since the last call.

        :returns: the newest valid frame (now held until the next newer one), or ``None``
            if nothing valid arrived, and the errors for the invalid ones (already returned
            to the worker, never shown).
        """
        try:
            count = os.eventfd_read(self.ready_fd)
        except BlockingIOError:
            return None, _NO_ERRORS
        if count == 1:
            # The usual case, kept short (it runs cold, once per frame): the one slot it
            # names becomes the held one, the one held before goes back. A whole-display
            # frame is read here, inline (one call fewer); anything else by ``_read``.
            slot = self._next
            self._next = slot + 1 if slot + 1 < self._slots else 0
            magic, width, height, channels, dtype, token, seq, done_at, next_due = (
                _HEADER.unpack_from(self._mem, slot * self._slot_bytes)
            )
            if (
                width == self._width
                and height == self._height
                and magic == _MAGIC_WORD
                and channels == 3
                and dtype == _DTYPE_UINT8
            ):
                # NaN fails both comparisons; infinity the second.
                due = next_due if 0.0 < next_due < math.inf else None
                frame = Frame(self._full[slot], token, seq, done_at, due)
            else:
                try:
                    frame = self._read(slot)
                except FrameError as exc:
                    os.eventfd_write(self.free_fd, 1)
                    return None, (exc,)
            if self._held is not None:
                os.eventfd_write(self.free_fd, 1)
            self._held = slot
            self.frames_received += 1
            return frame, _NO_ERRORS
        if count > self.geometry.slots:
            # The worker claims more frames than it had credits: it is not following the
            # protocol; nothing in the ring can be trusted this round.
            raise FrameError(
                f"plugin instance {self.owner!r} announced {count} frames for "
                f"{self.geometry.slots} slots"
            )
        newest: Frame | None = None
        newest_slot: int | None = None
        errors: list[FrameError] = []
        for _ in range(count):
            slot = self._next
            self._next = (self._next + 1) % self.geometry.slots
            try:
                frame = self._read(slot)
            except FrameError as exc:
                errors.append(exc)
                self._release(slot)
                continue
            if newest_slot is not None:
                self._release(newest_slot)
            newest, newest_slot = frame, slot
        if newest_slot is not None:
            if self._held is not None:
                self._release(self._held)
            self._held = newest_slot
            self.frames_received += 1
        return newest, errors

    def _read(self, slot: int) -> Frame:
        g = self.geometry
        # Straight from the mapping: no memoryview or bytes made per frame.
        header = _HEADER.unpack_from(self._mem, slot * self._slot_bytes)
        magic, width, height, channels, dtype, token, seq, done_at, next_due = header
        # NaN fails both comparisons; infinity the second.
        due = next_due if 0.0 < next_due < math.inf else None
        if (
            width == g.width
            and height == g.height
            and magic == _MAGIC_WORD
            and channels == 3
            and dtype == _DTYPE_UINT8
        ):
            return Frame(self._full[slot], token, seq, done_at, due)
        if magic != _MAGIC_WORD:
            raise FrameError(f"plugin instance {self.owner!r} sent a frame with a bad header")
        if not (1 <= width <= g.width and 1 <= height <= g.height) or (channels, dtype) != (
            3,
            _DTYPE_UINT8,
        ):
            raise FrameError(
                f"plugin instance {self.owner!r} sent a {width}x{height}x{channels} frame "
                f"(dtype code {dtype}); the display takes up to {g.width}x{g.height} RGB uint8"
            )
        return Frame(_shaped(self._pixels[slot], width, height), token, seq, done_at, due)

    def _release(self, slot: int) -> None:
        # Slots go back oldest first: FIFO order is what lets no index travel.
        os.eventfd_write(self.free_fd, 1)

    def close(self) -> None:
        """Unmap and close everything; the memory is freed when the worker's copy closes."""
        if self._closed:
            return
        self._closed = True
        self._pixels.clear()
        self._full.clear()
        try:
            self._mem.close()
        except BufferError:
            # A frame view is still referenced somewhere; the mapping goes with the GC.
            pass
        for fd in (self.memfd, self.ready_fd, self.free_fd):
            os.close(fd)


class FrameWriter:
    """The worker's end: fills free slots and announces them.

    :param fds: ``(memfd, ready_fd, free_fd)`` inherited from the host.
    """

    def __init__(self, fds: tuple[int, int, int], geometry: Geometry) -> None:
        self.memfd, self.ready_fd, self.free_fd = fds
        self.geometry = geometry
        self._mem, self._pixels, self._full = _map(self.memfd, geometry)
        # Geometry's figures as plain attributes (its sizes are properties: a call each).
        self._slot_bytes = geometry.slot_bytes
        self._slots = geometry.slots
        self._width, self._height = geometry.width, geometry.height
        #: A whole-display frame's shape, made once rather than per frame.
        self._shape = (geometry.height, geometry.width, 3)
        #: Credits taken from ``free`` and not spent yet (slots the host gave back).
        self._credits = 0
        self._next = 0
        self.seq = 0
        self.dropped = 0

    def publish(
        self,
        pixels: np.ndarray | bytes,
        token: int,
        size: tuple[int, int] | None = None,
        next_due: float | None = None,
    ) -> bool:
        """Copy ``pixels`` into the next free slot and hand it to the host.

        :param pixels: a ``(height, width, 3)`` uint8 array, or the same bytes packed row
            by row (``Image.tobytes()`` of an RGB image: the worker's canvas is read so,
            and copied into the slot as it is, with no array made around it).
        :param size: ``(width, height)`` the host asked for (a layout region); ``None``
            for the whole display.
        :param next_due: when the next frame is due (monotonic); ``None`` if none is.
        :returns: ``False`` if the host holds every slot (the frame is dropped, never
            waited for: a newer one will come).
        :raises FrameError: ``pixels`` is not a ``(height, width, 3)`` uint8 array, nor
            bytes of that size.
        """
        if size is None:
            width, height, shape = self._width, self._height, self._shape
        else:
            width, height = size
            shape = (height, width, 3)
        if isinstance(pixels, bytes):
            if len(pixels) != width * height * 3:
                raise FrameError(
                    f"frame of {len(pixels)} bytes; {_whose(size)} {width}x{height} RGB "
                    f"({width * height * 3} bytes)"
                )
        else:
            # ``is`` first: uint8's dtype is one object; any other passes only if equal.
            dtype = pixels.dtype
            if pixels.shape != shape or (dtype is not _UINT8 and dtype != _UINT8):
                raise FrameError(
                    f"frame of shape {pixels.shape} and dtype {dtype}; "
                    f"{_whose(size)} ({height}, {width}, 3) uint8"
                )
        if not self._credits:
            try:
                self._credits = os.eventfd_read(self.free_fd)
            except BlockingIOError:
                self.dropped += 1
                return False
        self._credits -= 1
        slot = self._next
        self._next = slot + 1 if slot + 1 < self._slots else 0
        at = slot * self._slot_bytes
        try:
            # A C-contiguous frame (or bytes) is its slot's first bytes as they are: one
            # memcpy into the mapping, none of numpy's copy machinery (most of a publish's
            # CPU). Tried rather than checked: ``flags`` makes an object per look.
            self._mem[at + HEADER_SIZE : at + HEADER_SIZE + width * height * 3] = pixels  # type: ignore[assignment]
        except ValueError:  # numpy: "ndarray is not C-contiguous" (a region, a strided view)
            np.copyto(_shaped(self._pixels[slot], width, height), pixels)
        self.seq += 1
        # write_header's work, inline: one call fewer on a path that runs cold per frame.
        _HEADER.pack_into(
            self._mem, at, _MAGIC_WORD, width, height, 3, _DTYPE_UINT8,
            token, self.seq, time.monotonic(), next_due or 0.0,
        )  # fmt: skip
        os.eventfd_write(self.ready_fd, 1)
        return True

    def write_header(
        self,
        slot: int,
        width: int,
        height: int,
        token: int,
        channels: int = 3,
        next_due: float | None = None,
    ) -> None:
        """Write a slot header (public so tests can forge a bad one)."""
        _HEADER.pack_into(
            self._mem,
            slot * self.geometry.slot_bytes,
            _MAGIC_WORD,
            width,
            height,
            channels,
            _DTYPE_UINT8,
            token,
            self.seq,
            time.monotonic(),
            next_due or 0.0,
        )

    def close(self) -> None:
        self._pixels.clear()
        self._full.clear()
        self._mem.close()


def _whose(size: tuple[int, int] | None) -> str:
    """Who set the size a frame must have, for :meth:`FrameWriter.publish`'s errors."""
    return "the display takes" if size is None else "the host asked for"
