"""A wall of panels, for real: a leader rendering a 128x32 canvas and two followers showing
its 64x32 halves, through Mosquitto (docs/mqtt.md, "A wall of panels").

Every sign is ``ledhost run`` (headless) with its own bridge (``tests/sync_helpers.py``).
What is compared is what each host pushed, as its ``frames`` events carry it: each
follower's frames must be the slice of a frame the leader composed; with the leader
killed, each follower goes back to its own rotation (``rotor``: a solid colour).
"""

from __future__ import annotations

import signal
import threading
import zlib
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from config import ConfigError, load_config
from host.display.compositor import Compositor
from host.display.presenter import Presenter
from host.display.wall import STALE, WallFeed
from host.errors import HostError
from host.ipc import control
from host.ipc.control_client import ControlClient, HostNotRunning
from host.mqtt.wall import WallError, decode_frame, encode_frame
from host.stats import RunStats
from tests.conftest import eventually
from tests.mqtt_helpers import Broker
from tests.sync_helpers import SyncSign

WALL = "wall_width = 128\nwall_height = 32\nwall_fps = 30\nwall_delay = 0.1\n"


def test_a_frame_round_trips_and_bad_ones_are_refused_naming_the_problem() -> None:
    rgb = bytes(range(256)) * 24  # 64x32x3 = 6144 bytes
    payload = encode_frame(64, 32, 1.7e9, 5, zlib.compress(rgb, 1))
    assert decode_frame(payload, 64, 32) == (1.7e9, 5, rgb)
    with pytest.raises(WallError, match="64x32 frame for a 128x32 wall"):
        decode_frame(payload, 128, 32)
    with pytest.raises(WallError, match="not 6144 bytes"):
        decode_frame(encode_frame(64, 32, 1.7e9, 5, zlib.compress(rgb * 1000, 9)), 64, 32)
    with pytest.raises(WallError, match="plausible"):
        decode_frame(encode_frame(64, 32, 0.0, 5, zlib.compress(rgb)), 64, 32)
    with pytest.raises(WallError, match="magic"):
        decode_frame(b"X" * 40, 64, 32)


class Panel:
    def __init__(self) -> None:
        self.pushed: list[tuple[bytes, float]] = []

    def push(self, frame: np.ndarray, at: float) -> None:
        self.pushed.append((frame.tobytes(), at))


def test_the_feed_shows_the_newest_due_slice_then_hands_back_to_the_rotation() -> None:
    """Verify the follower host's half with ``now`` passed: a frame waits for its instant,
    of several due only the newest shows, a wrong size is refused naming it, and after
    STALE seconds without frames the presenter is asked to redraw (its own rotation)."""
    compositor = Compositor(64, 32)
    stats = RunStats(started=0.0)
    presenter = Presenter(compositor, 1 / 60, stats)
    feed, panel = WallFeed(compositor), Panel()
    a, b, c = (bytes([v]) * 6144 for v in (1, 2, 3))
    with pytest.raises(HostError, match="128x32 .* does not fit this 64x32 display"):
        feed.add(bytes(12288), 128, 32, 10.0, 10.0)
    feed.add(a, 64, 32, 10.1, 10.0)
    feed.add(b, 64, 32, 10.2, 10.0)
    feed.add(c, 64, 32, 10.5, 10.0)
    assert feed.next_push_at(10.0) == 10.1
    assert feed.push_if_due(10.05, panel, presenter) is False and not panel.pushed
    assert feed.push_if_due(10.3, panel, presenter) is True
    assert panel.pushed == [(b, 10.3)]  # a was due too, but b is newer
    assert feed.push_if_due(10.6, panel, presenter) is True and panel.pushed[-1] == (c, 10.6)
    assert feed.next_push_at(10.6) == 10.0 + STALE
    assert feed.push_if_due(10.0 + STALE, panel, presenter) is False
    assert presenter.next_push_at(10.0 + STALE) is not None  # the rotation is due again
    assert not feed.active


def test_a_wall_that_does_not_fit_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "ledhost.toml"
    base = "[mqtt]\nenabled = true\n[sync]\nwall_width = 128\nwall_height = 32\n"
    config.write_text(base + 'role = "follower"\nwall_x = 100\n')
    with pytest.raises(ConfigError, match=r"sync.wall_x.*64x32 at 100,0\) goes past the 128x32"):
        load_config(config, env={}, secrets_path=False)
    config.write_text(base + 'role = "leader"\n')
    with pytest.raises(ConfigError, match="its display must be 128x32"):
        load_config(config, env={}, secrets_path=False)
    config.write_text(base + 'role = "leader"\n[display]\nchain = 2\n')
    assert load_config(config, env={}, secrets_path=False).sync.wall


