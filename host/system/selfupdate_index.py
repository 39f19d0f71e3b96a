"""Which ledhost versions the package index offers: one request, cached, with a timeout.

The index is a PEP 503 "simple" repository (PyPI's ``https://pypi.org/simple``, a
``devpi`` or a folder served over HTTP): ``<index>/ledhost/`` lists the files, as JSON
(PEP 691, asked for first) or as HTML links. Versions come from the file names (wheels
and sdists, parsed by ``packaging``), yanked files left out, pre-releases too unless
asked for.

The admin page asks often (each visit of the system page); a Pi may be offline. So the
answer is cached in ``<data_dir>/state/update-check.json`` for :data:`CACHE_SECONDS`
(written only when a fetch happened: a few times a day at most), and when the index
cannot be reached the last answer is returned with ``stale`` and the error (``offline:
...`` when no connection could be made), or, with none, ``newest: None`` and the error:
"offline" is an answer, never an exception.

Interface: :func:`newest_version` (cached), :func:`fetch_versions` (one request).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Final

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from config.atomic import atomic_write, make_dirs

#: The distribution self-update installs.
DIST: Final = "ledhost"
#: Seconds an index answer is reused.
CACHE_SECONDS: Final = 6 * 3600.0
#: Seconds to wait for the index.
TIMEOUT: Final = 10.0
#: Largest index page read (PyPI's page for a project with hundreds of files is < 1 MB).
MAX_PAGE: Final = 5 * 1024 * 1024
_ACCEPT: Final = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.1"
)


class IndexError_(Exception):
    """The index could not be read; the message says why (for "offline" answers)."""


class _Links(HTMLParser):
    """``<a href=...>filename</a>`` of a simple HTML page, with ``data-yanked``."""

    def __init__(self) -> None:
        super().__init__()
        self.files: list[tuple[str, bool]] = []
        self._yanked: bool | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._yanked = any(name == "data-yanked" for name, _ in attrs)

    def handle_data(self, data: str) -> None:
        if self._yanked is not None and data.strip():
            self.files.append((data.strip(), self._yanked))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._yanked = None


def _version_of(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return None
    return version if name == DIST else None


def project_url(index: str) -> str:
    """``<index>/ledhost/``; only http(s) indexes are asked."""
    if not re.match(r"^https?://[^\s]+$", index):
        raise IndexError_(f"index URL {index!r} is not an http(s) URL")
    return index.rstrip("/") + f"/{DIST}/"


def fetch_versions(index: str, timeout: float = TIMEOUT) -> list[Version]:
    """Every non-yanked version of ledhost the index lists, newest first.

    :raises IndexError_: naming the index and what went wrong.
    """
    url = project_url(index)
    req = urllib.request.Request(url, headers={"Accept": _ACCEPT, "User-Agent": "ledhost"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as reply:  # noqa: S310 - http(s) only
            kind = reply.headers.get_content_type()
            body = reply.read(MAX_PAGE + 1)
    except urllib.error.HTTPError as exc:
        raise IndexError_(f"{url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise IndexError_(f"offline: cannot reach {url}: {reason}") from None
    if len(body) > MAX_PAGE:
        raise IndexError_(f"{url}: the page is over {MAX_PAGE // 2**20} MiB")
    text = body.decode("utf-8", errors="replace")
    files: list[tuple[str, bool]]
    if "json" in kind:
        try:
            data = json.loads(text)
            files = [(str(f["filename"]), bool(f.get("yanked"))) for f in data["files"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexError_(f"{url}: not a simple-API JSON page ({exc})") from None
    else:
        parser = _Links()
        parser.feed(text)
        files = parser.files
    versions = {v for name, yanked in files if not yanked and (v := _version_of(name))}
    return sorted(versions, reverse=True)


def pick_newest(versions: list[Version], pre: bool = False) -> Version | None:
    """The newest final release (any with ``pre``)."""
    return next((v for v in versions if pre or not (v.is_prerelease or v.is_devrelease)), None)


def newest_version(
    index: str, cache: Path, *, now: float | None = None, refresh: bool = False
) -> dict[str, Any]:
    """The newest ledhost on ``index``: ``{"index", "newest", "checked_at", "stale",
    "error"}``, from the cache when it is fresh and for the same index."""
    now = time.time() if now is None else now
    if not index:
        return {"index": index, "newest": None, "checked_at": None, "stale": False,
                "error": "no package index configured ([store] index_url)"}  # fmt: skip
    try:
        cached: dict[str, Any] | None = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cached = None
    if not isinstance(cached, dict) or cached.get("index") != index:
        cached = None
    fresh = cached is not None and 0 <= now - float(cached.get("checked_at", 0)) < CACHE_SECONDS
    if cached is not None and fresh and not refresh:
        return {**cached, "stale": False, "error": None}
    try:
        newest = pick_newest(fetch_versions(index))
    except IndexError_ as exc:
        if cached is not None:
            return {**cached, "stale": True, "error": str(exc)}
        return {"index": index, "newest": None, "checked_at": None, "stale": False,
                "error": str(exc)}  # fmt: skip
    answer = {"index": index, "newest": None if newest is None else str(newest),
              "checked_at": now}  # fmt: skip
    try:
        make_dirs(cache.parent)
        atomic_write(cache, json.dumps(answer) + "\n")
    except OSError:
        pass  # a read-only data folder: asked again next time
    return {**answer, "stale": False, "error": None}
