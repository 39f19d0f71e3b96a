"""The system builtin: local readings, the URL, paging, and frames at every panel size.

Snapshots are made-up :class:`SystemInfo` values handed to the plugin with
``system.show``; the readers are tested on temporary files and plain functions. Regenerate
the golden images after an intended change of the look with
``LEDHOST_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_plugin_system.py`` and
review them (``tests/golden/system/``).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from host.cli.probe import render_mode
from host.discovery import PluginSpec
from host.supervise.rules import WorkerRules
from plugins_builtin import system
from plugins_builtin.system import pages, readings
from plugins_builtin.system.readings import SystemInfo
from sdk import Canvas, PluginConfigError
from sdk.testing import PluginRunner, default_config
from tests.golden import PANEL_SIZES, assert_golden, size_id

T = 1_700_000_000.0
GREEN = (64, 255, 64)

NORMAL = SystemInfo("ledpi", ("192.168.178.123",), 48.3, 3 * 86400 + 4 * 3600 + 120, 0.15)
BUSY = SystemInfo(
    "raspberrypi-kitchen",
    ("192.168.178.123", "10.8.0.2", "2001:db8:1234::42"),
    78.0,
    4000.0,
    2.5,
)
OFFLINE = SystemInfo("ledpi", (), 61.0, 300.0, 0.1)


def lit(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(pixels.any(axis=2))


def colours(pixels: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(c) for c in px) for px in pixels.reshape(-1, 3)}


def config(**overrides: Any) -> dict[str, Any]:
    """The plugin's config as on a sign whose admin UI listens on 8080, unless overridden."""
    return default_config(system.CONFIG_SCHEMA, {"web_port": 8080, **overrides})


def page_texts(info: SystemInfo, size: tuple[int, int], **overrides: Any) -> list[list[str]]:
    found = pages.paginate(info, config(**overrides), *size)
    return [["".join(run.text for run in row) for row in page.rows] for page in found]


# --- readings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("48312\n", 48.312),  # sysfs: millidegrees
        ("-5000", -5.0),
        ("48", 48.0),  # already degrees
        ("47.5", 47.5),
        ("", None),
        ("garbage\n", None),
        ("\x00\xff", None),
        ("999999", None),  # 999.999 °C: not a Pi
        ("-273150", None),
    ],
)
def test_system_temperature_parsing(tmp_path: Path, content: str, expected: float | None) -> None:
    path = tmp_path / "temp"
    path.write_text(content, encoding="latin-1")
    assert readings.read_temperature(path) == (
        None if expected is None else pytest.approx(expected)
    )


def test_system_temperature_missing_or_unset_is_none(tmp_path: Path) -> None:
    assert readings.read_temperature(tmp_path / "absent") is None
    assert readings.read_temperature(tmp_path) is None  # a directory
    assert readings.read_temperature("") is None
    assert readings.read_temperature(None) is None


def test_system_uptime_parsing(tmp_path: Path) -> None:
    path = tmp_path / "uptime"
    path.write_text("350735.47 234388.90\n")
    assert readings.read_uptime(path) == 350735.47
    path.write_text("nonsense")
    assert readings.read_uptime(path) is None
    assert readings.read_uptime(tmp_path / "absent") is None


IF_INET6 = """\
00000000000000000000000000000001 01 80 10 80       lo
fe8000000000000000fc00fffe000001 04 40 20 80     eth0
fd000000000000000000000000000002 04 40 00 80     eth0
20010db8000000000000000000000042 04 40 00 80     eth0
20010db80000000012345678abcdef01 04 40 00 01     eth0
20010db80000000000000000000000aa 04 40 00 a0     eth0
not a line
"""


def test_system_ipv6_addresses_are_global_and_stable() -> None:
    assert readings.parse_if_inet6(IF_INET6) == ["fd00::2", "2001:db8::42"]


def test_system_addresses_order_the_route_source_first_then_ipv4_then_ipv6() -> None:
    candidates = ["127.0.0.1", "fd00::2", "169.254.3.4", "172.17.0.1", "192.168.1.5", "::1"]
    assert readings.order_addresses(candidates, primary="192.168.1.5") == [
        "192.168.1.5",
        "172.17.0.1",
        "169.254.3.4",
        "fd00::2",
    ]
    assert readings.order_addresses(["127.0.0.1", "::1"], primary=None) == []


