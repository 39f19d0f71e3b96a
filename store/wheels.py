"""Wheel checks before anything is installed: wheels only, nothing escaping, nothing of ours.

A wheel is a zip an attacker may have written; pip installs what it lists, as root on a
Pi. :func:`inspect_wheel` refuses (:class:`~store.errors.WheelRefused`, naming the
member) anything that is not a plain, self-contained wheel:

- not a ``.whl`` (an sdist would run its build code: refused), not a real zip, a CRC
  error, more than :data:`MAX_UNPACKED` bytes once unpacked (a zip bomb);
- a member with an absolute path, a ``..`` part, a backslash, or a type other than file
  or folder (symlinks and devices could point outside the environment);
- a ``.data/`` folder other than purelib, platlib, scripts, headers, data;
- no single ``.dist-info`` with METADATA, WHEEL and RECORD;
- ``sitecustomize``/``usercustomize`` (imported by every interpreter start);
- a top-level package or module named like one of ledhost's own
  (:data:`LEDHOST_PACKAGES`) — it would replace ledhost's code in the plugin's worker —
  or a ``.pth`` file (code run by every interpreter start of the environment, also by
  the installer);
- no entry point in group ``ledhost.plugins``, or one whose name is not a valid id.

It also reads ``Requires-Dist`` (the ledhost requirement, if any, is the host-version
check: :func:`check_compatible`).
"""

from __future__ import annotations

import email.parser
import re
import stat
import zipfile
import zlib
from configparser import ConfigParser
from configparser import Error as ConfigParserError
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from config import is_valid_id
from sdk.hookspecs import ENTRY_POINT_GROUP
from store.errors import Incompatible, WheelRefused

__all__ = [
    "LEDHOST_PACKAGES",
    "MAX_UNPACKED",
    "STARTUP_MODULES",
    "WheelInfo",
    "check_compatible",
    "inspect_wheel",
    "normalise",
]

#: ledhost's own top-level packages (``[tool.setuptools.packages.find]``); a wheel may
#: never ship one of these names.
LEDHOST_PACKAGES: Final = frozenset({"host", "sdk", "config", "store", "web", "plugins_builtin"})
#: Modules Python imports by itself at start-up (site.py): code run before anything.
STARTUP_MODULES: Final = frozenset({"sitecustomize", "usercustomize"})
#: Unpacked size limit (a zip bomb is refused before pip unpacks it).
MAX_UNPACKED: Final = 1024 * 1024 * 1024
_DATA_KINDS: Final = frozenset({"purelib", "platlib", "scripts", "headers", "data"})
_SDIST: Final = re.compile(r"\.(tar\.gz|tgz|tar\.bz2|tar\.xz|zip|tar)$", re.IGNORECASE)