class Frames:
    """A host's pushed frames, as its ``frames`` events carry them (a thread reads)."""

    def __init__(self, sign: SyncSign) -> None:
        self.sign = sign
        self.lock = threading.Lock()
        self.seen: list[np.ndarray] = []
        #: Each frame's ``at`` (the host's wall clock when it sent the event).
        self.times: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self.stop.is_set():
            try:
                with ControlClient(str(self.sign.sock), timeout=10) as events:
                    events.request(control.Subscribe(kinds=["frames"]))
                    while not self.stop.is_set():
                        event = events.receive(timeout=0.5)
                        if isinstance(event, control.FrameEvent):
                            rgb = event.rgb
                            pixels = np.frombuffer(rgb, np.uint8).reshape(
                                event.height, event.width, 3
                            )
                            with self.lock:
                                self.seen.append(pixels)
                                self.times.append(event.at)
            except (HostNotRunning, TimeoutError, OSError):
                self.stop.wait(0.2)

    def frames(self) -> list[np.ndarray]:
        with self.lock:
            return list(self.seen)

    def timed(self) -> list[tuple[float, np.ndarray]]:
        with self.lock:
            return list(zip(self.times, self.seen, strict=True))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


@pytest.mark.slow
def test_followers_show_their_slice_of_the_leaders_canvas_and_fall_back_alone(
    tmp_path: Path, broker: Broker
) -> None:
    """Verify that each follower pushes exactly its half of frames the leader composed
    (several different ones: the clock ticks), and shows its own rotation once the
    leader is killed."""
    leader = SyncSign(
        tmp_path / "lead", broker.port, "lead", "leader",
        extra=WALL + "[display]\nchain = 2\n[plugins.clock]\n", modes=("clock:time",),
    )  # fmt: skip
    signs = [
        SyncSign(
            tmp_path / f"f{i}",
            broker.port,
            f"f{i}",
            "follower",
            extra=WALL + f"wall_x = {64 * i}\n",
        )  # fmt: skip
        for i in range(2)
    ]
    watch = [Frames(s) for s in (leader, *signs)]
    try:
        for sign in signs:
            eventually(sign.following, f"{sign.name} following the leader", timeout=90)

        def cuts(i: int) -> set[bytes]:
            lead = [f for f in watch[0].frames() if f.shape == (32, 128, 3)]
            return {f[:, 64 * i : 64 * (i + 1)].tobytes() for f in lead}

        def showing_slice(i: int) -> bool:
            frames = watch[1 + i].frames()
            return bool(frames) and frames[-1].tobytes() in cuts(i)

        for i in range(2):
            eventually(partial(showing_slice, i), f"f{i} showing its slice", timeout=60)

        def matched() -> int:
            """Different frames the followers pushed that are slices of the leader's."""
            return sum(len({f.tobytes() for f in watch[1 + i].frames()} & cuts(i)) for i in (0, 1))

        # the clock ticks: several frames, each of them a slice of the leader's
        eventually(lambda: matched() >= 4, "several slices shown", timeout=60)
        # the halves differ (the clock's digits), so each follower got its own
        assert watch[1].frames()[-1].tobytes() != watch[2].frames()[-1].tobytes()
        # The status says where each sign sits on the wall, and what its slices did.
        assert leader.sync()["wall"] == {
            "width": 128, "height": 32, "slice": [0, 0, 128, 32], "feed": None
        }  # fmt: skip
        for i, sign in enumerate(signs):
            wall = sign.sync()["wall"]
            assert (wall["width"], wall["height"], wall["slice"]) == (128, 32, [64 * i, 0, 64, 32])
            # Each showed its slice (waited for above): at least one, maybe only one yet.
            assert wall["feed"]["active"] is True and wall["feed"]["shown"] >= 1

        leader.stop(signal.SIGKILL)
        for i, sign in enumerate(signs):

            def own_rotation(frames: Frames = watch[1 + i]) -> bool:
                last = frames.frames()[-1]
                return bool((last == last[0, 0]).all() and last[0, 0].any())  # a solid colour

            eventually(own_rotation, f"{sign.name} back to its own rotation", timeout=30)
    finally:
        for w in watch:
            w.close()
        for sign in (leader, *signs):
            sign.stop()
