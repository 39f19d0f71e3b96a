"""The preview bus: the composed frame in shared memory, for the web process to read.

Issue 18's goal (the host's CPU with one preview open at most 1.1x its CPU without one)
left no room for a message per frame: copying the bytes, encoding the event and the send
cost the host ~30 us a frame. Here the host's part is a copy into a slot and one
``pwrite`` of 8 bytes; the web process reads at its own pace (60 looks a second at most)
and the host never learns whether or when it does.

Layout: one sealed ``memfd`` of :data:`HEADER_SIZE` bytes of header (magic, width, height,
slot count, then at :data:`GEN_OFFSET` the generation of the newest whole frame) and
``slots`` slots, each 16 bytes (its generation, the host's wall clock when it wrote it)
then the RGB bytes, row-major, 3 a pixel. Frame ``g`` goes to slot ``g % slots``.

Why this is safe without a seqlock (DESIGN.md: readers starve, Python cannot order memory
on ARM): the writer fills slot ``g % slots`` through its mapping, then publishes ``g`` with
``pwrite``, a syscall and so a full barrier between the pixels and the generation. The
reader reads the generation, the slot and the generation again, each with ``pread`` (a
syscall between each). The writer starts overwriting that slot only after publishing
``g + slots - 1``, so a copy is whole if the second look shows less than that. With
:data:`SLOTS` slots a reader loses a copy only if two frames go by while it copies ~6 kB;
it then simply tries again, and the writer never waits for anyone.

The web process gets a read-only descriptor (:meth:`PreviewWriter.reader_fd`, passed over
the control socket with ``SCM_RIGHTS``): it cannot write, map writable, resize or reseal
the segment (the seals are set before it ever sees it), and since the segment's mode is
0400 and its owner the host's user, a web process running as another user (``ledhost``,
:mod:`host.system.webuser`) cannot reopen it writable through ``/proc/self/fd`` either.
The host never reads the segment, so nothing there can hurt it.

Interface used by :mod:`host.control.server` (writer) and :mod:`web.events` (reader); the
request that hands out the descriptor is :class:`host.ipc.control.PreviewOpen`.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from typing_extensions import Buffer

#: Frames in flight: the newest, one being written, and room for a slow reader's copy.
SLOTS: Final = 4
HEADER_SIZE: Final = 64
GEN_OFFSET: Final = 16
SLOT_HEADER: Final = 16
_MAGIC: Final = b"LHP1"
_HEAD = struct.Struct("<4sHHB7x")  # magic, width, height, slots (then the generation)
_GEN = struct.Struct("<Q")
_SLOT = struct.Struct("<Qd")  # generation, wall clock when written
#: Tries of one :meth:`PreviewReader.read` before it reports no frame this look.
_TRIES: Final = 3


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

    def publish(self, rgb: Buffer, at: float) -> None:
        """Make ``rgb`` (a C-contiguous buffer of :attr:`frame_bytes`) the newest frame."""
        gen = self.generation + 1
        start = HEADER_SIZE + (gen % self.slots) * self.slot_bytes
        self._map[start : start + SLOT_HEADER] = _SLOT.pack(gen, at)
        self._map[start + SLOT_HEADER : start + SLOT_HEADER + self.frame_bytes] = rgb
        os.pwrite(self.fd, _GEN.pack(gen), GEN_OFFSET)  # the syscall orders the two
        self.generation = gen

    def reader_fd(self) -> int:
        """A new read-only descriptor of the segment, for the web process (caller closes it)."""
        return os.open(f"/proc/self/fd/{self.fd}", os.O_RDONLY | os.O_CLOEXEC)

    def close(self) -> None:
        self._map.close()
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
        ``None`` if none did (or it was overwritten while read, :data:`_TRIES` times)."""
        for _ in range(_TRIES):
            gen = self._newest()
            if gen == self.generation:
                return None
            start = HEADER_SIZE + (gen % self.slots) * self.slot_bytes
            raw = os.pread(self.fd, SLOT_HEADER + self.frame_bytes, start)
            slot_gen, at = _SLOT.unpack_from(raw)
            if slot_gen == gen and self._newest() < gen + self.slots - 1:
                self.generation = gen
                return gen, at, raw[SLOT_HEADER:]
        return None

    def close(self) -> None:
        os.close(self.fd)
