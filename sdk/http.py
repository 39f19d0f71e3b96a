"""HTTP for network plugins: bounded, retried, size-capped, and cached on disk.

A sign on a wall spends some of its life offline. What its owner expects then is the last
weather, prices or scores it had, marked as old, not a blank panel or a plugin restarting
in a loop. :class:`HttpClient` gives every plugin that behaviour with one call::

    fetched = context.fetch_json(url, params={"latitude": 52.5}, parse=parse_forecast)
    fetched.value       # what parse_forecast returned
    fetched.stale       # True: the network failed and this is the last good answer
    fetched.fetched_at  # when that answer came from the network (epoch seconds)

What it does for each request:

- **Timeouts and a budget.** Every attempt has a connect and read timeout, and the whole
  call (retries and backoff included) stays within ``budget`` seconds, so a hanging server
  never holds a plugin's refresh past the host's ``workers.refresh_timeout``.
- **Retries with backoff.** Connection errors, timeouts, HTTP 429 and 5xx are retried with
  exponential backoff and jitter (``Retry-After`` is honoured within the budget). Other
  4xx answers, oversized bodies and bad data are not: retrying cannot fix them.
- **A size cap.** The body is streamed and abandoned past ``max_bytes`` (after
  decompression), so a wrong URL pointing at a video cannot fill a Pi's memory.
- **A disk cache with stale-on-error.** Each answer that decodes and parses is kept in the
  plugin's data folder. When a later fetch fails for any reason (no network, HTTP 500,
  malformed JSON, a ``parse`` that rejects the shape), the cached answer is returned with
  ``stale=True`` and the reason in ``error``. Only without any cached answer does the call
  raise :class:`FetchError`. ``max_age`` also lets a plugin skip the network entirely while
  its copy is young (team logos, which change once a season).

Call it from ``refresh_data`` (a background thread), never from ``render_frame``.

.. versionadded:: 0.1
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import urlencode, urlsplit

from sdk.errors import PluginError

if TYPE_CHECKING:
    import requests

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FetchError",
    "Fetched",
    "HttpClient",
    "network_properties",
]

T = TypeVar("T")

#: The largest body accepted by default: far above any JSON API answer or small logo.
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
#: Statuses worth another attempt: the server is busy or broken, perhaps for a moment.
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: The longest single backoff sleep, whatever ``Retry-After`` asks for.
_MAX_SLEEP = 30.0
_CHUNK = 64 * 1024


class FetchError(PluginError):
    """A fetch failed and no cached answer could stand in.

    The message names the URL (without its query, which may hold a key) and the reason.

    .. versionadded:: 0.1
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{_safe_url(url)}: {reason}")
        #: The URL asked for, query included.
        self.url = url
        #: Why it failed, for the user: "HTTP 500", "timed out after 10 s", ...
        self.reason = reason


