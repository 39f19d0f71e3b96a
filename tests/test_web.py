"""The web process's REST API through Flask's test client.

"Host down" is a real control-socket path with nothing listening; "success" is a real
host (``run_live``) on a real socket. The secret used is scanned for in every response.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import free_port
from tests.livehost import LiveHost, run_live
from web import create_app
from web.openapi import PATHS
from web.security import RateLimit

PASSWORD = "correct-horse-battery"
SECRET = "web-test-secret-9931"


def _app(tmp_path: Path, sock: Path | None = None, **extra: Any) -> Any:
    cfg = {"auth_file": tmp_path / "auth.json", "socket": str(sock or tmp_path / "no.sock")}
    return create_app({**cfg, **extra})


def _setup(client: FlaskClient) -> str:
    r = client.post("/api/v1/auth/setup", json={"password": PASSWORD})
    assert r.status_code == 201, r.json
    return str(r.json["csrf_token"])


def test_first_run_refuses_everything_but_setup(tmp_path: Path) -> None:
    c = _app(tmp_path).test_client()
    assert c.get("/api/v1/status").json["code"] == "setup_required"
    assert c.post("/api/v1/auth/login", json={"password": "x"}).json["code"] == "setup_required"
    # Setup from outside the LAN needs the one-time code.
    far = {"REMOTE_ADDR": "8.8.8.8"}
    r = c.post("/api/v1/auth/setup", json={"password": PASSWORD}, environ_base=far)
    assert r.status_code == 403 and r.json["code"] == "setup_not_local"
    short = c.post("/api/v1/auth/setup", json={"password": "short"})
    assert short.status_code == 400 and short.json["code"] == "invalid_password"
    _setup(c)
    again = _app(tmp_path).test_client().post("/api/v1/auth/setup", json={"password": PASSWORD})
    assert again.status_code == 409
    mode = stat.S_IMODE(os.stat(tmp_path / "auth.json").st_mode)
    assert mode == 0o600
    assert PASSWORD not in (tmp_path / "auth.json").read_text()


def test_setup_from_afar_with_the_code(tmp_path: Path) -> None:
    c = _app(tmp_path, setup_code="abc123").test_client()
    far = {"REMOTE_ADDR": "8.8.8.8"}
    body = {"password": PASSWORD, "setup_code": "abc123"}
    assert c.post("/api/v1/auth/setup", json=body, environ_base=far).status_code == 201


def test_login_csrf_tokens_and_rate_limit(tmp_path: Path) -> None:
    app = _app(tmp_path)
    c = app.test_client()
    _setup(c)
    c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": "wrong"})  # refused: csrf
    anon = app.test_client()
    assert anon.get("/api/v1/auth/tokens").json["code"] == "auth_required"
    assert anon.post("/api/v1/auth/login", json={"password": "nope"}).status_code == 401
    r = anon.post("/api/v1/auth/login", json={"password": PASSWORD})
    csrf = r.json["csrf_token"]
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # A state change without the CSRF header is refused; with it, allowed.
    no = anon.post("/api/v1/auth/tokens", json={"name": "script"})
    assert no.status_code == 403 and no.json["code"] == "csrf_failed"
    made = anon.post("/api/v1/auth/tokens", json={"name": "script"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201
    token = made.json["token"]
    listed = anon.get("/api/v1/auth/tokens").json["tokens"]
    assert [t["name"] for t in listed] == ["script"] and token not in str(listed)
    assert token not in (tmp_path / "auth.json").read_text()
    # A token needs no CSRF; a revoked one is refused.
    bearer = {"Authorization": f"Bearer {token}"}
    fresh = app.test_client()
    assert fresh.post("/api/v1/auth/tokens", json={"name": ""}, headers=bearer).status_code == 400
    tid = made.json["id"]
    assert fresh.delete(f"/api/v1/auth/tokens/{tid}", headers=bearer).status_code == 200
    assert fresh.get("/api/v1/auth/tokens", headers=bearer).json["code"] == "bad_token"
    # Login is rate-limited per address.
    far = {"REMOTE_ADDR": "10.0.0.9"}
    codes = [
        fresh.post("/api/v1/auth/login", json={"password": "x"}, environ_base=far).status_code
        for _ in range(6)
    ]
    assert codes == [401] * 5 + [429]


def test_rate_limit_window_passes() -> None:
    limit = RateLimit(limit=1, window=60)
    limit.hit("a", now=0.0)
    limit.hit("a", now=61.0)


def test_errors_are_json_with_a_code(tmp_path: Path) -> None:
    c = _app(tmp_path).test_client()
    csrf = _setup(c)
    bearer = {
        "Authorization": "Bearer "
        + c.post("/api/v1/auth/tokens", json={"name": "t"}, headers={"X-CSRF-Token": csrf}).json[
            "token"
        ]
    }
    assert c.get("/api/v1/nope", headers=bearer).json["code"] == "not_found"
    assert c.get("/api/v1/next", headers=bearer).json["code"] == "method_not_allowed"
    big = c.post(
        "/api/v1/notify", data=b"x" * (2 * 1024 * 1024), headers=bearer,
        content_type="application/json",
    )  # fmt: skip
    assert big.status_code == 413 and big.json["code"] == "request_entity_too_large"
    bad = c.post("/api/v1/notify", json={"text": "hi", "color": "red!"}, headers=bearer)
    assert bad.status_code == 400 and bad.json["code"] == "invalid_color"
    assert c.put("/api/v1/brightness", json={"value": 101}, headers=bearer).status_code == 400
    listed = c.post("/api/v1/notify", data="[1]", headers=bearer, content_type="application/json")
    assert listed.json["code"] == "invalid_json"
    plain = c.post("/api/v1/notify", data='{"text": "hi"}', headers=bearer)  # no JSON type
    assert plain.status_code == 415 and "application/json" in plain.json["message"]
    # Host down: a real socket path, nothing listening.
    down = c.get("/api/v1/status", headers=bearer)
    assert down.status_code == 503 and down.json["code"] == "host_unavailable"


def test_openapi_matches_the_routes(tmp_path: Path) -> None:
    app = _app(tmp_path)
    routed = {
        (r.rule.replace("<", "{").replace(">", "}"), m.lower())
        for r in app.url_map.iter_rules()
        if r.endpoint != "static" and not r.endpoint.startswith("pages.")
        for m in r.methods or ()
        if m not in ("HEAD", "OPTIONS")
    }
    documented = {(p, m) for p, ms in PATHS.items() for m in ms}
    assert routed == documented
    doc = app.test_client().get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.") and set(doc["paths"]) == set(PATHS)


@pytest.mark.timeout(120)
def test_the_api_against_a_live_host(tmp_path: Path) -> None:
    sock = tmp_path / "control.sock"
    seen: list[str] = []

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("a", "b", "text", "sec") and sock.exists(), "socket")
        app = _app(tmp_path, sock)
        c = app.test_client()
        csrf = _setup(c)
        h = {"X-CSRF-Token": csrf}

        def ok(r: Any) -> Any:
            seen.append(r.get_data(as_text=True))
            assert r.status_code == 200, r.json
            return r.json["data"]

        assert set(ok(c.get("/api/v1/status"))["plugins"]) >= {"a", "b", "sec"}
        assert (
            ok(c.post("/api/v1/pin", json={"instance": "b", "mode": "fill"}, headers=h))["showing"]
            == "b:fill"
        )
        assert ok(c.delete("/api/v1/pin", headers=h))["pin"] is None
        note = {"text": "Door", "color": [0, 255, 0], "duration": 5, "priority": 10}
        assert ok(c.post("/api/v1/notify", json=note, headers=h))["interrupts"]
        ok(c.put("/api/v1/brightness", json={"value": 40}, headers=h))
        ok(c.put("/api/v1/config/plugins.a", json={"fps": 10}, headers=h))
        assert ok(c.get("/api/v1/config/plugins.a"))["fps"] == 10
        ok(c.post("/api/v1/plugins/b/restart", headers=h))
        ok(c.get("/api/v1/plugins/a/logs?lines=5"))
        ok(c.post("/api/v1/next", headers=h))
        listed = {p["name"]: p for p in c.get("/api/v1/plugins").json["plugins"]}
        assert listed["clock"]["distribution"] == "ledhost" and listed["clock"]["version"]
        # The secret shows as set, is never returned, and cannot be written through the API.
        ok(c.get("/api/v1/config/plugins.sec"))
        ok(c.get("/api/v1/plugins/sec/logs?lines=100"))
        refused = c.put("/api/v1/config/plugins.sec", json={"api_key": "x"}, headers=h)
        seen.append(refused.get_data(as_text=True))
        assert refused.status_code >= 400 and "code" in refused.json
        unknown = c.post("/api/v1/pin", json={"instance": "zz", "mode": "fill"}, headers=h)
        assert unknown.status_code >= 400 and "code" in unknown.json
        # Numbers the control protocol (msgpack) or TOML cannot hold: a 400 naming the
        # problem, and the file keeps its value (Schemathesis once found the first a 500).
        for wide in (2**70, 2**63):
            refused = c.put("/api/v1/config/plugins.a", json={"fps": wide}, headers=h)
            assert refused.status_code == 400, refused.json
            assert "out of range" in refused.json["message"]
        assert ok(c.get("/api/v1/config/plugins.a"))["fps"] == 10
        # Backup and restore: a restore that does not validate changes nothing; one that
        # does replaces the file and applies it.
        backup = ok(c.get("/api/v1/config/backup"))["text"]
        assert "[plugins.sec]" in backup
        broken = c.post("/api/v1/config/restore", json={"text": backup + "\n[display]\nfps = -1\n"},
                        headers=h)  # fmt: skip
        seen.append(broken.get_data(as_text=True))
        assert broken.status_code >= 400 and broken.json["code"] == "invalid_config"
        assert c.post("/api/v1/config/restore", json={"text": backup}).status_code == 403  # CSRF
        restored = backup.replace("fps = 10", "fps = 12")
        ok(c.post("/api/v1/config/restore", json={"text": restored}, headers=h))
        assert ok(c.get("/api/v1/config/plugins.a"))["fps"] == 12

    tables = {
        "control": {"socket": str(sock)},
        "rotation": {"modes": ["a:fill", "b:fill"]},
        "plugins": {
            "a": {"plugin": "solid", "fps": 5},
            "b": {"plugin": "solid", "fps": 5},
            "text": {"message": "hello"},
            "sec": {"plugin": "secretive", "label": "hello"},
        },
    }
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[plugins.sec]\napi_key = "{SECRET}"\n')
    secrets.chmod(0o600)
    run_live(tmp_path, tables, scenario)
    assert seen and not any(PASSWORD in s or SECRET in s for s in seen)
    assert SECRET not in (tmp_path / "auth.json").read_text()


def test_ledhost_web_serves_on_loopback(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys
    import urllib.request

    from tests.conftest import eventually

    port = free_port()
    conf = tmp_path / "ledhost.toml"
    conf.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n')
    log = tmp_path / "web.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "host", "web", "--config", str(conf), "--bind", "127.0.0.1",
             "--port", str(port), "--socket", str(tmp_path / "none.sock")],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/api/v1/auth/state"

        def answered() -> bool:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    return bool(json.load(r)["setup_required"])
            except OSError:
                return False

        eventually(answered, "the web process answering", timeout=60)
        assert "setup code:" in log.read_text()
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.timeout(180)
def test_ledhost_run_supervises_the_web_process_end_to_end(tmp_path: Path) -> None:
    """A script logs in, makes a token, pins, notifies, changes an option; the host shows it."""
    import http.cookiejar
    import json
    import urllib.error
    import urllib.request

    port = free_port()
    sock = tmp_path / "control.sock"
    where = {"base": f"http://127.0.0.1:{port}/api/v1"}
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    bodies: list[str] = []

    def call(
        method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            where["base"] + path, data=data, method=method, headers=headers or {}
        )
        req.add_header("Content-Type", "application/json")
        with opener.open(req, timeout=20) as r:
            text = r.read().decode()
        bodies.append(text)
        return json.loads(text)

    def up() -> bool:
        try:
            return "setup_required" in call("GET", "/auth/state")
        except (urllib.error.URLError, OSError):
            return False

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("a", "b") and sock.exists(), "workers, socket")
        live.wait_for(up, "the web process answering")
        csrf = call("POST", "/auth/setup", {"password": PASSWORD})["csrf_token"]
        token = call("POST", "/auth/tokens", {"name": "e2e"}, {"X-CSRF-Token": csrf})["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        call("POST", "/pin", {"instance": "b", "mode": "fill"}, bearer)
        live.wait_for(lambda: live.host.director.display_status()["showing"] == "b:fill", "the pin")
        call("DELETE", "/pin", None, bearer)  # a pin outranks notifications
        note = {"text": "Door", "color": [0, 255, 0], "duration": 30}
        assert call("POST", "/notify", note, bearer)["data"]["interrupts"]
        live.wait_for(
            lambda: live.host.director.display_status()["showing"] == "text:notification",
            "the notification on the panel",
        )
        assert call("GET", "/status", None, bearer)["data"]["display"]
        call("PUT", "/config/plugins.a", {"fps": 7}, bearer)
        live.wait_for(lambda: live.host.cfg.plugins["a"].options.get("fps") == 7, "the option")
        assert call("GET", "/config/plugins.a", None, bearer)["data"]["fps"] == 7
        web = live.host.sidecars.web
        assert web is not None and web.proc is not None
        # [web] applies live, even when changed through the web process itself: its answer
        # gets out (the old process serves a grace second more), then the new port answers
        # and the old one is closed; the login and the token carry over.
        moved = free_port()
        assert call("PUT", "/config/web", {"port": moved}, bearer)["data"]["port"] == moved
        where["base"] = f"http://127.0.0.1:{moved}/api/v1"
        live.wait_for(up, "the web process on its new port")
        assert web.proc is None  # the old one: killed and reaped
        assert call("GET", "/status", None, bearer)["data"]["display"]
        assert call("PUT", "/config/web", {"enabled": False}, bearer)["data"]["enabled"] is False
        assert live.host.sidecars.web is None
        live.wait_for(
            lambda: not up() and not live.host.sidecars.retiring,
            "the web process gone (killed and reaped) once disabled",
        )

    tables = {
        "control": {"socket": str(sock)},
        "web": {"enabled": True, "bind": "127.0.0.1", "port": port},
        "rotation": {"modes": ["a:fill", "b:fill"]},
        "plugins": {
            "a": {"plugin": "solid", "fps": 5},
            "b": {"plugin": "solid", "fps": 5},
            "text": {"message": "hello"},
        },
    }
    live = run_live(tmp_path, tables, scenario)
    assert live.host.sidecars.web is None  # killed and reaped on shutdown
    assert bodies and not any(PASSWORD in b for b in bodies)


#: A value for each path parameter of the documented routes.
SAMPLE_PARAMS = {"instance": "clock", "mode": "time", "action": "notify", "op": "restart",
                 "section": "display", "token_id": "x", "key": "api_key", "job": "1"}  # fmt: skip


def _every_protected_call() -> list[tuple[str, str]]:
    from web.openapi import OPEN_PATHS

    calls = []
    for path, methods in PATHS.items():
        if path in OPEN_PATHS:
            continue
        concrete = path
        for name, value in SAMPLE_PARAMS.items():
            concrete = concrete.replace("{" + name + "}", value)
        assert "{" not in concrete, f"no sample value for a parameter of {path}"
        calls.extend((concrete, method.upper()) for method in methods)
    return calls


def test_every_endpoint_needs_credentials_csrf_and_says_when_the_host_is_down(
    tmp_path: Path,
) -> None:
    """Each documented call: 401 without credentials; 403 for a session's state change
    without the CSRF header; with a token and no host, an answer that names the problem
    (never a 500, never a traceback)."""
    c = _app(tmp_path).test_client()
    csrf = _setup(c)
    token = c.post("/api/v1/auth/tokens", json={"name": "t"}, headers={"X-CSRF-Token": csrf})
    bearer = {"Authorization": f"Bearer {token.json['token']}"}
    anonymous = _app(tmp_path).test_client()
    for path, method in _every_protected_call():
        body = {} if method in ("POST", "PUT") else None
        r = anonymous.open(path, method=method, json=body)
        assert r.status_code == 401 and r.json["code"] == "auth_required", (method, path)
        if method not in ("GET", "HEAD"):
            r = c.open(path, method=method, json=body)
            assert r.status_code == 403 and r.json["code"] == "csrf_failed", (method, path)
        r = c.open(path, method=method, json=body, headers=bearer)
        assert r.status_code != 500 and b"Traceback" not in r.data, (method, path, r.data)
        assert r.is_json and set(r.json) >= {"code", "message"} or r.status_code < 400, (
            method, path, r.status_code
        )  # fmt: skip


def test_unicode_digits_are_not_numbers(tmp_path: Path) -> None:
    """'²' passes str.isdigit() but not int(): a 400/404 naming it, never a 500 (found by
    Schemathesis)."""
    c = _app(tmp_path).test_client()
    _setup(c)
    for path in ("/api/v1/logs?lines=²", "/api/v1/plugins/clock/logs?lines=²",
                 "/api/v1/store/jobs/²", "/api/v1/store/jobs/١٢"):  # fmt: skip
        r = c.get(path)
        assert r.status_code in (400, 404), (path, r.status_code)