def normalise(name: str) -> str:
    """PEP 503 normal form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class WheelInfo:
    """What a checked wheel declares."""

    distribution: str
    version: str
    #: Its ``ledhost.plugins`` entry points: plugin id -> value.
    plugins: dict[str, str]
    #: ``Requires-Dist`` lines other than ledhost's own.
    requires: tuple[str, ...]
    #: The ledhost version specifier it declares (``Requires-Dist: ledhost ...``), or "".
    requires_ledhost: str
    #: Its top-level packages and modules.
    top_level: frozenset[str]


def _refuse(wheel: Path, why: str) -> WheelRefused:
    return WheelRefused(f"{wheel.name}: refused: {why}")


def _check_member(wheel: Path, info: zipfile.ZipInfo) -> PurePosixPath:
    name = info.filename
    if "\\" in name or "\0" in name:
        raise _refuse(wheel, f"member {name!r} has a backslash or NUL in its name")
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("/"):
        raise _refuse(wheel, f"member {name!r} has an absolute path")
    if ".." in path.parts:
        raise _refuse(wheel, f"member {name!r} escapes the environment ('..')")
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise _refuse(wheel, f"member {name!r} is a link or device, not a file")
    return path


def inspect_wheel(wheel: Path) -> WheelInfo:
    """Check ``wheel`` as described in the module docstring and say what it declares.

    :raises WheelRefused: naming the problem (and the member).
    """
    if not wheel.name.endswith(".whl"):
        kind = "an sdist (source archive)" if _SDIST.search(wheel.name) else "not a wheel"
        raise _refuse(wheel, f"{kind}; the store installs wheels (.whl) only: no build code runs")
    if not zipfile.is_zipfile(wheel):
        raise _refuse(wheel, "not a zip archive (corrupt or not a wheel)")
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = archive.infolist()
            bad = archive.testzip()
            if bad is not None:
                raise _refuse(wheel, f"member {bad!r} is corrupt (CRC error)")
            return _inspect(wheel, archive, members)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
        raise _refuse(wheel, f"corrupt archive ({exc})") from None


def _inspect(wheel: Path, archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> WheelInfo:
    if sum(m.file_size for m in members) > MAX_UNPACKED:
        raise _refuse(wheel, f"unpacks to more than {MAX_UNPACKED // 2**20} MB")
    infos: set[str] = set()
    top: set[str] = set()
    names: set[str] = set()
    for member in members:
        path = _check_member(wheel, member)
        names.add(member.filename)
        first = path.parts[0]
        if first.endswith(".dist-info"):
            infos.add(first)
            continue
        if first.endswith(".data"):
            if len(path.parts) < 2 or path.parts[1] not in _DATA_KINDS:
                raise _refuse(wheel, f"member {member.filename!r} is in an unknown .data folder")
            if path.parts[1] in ("purelib", "platlib") and len(path.parts) > 2:
                _add_top(wheel, top, PurePosixPath(*path.parts[2:]))
            continue
        _add_top(wheel, top, path)
    if len(infos) != 1:
        raise _refuse(wheel, f"expected one .dist-info folder, found {len(infos)}")
    info = infos.pop()
    for needed in ("METADATA", "WHEEL", "RECORD"):
        if f"{info}/{needed}" not in names:
            raise _refuse(wheel, f"{info}/{needed} is missing")
    startup = sorted(top & STARTUP_MODULES)
    if startup:
        raise _refuse(
            wheel, f"it ships {startup[0]!r}, which Python imports at every interpreter start"
        )
    shadowed = sorted(top & LEDHOST_PACKAGES)
    if shadowed:
        raise _refuse(
            wheel,
            f"it ships a top-level package named {', '.join(map(repr, shadowed))}, one of "
            "ledhost's own; it would replace ledhost's code",
        )
    meta = email.parser.BytesParser().parsebytes(archive.read(f"{info}/METADATA"))
    dist, version = meta.get("Name", ""), meta.get("Version", "")
    if not dist or not version:
        raise _refuse(wheel, "METADATA has no Name or Version")
    try:
        Version(version)
    except InvalidVersion:
        raise _refuse(wheel, f"version {version!r} is not a valid version") from None
    requires, host_spec = _requires(wheel, meta.get_all("Requires-Dist") or [])
    plugins = _entry_points(wheel, archive, f"{info}/entry_points.txt", names)
    return WheelInfo(dist, version, plugins, requires, host_spec, frozenset(top))


def _add_top(wheel: Path, top: set[str], path: PurePosixPath) -> None:
    name = path.parts[0]
    if len(path.parts) == 1:
        if name.endswith(".pth"):
            raise _refuse(wheel, f"it ships {name!r}: .pth files run code at interpreter start")
        name = name.split(".", 1)[0]  # a module: foo.py, foo.cpython-311-*.so
    top.add(name)


def _requires(wheel: Path, lines: list[str]) -> tuple[tuple[str, ...], str]:
    others: list[str] = []
    host_spec = ""
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            raise _refuse(wheel, f"bad Requires-Dist {line!r}: {exc}") from None
        if normalise(req.name) == "ledhost":
            host_spec = str(req.specifier)
        else:
            others.append(line)
    return tuple(others), host_spec


def _entry_points(
    wheel: Path, archive: zipfile.ZipFile, path: str, names: set[str]
) -> dict[str, str]:
    if path not in names:
        raise _refuse(wheel, f"no entry point in group {ENTRY_POINT_GROUP!r}: not a plugin")
    parser = ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(archive.read(path).decode("utf-8"))
    except (ConfigParserError, UnicodeDecodeError) as exc:
        raise _refuse(wheel, f"entry_points.txt is malformed ({exc})") from None
    if not parser.has_section(ENTRY_POINT_GROUP) or not parser.items(ENTRY_POINT_GROUP):
        raise _refuse(wheel, f"no entry point in group {ENTRY_POINT_GROUP!r}: not a plugin")
    plugins = dict(parser.items(ENTRY_POINT_GROUP))
    for name in plugins:
        if not is_valid_id(name):
            raise _refuse(
                wheel,
                f"plugin id {name!r} is invalid: ids are 1-64 of a-z, 0-9, '_', '-' "
                "starting with a letter",
            )
    return plugins


def check_compatible(what: str, spec: str, host_version: str) -> None:
    """Raise :class:`Incompatible` if ``spec`` (PEP 440) excludes ``host_version``."""
    if not spec:
        return
    try:
        allowed = SpecifierSet(spec)
    except InvalidSpecifier:
        raise Incompatible(f"{what}: bad ledhost version specifier {spec!r}") from None
    if not allowed.contains(Version(host_version), prereleases=True):
        raise Incompatible(
            f"{what} needs ledhost {spec}, and this is ledhost {host_version}; "
            "pick another version or update ledhost"
        )
