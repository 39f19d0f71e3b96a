"""Recorded HTTP answers served from 127.0.0.1, for testing network plugins offline.

Part of :mod:`sdk.testing` (import it from there). A :class:`RecordedServer` is a real HTTP
server on the loopback interface; a test says what each path answers (a recorded file,
data sent as JSON, a status, a slow or hanging answer) and points the plugin at
:attr:`RecordedServer.url`, through its ``base_url`` option (every network plugin has
one: :func:`sdk.http.network_properties`)::

    with RecordedServer() as server:
        server.load(Path(__file__).parent / "recorded" / "forecast.json")
        with WorkerRunner(".", config={"base_url": server.url}) as plugin:
            ...

A recording file (``"format": "ledhost-recording/1"``) lists the routes::

    {
      "format": "ledhost-recording/1",
      "routes": [
        {"path": "/v1/forecast", "file": "berlin.json"},
        {"path": "/v1/icons/", "status": 404, "body": "no icons here"},
        {"path": "/v1/status", "json": {"ok": true}, "headers": {"Cache-Control": "no-store"}},
        {"path": "/v1/slow", "json": {}, "delay": 2.5}
      ]
    }

Each route has a ``path`` and at most one of ``file`` (a file beside the recording; the
content type follows its suffix), ``json`` (sent as JSON) or ``body`` (text); optionally
``status`` (default 200), ``content_type``, ``headers`` and ``delay`` (seconds before the
answer). A ``path`` ending in ``/`` answers every path below it without a route of its
own; the query string is not matched (it is recorded in :attr:`RecordedServer.seen`).
A path listed more than once answers with its routes in turn, then repeats the last.

.. versionadded:: 0.1
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FORMAT", "RecordedServer", "Route", "Seen"]

#: The ``format`` of a recording file this version reads.
FORMAT = "ledhost-recording/1"
_ROUTE_KEYS = frozenset(
    {"path", "file", "json", "body", "status", "content_type", "headers", "delay"}
)
_TYPES = {
    ".json": "application/json", ".png": "image/png", ".gif": "image/gif",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".txt": "text/plain", ".xml": "application/xml",
}  # fmt: skip


@dataclass
class Route:
    """What one path answers."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/json"
    #: Seconds to wait before answering.
    delay: float = 0.0
    #: Never answer (until the server closes): a server that accepted and hung.
    hang: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    #: Send no Content-Length: the body ends when the connection closes.
    omit_length: bool = False


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class RecordedServer:
    """Serve routes on 127.0.0.1 from a thread; ``close()`` ends hanging answers too."""

    def __init__(self, recordings: str | os.PathLike[str] | None = None) -> None:
        #: The folder :meth:`serve_recorded` reads files from.
        self.recordings = None if recordings is None else Path(recordings)
        #: Path -> what it answers; a list answers its routes in turn, then keeps the last.
        self.routes: dict[str, Route | list[Route]] = {}
        self.seen: list[Seen] = []
        self._closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                parts = urlsplit(self.path)
                server.seen.append(
                    Seen(parts.path, parse_qs(parts.query), {k: v for k, v in self.headers.items()})
                )
                found: Route | list[Route] | None = server.routes.get(parts.path)
                if found is None:  # a route ending in "/" answers everything below it
                    prefixes = [p for p in server.routes if p.endswith("/")]
                    below = [p for p in prefixes if parts.path.startswith(p)]
                    found = server.routes[max(below, key=len)] if below else None
                route: Route | None
                if isinstance(found, list):
                    route = found.pop(0) if len(found) > 1 else found[0]
                else:
                    route = found
                if route is None:
                    self.send_error(404, f"no route {parts.path}")
                    return
                if route.hang:
                    server._closing.wait(120)
                    return
                if route.delay:
                    server._closing.wait(route.delay)
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                if not route.omit_length:
                    self.send_header("Content-Length", str(len(route.body)))
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        # A short poll interval: shutdown() waits for the loop's next poll.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve(self, path: str, body: bytes | str | Any = b"", **options: Any) -> Route:
        """Answer ``path`` with ``body`` (bytes, text, or data sent as JSON).

        A ``path`` ending in ``/`` also answers every path below it that has no route of
        its own.
        """
        if isinstance(body, str):
            data = body.encode()
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        route = Route(body=data, **options)
        self.routes[path] = route
        return route

    def serve_sequence(self, path: str, routes: list[Route]) -> None:
        """Answer ``path`` with ``routes`` in turn, then with the last one for ever."""
        self.routes[path] = list(routes)

    def serve_recorded(self, path: str, name: str, **options: Any) -> Route:
        """Answer ``path`` with the file ``name`` of the :attr:`recordings` folder."""
        if self.recordings is None:
            raise ValueError("serve_recorded needs RecordedServer(recordings=<folder>)")
        data = (self.recordings / name).read_bytes()
        options.setdefault("content_type", _content_type(name))
        return self.serve(path, data, **options)

    def load(self, recording: str | os.PathLike[str]) -> None:
        """Serve every route of a recording file (the format is in the module docstring).

        :raises ValueError: naming the file and the route that is malformed.
        """
        path = Path(recording)
        try:
            document = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: {exc}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f'{path}: not a recording (its "format" must be "{FORMAT}")')
        routes = document.get("routes")
        if not isinstance(routes, list) or not routes:
            raise ValueError(f'{path}: "routes" must be a non-empty list')
        by_path: dict[str, list[Route]] = {}
        for index, entry in enumerate(routes):
            where = f"{path}: routes[{index}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                raise ValueError(f'{where}: each route is an object with a "path" string')
            unknown = set(entry) - _ROUTE_KEYS
            if unknown:
                raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
            given = [k for k in ("file", "json", "body") if k in entry]
            if len(given) > 1:
                raise ValueError(f'{where}: give one of "file", "json" and "body", not {given}')
            if "file" in entry:
                data = (path.parent / str(entry["file"])).read_bytes()
                kind = _content_type(str(entry["file"]))
            elif "json" in entry:
                data, kind = json.dumps(entry["json"]).encode(), "application/json"
            else:
                data, kind = str(entry.get("body", "")).encode(), "text/plain"
            by_path.setdefault(entry["path"], []).append(
                Route(
                    body=data,
                    status=int(entry.get("status", 200)),
                    content_type=str(entry.get("content_type", kind)),
                    delay=float(entry.get("delay", 0.0)),
                    headers={str(k): str(v) for k, v in dict(entry.get("headers", {})).items()},
                )
            )
        for route_path, answers in by_path.items():
            if len(answers) == 1:
                self.routes[route_path] = answers[0]
            else:
                self.serve_sequence(route_path, answers)

    def requests_to(self, path: str) -> list[Seen]:
        """The requests received for ``path``, oldest first."""
        return [s for s in self.seen if s.path == path]

    def requests_to_prefix(self, prefix: str) -> list[Seen]:
        """The requests received for any path starting with ``prefix``."""
        return [s for s in self.seen if s.path.startswith(prefix)]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Seen]:
        """Wait until ``path`` has been asked for ``count`` times."""
        deadline = time.monotonic() + timeout
        while len(self.requests_to(path)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} was requested {len(self.requests_to(path))} times")
            time.sleep(0.01)
        return self.requests_to(path)

    def close(self) -> None:
        """Stop serving; answers still hanging or delayed end now."""
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> RecordedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _content_type(name: str) -> str:
    return _TYPES.get(Path(name).suffix.lower(), "application/octet-stream")
