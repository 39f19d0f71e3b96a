"""The admin UI's server side without a browser: page access, headers, the event stream,
and the plugin info/validate calls the config form uses (Flask's test client, real host).
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from flask.testing import FlaskClient

from tests.livehost import LiveHost, run_live
from web import create_app, events
from web.security import SECURITY_HEADERS

PASSWORD = "correct-horse-battery"


def _client(tmp_path: Path, sock: Path | None = None) -> FlaskClient:
    app = create_app({"auth_file": tmp_path / "auth.json", "socket": str(sock or tmp_path / "x")})
    return app.test_client()


def _logged_in(tmp_path: Path, sock: Path) -> tuple[FlaskClient, dict[str, str]]:
    c = _client(tmp_path, sock)
    csrf = c.post("/api/v1/auth/setup", json={"password": PASSWORD}).json["csrf_token"]
    return c, {"X-CSRF-Token": csrf}


def test_pages_need_a_session_and_send_people_to_the_right_door(tmp_path: Path) -> None:
    c = _client(tmp_path)
    # First run: every page leads to setup, and login leads there too.
    for path in ("/", "/plugins", "/plugins/clock", "/login"):
        r = c.get(path)
        assert r.status_code == 302 and r.headers["Location"] == "/setup", path
    page = c.get("/setup")
    assert page.status_code == 200 and b'id="setup"' in page.data
    assert c.post("/api/v1/auth/setup", json={"password": PASSWORD}).status_code == 201
    assert c.get("/").status_code == 200
    assert c.get("/setup").headers["Location"] == "/login"  # set up once only
    # Another browser, no session: pages go to the login, remembering where they were.
    other = _client(tmp_path)
    r = other.get("/plugins/clock")
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=/plugins/clock"
    # The API still answers JSON, never a redirect.
    assert other.get("/api/v1/status").json["code"] == "auth_required"


def test_the_login_page_never_redirects_off_site(tmp_path: Path) -> None:
    c = _client(tmp_path)
    c.post("/api/v1/auth/setup", json={"password": PASSWORD})
    fresh = _client(tmp_path)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"):
        page = fresh.get("/login", query_string={"next": target}).data.decode()
        assert 'data-next="/"' in page, target
    assert 'data-next="/plugins"' in fresh.get("/login?next=/plugins").data.decode()


def test_hostile_instance_ids_get_a_not_found_page(tmp_path: Path) -> None:
    c = _client(tmp_path)
    c.post("/api/v1/auth/setup", json={"password": PASSWORD})
    for bad in ("..%2F..%2Fetc", "%3Cscript%3E", "A" * 200, "x%00y"):
        r = c.get(f"/plugins/{bad}")
        assert r.status_code == 404, bad
        assert b"<script>" not in r.data


def test_every_response_carries_the_security_headers(tmp_path: Path) -> None:
    c = _client(tmp_path)
    for path in ("/setup", "/api/v1/auth/state", "/static/ledhost.css", "/nope"):
        r = c.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (path, name)
    assert "inline" not in SECURITY_HEADERS["Content-Security-Policy"]
    assert c.get("/setup").headers["Cache-Control"] == "no-store"


def test_templates_hold_no_inline_script_or_style() -> None:
    """The policy forbids inline code; a template that had some would break silently."""
    templates = Path(__file__).resolve().parent.parent / "web" / "templates"
    for page in templates.glob("*.html"):
        text = page.read_text()
        assert "<script>" not in text and " onclick=" not in text and "style=" not in text, page


def _sse(response: Any, wanted: set[str], limit: int = 400) -> dict[str, list[Any]]:
    """Read SSE events from a streamed response until each kind in ``wanted`` arrived."""
    got: dict[str, list[Any]] = {}
    buffer = ""
    for chunk in response.response:
        buffer += chunk if isinstance(chunk, str) else chunk.decode()
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
            if "event" in fields:
                got.setdefault(fields["event"], []).append(json.loads(fields["data"]))
        limit -= 1
        if wanted <= set(got) or limit <= 0:
            break
    response.close()
    return got


def test_the_event_stream_relays_frames_and_state_from_a_live_host(tmp_path: Path) -> None:
    sock = tmp_path / "control.sock"

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("a") and sock.exists(), "worker and socket")
        live.wait_for(lambda: len(live.backend.pushes) > 2, "frames")
        c, _csrf = _logged_in(tmp_path, sock)
        assert c.get("/api/v1/events?kinds=frames,bogus").status_code == 400
        assert _client(tmp_path, sock).get("/api/v1/events").status_code == 401
        r = c.get("/api/v1/events?kinds=frames,state")
        assert r.status_code == 200 and r.mimetype == "text/event-stream"
        got = _sse(r, {"frame", "state"})
        assert got["state"][0]["showing"] == "a:fill"
        frame = got["frame"][-1]
        rgb = zlib.decompress(base64.b64decode(frame["rgb_zlib"]))
        image = np.frombuffer(rgb, dtype=np.uint8).reshape(frame["height"], frame["width"], 3)
        pushed = [f for f, _at, _wall in live.backend.pushes]
        assert any(np.array_equal(image, f) for f in pushed)
        # Streams hold a thread each: beyond the cap, a clear 503 (and a slot comes back
        # when a stream closes).
        held = [c.get("/api/v1/events") for _ in range(events.MAX_STREAMS)]
        over = c.get("/api/v1/events")
        assert over.status_code == 503 and over.json["code"] == "too_many_streams"
        for stream in held:
            stream.close()
        again = c.get("/api/v1/events")
        assert again.status_code == 200
        again.close()

    tables = {
        "control": {"socket": str(sock)},
        "rotation": {"modes": ["a:fill"]},
        "plugins": {"a": {"plugin": "solid", "fps": 10}},
    }
    run_live(tmp_path, tables, scenario)


def test_plugin_info_and_validation_for_the_config_form(tmp_path: Path) -> None:
    sock = tmp_path / "control.sock"

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("text") and sock.exists(), "worker and socket")
        c, csrf = _logged_in(tmp_path, sock)
        running = c.get("/api/v1/status").json["data"]["plugins"]["text"]
        assert running["cpu_seconds"] >= 0  # the plugins page's CPU column reads it
        info = c.get("/api/v1/plugins/text").json["data"]
        assert info["plugin"] == "text" and info["source"] == "builtin"
        assert "speed" in info["schema"]["properties"]
        assert {m["name"] for m in info["modes"]} >= {"message", "notification"}
        assert info["config"]["message"] == "Hello"
        bad = c.post("/api/v1/plugins/text/validate", json={"speed": -5}, headers=csrf).json
        assert not bad["ok"]
        assert [i["key"] for i in bad["issues"]] == ["plugins.text.speed"]
        assert "minimum" in bad["issues"][0]["message"]
        unknown = c.post("/api/v1/plugins/text/validate", json={"sped": 5}, headers=csrf).json
        assert "did you mean" in unknown["issues"][0]["message"]
        good = c.post("/api/v1/plugins/text/validate", json={"speed": 12}, headers=csrf).json
        assert good == {"ok": True, "issues": []}
        # Reserved keys are the host's, not the plugin's: never judged by its schema.
        reserved = {"speed": 12, "enabled": True, "plugin": "text"}
        assert c.post("/api/v1/plugins/text/validate", json=reserved, headers=csrf).json["ok"]
        missing = c.get("/api/v1/plugins/nosuch")
        assert missing.status_code == 404 and missing.json["code"] == "no_such_instance"
        # Nothing was written by validating.
        assert live.host.cfg.plugins["text"].options.get("speed") != -5

    tables = {
        "control": {"socket": str(sock)},
        "plugins": {"text": {"message": "Hello"}},
    }
    run_live(tmp_path, tables, scenario)


def test_a_second_instance_is_added_through_the_config_api(tmp_path: Path) -> None:
    """What the plugins page's "Add an instance" does: a new [plugins.<id>] table."""
    sock = tmp_path / "control.sock"

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("clock") and sock.exists(), "worker and socket")
        c, csrf = _logged_in(tmp_path, sock)
        r = c.put("/api/v1/config/plugins.clock_tokyo", headers=csrf,
                  json={"plugin": "clock", "timezone": "Asia/Tokyo"})  # fmt: skip
        assert r.status_code == 200, r.json
        live.wait_for(lambda: live.running("clock", "clock_tokyo"), "the new instance running")
        assert "[plugins.clock_tokyo]" in live.path.read_text()
        # A new instance is checked like any: a bad value refuses it whole.
        bad = c.put("/api/v1/config/plugins.clock_b", headers=csrf,
                    json={"plugin": "clock", "enabled": "yes"})  # fmt: skip
        assert bad.status_code == 400 and "clock_b" in bad.json["message"]
        assert "clock_b" not in live.path.read_text()
        # Only plugin instances can be made up; other sections must exist.
        assert c.put("/api/v1/config/nosuch", headers=csrf, json={"x": 1}).status_code == 404
        hostile = c.put("/api/v1/config/plugins.Bad..x", headers=csrf, json={"plugin": "clock"})
        assert hostile.status_code in (400, 404)
        assert "Bad" not in live.path.read_text()

    tables = {"control": {"socket": str(sock)}, "plugins": {"clock": {}}}
    run_live(tmp_path, tables, scenario)


