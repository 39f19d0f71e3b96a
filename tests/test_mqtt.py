"""The MQTT bridge against a real Mosquitto and a real host (issue 21).

One broker and one host (``ledhost run``, headless, ``[mqtt] enabled``) are shared by the
module; a second broker with a password file and a second host test wrong credentials.
The pure parts (command parsing, topic and config checks, backoff) are tested with tables.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from config import ConfigError, load_config
from host.ipc import control
from host.ipc.control_client import ControlClient
from host.mqtt.commands import MAX_PAYLOAD, CommandError, OncePerKind, parse_command
from host.mqtt.connection import (
    FIRST_DELAY,
    JITTER,
    MAX_DELAY,
    Connection,
    ConnectionSettings,
    next_delay,
)
from host.mqtt.homeassistant import Topics, discovery_messages
from tests.conftest import eventually
from tests.mqtt_helpers import MOSQUITTO, Broker, Sign, Watcher, wait_value

pytestmark = pytest.mark.skipif(
    MOSQUITTO is None, reason="needs mosquitto (apt-get install mosquitto)"
)

SCHEMAS = Path(__file__).parent / "ha_schemas"
BASE = "ledhost/testsign"


def schema(component: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{component}.json").read_text())
    return loaded


# -- pure parts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "payload", "expected"),
    [
        ("power", b"ON", control.Power(on=True)),
        ("power", b"off", control.Power(on=False)),
        ("brightness", b"42", control.Brightness(value=42)),
        ("brightness", b"42.0", control.Brightness(value=42)),
        ("pin", b"clock:time", control.Pin(instance="clock", mode="time")),
        (
            "pin",
            b'{"mode": "clock:time", "seconds": 30}',
            control.Pin(instance="clock", mode="time", seconds=30.0),
        ),
        ("pin", b"rotation", control.Unpin()),
        ("unpin", b"", control.Unpin()),
        ("next", b"PRESS", control.Next()),
        ("previous", b"PRESS", control.Previous()),
        ("notify", b"hi there", control.Notify(text="hi there")),
        (
            "notify",
            b'{"text": "hi", "color": "#ff0000", "priority": 10, "duration": 5}',
            control.Notify(text="hi", color="#ff0000", priority=10, seconds=5.0),
        ),
        ("notify", b'{"mode": "clock:time"}', control.Notify(mode="clock:time")),
    ],
)
def test_command_maps_to_the_control_request(command: str, payload: bytes, expected: Any) -> None:
    assert parse_command(command, payload) == expected


@pytest.mark.parametrize(
    ("command", "payload", "kind", "names"),
    [
        ("reboot", b"", "unknown_command", "reboot"),
        ("notify", b"x" * (MAX_PAYLOAD + 1), "oversized", "notify"),
        ("notify", b"\xff\xfe", "not_utf8", "notify"),
        ("notify", b"{not json", "bad_json", "notify"),
        ("notify", b'{"text": "a", "mode": "b:c"}', "invalid", "exactly one"),
        ("notify", b'{"text": "a", "priority": 5000}', "invalid", "priority"),
        ("notify", b'{"text": "a", "sudo": true}', "invalid", "sudo"),
        ("notify", b"x" * 1025, "invalid", "notify"),
        ("brightness", b"101", "invalid", "value"),
        ("brightness", b"-1", "invalid", "value"),
        ("brightness", b"nan", "invalid", "brightness"),
        ("brightness", b"12.5", "invalid", "whole"),
        ("power", b"maybe", "invalid", "ON or OFF"),
        ("pin", b"clock", "invalid", "instance:mode"),
        ("pin", b"../x:y", "invalid", "instance"),
        ("pin", b'{"mode": 5}', "invalid", "mode"),
        ("pin", b"[" * 100000, "oversized", "pin"),
    ],
)
def test_malformed_command_is_refused_naming_the_problem(
    command: str, payload: bytes, kind: str, names: str
) -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(command, payload)
    assert caught.value.kind == kind
    assert names in str(caught.value)


def test_once_per_kind_lets_one_line_through_per_window() -> None:
    quiet = OncePerKind(window=60.0)
    assert quiet.allow("bad_json", 0.0) == 0
    assert quiet.allow("bad_json", 1.0) is None
    assert quiet.allow("bad_json", 2.0) is None
    assert quiet.allow("oversized", 2.0) == 0
    assert quiet.allow("bad_json", 61.0) == 2  # says how many were held back


def test_reconnect_delays_double_to_the_cap_with_jitter() -> None:
    rng = random.Random(7)
    for failures in range(1, 12):
        delay = next_delay(failures, rng=rng)
        base = min(MAX_DELAY, FIRST_DELAY * 2 ** (failures - 1))
        assert base <= delay <= base * (1 + JITTER)
    assert next_delay(1, permanent=True, rng=rng) >= MAX_DELAY


@pytest.mark.parametrize(
    ("mqtt", "key", "words"),
    [
        ({"broker": "http://x:1"}, "mqtt.broker", "mqtt://"),
        ({"broker": "mqtt://"}, "mqtt.broker", "no host"),
        ({"broker": "mqtt://u:secretpw@h:1"}, "mqtt.broker", "secrets file"),
        ({"broker": "mqtt://h:99999"}, "mqtt.broker", "broker URL"),
        ({"base_topic": "a/+/b"}, "mqtt.base_topic", "wildcards"),
        ({"base_topic": "/a"}, "mqtt.base_topic", "start with '/'"),
        ({"base_topic": "$SYS/a"}, "mqtt.base_topic", "'$'"),
        ({"discovery_prefix": "ha#"}, "mqtt.discovery_prefix", "wildcards"),
        ({"client_id": "a b"}, "mqtt.client_id", "client id"),
        ({"ca_file": "/etc/ca.pem"}, "mqtt.ca_file", "mqtts://"),
        ({"broker": "mqtts://h", "client_cert": "/c.pem"}, "mqtt.client_key", "both"),
        ({"broker": "mqtts://h", "ca_file": "ca.pem"}, "mqtt.ca_file", "absolute"),
        ({"keepalive": 1}, "mqtt.keepalive", "5"),
        ({"password": "x"}, "mqtt.password", "secrets file"),
    ],
)
def test_bad_mqtt_setting_is_an_error_naming_the_key(
    mqtt: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, env={}, overrides={"mqtt": mqtt}, secrets_path=False)
    text = str(caught.value)
    assert key in text and words in text
    assert "secretpw" not in text


def test_the_mqtt_password_comes_from_the_secrets_file_only(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[mqtt]\npassword = "hunter22"\n')
    secrets.chmod(0o600)
    cfg = load_config(None, env={}, overrides={"mqtt": {"username": "sign"}}, secrets_path=secrets)
    assert cfg.mqtt.password == "hunter22"
    assert "hunter22" not in repr(cfg) and "hunter22" not in json.dumps(cfg.to_dict())
    secrets.write_text('[mqtt]\npassword = "hunter22"\nuser = "x"\n')
    with pytest.raises(ConfigError, match=r"mqtt\.user.*not a secret of \[mqtt\]"):
        load_config(None, env={}, overrides={"mqtt": {"username": "sign"}}, secrets_path=secrets)
    secrets.write_text('[mqtt]\npassword = "hunter22"\n')
    with pytest.raises(ConfigError, match="mqtt.username is empty"):
        load_config(None, env={}, secrets_path=secrets)


def test_discovery_payloads_validate_for_every_plugin_and_without_cpu_sensor() -> None:
    status = {"plugins": {"a": {"modes": ["x"]}, "b-2": {"modes": []}}, "display": {}}
    topics = Topics("ledhost/s", "homeassistant", "s")
    for cpu in (True, False):
        messages = discovery_messages(topics, "Sign", status, cpu)
        assert (topics.config("sensor", "cpu_temperature") in messages) is cpu
        for topic, payload in messages.items():
            jsonschema.validate(json.loads(payload), schema(topic.split("/")[1]))
    assert discovery_messages(Topics("b", "", "s"), "Sign", status, True) == {}


# -- against a real broker and a real host ------------------------------------------------


@pytest.fixture(scope="module")
def watcher(broker: Broker) -> Iterator[Watcher]:
    w = Watcher(broker.port)
    yield w
    w.close()


@pytest.fixture(scope="module")
def sign(
    broker: Broker, watcher: Watcher, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sign]:
    s = Sign(
        tmp_path_factory.mktemp("sign"),
        {"broker": f"mqtt://127.0.0.1:{broker.port}", "client_id": "testsign"},
    )
    try:
        eventually(lambda: s.mqtt().get("connected"), "the bridge connected", timeout=60)
        wait_value(watcher, f"{BASE}/availability", b"online", "the sign online")
        yield s
    finally:
        s.stop()


def test_discovery_payloads_are_valid_home_assistant_configs(sign: Sign, watcher: Watcher) -> None:
    expected = {
        ("light", "display"), ("select", "pin"), ("text", "message"), ("button", "next"),
        ("button", "previous"), ("sensor", "showing"), ("sensor", "plugin_clock"),
        ("sensor", "plugin_text"),
    }  # fmt: skip
    topics = {f"homeassistant/{c}/testsign/{o}/config" for c, o in expected}
    eventually(lambda: topics <= set(watcher.topics()), "every discovery config")
    for topic, payload in watcher.topics().items():
        if topic.startswith("homeassistant/") and topic.endswith("/config") and payload:
            config = json.loads(payload)
            jsonschema.validate(config, schema(topic.split("/")[1]))
            assert config["availability_topic"] == f"{BASE}/availability"
    select = json.loads(watcher.get("homeassistant/select/testsign/pin/config") or b"{}")
    assert {"rotation", "clock:time", "text:message", "text:notification"} <= set(select["options"])
    wait_value(watcher, f"{BASE}/state/plugins/clock", b"running", "the clock's state")
    wait_value(watcher, f"{BASE}/state/power", b"ON", "the panel's power")
    shown = subprocess.run(
        [sys.executable, "-m", "host", "status", "--socket", str(sign.sock)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "mqtt: connected" in shown.stdout


def test_every_command_reaches_the_host(sign: Sign, watcher: Watcher) -> None:
    watcher.publish(f"{BASE}/set/brightness", "37")
    eventually(lambda: sign.display().get("brightness") == 37, "brightness 37")
    wait_value(watcher, f"{BASE}/state/brightness", b"37", "brightness published")

    watcher.publish(f"{BASE}/set/power", "OFF")
    eventually(lambda: sign.display().get("powered") is False, "the panel off")
    wait_value(watcher, f"{BASE}/state/power", b"OFF", "power published")
    watcher.publish(f"{BASE}/set/power", "ON")
    eventually(lambda: sign.display().get("powered") is True, "the panel on")

    watcher.publish(f"{BASE}/set/pin", "text:message")
    eventually(lambda: (sign.display().get("pin") or {}).get("key") == "text:message", "the pin")
    wait_value(watcher, f"{BASE}/state/pin", b"text:message", "the pin published")
    watcher.publish(f"{BASE}/set/pin", "rotation")
    eventually(lambda: sign.display().get("pin") is None, "unpinned by the select")
    watcher.publish(f"{BASE}/set/pin", '{"mode": "clock:time", "seconds": 600}')
    eventually(
        lambda: (sign.display().get("pin") or {}).get("key") == "clock:time", "pin for 600 s"
    )
    watcher.publish(f"{BASE}/set/unpin", "")
    eventually(lambda: sign.display().get("pin") is None, "unpinned")

    first = sign.display()["showing"]
    watcher.publish(f"{BASE}/set/next", "PRESS")
    eventually(lambda: sign.display().get("showing") not in (None, first), "the next mode")
    watcher.publish(f"{BASE}/set/previous", "PRESS")
    eventually(lambda: sign.display().get("showing") == first, "the previous mode")

    watcher.publish(f"{BASE}/set/notify", "Doorbell")
    eventually(lambda: sign.display().get("showing") == "text:notification", "the notification")
    wait_value(watcher, f"{BASE}/state/message", b"Doorbell", "the message published")
    wait_value(watcher, f"{BASE}/state/showing", b"text:notification", "showing published")
    watcher.publish(
        f"{BASE}/set/notify", json.dumps({"mode": "clock:time", "priority": 900, "seconds": 30})
    )

    def clock_interrupt() -> bool:
        interrupts = sign.display().get("interrupts") or []
        return any(i["key"] == "clock:time" and i["priority"] == 900 for i in interrupts)

    eventually(clock_interrupt, "the clock interrupting with priority 900")


def test_malformed_and_oversized_payloads_are_logged_once_and_ignored(
    sign: Sign, watcher: Watcher
) -> None:
    pids = sign.bridge_pids()
    assert len(pids) == 1
    for _ in range(5):
        watcher.publish(f"{BASE}/set/brightness", "bright!")
        watcher.publish(f"{BASE}/set/notify", b"\xff" * 10)
        watcher.publish(f"{BASE}/set/notify", b"x" * 10_000)
        watcher.publish(f"{BASE}/set/notify", b"x" * 1_000_000)  # dropped by the broker
        watcher.publish(f"{BASE}/set/pin", "{")
        watcher.publish(f"{BASE}/set/selfdestruct", "now")
        watcher.publish(f"{BASE}/set/pin", "nosuch:mode")  # valid form, refused by the host
    watcher.publish(f"{BASE}/set/brightness", "55")  # the bridge still takes commands
    eventually(lambda: sign.display().get("brightness") == 55, "brightness 55 after the garbage")
    log = sign.log_text()
    for words in (
        "brightness: expected a number",
        "notify: the payload is not UTF-8",
        "notify: payload of 10000 bytes",
        "pin: the payload is not valid JSON",
        "no command 'selfdestruct'",
        "cannot pin nosuch:mode",
    ):
        assert log.count(words) == 1, (words, log[-3000:])
    assert sign.bridge_pids() == pids, "the bridge restarted"


def test_a_stale_discovery_config_of_this_node_is_removed(sign: Sign, watcher: Watcher) -> None:
    """Verify that a config of this node the bridge does not publish (a plugin instance
    removed while it was away) is cleared, so Home Assistant deletes the entity."""
    stale = "homeassistant/sensor/testsign/plugin_gone/config"
    watcher.publish(stale, json.dumps({"state_topic": "x", "unique_id": "gone"}), retain=True)
    eventually(lambda: watcher.get(stale) == b"", "the stale config cleared")
    assert watcher.get("homeassistant/sensor/testsign/plugin_clock/config")


def test_a_killed_bridge_leaves_its_last_will_and_is_restarted(
    sign: Sign, watcher: Watcher
) -> None:
    # A command left retained on the broker: taken when it is sent (live), never again by
    # the next bridge, to which the broker hands it as retained.
    watcher.publish(f"{BASE}/set/brightness", "12", retain=True)
    eventually(lambda: sign.display().get("brightness") == 12, "the live command")
    with ControlClient(str(sign.sock)) as client:
        client.request(control.Brightness(value=80))
    (pid,) = sign.bridge_pids()
    os.kill(pid, signal.SIGKILL)
    wait_value(watcher, f"{BASE}/availability", b"offline", "the last will")
    eventually(lambda: "exited" in (sign.mqtt().get("error") or ""), "the exit in the status")
    eventually(lambda: sign.bridge_pids() not in ([], [pid]), "the host restarting the bridge")
    wait_value(watcher, f"{BASE}/availability", b"online", "online again")
    eventually(lambda: sign.mqtt().get("connected") is True, "connected again")
    wait_value(watcher, f"{BASE}/state/brightness", b"80", "the state republished")
    assert sign.display()["brightness"] == 80, "a retained command was taken again"
    watcher.publish(f"{BASE}/set/brightness", "", retain=True)  # clear it from the broker


def test_entities_follow_the_plugins_when_an_instance_is_disabled(
    sign: Sign, watcher: Watcher
) -> None:
    sensor = "homeassistant/sensor/testsign/plugin_text/config"
    select = "homeassistant/select/testsign/pin/config"

    def options() -> set[str]:
        return set(json.loads(watcher.get(select) or b'{"options": []}')["options"])

    with ControlClient(str(sign.sock)) as client:
        client.request(control.PluginOp(op="disable", instance="text"))
    eventually(lambda: watcher.get(sensor) == b"", "the text plugin's sensor removed")
    eventually(lambda: "text:message" not in options(), "its modes gone from the select")
    assert "clock:time" in options()
    jsonschema.validate(json.loads(watcher.get(select) or b""), schema("select"))
    with ControlClient(str(sign.sock)) as client:
        client.request(control.PluginOp(op="enable", instance="text"))
    eventually(lambda: "text:message" in options(), "its modes back in the select")
    eventually(lambda: watcher.get(sensor), "its sensor back")


def test_broker_restart_does_not_touch_the_panel_and_the_bridge_reconnects(
    sign: Sign, watcher: Watcher, broker: Broker
) -> None:
    def frames() -> int:
        return int(((sign.status() or {}).get("plugins") or {})["clock"]["frames"])

    broker.stop()
    eventually(lambda: sign.mqtt().get("connected") is False, "the bridge noticing")
    assert "127.0.0.1" in (sign.mqtt().get("error") or "")
    before = frames()
    eventually(lambda: frames() > before + 1, "the clock's frames still flowing")
    watcher.last.clear()
    broker.start()
    eventually(lambda: sign.mqtt().get("connected") is True, "the bridge back", timeout=120)
    wait_value(watcher, f"{BASE}/availability", b"online", "online again")
    wait_value(watcher, f"{BASE}/state/plugins/clock", b"running", "the states republished")
    eventually(
        lambda: watcher.get("homeassistant/light/testsign/display/config"), "discovery republished"
    )
    watcher.publish(f"{BASE}/set/brightness", "61")
    eventually(lambda: sign.display().get("brightness") == 61, "a command after the restart")


@pytest.fixture(scope="module")
def locked_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    folder = tmp_path_factory.mktemp("locked")
    passwords = folder / "passwords"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwords), "sign", "right-pass"], check=True
    )
    passwords.chmod(0o600)
    b = Broker(folder, f"allow_anonymous false\npassword_file {passwords}\n")
    b.start()
    yield b
    b.stop()


def test_wrong_credentials_are_a_clear_error_without_a_crash_loop(
    locked_broker: Broker, tmp_path: Path
) -> None:
    mqtt = {
        "broker": f"mqtt://127.0.0.1:{locked_broker.port}",
        "client_id": "locked",
        "username": "sign",
    }
    sign = Sign(tmp_path, mqtt, password="wrong-pass")
    try:
        eventually(lambda: "refused" in (sign.mqtt().get("error") or ""), "the refusal in status")
        error = sign.mqtt()["error"]
        assert "password" in error and "wrong-pass" not in error
        pids = sign.bridge_pids()
        assert len(pids) == 1
        log = sign.log_text()
        assert log.count("refused the connection") == 1, log[-3000:]
        assert "wrong-pass" not in log
        assert "process exited" not in log
        # The right password in the secrets file: the host's reload replaces the bridge,
        # and the new one takes it (no restart of ledhost, no kill by hand).
        sign.set_password("right-pass")
        eventually(
            lambda: sign.mqtt().get("connected") is True, "connected with the right password"
        )
        assert sign.bridge_pids() != pids
        assert "config: MQTT bridge restarted" in sign.log_text()
    finally:
        sign.stop()


def test_mqtt_settings_apply_live_without_a_restart(
    broker: Broker, watcher: Watcher, tmp_path: Path
) -> None:
    """Enabled from the config API, the bridge starts and connects; a new client id
    replaces it; disabled, it goes, and the status stops reporting a broker."""
    url = f"mqtt://127.0.0.1:{broker.port}"
    sign = Sign(tmp_path, {"broker": url, "client_id": "livesign"}, enabled=False)

    def configure(**values: Any) -> None:
        with ControlClient(str(sign.sock), timeout=30) as client:
            client.request(control.ConfigSet(section="mqtt", values=values))

    try:
        assert sign.bridge_pids() == [] and not sign.mqtt()
        configure(enabled=True)
        eventually(lambda: sign.mqtt().get("connected") is True, "the bridge enabled live")
        wait_value(watcher, "ledhost/livesign/availability", b"online", "the sign online")
        first = sign.bridge_pids()
        configure(client_id="livesign2")
        wait_value(watcher, "ledhost/livesign2/availability", b"online", "the new client id")
        assert len(sign.bridge_pids()) == 1 and sign.bridge_pids() != first
        configure(enabled=False)
        eventually(lambda: sign.bridge_pids() == [], "the bridge stopped once disabled")
        assert not sign.mqtt()
        wait_value(watcher, "ledhost/livesign2/availability", b"offline", "its last will")
        assert sign.proc.poll() is None
    finally:
        sign.stop()


# -- TLS, at the connection layer ------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(folder: Path, name: str) -> None:
    """A CA (``<name>.crt``) and a server certificate for 127.0.0.1 signed by it."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", f"{name}.key", "-out", f"{name}.crt",
             "-days", "2", "-subj", f"/CN={name}", cwd=folder)  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1",
             cwd=folder)  # fmt: skip
    _openssl("x509", "-req", "-in", "server.csr", "-CA", f"{name}.crt", "-CAkey", f"{name}.key",
             "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext",
             cwd=folder)  # fmt: skip


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    folder = tmp_path_factory.mktemp("tls")
    make_ca(folder, "test-ca")
    b = Broker(
        folder,
        f"allow_anonymous true\ncafile {folder / 'test-ca.crt'}\n"
        f"certfile {folder / 'server.crt'}\nkeyfile {folder / 'server.key'}\n",
    )
    b.start()
    yield b
    b.stop()


