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
from tests.conftest import CMDLINE, REPO, build_wheel, make_system_root

# The module's release (a venv that pip fills) is made in the first test's setup: 60 s seen
# on a loaded 2-core box, half of the default 120 s bound on a hung test.
pytestmark = pytest.mark.timeout(360)

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="the install creates users and sets owners: needs root"
)

#: A PEP 517 backend that builds a one-module wheel with the stdlib alone (NAME, VERSION
#: and CHECK filled in). The binding's asks, as the real one's Pillow shim does, for
#: Pillow's ``Imaging.h`` on ``CPATH``.
BACKEND = """
import base64, hashlib, os, zipfile

NAME, VERSION = "@NAME@", "@VERSION@"
INFO = NAME + "-" + VERSION + ".dist-info"
FILES = {
    NAME + "_fake/__init__.py": "BUILT = True\\n",
    INFO + "/METADATA": "Metadata-Version: 2.1\\nName: " + NAME + "\\nVersion: " + VERSION + "\\n",
    INFO + "/WHEEL": "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if @CHECK@ and not os.path.isfile(os.path.join(os.environ.get("CPATH", ""), "Imaging.h")):
        raise SystemExit("Imaging.h not found on CPATH")
    name = NAME + "-" + VERSION + "-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(wheel_directory + "/" + name, "w") as whl:
        for path, text in FILES.items():
            whl.writestr(path, text)
            digest = hashlib.sha256(text.encode()).digest()
            b64 = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            record.append(path + ",sha256=" + b64 + "," + str(len(text.encode())))
        record.append(INFO + "/RECORD,,")
        whl.writestr(INFO + "/RECORD", "\\n".join(record) + "\\n")
    return name
"""
PYPROJECT = '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
PILLOW = "0.0.7"


def backend(name: str, version: str, check: bool = False) -> str:
    code = BACKEND.replace("@NAME@", name).replace("@VERSION@", version)
    return code.replace("@CHECK@", str(check))


VERSION = "9.9.0"


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


def binding_source(folder: Path) -> Path:
    """An rpi-rgb-led-matrix stand-in: an in-tree build backend with no requirements, so
    pip builds it offline in its usual isolated build environment, as it builds the real
    one (scikit-build-core, fetched from the index); with the real one's Pillow shim."""
    (folder / "bindings" / "python" / "rgbmatrix" / "shims").mkdir(parents=True)
    (folder / "bindings" / "python" / "rgbmatrix" / "shims" / "pillow.c").write_text("")
    (folder / "pyproject.toml").write_text(PYPROJECT)
    (folder / "backend.py").write_text(backend("rgbmatrix", "0.0.2", check=True))
    return folder


