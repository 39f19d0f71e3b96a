"""What the author-tool tests share: a running ``ledhost dev``, a project's own tests.

``test_dev.py`` drives a dev server over HTTP, ``test_author_kit.py`` runs the tutorial's
``ledhost dev .`` on a generated project, and ``test_author_journey.py`` runs a generated
project's tests as its README says; each does it through these helpers, so the three
run the commands the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdk.golden import UPDATE_ENV
from tests.conftest import eventually, worker_user


@dataclass
class Dev:
    """A running ``ledhost dev``: its address, the project it runs, its process."""

    url: str
    project: Path
    proc: subprocess.Popen[bytes]

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        request = urllib.request.Request(self.url + path, headers=headers or {})
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
            return (
                json.loads(body)
                if answer.headers.get_content_type() == "application/json"
                else body
            )

    def post(
        self, path: str, body: object, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        sent = {"Content-Type": "application/json", "X-CSRF-Token": self.csrf(), **(headers or {})}
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), headers=sent, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def csrf(self) -> str:
        page = self.get("/").decode()
        found = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert found
        return found.group(1)

    def status(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.get("/api/dev/status")
        return answer


@contextlib.contextmanager
def running_dev(project: Path, *args: str, home: Path) -> Iterator[Dev]:
    """``ledhost dev PROJECT ARGS... --port 0`` (a free port) until the block ends.

    :param home: a folder for its XDG data and config and its stderr.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDHOST_")}
    env.update(XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"))
    if worker_user() != "auto":
        env["LEDHOST_WORKERS__USER"] = worker_user()
    log = home / "dev-stderr.txt"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "host", "dev", str(project), *args, "--port", "0"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
        )
        try:
            found: list[str] = []

            def serving() -> bool:
                text = log.read_text()
                found[:] = re.findall(r"on (http://127\.0\.0\.1:\d+)/", text)
                assert proc.poll() is None, text
                return bool(found)

            eventually(serving, "ledhost dev to print its address")
            yield Dev(found[0], project, proc)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_project_tests(project: Path, *, make_golden: bool = False) -> str:
    """A project's own tests, run as its README says; their output.

    A project from ``ledhost plugin new`` passes as it is: one plain run compares with the
    golden image the command rendered. A hand-written one (the tutorial's) has none yet:
    ``make_golden`` runs once with ``--update-golden`` first, as the tutorial says.
    """
    env = {k: v for k, v in os.environ.items() if k != UPDATE_ENV}
    env["PYTHONPATH"] = str(project)
    result = None
    for switch in (["--update-golden"], []) if make_golden else ([],):
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *switch],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert result is not None and list((project / "tests" / "golden").glob("*.png"))
    return result.stdout