def test_system_local_addresses_are_real_and_never_loopback() -> None:
    """This machine's own answer: whatever it is, no loopback and IPv4 before IPv6."""
    found = readings.local_addresses()
    versions = [ipaddress.ip_address(a).version for a in found]
    assert versions == sorted(versions)
    assert not any(ipaddress.ip_address(a).is_loopback for a in found)


def test_system_gather_takes_every_source_as_a_parameter(tmp_path: Path) -> None:
    (tmp_path / "temp").write_text("51234\n")
    (tmp_path / "uptime").write_text("4000.5 100.0\n")
    info = readings.gather(
        thermal_path=tmp_path / "temp",
        uptime_path=tmp_path / "uptime",
        hostname=lambda: "ledpi\n",
        addresses=lambda: ["10.0.0.7"],
        loadavg=lambda: (0.5, 0.25, 0.125),
    )
    assert info == SystemInfo("ledpi", ("10.0.0.7",), 51.234, 4000.5, 0.5)


def test_system_gather_with_every_source_failing_still_gives_a_snapshot(tmp_path: Path) -> None:
    def broken() -> Any:
        raise OSError("no")

    info = readings.gather(
        thermal_path=tmp_path / "absent",
        uptime_path=None,
        hostname=broken,
        addresses=broken,
        loadavg=broken,
    )
    assert info == SystemInfo("?", (), None, None, None)


# --- what is shown -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addresses", "overrides", "expected"),
    [
        (("192.168.1.5", "fd00::2"), {}, "http://192.168.1.5:8080/"),
        (("fd00::2",), {"web_port": 80}, "http://[fd00::2]:80/"),
        (("192.168.1.5",), {"web_url": "https://ledpi.local/"}, "https://ledpi.local/"),
        ((), {"web_url": "https://ledpi.local/"}, "https://ledpi.local/"),
        ((), {}, None),
        (("192.168.1.5",), {"web_port": 0}, None),
    ],
)
def test_system_web_url(
    addresses: tuple[str, ...], overrides: dict[str, Any], expected: str | None
) -> None:
    info = SystemInfo("ledpi", addresses)
    assert pages.web_url(info, config(**overrides)) == expected


@pytest.mark.parametrize(
    ("celsius", "expected"),
    [(20.0, GREEN), (59.9, GREEN), (60.0, pages.AMBER), (74.9, pages.AMBER), (75.0, (255, 48, 48))],
)
def test_system_temperature_colour(celsius: float, expected: tuple[int, int, int]) -> None:
    assert pages.temperature_color(celsius, config()) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(59, "up 0m"), (61, "up 1m"), (3 * 3600 + 61, "up 3h 1m"), (2 * 86400 + 7200, "up 2d 2h")],
)
def test_system_uptime_text(seconds: float, expected: str) -> None:
    assert pages.uptime_text(seconds) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://192.168.178.123:8080/", ["http://", "192.168.178.123", ":8080/"]),
        ("http://[fd00::2]:8080/", ["http://", "[fd00::2]", ":8080/"]),
        ("https://ledpi.local/admin/", ["https://", "ledpi.local", "/admin/"]),
    ],
)
def test_system_url_wraps_only_between_its_parts(url: str, expected: list[str]) -> None:
    assert pages.url_pieces(url) == expected


def test_system_at_64x32_the_url_is_paged_in_whole_parts() -> None:
    assert page_texts(NORMAL, (64, 32)) == [
        ["ledpi", "http://", "192.168.178.123", ":8080/", "48°C  up 3d 4h"]
    ]
    busy = page_texts(BUSY, (64, 32), show_load=True)
    assert busy == [
        ["raspberrypi-", "kitchen", "http://", "192.168.178.123", ":8080/"],
        ["IP 10.8.0.2", "IP 2001:db8:", "1234::42", "78°C  up 1h 6m", "load 2.50"],
    ]


def test_system_at_256x64_everything_is_shown_at_once_in_a_big_font() -> None:
    (page,) = pages.paginate(BUSY, config(show_load=True), 256, 64)
    assert page.font.name == "medium"
    (page,) = pages.paginate(NORMAL, config(), 256, 64)
    assert page.font.name == "large"
    assert [r[0].text for r in page.rows] == ["ledpi", "http://", "48°C"]


