"""A real headless browser for the admin UI's tests: Debian's chromium driven by Playwright.

Playwright cannot download its own browsers here, so it drives ``/usr/bin/chromium``
(``.ci/run`` installs it with apt); ``--no-sandbox`` because tests run as root. Pages keep
their real Content-Security-Policy, so waits poll with ``page.evaluate`` (run by the
devtools protocol) instead of Playwright's ``wait_for_function`` (an ``eval`` the policy
forbids, as it should).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("LEDHOST_CHROMIUM", "/usr/bin/chromium")
#: Widths every page is photographed at: a phone and a desktop.
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


def need_browser() -> Any:
    """Skip (saying why) where chromium or Playwright is missing; else the sync API."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no chromium at {CHROMIUM} (.ci/run installs Debian's chromium)")
    return pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")


@contextmanager
def browser_page(viewport: str = "desktop") -> Iterator[Any]:
    """A fresh browser page; console errors and failed requests are collected on it."""
    sync_api = need_browser()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=VIEWPORTS[viewport])
            page.problems = []
            page.on("pageerror", lambda exc: page.problems.append(f"page error: {exc}"))
            page.on(
                "console",
                lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"),
            )
            yield page
        finally:
            browser.close()


def poll(page: Any, script: str, check: Callable[[Any], bool], what: str, wait: float = 20) -> Any:
    """Evaluate ``script`` until ``check`` accepts its value; fail naming ``what``."""
    deadline = time.monotonic() + wait
    value = None
    while time.monotonic() < deadline:
        value = page.evaluate(script)
        if check(value):
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's findings on the current page (critical and serious ones)."""
    import axe_playwright_python  # the package only carries axe.min.js for us

    source = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
    page.evaluate(source)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("critical", "serious")
    ]  # fmt: skip


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port`` (the web process is up)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
