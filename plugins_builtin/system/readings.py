"""What the system mode shows, read from the Pi itself: no network traffic, no subprocess.

:func:`gather` collects one :class:`SystemInfo` snapshot. Every source is a parameter (a
path or a callable) with the real one as its default, so tests build exact snapshots from
temporary files and plain functions instead of patching sockets.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "THERMAL_PATH",
    "SystemInfo",
    "gather",
    "interface_ipv4",
    "local_addresses",
    "order_addresses",
    "parse_if_inet6",
    "read_temperature",
    "read_uptime",
    "route_address",
]

#: Where Raspberry Pi OS (and most Linux boards) expose the SoC temperature.
THERMAL_PATH = "/sys/class/thermal/thermal_zone0/temp"
UPTIME_PATH = Path("/proc/uptime")
IF_INET6_PATH = Path("/proc/net/if_inet6")
#: The kernel's TCP socket tables; a row in state 0A is a listening socket.
TCP_TABLES: tuple[Path, ...] = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_LISTEN = "0A"
#: TEST-NET-1 (RFC 5737), reserved for documentation: connecting a UDP socket to it only
#: asks the kernel which source address its route would use; no packet is sent.
_PROBE_ADDRESS = ("192.0.2.1", 9)
#: ``SIOCGIFADDR`` from ``<linux/sockios.h>``: an interface's IPv4 address.
_SIOCGIFADDR = 0x8915
#: Readings outside this range (°C) are a wrong file or a broken sensor, not a Pi.
_PLAUSIBLE = (-40.0, 150.0)


@dataclass(frozen=True)
class SystemInfo:
    """One snapshot of the Pi's state; what the mode draws, and nothing else.

    ``addresses`` holds the non-loopback addresses, the one the default route uses first,
    then other IPv4, then global IPv6. Fields that could not be read are ``None``.
    """

    hostname: str
    addresses: tuple[str, ...] = ()
    temperature: float | None = None
    uptime: float | None = None
    load: float | None = None
    #: The addresses a socket listens on at the admin page's port (``"0.0.0.0"`` and
    #: ``"::"`` for every interface); ``None`` when not checked (no port to check, or
    #: the kernel's tables could not be read).
    listening: frozenset[str] | None = None


def gather(
    *,
    thermal_path: str | Path | None = THERMAL_PATH,
    uptime_path: str | Path | None = UPTIME_PATH,
    hostname: Callable[[], str] = socket.gethostname,
    addresses: Callable[[], Sequence[str]] | None = None,
    loadavg: Callable[[], tuple[float, float, float]] | None = os.getloadavg,
    web_port: int = 0,
    tcp_tables: Sequence[str | Path] = TCP_TABLES,
) -> SystemInfo:
    """Read everything :class:`SystemInfo` holds; a source that fails is left out.

    :param thermal_path: a sysfs temperature file, ``None`` or ``""`` for none.
    :param uptime_path: ``/proc/uptime`` or a file shaped like it; ``None`` for none.
    :param hostname: returns the host name.
    :param addresses: returns the addresses in display order (default
        :func:`local_addresses`).
    :param loadavg: returns the 1, 5 and 15 minute load averages; ``None`` for none.
    :param web_port: the admin page's port: who listens on it is read from ``tcp_tables``
        (0: not checked).
    """
    try:
        name = hostname().strip() or "?"
    except OSError:
        name = "?"
    try:
        found = tuple(addresses() if addresses is not None else local_addresses())
    except OSError:
        found = ()
    load: float | None = None
    if loadavg is not None:
        try:
            load = float(loadavg()[0])
        except (OSError, IndexError, ValueError):
            load = None
    return SystemInfo(
        hostname=name,
        addresses=found,
        temperature=read_temperature(thermal_path),
        uptime=read_uptime(uptime_path),
        load=load,
        listening=listening_on(web_port, tcp_tables) if web_port else None,
    )


def _hex_address(text: str) -> str:
    """``0100007F`` (IPv4) or 32 hex digits (IPv6), as the kernel writes them: 32-bit
    words in host byte order."""
    raw = bytes.fromhex(text)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if socket.htonl(1) == 1:  # a big-endian machine writes them in network order
        words = raw
    return str(ipaddress.ip_address(words))


def listening_on(port: int, tables: Sequence[str | Path] = TCP_TABLES) -> frozenset[str] | None:
    """The local addresses with a socket listening on TCP ``port`` (``0.0.0.0``/``::``:
    every interface), from the kernel's tables; ``None`` if no table could be read.

    Why read tables instead of connecting: the plugin must not open connections of its
    own to the Pi's services, and a page that only listens on 127.0.0.1 must not be
    advertised to the room.
    """
    found: set[str] = set()
    read_any = False
    for table in tables:
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        read_any = True
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != _LISTEN:
                continue
            address, _, hex_port = fields[1].partition(":")
            try:
                if int(hex_port, 16) == port:
                    found.add(_hex_address(address))
            except ValueError:
                continue
    return frozenset(found) if read_any else None


def read_temperature(path: str | Path | None) -> float | None:
    """The temperature in °C from a sysfs thermal file, or ``None`` when there is none.

    sysfs writes millidegrees (``48312`` is 48.3 °C). A small number is taken as degrees
    already, for sensors exposed by other means; anything unreadable, not a number or
    outside -40..150 °C is ``None``, so a wrong path shows no temperature, not a wrong one.
    """
    if not path:
        return None
    try:
        raw = Path(path).read_text(encoding="ascii", errors="replace").strip()
        value = float(raw)
    except (OSError, ValueError):
        return None
    if abs(value) > 1000:
        value /= 1000
    low, high = _PLAUSIBLE
    return value if low <= value <= high else None


def read_uptime(path: str | Path | None) -> float | None:
    """Seconds since boot from ``/proc/uptime`` (its first number), or ``None``."""
    if not path:
        return None
    try:
        value = float(Path(path).read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return value if value >= 0 else None


def local_addresses() -> list[str]:
    """This machine's non-loopback addresses, the most useful first.

    Local sources only: the source address of the default route (:func:`route_address`),
    every interface's IPv4 address (:func:`interface_ipv4`) and the global IPv6 addresses
    in ``/proc/net/if_inet6``. With no network at all the list is empty.
    """
    ipv6: list[str] = []
    try:
        ipv6 = parse_if_inet6(IF_INET6_PATH.read_text(encoding="ascii"))
    except OSError:
        pass
    return order_addresses([*interface_ipv4(), *ipv6], primary=route_address())


def route_address() -> str | None:
    """The IPv4 address the default route would send from, or ``None`` without a route.

    ``connect`` on a UDP socket sends nothing; it only binds the socket to the source
    address the kernel would pick. It fails with "network unreachable" when there is no
    route, which is exactly the "no network" case.
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(_PROBE_ADDRESS)
            address = str(probe.getsockname()[0])
    except OSError:
        return None
    return None if address in ("0.0.0.0", "") else address


