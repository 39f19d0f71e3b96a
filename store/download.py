"""Downloads: http(s) and local files, streamed, size-capped and hash-checked.

A download goes to a temp file in the cache (``cache/downloads``); the caller gets its
path only once the whole body arrived within the cap and (when a hash was given) matched
it, so nothing is installed from a partial or substituted file. The cap is counted on the
bytes actually read, not on ``Content-Length`` (which a server may lie about); a body
shorter than its ``Content-Length`` is an error too. ``timeout`` bounds each wait for
bytes (connect and every read), so a server that trickles forever is given up.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final
from urllib.parse import urlsplit

from config.atomic import make_dirs
from store.errors import DownloadError

__all__ = ["Downloaded", "fetch_bytes", "fetch_file"]

_CHUNK: Final = 64 * 1024
#: (done bytes, total bytes or 0 when unknown)
OnBytes = Callable[[int, int], None]


@dataclass(frozen=True)
class Downloaded:
    """A complete, checked download."""

    path: Path
    sha256: str
    size: int


def _open(url: str, timeout: float) -> tuple[IO[bytes], int]:
    """Open ``url`` (http, https or a local path); return the stream and its claimed size."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        request = urllib.request.Request(url, headers={"User-Agent": "ledhost-store"})
        try:
            response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(f"{url}: cannot connect ({reason})") from None
        length = response.headers.get("Content-Length")
        try:
            total = int(length) if length is not None else 0
        except ValueError:
            total = 0
        return response, total
    if scheme in ("", "file"):
        path = urlsplit(url).path if scheme == "file" else url
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed by the caller
        except OSError as exc:
            raise DownloadError(f"cannot read {path}: {exc.strerror}") from None
        return stream, os.fstat(stream.fileno()).st_size
    raise DownloadError(f"{url}: unsupported scheme {scheme!r}; use http(s) or a file")


def _copy(
    url: str, out: IO[bytes], *, max_bytes: int, timeout: float, on_bytes: OnBytes | None
) -> tuple[str, int]:
    stream, total = _open(url, timeout)
    digest = hashlib.sha256()
    done = 0
    limit = max_bytes // (1024 * 1024)
    with stream:
        if total > max_bytes:
            raise DownloadError(
                f"{url}: {total} bytes is more than the {limit} MB allowed (store.max_download_mb)"
            )
        while True:
            try:
                chunk = stream.read(_CHUNK)
            except http.client.IncompleteRead as exc:
                raise DownloadError(
                    f"{url}: truncated: the server sent {done + len(exc.partial)} of {total} bytes"
                ) from None
            except (TimeoutError, OSError) as exc:
                raise DownloadError(
                    f"{url}: no data for {timeout:g} s or connection lost ({exc})"
                ) from None
            if not chunk:
                break
            done += len(chunk)
            if done > max_bytes:
                raise DownloadError(
                    f"{url}: stopped at {limit} MB (store.max_download_mb); "
                    "the file is larger than allowed"
                )
            digest.update(chunk)
            out.write(chunk)
            if on_bytes is not None:
                on_bytes(done, total)
    if total and done < total:
        raise DownloadError(f"{url}: truncated: received {done} of {total} bytes")
    return digest.hexdigest(), done


def fetch_bytes(url: str, *, max_bytes: int, timeout: float) -> bytes:
    """The whole body of ``url`` in memory (a registry index), within ``max_bytes``."""
    with tempfile.SpooledTemporaryFile(max_size=max_bytes + _CHUNK) as out:
        _copy(url, out, max_bytes=max_bytes, timeout=timeout, on_bytes=None)
        out.seek(0)
        return out.read()


def fetch_file(
    url: str,
    folder: Path,
    name: str,
    *,
    max_bytes: int,
    timeout: float,
    sha256: str | None = None,
    on_bytes: OnBytes | None = None,
) -> Downloaded:
    """Download ``url`` to ``folder/name``; checked against ``sha256`` when given.

    :raises DownloadError: HTTP error, timeout, truncated body, size cap or hash mismatch;
        nothing is left behind then.
    """
    make_dirs(folder, mode=0o700, parents_mode=0o711)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".dl-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            actual, size = _copy(url, out, max_bytes=max_bytes, timeout=timeout, on_bytes=on_bytes)
            out.flush()
            os.fsync(out.fileno())
        if sha256 is not None and actual != sha256.lower():
            raise DownloadError(
                f"{url}: sha256 mismatch: expected {sha256.lower()}, got {actual}; "
                "the file was changed or corrupted in transit; not installed"
            )
        target = folder / name
        os.replace(tmp, target)
        return Downloaded(target, actual, size)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