def pillow_sdist(folder: Path) -> Path:
    """A Pillow sdist stand-in holding ``src/libImaging/Imaging.h``, as Pillow's does."""
    import tarfile

    top = folder / f"pillow-{PILLOW}"
    (top / "src" / "libImaging").mkdir(parents=True)
    (top / "src" / "libImaging" / "Imaging.h").write_text("/* Pillow */\n")
    (top / "pyproject.toml").write_text(PYPROJECT)
    (top / "backend.py").write_text(backend("pillow", PILLOW))
    path = folder / f"pillow-{PILLOW}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(top, arcname=top.name)
    return path


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Stand-in ledhost wheels (9.9.0 needs Pillow), a Pillow wheel and its sdist, in one
    folder pip finds them in (``--find-links``)."""
    folder = tmp_path_factory.mktemp("wheels")
    found = {}
    for version, requires in ((VERSION, (f"pillow=={PILLOW}",)), ("9.9.1", ())):
        found[version] = build_wheel(
            folder,
            "ledhost",
            version,
            files={"fake_ledhost.py": "def main():\n    print('fake ledhost')\n"},
            entry_points="[console_scripts]\nledhost = fake_ledhost:main\n",
            requires=requires,
        )
    found["ledhost"] = found[VERSION]
    build_wheel(folder, "pillow", PILLOW, files={"fake_pil.py": ""})
    pillow_sdist(tmp_path_factory.mktemp("sdist")).rename(folder / f"pillow-{PILLOW}.tar.gz")
    return found


@pytest.fixture(scope="module")
def installed(
    tmp_path_factory: pytest.TempPathFactory, wheels: dict[str, Path]
) -> Iterator[tuple[Path, str]]:
    """One real install into a throwaway root, building the binding from a source folder."""
    if os.geteuid() != 0:
        pytest.skip("the install creates users and sets owners: needs root")
    root = make_system_root(tmp_path_factory.mktemp("sysroot"))
    source = binding_source(tmp_path_factory.mktemp("src") / "rpi-rgb-led-matrix")
    _changed, out = run(
        root,
        source=str(wheels["ledhost"]),
        rgbmatrix=str(source),
        python=sys.executable,
        pip_args=("--no-index", f"--find-links={wheels['ledhost'].parent}"),
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
        [python, "-c", "import fake_ledhost, rgbmatrix_fake, fake_pil"],
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0, probe.stderr
    # The binding was built once, into wheels/, for later releases to reuse; its build saw
    # Pillow's headers (from the sdist of the Pillow the release has) on CPATH, or failed.
    (built,) = layout.wheels.glob("rgbmatrix-0.0.2-*.whl")
    assert stat.S_IMODE(built.stat().st_mode) == 0o644
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


def test_config_is_never_overwritten(installed: tuple[Path, str], wheels: dict[str, Path]) -> None:
    root, _ = installed
    config = PiLayout(root).config
    original = config.read_text()
    try:
        config.write_text(original + "# mine\n")
        run(root, source=str(wheels["ledhost"]), python=sys.executable, pip_args=("--no-index",))
        assert config.read_text() == original + "# mine\n"
    finally:
        config.write_text(original)


def test_a_binding_source_that_is_not_one_is_refused_before_anything(
    tmp_path: Path, wheels: dict[str, Path]
) -> None:
    root = make_system_root(tmp_path / "root")
    before = snapshot(root)
    for bad in (str(tmp_path), "--upload-pack=evil", "file:///etc"):
        with pytest.raises(InstallError, match="--rgbmatrix"):
            run(root, source=str(wheels["ledhost"]), rgbmatrix=bad, dry_run=True)
    assert snapshot(root) == before


@pytest.mark.slow  # a second release venv: ~10 s here, more on a loaded machine
def test_binding_is_built_once_and_reused_by_the_next_release(
    installed: tuple[Path, str], wheels: dict[str, Path]
) -> None:
    """Verify the built wheel is kept in wheels/ and the next release installs it without
    a source, becoming current with the first as previous. (Last: it changes the release.)"""
    root, _ = installed
    layout = PiLayout(root)
    (kept,) = layout.wheels.glob("rgbmatrix-0.0.2-*.whl")
    _, out = run(root, source=str(wheels["9.9.1"]), python=sys.executable, pip_args=("--no-index",))
    assert "built binding" in out
    assert os.readlink(layout.current) == "releases/9.9.1"
    assert os.readlink(layout.previous) == f"releases/{VERSION}"
    python = str(layout.release("9.9.1") / "bin" / "python")
    probe = subprocess.run(
        [python, "-c", "import rgbmatrix_fake; assert rgbmatrix_fake.BUILT"], check=False
    )
    assert probe.returncode == 0
    assert list(layout.wheels.glob("rgbmatrix-*.whl")) == [kept]
    assert ownership.problems(layout) == []


def test_an_older_checkout_does_not_downgrade_the_running_release(tmp_path: Path) -> None:
    """Verify that re-running install.sh from an old checkout after a self-update keeps
    the newer release current, unless the source is named on purpose."""
    from host.system.install import Source
    from host.system.install_steps import build_steps

    root = make_system_root(tmp_path / "root")
    layout = PiLayout(root)
    layout.release("9.10.0").mkdir(parents=True)
    layout.current.symlink_to("releases/9.10.0")
    source = Source("checkout", str(REPO), "9.9.0")
    todos = {}
    for given in (False, True):
        options = InstallOptions(root=root, tweaks=False, source_given=given)
        steps = {s.name: s for s in build_steps(options, root, source, io.StringIO())}
        todos[given] = steps["current"].pending()
    kept, switched = todos[False], todos[True]
    assert kept is not None and kept.skip and "9.10.0, newer than 9.9.0" in kept.text
    assert switched is not None and not switched.skip
