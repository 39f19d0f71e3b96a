"""Write-only secrets through the control socket and the REST API, with a real host.

One live run: a real host with real workers (the ``secretive`` test plugin, which logs its
key, raises with it and returns it from an action), a real control socket, and the real
``ledhost web`` process over HTTP on 127.0.0.1. The secrets set here are then searched
for in every response body, every event, every log line (the host's, the plugin log ring,
the web process's output, the workers' stderr), the stats file, the config backup and the
files beside the config; none may hold one.
"""

from __future__ import annotations

import http.cookiejar
import json
import logging
import os
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from host.ipc import control
from host.ipc.control_client import ControlClient, ControlFailed
from tests.conftest import free_port
from tests.livehost import LiveHost, run_live

PASSWORD = "correct-horse-battery"
#: Each is set at some point (the short one is refused by the plugin's schema).
SECRET = "first-secret-value-5150"
SECRET2 = "second-secret-value-8086"
SHORT = "tiny7"


class _Http:
    """A script talking to the web process; keeps every response body it saw."""

    def __init__(self, port: int, bodies: list[str]) -> None:
        self.base = f"http://127.0.0.1:{port}/api/v1"
        self.bodies = bodies
        self.headers: dict[str, str] = {}
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers=dict(self.headers)
        )
        req.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(req, timeout=30) as r:
                status, text = r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode()
        self.bodies.append(text)
        return status, json.loads(text)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, data = self(method, path, body)
        assert status in (200, 201), (method, path, data)
        return data

    def up(self) -> bool:
        try:
            return self("GET", "/auth/state")[0] == 200
        except (urllib.error.URLError, OSError):
            return False


