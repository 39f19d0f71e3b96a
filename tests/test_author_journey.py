"""The plugin author's whole journey, for real (issue 19's acceptance test).

``ledhost plugin new``, the generated project's own tests (run as its README says: the
first run makes the golden image, the second compares), its wheel built offline, served
from a registry on 127.0.0.1, ``ledhost install`` through the store, and its mode's frames
in a running host's stats. Slow: about 30 s here, 70 s on a busy machine (pip runs three
times: the build, the check of the wheel and the store's install).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from tests.author_helpers import run_project_tests, running_dev
from tests.cli_run import run_until, showing
from tests.conftest import eventually, ledhost
from tests.store_helpers import WheelServer, registry_index

# Builds, publishes and installs with pip: 63 s seen on a loaded 2-core box; the bound on a
# hung test is above the default 120 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]


def test_new_test_build_publish_install_and_see_it_render() -> None:
    # Not tmp_path: its parents are 0700, and a worker that dropped root must read the env.
    root = Path(tempfile.mkdtemp(prefix="ledhost-journey-", dir="/tmp"))
    root.chmod(0o755)
    server = WheelServer(root / "wheels")
    env = {
        "LEDHOST_PATHS__DATA_DIR": str(root / "data"),
        "LEDHOST_STORE__REGISTRIES": json.dumps([server.index_url]),
        "LEDHOST_STORE__INDEX_URL": '""',
        "LEDHOST_CONTROL__SOCKET": str(root / "control.sock"),
    }
    try:
        made = ledhost("plugin", "new", "hello-sign", "--dir", str(root), env=env)
        assert made.returncode == 0, made.stderr
        project = root / "ledhost-hello-sign"

        run_project_tests(project)  # as generated, golden image included

        built = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
             "--no-index", "-w", str(root / "wheels"), "."],
            cwd=project, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert built.returncode == 0, built.stdout + built.stderr
        (wheel,) = (root / "wheels").glob("ledhost_hello_sign-0.1.0-*.whl")
        # The wheel itself, installed into a throwaway environment as the store would.
        checked = ledhost("check", str(wheel), "--sizes", "64x32", "--json", env=env, timeout=300)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert json.loads(checked.stdout)["runs"]["64x32"]["frames"] == {"main": 4}
        # ledhost dev of the wheel: the same resolver installs it into a throwaway
        # environment, and a real worker draws it beside the preview (nothing to watch).
        (root / "dev").mkdir()
        with running_dev(wheel, "--size", "64x32", home=root / "dev") as dev:
            eventually(lambda: dev.status()["state"] == "running", "the wheel's worker")
            status = dev.status()
            assert status["plugin"] == "hello-sign" and status["reloads"] == 0
            assert [m["name"] for m in status["modes"]] == ["main"]

            def lit() -> bool:
                frame = Image.open(io.BytesIO(dev.get("/api/dev/frame.png")))
                assert frame.size == (64, 32)
                return bool(frame.convert("L").getextrema()[1])

            eventually(lit, "a frame the wheel drew")
        server.index = registry_index(server.url, {"hello-sign": [wheel]})

        installed = ledhost("install", "hello-sign", env=env, timeout=300)
        assert installed.returncode == 0, installed.stderr
        listed = json.loads(ledhost("store", "list", "--json", env=env).stdout)
        assert [(r["id"], r["version"]) for r in listed] == [("hello-sign", "0.1.0")]

        stats = root / "stats.json"
        run = run_until(
            "--plugins", "hello-sign", "--backend", "headless",
            "--stats-json", str(stats), "-q", until=showing("hello-sign"), env=env,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        data = json.loads(stats.read_text())
        shown = data["plugins"]["hello-sign"]
        assert shown["frames"] > 0 and shown["modes"] == ["main"], shown
        assert "hello-sign:main" in {m["mode"] for m in data["modes_shown"]}
        assert server.requests["/index.json"] >= 1
    finally:
        server.close()
        shutil.rmtree(root, ignore_errors=True)
