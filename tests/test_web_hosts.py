"""The admin UI against other web sites: cross-site requests and DNS rebinding.

A fresh sign takes the first admin password it is sent from the LAN, and the user's own
browser is on the LAN: any page they visit could send it. Two ways in, both closed by
:mod:`web.hosts` and :func:`web.auth.body`: a cross-site request (a ``text/plain`` POST needs
no CORS preflight), and a site whose own name resolves to the sign (DNS rebinding, where the
browser counts the sign as that site's origin). The Flask test client checks every rule;
a real Chromium, with its resolver pointing an attacker's name at 127.0.0.1, shows both
attacks failing against a real ``ledhost web``.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, load_config
from tests.browser import CHROMIUM, need_browser
from tests.conftest import eventually, free_port
from tests.test_web_session import _web
from web import create_app
from web.hosts import HostCheck, host_name

PASSWORD = "correct-horse-battery"


def _client(tmp_path: Path, **extra: Any) -> Any:
    cfg = {"auth_file": tmp_path / "auth.json", "socket": str(tmp_path / "no.sock")}
    return create_app({**cfg, **extra}).test_client()


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("192.168.1.50:8080", True), ("10.0.0.7", True), ("[::1]:8080", True),
        ("[fe80::1]", True), ("localhost:8080", True), ("raspberrypi", True),
        ("raspberrypi.local:8080", True), ("sign.lan", True), ("sign.home.arpa", True),
        ("sign.fritz.box", True), ("ledpi.", True), ("SIGN.LOCAL", True),
        ("evil.example", False), ("evil.example:8080", False), ("local.evil.example", False),
        ("sign.local.evil.example", False), ("", False), ("10.0.0.7.evil.example", False),
    ],
)  # fmt: skip
def test_host_check_knows_the_signs_names(host: str, ok: bool) -> None:
    assert HostCheck(own=["ledpi"]).host_ok(host) is ok


def test_allowed_hosts_add_names_and_whole_domains() -> None:
    check = HostCheck(["sign.example.com", "*.example.org"], own=[])
    assert check.host_ok("sign.example.com:443") and check.host_ok("a.b.example.org")
    assert not check.host_ok("example.org") and not check.host_ok("sign.example.com.evil.io")
    assert not check.host_ok("notexample.org")
    # A reverse proxy that rewrites Host: the listed origin is the sign's own pages.
    assert check.origin_ok("https://sign.example.com", "127.0.0.1:8080")
    assert check.origin_ok("http://127.0.0.1:8080", "127.0.0.1:8080")
    assert not check.origin_ok("https://evil.example", "127.0.0.1:8080")
    assert not check.origin_ok("null", "127.0.0.1:8080")
    assert host_name("[::1]:80") == "::1" and host_name("Pi.Local.:8080") == "pi.local"


def test_a_cross_site_post_cannot_set_the_first_password(tmp_path: Path) -> None:
    c = _client(tmp_path)
    lan = {"REMOTE_ADDR": "192.168.1.20"}
    body = json.dumps({"password": "attacker-chose-this"})
    # What a page elsewhere can send without asking first: a text/plain body.
    plain = c.post("/api/v1/auth/setup", data=body, content_type="text/plain", environ_base=lan)
    assert plain.status_code == 415 and plain.json["code"] == "unsupported_media_type"
    # JSON with another site's Origin (a preflight would stop a browser; a script need not).
    foreign = {"Origin": "http://evil.example"}
    crossed = c.post("/api/v1/auth/setup", data=body, content_type="application/json",
                     headers=foreign, environ_base=lan)  # fmt: skip
    assert crossed.status_code == 403 and crossed.json["code"] == "cross_origin"
    login = c.post("/api/v1/auth/login", json={"password": "x"}, headers=foreign)
    assert login.status_code == 403
    assert c.get("/api/v1/auth/state").json["setup_required"] is True  # nothing was set
    # The sign's own page (same origin) and a script without an Origin still set it up.
    own = {"Origin": "http://192.168.1.50:8080", "Host": "192.168.1.50:8080"}
    r = c.post("/api/v1/auth/setup", json={"password": PASSWORD}, headers=own, environ_base=lan)
    assert r.status_code == 201, r.json


def test_a_foreign_host_name_is_refused_on_pages_and_api(tmp_path: Path) -> None:
    c = _client(tmp_path, allowed_hosts=("sign.example.com",))
    for path in ("/", "/login", "/api/v1/auth/state", "/api/v1/openapi.json"):
        r = c.get(path, headers={"Host": "evil.example:8080"})
        assert r.status_code == 421, path
        assert "allowed_hosts" in r.json["message"] and "'evil.example'" in r.json["message"]
    setup = c.post("/api/v1/auth/setup", json={"password": PASSWORD},
                   headers={"Host": "evil.example:8080"})  # fmt: skip
    assert setup.status_code == 421
    assert c.get("/api/v1/auth/state", headers={"Host": "sign.example.com"}).status_code == 200
    assert c.get("/api/v1/auth/state", headers={"Host": "raspberrypi.local"}).status_code == 200


def test_allowed_hosts_is_checked_when_the_config_loads(tmp_path: Path) -> None:
    path = tmp_path / "ledhost.toml"
    path.write_text('[web]\nallowed_hosts = ["sign.example.com", "http://x", "*.com", 5]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={}, secrets_path=False)
    keys = [issue.key for issue in caught.value.errors]
    assert keys == ["web.allowed_hosts"] * 3
    text = str(caught.value)
    assert "'http://x' is not a host name" in text and "top-level domain" in text
    path.write_text('[web]\nallowed_hosts = ["sign.example.com", "*.example.org"]\n')
    web = load_config(path, env={}, secrets_path=False).web
    assert web.allowed_hosts == ("sign.example.com", "*.example.org")


# -- a real browser against a real `ledhost web` ------------------------------------------

ATTACK = """<!doctype html><title>cat pictures</title><script>
fetch("http://127.0.0.1:%d/api/v1/auth/setup", {method: "POST", mode: "no-cors",
  body: JSON.stringify({password: "attacker-chose-this"})})
  .then(() => { document.title = "sent"; }, () => { document.title = "sent"; });
