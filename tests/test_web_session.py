"""The session key outlives the web process: a restart keeps browser sessions.

The restart test runs the real ``ledhost web`` twice on the same data dir and carries the
browser's cookie from the first process to the second.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import eventually, free_port
from web.session_key import KEY_BYTES, SESSION_KEY_FILE, SessionKeyError, load_or_create

PASSWORD = "correct-horse-battery"


def test_the_key_is_made_once_private_and_then_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = load_or_create(data)
    path = data / SESSION_KEY_FILE
    assert len(first) == KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create(data) == first
    assert [p.name for p in data.iterdir()] == [SESSION_KEY_FILE]  # no temp file left


def test_a_key_others_may_read_is_refused(tmp_path: Path) -> None:
    load_or_create(tmp_path)
    path = tmp_path / SESSION_KEY_FILE
    path.chmod(0o644)
    with pytest.raises(SessionKeyError, match="other users may read"):
        load_or_create(tmp_path)


def test_a_symlinked_or_short_key_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(os.urandom(KEY_BYTES))
    elsewhere.chmod(0o600)
    (tmp_path / SESSION_KEY_FILE).symlink_to(elsewhere)
    with pytest.raises(SessionKeyError, match="cannot read"):
        load_or_create(tmp_path)
    (tmp_path / SESSION_KEY_FILE).unlink()
    (tmp_path / SESSION_KEY_FILE).write_bytes(b"short")
    (tmp_path / SESSION_KEY_FILE).chmod(0o600)
    with pytest.raises(SessionKeyError, match="5 bytes"):
        load_or_create(tmp_path)


@contextmanager
def _web(tmp_path: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    conf = tmp_path / "ledhost.toml"
    conf.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n')
    with (tmp_path / "web.log").open("a") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "host", "web", "--config", str(conf), "--bind", "127.0.0.1",
             "--port", str(port), "--socket", str(tmp_path / "none.sock")],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.timeout(120)
def test_a_session_survives_a_restart_of_the_web_process(tmp_path: Path) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def call(port: int, method: str, path: str, body: Any = None, **headers: str) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1{path}", data=data, method=method, headers=headers
        )
        req.add_header("Content-Type", "application/json")
        with opener.open(req, timeout=20) as r:
            return json.loads(r.read())

    def answering(port: int) -> bool:
        try:
            return "logged_in" in call(port, "GET", "/auth/state")
        except (urllib.error.URLError, OSError):
            return False

    port = free_port()
    with _web(tmp_path, port):
        eventually(lambda: answering(port), "the first web process answering", timeout=60)
        csrf = call(port, "POST", "/auth/setup", {"password": PASSWORD})["csrf_token"]
        assert call(port, "GET", "/auth/state")["logged_in"] is True
    key = (tmp_path / "data" / SESSION_KEY_FILE).read_bytes()
    port = free_port()  # cookies are per host, not per port: the jar sends it again
    with _web(tmp_path, port):
        eventually(lambda: answering(port), "the second web process answering", timeout=60)
        assert call(port, "GET", "/auth/state")["logged_in"] is True
        # The session still works for a state change, with its CSRF token.
        made = call(port, "POST", "/auth/tokens", {"name": "after"}, **{"X-CSRF-Token": csrf})
        assert made["name"] == "after"
    assert (tmp_path / "data" / SESSION_KEY_FILE).read_bytes() == key
