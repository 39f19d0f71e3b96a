"""``ledhost check``'s probe instruments only the workers it is preloaded into.

It once patched ``sdk.Canvas`` and pluggy as a side effect of being imported: the check
command imports it for a constant, so a test process that ran a check, and every zygote
and worker forked from it later, wrote check reports into ordinary hosts' data folders.
"""

from __future__ import annotations

import subprocess
import sys

from host.supervise.spawner import worker_command


def test_importing_the_probe_changes_nothing() -> None:
    code = (
        "import sdk.canvas as c; text, draw = c.Canvas.text, c.Canvas.__dict__.get('draw'); "
        "import host.author.probe; "
        "assert c.Canvas.text is text, 'text patched on import'; "
        "assert c.Canvas.__dict__.get('draw') is draw, 'draw patched on import'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_preloaded_probe_is_installed_before_the_workers_main() -> None:
    boot = worker_command(sys.executable, "", [], preload="host.author.probe")[3]
    assert "import host.author.probe; host.author.probe.install(); " in boot
    assert boot.index("install()") < boot.index("from host.worker.main import main")
