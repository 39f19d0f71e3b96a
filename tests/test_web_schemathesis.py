"""Schemathesis against the served OpenAPI document, with an API token.

Two runs. **Live**: a real ``ledhost run`` (a process of its own, the builtin clock and
text on the headless backend) supervising its web process on 127.0.0.1, fuzzed over real
HTTP; every response must be documented and match its exact body schema
(:mod:`web.openapi_schemas`), and no call may answer 5xx. **Host down**: the app on a
socket path with nothing listening, where host calls answer the documented 503
``host_unavailable`` (so Schemathesis's own 5xx check is off there and the test refuses
500 itself).

Checks left off, with why: ``ignored_auth`` re-sends our call's own valid token (a false
positive; auth is tested in test_web.py); ``positive_data_acceptance``, because request
bodies are documented as plain objects, not field by field, so a generated "valid" body is
not one the API must accept. Bounded: a few examples per operation, no shrinking deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    ignored_auth,
    positive_data_acceptance,
)

from tests.conftest import eventually, free_port  # noqa: E402
from web import create_app  # noqa: E402

PASSWORD = "correct-horse-battery"
#: Answers that never end (server-sent events): not fuzzed; tests/test_web_pages.py reads
#: the stream for real.
STREAMS = {"/api/v1/events"}
#: Calls that would end the live host under test (it runs again, but the fuzzing would see
#: its restart): only fuzzed with the host down.
DISRUPTIVE = {"/api/v1/restart"}


def _fuzz(
    schema: Any,
    token: str,
    examples: int,
    excluded: list[Callable[..., Any]],
    skip: frozenset[str] = frozenset(),
) -> tuple[int, list[str], dict[int, int]]:
    """Every operation, ``examples`` cases each: (requests tried, failures, statuses seen)."""
    tried: list[int] = []
    statuses: dict[int, int] = {}
    failures: list[str] = []
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path in STREAMS or op.path in skip:
            continue

        @settings(max_examples=examples, suppress_health_check=list(HealthCheck), deadline=None)
        @given(op.as_strategy())
        def check(case: Any) -> None:
            tried.append(1)
            response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=30)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code != 500 and "Traceback" not in response.text
            case.validate_response(response, excluded_checks=excluded)

        try:
            check()
        except Exception as exc:  # one operation's failure; keep testing the others
            failures.append(f"{op.method} {op.path}: {exc}")
    return len(tried), failures, statuses


@pytest.mark.timeout(600)
def test_the_openapi_document_holds_with_the_host_down(tmp_path: Path) -> None:
    app = create_app({"auth_file": tmp_path / "auth.json", "socket": str(tmp_path / "no.sock")})
    app.test_client().post("/api/v1/auth/setup", json={"password": PASSWORD})
    token = app.extensions["ledhost.auth"].create_token("st")["token"]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    excluded = [ignored_auth, not_a_server_error, positive_data_acceptance]
    tried, failures, _ = _fuzz(schema, token, 25, excluded)
    print(f"schemathesis (host down): {tried} requests tried, {len(failures)} failures")
    assert not failures, failures


def _post(
    opener: urllib.request.OpenerDirector,
    url: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> Any:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers=headers or {}
    )
    req.add_header("Content-Type", "application/json")
    with opener.open(req, timeout=20) as r:
        return json.loads(r.read())


@pytest.mark.timeout(600)
def test_the_openapi_document_holds_against_a_live_host(tmp_path: Path) -> None:
    port = free_port()
    sock = tmp_path / "control.sock"
    conf = tmp_path / "ledhost.toml"
    conf.write_text(
        f'[paths]\ndata_dir = "{tmp_path / "data"}"\n'
        f'[control]\nsocket = "{sock}"\n'
        f'[web]\nenabled = true\nbind = "127.0.0.1"\nport = {port}\n'
        # The store's calls run store commands: no registry to reach from here.
        "[store]\nregistries = []\n"
        '[rotation]\nmodes = ["clock:time", "text:message"]\n'
        '[plugins.clock]\n[plugins.text]\nmessage = "hello"\n'
    )
    conf.chmod(0o600)
    base = f"http://127.0.0.1:{port}/api/v1"
    log = tmp_path / "host.log"
    with log.open("w") as out:
        host = subprocess.Popen(
            [sys.executable, "-m", "host", "run", "--config", str(conf), "--backend", "headless",
             "--duration", "550"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{base}/auth/state", timeout=5) as r:
                    return r.status == 200 and sock.exists()
            except (urllib.error.URLError, OSError):
                return False

        eventually(ready, "ledhost run with its web process answering", timeout=90)
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        csrf = _post(browser, f"{base}/auth/setup", {"password": PASSWORD})["csrf_token"]
        made = _post(browser, f"{base}/auth/tokens", {"name": "fuzz"}, {"X-CSRF-Token": csrf})
        token = made["token"]
        # The host answers for real before the fuzzing starts: a status, not a 503.
        status = urllib.request.Request(
            f"{base}/status", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(status, timeout=20) as r:
            assert set(json.loads(r.read())["data"]["plugins"]) == {"clock", "text"}
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        tried, failures, statuses = _fuzz(
            schema, token, 15, [ignored_auth, positive_data_acceptance], frozenset(DISRUPTIVE)
        )
        print(
            f"schemathesis (live host): {tried} requests tried, {len(failures)} failures, "
            f"statuses {dict(sorted(statuses.items()))}"
        )
        # The web process logs a 500's traceback into the host's output: show it.
        assert not failures, (failures, log.read_text()[-6000:])
        assert 200 in statuses and 503 not in statuses  # it reached the host, and it answered
        assert host.poll() is None, log.read_text()[-3000:]
    finally:
        if host.poll() is None:
            os.killpg(host.pid, signal.SIGTERM)
            try:
                host.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(host.pid, signal.SIGKILL)
                host.wait()
