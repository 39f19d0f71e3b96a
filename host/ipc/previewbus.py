"""The preview bus: the composed frame in shared memory, for the web process to read.

Issue 18's goal (the host's CPU with one preview open at most 1.1x its CPU without one)
left no room for a message per frame: copying the bytes, encoding the event and the send
cost the host ~30 us a frame, and so did a copy into shared memory published with a
``pwrite`` (on a loaded machine every step of it runs on cold caches: the ``pwrite`` alone
took ~13 us, a ``struct.pack_into`` ~9 us, a CRC-32 ~13 us for its tables). Here the
host composes each frame straight into the next slot (:attr:`PreviewWriter.frames`, the
compositor's output buffer while a preview is open: :mod:`host.control.preview_bus`) and
publishes it with an Adler-32 of the pixels (no tables) and four word stores through its
mapping (:meth:`PreviewWriter.publish_slot`): no copy, no comparison, no syscall. The web
process reads at its own pace (60 looks a second at most) and the host never learns
whether or when it does.

Layout: one sealed ``memfd`` of :data:`HEADER_SIZE` bytes of header (magic, width, height,
slot count, then at :data:`GEN_OFFSET` the generation of the newest whole frame) and
``slots`` slots, each :data:`SLOT_HEADER` bytes (its generation, the host's wall clock when
it wrote it, its check: the Adler-32 of its pixels XOR the generation's low 32 bits) then
the RGB bytes, row-major, 3 a pixel. Frame ``g`` goes to slot ``g % slots``. Words are
8-byte aligned, in the machine's byte order (both ends run on the same machine).

Why a reader gets whole frames with neither a seqlock nor a barrier (DESIGN.md: readers
starve, and Python cannot order memory on ARM): the writer fills slot ``g % slots`` (the
compositor may start on it once ``g - 1`` is published, when the slot holds the long
superseded ``g - slots``), then stores the slot's header, then ``g`` at
:data:`GEN_OFFSET`. Another CPU may see those stores in any order, and a reader may copy a
slot while it is rewritten, so the reader trusts nothing it did not check: it reads the
generation ``g``, copies slot ``g % slots`` and keeps the copy only if the slot's header
says ``g``, its check matches the copied pixels and ``g`` (so neither a torn copy nor the
slot's previous frame under a new header passes, but for a 2**-32 chance), and the
generation, read again, shows the slot not lapped. A reader loses a copy only if the
writer laps the slot or it sees the stores before the pixels; it then tries again, and
the writer never waits for anyone.

The web process gets a read-only descriptor (:meth:`PreviewWriter.reader_fd`, passed over
the control socket with ``SCM_RIGHTS``): it cannot write, map writable, resize or reseal
the segment (the seals are set before it ever sees it), and since the segment's mode is
0400 and its owner the host's user, a web process running as another user (``ledhost``,
:mod:`host.system.webuser`) cannot reopen it writable through ``/proc/self/fd`` either.
What the host reads back from it (the frame it composed there, on its way to the panel)
only the host can have written, and the seals keep anyone from shrinking the segment under
the host's mapping (a SIGBUS), so nothing there can hurt it.

Interface used by :mod:`host.control.preview_bus` (writer) and :mod:`web.events`
(reader); the request that hands out the descriptor is :class:`host.ipc.control.PreviewOpen`.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import zlib
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from typing_extensions import Buffer

#: Frames in flight: the newest, one being written, and room for a slow reader's copy.
SLOTS: Final = 4
HEADER_SIZE: Final = 64
GEN_OFFSET: Final = 16
SLOT_HEADER: Final = 24
_MAGIC: Final = b"LHP2"
_HEAD = struct.Struct("<4sHHB7x")  # magic, width, height, slots (then the generation)
_GEN = struct.Struct("=Q")
_SLOT = struct.Struct("=QdQ")  # generation, wall clock when written, check
#: Tries of one :meth:`PreviewReader.read` before it reports no frame this look.
_TRIES: Final = 3


def _check(rgb: Buffer, generation: int) -> int:
    """A slot's check: its pixels' Adler-32, bound to its generation."""
    return zlib.adler32(rgb) ^ (generation & 0xFFFFFFFF)


class PreviewError(Exception):
    """The segment is not a preview bus of a size this side can read."""


def _slot_bytes(width: int, height: int) -> int:
    return SLOT_HEADER + (width * height * 3 + 63) // 64 * 64


class PreviewWriter:
    """The host's end: one segment for a ``width`` x ``height`` panel."""

    def __init__(self, width: int, height: int, slots: int = SLOTS) -> None:
        if not (0 < width <= 4096 and 0 < height <= 4096 and 3 <= slots <= 255):
            raise PreviewError(f"no preview bus for {width}x{height} with {slots} slots")
        self.width, self.height, self.slots = width, height, slots
        self.frame_bytes = width * height * 3
        self.slot_bytes = _slot_bytes(width, height)
        size = HEADER_SIZE + self.slot_bytes * slots
        self.fd = os.memfd_create("ledhost-preview", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.ftruncate(self.fd, size)
            # Before any reader exists: nobody can change its size or its seals any more.
            seals = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL
            fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS, seals)
            # A memfd's inode is 0777: a read-only descriptor could be reopened writable
            # through /proc/self/fd by another user. Only its owner may read it now (the
            # host's own descriptor was opened writable before, which is what counts).
            os.fchmod(self.fd, 0o400)
            self._map = mmap.mmap(self.fd, size)
        except BaseException:
            os.close(self.fd)
            raise
        self._map[: _HEAD.size] = _HEAD.pack(_MAGIC, width, height, slots)
        self.generation = 0
        #: Each slot's pixels as a writable ``(height, width, 3)`` array on the mapping:
        #: fill ``frames[(generation + 1) % slots]``, then :meth:`publish_slot`.
        self.frames = [self._pixels(slot) for slot in range(slots)]
        # The mapping as 8-byte words: a store of one is one aligned machine store, and
        # costs a fraction of a struct.pack_into on cold caches.
        self._words = memoryview(self._map).cast("Q")
        self._reals = memoryview(self._map).cast("d")
        self._bytes = memoryview(self._map)
        self._flat = [self._bytes[self._start(slot) :][: self.frame_bytes] for slot in range(slots)]

    def _start(self, slot: int) -> int:
        return HEADER_SIZE + slot * self.slot_bytes + SLOT_HEADER

    def _pixels(self, slot: int) -> npt.NDArray[np.uint8]:
        pixels = np.frombuffer(self._map, np.uint8, self.frame_bytes, self._start(slot))
        return pixels.reshape(self.height, self.width, 3)

    def publish_slot(self, at: float) -> npt.NDArray[np.uint8]:
        """Make the next frame, already written into ``frames[(generation + 1) % slots]``,
        the newest, stamped with the wall clock ``at``.

        :returns: the slot the frame after it goes into.
        """
        gen = self.generation + 1
        slot = gen % self.slots
        word = (HEADER_SIZE + slot * self.slot_bytes) // 8
        # _check inlined: a call is a microsecond on this loop's cold caches.
        self._words[word + 2] = zlib.adler32(self._flat[slot]) ^ (gen & 0xFFFFFFFF)
        self._reals[word + 1] = at
        self._words[word] = gen
        self._words[GEN_OFFSET // 8] = gen
        self.generation = gen
        return self.frames[(gen + 1) % self.slots]

    def publish(self, rgb: Buffer, at: float) -> npt.NDArray[np.uint8]:
        """Copy ``rgb`` (a C-contiguous buffer of :attr:`frame_bytes`) in as the newest frame.

        :returns: the slot the frame after it goes into.
        """
        start = HEADER_SIZE + ((self.generation + 1) % self.slots) * self.slot_bytes
        self._map[start + SLOT_HEADER : start + SLOT_HEADER + self.frame_bytes] = rgb
        return self.publish_slot(at)

    def reader_fd(self) -> int:
        """A new read-only descriptor of the segment, for the web process (caller closes it)."""
        return os.open(f"/proc/self/fd/{self.fd}", os.O_RDONLY | os.O_CLOEXEC)

    def close(self) -> None:
        self.frames.clear()
        for view in (*self._flat, self._bytes, self._words):
            view.release()
        self._reals.release()
        try:
            self._map.close()
        except BufferError:
            pass  # a view of a slot still lives: unmapped when the last one goes
        os.close(self.fd)


class PreviewReader:
    """The web process's end, on a descriptor from :meth:`PreviewWriter.reader_fd`.

    :raises PreviewError: ``fd`` holds no preview bus (or one too large to be a panel).
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        head = os.pread(fd, _HEAD.size, 0)
        if len(head) != _HEAD.size:
            raise PreviewError("the preview segment is shorter than its header")
        magic, self.width, self.height, self.slots = _HEAD.unpack(head)
        if magic != _MAGIC or not (0 < self.width <= 4096 and 0 < self.height <= 4096):
            raise PreviewError("the preview segment's header is not a preview bus's")
        if self.slots < 3:
            raise PreviewError(f"the preview segment has {self.slots} slots; 3 are needed")
        self.frame_bytes = self.width * self.height * 3
        self.slot_bytes = _slot_bytes(self.width, self.height)
        if os.fstat(fd).st_size < HEADER_SIZE + self.slot_bytes * self.slots:
            raise PreviewError("the preview segment is shorter than its slots")
        self.generation = 0

    def _newest(self) -> int:
        return int(_GEN.unpack(os.pread(self.fd, _GEN.size, GEN_OFFSET))[0])

    def read(self) -> tuple[int, float, bytes] | None:
        """The newest frame as ``(generation, at, rgb)`` if one came since the last read;
        ``None`` if none did (or no copy was whole, :data:`_TRIES` times: the writer lapped
        the slot, or this CPU saw the header before the pixels)."""
        for _ in range(_TRIES):
            gen = self._newest()
            if gen == self.generation:
                return None
            start = HEADER_SIZE + (gen % self.slots) * self.slot_bytes
            raw = os.pread(self.fd, SLOT_HEADER + self.frame_bytes, start)
            if len(raw) != SLOT_HEADER + self.frame_bytes:
                return None
            slot_gen, at, check = _SLOT.unpack_from(raw)
            rgb = raw[SLOT_HEADER:]
            if (
                slot_gen == gen > self.generation
                and _check(rgb, gen) == check
                and self._newest() < gen + self.slots - 1
            ):
                self.generation = gen
                return gen, at, rgb
        return None

    def close(self) -> None:
        os.close(self.fd)
