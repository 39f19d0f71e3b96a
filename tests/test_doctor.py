"""``ledhost doctor``: each check with good and bad input, on a fake system root.

The root holds a fake ``/proc``, ``/sys`` and ``config.txt``; commands (``vcgencmd``,
``systemctl``) are small shell scripts on the runner's ``PATH``, run as real
subprocesses. The whole command also runs as a real process (``--root``, ``--json``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config import load_config
from config.mqtt import MqttConfig
from host.system import doctor_checks as checks
from host.system import ownership
from host.system.doctor import (
    CommandRunner,
    Finding,
    Machine,
    Thresholds,
    exit_status,
    format_json,
    format_text,
)
from host.system.doctor_checks import run_checks
from host.system.layout import PiLayout

REPO = Path(__file__).resolve().parent.parent
PI4 = "Raspberry Pi 4 Model B Rev 1.4"
PI5 = "Raspberry Pi 5 Model B Rev 1.0"
MODULES = "snd_bcm2835 24576 1 - Live 0x0000000000000000\nipv6 475136 28 - Live 0x0\n"


def make_root(tmp_path: Path, model: str | None = PI4, **files: str) -> Path:
    """A fake system root; ``files`` maps a path (``proc/modules``) to its content."""
    root = tmp_path / "root"
    (root / "proc/device-tree").mkdir(parents=True, exist_ok=True)
    if model is not None:
        (root / "proc/device-tree/model").write_bytes(model.encode() + b"\0")
    defaults = {
        "proc/modules": "ipv6 475136 28 - Live 0x0\n",
        "proc/meminfo": "MemTotal: 3884000 kB\nMemAvailable: 3000000 kB\n",
        "sys/devices/system/cpu/isolated": "3\n",
    }
    for name, text in {**defaults, **files}.items():
        path = root / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def fake_bin(tmp_path: Path, **scripts: str) -> dict[str, str]:
    """An environment whose PATH holds only the given shell scripts."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    for name, body in scripts.items():
        path = folder / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return {"PATH": str(folder), "HOME": str(tmp_path)}


def machine(
    tmp_path: Path,
    root: Path | None = None,
    scripts: dict[str, str] | None = None,
    display: dict[str, Any] | None = None,
    **extra: Any,
) -> Machine:
    root = root or make_root(tmp_path)
    overrides = {"display": {"backend": "hardware", **(display or {})},
                 "store": {"registries": []}}  # fmt: skip
    cfg = load_config(env={"HOME": str(tmp_path)}, overrides=overrides)
    return Machine(
        root=root, run=CommandRunner(fake_bin(tmp_path, **(scripts or {}))),
        layout=PiLayout(root), config=cfg, **extra,
    )  # fmt: skip


# -- each check ---------------------------------------------------------------------------


def test_config_ok_and_invalid(tmp_path: Path) -> None:
    assert checks.check_config(machine(tmp_path)).status == "OK"
    bad = machine(tmp_path, config_error="display.rows: expected an integer")
    finding = checks.check_config(bad)
    assert finding.status == "FAIL" and "display.rows" in finding.summary and finding.fix


@pytest.mark.parametrize(
    ("model", "display", "expected", "words"),
    [
        (PI4, {}, "OK", "Raspberry Pi 4 Model B Rev 1.4, backend hardware"),
        (None, {"backend": "headless"}, "OK", "not a Raspberry Pi"),
        (None, {}, "FAIL", "not a Raspberry Pi, but backend is 'hardware'"),
        (PI4, {"backend": "piomatter"}, "FAIL", "piomatter drives only the Pi 5"),
        (PI5, {"hardware_mapping": "compute-module"}, "FAIL", "not supported by rgbmatrix on"),
        (PI4, {"hardware_mapping": "adafruit-hat", "parallel": 2}, "FAIL", "parallel must be"),
        (PI5, {"backend": "piomatter"}, "OK", "Raspberry Pi 5 Model B Rev 1.0, backend piomatter"),
        (PI5, {"backend": "piomatter", "multiplexing": "Stripe"}, "FAIL", "not supported by pio"),
    ],
)
def test_board_against_backend(
    tmp_path: Path, model: str | None, display: dict[str, Any], expected: str, words: str
) -> None:
    finding = checks.check_model(machine(tmp_path, make_root(tmp_path, model), display=display))
    assert finding.status == expected and words in finding.summary


