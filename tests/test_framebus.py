"""The frame bus with real shared memory and a real writer process."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest

from host.errors import FrameError
from host.ipc.framebus import FrameBus, FrameWriter, Geometry


def _write_uniform_frames(fds: tuple[int, int, int], geometry: Geometry, count: int) -> None:
    """Child process: frame n is filled with n % 256 everywhere, as fast as possible."""
    writer = FrameWriter(fds, geometry)
    frame = np.empty((geometry.height, geometry.width, 3), dtype=np.uint8)
    sent = 0
    while sent < count:
        frame.fill(sent % 256)
        if writer.publish(frame, token=1):
            sent += 1
    writer.close()


def test_no_torn_frame_under_stress() -> None:
    """Verify that the host never sees a frame mixing two of the worker's frames."""
    geometry = Geometry(128, 64)
    bus = FrameBus("stress", geometry)
    count = 100_000
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_write_uniform_frames, args=(bus.worker_fds(), geometry, count))
    child.start()
    seen = 0
    last_value = -1
    try:
        import select

        while True:
            ready, _, _ = select.select([bus.ready_fd, child.sentinel], [], [], 10.0)
            frame, errors = bus.poll()
            assert not errors
            if frame is not None:
                pixels = frame.pixels
                value = int(pixels[0, 0, 0])
                # Uniform: every byte equals the first one.
                assert (pixels == value).all(), f"torn frame at seq {frame.seq}"
                assert frame.seq > last_value
                last_value = frame.seq
                seen += 1
            if child.sentinel in ready and frame is None:
                break
    finally:
        child.join(10)
    assert child.exitcode == 0
    assert last_value == count  # the newest frame always arrives
    assert seen > 1000  # and many were checked along the way
    bus.close()


def test_frame_views_are_read_only() -> None:
    bus = FrameBus("ro", Geometry(8, 4))
    writer = FrameWriter(bus.worker_fds(), Geometry(8, 4))
    writer.publish(np.full((4, 8, 3), 7, np.uint8), token=3)
    frame, errors = bus.poll()
    assert frame is not None and not errors
    assert frame.token == 3 and frame.pixels.shape == (4, 8, 3)
    with pytest.raises(ValueError):
        frame.pixels[0, 0, 0] = 1
    writer.close()
    bus.close()


def test_writer_drops_rather_than_blocks_when_host_holds_every_slot() -> None:
    geometry = Geometry(4, 2, slots=3)
    bus = FrameBus("drop", geometry)
    writer = FrameWriter(bus.worker_fds(), geometry)
    frame = np.zeros((2, 4, 3), np.uint8)
    assert [writer.publish(frame, 1) for _ in range(4)] == [True, True, True, False]
    assert writer.dropped == 1
    newest, _ = bus.poll()  # takes 3, keeps the newest, returns two credits
    assert newest is not None and newest.seq == 3
    assert writer.publish(frame, 1) and writer.publish(frame, 1)
    assert not writer.publish(frame, 1)  # the third slot is the one on screen
    writer.close()
    bus.close()


def test_writer_rejects_wrong_shape_and_dtype() -> None:
    geometry = Geometry(8, 4)
    bus = FrameBus("shape", geometry)
    writer = FrameWriter(bus.worker_fds(), geometry)
    with pytest.raises(FrameError, match=r"\(4, 8, 3\) uint8"):
        writer.publish(np.zeros((4, 9, 3), np.uint8), 1)
    with pytest.raises(FrameError, match="float32"):
        writer.publish(np.zeros((4, 8, 3), np.float32), 1)
    writer.close()
    bus.close()


def test_writer_takes_packed_rgb_bytes_of_the_size_asked_for() -> None:
    """Verify that a frame given as bytes (the worker's canvas read with ``tobytes``)
    arrives as the same pixels, whole-display or a region, and that bytes of any other
    length are refused before a slot is taken."""
    geometry = Geometry(8, 4)
    bus = FrameBus("bytes", geometry)
    writer = FrameWriter(bus.worker_fds(), geometry)
    rng = np.random.default_rng(9)
    for shape, size in (((4, 8, 3), None), ((3, 5, 3), (5, 3))):
        pixels = rng.integers(0, 256, shape, dtype=np.uint8)
        assert writer.publish(pixels.tobytes(), 2, size)
        frame, errors = bus.poll()
        assert not errors and frame is not None
        assert np.array_equal(frame.pixels, pixels)
    with pytest.raises(FrameError, match=r"95 bytes; the display takes 8x4 RGB \(96 bytes\)"):
        writer.publish(bytes(95), 1)
    with pytest.raises(FrameError, match=r"the host asked for 5x3"):
        writer.publish(bytes(96), 1, (5, 3))
    assert writer.seq == 2 and writer.dropped == 0
    writer.close()
    bus.close()


def test_host_rejects_forged_header_naming_the_instance() -> None:
    """Verify that a header announcing another size is refused, and the slot returned."""
    geometry = Geometry(8, 4)
    bus = FrameBus("rogue", geometry)
    writer = FrameWriter(bus.worker_fds(), geometry)
    assert os.eventfd_read(writer.free_fd) == 3  # every credit, as a worker takes them
    os.eventfd_write(writer.free_fd, 2)  # ... and spends one: the forged frame's
    writer.write_header(0, width=16, height=4, token=1)
    os.eventfd_write(writer.ready_fd, 1)
    frame, errors = bus.poll()
    assert frame is None
    assert len(errors) == 1
    assert "'rogue'" in str(errors[0]) and "16x4" in str(errors[0]) and "8x4" in str(errors[0])
    # The slot came back: the worker can still fill all three.
    writer._next = 1
    assert all(writer.publish(np.zeros((4, 8, 3), np.uint8), 1) for _ in range(3))
    writer.close()
    bus.close()


def test_host_refuses_more_frames_than_slots() -> None:
    bus = FrameBus("liar", Geometry(4, 2))
    os.eventfd_write(bus.ready_fd, 7)
    with pytest.raises(FrameError, match="7 frames for 3 slots"):
        bus.poll()
    bus.close()


def test_every_layout_of_frame_arrives_intact_and_read_only() -> None:
    """Verify that a contiguous frame (copied into the slot as bytes), a strided one (a
    view, copied by numpy) and a layout region's smaller frame all arrive pixel for pixel,
    and that the host's view of a whole-display slot, made once, cannot be written."""
    geometry = Geometry(16, 8)
    bus = FrameBus("layouts", geometry)
    writer = FrameWriter(bus.worker_fds(), geometry)
    rng = np.random.default_rng(5)
    wide = rng.integers(0, 256, (8, 32, 3), dtype=np.uint8)
    cases = [
        (rng.integers(0, 256, (8, 16, 3), dtype=np.uint8), None),  # contiguous
        (wide[:, ::2], None),  # every other column: not contiguous
        (np.asfortranarray(rng.integers(0, 256, (8, 16, 3), dtype=np.uint8)), None),
        (rng.integers(0, 256, (5, 7, 3), dtype=np.uint8), (7, 5)),  # a layout region
        (wide[:5, 1:15:2], (7, 5)),  # a strided region
    ]
    for pixels, size in cases * 2:  # twice round the ring: every slot reused
        assert writer.publish(pixels, 1, size)
        frame, errors = bus.poll()
        assert not errors and frame is not None
        assert np.array_equal(frame.pixels, pixels)
        assert not frame.pixels.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            frame.pixels[0, 0, 0] = 1
    writer.close()
    bus.close()