def interface_ipv4() -> list[str]:
    """The IPv4 address of every network interface that has one (Linux ``ioctl``).

    Other systems, and interfaces without an address, give nothing.
    """
    try:
        import fcntl
    except ImportError:
        return []
    found: list[str] = []
    try:
        interfaces = socket.if_nameindex()
    except OSError:
        return []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _index, name in interfaces:
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, request)
            except OSError:
                continue
            found.append(socket.inet_ntoa(answer[20:24]))
    return found


def parse_if_inet6(text: str) -> list[str]:
    """The global, stable IPv6 addresses in the text of ``/proc/net/if_inet6``.

    Each line is ``address ifindex prefixlen scope flags name`` in hex. Link-local and
    host scopes are left out (a URL with them needs a zone), and so are temporary
    (privacy) and deprecated addresses, which change by the hour.
    """
    found: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 6 or len(fields[0]) != 32:
            continue
        try:
            value = int(fields[0], 16)
            scope, flags = int(fields[3], 16), int(fields[4], 16)
        except ValueError:
            continue
        if scope != 0 or flags & (0x01 | 0x20):  # IFA_F_TEMPORARY, IFA_F_DEPRECATED
            continue
        found.append(ipaddress.IPv6Address(value).compressed)
    return found


def order_addresses(candidates: Iterable[str], *, primary: str | None = None) -> list[str]:
    """Drop loopback and duplicates; ``primary`` first, then IPv4 (link-local last), then
    IPv6."""

    def rank(text: str) -> tuple[int, int]:
        address = ipaddress.ip_address(text)
        if text == primary:
            return (0, 0)
        if address.version == 4:
            return (1, int(address.is_link_local))
        return (2, int(address.is_link_local))

    seen: dict[str, None] = {}
    for text in [primary, *candidates] if primary else candidates:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if address.is_loopback or address.is_unspecified:
            continue
        seen.setdefault(address.compressed, None)
    return sorted(seen, key=rank)
