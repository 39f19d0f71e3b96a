"""The Pi install (``deploy/install.sh`` -> ``host.system.install``) into a throwaway root.

A real run: real ``groupadd``/``useradd --root``, a real venv with pip installing a wheel,
real owners and modes. The wheel is a stand-in ``ledhost`` (installing the real one pulls
numpy and friends from an index, minutes here); what the install does around it is the
same. One install is shared by the module (it takes seconds: the venv); each test
checks one property of it or of a run after it.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import load_config
from host.system import ownership
from host.system.install import (
    InstallError,
    InstallOptions,
    check_version,
    install,
    resolve_source,
)
from host.system.layout import SERVICE_USER, PiLayout
from host.system.tweaks import BLACKLIST_NAME, ISOLCPUS
from host.system.unit import render_unit
from tests.conftest import REPO, build_wheel

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="the install creates users and sets owners: needs root"
)

CMDLINE = "console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootfstype=ext4 quiet\n"
VERSION = "9.9.0"


def make_system_root(folder: Path) -> Path:
    """A minimal Debian-like root: accounts files and a Pi boot partition."""
    (folder / "etc").mkdir(parents=True)
    (folder / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (folder / "etc" / "group").write_text("root:x:0:\n")
    for name in ("shadow", "gshadow"):
        (folder / "etc" / name).write_text("root:*::::::::\n" if name == "shadow" else "root:*::\n")
        os.chmod(folder / "etc" / name, 0o600)
    (folder / "boot" / "firmware").mkdir(parents=True)
    (folder / "boot" / "firmware" / "cmdline.txt").write_text(CMDLINE)
    return folder


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every path under ``root`` with its type, mode, owner, mtime and content hash."""
    found: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            st = os.lstat(path)
            extra: object = None
            if stat.S_ISLNK(st.st_mode):
                extra = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                extra = hashlib.sha256(path.read_bytes()).hexdigest()
            found[str(path.relative_to(root))] = (
                st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, extra
            )  # fmt: skip
    return found


def run(root: Path, **options: object) -> tuple[int, str]:
    out = io.StringIO()
    changed = install(InstallOptions(root=root, **options), out)  # type: ignore[arg-type]
    return changed, out.getvalue()


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("wheels")
    fake = build_wheel(
        folder,
        "ledhost",
        VERSION,
        files={"fake_ledhost.py": "def main():\n    print('fake ledhost')\n"},
        entry_points="[console_scripts]\nledhost = fake_ledhost:main\n",
    )
    binding = build_wheel(
        folder, "rgbmatrix", "0.0.1", files={"rgbmatrix/__init__.py": "RGBMatrix = None\n"}
    )
    return {"ledhost": fake, "rgbmatrix": binding}


@pytest.fixture(scope="module")
def installed(
    tmp_path_factory: pytest.TempPathFactory, wheels: dict[str, Path]
) -> Iterator[tuple[Path, str]]:
    """One real install into a throwaway root, with a built binding waiting in wheels/."""
    if os.geteuid() != 0:
        pytest.skip("the install creates users and sets owners: needs root")
    root = make_system_root(tmp_path_factory.mktemp("sysroot"))
    layout = PiLayout(root)
    layout.wheels.mkdir(parents=True)
    (layout.wheels / wheels["rgbmatrix"].name).write_bytes(wheels["rgbmatrix"].read_bytes())
    _changed, out = run(
        root,
        source=str(wheels["ledhost"]),
        python=sys.executable,
        pip_args=("--no-index", "--no-deps"),
    )
    yield root, out


def test_install_makes_the_release_the_user_the_config_and_the_unit(
    installed: tuple[Path, str],
) -> None:
    root, out = installed
    layout = PiLayout(root)
    release = layout.release(VERSION)
    assert os.readlink(layout.current) == f"releases/{VERSION}"
    assert (layout.ledhost_bin).exists(), out
    python = str(release / "bin" / "python")
    probe = subprocess.run(
        [python, "-c", "import fake_ledhost, rgbmatrix"], capture_output=True, text=True
    )
    assert probe.returncode == 0, probe.stderr
    passwd = (root / "etc" / "passwd").read_text()
    assert any(line.startswith(f"{SERVICE_USER}:") for line in passwd.splitlines())
    # The installed config is valid, and points the data where the service may write it.
    cfg = load_config(layout.config, env={}, secrets_path=False)
    assert cfg.paths.data_dir == Path("/var/lib/ledhost")
    assert cfg.web.enabled
    assert layout.unit.read_text() == render_unit()
    # Every owner and mode as the ownership rules say.
    assert ownership.problems(layout) == []
    assert stat.S_IMODE(layout.secrets.stat().st_mode) == 0o600
    # No tweak without consent (stdin is not a terminal here, and no --tweaks).
    assert "pass --tweaks to apply" in out
    assert not (root / "etc" / "modprobe.d" / BLACKLIST_NAME).exists()
    assert (root / "boot" / "firmware" / "cmdline.txt").read_text() == CMDLINE


