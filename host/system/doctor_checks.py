"""The checks of ``ledhost doctor`` (:mod:`host.system.doctor`), one function each.

Each takes the :class:`~host.system.doctor.Machine` and returns one
:class:`~host.system.doctor.Finding`; none raises on bad input. Where a check depends on
the panel backend, it judges the backend the config asks for (``auto`` resolved as the
host would, :func:`host.display.backends.pick_auto`).
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import stat
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from config import DisplayConfig, load_config
from host.display.backends import BackendError, pick_auto
from host.display.backends.panel import (
    binding_options,
    check_binding_limits,
    is_pi5,
    is_raspberry_pi,
    pi_model,
)
from host.display.backends.piomatter import MODULE as PIOMATTER_MODULE
from host.display.backends.piomatter import plan as plan_piomatter
from host.system import ownership
from host.system.doctor import Finding, Machine, Status
from host.system.layout import SERVICE_USER, UNIT_NAME

__all__ = ["CHECKS", "THROTTLE_BITS", "decode_throttled", "run_checks"]

CONFIG_TXT = ("boot/firmware/config.txt", "boot/config.txt")
CMDLINE_TXT = "/boot/firmware/cmdline.txt"

#: ``vcgencmd get_throttled`` bits -> what they mean (Raspberry Pi documentation).
THROTTLE_BITS = {
    0: "under-voltage now", 1: "ARM frequency capped now", 2: "throttled now",
    3: "soft temperature limit now", 16: "under-voltage has occurred",
    17: "ARM frequency capping has occurred", 18: "throttling has occurred",
    19: "soft temperature limit has occurred",
}  # fmt: skip
_THROTTLED = re.compile(r"\Athrottled=(0x[0-9a-fA-F]+)\s*\Z")


def _display(m: Machine) -> DisplayConfig:
    return (m.config or load_config(env={})).display


def _backend(m: Machine) -> tuple[str | None, str]:
    """``(board model, backend the host would open)``."""
    model = pi_model(m.root)
    backend = _display(m).backend
    return model, pick_auto(model) if backend == "auto" else backend


def _importable(module: str) -> str | None:
    """``None`` when ``module`` imports, else why not (one line)."""
    try:
        importlib.import_module(module)
    except Exception as exc:  # a broken build raises more than ImportError
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def check_config(m: Machine) -> Finding:
    if m.config_error:
        return Finding("config", "FAIL", m.config_error,
                       "fix the setting named above, then `ledhost config check`")  # fmt: skip
    return Finding("config", "OK", f"valid ({m.config_source})")


def check_model(m: Machine) -> Finding:
    model, backend = _backend(m)
    if not is_raspberry_pi(model):
        if backend in ("hardware", "piomatter"):
            return Finding("board", "FAIL", f"not a Raspberry Pi, but backend is {backend!r}",
                           "set display.backend to 'auto' or 'emulator'")  # fmt: skip
        return Finding("board", "OK", f"not a Raspberry Pi; backend {backend} needs none")
    if backend == "piomatter" and not is_pi5(model):
        return Finding("board", "FAIL", f"{model}: piomatter drives only the Pi 5",
                       "set display.backend to 'hardware' (or 'auto')")  # fmt: skip
    display = _display(m)
    try:
        if backend == "hardware":
            check_binding_limits(binding_options(display), model=model)
        elif backend == "piomatter":
            options = {**binding_options(display), "piomatter_pinout": display.piomatter_pinout}
            plan_piomatter(display.width, display.height, options)
    except BackendError as exc:
        return Finding("board", "FAIL", f"{model}: {exc}", "change the [display] setting named")
    return Finding("board", "OK", f"{model}, backend {backend}")


def check_binding(m: Machine) -> Finding:
    model, backend = _backend(m)
    wanted = _display(m).backend
    rgbmatrix, piomatter = _importable("rgbmatrix"), _importable(PIOMATTER_MODULE)
    found = ", ".join(n for n, e in (("rgbmatrix", rgbmatrix), ("piomatter", piomatter)) if not e)
    have = f"imports: {found or 'none'}; backend {wanted!r} opens {backend!r}"
    install = ("install Adafruit-Blinka-Raspberry-Pi5-Piomatter into ledhost's venv"
               if is_pi5(model) else
               "build the rgbmatrix binding (docs/panel.md) into ledhost's venv")  # fmt: skip
    if backend == "hardware" and rgbmatrix:
        return Finding("binding", "FAIL", f"rgbmatrix does not import ({rgbmatrix})", install)
    if backend == "piomatter" and piomatter:
        return Finding("binding", "FAIL", f"piomatter does not import ({piomatter})", install)
    if is_raspberry_pi(model) and backend == "headless":
        return Finding("binding", "WARN", f"{have}: nothing will light up", install)
    return Finding("binding", "OK", have)


def check_sound_module(m: Machine) -> Finding:
    model, backend = _backend(m)
    if backend != "hardware" or not is_raspberry_pi(model) or is_pi5(model):
        return Finding("sound", "OK", f"not relevant for backend {backend}")
    modules = m.read("/proc/modules")
    if modules is None:
        return Finding("sound", "WARN", "cannot read /proc/modules", "run doctor on the Pi itself")
    loaded = any(line.split()[:1] == ["snd_bcm2835"] for line in modules.splitlines())
    if not loaded:
        return Finding("sound", "OK", "snd_bcm2835 is not loaded")
    fix = ("blacklist it: echo 'blacklist snd_bcm2835' | sudo tee "
           "/etc/modprobe.d/ledhost-blacklist-snd_bcm2835.conf, then reboot")  # fmt: skip
    if _display(m).disable_hardware_pulsing:
        return Finding("sound", "WARN", "snd_bcm2835 is loaded; hardware pulsing is off, so "
                       "the panel works with less stable timing", fix)  # fmt: skip
    return Finding("sound", "FAIL", "snd_bcm2835 is loaded: it uses the PWM hardware the "
                   "panel is timed with (flicker, or the binding refuses to start)",
                   fix + " (or set display.disable_hardware_pulsing = true)")  # fmt: skip


def check_one_wire(m: Machine) -> Finding:
    why = []
    modules = m.read("/proc/modules") or ""
    if any(line.split()[:1] == ["w1_gpio"] for line in modules.splitlines()):
        why.append("module w1_gpio is loaded")
    for name in CONFIG_TXT:
        text = m.read(name) or ""
        if any(re.match(r"\s*dtoverlay\s*=\s*w1-gpio", line) for line in text.splitlines()):
            why.append(f"/{name} has dtoverlay=w1-gpio")
    try:
        tree = [p.name for p in (m.root / "proc/device-tree").iterdir()]
    except OSError:
        tree = []
    if any(name.startswith(("onewire", "w1")) for name in tree):
        why.append("the device tree has a one-wire node")
    if not why:
        return Finding("one-wire", "OK", "one-wire (GPIO 4) is off")
    _, backend = _backend(m)
    status: Status = "FAIL" if backend in ("hardware", "piomatter") else "WARN"
    return Finding("one-wire", status, "one-wire is on: " + "; ".join(why) + " (GPIO 4 is "
                   "a panel pin)", "sudo raspi-config nonint do_onewire 1 (or remove "
                   "dtoverlay=w1-gpio from config.txt), then reboot")  # fmt: skip


def decode_throttled(text: str) -> tuple[int, list[str]] | None:
    """``(value, meanings of its set bits)`` from ``get_throttled``'s output, or ``None``."""
    match = _THROTTLED.match(text.strip())
    if match is None:
        return None
    value = int(match.group(1), 16)
    return value, [meaning for bit, meaning in THROTTLE_BITS.items() if value >> bit & 1]


