"""Store operations through the control socket and the REST API, with a real host.

A real ``ledhost run`` (its instance of ``demo`` configured but not installed), a registry
and wheels on 127.0.0.1, and the Flask app on the host's socket: browse, install (the
instance starts without a restart), update, roll back and uninstall as jobs whose
progress is polled, exactly as the store page does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from host.ipc import control
from host.ipc.control_client import ControlClient, HostNotRunning
from tests.conftest import eventually, free_port
from tests.store_helpers import plugin_wheel, registry_index
from tests.test_store_install import Store, store  # noqa: F401 - the fixture
from web import create_app

pytestmark = pytest.mark.slow

PASSWORD = "correct-horse-battery"


@pytest.fixture
def host(store: Store) -> Iterator[tuple[subprocess.Popen[str], Path]]:  # noqa: F811
    config = store.root / "ledhost.toml"
    config.write_text(
        '[plugins.demo]\n[plugins.clock]\n[workers]\nuser = ""\n'
        f'[control]\nsocket = "{store.root / "control.sock"}"\n'
    )
    config.chmod(0o600)
    proc = subprocess.Popen(
        [sys.executable, "-m", "host", "run", "--config", str(config), "--duration", "300",
         "--backend", "headless", "-q"],
        env={**os.environ, **store.env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        yield proc, store.root / "control.sock"
    finally:
        proc.terminate()
        proc.wait(30)


def _status(sock: Path) -> dict[str, Any]:
    try:
        with ControlClient(str(sock)) as client:
            return dict(client.request(control.Status())["plugins"])
    except (HostNotRunning, TimeoutError):
        return {}


def _client(shop: Store, sock: Path) -> tuple[FlaskClient, dict[str, str]]:
    c = create_app({"auth_file": shop.root / "auth.json", "socket": str(sock)}).test_client()
    csrf = c.post("/api/v1/auth/setup", json={"password": PASSWORD}).json["csrf_token"]
    return c, {"X-CSRF-Token": csrf}


def _job(c: FlaskClient, csrf: dict[str, str], op: str, target: str, **extra: Any) -> Any:
    r = c.post("/api/v1/store/jobs", json={"op": op, "target": target, **extra}, headers=csrf)
    assert r.status_code == 202, r.json
    job = r.json["data"]["id"]
    end = time.monotonic() + 240
    while time.monotonic() < end:
        data = c.get(f"/api/v1/store/jobs/{job}").json["data"]
        if data["state"] != "running":
            return data
        time.sleep(0.3)
    raise AssertionError(f"store job {job} ({op} {target}) did not end")


def test_browse_install_update_rollback_uninstall_through_the_api(
    store: Store,  # noqa: F811
    host: tuple[subprocess.Popen[str], Path],
) -> None:
    proc, sock = host
    v1 = plugin_wheel(store.wheels, "demo", "1.0.0", colour=(0, 90, 0))
    v2 = plugin_wheel(store.wheels, "demo", "2.0.0", colour=(90, 0, 0))
    store.server.index = registry_index(
        store.server.url, {"demo": [v1, v2]}, meta={"demo": {"description": "a demo plugin"}}
    )
    eventually(lambda: "clock" in _status(sock), "the host answering", timeout=60)
    assert _status(sock)["demo"]["state"] == "stopped"  # configured, not installed
    c, csrf = _client(store, sock)

    found = c.get("/api/v1/store/plugins?q=demo").json["data"]
    assert [p["id"] for p in found["plugins"]] == ["demo"]
    assert c.get("/api/v1/store/plugins?q=nothing-like-it").json["data"]["plugins"] == []

    done = _job(c, csrf, "install", "demo", version="1.0.0")
    assert done["state"] == "done", done
    assert any("download" in line or "install" in line for line in done["lines"]), done
    # The host looked again: the configured instance starts, without a restart.
    eventually(lambda: _status(sock).get("demo", {}).get("modes") == ["v1"], "v1", timeout=60)
    listed = c.get("/api/v1/store/installed").json["data"]
    assert [(r["id"], r["version"]) for r in listed] == [("demo", "1.0.0")]

    assert _job(c, csrf, "update", "demo")["state"] == "done"
    eventually(lambda: _status(sock).get("demo", {}).get("modes") == ["v2"], "v2", timeout=60)
    assert _job(c, csrf, "rollback", "demo")["state"] == "done"
    eventually(lambda: _status(sock).get("demo", {}).get("modes") == ["v1"], "v1", timeout=60)

    # Failures are jobs that say why; nothing changes.
    bad = _job(c, csrf, "install", "nosuch")
    assert bad["state"] == "failed" and "nosuch" in bad["error"], bad
    hostile = c.post("/api/v1/store/jobs", json={"op": "format", "target": "demo"}, headers=csrf)
    assert hostile.status_code == 400
    assert c.get("/api/v1/store/jobs/999").status_code == 404

    assert _job(c, csrf, "uninstall", "demo")["state"] == "done"
    eventually(
        lambda: _status(sock).get("demo", {}).get("state") != "running", "demo stopped", timeout=60
    )
    assert c.get("/api/v1/store/installed").json["data"] == []
    assert proc.poll() is None, "the host kept running throughout"
    assert json.loads(json.dumps(found))  # plain JSON all the way


def test_the_store_page_installs_with_live_progress(
    store: Store,  # noqa: F811
    host: tuple[subprocess.Popen[str], Path],
    tmp_path: Path,
) -> None:
    """The admin UI's store page in a real browser: browse, install, see it installed."""

    from tests.browser import VIEWPORTS, axe_violations, browser_page, listening, need_browser, poll

    need_browser()
    _proc, sock = host
    wheel = plugin_wheel(store.wheels, "demo", "1.0.0", colour=(0, 90, 0))
    store.server.index = registry_index(
        store.server.url, {"demo": [wheel]}, meta={"demo": {"name": "Demo", "description": "x"}}
    )
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "host", "web", "--config", str(store.root / "ledhost.toml"),
         "--bind", "127.0.0.1", "--port", str(port)],
        env={**os.environ, **store.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: "clock" in _status(sock), "the host answering", timeout=60)

        eventually(lambda: listening(port), "the web process listening", timeout=60)
        with browser_page() as page:
            page.goto(base + "/setup")
            page.fill("#password", PASSWORD)
            page.fill("#confirm", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            page.goto(base + "/store")
            poll(page, "document.querySelectorAll('#catalog li[data-plugin=demo]').length",
                 lambda n: n == 1, "the registry's plugin listed", wait=60)  # fmt: skip
            page.click("#catalog li[data-plugin=demo] button")
            state = poll(
                page, "document.getElementById('job-card').dataset.state || ''",
                lambda s: s in ("done", "failed"), "the install's end", wait=240,
            )  # fmt: skip
            assert state == "done", page.inner_text("#job-lines")
            assert page.inner_text("#job-lines").strip(), "progress lines were shown"
            poll(page, "document.querySelectorAll('#installed li[data-plugin=demo]').length",
                 lambda n: n == 1, "the installed list")  # fmt: skip
            for label, size in VIEWPORTS.items():
                page.set_viewport_size(size)
                page.screenshot(path=str(tmp_path / f"store-{label}.png"), full_page=True)
            assert not axe_violations(page)
            assert not page.problems, page.problems
        eventually(lambda: _status(sock).get("demo", {}).get("modes") == ["v1"], "demo runs",
                   timeout=60)  # fmt: skip
    finally:
        web.terminate()
        web.wait(30)


def test_an_uploaded_wheel_is_installed_as_a_job(
    store: Store,  # noqa: F811
    host: tuple[subprocess.Popen[str], Path],
) -> None:
    """The store page's upload: the wheel's bytes go over the control socket to the host,
    which keeps them privately and installs them like a file; bad uploads are refused."""
    import io

    _proc, sock = host
    wheel = plugin_wheel(store.wheels, "demo", "1.0.0", colour=(0, 90, 0))
    eventually(lambda: "clock" in _status(sock), "the host answering", timeout=60)
    c, csrf = _client(store, sock)

    def send(name: str, data: bytes) -> Any:
        form = {"wheel": (io.BytesIO(data), name)}
        return c.post("/api/v1/store/upload", data=form, headers=csrf,
                      content_type="multipart/form-data")  # fmt: skip

    def finished(job: int) -> Any:
        def ended() -> bool:
            return c.get(f"/api/v1/store/jobs/{job}").json["data"]["state"] != "running"

        eventually(ended, "the job's end", timeout=240)
        return c.get(f"/api/v1/store/jobs/{job}").json["data"]

    assert send("notes.txt", b"x").json["code"] == "not_a_wheel"
    # A path in the name keeps only its last part; bytes that are no wheel fail the job.
    evil = send("../../evil-1.0-py3-none-any.whl", b"not a zip")
    assert evil.status_code == 202, evil.json
    failed = finished(evil.json["data"]["id"])
    assert failed["state"] == "failed" and "/evil-1.0" in failed["target"], failed
    assert "../" not in failed["target"]
    r = send(wheel.name, wheel.read_bytes())
    assert r.status_code == 202, r.json
    done = finished(r.json["data"]["id"])
    assert done["state"] == "done", done
    eventually(lambda: _status(sock).get("demo", {}).get("modes") == ["v1"], "demo runs",
               timeout=60)  # fmt: skip
    big = send("big-1.0-py3-none-any.whl", b"0" * (4 * 1024 * 1024))
    assert big.status_code == 413