def test_second_install_changes_nothing(
    installed: tuple[Path, str], wheels: dict[str, Path]
) -> None:
    root, _ = installed
    before = snapshot(root)
    changed, out = run(
        root, source=str(wheels["ledhost"]), python=sys.executable, pip_args=("--no-index",)
    )
    assert changed == 0, out
    assert snapshot(root) == before


def test_dry_run_changes_nothing_and_names_every_step(
    tmp_path: Path, wheels: dict[str, Path]
) -> None:
    root = make_system_root(tmp_path / "root")
    before = snapshot(root)
    changed, out = run(root, source=str(wheels["ledhost"]), dry_run=True)
    assert changed == 0
    assert snapshot(root) == before
    for step in ("accounts", "folders", "venv", "ledhost", "current", "config", "unit"):
        assert f"[{step}] would:" in out, out
    assert "dry run: nothing was changed" in out


@needs_root
def test_tweaks_only_with_consent_once_and_undone(
    installed: tuple[Path, str], wheels: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verify --tweaks applies both, a second run changes nothing, cmdline.txt stays one
    line, and --undo-tweaks restores it byte for byte."""
    root, _ = installed
    monkeypatch.setattr(os, "cpu_count", lambda: 4)  # the board: a four-core Pi
    common = {"source": str(wheels["ledhost"]), "python": sys.executable}
    _, out = run(root, tweaks=True, pip_args=("--no-index",), **common)
    cmdline = root / "boot" / "firmware" / "cmdline.txt"
    assert cmdline.read_text() == CMDLINE.rstrip("\n") + f" {ISOLCPUS}\n"
    assert len(cmdline.read_text().splitlines()) == 1
    blacklist = root / "etc" / "modprobe.d" / BLACKLIST_NAME
    assert "blacklist snd_bcm2835" in blacklist.read_text()
    before = snapshot(root)
    changed, out = run(root, tweaks=True, pip_args=("--no-index",), **common)
    assert changed == 0, out
    assert snapshot(root) == before
    run(root, undo_tweaks=True, **common)
    assert cmdline.read_text() == CMDLINE
    assert not blacklist.exists()


@pytest.mark.parametrize("version", ["1.0/../../etc", "../1.0", "1.0/x", "", ".hidden", "a1"])
def test_a_version_that_could_be_a_path_is_refused(version: str) -> None:
    with pytest.raises(InstallError, match="not a version"):
        check_version(version)


def test_sources_are_checked() -> None:
    assert resolve_source(str(REPO)).kind == "checkout"
    assert resolve_source("ledhost==1.2.0").version == "1.2.0"
    with pytest.raises(InstallError, match="pin a version"):
        resolve_source("ledhost")
    with pytest.raises(InstallError, match="not a folder, a .whl file"):
        resolve_source("evil; rm -rf /")
    with pytest.raises(InstallError, match="not a version"):
        resolve_source("ledhost==1.0/../../x")


def test_a_symlinked_root_is_refused(tmp_path: Path, wheels: dict[str, Path]) -> None:
    real = make_system_root(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(InstallError, match="is a symlink"):
        run(link, source=str(wheels["ledhost"]), dry_run=True)


@needs_root
def test_a_planted_symlink_is_not_written_through(tmp_path: Path, wheels: dict[str, Path]) -> None:
    """Verify that /etc/ledhost planted as a link to a folder outside the root stops the
    install before anything is written there."""
    root = make_system_root(tmp_path / "root")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "etc" / "ledhost").symlink_to(outside)
    with pytest.raises(InstallError, match="symlink; refusing to write through it"):
        run(root, source=str(wheels["ledhost"]), python=sys.executable)
    assert list(outside.iterdir()) == []
    assert not PiLayout(root).release(VERSION).exists()


def test_bootstrap_script_dry_run(tmp_path: Path) -> None:
    """Verify the documented command runs the install from the checkout with the system's
    Python (no venv, no dependencies) and, dry, changes nothing."""
    root = make_system_root(tmp_path / "root")
    before = snapshot(root)
    done = subprocess.run(
        [str(REPO / "deploy" / "install.sh"), "--dry-run", "--root", str(root)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "[venv] would: create the venv" in done.stdout
    assert snapshot(root) == before