@pytest.mark.parametrize(
    ("listening", "url"),
    [
        (frozenset(), None),  # nothing listens on 8080: no page to point at
        (frozenset({"127.0.0.1"}), None),  # the Pi alone can reach it
        (frozenset({"0.0.0.0"}), "http://192.168.178.123:8080/"),
        (frozenset({"10.8.0.2"}), "http://10.8.0.2:8080/"),  # bound to one address
        (frozenset({"::"}), "http://192.168.178.123:8080/"),
        (None, "http://192.168.178.123:8080/"),  # not checked (no kernel tables)
    ],
)
def test_system_advertises_the_page_only_while_it_listens_for_the_room(
    listening: frozenset[str] | None, url: str | None
) -> None:
    """The embedded default (web_port 8080, [web] port's default): the URL shows only
    while something listens there for the network; else the addresses are listed."""
    info = SystemInfo(BUSY.hostname, BUSY.addresses, BUSY.temperature, BUSY.uptime,
                      listening=listening)  # fmt: skip
    defaults = default_config(system.CONFIG_SCHEMA, {})
    assert defaults["web_port"] == 8080
    assert pages.web_url(info, defaults) == url
    flat = [
        "".join(run.text for run in row)
        for page in pages.paginate(info, defaults, 128, 64)
        for row in page.rows
    ]
    if url is None:
        assert not any("http" in line for line in flat), flat
        assert "IP 192.168.178.123" in flat and "IP 10.8.0.2" in flat


_TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid
   0: 0100007F:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0
   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0
"""
_TCP6 = """  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A
   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A
"""


def test_listening_is_read_from_the_kernel_tables(tmp_path: Path) -> None:
    tcp, tcp6 = tmp_path / "tcp", tmp_path / "tcp6"
    tcp.write_text(_TCP)
    tcp6.write_text(_TCP6)
    tables = (tcp, tcp6)
    # 8080 = 0x1F90: every IPv4 interface, and ::1; the connected row is not listening.
    assert readings.listening_on(8080, tables) == {"0.0.0.0", "::1"}
    assert readings.listening_on(9000, tables) == {"127.0.0.1"}
    assert readings.listening_on(8081, tables) == {"::"}
    assert readings.listening_on(1234, tables) == frozenset()
    assert readings.listening_on(8080, (tmp_path / "none",)) is None


def test_listening_on_this_machine() -> None:
    """The real tables: a socket listening on 127.0.0.1 is seen there, and only there."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert readings.listening_on(port) == {"127.0.0.1"}
    assert readings.listening_on(port) == frozenset()


def test_system_without_network_says_so_and_keeps_the_rest() -> None:
    assert page_texts(OFFLINE, (64, 32)) == [["ledpi", "no network", "61°C  up 5m"]]


def test_system_without_temperature_or_uptime_leaves_them_out() -> None:
    info = SystemInfo("ledpi", ("10.0.0.7",))
    assert page_texts(info, (128, 32)) == [["ledpi", "http://10.0.0.7:8080/"]]
    assert page_texts(NORMAL, (128, 32), show_uptime=False)[0][-1] == "48°C"


@pytest.mark.parametrize("size", [*PANEL_SIZES, (32, 16), (64, 12)], ids=size_id)
@pytest.mark.parametrize("info", [NORMAL, BUSY, OFFLINE], ids=["normal", "busy", "offline"])
def test_system_pages_never_cut_a_glyph(info: SystemInfo, size: tuple[int, int]) -> None:
    width, height = size
    for page in pages.paginate(info, config(show_load=True), width, height):
        assert len(page.rows) * page.font.height <= max(height, page.font.height)
        for row in page.rows:
            assert sum(page.font.measure(run.text)[0] for run in row) <= width, row


# --- the hooks ---------------------------------------------------------------------------


def test_system_shows_a_first_snapshot_right_after_setup(tmp_path: Path) -> None:
    (tmp_path / "temp").write_text("48312\n")
    with PluginRunner(system, size=(128, 64), config={"thermal_path": str(tmp_path / "temp")}) as r:
        assert r.has_content("info")
        frame = r.render_frame("info", now=T, frame=0)
        assert GREEN in colours(frame.pixels)