def check_throttling(m: Machine) -> Finding:
    model = pi_model(m.root)
    result = m.run(["vcgencmd", "get_throttled"], timeout=5.0)
    if result.returncode is None:
        if not is_raspberry_pi(model):
            return Finding("power", "OK", "not a Raspberry Pi: no vcgencmd to ask")
        return Finding("power", "WARN", f"cannot ask the firmware: {result.error}",
                       "sudo apt install raspi-utils (or libraspberrypi-bin)")  # fmt: skip
    decoded = decode_throttled(result.stdout) if result.returncode == 0 else None
    if decoded is None:
        shown = (result.stdout.strip() or result.error or "no output")[:80]
        return Finding("power", "WARN", f"vcgencmd get_throttled gave {shown!r} "
                       f"(exit {result.returncode}), not throttled=0x...",
                       "run `vcgencmd get_throttled` by hand")  # fmt: skip
    value, meanings = decoded
    if value & 0xF:
        return Finding("power", "FAIL", f"throttled=0x{value:x}: " + ", ".join(meanings),
                       "use a supply that holds 5.1 V under load (5 A for a Pi 5), power "
                       "the panels from their own supply, and cool the Pi")  # fmt: skip
    if value:
        return Finding("power", "WARN", f"throttled=0x{value:x}: " + ", ".join(meanings) +
                       " (since boot)", "check the power supply and cooling")  # fmt: skip
    return Finding("power", "OK", "no under-voltage or throttling since boot")