</script>"""


@contextmanager
def _ledhost_web(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    with _web(tmp_path, port):
        eventually(lambda: _state(port) is not None, "ledhost web answering")
        yield port


def _state(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/auth/state", timeout=5) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]
    except OSError:
        return None


@contextmanager
def _attacker_site(port: int) -> Iterator[int]:
    """An HTTP server on 127.0.0.1 serving the attack page (the browser calls it
    ``evil.test``)."""
    page = (ATTACK % port).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the base class's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_in_a_real_browser_neither_attack_sets_the_password(tmp_path: Path) -> None:
    sync_api = need_browser()
    with _ledhost_web(tmp_path) as port, _attacker_site(port) as evil_port:
        with sync_api.sync_playwright() as pw:
            # The browser's resolver sends evil.test to 127.0.0.1, as a rebinding DNS
            # server would once the page has loaded.
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--host-resolver-rules=MAP evil.test 127.0.0.1"],
            )
            try:
                page = browser.new_page()
                # 1. A page on another site posts the first-run setup (no-cors, text/plain).
                page.goto(f"http://evil.test:{evil_port}/")
                eventually(lambda: page.title() == "sent", "the attack page's request sent")
                # 2. Rebinding: the sign itself, reached under the attacker's name.
                answer = page.goto(f"http://evil.test:{port}/api/v1/auth/state")
                assert answer is not None and answer.status == 421
                sent = page.evaluate(
                    """() => fetch("/api/v1/auth/setup", {method: "POST",
                         headers: {"Content-Type": "application/json"},
                         body: JSON.stringify({password: "attacker-chose-this"})})
                       .then(r => r.status)"""
                )
                assert sent == 421
                # The sign's own page at its address still sets it up.
                page.goto(f"http://127.0.0.1:{port}/setup")
                status = page.evaluate(
                    """(pw) => fetch("/api/v1/auth/setup", {method: "POST",
                         headers: {"Content-Type": "application/json"},
                         body: JSON.stringify({password: pw})}).then(r => r.status)""",
                    PASSWORD,
                )
            finally:
                browser.close()
        assert status == 201
        state = _state(port)
        assert state is not None and state["setup_required"] is False
