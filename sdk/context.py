"""The worker-local context every plugin hook receives.

It lives in the plugin's worker process and never crosses to the host: it holds the
plugin's own config and secrets, its data folder, a logger whose records the worker ships
to the host, an HTTP session with sane timeouts, and a way to ask the host for things
(a redraw, a priority interrupt) without knowing how the host is built.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import requests

    from sdk.fonts import Font
    from sdk.http import Fetched, HttpClient

__all__ = ["PluginContext", "Requests"]


class Requests(Protocol):
    """What the context forwards to the worker runtime; implemented by ``host.worker.requests``."""

    def request_redraw(self, mode: str | None) -> None: ...

    def request_interrupt(self, mode: str, priority: int, seconds: float) -> None: ...

    def release_interrupt(self, mode: str) -> None: ...

    def request_more_time(self, mode: str, seconds: float) -> None: ...


class PluginContext:
    """Everything a plugin may use besides its own code.

    .. versionadded:: 0.1
    """

    #: HTTP timeouts (connect, read) in seconds applied to every request of ``http``.
    HTTP_TIMEOUT: tuple[float, float] = (5.0, 15.0)

    def __init__(
        self,
        *,
        plugin_id: str,
        instance_id: str,
        width: int,
        height: int,
        config: Mapping[str, Any],
        secrets: Mapping[str, Any],
        data_dir: Path,
        requests_to_host: Requests,
        logger: logging.Logger | None = None,
    ) -> None:
        #: The plugin id (its entry-point name).
        self.plugin_id = plugin_id
        #: This instance's id (equal to ``plugin_id`` unless the user runs several).
        self.instance_id = instance_id
        #: Width in pixels of what the plugin draws now: the display, or its region when
        #: the user shows the mode in a layout (it changes between activations).
        self.width = width
        #: Height in pixels, likewise.
        self.height = height
        #: This instance's validated config section, defaults filled in.
        self.config: Mapping[str, Any] = config
        #: This plugin's own secrets, and no other plugin's.
        self.secrets: Mapping[str, Any] = secrets
        #: A folder of this instance's own for caches and state; created on demand.
        self.data_dir = data_dir
        #: Log here; records reach the host tagged with the instance id.
        self.log = logger or logging.getLogger(f"ledhost.plugin.{instance_id}")
        self._requests = requests_to_host
        self._http: requests.Session | None = None
        self._fetcher: HttpClient | None = None

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of what the plugin draws now (see :attr:`width`)."""
        return (self.width, self.height)

    @property
    def http(self) -> requests.Session:
        """A ``requests.Session`` with retries on connection errors and default timeouts.

        Created on first use, so plugins that never go online never import ``requests``.
        For data the plugin shows, prefer :meth:`fetch_json`: it also caps the size and
        keeps the last good answer for when the network is down.
        """
        if self._http is None:
            self._http = _make_session(self.HTTP_TIMEOUT)
        return self._http

    @property
    def fetcher(self) -> HttpClient:
        """The :class:`sdk.http.HttpClient` behind :meth:`fetch_json` and :meth:`fetch_bytes`.

        Its disk cache lives in ``data_dir / "http-cache"``, so the last good answers
        survive a restart of the worker or of the Pi.

        .. versionadded:: 0.1
        """
        if self._fetcher is None:
            from sdk.http import HttpClient

            self._fetcher = HttpClient(self.data_dir / "http-cache", logger=self.log)
        return self._fetcher

    def fetch_json(self, url: str, **options: Any) -> Fetched[Any]:
        """GET JSON with timeouts, retries, a size cap and the last good answer on failure.

        See :meth:`sdk.http.HttpClient.get_json` for ``options`` (``params``, ``parse``,
        ``max_age``, ``timeout``...). Call it from ``refresh_data``, not from a render.

        :raises sdk.http.FetchError: the fetch failed and nothing usable was cached.

        .. versionadded:: 0.1
        """
        return self.fetcher.get_json(url, **options)

    def fetch_bytes(self, url: str, **options: Any) -> Fetched[Any]:
        """GET raw bytes (an image) like :meth:`fetch_json`; see
        :meth:`sdk.http.HttpClient.get_bytes`.

        .. versionadded:: 0.1
        """
        return self.fetcher.get_bytes(url, **options)

    def font(self, name: str = "small") -> Font:
        """Return a bundled pixel font by name (see :mod:`sdk.fonts`)."""
        from sdk.fonts import load_font

        return load_font(name)

    def request_redraw(self, mode: str | None = None) -> None:
        """Render ``mode`` (or whatever mode is on screen) again soon, e.g. after new data.

        Safe to call from ``refresh_data``'s thread.
        """
        self._requests.request_redraw(mode)

    def request_interrupt(self, mode: str, priority: int = 50, seconds: float = 30.0) -> None:
        """Ask the host to show ``mode`` now, ahead of the rotation (a live game, an alert).

        :param mode: one of this plugin's modes.
        :param priority: higher wins over lower, from :data:`sdk.priorities.PLUGIN_MIN`
            (0, still above the rotation) to :data:`sdk.priorities.PLUGIN_MAX` (100);
            anything else is a ``ValueError`` here. Notifications from the control API
            and the user's pin always beat it.
        :param seconds: the longest the interrupt may last (the host cuts it to its
            ``rotation.interrupt_max_seconds``); release it earlier with
            :meth:`release_interrupt`. An interrupt ends with its worker: a restart, a
            quarantine or the instance's removal drops it. The host keeps at most
            ``rotation.interrupt_max_queued`` of one instance's interrupts (one per mode)
            and refuses more, with a log line.
        """
        self._requests.request_interrupt(mode, priority, seconds)

    def release_interrupt(self, mode: str) -> None:
        """End an interrupt requested for ``mode``; the rotation resumes."""
        self._requests.release_interrupt(mode)

    def request_more_time(self, mode: str, seconds: float) -> None:
        """Ask to keep ``mode`` on screen ``seconds`` longer than its turn, to finish a cycle.

        For a mode that pages through items (every game of a scoreboard, every stock):
        ask when a turn would cut the cycle short. Only the mode on screen in the rotation
        is extended, and never beyond the user's ``rotation.max_dwell`` after its turn
        began; otherwise the request is ignored. Safe from any thread.

        :param mode: the mode on screen.
        :param seconds: how much longer, from now.

        .. versionadded:: 0.1
        """
        self._requests.request_more_time(mode, seconds)

    def close(self) -> None:
        """Close the HTTP session; called by the worker after ``teardown``."""
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._fetcher is not None:
            self._fetcher.close()
            self._fetcher = None


def _make_session(timeout: tuple[float, float]) -> requests.Session:
    """Build a session whose every request has a timeout and a few retries.

    A request without a timeout can hang a worker thread forever; the host would recover
    (hang detection), but the plugin's data would never refresh.
    """
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    class _TimeoutSession(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> requests.Response:
            kwargs.setdefault("timeout", timeout)
            return super().request(*args, **kwargs)

    session = _TimeoutSession()
    retry = Retry(total=3, backoff_factor=0.5, status_forcelist=(502, 503, 504))
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "ledhost"
    return session
