"""Does ledhost's own environment still hold what ledhost needs? Checked at every start.

Plain ``pip install`` of a plugin into ledhost's environment can break ledhost itself,
and did (issue 16): a wheel requiring ``Pillow<9`` made pip downgrade Pillow, after which
every plugin, the builtins too, failed while ``ledhost run`` exited 0; a wheel shipping a
top-level ``config`` package made every command die with an ImportError. This module
finds both, names the distribution to blame and says what to do, before anything fails
in a less telling way:

- :func:`check_requirements`: each of ledhost's ``Requires-Dist`` (with the extras asked
  for) is installed in a version it accepts; when not, the other distributions whose own
  requirements pin the offending version are named.
- :func:`check_names`: no other distribution ships one of ledhost's top-level packages
  (``top_level.txt``, else ``RECORD``), and no folder on ``sys.path`` without an owner
  would be found before ours.
- :func:`check`: both, what the CLI calls (``ledhost run``, ``ledhost config check`` and,
  when an import of ours fails, the ``ledhost`` entry point itself).

Interface for the rest of the store: :class:`Problem` (``kind``, ``message``, ``fix``;
``str()`` is the one line to print), the three functions above, :func:`default_cache`,
and :func:`own_packages` (the names a wheel must not ship). It imports nothing of ours
(it must work when our own ``config`` is the broken part) and nothing but the standard
library and ``packaging`` (imported when first needed: when ``packaging`` itself is what
a plugin broke, :func:`check_requirements` says so instead of failing).

Cost, measured on the test environment (55 distributions, an editable ledhost, a
2-core x86 machine): 20-26 ms for a first :func:`check` in a fresh process when idle,
90-120 ms under load; 8 ms when repeated. A Pi is several times slower, and ``run``
starts on every boot, so :func:`check` takes a ``cache``: an environment that passed
and whose ``sys.path`` folders have not changed since passes again for a few ``stat``
calls (well under a millisecond). The scans of every distribution's requirements happen
only to explain a problem found.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.metadata
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

#: The distribution whose requirements and packages are checked.
LEDHOST: Final = "ledhost"
#: A version above any real release: a requirement that excludes it caps the versions.
_HIGH: Final = "999999"
#: How plugins should be installed instead (``ledhost install``, see docs/store.md).
INSTALL_HINT: Final = (
    "install plugins with `ledhost install`, which keeps each one in an environment of its own"
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with ledhost's environment, and how to put it right."""

    #: ``"requirement"`` (a requirement not met), ``"missing"`` (not installed at all),
    #: ``"shadow"`` (another package has one of our names) or ``"metadata"``.
    kind: str
    #: What is wrong, naming the distributions involved.
    message: str
    #: What to run or do about it.
    fix: str

    def __str__(self) -> str:
        return f"{self.message}; to fix: {self.fix}"

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message, "fix": self.fix}


def check(
    extras: Sequence[str] = (), own_root: str | None = None, cache: Path | None = None
) -> list[Problem]:
    """Every problem :func:`check_names` and :func:`check_requirements` find, in that order.

    :param cache: a file remembering that this environment passed: while no folder on
        ``sys.path`` has changed since (pip adds or removes a ``.dist-info`` folder for
        every install, upgrade or removal, which changes its folder's mtime), it passes
        again without a look. ``importlib.metadata`` itself keys its listing of a folder
        on that mtime, so the cache misses nothing ``importlib.metadata`` would see.
        Problems are never cached: they are found afresh each time.
    """
    key = _environment_key(extras, own_root) if cache is not None else ""
    if cache is not None and _read_text(cache) == key:
        return []
    problems = [*check_names(own_root=own_root), *check_requirements(extras=extras)]
    if cache is not None and not problems:
        _write_text(cache, key)
    return problems


