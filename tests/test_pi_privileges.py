"""The unit's capability bounding set is enough for a real host (measured, not guessed).

The systemd unit keeps only :data:`host.system.unit.CAPABILITIES`. Here a real ``ledhost
run`` starts under exactly that bounding set (``setpriv --bounding-set``, what systemd's
``CapabilityBoundingSet=`` does), as root, with a third-party plugin: its worker must run
under a uid of its own and show frames. ``--no-new-privs`` stands for the unit's
``NoNewPrivileges=yes``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from host.system.unit import CAPABILITIES
from tests.conftest import TEST_PLUGINS, eventually, ledhost

UID_BASE = 1900000000


def _cap_numbers() -> dict[str, int]:
    """Capability numbers (linux/capability.h) of the names the unit keeps."""
    numbers = {
        "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
        "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_NET_BIND_SERVICE": 10,
        "CAP_SYS_RAWIO": 17, "CAP_SYS_PTRACE": 19, "CAP_SYS_ADMIN": 21, "CAP_SYS_NICE": 23,
    }  # fmt: skip
    return {name: numbers[name] for name in CAPABILITIES}


def _status_field(pid: int, name: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise KeyError(name)


def _children_uids(pid: int) -> set[int]:
    uids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if int(_status_field(int(entry), "PPid")) == pid:
                uids.add(int(_status_field(int(entry), "Uid").split()[0]))
        except (OSError, KeyError, ValueError):
            continue
    return uids


def test_host_runs_plugins_under_their_own_uids_with_the_units_capabilities(
    plugin_env: Path,
) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is missing")
    folder = plugin_env
    config = folder / "config.toml"
    config.write_text(
        "config_version = 2\n"
        f'[paths]\ndata_dir = "{folder / "data"}"\n'
        f'[control]\nsocket = "{folder / "run" / "control.sock"}"\n'
        '[rotation]\nmodes = ["solid"]\n[plugins.solid]\n'
    )
    config.chmod(0o600)
    stats = folder / "stats.json"
    keep = ",".join("+" + name.removeprefix("CAP_").lower() for name in CAPABILITIES)
    # As the unit: that bounding set, and NoNewPrivileges=yes.
    argv = ["setpriv", "--bounding-set", f"-all,{keep}", "--inh-caps=-all", "--no-new-privs"]
    argv += ["--"]
    argv += [str(folder / "env" / "bin" / "python"), "-m", "host", "run", "--config", str(config)]
    argv += ["--backend", "headless", "--duration", "120", "--stats-json", str(stats)]
    argv += ["--plugin-path", str(TEST_PLUGINS), "--launcher", "spawn"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDHOST_")}
    host = subprocess.Popen(argv, env=env, cwd="/", stderr=subprocess.PIPE, text=True)
    try:
        # setpriv execs the host: the pid is the host's, with the unit's bounding set.
        python = str(folder / "env" / "bin" / "python").encode()
        eventually(
            lambda: Path(f"/proc/{host.pid}/cmdline").read_bytes().split(b"\0")[0] == python,
            "setpriv to exec the host",
        )
        mask = int(_status_field(host.pid, "CapBnd"), 16)
        # What this machine's own bounding set allows of the unit's (a container may hold
        # back some; on a Pi, all of them).
        ours = int(_status_field(os.getpid(), "CapBnd"), 16)
        assert mask == sum(1 << n for n in _cap_numbers().values()) & ours
        eventually(
            lambda: any(uid >= UID_BASE for uid in _children_uids(host.pid)),
            "a worker running under a uid of its own",
        )
        sock = str(folder / "run" / "control.sock")

        def frames() -> int:
            done = ledhost("status", "--json", "--socket", sock)
            if done.returncode != 0:
                return 0
            return int(json.loads(done.stdout)["plugins"]["solid"]["frames"])

        eventually(lambda: frames() > 0, "frames from the plugin", interval=0.5)
    finally:
        host.send_signal(signal.SIGTERM)
        _, err = host.communicate(timeout=60)
    assert host.returncode == 0, err
    data = json.loads(stats.read_text())
    solid = data["plugins"]["solid"]
    assert solid["frames"] > 0, err
    assert solid["failures"] == 0 and solid["last_error"] is None, solid
    assert data["frames_shown"] > 0