def test_safe_mode_at_the_next_start_is_asked_through_the_host(tmp_path: Path) -> None:
    """The system page's button: the host writes its one-shot flag; the web never does."""
    from host.safemode import flag_path

    sock = tmp_path / "control.sock"

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("clock") and sock.exists(), "worker and socket")
        c, csrf = _logged_in(tmp_path, sock)
        flag = flag_path(live.host.cfg.paths.data_dir)
        assert c.get("/api/v1/safe-mode").json["data"] == {
            "next_start_safe": False, "safe_mode": False
        }  # fmt: skip
        on = c.put("/api/v1/safe-mode", json={"next_start": True}, headers=csrf).json["data"]
        assert on["next_start_safe"] and flag.exists()
        assert oct(flag.stat().st_mode & 0o777) == "0o600"
        off = c.put("/api/v1/safe-mode", json={"next_start": False}, headers=csrf).json["data"]
        assert not off["next_start_safe"] and not flag.exists()
        bad = c.put("/api/v1/safe-mode", json={"next_start": "yes"}, headers=csrf)
        assert bad.status_code == 400
        assert c.put("/api/v1/safe-mode", json={"next_start": True}).status_code == 403  # CSRF

    tables = {"control": {"socket": str(sock)}, "plugins": {"clock": {}}}
    run_live(tmp_path, tables, scenario)