def _connection(port: int, ca_file: str) -> Connection:
    settings = ConnectionSettings(
        host="127.0.0.1", port=port, client_id="tls-test", tls=True, ca_file=ca_file,
        availability_topic="tls-test/availability",
    )  # fmt: skip
    return Connection(settings)


def test_mqtts_with_the_broker_ca_connects_and_carries_messages(tls_broker: Broker) -> None:
    conn = _connection(tls_broker.port, str(tls_broker.folder / "test-ca.crt"))
    got: list[bytes] = []
    conn.subscribe("tls-test/echo", lambda topic, payload, retained: got.append(payload))
    conn.start()
    try:
        eventually(lambda: conn.state.connected, "the TLS connection")
        assert conn.publish("tls-test/echo", "over TLS")
        eventually(lambda: got == [b"over TLS"], "the message back")
    finally:
        conn.stop()


def test_mqtts_with_another_ca_is_refused_clearly(tls_broker: Broker, tmp_path: Path) -> None:
    make_ca(tmp_path, "other-ca")
    conn = _connection(tls_broker.port, str(tmp_path / "other-ca.crt"))
    conn.start()
    try:
        eventually(lambda: conn.state.error is not None, "the TLS failure")
        assert "TLS" in (conn.state.error or "") and "certificate" in (conn.state.error or "")
        assert conn.state.permanent and not conn.state.connected
    finally:
        conn.stop()
    missing = _connection(tls_broker.port, str(tmp_path / "nowhere.crt"))
    missing.start()
    try:
        eventually(lambda: missing.state.error is not None, "the missing CA file")
        assert "mqtt.ca_file" in (missing.state.error or "")
    finally:
        missing.stop()