def default_cache() -> Path:
    """Where the ``ledhost`` command keeps :func:`check`'s cache (the XDG cache folder):
    a file per environment (interpreter and ledhost's folder), so two environments run
    in turn by one user (a release and the next, two checkouts) do not each find the
    other's key and check in full at every start."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    which = hashlib.sha256(f"{sys.executable}\0{_own_root()}".encode()).hexdigest()[:16]
    return Path(base) / "ledhost" / f"selfcheck-{which}"


def _environment_key(extras: Sequence[str], own_root: str | None) -> str:
    """What the result depends on: the interpreter, the extras, every path folder's mtime."""
    parts = [sys.executable, ",".join(sorted(extras)), own_root or _own_root()]
    for entry in sys.path:
        try:
            parts.append(f"{entry}:{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            parts.append(f"{entry}:-")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def _write_text(path: Path, text: str) -> None:
    """Best effort, atomic (a cache that cannot be written only costs the next check)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as tmp:
            tmp.write(text)
        os.replace(tmp.name, path)
    except OSError:
        pass


def check_requirements(extras: Sequence[str] = (), dist_name: str = LEDHOST) -> list[Problem]:
    """Each requirement of ``dist_name`` (for ``extras`` too) is met by what is installed.

    :param extras: the extras ledhost runs with (``emulator``…); their requirements count.
    :returns: one :class:`Problem` per requirement missing or in a version it refuses.
    """
    pip = _pip()
    try:
        from packaging.requirements import InvalidRequirement, Requirement
        from packaging.utils import canonicalize_name
    except Exception as exc:  # noqa: BLE001 - a broken packaging is what we report
        return [
            Problem(
                "requirement",
                f"the library `packaging`, which ledhost requires, cannot be imported "
                f"({type(exc).__name__}: {exc})",
                f"{pip} install --force-reinstall 'packaging>=23'; {INSTALL_HINT}",
            )
        ]
    try:
        own = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        return [
            Problem(
                "metadata",
                f"no {dist_name} distribution is installed in this environment "
                f"({sys.prefix}), so its requirements cannot be checked",
                f"{pip} install {dist_name}",
            )
        ]
    problems: list[Problem] = []
    wanted_extras = [*extras, ""]
    for raw in own.requires or ():
        try:
            req = Requirement(raw)
        except InvalidRequirement:
            continue  # our own metadata: never malformed short of a corrupt install
        if req.marker is not None and not any(
            req.marker.evaluate({"extra": extra}) for extra in wanted_extras
        ):
            continue
        spec = str(req.specifier)
        quoted = f"'{req.name}{spec}'"
        try:
            installed = importlib.metadata.distribution(req.name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(
                Problem(
                    "missing",
                    f"{req.name}, which {dist_name} requires ({req.name}{spec}), is not installed",
                    f"{pip} install {quoted}",
                )
            )
            continue
        version = installed.version
        if not req.specifier or _contains(req.specifier, version):
            continue
        blamed = _blame(req, version, canonicalize_name(req.name), dist_name, canonicalize_name)
        name = installed.metadata["Name"] or req.name
        if blamed:
            by = ", ".join(f"{d} (which requires {r})" for d, r in blamed)
            message = (
                f"{name} {version}, installed for {by}, does not satisfy "
                f"{dist_name}'s requirement {req.name}{spec}"
            )
            culprits = " ".join(d.split(" ")[0] for d, _ in blamed)
            fix = f"{pip} uninstall {culprits}; {pip} install --force-reinstall {quoted}"
        else:
            message = (
                f"{name} {version} does not satisfy {dist_name}'s requirement "
                f"{req.name}{spec} (no installed distribution asks for that version)"
            )
            fix = f"{pip} install --force-reinstall {quoted}"
        problems.append(Problem("requirement", message, f"{fix}; {INSTALL_HINT}"))
    return problems


def _blame(
    req: Requirement,
    version: str,
    canonical: str,
    own_name: str,
    canonicalize: Callable[[str], str],
) -> list[tuple[str, str]]:
    """The distributions whose requirements pin ``version`` of ``req``'s project.

    A distribution is to blame when its own requirement on that project accepts the
    installed version but none of the versions ledhost's requirement names or allows
    (``Pillow<9`` against ``Pillow>=10.4``); one that accepts ``Pillow>=7`` is not.

    :returns: ``[("name version", "its requirement")]``.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    ours = [v for v in (*_versions_named(str(req.specifier)), _HIGH) if _contains(req.specifier, v)]
    blamed: list[tuple[str, str]] = []
    skip = {canonical, canonicalize(own_name)}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] or ""
        if canonicalize(name) in skip:
            continue
        for raw in dist.requires or ():
            try:
                theirs = Requirement(raw)
            except InvalidRequirement:
                continue
            if canonicalize(theirs.name) != canonical or not theirs.specifier:
                continue
            if theirs.marker is not None and not theirs.marker.evaluate({"extra": ""}):
                continue
            spec = theirs.specifier
            if _contains(spec, version) and not any(_contains(spec, v) for v in ours):
                blamed.append((f"{name} {dist.version}", f"{theirs.name}{spec}"))
    return blamed


def _versions_named(specifier: str) -> list[str]:
    """The versions a specifier mentions (``>=10.4,<12`` → ``10.4``, ``12``; ``==1.*``
    names none: ``1.`` is no version)."""
    from packaging.version import InvalidVersion, Version

    named = []
    for text in re.findall(r"[0-9][0-9A-Za-z.+!-]*", specifier):
        try:
            Version(text)
        except InvalidVersion:
            continue
        named.append(text)
    return named


def _contains(specifier: SpecifierSet, version: str) -> bool:
    """Whether ``version`` satisfies ``specifier``; a version packaging cannot parse (a
    legacy ``1.0-beta_x``) satisfies none."""
    from packaging.version import InvalidVersion

    try:
        return specifier.contains(version, prereleases=True)
    except InvalidVersion:
        return False


