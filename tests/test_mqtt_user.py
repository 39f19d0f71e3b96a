"""The MQTT bridge runs as the ``ledhost`` user where that works (``host.system.webuser``)
and gets its password from the host on its stdin, never from the secrets file itself.

Real processes: a real Mosquitto that checks the password, a real host, and the bridge as
another user (``nobody`` stands in for ``ledhost``, which this machine may not have) from a
plugin environment other users can run (``plugin_env``).
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import load_config
from host.ipc import control
from host.ipc.control_client import ControlClient, HostNotRunning
from host.supervise.web_child import BridgeChild
from host.system.webuser import bridge_identity
from tests.conftest import eventually
from tests.mqtt_helpers import MOSQUITTO, Broker, Watcher
from tests.test_pi_webuser import status_uid

needs_mosquitto = pytest.mark.skipif(MOSQUITTO is None, reason="needs mosquitto (apt)")
PASSWORD = "right-pass-7f3a"


def test_the_bridge_is_handed_the_secrets_files_password_at_each_start(tmp_path: Path) -> None:
    """Verify the handover itself: what the child reads on stdin is the secrets file's
    ``[mqtt] password`` as it is at that start (a changed one needs only a restart)."""
    config = tmp_path / "ledhost.toml"
    config.write_text("")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[mqtt]\npassword = "{PASSWORD}"\n')
    secrets.chmod(0o600)
    got = tmp_path / "got"
    child = BridgeChild(config, str(tmp_path / "sock"), "fallback")
    assert child.argv[-1] == "--password-stdin" and PASSWORD not in child.argv
    child.argv = [sys.executable, "-c", f"import sys; open({str(got)!r}, 'wb').write("
                  "sys.stdin.buffer.read())"]  # fmt: skip
    try:
        child.tick(0.0)
        assert child.proc is not None and child.proc.wait(30) == 0
        assert got.read_bytes() == PASSWORD.encode()
        secrets.write_text('[mqtt]\npassword = "changed"\n')
        child.proc = None
        child.tick(0.0)
        assert child.proc is not None and child.proc.wait(30) == 0
        assert got.read_bytes() == b"changed"
    finally:
        child.close()


def test_tls_files_given_with_a_tilde_keep_the_bridge_root(tmp_path: Path) -> None:
    config = tmp_path / "ledhost.toml"
    config.write_text('[mqtt]\nbroker = "mqtts://127.0.0.1:8883"\nca_file = "~/ca.crt"\n')
    cfg = load_config(config, env={}, secrets_path=False)
    assert bridge_identity(cfg, user="nobody") is None


@pytest.fixture(scope="module")
def locked_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """Anonymous clients welcome (the test's watcher); user ``sign`` only with its password."""
    if MOSQUITTO is None:
        pytest.skip("needs mosquitto (apt)")
    folder = tmp_path_factory.mktemp("locked")
    passwords = folder / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "sign", PASSWORD], check=True)
    passwords.chmod(0o600)
    b = Broker(folder, f"allow_anonymous true\npassword_file {passwords}\n")
    b.start()
    yield b
    b.stop()


def _status(sock: Path) -> dict[str, object] | None:
    try:
        with ControlClient(str(sock), timeout=5) as client:
            data: dict[str, object] = client.request(control.Status())
            return data
    except (HostNotRunning, TimeoutError, OSError):
        return None


@needs_mosquitto
def test_the_bridge_runs_as_the_service_user_and_commands_reach_the_host(
    plugin_env: Path, locked_broker: Broker
) -> None:
    """Verify the whole way as on a Pi: the probe passes for the user, the bridge runs
    under its uid, connects with the password the host handed it (the secrets file is
    root's 0600), and a command from the broker changes the host's display."""
    nobody = pwd.getpwnam("nobody")
    folder = plugin_env / "site"
    folder.mkdir(mode=0o755)
    (folder / "data").mkdir(mode=0o711)
    sock = folder / "control.sock"
    config = folder / "ledhost.toml"
    config.write_text(
        f'[paths]\ndata_dir = "{folder / "data"}"\n'
        f'[control]\nsocket = "{sock}"\n'
        '[workers]\nuser = ""\n'
        '[rotation]\nmodes = ["clock:time"]\n'
        # The test starts the bridge itself (as nobody), so the host does not.
        f'[mqtt]\nenabled = false\nbroker = "mqtt://127.0.0.1:{locked_broker.port}"\n'
        'username = "sign"\nclient_id = "usersign"\nbase_topic = "ledhost/usersign"\n'
        "[plugins.clock]\n"
    )
    config.chmod(0o644)
    secrets = folder / "secrets.toml"
    secrets.write_text(f'[mqtt]\npassword = "{PASSWORD}"\n')
    secrets.chmod(0o600)
    log = folder / "host.log"
    with log.open("w") as out:
        host = subprocess.Popen(
            [sys.executable, "-m", "host", "run", "--config", str(config),
             "--duration", "300", "--backend", "headless"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    watcher = Watcher(locked_broker.port)
    child: BridgeChild | None = None
    try:
        eventually(lambda: _status(sock) is not None, "the host answering", timeout=60)
        # The control socket's group stands in for the `ledhost` group here.
        os.chown(sock, -1, nobody.pw_gid)
        cfg = load_config(config, env={}, secrets_path=False)
        python = str(plugin_env / "env" / "bin" / "python")
        identity = bridge_identity(cfg, user="nobody", python=python)
        assert identity is not None, log.read_text()[-2000:]
        assert identity.state_dir == cfg.paths.data_dir / "mqtt"
        child = BridgeChild(config, str(sock), "", identity=identity)
        child.argv[0] = python
        child.tick(0.0)
        assert child.proc is not None
        pid = child.proc.pid
        assert status_uid(pid) == nobody.pw_uid
        assert PASSWORD.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
        assert PASSWORD.encode() not in Path(f"/proc/{pid}/environ").read_bytes()

        def connected() -> bool:
            mqtt = (_status(sock) or {}).get("mqtt")
            return isinstance(mqtt, dict) and mqtt.get("connected") is True

        eventually(connected, "the bridge (as nobody) connected with the handed password")

        def brightness_41() -> bool:
            display = (_status(sock) or {}).get("display")
            if isinstance(display, dict) and display.get("brightness") == 41:
                return True
            # Connected comes before the bridge's subscriptions are in place on a busy
            # machine, and a command is never retained: send it again until it lands.
            watcher.publish("ledhost/usersign/set/brightness", "41")
            return False

        eventually(brightness_41, "brightness 41 from the broker", interval=0.5)
        assert child.proc.poll() is None
    finally:
        watcher.close()
        if child is not None:
            child.close()
        host.terminate()
        host.wait(60)