def test_a_broker_that_never_answers_counts_as_down() -> None:
    """Verify that a broker accepting TCP but never answering the connect is given up on
    (and retried), instead of holding the bridge until the keep-alive runs out."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        accepted: list[socket.socket] = []
        threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
        settings = ConnectionSettings(
            host="127.0.0.1", port=server.getsockname()[1], client_id="silent", connack_timeout=0.5
        )
        conn = Connection(settings)
        conn.start()
        try:
            eventually(lambda: conn.state.error is not None, "the connect given up")
            assert "did not answer" in (conn.state.error or "") and not conn.state.permanent
        finally:
            conn.stop()
            for sock in accepted:
                sock.close()


def test_client_id_and_base_topic_default_from_the_hostname() -> None:
    cfg = load_config(None, env={}, secrets_path=False).mqtt
    assert not cfg.enabled and cfg.port == 1883 and not cfg.tls
    assert cfg.client_id_for("Kitchen Pi.local") == "ledhost-Kitchen-Pi-local"
    assert cfg.base_topic_for("kitchen") == "ledhost/ledhost-kitchen"
    assert cfg.client_id_for("../$#") == "ledhost-sign"
    tls = load_config(
        None, env={}, overrides={"mqtt": {"broker": "mqtts://b.lan"}}, secrets_path=False
    )
    assert tls.mqtt.tls and tls.mqtt.port == 8883 and tls.mqtt.host == "b.lan"


def test_a_clean_stop_says_offline_itself(broker: Broker, watcher: Watcher) -> None:
    settings = ConnectionSettings(
        host="127.0.0.1", port=broker.port, client_id="stops", availability_topic="stops/avail"
    )
    conn = Connection(settings)
    conn.start()
    wait_value(watcher, "stops/avail", b"online", "online on connect")
    conn.stop()
    assert conn._thread is not None and not conn._thread.is_alive()
    wait_value(watcher, "stops/avail", b"offline", "offline on a clean stop")
    assert not conn.state.connected and conn.state.error is None