@pytest.mark.parametrize(
    ("model", "backend", "missing", "expected"),
    [
        (PI4, "hardware", {"rgbmatrix"}, "FAIL"),
        (PI4, "hardware", set(), "OK"),
        (PI5, "piomatter", {checks.PIOMATTER_MODULE}, "FAIL"),
        (PI4, "auto", {"rgbmatrix", checks.PIOMATTER_MODULE}, "WARN"),
        (None, "auto", {"rgbmatrix", checks.PIOMATTER_MODULE}, "OK"),
    ],
)
def test_binding_importable_and_what_auto_picks(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    model: str | None,
    backend: str,
    missing: set[str],
    expected: str,
) -> None:
    """Whether the binding imports is a fact of this process, so it is stood in for."""
    monkeypatch.setattr(
        checks, "_importable", lambda name: "ImportError: no" if name in missing else None
    )
    import host.display.backends as backends
    from host.display.backends import piomatter

    monkeypatch.setattr(backends, "_hardware_importable", lambda: "rgbmatrix" not in missing)
    monkeypatch.setattr(
        piomatter, "piomatter_importable", lambda: checks.PIOMATTER_MODULE not in missing
    )
    m = machine(tmp_path, make_root(tmp_path, model), display={"backend": backend})
    finding = checks.check_binding(m)
    assert finding.status == expected, finding
    if expected != "OK":
        assert finding.fix
    if backend == "auto":
        assert "opens 'headless'" in finding.summary


