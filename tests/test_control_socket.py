"""The control socket with a real host, real workers and a real Unix socket.

One live run carries the requests in order (each host run costs seconds of the shared
machine); the wire's refusals, the listener's safety checks and the CLI without a host
have their own tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from host.control import listen
from host.control.server import MAX_BACKLOG, MAX_CLIENTS
from host.errors import HostError
from host.ipc import control
from host.ipc.control_client import ControlClient, ControlFailed, HostNotRunning
from host.ipc.previewbus import PreviewReader
from host.schedule.rotation import Scheduler, Slot
from sdk import priorities
from tests.conftest import eventually
from tests.livehost import LiveHost, run_live

SECRET = "control-test-secret-4711"


def _tables(sock: Path) -> dict[str, Any]:
    return {
        "control": {"socket": str(sock)},
        "rotation": {"modes": ["a:fill", "b:fill"], "interrupt_max_seconds": 30.0},
        "plugins": {
            "a": {"plugin": "solid", "fps": 30},
            "b": {"plugin": "solid", "fps": 30},
            "sec": {"plugin": "secretive", "label": "hello"},
        },
    }


def _failed(client: ControlClient, message: Any) -> ControlFailed:
    with pytest.raises(ControlFailed) as caught:
        client.request(message)
    return caught.value


def _raw(sock_path: Path, data: bytes) -> list[Any]:
    """Send raw bytes; every message the host answers before it closes the connection.

    A host that refuses the connection (busy) may answer and close before the bytes are
    sent: the send then fails with EPIPE, and the answer is still there to read.
    """
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(str(sock_path))
    if data:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(data)
    buf = bytearray()
    while chunk := s.recv(65536):
        buf += chunk
    s.close()
    return [control.decode_from_host(p) for p in control.split_frames(buf, control.MAX_MESSAGE)]


def _wait_event(client: ControlClient, match: Any, what: str) -> Any:
    """The first event ``match`` accepts; fails naming ``what`` if the host goes quiet."""
    for _ in range(10000):
        event = client.receive(timeout=30)
        assert event is not None, f"no event for {what}"
        if match(event):
            return event
    raise AssertionError(f"no event for {what}")


def test_next_and_previous_step_the_rotation() -> None:
    slots = [Slot("a", "m", 10.0), Slot("b", "m", 10.0), Slot("c", "m", 10.0)]
    scheduler = Scheduler(slots)

    def shown(now: float) -> str:
        decision = scheduler.decide(now, lambda slot: True)
        assert decision is not None
        return decision.slot.instance

    assert shown(0.0) == "a"
    scheduler.skip()
    assert shown(1.0) == "b"
    scheduler.skip()
    assert shown(2.0) == "c"
    scheduler.skip(back=True)
    assert shown(3.0) == "b"
    scheduler.skip(back=True)
    assert shown(4.0) == "a"
    scheduler.skip(back=True)
    assert shown(5.0) == "c"  # around the end


def test_the_notification_default_is_the_sdk_level() -> None:
    assert control.DEFAULT_PRIORITY == priorities.NOTIFICATION


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_requests_roundtrip_and_bad_fields_are_named() -> None:
    pin = control.Pin(instance="a", mode="fill", seconds=5.0, id=3)
    assert control.decode_from_client(control.frame(pin)[4:]) == pin
    for bad in (
        {"t": "pin", "instance": "a", "mode": "fill", "seconds": float("inf")},
        {"t": "brightness", "value": 101},
        {"t": "notify", "text": "x" * 5000},
        {"t": "pin", "instance": "a\n", "mode": "fill"},
        {"t": "status", "extra": 1},
        {"t": "shutdown"},
        {"t": "action", "instance": "a", "action": "x", "args": _nested(control.MAX_DEPTH + 1)},
    ):
        with pytest.raises(control.ControlProtocolError, match="bad request"):
            control.decode_from_client(msgspec.msgpack.encode(bad))


def test_every_request_against_a_live_host(tmp_path: Path) -> None:
    sock = tmp_path / "run" / "control.sock"

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("a", "b", "sec") and sock.exists(), "workers, socket")
        st = os.stat(sock)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
        assert st.st_uid == os.geteuid()
        sub = ControlClient(str(sock), timeout=20)
        sub.request(control.Subscribe(kinds=["state", "logs"]))
        follow = ControlClient(str(sock), timeout=20)
        follow.request(control.Logs(instance="sec", lines=0, follow=True))
        with ControlClient(str(sock), timeout=20) as c:
            status = c.request(control.Status())
            assert set(status["plugins"]) == {"a", "b", "sec"}
            assert status["display"]["powered"] is True

            shown = c.request(control.Pin(instance="b", mode="fill"))
            assert shown["showing"] == "b:fill" and shown["pin"] is not None
            assert _failed(c, control.Pin(instance="zz", mode="fill")).code == "refused"
            assert c.request(control.Unpin())["pin"] is None
            _wait_event(
                sub,
                lambda e: isinstance(e, control.StateEvent) and e.data["showing"] == "b:fill",
                "the pin's state event",
            )

            before = c.request(control.Status())["display"]["showing"]
            after = c.request(control.Next())["showing"]
            assert after != before
            assert c.request(control.Previous())["showing"] == before

            c.request(control.Brightness(value=40))
            assert c.request(control.Status())["display"]["brightness"] == 40

            c.request(control.Power(on=False))
            off = c.request(control.Status())["display"]
            assert off["on"] is False and off["showing"] is None
            c.request(control.Power(on=True))
            eventually(lambda: c.request(control.Status())["display"]["showing"], "back on")

            # A notification: above plugins, its length capped as plugin interrupts are.
            note = c.request(control.Notify(mode="sec:show", seconds=600.0))
            assert note["showing"] == "sec:show"
            (queued,) = note["interrupts"]
            assert queued["priority"] == priorities.NOTIFICATION
            assert queued["source"] == "api"
            assert _failed(c, control.Notify(text="hi")).code == "unsupported"  # no text
            assert _failed(c, control.Notify()).code == "bad_request"

            peek = c.request(control.RunAction(instance="sec", action="peek"))
            assert peek is not None
            nope = _failed(c, control.RunAction(instance="sec", action="nope"))
            assert nope.code == "no_such_action" and "peek" in str(nope)

            section = c.request(control.ConfigGet(section="plugins.sec"))
            assert section["label"] == "hello" and section["api_key"] == "set"
            assert SECRET not in json.dumps(section)
            key = control.ConfigSet(section="plugins.sec", values={"api_key": "other-value"})
            assert _failed(c, key).code == "secret"
            assert _failed(c, control.ConfigGet(section="nope")).code == "no_such_section"
            text_before = live.path.read_text()
            bad = control.ConfigSet(section="display", values={"width": -3})
            assert _failed(c, bad).code == "invalid_config"
            assert live.path.read_text() == text_before  # refused whole: nothing written
            new = c.request(control.ConfigSet(section="plugins.sec", values={"label": "bye"}))
            assert new["label"] == "bye"
            assert 'label = "bye"' in live.path.read_text()

            assert isinstance(c.request(control.Logs(instance="sec")), list)
            assert _failed(c, control.Logs(instance="zz")).code == "no_such_instance"

            pid = live.pids()["a"]
            c.request(control.PluginOp(op="restart", instance="a"))
            live.wait_for(lambda: live.pids()["a"] not in (None, pid), "a restarted")
            assert _failed(c, control.PluginOp(op="retry", instance="a")).code == "conflict"
            # secretive logs in setup: a restart shows up on both kinds of log stream.
            c.request(control.PluginOp(op="restart", instance="sec"))
            for stream in (sub, follow):
                event = _wait_event(
                    stream,
                    lambda e: isinstance(e, control.LogEvent) and e.instance == "sec",
                    "a log event of sec",
                )
                assert event.text and SECRET not in event.text
            sub.close()
            follow.close()
            c.request(control.PluginOp(op="disable", instance="b"))
            live.wait_for(lambda: "b" not in live.host.supervisor.handles, "b disabled")

            # The CLI on the same socket.
            out = subprocess.run(
                [sys.executable, "-m", "host", "status", "--json", "--socket", str(sock)],
                capture_output=True, text=True, timeout=60, check=True,
            )  # fmt: skip
            assert set(json.loads(out.stdout)["plugins"]) == {"a", "sec"}
            assert SECRET not in out.stdout

    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[plugins.sec]\napi_key = "{SECRET}"\n')
    secrets.chmod(0o600)
    run_live(tmp_path, _tables(sock), scenario)
    assert not sock.exists()  # removed at shutdown


def test_config_backup_keeps_comments_and_a_bad_restore_changes_nothing(tmp_path: Path) -> None:
    sock = tmp_path / "run" / "control.sock"

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("a", "b", "sec") and sock.exists(), "workers, socket")
        live.save("# the user's own note, kept\n" + live.path.read_text())
        live.wait_reloads(1)
        with ControlClient(str(sock), timeout=20) as c:
            backup = c.request(control.ConfigBackup())
            assert backup["text"].startswith("# the user's own note, kept")
            assert SECRET not in json.dumps(backup) and backup["left_out"] == []
            before = live.path.read_text()
            bad = control.ConfigRestore(text=backup["text"] + "\n[display]\nbrightness = 400\n")
            failed = _failed(c, bad)
            assert failed.code == "invalid_config" and "brightness" in str(failed)
            assert live.path.read_text() == before  # refused whole: nothing written
            restored = backup["text"].replace('label = "hello"', 'label = "restored"')
            assert restored != backup["text"]
            c.request(control.ConfigRestore(text=restored))
            assert live.path.read_text() == restored
            assert c.request(control.ConfigGet(section="plugins.sec"))["label"] == "restored"
            assert any((live.path.parent / ".ledhost-backups").iterdir())  # the old file kept

    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[plugins.sec]\napi_key = "{SECRET}"\n')
    secrets.chmod(0o600)
    run_live(tmp_path, _tables(sock), scenario)


def test_garbage_and_idle_subscribers_do_not_hurt_the_host(tmp_path: Path) -> None:
    sock = tmp_path / "control.sock"

    def scenario2(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("a") and sock.exists(), "a running")
        server = live.host.control
        assert server is not None
        (too_big,) = _raw(sock, struct.pack("!I", control.MAX_REQUEST + 1))
        assert too_big.code == "bad_request" and "exceeds" in too_big.message
        (garbage,) = _raw(sock, struct.pack("!I", 3) + b"\xc1\xc1\xc1")
        assert garbage.code == "bad_request"
        deep = (
            b"\x83\xa1t\xaaconfig_set\xa7section\xa7display\xa6values"
            + b"\x81\xa1a" * 50000
            + b"\xc0"
        )
        (nested,) = _raw(sock, struct.pack("!I", len(deep)) + deep)
        assert nested.code == "bad_request" and "deep" in nested.message
        unknown_payload = msgspec.msgpack.encode({"t": "reboot"})
        (unknown,) = _raw(sock, struct.pack("!I", len(unknown_payload)) + unknown_payload)
        assert unknown.code == "bad_request" and "reboot" in unknown.message

        # A subscriber that never reads, and one that floods requests and never reads the
        # replies: frames go on being shown, and the flooder is dropped.
        idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        idle.connect(str(sock))
        idle.sendall(control.frame(control.Subscribe(kinds=["frames", "state"])))
        flood = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        flood.connect(str(sock))
        flood.setblocking(False)
        request = control.frame(control.Status())
        sent = 0
        while sent < 4 * MAX_BACKLOG // 1000:  # replies are ~1 kB each: several backlogs
            try:
                flood.send(request * 50)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
            sent += 50
        live.wait_for(lambda: server.dropped >= 1, "the flooding client dropped")
        shown = live.host.stats.frames_shown
        live.wait_for(lambda: live.host.stats.frames_shown > shown + 30, "frames going on")
        with ControlClient(str(sock), timeout=20) as c:
            assert "a" in c.request(control.Status())["plugins"]
            # A reading subscriber gets changed frames, their RGB bytes as pushed.
            events = c.subscribe(["frames"])
            first = next(events)
            assert isinstance(first, control.FrameEvent)
            assert len(first.rgb) == first.width * first.height * 3
        idle.close()
        flood.close()

        live.wait_for(lambda: len(server.clients) == 0, "the clients gone")
        _preview_bus(live, sock)

        # No more than MAX_CLIENTS at once: one more is told so and closed.
        live.wait_for(lambda: len(server.clients) == 0, "the clients gone")
        held = []
        for _ in range(MAX_CLIENTS):
            held.append(ControlClient(str(sock), timeout=20))
            held[-1].request(control.Status())
        (busy,) = _raw(sock, b"")
        assert busy.code == "busy"
        for client in held:
            client.close()

    tables = _tables(sock)
    tables["plugins"] = {"a": {"plugin": "solid", "fps": 30}}
    tables["rotation"] = {"modes": ["a:fill"]}
    run_live(tmp_path, tables, scenario2)


def _preview_bus(live: LiveHost, sock: Path) -> None:
    """The preview bus: a read-only segment comes with the reply, its frames are frames
    the host pushed, and the host stops writing there once the connection closes."""
    server = live.host.control
    with ControlClient(str(sock), timeout=20) as c:
        data, fd = c.open_preview()
        reader = PreviewReader(fd)
        try:
            assert (data["width"], data["height"]) == (reader.width, reader.height)
            got: list[Any] = []
            live.wait_for(lambda: bool(got.append(reader.read()) or got[-1]), "a frame")
            _gen, _at, rgb = got[-1]
            image = np.frombuffer(rgb, np.uint8).reshape(reader.height, reader.width, 3)
            assert any(np.array_equal(image, f) for f, _at, _wall in live.backend.pushes)
            with pytest.raises(OSError):
                os.write(fd, b"x")
            # The connection still serves requests after the reply that carried the fd.
            assert "a" in c.request(control.Status())["plugins"]
        finally:
            reader.close()
    live.wait_for(lambda: len(server.clients) == 0, "the preview's connection gone")
    writer = server.preview.writer
    assert writer is not None
    # The compositor composes into a buffer of its own again, not into the bus.
    assert live.host.compositor.next_out is None
    assert not any(np.shares_memory(live.host.compositor.out, f) for f in writer.frames)
    written, shown = writer.generation, live.host.stats.frames_shown
    live.wait_for(lambda: live.host.stats.frames_shown > shown + 10, "frames going on")
    assert writer.generation == written


def test_the_listener_refuses_unsafe_paths(tmp_path: Path) -> None:
    with pytest.raises(HostError, match="not an absolute path"):
        listen.open_listener("relative.sock")
    plain = tmp_path / "plain"
    plain.write_text("")
    with pytest.raises(HostError, match="not a socket"):
        listen.open_listener(str(plain))
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(HostError, match="not a folder"):
        listen.open_listener(str(tmp_path / "link" / "c.sock"))
    # A live socket is another host's: refused. A dead one of ours is replaced.
    path = str(tmp_path / "c.sock")
    first = listen.open_listener(path)
    with pytest.raises(HostError, match="already running"):
        listen.open_listener(path)
    first.close()
    listen.open_listener(path).close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a folder to another user")
def test_the_listener_refuses_a_folder_it_does_not_own(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir(mode=0o755)
    os.chown(other, 65534, 65534)
    with pytest.raises(HostError, match="belongs to uid 65534"):
        listen.open_listener(str(other / "c.sock"))


def test_without_a_host_the_cli_says_so_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(HostNotRunning):
        ControlClient(str(tmp_path / "none.sock"))
    for argv in (["status"], ["next"], ["pin", "a:fill", "--for", "5"], ["logs", "a", "-f"]):
        done = subprocess.run(
            [sys.executable, "-m", "host", *argv, "--socket", str(tmp_path / "none.sock")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1 and "no ledhost host is running" in done.stderr


def test_a_text_notification_is_drawn_by_the_builtin_text_plugin(tmp_path: Path) -> None:
    sock = tmp_path / "control.sock"

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("a", "text") and sock.exists(), "workers, socket")
        with ControlClient(str(sock), timeout=20) as c:
            shown = c.request(control.Notify(text="Door", color="#00ff00", priority=1000))
            (queued,) = shown["interrupts"]
            # Shown once the worker says the mode has content (it holds the text now).
            live.wait_for(
                lambda: live.host.director.display_status()["showing"] == "text:notification",
                "the notification on screen",
            )
            assert queued["source"] == "api" and queued["priority"] == priorities.NOTIFICATION
            # The text plugin drew it in the colour asked for: green pixels, no red.
            live.wait_for(
                lambda: any(
                    (frame[..., 1] > 128).any() and not (frame[..., 0] > 128).any()
                    for frame, _, _ in list(live.backend.pushes)[-3:]
                ),
                "a green notification on the panel",
            )

    tables = {
        "control": {"socket": str(sock)},
        "rotation": {"modes": ["a:fill"]},
        "plugins": {"a": {"plugin": "solid", "fps": 5}, "text": {"message": "hello"}},
    }
    run_live(tmp_path, tables, scenario)


def test_a_secret_written_in_the_config_file_is_left_out_of_a_backup(tmp_path: Path) -> None:
    """The file is the user's (a secret there is refused by its plugin, but it is there);
    the backup must not carry it. The running config says which options are secret."""
    from types import SimpleNamespace

    from config.secrets import REDACTED
    from host.control.config_ops import backup_text

    path = tmp_path / "ledhost.toml"
    path.write_text(f'# mine\n[plugins.sec]\nlabel = "x"\napi_key = "{SECRET}"\n')
    running = {"plugins": {"sec": {"label": "x", "api_key": REDACTED}}}
    host = SimpleNamespace(cfg=SimpleNamespace(path=path, to_dict=lambda secrets: running))
    backup = backup_text(host)
    assert SECRET not in backup["text"] and backup["left_out"] == ["plugins.sec.api_key"]
    assert backup["text"].startswith("# mine") and 'label = "x"' in backup["text"]
    assert "left out of this backup (secret): plugins.sec.api_key" in backup["text"]