def test_a_mode_preview_is_rendered_through_a_real_worker(tmp_path: Path) -> None:
    import io

    from PIL import Image

    sock = tmp_path / "control.sock"

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("clock", "a") and sock.exists(), "workers, socket")
        c, _csrf = _logged_in(tmp_path, sock)
        r = c.get("/api/v1/plugins/clock/modes/time/preview.png")
        assert r.status_code == 200 and r.mimetype == "image/png", r.data[:300]
        image = Image.open(io.BytesIO(r.data)).convert("RGB")
        assert image.size == (64, 32)
        # The instance's own options: the digits in the colour its section sets.
        pixels = np.asarray(image).reshape(-1, 3)
        assert ((pixels == (255, 0, 0)).all(axis=1)).any()
        # A third-party plugin from a plugin path renders too (its path is passed on).
        solid = c.get("/api/v1/plugins/a/modes/fill/preview.png")
        assert solid.status_code == 200, solid.data[:300]
        missing = c.get("/api/v1/plugins/clock/modes/nosuch/preview.png")
        assert missing.status_code == 404 and missing.json["code"] == "no_such_mode"
        assert c.get("/api/v1/plugins/clock/modes/..%2Fx/preview.png").status_code in (400, 404)

    tables = {
        "control": {"socket": str(sock)},
        "rotation": {"modes": ["clock:time", "a:fill"]},
        "plugins": {"clock": {"color": "#ff0000"}, "a": {"plugin": "solid"}},
    }
    run_live(tmp_path, tables, scenario)


