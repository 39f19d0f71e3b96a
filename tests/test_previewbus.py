"""The preview bus (host/ipc/previewbus.py): whole frames only, newest first, and a reader
that can do nothing to the segment but read it.

The bus against a real host is in tests/test_control_socket.py (``_preview_bus``) and,
through the web process, tests/test_web_pages.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import numpy as np
import pytest

from host.control.preview_bus import PreviewPublisher
from host.display.compositor import Compositor
from host.ipc import control, previewbus
from host.ipc.previewbus import PreviewError, PreviewReader, PreviewWriter


@pytest.fixture
def bus() -> Iterator[tuple[PreviewWriter, PreviewReader]]:
    writer = PreviewWriter(4, 2)
    reader = PreviewReader(writer.reader_fd())
    yield writer, reader
    reader.close()
    writer.close()


def _frame(value: int) -> np.ndarray:
    return np.full((2, 4, 3), value % 256, dtype=np.uint8)


def test_the_reader_gets_the_newest_frame_once(bus: tuple[PreviewWriter, PreviewReader]) -> None:
    writer, reader = bus
    assert (reader.width, reader.height, reader.slots) == (4, 2, previewbus.SLOTS)
    assert reader.read() is None  # nothing written yet
    writer.publish(_frame(1), 10.5)
    assert reader.read() == (1, 10.5, _frame(1).tobytes())
    assert reader.read() is None  # nothing new
    for n in range(2, 9):  # more frames than slots between two looks: the newest wins
        writer.publish(_frame(n), 10.0 + n)
    assert reader.read() == (8, 18.0, _frame(8).tobytes())


def test_a_copy_overwritten_while_read_is_not_returned(
    bus: tuple[PreviewWriter, PreviewReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, reader = bus
    writer.publish(_frame(1), 1.0)
    real_pread = os.pread
    calls = [0]

    def pread(fd: int, n: int, offset: int) -> bytes:
        calls[0] += 1
        data = real_pread(fd, n, offset)
        if calls[0] == 2:  # the slot's copy: the writer laps it before the check
            for k in range(2, 2 + previewbus.SLOTS):
                writer.publish(_frame(k), float(k))
        return data

    monkeypatch.setattr(previewbus.os, "pread", pread)
    gen, _at, rgb = reader.read() or (0, 0.0, b"")
    # The lapped copy of frame 1 was thrown away; the retry read the newest whole frame.
    assert (gen, rgb) == (1 + previewbus.SLOTS, _frame(1 + previewbus.SLOTS).tobytes())


def test_a_copy_that_sees_the_header_before_the_pixels_is_refused(
    bus: tuple[PreviewWriter, PreviewReader],
) -> None:
    """On a CPU that orders stores loosely (ARM) a reader may see a slot's new header and
    generation before its new pixels, or some of them: the check refuses both copies."""
    writer, reader = bus
    for n in range(1, 1 + previewbus.SLOTS):
        writer.publish(_frame(n), float(n))
    assert (reader.read() or (0,))[0] == previewbus.SLOTS
    slot = writer.frames[(writer.generation + 1) % writer.slots]  # frame 1's pixels
    stale = slot.copy()
    slot[:] = _frame(9)
    writer.publish_slot(9.0)
    slot[:] = stale  # what a reader that sees the stores before the pixels copies
    assert reader.read() is None
    slot[:1] = _frame(9)[:1]  # the first row new, the rest not yet
    assert reader.read() is None
    slot[:] = _frame(9)  # now all of them
    assert reader.read() == (previewbus.SLOTS + 1, 9.0, _frame(9).tobytes())


def test_the_host_composes_into_the_bus_while_a_preview_is_open() -> None:
    """No copy in the host: the compositor's next output buffer is the bus's next slot, a
    pushed frame is published as it is, and once the last preview goes the compositor has
    a buffer of its own again (holding the panel's frame) and writes nothing there."""
    compositor = Compositor(4, 2)
    publisher = PreviewPublisher()
    host_end, web_end = socket.socketpair()
    try:
        compositor.compose(_frame(7))
        publisher.open(host_end, control.PreviewOpen(id=1), compositor, frames_shown=1)
        _reply, fds, _flags, _addr = socket.recv_fds(web_end, 4096, 1)
        reader = PreviewReader(fds[0])
        writer = publisher.writer
        assert writer is not None
        assert (reader.read() or (0, 0.0, b""))[2] == _frame(7).tobytes()  # at once
        out = compositor.compose(_frame(8))
        assert any(np.shares_memory(out, slot) for slot in writer.frames)
        assert reader.read() is None  # composed, not published until the push is seen
        publisher.publish(frames_shown=2)
        assert (reader.read() or (0, 0.0, b""))[2] == _frame(8).tobytes()
        publisher.publish(frames_shown=2)  # no push since: nothing
        assert reader.read() is None
        publisher.detach()
        assert compositor.next_out is None
        assert not any(np.shares_memory(compositor.out, slot) for slot in writer.frames)
        assert np.array_equal(compositor.out, _frame(8))
        compositor.compose(_frame(9))
        publisher.publish(frames_shown=3)
        assert reader.read() is None
        reader.close()
    finally:
        publisher.close()
        host_end.close()
        web_end.close()


def test_frames_read_while_another_process_writes_are_whole() -> None:
    """A writer process publishing as fast as it can, half its frames copied in and half
    filled in place in the next slot, row by row, as the compositor does; every frame this
    one reads is one the writer wrote whole (all its bytes equal its generation), however
    they overlap."""
    code = textwrap.dedent(
        """
        import os
        import numpy as np
        from host.ipc.previewbus import PreviewWriter
        w = PreviewWriter(64, 32)
        os.write(1, str(w.reader_fd()).encode() + b"\\n")
        frame = np.empty((32, 64, 3), np.uint8)
        slot = w.frames[1]
        for n in range(1, 40001):
            if n % 2:
                frame.fill(n % 256)
                slot = w.publish(frame, float(n))
            else:
                for row in slot:
                    row.fill(n % 256)
                slot = w.publish_slot(float(n))
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        child_fd = int(child.stdout.readline())
        fd = os.open(f"/proc/{child.pid}/fd/{child_fd}", os.O_RDONLY)
        reader = PreviewReader(fd)
        seen: list[int] = []
        while child.poll() is None or not seen:
            got = reader.read()
            if got is not None:
                gen, at, rgb = got
                assert at == float(gen) and rgb == bytes([gen % 256]) * len(rgb), gen
                seen.append(gen)
        reader.close()
    finally:
        child.kill()
        child.wait()
    assert seen == sorted(set(seen))  # newer each time, never one twice


def test_the_reader_cannot_change_the_segment(bus: tuple[PreviewWriter, PreviewReader]) -> None:
    import mmap

    _writer, reader = bus
    with pytest.raises(OSError):
        os.write(reader.fd, b"x")
    with pytest.raises(OSError):
        os.ftruncate(reader.fd, 0)
    with pytest.raises(PermissionError):
        mmap.mmap(reader.fd, 0)  # writable mapping


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the reader as another user")
def test_another_user_cannot_reopen_it_writable(bus: tuple[PreviewWriter, PreviewReader]) -> None:
    """What the web process, as the ``ledhost`` user, could try with its descriptor."""
    writer, reader = bus
    writer.publish(_frame(3), 3.0)
    code = textwrap.dedent(
        """
        import os, sys
        from host.ipc.previewbus import PreviewReader
        fd = int(sys.argv[1])
        os.setgid(65534); os.setuid(65534)
        print(PreviewReader(fd).read()[0])
        for flags in (os.O_RDWR, os.O_WRONLY):
            try:
                os.open(f"/proc/self/fd/{fd}", flags)
                print("reopened")
            except PermissionError:
                print("refused")
        try:
            os.fchmod(fd, 0o666)
            print("chmod")
        except PermissionError:
            print("refused")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(reader.fd)],
        pass_fds=[reader.fd], capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.split() == ["1", "refused", "refused", "refused"]


def test_a_segment_that_is_no_preview_bus_is_named() -> None:
    fd = os.memfd_create("not-a-bus")
    try:
        with pytest.raises(PreviewError, match="shorter than its header"):
            PreviewReader(fd)
        os.write(fd, b"LHP1" + bytes(60))
        with pytest.raises(PreviewError, match="not a preview bus"):
            PreviewReader(fd)
    finally:
        os.close(fd)
    with pytest.raises(PreviewError, match="0x2"):
        PreviewWriter(0, 2)