def check_isolcpus(m: Machine) -> Finding:
    model, backend = _backend(m)
    if backend != "hardware" or not is_raspberry_pi(model):
        return Finding("isolcpus", "OK", f"not needed for backend {backend}")
    isolated = m.read("/sys/devices/system/cpu/isolated")
    if isolated is None:
        cmdline = m.read("/proc/cmdline")
        if cmdline is None:
            return Finding("isolcpus", "WARN", "cannot read /sys/devices/system/cpu/isolated "
                           "or /proc/cmdline", "run doctor on the Pi itself")  # fmt: skip
        tokens = [t.split("=", 1)[1] for t in cmdline.split() if t.startswith("isolcpus=")]
        isolated = ",".join(tokens)
    if "3" in re.split(r"[,\-\s]+", isolated.strip()):
        return Finding("isolcpus", "OK", "CPU 3 is kept for the panel's refresh thread")
    return Finding("isolcpus", "WARN", "CPU 3 is not isolated: the refresh thread shares it "
                   "(more flicker when the Pi is busy)",
                   f"add isolcpus=3 to the one line of {CMDLINE_TXT}, then reboot")  # fmt: skip


def check_permissions(m: Machine) -> Finding:
    if not m.layout.prefix.exists():
        return Finding("permissions", "OK", f"ledhost is not installed under {m.layout.prefix}")
    # The ownership rules live in one place (host.system.ownership), shared with
    # `ledhost service permissions --fix`.
    problems = list(ownership.problems(m.layout))
    if not problems:
        return Finding("permissions", "OK", "owners and modes of the install are as they should be")
    shown = "; ".join(f"{p.path}: {p.what}" for p in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    fixes = list(dict.fromkeys(str(p.fix) for p in problems))[:3]
    return Finding("permissions", "FAIL", f"{len(problems)} wrong: {shown}{more}", "; ".join(fixes))


def check_memory(m: Machine) -> Finding:
    meminfo = m.read("/proc/meminfo") or ""
    match = re.search(r"^MemAvailable:\s+(\d+)\s+kB", meminfo, re.MULTILINE)
    if match is None:
        return Finding("memory", "WARN", "cannot read MemAvailable from /proc/meminfo",
                       "run doctor on the Pi itself")  # fmt: skip
    mib, t = int(match.group(1)) / 1024, m.thresholds
    fix = "run fewer plugins, or lower [workers] memory limits; check `ledhost status`"
    if mib < t.memory_fail_mib:
        return Finding("memory", "FAIL", f"{mib:.0f} MiB available", fix)
    if mib < t.memory_warn_mib:
        return Finding("memory", "WARN", f"{mib:.0f} MiB available", fix)
    return Finding("memory", "OK", f"{mib:.0f} MiB available")


def check_disk(m: Machine) -> Finding:
    data = m.config.paths.data_dir if m.config else m.layout.data_dir
    where = Path(data)
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        free = shutil.disk_usage(where).free / 2**20
    except OSError as exc:
        return Finding("disk", "WARN", f"cannot measure {where}: {exc.strerror or exc}")
    t, fix = m.thresholds, "free space on the SD card (old logs: sudo journalctl --vacuum-size=50M)"
    summary = f"{free:.0f} MiB free for {data}"
    if free < t.disk_fail_mib:
        return Finding("disk", "FAIL", summary, fix)
    if free < t.disk_warn_mib:
        return Finding("disk", "WARN", summary, fix)
    return Finding("disk", "OK", summary)


def check_service(m: Machine) -> Finding:
    result = m.run(["systemctl", "is-active", UNIT_NAME], timeout=5.0)
    if result.returncode is None:
        return Finding("service", "OK", f"no systemd here ({result.error}): not checked")
    state = (result.stdout.strip().splitlines() or ["unknown"])[0]
    if state == "active":
        return Finding("service", "OK", f"{UNIT_NAME} is active")
    if state == "failed":
        return Finding(
            "service",
            "FAIL",
            f"{UNIT_NAME} has failed",
            "see why: journalctl -u ledhost -e; then sudo systemctl restart ledhost",
        )
    if not m.layout.unit.exists():
        return Finding("service", "WARN", f"{UNIT_NAME} is not installed",
                       "install ledhost as a service (docs/pi.md)")  # fmt: skip
    return Finding("service", "WARN", f"{UNIT_NAME} is {state}",
                   "sudo systemctl enable --now ledhost")  # fmt: skip


def check_registries(m: Machine) -> Finding:
    registries = (m.config or load_config(env={})).store.registries
    if not registries:
        return Finding("registry", "OK", "no store registries configured")
    failed = []
    for url in registries:
        if not url.startswith(("http://", "https://")):
            if not Path(url.removeprefix("file://")).exists():
                failed.append(f"{url}: no such file")
            continue
        request = urllib.request.Request(url, headers={"User-Agent": "ledhost-doctor"})
        try:
            with urllib.request.urlopen(request, timeout=m.thresholds.registry_timeout) as r:
                r.read(1)
        except urllib.error.HTTPError as exc:
            failed.append(f"{url}: HTTP {exc.code}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            failed.append(f"{url}: {reason}")
    if failed:
        return Finding(
            "registry",
            "WARN",
            "unreachable: " + "; ".join(failed),
            "check the network and [store] registries (panels work without)",
        )
    return Finding(
        "registry",
        "OK",
        f"{len(registries)} registr{'y' if len(registries) == 1 else 'ies'} reachable",
    )


def _readable_by(st: os.stat_result, uid: int | None, gid: int | None) -> bool:
    if st.st_mode & stat.S_IROTH:
        return True
    return (st.st_uid == uid and bool(st.st_mode & stat.S_IRUSR)) or (
        st.st_gid == gid and bool(st.st_mode & stat.S_IRGRP)
    )


def check_mqtt_files(m: Machine) -> Finding:
    """The bridge runs as the service user (docs/mqtt.md): it must read its TLS files."""
    mqtt = m.config.mqtt if m.config else None
    files = [f for f in (mqtt.ca_file, mqtt.client_cert, mqtt.client_key) if f] if mqtt else []
    if not (mqtt and mqtt.enabled and files):
        return Finding("mqtt-files", "OK", "no MQTT TLS files to read")
    accounts = ownership.Accounts.of(m.root)
    uid, gid = accounts.uid(SERVICE_USER), accounts.gid(SERVICE_USER)
    bad = []
    for name in files:
        try:
            st = (m.root / name.lstrip("/")).stat()
        except OSError as exc:
            bad.append(f"{name} ({exc.strerror})")
            continue
        if uid is not None and not _readable_by(st, uid, gid):
            bad.append(f"{name} (not readable by {SERVICE_USER!r})")
    if not bad:
        return Finding("mqtt-files", "OK", f"the bridge can read its {len(files)} TLS file(s)")
    return Finding("mqtt-files", "WARN", "the MQTT bridge cannot read " + ", ".join(bad) +
                   ", so it runs as root or fails to connect",
                   f"chgrp {SERVICE_USER} <file>; chmod 640 <file>")  # fmt: skip


CHECKS: list[tuple[str, Callable[[Machine], Finding]]] = [
    ("config", check_config),
    ("board", check_model),
    ("binding", check_binding),
    ("sound", check_sound_module),
    ("one-wire", check_one_wire),
    ("power", check_throttling),
    ("isolcpus", check_isolcpus),
    ("permissions", check_permissions),
    ("memory", check_memory),
    ("disk", check_disk),
    ("service", check_service),
    ("registry", check_registries),
    ("mqtt-files", check_mqtt_files),
]
"""Every check, in the order ``ledhost doctor`` prints them."""


def run_checks(machine: Machine) -> list[Finding]:
    """Run every check of :data:`CHECKS`; one that raises anyway becomes a FAIL naming the
    bug, so one broken check never hides the others."""
    findings = []
    for name, check in CHECKS:
        try:
            findings.append(check(machine))
        except Exception as exc:
            findings.append(
                Finding(
                    name,
                    "FAIL",
                    f"the check itself failed: {exc!r}",
                    "report this as a ledhost bug",
                )
            )
    return findings
