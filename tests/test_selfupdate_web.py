"""The update check and update jobs through a real host and the REST API (issue 20).

A real ``ledhost run`` (headless, the clock) with ``LEDHOST_ROOT`` pointing at a
throwaway install and ``[store] index_url`` at the test index on 127.0.0.1: the web app
asks the host, which runs ``ledhost self-update`` as a child. Also checked here: the host
writes its start record once, at its first frame, and never again while it runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from host.ipc import control
from host.ipc.control_client import ControlClient
from host.system.started import started_path
from tests.conftest import eventually
from tests.httpserver import RecordedServer
from tests.test_selfupdate import index, install, simple  # noqa: F401 - the fixture
from web import create_app

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def host(
    index: RecordedServer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[subprocess.Popen[str], Path, Path]]:
    """A running host: its process, control socket and data folder."""
    tmp = tmp_path_factory.mktemp("updhost")
    install(tmp / "root", "0.1.0", current="0.1.0")
    data, sock = tmp / "data", tmp / "control.sock"
    config = tmp / "ledhost.toml"
    config.write_text(
        f'[rotation]\nmodes = ["clock"]\n[plugins.clock]\n[workers]\nuser = ""\n'
        f'[control]\nsocket = "{sock}"\n[paths]\ndata_dir = "{data}"\n'
        f'[store]\nregistries = []\nindex_url = "{simple(index)}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDHOST_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "host", "run", "--config", str(config), "--duration", "300",
         "--backend", "headless", "-q"],
        env={**env, "LEDHOST_ROOT": str(tmp / "root")}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        eventually(started_path(data).exists, "the host's first frame", timeout=60)
        yield proc, sock, data
    finally:
        proc.terminate()
        proc.wait(30)


def _frame_events(sock: Path, count: int) -> int:
    """Wait for ``count`` changed frames (the clock's seconds), as a subscriber."""
    seen = 0
    with ControlClient(str(sock), timeout=30) as client:
        for event in client.subscribe(["frames"]):
            seen += isinstance(event, control.FrameEvent)
            if seen >= count:
                break
    return seen


@pytest.fixture(scope="module")
def client(
    host: tuple[subprocess.Popen[str], Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[FlaskClient, dict[str, str]]:
    auth = tmp_path_factory.mktemp("auth") / "auth.json"
    c = create_app({"auth_file": auth, "socket": str(host[1])}).test_client()
    csrf = c.post("/api/v1/auth/setup", json={"password": PASSWORD}).json["csrf_token"]
    return c, {"X-CSRF-Token": csrf}


def test_the_host_records_its_start_once(host: tuple[subprocess.Popen[str], Path, Path]) -> None:
    """Verify started.json names the host's pid once its first frame showed, and is not
    written again while more frames show (no per-frame or per-second writes)."""
    proc, sock, data = host
    path = started_path(data)
    eventually(path.exists, "the start record")
    record = json.loads(path.read_text())
    assert record["pid"] == proc.pid and record["problems"] == []
    before = path.stat().st_mtime_ns
    assert _frame_events(sock, 3) == 3  # the clock's seconds: new frames go on showing
    assert path.stat().st_mtime_ns == before


def test_the_update_check_reports_versions_and_the_newest(
    client: tuple[FlaskClient, dict[str, str]],
) -> None:
    """Verify GET /api/v1/system/update: installed versions, 9.9.9 on the index."""
    c, _ = client
    reply = c.get("/api/v1/system/update")
    assert reply.status_code == 200, reply.json
    data: dict[str, Any] = reply.json["data"]
    assert data["current"] == "0.1.0" and data["previous"] is None
    assert data["index"]["newest"] == "9.9.9" and data["update_available"] is True
    assert data["last"] is None


def test_starting_an_update_needs_csrf_and_valid_input(
    client: tuple[FlaskClient, dict[str, str]],
) -> None:
    """Verify the mutating call is refused without the CSRF token, and bad ops or
    versions are 400s naming the field."""
    c, csrf = client
    assert c.post("/api/v1/system/update", json={"op": "rollback"}).status_code == 403
    bad_op = c.post("/api/v1/system/update", json={"op": "downgrade"}, headers=csrf)
    assert bad_op.status_code == 400 and "op" in bad_op.json["message"]
    bad = c.post("/api/v1/system/update", json={"op": "update", "version": "../x"}, headers=csrf)
    assert bad.status_code == 400 and "version" in bad.json["message"]


def test_a_rollback_job_runs_and_reports_why_it_failed(
    client: tuple[FlaskClient, dict[str, str]],
) -> None:
    """Verify a rollback starts as a job (202) whose end says there is nothing to go
    back to; the job is the store's, read from /api/v1/store/jobs/<id>."""
    c, csrf = client
    reply = c.post("/api/v1/system/update", json={"op": "rollback"}, headers=csrf)
    assert reply.status_code == 202, reply.json
    job = reply.json["data"]
    assert job["op"] == "self-rollback" and job["state"] == "running"

    def ended() -> Any:
        state = c.get(f"/api/v1/store/jobs/{job['id']}").json["data"]
        return state if state["state"] != "running" else None

    eventually(ended, "the rollback job's end", timeout=60)
    final = ended()
    assert final["state"] == "failed" and "no previous release" in final["error"]


def test_the_system_page_has_the_update_card(client: tuple[FlaskClient, dict[str, str]]) -> None:
    """Verify the system page carries the update card and its script (no build step)."""
    c, _ = client
    page = c.get("/system")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="update-check"' in text and 'id="update-rollback"' in text
    assert "update.js" in text
    assert c.get("/static/update.js").status_code == 200