def test_system_refresh_redraws_only_when_something_changed(tmp_path: Path) -> None:
    temp = tmp_path / "temp"
    temp.write_text("48312\n")
    cfg = {"thermal_path": str(temp), "show_uptime": False, "refresh_interval": 45}
    with PluginRunner(system, config=cfg) as runner:
        redraws = len(runner.requests.redraws)
        assert runner.refresh() == 45.0
        assert len(runner.requests.redraws) == redraws
        temp.write_text("81000\n")
        runner.refresh()
        assert runner.requests.redraws[redraws:] == ["info"]


def test_system_pages_take_turns_through_render_frame_delays() -> None:
    with PluginRunner(system, size=(64, 32), config={"show_load": True}) as runner:
        system.show(runner.context, BUSY)
        first = runner.render_frame("info", now=T, frame=0)
        assert first.delay == pytest.approx(5.0, abs=0.01)
        assert runner.requests.more_time == [("info", 10.0)]
        assert first.delay is not None
        second = runner.render_frame("info", now=T + first.delay, frame=1)
        third = runner.render_frame("info", now=T + 2 * first.delay, frame=2)
    assert not np.array_equal(first.pixels, second.pixels)
    assert np.array_equal(first.pixels, third.pixels)
    assert (255, 48, 48) in colours(second.pixels)  # 78 °C is hot


def test_system_one_page_is_a_still_frame() -> None:
    with PluginRunner(system, size=(256, 64)) as runner:
        system.show(runner.context, NORMAL)
        assert runner.render_frame("info", now=T, frame=0).delay is None


def test_system_warm_above_hot_is_a_config_error() -> None:
    runner = PluginRunner(system, config={"warm_at": 80, "hot_at": 70})
    with pytest.raises(PluginConfigError, match=r"^warm_at \(80\) must be below hot_at \(70\)"):
        runner.start()
    runner.close()
    with pytest.raises(ValueError, match="web_url"):
        PluginRunner(system, config={"web_url": "ledpi.local"})


# --- golden images -----------------------------------------------------------------------


def render_pages(info: SystemInfo, size: tuple[int, int], **overrides: Any) -> np.ndarray:
    """Every page of ``info``, stacked top to bottom with a grey line between."""
    rows: list[np.ndarray] = []
    for page in pages.paginate(info, config(**overrides), *size):
        canvas = Canvas(*size)
        pages.draw_page(canvas, page)
        if rows:
            rows.append(np.full((1, size[0], 3), 60, dtype=np.uint8))
        rows.append(canvas.to_array())
    return np.concatenate(rows)


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
@pytest.mark.parametrize(
    ("variant", "info", "overrides"),
    [
        ("normal", NORMAL, {}),
        ("busy", BUSY, {"show_load": True}),
        ("offline", OFFLINE, {}),
    ],
    ids=["normal", "busy", "offline"],
)
def test_system_golden(
    variant: str, info: SystemInfo, overrides: dict[str, Any], size: tuple[int, int]
) -> None:
    assert_golden(f"system/{variant}_{size_id(size)}", render_pages(info, size, **overrides))


def test_system_render_frame_draws_the_golden_page() -> None:
    with PluginRunner(system, size=(128, 64), config={"web_port": 8080}) as runner:
        system.show(runner.context, NORMAL)
        frame = runner.render_frame("info", now=T, frame=0)
    assert np.array_equal(frame.pixels, render_pages(NORMAL, (128, 64)))


# --- through a real worker ---------------------------------------------------------------


def test_system_renders_through_a_real_worker(
    test_specs: dict[str, PluginSpec], tmp_path: Path
) -> None:
    import socket

    temp = tmp_path / "temp"
    temp.write_text("48312\n")
    # The admin page "listens" on 127.0.0.1 only: the worker reads the kernel's tables and
    # does not advertise a page the room cannot reach.
    page = socket.socket()
    page.bind(("127.0.0.1", 0))
    page.listen()
    with page:
        frames, _ = render_mode(
            test_specs["system"],
            "info",
            width=128,
            height=64,
            frames=1,
            options={"thermal_path": str(temp), "web_port": page.getsockname()[1]},
            data_dir=tmp_path / "data",
            rules=WorkerRules(uid=None),
        )
    (frame,) = frames
    found = colours(frame)
    assert {(0, 0, 0), (255, 255, 255), GREEN} <= found  # host name, 48 °C
    # No URL is advertised: with an address, "IP" lines; without, "no network" in amber.
    assert pages.CYAN not in found
    if not readings.local_addresses():
        assert pages.AMBER in found