def test_the_host_log_is_readable_from_the_system_page(tmp_path: Path, caplog: Any) -> None:
    import logging

    caplog.set_level(logging.INFO)
    sock = tmp_path / "control.sock"

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("clock") and sock.exists(), "worker and socket")
        c, _csrf = _logged_in(tmp_path, sock)
        live.host.director.skip()  # something to log: "showing ..."

        def showing() -> list[Any]:
            records = c.get("/api/v1/logs?lines=50").json["data"]
            return [r for r in records if "showing" in r["message"]]

        live.wait_for(lambda: bool(showing()), "a host record")
        record = showing()[-1]
        assert set(record) == {"seq", "time", "level", "logger", "message"}
        assert record["level"] == "INFO" and record["logger"].startswith("ledhost")
        assert c.get("/api/v1/logs?lines=x").status_code == 400
        assert c.get("/api/v1/logs?lines=501").status_code == 400
        page = c.get("/system").data.decode()
        assert "ledhost " in page

    tables = {"control": {"socket": str(sock)}, "plugins": {"clock": {}}}
    run_live(tmp_path, tables, scenario)


def test_a_layout_is_made_through_the_config_api(tmp_path: Path) -> None:
    """What the rotation page's "Add layout" does: a new [layouts.<name>] table, judged
    whole by the host (regions that do not fit are refused and nothing is written)."""
    sock = tmp_path / "control.sock"

    def scenario(live: LiveHost) -> None:
        live.wait_for(lambda: live.running("clock", "text") and sock.exists(), "workers")
        c, csrf = _logged_in(tmp_path, sock)
        schema = c.get("/api/v1/config/schema/layout").json["data"]
        assert "regions" in schema["properties"]
        regions = [{"mode": "clock", "x": 0, "y": 0, "width": 32, "height": 32},
                   {"mode": "text", "x": 32, "y": 0, "width": 32, "height": 32}]  # fmt: skip
        r = c.put("/api/v1/config/layouts.desk", json={"regions": regions}, headers=csrf)
        assert r.status_code == 200, r.json
        live.wait_for(lambda: "desk" in live.host.cfg.layouts, "the layout in the config")
        too_wide = [{"mode": "clock", "x": 40, "y": 0, "width": 40, "height": 32}]
        bad = c.put("/api/v1/config/layouts.wide", json={"regions": too_wide}, headers=csrf)
        assert bad.status_code == 400, bad.json
        assert "wide" not in live.path.read_text()

    tables = {"control": {"socket": str(sock)}, "plugins": {"clock": {}, "text": {}}}
    run_live(tmp_path, tables, scenario)


def test_every_page_is_well_formed(tmp_path: Path) -> None:
    """Each page parses as HTML with its content in <body>, nothing but links and scripts
    in <head>, and ids used once (labels and scripts find their field)."""
    from html.parser import HTMLParser

    class Page(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []
            self.in_head: list[str] = []
            self.ids: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if "head" in self.stack:
                self.in_head.append(tag)
            self.ids += [v for k, v in attrs if k == "id" and v]
            if tag not in ("meta", "link", "input", "br", "img"):
                self.stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass

    c = _client(tmp_path)
    c.post("/api/v1/auth/setup", json={"password": PASSWORD})
    for path in ("/", "/plugins", "/plugins/clock", "/rotation", "/store", "/system"):
        page = Page()
        page.feed(c.get(path).data.decode())
        assert set(page.in_head) <= {"meta", "title", "link", "script"}, (path, page.in_head)
        assert len(page.ids) == len(set(page.ids)), (path, sorted(page.ids))