@pytest.mark.parametrize(
    ("modules", "display", "expected"),
    [
        ("ipv6 1 1 - Live 0x0\n", {}, "OK"),
        (MODULES, {}, "FAIL"),
        (MODULES, {"disable_hardware_pulsing": True}, "WARN"),
        (MODULES, {"backend": "headless"}, "OK"),
        (None, {}, "WARN"),
    ],
)
def test_sound_module(
    tmp_path: Path, modules: str | None, display: dict[str, Any], expected: str
) -> None:
    root = make_root(tmp_path)
    if modules is None:
        (root / "proc/modules").unlink()
    else:
        (root / "proc/modules").write_text(modules)
    finding = checks.check_sound_module(machine(tmp_path, root, display=display))
    assert finding.status == expected
    if expected == "FAIL":
        assert "blacklist snd_bcm2835" in finding.fix and "disable_hardware_pulsing" in finding.fix


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, "OK"),
        ({"boot/firmware/config.txt": "#dtoverlay=w1-gpio\ndtparam=audio=off\n"}, "OK"),
        ({"boot/firmware/config.txt": "[all]\ndtoverlay=w1-gpio,gpiopin=4\n"}, "FAIL"),
        ({"boot/config.txt": "dtoverlay = w1-gpio\n"}, "FAIL"),
        ({"proc/modules": "w1_gpio 16384 0 - Live 0x0\n"}, "FAIL"),
        ({"proc/device-tree/onewire@0/status": "okay"}, "FAIL"),
    ],
)
def test_one_wire(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    finding = checks.check_one_wire(machine(tmp_path, make_root(tmp_path, **files)))
    assert finding.status == expected
    if expected == "FAIL":
        assert "raspi-config" in finding.fix


def test_decode_throttled() -> None:
    assert checks.decode_throttled("throttled=0x0\n") == (0, [])
    value, meanings = checks.decode_throttled("throttled=0x50005") or (0, [])
    assert value == 0x50005
    assert meanings == [
        "under-voltage now", "throttled now", "under-voltage has occurred",
        "throttling has occurred",
    ]  # fmt: skip
    for garbled in ("", "throttled=", "throttled=0xZZ", "error=1", "throttled=0x1 extra"):
        assert checks.decode_throttled(garbled) is None


@pytest.mark.parametrize(
    ("script", "expected", "words"),
    [
        ("echo throttled=0x0", "OK", "no under-voltage"),
        ("echo throttled=0x50005", "FAIL", "under-voltage now, throttled now"),
        ("echo throttled=0x50000", "WARN", "under-voltage has occurred"),
        ("echo 'VCHI initialization failed'", "WARN", "'VCHI initialization failed'"),
        ("echo throttled=0x0; exit 255", "WARN", "exit 255"),
        ("head -c 300 /dev/zero | tr '\\0' '\\377'", "WARN", "not throttled=0x"),
    ],
)
def test_power_from_a_real_vcgencmd_process(
    tmp_path: Path, script: str, expected: str, words: str
) -> None:
    finding = checks.check_throttling(machine(tmp_path, scripts={"vcgencmd": script}))
    assert finding.status == expected and words in finding.summary, finding


def test_power_without_vcgencmd(tmp_path: Path) -> None:
    assert checks.check_throttling(machine(tmp_path)).status == "WARN"  # a Pi: install it
    off_pi = machine(tmp_path, make_root(tmp_path / "off-pi", None))
    assert checks.check_throttling(off_pi).status == "OK"


def test_power_with_a_hanging_vcgencmd_is_reported(tmp_path: Path) -> None:
    m = machine(tmp_path, scripts={"vcgencmd": "exec /bin/sleep 30"})
    result = m.run(["vcgencmd", "get_throttled"], timeout=0.5)
    assert result.returncode is None and "did not answer" in result.error


@pytest.mark.parametrize(
    ("files", "keep_sys", "expected", "fix"),
    [
        ({}, True, "OK", ""),
        ({"sys/devices/system/cpu/isolated": "\n"}, True, "WARN", "isolcpus=3"),
        ({"sys/devices/system/cpu/isolated": "2-3\n"}, True, "OK", ""),
        ({"proc/cmdline": "console=tty1 isolcpus=3 quiet"}, False, "OK", ""),
        ({"proc/cmdline": "console=tty1 quiet"}, False, "WARN", "isolcpus=3"),
        ({}, False, "WARN", "on the Pi itself"),
    ],
)
def test_isolcpus(
    tmp_path: Path, files: dict[str, str], keep_sys: bool, expected: str, fix: str
) -> None:
    root = make_root(tmp_path, **files)
    if not keep_sys:
        (root / "sys/devices/system/cpu/isolated").unlink()
    finding = checks.check_isolcpus(machine(tmp_path, root))
    assert finding.status == expected and fix in finding.fix


def test_permissions_of_a_machine_without_ledhost_installed(tmp_path: Path) -> None:
    assert checks.check_permissions(machine(tmp_path)).status == "OK"


def test_permissions_report_what_ownership_finds(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    layout = PiLayout(root)
    layout.prefix.mkdir(parents=True)
    layout.etc.mkdir(parents=True)
    layout.config.write_text("")
    layout.config.chmod(0o666)  # world-writable config: always wrong
    finding = checks.check_permissions(machine(tmp_path, root))
    found = ownership.problems(layout)
    assert found and finding.status == "FAIL" and finding.fix
    assert finding.summary.startswith(f"{len(found)} wrong: {found[0].path}: {found[0].what}")


@pytest.mark.parametrize(
    ("meminfo", "expected"),
    [
        ("MemAvailable: 3000000 kB\n", "OK"),
        ("MemAvailable: 81920 kB\n", "WARN"),
        ("MemAvailable: 20480 kB\n", "FAIL"),
        ("MemFree: garbage\n", "WARN"),
    ],
)
def test_memory(tmp_path: Path, meminfo: str, expected: str) -> None:
    root = make_root(tmp_path, **{"proc/meminfo": meminfo})
    assert checks.check_memory(machine(tmp_path, root)).status == expected


@pytest.mark.parametrize(
    ("thresholds", "expected"),
    [
        (Thresholds(disk_warn_mib=0, disk_fail_mib=0), "OK"),
        (Thresholds(disk_warn_mib=10**12, disk_fail_mib=0), "WARN"),
        (Thresholds(disk_warn_mib=10**12, disk_fail_mib=10**12), "FAIL"),
    ],
)
def test_disk_of_the_data_dir(tmp_path: Path, thresholds: Thresholds, expected: str) -> None:
    finding = checks.check_disk(machine(tmp_path, thresholds=thresholds))
    assert finding.status == expected and "MiB free for" in finding.summary


@pytest.mark.parametrize(
    ("script", "unit", "expected"),
    [
        ("echo active", True, "OK"),
        ("echo failed; exit 3", True, "FAIL"),
        ("echo inactive; exit 3", True, "WARN"),
        ("echo inactive; exit 3", False, "WARN"),
        ("echo activating; exit 3", True, "WARN"),
    ],
)
def test_service_state_from_a_real_systemctl_process(
    tmp_path: Path, script: str, unit: bool, expected: str
) -> None:
    root = make_root(tmp_path)
    if unit:
        PiLayout(root).unit.parent.mkdir(parents=True)
        PiLayout(root).unit.write_text("[Service]\n")
    finding = checks.check_service(machine(tmp_path, root, scripts={"systemctl": script}))
    assert finding.status == expected
    if not unit:
        assert "not installed" in finding.summary


def test_service_without_systemd_is_not_a_problem(tmp_path: Path) -> None:
    finding = checks.check_service(machine(tmp_path))
    assert finding.status == "OK" and "no systemd" in finding.summary


def test_registry_reachable_and_not(tmp_path: Path, http_server: Any) -> None:
    http_server.serve("/index.json", {"plugins": []})
    m = machine(tmp_path)
    assert m.config is not None
    good = [f"{http_server.url}/index.json"]
    m.config = load_config(env={"HOME": str(tmp_path)}, overrides={"store": {"registries": good}})
    assert checks.check_registries(m).status == "OK"
    bad = [f"{http_server.url}/missing.json", str(tmp_path / "no-such-index.json")]
    m.config = load_config(env={"HOME": str(tmp_path)}, overrides={"store": {"registries": bad}})
    finding = checks.check_registries(m)
    assert finding.status == "WARN" and "HTTP 404" in finding.summary
    assert "no such file" in finding.summary


def test_mqtt_tls_files_the_service_user_cannot_read_are_a_warning(tmp_path: Path) -> None:
    root = make_root(tmp_path, **{"etc/passwd": "ledhost:x:990:990::/:/bin/false\n",
                                  "etc/group": "ledhost:x:990:\n"})  # fmt: skip
    key, ca = root / "etc/ledhost/client.key", root / "etc/ledhost/ca.crt"
    key.parent.mkdir(parents=True)
    key.write_text("k")
    ca.write_text("c")
    key.chmod(0o600)
    ca.chmod(0o644)
    m = machine(tmp_path, root)
    tls = {"ca_file": "/etc/ledhost/ca.crt", "client_cert": "/etc/ledhost/ca.crt",
           "client_key": "/etc/ledhost/client.key"}  # fmt: skip
    mqtt = MqttConfig(enabled=True, broker="mqtts://b:8883", **tls)
    assert m.config is not None
    m = dataclasses.replace(m, config=dataclasses.replace(m.config, mqtt=mqtt))
    finding = checks.check_mqtt_files(m)
    assert finding.status == "WARN" and "client.key (not readable by 'ledhost')" in finding.summary
    assert "ca.crt" not in finding.summary and "chmod 640" in finding.fix
    key.chmod(0o644)
    assert checks.check_mqtt_files(m).status == "OK"


# -- the whole command ----------------------------------------------------------------------


def test_a_check_that_raises_is_a_failure_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(m: Machine) -> Finding:
        raise KeyError("oops")

    monkeypatch.setattr(checks, "CHECKS", [("broken", broken)])
    findings = run_checks(machine(tmp_path))
    assert findings[0].status == "FAIL" and "KeyError" in findings[0].summary
    assert exit_status(findings) == 1


def test_output_formats_and_exit_status() -> None:
    findings = [Finding("a", "OK", "fine"), Finding("bb", "WARN", "hm", "do this")]
    assert exit_status(findings) == 0
    text = format_text(findings)
    assert "OK    a   fine\n" in text and "-> do this" in text and "0 failed, 1 warning" in text
    assert json.loads(format_json(findings))["status"] == "WARN"
    assert exit_status([*findings, Finding("c", "FAIL", "bad", "fix")]) == 1


def run_doctor(
    tmp_path: Path, root: Path, config: str, *args: str
) -> subprocess.CompletedProcess[str]:
    config_path = tmp_path / "config.toml"
    config_path.write_text(config)
    env = fake_bin(tmp_path, vcgencmd="echo throttled=0x50005", systemctl="echo inactive; exit 3")
    env.update(PYTHONPATH=str(REPO), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "conf"))  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "host", "doctor", "--root", str(root), "--config",
         str(config_path), *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def test_the_command_prints_every_check_and_fails_on_a_fail(tmp_path: Path) -> None:
    root = make_root(tmp_path, **{"proc/modules": MODULES})
    run = run_doctor(tmp_path, root, '[display]\nbackend = "headless"\n[store]\nregistries = []\n')
    assert run.returncode == 1, run.stderr
    assert "FAIL  power" in run.stdout and "under-voltage now" in run.stdout
    lines = [
        line.split()[1] for line in run.stdout.splitlines() if line[:4] in {"OK  ", "WARN", "FAIL"}
    ]
    assert lines == [name for name, _ in checks.CHECKS]
    assert "Traceback" not in run.stderr


def test_the_command_json_and_a_bad_config(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    run = run_doctor(tmp_path, root, "[display]\nrows = 'many'\n", "--json")
    report = json.loads(run.stdout)
    by_name = {c["check"]: c for c in report["checks"]}
    assert run.returncode == 1 and report["status"] == "FAIL"
    assert by_name["config"]["status"] == "FAIL" and "display.rows" in by_name["config"]["summary"]
    assert set(by_name) == {name for name, _ in checks.CHECKS}


def test_the_command_passes_with_warnings_only(tmp_path: Path) -> None:
    root = make_root(tmp_path, model=None)
    env_free = '[display]\nbackend = "headless"\n[store]\nregistries = []\n'
    config_path = tmp_path / "config.toml"
    config_path.write_text(env_free)
    env = {"PATH": str(tmp_path / "empty"), "PYTHONPATH": str(REPO), "HOME": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "host", "doctor", "--root", str(root), "--config",
         str(config_path)],
        capture_output=True, text=True, env={**env, "XDG_DATA_HOME": str(tmp_path / "d")},
        timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 failed" in run.stdout
    assert os.path.exists(root)