@pytest.mark.timeout(240)
def test_secrets_are_write_only_and_never_leak(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    sock = tmp_path / "control.sock"
    secrets_file = tmp_path / "secrets.toml"
    bodies: list[str] = []
    events: list[str] = []
    port = free_port()
    web = _Http(port, bodies)
    web_log = tmp_path / "web.log"

    def peek(c: ControlClient) -> list[str]:
        result = c.request(control.RunAction(instance="sec", action="peek"))
        bodies.append(json.dumps(result))
        return list(result["secrets"])

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("a", "sec") and sock.exists(), "workers, socket")
        with (
            ControlClient(str(sock), timeout=30) as c,
            ControlClient(str(sock), timeout=30) as watcher,
            web_log.open("w") as out,
        ):
            watcher.request(control.Subscribe(kinds=["state", "logs"]))
            proc = subprocess.Popen(
                [sys.executable, "-m", "host", "web", "--config", str(live.path), "--bind",
                 "127.0.0.1", "--port", str(port), "--socket", str(sock)],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                live.wait_for(web.up, "the web process answering")
                csrf = web.ok("POST", "/auth/setup", {"password": PASSWORD})["csrf_token"]
                web.headers["X-CSRF-Token"] = csrf
                token = web.ok("POST", "/auth/tokens", {"name": "scan"})["token"]
                web.headers = {"Authorization": f"Bearer {token}"}
                _drive(live, c, web, peek)
            finally:
                proc.kill()
                proc.wait()
            while (event := watcher.receive(timeout=0.5)) is not None:
                events.append(repr(event))

    tables = {
        "control": {"socket": str(sock)},
        "rotation": {"modes": ["a:fill"]},
        "plugins": {
            "a": {"plugin": "solid", "fps": 5},
            "sec": {"plugin": "secretive", "label": "hello"},
        },
    }
    records: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: records.append(handler.format(record))  # type: ignore[method-assign]
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        run_live(tmp_path, tables, scenario)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    captured = capfd.readouterr()

    assert len(bodies) > 20 and events and records and web_log.read_text()
    # The plugin did try: it logged its key and returned it from "leak", scrubbed each time.
    assert any("with key <redacted>" in r for r in records)
    assert any('"key": "<redacted>"' in b for b in bodies)
    places: dict[str, str] = {
        "response bodies": "\n".join(bodies),
        "events": "\n".join(events),
        "host log": "\n".join(records),
        "web process output": web_log.read_text(),
        "stdout/stderr (workers too)": captured.out + captured.err,
        "stats file": (tmp_path / "stats.json").read_text(),
        "config file": (tmp_path / "ledhost.toml").read_text(),
    }
    for backup in tmp_path.rglob(".ledhost-backups/*"):
        places[str(backup)] = backup.read_text(errors="replace")
    for where, text in places.items():
        for secret in (SECRET, SECRET2, SHORT):
            assert secret not in text, f"{secret!r} found in {where}"
    assert not list(tmp_path.rglob(".ledhost-backups/secrets.toml*"))
    assert not list(tmp_path.glob(".secrets-check-*"))  # no temp file left
    assert stat.S_IMODE(os.stat(secrets_file).st_mode) == 0o600


def _drive(live: LiveHost, c: ControlClient, web: _Http, peek: Any) -> None:
    """Every request and endpoint, with the secrets being set, refused and removed."""
    secrets_file = live.path.with_name("secrets.toml")
    assert not secrets_file.exists()
    listed = web.ok("GET", "/secrets")["data"]["sec"]
    assert listed == {"plugin": "secretive", "secret_keys": ["api_key"], "set": []}
    assert web.ok("GET", "/secrets")["data"]["a"]["secret_keys"] == []

    # Set over HTTP: applied live (the worker has it), kept in a 0600 file, never returned.
    done = web.ok("PUT", "/secrets/sec/api_key", {"value": SECRET})["data"]
    assert done == {"plugin": "secretive", "secret_keys": ["api_key"], "set": ["api_key"]}
    assert stat.S_IMODE(os.stat(secrets_file).st_mode) == 0o600
    assert f'api_key = "{SECRET}"' in secrets_file.read_text()
    live.wait_for(lambda: peek(c) == ["api_key"], "the worker to have the secret")
    assert live.host.cfg.plugins["sec"].secrets == {"api_key": SECRET}

    # Refused whole, nothing written: not a secret, no such instance, a value the plugin's
    # schema refuses (too short), no value, a secret of an instance's ordinary option.
    before = secrets_file.read_text()
    status, bad = web("PUT", "/secrets/sec/label", {"value": "abcdefghij"})
    assert status == 400 and bad["code"] == "not_secret" and "api_key" in bad["message"]
    status, bad = web("PUT", "/secrets/nope/api_key", {"value": SECRET2})
    assert status == 404 and bad["code"] == "no_such_instance"
    status, bad = web("PUT", "/secrets/sec/api_key", {"value": SHORT})
    assert status == 409 and bad["code"] == "refused" and "too short" in bad["message"]
    status, bad = web("PUT", "/secrets/sec/api_key", {"other": 1})
    assert status == 400 and bad["code"] == "invalid"
    status, bad = web("PUT", "/secrets/sec/api_key", {"value": None})
    assert status == 400 and bad["code"] == "invalid"
    assert secrets_file.read_text() == before
    assert live.host.cfg.plugins["sec"].secrets == {"api_key": SECRET}

    # The same over the socket.
    failed = pytest.raises(ControlFailed)
    with failed as caught:
        c.request(control.SecretSet(instance="a", key="fps", value=3))
    assert caught.value.code == "not_secret"
    assert c.request(control.SecretList())["sec"]["set"] == ["api_key"]
    assert c.request(control.SecretSet(instance="sec", key="api_key", value=SECRET2))["set"] == [
        "api_key"
    ]
    live.wait_for(
        lambda: live.host.cfg.plugins["sec"].secrets == {"api_key": SECRET2}, "the new secret"
    )

    # Everything else a client can ask: none of it shows a secret.
    web.ok("GET", "/status")
    assert web.ok("GET", "/config/plugins.sec")["data"]["api_key"] == "set"
    web.ok("GET", "/config/display")
    assert "api_key" not in web.ok("GET", "/config/backup")["data"]["text"]
    web.ok("GET", "/plugins")
    web.ok("GET", "/plugins/sec/logs?lines=1000")
    web.ok("POST", "/plugins/sec/actions/leak", {})
    web.ok("POST", "/plugins/sec/actions/peek", {})
    web.ok("POST", "/plugins/sec/restart")
    live.wait_for(lambda: live.running("sec"), "sec running again")
    live.wait_for(lambda: peek(c) == ["api_key"], "the restarted worker to have the secret")
    web.ok("PUT", "/config/plugins.sec", {"label": "changed"})
    web.ok("POST", "/next")
    web.ok("PUT", "/brightness", {"value": 50})
    for request in (
        control.Status(),
        control.ConfigGet(section="plugins.sec"),
        control.ConfigBackup(),
        control.Logs(instance="sec", lines=1000),
        control.RunAction(instance="sec", action="leak"),
    ):
        web.bodies.append(json.dumps(c.request(request)))

    # Removed: applied live, gone from the file; removing it again says it is not set.
    assert web.ok("DELETE", "/secrets/sec/api_key")["data"]["set"] == []
    assert "api_key" not in secrets_file.read_text()
    live.wait_for(lambda: peek(c) == [], "the worker to lose the secret")
    status, bad = web("DELETE", "/secrets/sec/api_key")
    assert status == 404 and bad["code"] == "not_set"
    web.ok("GET", "/plugins/sec/logs?lines=1000")


def test_a_secret_write_keeps_the_files_comments_and_other_tables(tmp_path: Path) -> None:
    """Verify that only the one key changes: the user's comments and tables stay."""
    from types import SimpleNamespace

    from host.control.secret_ops import _changed

    path = tmp_path / "secrets.toml"
    path.write_text('# my keys\n[plugins.other]\ntoken = "keep-me-1234"  # from the vendor\n')
    schema = {"properties": {"api_key": {"type": "string", "writeOnly": True}}}
    host = SimpleNamespace(
        cfg=SimpleNamespace(plugins={"sec": SimpleNamespace(plugin_id="secretive"), "other": None}),
        supervisor=SimpleNamespace(handles={"sec": SimpleNamespace(schema=schema)}),
    )
    text = _changed(host, control.SecretSet(instance="sec", key="api_key", value="v" * 9), path)
    assert text.startswith('# my keys\n[plugins.other]\ntoken = "keep-me-1234"  # from the vendor')
    assert '[plugins.sec]\napi_key = "vvvvvvvvv"' in text
    path.write_text(text)
    text = _changed(host, control.SecretDelete(instance="sec", key="api_key"), path)
    assert "plugins.sec" not in text and "keep-me-1234" in text
    host.supervisor.handles = {}  # no hello yet: its secrets are not known
    with pytest.raises(Exception, match="has not told the host its config schema"):
        _changed(host, control.SecretSet(instance="sec", key="api_key", value="v" * 9), path)


def test_a_secret_request_is_never_shown_with_its_value() -> None:
    request = control.SecretSet(instance="sec", key="api_key", value=SECRET)
    assert SECRET not in repr(request)
    deep: Any = SECRET
    for _ in range(40):
        deep = [deep]
    payload = control.frame(control.SecretSet(instance="sec", key="api_key", value=deep))[4:]
    with pytest.raises(control.ControlProtocolError, match="nested") as caught:
        control.decode_from_client(payload)
    assert SECRET not in str(caught.value)


def test_a_secrets_file_that_is_a_link_is_not_replaced(tmp_path: Path) -> None:
    """Verify that a write refuses a linked secrets file (a write would replace the link)."""
    from types import SimpleNamespace

    from host.control.handlers_base import Refused
    from host.control.secret_ops import _secrets_file

    target = tmp_path / "kept-elsewhere.toml"
    target.write_text("")
    target.chmod(0o600)
    link = tmp_path / "secrets.toml"
    link.symlink_to(target)
    host = SimpleNamespace(cfg=SimpleNamespace(secrets_path=link))
    with pytest.raises(Refused, match="is a link") as caught:
        _secrets_file(host)
    assert caught.value.code == "refused" and link.is_symlink()
    fresh = SimpleNamespace(cfg=SimpleNamespace(secrets_path=tmp_path / "new" / "secrets.toml"))
    assert _secrets_file(fresh).parent.is_dir()  # its folder made, private
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o700