def check_names(
    own_root: str | None = None, search_path: Sequence[str] | None = None
) -> list[Problem]:
    """No other package has the name of one of ledhost's top-level packages.

    Two ways it happens: a distribution ships one (its files beside ours, or, when
    ledhost is not installed editable, over ours in the same folder), or a bare folder of
    that name sits on ``sys.path`` before ledhost's.

    :param own_root: the folder holding ledhost's packages (this module's package's).
    :param search_path: what to look along (``sys.path``).
    """
    root = os.path.realpath(own_root or _own_root())
    path = list(sys.path if search_path is None else search_path)
    names = own_packages(root)
    pip = _pip()
    problems: list[Problem] = []
    reported: set[str] = set()
    owners = _owners(names, path)
    for name in names:
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        first = _spec_dir(spec) if spec is not None else None
        for dist_name, version, location in owners.get(name, []):
            where = os.path.join(location, name)
            over_ours = os.path.realpath(location) == root
            if over_ours:
                how = f"installed files into ledhost's own package `{name}` ({where})"
            elif first is not None and os.path.realpath(first) == os.path.realpath(where):
                how = f"ships a top-level package `{name}` ({where}) found before ledhost's own"
            else:
                how = f"ships a top-level package `{name}` ({where}), a name ledhost uses"
            reinstall = (
                f"; {pip} install --force-reinstall --no-deps {LEDHOST}" if over_ours else ""
            )
            problems.append(
                Problem(
                    "shadow",
                    f"{dist_name} {version} {how}",
                    f"{pip} uninstall {dist_name}{reinstall}; {INSTALL_HINT} (it refuses "
                    "a plugin that ships one of ledhost's package names)",
                )
            )
            reported.add(os.path.realpath(where))
        if first is None or os.path.dirname(os.path.realpath(first)) == root:
            continue
        if os.path.realpath(first) not in reported:
            problems.append(
                Problem(
                    "shadow",
                    f"{first} is found before ledhost's own package `{name}` and no "
                    "installed distribution owns it",
                    f"remove {first}; {INSTALL_HINT}",
                )
            )
    return problems


def _owners(names: Iterable[str], path: list[str]) -> dict[str, list[tuple[str, str, str]]]:
    """``{our name: [(distribution, version, folder)]}`` for every other distribution.

    ``top_level.txt`` where the distribution has one (setuptools writes it), else the
    first part of each path in its ``RECORD``.
    """
    wanted = set(names)
    found: dict[str, list[tuple[str, str, str]]] = {}
    seen: set[tuple[str, str, str]] = set()
    for dist in importlib.metadata.distributions(path=path):
        tops = _top_levels(dist) & wanted
        if not tops:
            continue  # the name only now: reading it parses the whole METADATA file
        name = dist.metadata["Name"] or "?"
        key = _canonical(name)
        if key == LEDHOST:
            continue
        location = os.path.abspath(str(dist.locate_file("")))
        for top in sorted(tops):
            if (top, location, key) in seen:
                continue
            seen.add((top, location, key))
            found.setdefault(top, []).append((name, dist.version, location))
    return found


def _top_levels(dist: importlib.metadata.Distribution) -> set[str]:
    text = dist.read_text("top_level.txt")
    if text is not None:
        return {line.strip() for line in text.splitlines() if line.strip()}
    record = dist.read_text("RECORD") or ""
    tops: set[str] = set()
    for line in record.splitlines():
        first = line.split(",", 1)[0].split("/", 1)[0]
        if first and not first.endswith((".dist-info", ".data")) and first != "..":
            tops.add(first.removesuffix(".py"))
    return tops


def own_packages(root: str | None = None) -> list[str]:
    """ledhost's top-level package names: its ``top_level.txt``, else the packages at
    ``root`` (ledhost's folder). What an install must refuse to let a wheel ship."""
    root = root or _own_root()
    try:
        text = importlib.metadata.distribution(LEDHOST).read_text("top_level.txt")
    except importlib.metadata.PackageNotFoundError:
        text = None
    if text:
        return sorted({line.strip() for line in text.splitlines() if line.strip()})
    return sorted(
        entry
        for entry in os.listdir(root)
        if os.path.isfile(os.path.join(root, entry, "__init__.py"))
    )


def _spec_dir(spec: importlib.machinery.ModuleSpec) -> str | None:
    if spec.submodule_search_locations:
        return str(next(iter(spec.submodule_search_locations)))
    return spec.origin if spec.origin not in (None, "built-in", "frozen") else None


def _own_root() -> str:
    """The folder holding ledhost's packages: the one this package (``store``) is in."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip() -> str:
    """The pip command that acts on this environment (not whatever ``pip`` is first)."""
    return f"{sys.executable} -m pip"
