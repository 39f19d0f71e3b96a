"""The web process runs as the ``ledhost`` user where that works (``host.system.webuser``).

Real processes: the probe and the web process itself run as another user (``nobody``
stands in for ``ledhost``, which this machine may not have), from a plugin environment
other users can run (``plugin_env``), and must keep their state in their own folder.
"""

from __future__ import annotations

import os
import pwd
import sys
from pathlib import Path

import pytest

from config import load_config
from host.supervise.web_child import WebChild
from host.system.webuser import web_identity
from tests.conftest import eventually, free_port

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")


def config_in(folder: Path, port: int = 0) -> Path:
    path = folder / "config.toml"
    path.write_text(
        "config_version = 2\n"
        f'[paths]\ndata_dir = "{folder / "data"}"\n'
        f'[web]\nenabled = true\nbind = "127.0.0.1"\nport = {port or free_port()}\n'
    )
    return path


def status_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def test_no_such_user_means_the_hosts_own(tmp_path: Path) -> None:
    cfg = load_config(config_in(tmp_path), env={}, secrets_path=False)
    assert web_identity(cfg, user="no-such-user-ledhost-test") is None


@needs_root
def test_a_privileged_port_keeps_root(tmp_path: Path) -> None:
    cfg = load_config(config_in(tmp_path, port=80), env={}, secrets_path=False)
    assert web_identity(cfg, user="nobody") is None


@needs_root
def test_a_user_that_cannot_run_the_python_keeps_root_and_moves_nothing(tmp_path: Path) -> None:
    """Verify the fallback: the probe fails (a Python others cannot read), the web process
    runs as root with its state where it was."""
    unreadable = tmp_path / "private"
    unreadable.mkdir(mode=0o700)
    python = unreadable / "python"
    python.symlink_to(sys.executable)
    folder = tmp_path / "site"
    folder.mkdir()
    cfg = load_config(config_in(folder), env={}, secrets_path=False)
    cfg.paths.data_dir.mkdir()
    (cfg.paths.data_dir / "web-auth.json").write_text("{}")
    assert web_identity(cfg, user="nobody", python=str(python)) is None
    assert (cfg.paths.data_dir / "web-auth.json").exists()


@needs_root
def test_web_process_runs_as_the_user_with_its_own_state(plugin_env: Path) -> None:
    """Verify the whole way: the probe passes, old state moves to ``<data_dir>/web``
    owned by the user, and the real web process runs under that uid and writes its session
    key there."""
    nobody = pwd.getpwnam("nobody")
    config = config_in(plugin_env)
    config.chmod(0o644)
    cfg = load_config(config, env={}, secrets_path=False)
    data = cfg.paths.data_dir
    data.mkdir(mode=0o711)
    (data / "web-auth.json").write_text("{}")
    python = str(plugin_env / "env" / "bin" / "python")
    identity = web_identity(cfg, user="nobody", python=python)
    assert identity is not None
    assert identity.state_dir == data / "web"
    moved = identity.state_dir / "web-auth.json"
    assert moved.exists() and moved.stat().st_uid == nobody.pw_uid
    assert not (data / "web-auth.json").exists()
    st = identity.state_dir.stat()
    assert (st.st_uid, st.st_mode & 0o777) == (nobody.pw_uid, 0o700)

    child = WebChild(config, str(plugin_env / "control.sock"), identity)
    child.argv[0] = python
    child.tick(0.0)
    try:
        assert child.proc is not None
        assert status_uid(child.proc.pid) == nobody.pw_uid
        key = identity.state_dir / "web-session.key"
        eventually(key.exists, "the session key in the web process's own folder")
        assert key.stat().st_uid == nobody.pw_uid
        assert not (data / "web-session.key").exists()
    finally:
        child.close()