class _Retryable(Exception):
    """One attempt failed in a way another attempt may not."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Fetched(Generic[T]):
    """The outcome of a fetch that produced a value.

    .. versionadded:: 0.1
    """

    #: The decoded (and, with ``parse``, parsed) answer.
    value: T
    #: When this answer came from the network, in epoch seconds.
    fetched_at: float
    #: ``True``: the network fetch failed and :attr:`value` is the last good answer.
    stale: bool = False
    #: Why the fetch failed, when :attr:`stale`.
    error: str | None = None
    #: ``True``: read from the disk cache (stale, or young enough for ``max_age``).
    cached: bool = False

    def age(self, now: float | None = None) -> float:
        """Seconds since the answer came from the network (never negative)."""
        return max(0.0, (time.time() if now is None else now) - self.fetched_at)

    def older_than(self, seconds: float, now: float | None = None) -> bool:
        """Whether the answer is more than ``seconds`` old: the usual "mark it stale" test."""
        return self.age(now) > seconds


@dataclass(frozen=True, slots=True)
class _Entry:
    body: bytes
    fetched_at: float


class _DiskCache:
    """One body file and one metadata file per request; both replaced atomically.

    The metadata holds the body's sha256, so a body left half-written by a power cut is
    noticed and ignored rather than parsed. Old entries beyond ``max_entries`` go first.
    """

    def __init__(self, folder: Path, max_entries: int = 256) -> None:
        self.folder = folder
        self.max_entries = max_entries

    def load(self, key: str) -> _Entry | None:
        try:
            meta = json.loads((self.folder / f"{key}.json").read_text())
            body = (self.folder / f"{key}.body").read_bytes()
            fetched_at = float(meta["fetched_at"])
            if hashlib.sha256(body).hexdigest() != meta["sha256"]:
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return _Entry(body, fetched_at)

    def store(self, key: str, url: str, body: bytes, fetched_at: float) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "url": _safe_url(url),
            "fetched_at": fetched_at,
            "sha256": hashlib.sha256(body).hexdigest(),
            "size": len(body),
        }
        self._replace(self.folder / f"{key}.body", body)
        self._replace(self.folder / f"{key}.json", json.dumps(meta).encode())
        self._prune()

    def _replace(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _prune(self) -> None:
        metas = sorted(self.folder.glob("*.json"), key=_mtime)
        for meta in metas[: max(0, len(metas) - self.max_entries)]:
            meta.unlink(missing_ok=True)
            meta.with_suffix(".body").unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class HttpClient:
    """Fetches with timeouts, retries, a size cap and a stale-on-error disk cache.

    Plugins get one as ``context.fetcher`` (with the cache in their data folder) and
    usually call it through ``context.fetch_json`` / ``context.fetch_bytes``.

    :param cache_dir: where answers are kept; ``None`` for no cache (and so no stale data).
    :param timeout: seconds per attempt to connect, and between bytes of the answer.
    :param attempts: how many times a retryable failure is tried, in all.
    :param backoff: the first retry's delay in seconds; each next one doubles (with jitter).
    :param max_bytes: the largest body accepted.
    :param budget: the most seconds one call may take, retries and backoff included.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        cache_dir: Path | None,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.5,
        max_bytes: int = DEFAULT_MAX_BYTES,
        budget: float = 45.0,
        user_agent: str = "ledhost",
        logger: logging.Logger | None = None,
    ) -> None:
        if attempts < 1 or timeout <= 0 or budget <= 0 or max_bytes < 1:
            raise ValueError("attempts, timeout, budget and max_bytes must be positive")
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.max_bytes = max_bytes
        self.budget = budget
        self.user_agent = user_agent
        self.log = logger or logging.getLogger("ledhost.plugin.http")
        self._cache = None if cache_dir is None else _DiskCache(cache_dir)
        self._session: requests.Session | None = None
        # requests sessions are not documented as thread-safe; a plugin may fetch from
        # refresh_data and from an action at once.
        self._lock = threading.Lock()

    def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        parse: Callable[[Any], T] | None = None,
        max_age: float = 0.0,
        timeout: float | None = None,
        max_bytes: int | None = None,
    ) -> Fetched[Any]:
        """GET ``url`` and decode its JSON body; fall back to the cache on any failure.

        :param params: query parameters, added to ``url``.
        :param headers: extra request headers.
        :param parse: turns the decoded JSON into the plugin's own data and raises
            (``KeyError``, ``ValueError``, anything) when the shape is wrong. An answer it
            rejects is never cached, and the last good one is returned instead.
        :param max_age: return a cached answer younger than this many seconds without
            asking the network (0: always ask).
        :param timeout: this call's per-attempt timeout instead of the client's.
        :param max_bytes: this call's size cap instead of the client's.
        :returns: the answer; ``stale`` says whether it is the cached one after a failure.
        :raises FetchError: the fetch failed and nothing usable was cached.
        """

        def decode(body: bytes) -> Any:
            try:
                data = json.loads(body)
            except ValueError as exc:
                raise _BadData(f"the answer is not valid JSON ({exc})") from None
            return data if parse is None else _parse(parse, data)

        return self._fetch(url, params, headers, decode, max_age, timeout, max_bytes)

    def get_bytes(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        parse: Callable[[bytes], T] | None = None,
        max_age: float = 0.0,
        timeout: float | None = None,
        max_bytes: int | None = None,
    ) -> Fetched[Any]:
        """GET ``url`` as raw bytes (an image, a logo); otherwise like :meth:`get_json`.

        ``parse`` receives the bytes, e.g. a function that opens them with Pillow and
        raises on a broken image, so a broken answer never replaces a good cached one.
        """

        def decode(body: bytes) -> Any:
            return body if parse is None else _parse(parse, body)

        return self._fetch(url, params, headers, decode, max_age, timeout, max_bytes)

    def close(self) -> None:
        """Close the connection pool; the client opens a new one if used again."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    # -- internals ---------------------------------------------------------------------

    def _fetch(
        self,
        url: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        decode: Callable[[bytes], Any],
        max_age: float,
        timeout: float | None,
        max_bytes: int | None,
    ) -> Fetched[Any]:
        full = _full_url(url, params)
        key = hashlib.sha256(full.encode()).hexdigest()[:32]
        entry = self._cache.load(key) if self._cache is not None else None
        now = time.time()
        if entry is not None and max_age > 0 and now - entry.fetched_at < max_age:
            try:
                return Fetched(decode(entry.body), entry.fetched_at, cached=True)
            except _BadData:
                entry = None
        try:
            body = self._download(full, headers, timeout or self.timeout, max_bytes)
            try:
                value = decode(body)
            except _BadData as exc:
                raise FetchError(full, str(exc)) from None
        except FetchError as exc:
            if entry is not None:
                try:
                    value = decode(entry.body)
                except _BadData:
                    raise exc from None
                self.log.warning(
                    "%s; showing the answer from %s", exc, _ago(now - entry.fetched_at)
                )
                return Fetched(value, entry.fetched_at, stale=True, error=exc.reason, cached=True)
            raise
        fetched_at = time.time()
        if self._cache is not None:
            try:
                self._cache.store(key, full, body, fetched_at)
            except OSError as exc:  # a full SD card must not cost the fresh answer
                self.log.warning("could not cache %s: %s", _safe_url(full), exc)
        return Fetched(value, fetched_at)

    def _download(
        self, url: str, headers: Mapping[str, str] | None, timeout: float, max_bytes: int | None
    ) -> bytes:
        scheme = urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise FetchError(url, f"only http and https URLs can be fetched, not {scheme!r}")
        cap = max_bytes or self.max_bytes
        started = time.monotonic()
        deadline = started + self.budget
        reason = "no attempt was made"
        for attempt in range(self.attempts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                with self._lock:
                    return self._attempt(url, headers, min(timeout, remaining), cap, deadline)
            except _Retryable as exc:
                reason = exc.reason
                if attempt + 1 == self.attempts:
                    break
                delay = self.backoff * 2**attempt * (0.5 + random.random())
                if exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                delay = min(delay, _MAX_SLEEP)
                if time.monotonic() + delay >= deadline:
                    break
                time.sleep(delay)
        tries = f"{attempt + 1} attempt{'s' if attempt else ''}"
        raise FetchError(url, f"{reason} ({tries} in {time.monotonic() - started:.1f} s)")

    def _attempt(
        self,
        url: str,
        headers: Mapping[str, str] | None,
        timeout: float,
        cap: int,
        deadline: float,
    ) -> bytes:
        import requests

        session = self._session_or_new()
        try:
            response = session.get(
                url, headers=dict(headers or {}), timeout=(timeout, timeout), stream=True
            )
        except requests.Timeout:
            raise _Retryable(f"timed out after {timeout:.1f} s") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as exc:
            raise FetchError(url, f"invalid URL: {exc}") from None
        except requests.ConnectionError as exc:
            raise _Retryable(f"could not connect ({_root_cause(exc)})") from None
        except requests.RequestException as exc:
            raise _Retryable(f"request failed ({_root_cause(exc)})") from None
        with response:
            status = response.status_code
            if status in _RETRY_STATUSES:
                raise _Retryable(f"HTTP {status}", _retry_after(response))
            if not 200 <= status < 300:
                raise FetchError(url, f"HTTP {status} {response.reason or ''}".rstrip())
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > cap:
                raise FetchError(url, f"the answer is {int(length)} bytes, over the {cap} cap")
            chunks: list[bytes] = []
            size = 0
            try:
                for chunk in response.iter_content(_CHUNK):
                    size += len(chunk)
                    if size > cap:
                        raise FetchError(url, f"the answer is over the {cap} byte cap")
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise _Retryable("the answer arrived too slowly")
            except requests.RequestException as exc:
                raise _Retryable(f"the answer broke off ({_root_cause(exc)})") from None
        return b"".join(chunks)

    def _session_or_new(self) -> requests.Session:
        if self._session is None:
            import requests

            session = requests.Session()
            session.headers["User-Agent"] = self.user_agent
            self._session = session
        return self._session


class _BadData(Exception):
    """The body did not decode or ``parse`` rejected it."""


def _parse(parse: Callable[[Any], Any], data: Any) -> Any:
    try:
        return parse(data)
    except Exception as exc:  # plugin code judging remote data: any failure means "bad"
        raise _BadData(f"unexpected answer ({type(exc).__name__}: {exc})") from None


def _full_url(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    query = urlencode(
        [(k, _param(v)) for k, v in sorted(params.items()) if v is not None], doseq=True
    )
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(_param(v)) for v in value)
    return value


def _safe_url(url: str) -> str:
    """``url`` without its query string or credentials: what may appear in logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _root_cause(exc: BaseException) -> str:
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def network_properties(
    *, base_url: str, refresh: float, stale_after: float, timeout: float = 10.0
) -> dict[str, Any]:
    """JSON Schema properties every network plugin offers, for its ``config_schema``.

    Merge them into the plugin's own ``properties`` so users find the same four options,
    with the same names and meaning, in every network plugin::

        "properties": {**own, **network_properties(base_url=..., refresh=600, ...)}

    :param base_url: the API's address; users point it at a mirror or a test server.
    :param refresh: default seconds between fetches.
    :param stale_after: default seconds after which shown data is marked as old.
    :param timeout: default seconds per attempt.

    .. versionadded:: 0.1
    """
    return {
        "base_url": {
            "type": "string",
            "pattern": "^https?://[^\\s]+$",
            "default": base_url,
            "title": "API address",
            "description": "Where the data comes from; change it only for a mirror or proxy.",
        },
        "refresh_interval": {
            "type": "number",
            "minimum": 10,
            "maximum": 86400,
            "default": refresh,
            "title": "Refresh every (seconds)",
            "description": "How often new data is fetched.",
        },
        "stale_after": {
            "type": "number",
            "minimum": 10,
            "maximum": 604800,
            "default": stale_after,
            "title": "Mark as old after (seconds)",
            "description": "Data older than this (the network is down) is still shown, "
            "with an orange corner mark.",
        },
        "timeout": {
            "type": "number",
            "minimum": 0.5,
            "maximum": 60,
            "default": timeout,
            "title": "Timeout (seconds)",
            "description": "How long one attempt may wait for the server.",
        },
    }
